"""Reads of sales, always starting from the caller's data scope (kam.core.scopes)."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.core import scopes
from kam.sales.models import (
    DevelopmentCost,
    ForecastCategory,
    GateItem,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    SalesCredit,
    SalesMonth,
    SalesRecord,
    Sample,
    Stage,
    StageChange,
    StageKind,
)

# --- pipeline (s1): opportunities, their gates and history, samples, costs, pipelines


def stuck_condition(*, now=None) -> Q:
    """Q for open opportunities in their stage longer than the stage allows (stage.stuck_after_days, else
    KAM["OPPORTUNITY_STUCK_DAYS"]): one condition per stage that sets its own days (there are few stages)."""
    now = now or timezone.now()
    default_days = settings.KAM["OPPORTUNITY_STUCK_DAYS"]
    own = list(Stage.objects.filter(stuck_after_days__isnull=False).values_list("pk", "stuck_after_days"))
    condition = Q(stage__stuck_after_days__isnull=True, stage_entered_at__lt=now - timedelta(days=default_days))
    for stage_id, days in own:
        condition |= Q(stage_id=stage_id, stage_entered_at__lt=now - timedelta(days=days))
    return Q(status=OpportunityStatus.OPEN) & condition


def opportunity_list(user, *, owner=None, stage=None, status=None, account=None, pipeline=None, close_from=None,
                     close_to=None, stuck: bool | None = None, q: str = "") -> QuerySet[Opportunity]:  # fmt: skip
    """Opportunities at accounts the user may see, filtered; `owner` is "me" or a user id."""
    rows = scopes.visible_opportunities(user)
    if owner == "me":
        rows = rows.filter(owner=user)
    elif owner not in (None, ""):
        if not str(owner).isdigit():
            raise ValidationError({"owner": _('Give a user id or "me".')})
        rows = rows.filter(owner_id=int(owner))
    for name, value in (("stage_id", stage), ("account_id", account), ("pipeline_id", pipeline)):
        if value is not None:
            rows = rows.filter(**{name: value})
    if status:
        if status not in OpportunityStatus.values:
            raise ValidationError({"status": _("Choose one of: %(c)s.") % {"c": ", ".join(OpportunityStatus.values)}})
        rows = rows.filter(status=status)
    if close_from:
        rows = rows.filter(expected_close__gte=close_from)
    if close_to:
        rows = rows.filter(expected_close__lte=close_to)
    if stuck is True:
        rows = rows.filter(stuck_condition())
    elif stuck is False:
        rows = rows.exclude(stuck_condition())
    if q:
        rows = rows.filter(name__icontains=q.strip())
    return rows.select_related("account", "owner", "stage", "pipeline").order_by("expected_close", "id")


def opportunity_board(user, *, owner=None) -> list[tuple[Stage, list[Opportunity], int]]:
    """The default pipeline's stages (lost left out) with their opportunities in the user's scope — open ones
    in open stages, won ones in the won stage — by expected close: at most KAM["OPPORTUNITY_BOARD_CARDS"]
    cards per stage, and how many there are in all."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        return []
    limit = settings.KAM["OPPORTUNITY_BOARD_CARDS"]
    rows = opportunity_list(user, owner=owner, pipeline=pipeline.pk)
    columns = []
    for stage in pipeline.stages.exclude(kind=StageKind.LOST).order_by("order"):
        status = OpportunityStatus.WON if stage.kind == StageKind.WON else OpportunityStatus.OPEN
        in_stage = rows.filter(stage=stage, status=status)
        columns.append((stage, list(in_stage[:limit]), in_stage.count()))
    return columns


def pipeline_list() -> list[Pipeline]:
    """Every pipeline with its stages and their gate items (configuration, not customer data)."""
    return list(Pipeline.objects.prefetch_related(
        Prefetch("stages", queryset=Stage.objects.order_by("order", "id")),
        Prefetch("stages__gate_items", queryset=GateItem.objects.order_by("order", "id")),
    ))  # fmt: skip


def opportunity_history(opportunity: Opportunity) -> list[StageChange]:
    """The opportunity's stage moves, oldest first (consecutive times give each stage's duration)."""
    return list(opportunity.stage_changes.select_related("from_stage", "to_stage", "by").order_by("at", "id"))


def sample_list(user, *, account=None, opportunity=None, accepted=None) -> QuerySet[Sample]:
    rows = scopes.visible_samples(user)
    if account is not None:
        rows = rows.filter(account_id=account)
    if opportunity is not None:
        rows = rows.filter(opportunity_id=opportunity)
    if accepted:
        rows = rows.filter(accepted=accepted)
    return rows.select_related("account", "contact").order_by("-sent_on", "-id")


def development_cost_list(user, *, account=None, opportunity=None, kind=None) -> QuerySet[DevelopmentCost]:
    rows = scopes.visible_development_costs(user)
    if account is not None:
        rows = rows.filter(account_id=account)
    if opportunity is not None:
        rows = rows.filter(opportunity_id=opportunity)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.select_related("account").order_by("-incurred_on", "-id")


def development_cost_total(user, *, account) -> Decimal:
    """An account's development cost so far, in CNY (PIPE-5)."""
    total = scopes.visible_development_costs(user).filter(account_id=account, currency="CNY").aggregate(t=Sum("amount"))
    return total["t"] or Decimal(0)


# --- sales records (s2) ----------------------------------------------------------------------


SALES_RECORD_FILTERS = ("account", "date_from", "date_to", "product_line", "order_number")


def sales_record_list(user, *, filters: dict | None = None) -> QuerySet[SalesRecord]:
    """Sales lines the user may see, newest first; filter by account, date range, product line, order."""
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    records = scopes.visible_sales_records(user).select_related("account")
    if "account" in filters:
        records = records.filter(account_id=filters["account"])
    if "date_from" in filters:
        records = records.filter(date__gte=filters["date_from"])
    if "date_to" in filters:
        records = records.filter(date__lte=filters["date_to"])
    if "product_line" in filters:
        records = records.filter(product_line=filters["product_line"])
    if "order_number" in filters:
        records = records.filter(order_number=filters["order_number"])
    return records.order_by("-date", "-pk")


def account_sales_history(user, account_id, *, since: date | None = None, until: date | None = None):
    """An account's sales by month (SalesMonth only, never the lines): (account, months oldest first).
    A foreign account is 404; an archived one keeps its history."""
    account = scopes.get_account_for_user(user, account_id, include_archived=True)
    months = SalesMonth.objects.filter(account=account)
    if since:
        months = months.filter(month__gte=since.replace(day=1))
    if until:
        months = months.filter(month__lte=until)
    return account, list(months.order_by("month"))


# --- figures per manager and month (quotas, forecasts, the weekly report: issue 3) -----------------------
# Callers pass owners already limited by kam.core.scopes.visible_sales_people.


def credited_sales(*, owner_ids, first_month: date, last_month: date) -> dict[tuple[int, date], tuple]:
    """(owner, month) → (amount, gross margin) of the sales credited to the owner (SalesCredit)."""
    rows = SalesCredit.objects.filter(owner_id__in=list(owner_ids), month__gte=first_month, month__lte=last_month)
    return {(o, m): (a, g) for o, m, a, g in rows.values_list("owner_id", "month", "amount", "gross_margin")}


def pipeline_by_month(*, owner_ids, first_month: date, last_month: date) -> dict[tuple[int, date], dict]:
    """(owner, month of expected close) → the open pipeline closing that month (PIPE-4, ANA-1):

    - weighted: Σ amount × stage probability;
    - pipeline: Σ amount of every open opportunity not omitted from the forecast;
    - best_case: Σ amount of those categorised best case or commit;
    - commit: Σ amount of those categorised commit.
    Won opportunities are not in it: they count once, as sales, when the order lines arrive.
    """
    rows = (
        Opportunity.objects.filter(
            owner_id__in=list(owner_ids),
            status=OpportunityStatus.OPEN,
            is_archived=False,
            expected_close__gte=first_month,
            expected_close__lt=_next_month(last_month),
        )
        .exclude(forecast_category=ForecastCategory.OMITTED)
        .values("owner_id", "forecast_category", month=TruncMonth("expected_close"))
        .annotate(total=Sum("amount"), weighted_total=Sum(F("amount") * F("stage__probability")))
        .order_by()
        .values_list("owner_id", "month", "forecast_category", "total", "weighted_total")
    )
    figures: dict[tuple[int, date], dict] = {}
    zero, cent = Decimal(0), Decimal("0.01")
    for owner, month, category, amount, weighted in rows:
        if isinstance(month, datetime):
            month = month.date()
        f = figures.setdefault((owner, month), {"weighted": zero, "pipeline": zero, "best_case": zero, "commit": zero})
        f["pipeline"] += amount
        f["weighted"] += (Decimal(weighted) / 100).quantize(cent)
        if category in (ForecastCategory.BEST_CASE, ForecastCategory.COMMIT):
            f["best_case"] += amount
        if category == ForecastCategory.COMMIT:
            f["commit"] += amount
    return figures


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


# --- quotas (PIPE-7) [h1]


# --- forecasts (PIPE-4, ANA-1, ANA-2) [h2]


# --- funnel, result review, archive (ANA-3) [h3]


# --- work plans (PIPE-4) and weekly report (GOV-8) [h4]


# --- samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]

"""Reads of sales, always starting from the caller's data scope (kam.core.scopes)."""

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import ExtractYear, Trim, TruncMonth
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.core import scopes
from kam.engagement.models import Activity
from kam.org import selectors as org_selectors
from kam.org.models import Role
from kam.sales.models import (
    CostKind,
    DevelopmentCost,
    ForecastCategory,
    ForecastSnapshot,
    FunnelCell,
    GateItem,
    Opportunity,
    OpportunityStatus,
    OwnerForecastMonth,
    Pipeline,
    PipelineCell,
    SalesCredit,
    SalesMonth,
    SalesRecord,
    Sample,
    Stage,
    StageChange,
    StageKind,
    WorkPlan,
    WorkPlanItem,
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


def opportunity_board(user, *, owner=None, team=None) -> list[tuple[Stage, list[Opportunity], int]]:
    """The default pipeline's stages (lost left out) with their opportunities in the user's scope — open ones
    in open stages, won ones in the won stage — by expected close, of one owner ("me" or an id) and/or team:
    at most KAM["OPPORTUNITY_BOARD_CARDS"] cards per stage and how many there are in all; each stage carries
    `total_amount`, the CNY amount of all of them (one grouped query for the counts and totals)."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        return []
    limit = settings.KAM["OPPORTUNITY_BOARD_CARDS"]
    rows = owner_team_filter(user, opportunity_list(user, pipeline=pipeline.pk), owner=owner, team=team)
    stages = list(pipeline.stages.exclude(kind=StageKind.LOST).order_by("order"))
    totals = {(stage_id, status): (n, total) for stage_id, status, n, total in rows.values("stage_id", "status")
              .annotate(n=Count("id"), total=CNY_AMOUNT).order_by().values_list("stage_id", "status", "n", "total")}  # fmt: skip
    columns = []
    for stage in stages:
        status = OpportunityStatus.WON if stage.kind == StageKind.WON else OpportunityStatus.OPEN
        count, stage.total_amount = totals.get((stage.pk, status), (0, None))
        stage.total_amount = _money(stage.total_amount)
        cards = list(rows.filter(stage=stage, status=status)[:limit]) if count else []
        columns.append((stage, cards, count))
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
    # From the pipeline cells (PipelineCell: open opportunities by owner, close month, category and stage) kept
    # by the opportunity services: a few rows per person and month, not the open opportunities themselves.
    rows = (
        PipelineCell.objects.filter(owner_id__in=list(owner_ids), month__gte=first_month, month__lte=last_month)
        .exclude(forecast_category=ForecastCategory.OMITTED)
        .values("owner_id", "month", "forecast_category")
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


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


# --- quotas (PIPE-7) [h1]


# --- forecasts (PIPE-4, ANA-1, ANA-2) [h2]
# The forecast page reads aggregates only: the live GROUP BY of open opportunities (pipeline_by_month),
# credited sales, quotas, the statistical forecast per manager (OwnerForecastMonth) and the snapshots.

FORECAST_KINDS = ("weighted", "commit", "best_case", "statistical")  # the forecasts whose accuracy is measured
PERCENT = Decimal("0.1")
MONEY_FIGURES = ("quota", "actual", "weighted", "commit", "best_case", "pipeline", "statistical")


def _cents(value):
    """Money to cents (SQLite's SUM answers with any number of places; 0 alone has none)."""
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


@dataclass
class ForecastLevel:
    """Whose forecast: one manager ("user"), a team and its subtree ("team"), or everyone in scope ("company")."""

    kind: str
    people: list
    user: object = None
    department: object = None

    @property
    def label(self) -> str:
        if self.user is not None:
            return str(self.user)
        if self.department is not None:
            return self.department.name
        return _("all in my scope")


def forecast_level(viewer, *, user=None, department=None) -> ForecastLevel:
    """The level asked for, within the viewer's scope: people are the KA managers and heads whose figures the
    viewer may see (org.selectors.quota_people); a person or team outside it is 404, a malformed id a 422."""
    people = org_selectors.quota_people(viewer).select_related("department").order_by("department__path", "username")
    if user not in (None, ""):
        if not str(user).isdigit():
            raise ValidationError({"user": _("Give a user id.")})
        person = people.filter(pk=int(user)).first()
        if person is None:
            raise Http404
        return ForecastLevel("user", [person], user=person)
    if department not in (None, ""):
        if not str(department).isdigit():
            raise ValidationError({"department": _("Give a department id.")})
        team = org_selectors.quota_teams(viewer).filter(pk=int(department)).first()
        if team is None:
            raise Http404
        return ForecastLevel("team", list(people.filter(department__path__startswith=team.path)), department=team)
    return ForecastLevel("company", list(people))


def month_param(value, field_name: str) -> date:
    """A month given as "2026-03" (or a date) → date(2026, 3, 1); anything else is a 422 naming the field."""
    if isinstance(value, date):
        return value.replace(day=1)
    text = str(value).strip()
    try:
        year, month = text.split("-")[:2]
        day = date(int(year), int(month), 1)
    except (TypeError, ValueError):
        raise ValidationError({field_name: _("Give a month as YYYY-MM, e.g. 2026-03.")}) from None
    if len(text) > 10 or not 1900 <= day.year <= 2999:
        raise ValidationError({field_name: _("Give a month as YYYY-MM, e.g. 2026-03.")})
    return day


def forecast_months(*, first=None, last=None, today: date) -> list[date]:
    """The months shown: first … last (default this year's twelve), at most KAM["FORECAST_PAGE_MAX_MONTHS"]."""
    first = month_param(first, "from") if first not in (None, "") else date(today.year, 1, 1)
    last = month_param(last, "to") if last not in (None, "") else date(first.year, 12, 1)
    if last < first:
        raise ValidationError({"to": _("The last month cannot be before the first.")})
    months = [first]
    while months[-1] < last:
        months.append(_next_month(months[-1]))
    limit = settings.KAM["FORECAST_PAGE_MAX_MONTHS"]
    if len(months) > limit:
        raise ValidationError({"to": _("Show at most %(n)s months at once.") % {"n": limit}})
    return months


def forecast_figures(actual: Decimal, open_pipeline: dict | None) -> dict:
    """A month's forecasts from the sales credited so far and the open pipeline closing in it (PIPE-4):
    weighted = actual + Σ amount × probability; commit = actual + open commit; best case = actual + open
    best case and commit; pipeline = the open amount not omitted (sales not added)."""
    zero = Decimal(0)
    f = open_pipeline or {}
    return {
        "weighted": actual + f.get("weighted", zero),
        "commit": actual + f.get("commit", zero),
        "best_case": actual + f.get("best_case", zero),
        "pipeline": f.get("pipeline", zero),
    }


def _error_percent(forecast, actual) -> Decimal | None:
    if forecast is None or actual is None or actual <= 0:
        return None
    return (abs(forecast - actual) / actual * 100).quantize(PERCENT)


def _wape(pairs) -> Decimal | None:
    """Σ|actual − forecast| / Σ actual, in percent, over (forecast, actual) pairs with a forecast."""
    pairs = [(f, a) for f, a in pairs if f is not None and a is not None]
    total = sum((a for _f, a in pairs), Decimal(0))
    if not pairs or total <= 0:
        return None
    return (sum((abs(a - f) for f, a in pairs), Decimal(0)) / total * 100).quantize(PERCENT)


def _add(total, value):
    if value is None:
        return total
    return value if total is None else total + value


def _month_snapshots(ids, first: date, current: date) -> dict[date, dict]:
    """month → the snapshots taken at the start of that month (per manager the earliest taken within it),
    summed, for the past months first … before current: one grouped query."""
    earliest = (
        ForecastSnapshot.objects.filter(owner_id=OuterRef("owner_id"), month=OuterRef("month"),
                                        taken_on__gte=OuterRef("month"))
        .order_by("taken_on")
        .values("taken_on")[:1]
    )  # fmt: skip
    names = ("weighted", "commit", "best_case", "pipeline", "statistical")
    rows = (
        ForecastSnapshot.objects.filter(owner_id__in=ids, month__gte=first, month__lt=current)
        .annotate(taken_month=TruncMonth("taken_on"))
        .filter(taken_month=F("month"), taken_on=Subquery(earliest))
        .values("month")
        .annotate(**{f"sum_{name}": Sum(name) for name in names})
        .order_by()
    )
    return {_as_date(r["month"]): {name: _cents(r[f"sum_{name}"]) for name in names} for r in rows}


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def forecast_overview(viewer, *, user=None, department=None, first=None, last=None, today: date | None = None) -> dict:
    """The forecast of a manager, a team or the company for a range of months (PIPE-4, ANA-1, ANA-2).

    Per month: quota (a team's own quota if entered, else its members' added up), actual (credited sales;
    none for months to come), weighted / commit / best case / pipeline (live for this month and later, as
    snapshotted at the start of the month for past months), statistical (the back-test for past months).
    Per manager: this month's figures against quota. Accuracy: each past month's start-of-month snapshot
    against its actual, the WAPE of each forecast over those months, and the statistical back-test's WAPE.
    """
    today = today or timezone.localdate()
    level = forecast_level(viewer, user=user, department=department)
    months = forecast_months(first=first, last=last, today=today)
    current = today.replace(day=1)
    ids = [p.pk for p in level.people]
    span_first, span_last = min(months[0], current), max(months[-1], current)
    zero = Decimal(0)

    quotas = org_selectors.quota_amounts(user_ids=ids, first_month=span_first, last_month=span_last)
    team_quotas = {}
    if level.department is not None:
        team_quotas = org_selectors.team_quota_amounts(department_ids=[level.department.pk], first_month=span_first,
                                                       last_month=span_last)  # fmt: skip
    credits = credited_sales(owner_ids=ids, first_month=span_first, last_month=current)
    live = pipeline_by_month(owner_ids=ids, first_month=current, last_month=span_last)
    statistical: dict[tuple[int, date], Decimal] = {}
    for owner, month, amount in OwnerForecastMonth.objects.filter(
        owner_id__in=ids, month__gte=span_first, month__lte=span_last
    ).values_list("owner_id", "month", "statistical"):
        statistical[(owner, month)] = amount
    snapshots = _month_snapshots(ids, months[0], current)

    def month_row(month: date, people: list, *, whole_level: bool = True) -> dict:
        quota = None
        for p in people:
            quota = _add(quota, quotas.get((p, month)))
        if whole_level and level.department is not None and (level.department.pk, month) in team_quotas:
            quota = team_quotas[(level.department.pk, month)]
        actual = sum((credits.get((p, month), (zero,))[0] for p in people), zero) if month <= current else None
        stat = None
        for p in people:
            stat = _add(stat, statistical.get((p, month)))
        row = {"month": month, "is_past": month < current, "is_current": month == current, "quota": quota,
               "actual": actual, "statistical": stat}  # fmt: skip
        if month >= current:
            open_total: dict = {}
            for p in people:
                for name, value in (live.get((p, month)) or {}).items():
                    open_total[name] = open_total.get(name, zero) + value
            row.update(forecast_figures(actual or zero, open_total))
        else:
            row.update({name: (snapshots.get(month) or {}).get(name) for name in ("weighted", "commit", "best_case",
                                                                                   "pipeline")})  # fmt: skip
        row["attainment"] = (actual / quota * 100).quantize(PERCENT) if actual is not None and quota else None
        for name in MONEY_FIGURES:
            row[name] = _cents(row[name])
        return row

    rows = [month_row(m, ids) for m in months]
    people_rows = []
    for person in level.people:
        r = month_row(current, [person.pk], whole_level=False)
        if person.is_active or any(r[k] for k in ("quota", "actual", "weighted", "pipeline", "statistical")):
            people_rows.append({"user": person, **r})
    return {"level": level, "months": rows, "current_month": current, "people": people_rows,
            "accuracy": forecast_accuracy(ids, rows, snapshots), "currency": "CNY"}  # fmt: skip


def forecast_accuracy(ids, rows: list[dict], snapshots: dict) -> dict:
    """Which forecast to trust (ANA-2): each past month's start-of-month snapshot against the actual, their
    WAPE over those months, and the statistical back-test (one step ahead, same accounts' actuals)."""
    months = []
    for row in rows:
        snap = snapshots.get(row["month"])
        if not row["is_past"] or snap is None:
            continue
        months.append({"month": row["month"], "actual": row["actual"],
                       **{k: snap[k] for k in FORECAST_KINDS},
                       "errors": {k: _error_percent(snap[k], row["actual"]) for k in FORECAST_KINDS}})  # fmt: skip
    wape = {k: _wape((m[k], m["actual"]) for m in months) for k in FORECAST_KINDS}
    backtest_rows = (
        OwnerForecastMonth.objects.filter(owner_id__in=ids, is_backtest=True)
        .values("month")
        .annotate(forecast=Sum("statistical"), actual=Sum("actual"))
        .order_by("month")
    )
    backtest = [{"month": r["month"], "forecast": _cents(r["forecast"]), "actual": _cents(r["actual"]),
                 "error": _error_percent(r["forecast"], r["actual"])} for r in backtest_rows]  # fmt: skip
    backtest_wape = _wape((b["forecast"], b["actual"]) for b in backtest)
    ranked = sorted((value, kind) for kind, value in wape.items() if value is not None)
    closest = ranked[0][1] if ranked else ("statistical" if backtest_wape is not None else None)
    return {"months": months, "wape": wape, "backtest": backtest, "backtest_wape": backtest_wape, "closest": closest}


def forecast_snapshot_list(viewer, *, user=None, first=None, last=None, taken_on=None) -> QuerySet[ForecastSnapshot]:
    """Forecast snapshots of the managers whose figures the viewer may see, newest first; filter by manager,
    month range (YYYY-MM) and the day taken."""
    rows = ForecastSnapshot.objects.filter(owner__in=org_selectors.quota_people(viewer).values("pk"))
    if user not in (None, ""):
        if not str(user).isdigit():
            raise ValidationError({"user": _("Give a user id.")})
        rows = rows.filter(owner_id=int(user))
    if first not in (None, ""):
        rows = rows.filter(month__gte=month_param(first, "from"))
    if last not in (None, ""):
        rows = rows.filter(month__lte=month_param(last, "to"))
    if taken_on is not None:
        rows = rows.filter(taken_on=taken_on)
    return rows.select_related("owner").order_by("-taken_on", "month", "owner__username", "id")


# --- funnel, result review, archive (ANA-3) [h3]
# Grouped queries on indexed columns (reached_order, created_at, status + closed_at, owner): a handful of rows
# come back whatever the number of opportunities, never the opportunities themselves. Amounts are summed
# over CNY opportunities only (counts take every currency).


def _day(value, name: str) -> date | None:
    """A date given as a date or as YYYY-MM-DD text; anything else names the field."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError({name: _("Enter a valid date (YYYY-MM-DD).")}) from None


def _period(date_from, date_to) -> tuple[date, date]:
    """The period asked for; by default the last KAM["FUNNEL_DEFAULT_MONTHS"] months up to today."""
    date_to = _day(date_to, "to") or timezone.localdate()
    date_from = _day(date_from, "from")
    if date_from is None:
        months = date_to.year * 12 + date_to.month - 1 - settings.KAM["FUNNEL_DEFAULT_MONTHS"]
        year, month = divmod(months, 12)
        last_day = calendar.monthrange(year, month + 1)[1]
        date_from = date(year, month + 1, min(date_to.day, last_day)) + timedelta(days=1)
    if date_from > date_to:
        raise ValidationError({"to": _("The end of the period comes before its start.")})
    return date_from, date_to


def _day_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start of the first day, start of the day after the last) in the user's time zone."""
    start = timezone.make_aware(datetime.combine(date_from, time.min))
    return start, timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min))


def owner_team_filter(user, rows: QuerySet, *, owner=None, team=None) -> QuerySet:
    """Rows of one owner ("me" or a user id) and/or of the people in a team (a department the user may see,
    with its sub-departments); an unknown owner or team names the field."""
    from kam.org.models import User

    if owner == "me":
        rows = rows.filter(owner=user)
    elif owner not in (None, ""):
        if not str(owner).isdigit() or not User.objects.filter(pk=int(owner)).exists():
            raise ValidationError({"owner": _("Pick a user.")})
        rows = rows.filter(owner_id=int(owner))
    if team not in (None, ""):
        department = scopes.visible_departments(user).filter(pk=int(team)).first() if str(team).isdigit() else None
        if department is None:
            raise ValidationError({"team": _("Pick a team you may see.")})
        rows = rows.filter(owner__department__path__startswith=department.path)
    return rows


def _pipeline_or_default(pipeline) -> Pipeline:
    if pipeline in (None, ""):
        found = Pipeline.objects.filter(is_default=True).first()
    else:
        found = Pipeline.objects.filter(pk=int(pipeline)).first() if str(pipeline).isdigit() else None
    if found is None:
        raise ValidationError({"pipeline": _("Pick a pipeline.")})
    return found


def _share(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


CNY_AMOUNT = Sum("amount", filter=Q(currency="CNY"))
CENT = Decimal("0.01")


def _money(total) -> Decimal:
    """A sum as a Decimal with two places (SQLite answers 2000 where PostgreSQL answers 2000.00; none is 0)."""
    return Decimal(str(total or 0)).quantize(CENT)


def opportunity_funnel(user, *, pipeline=None, owner=None, team=None, date_from=None, date_to=None) -> dict:
    """The funnel (PIPE-1) of one pipeline (the default one) in the user's scope, of one owner and/or team:

    - stages: for each open stage and the won stage in order, the opportunities created in the period that
      reached it (reached_order ≥ its order, whatever they became since), their amount, and the conversion
      to the next stage (reached next / reached this, %);
    - win_rate: reached the won stage / entered the first stage (%);
    - open: today's open pipeline by stage (count, amount, amount × stage probability), of every open
      opportunity of the owner / team filters whenever it was created.
    The period is counted in whole months (of creation, Asia/Shanghai). Figures are of the opportunities
    OWNED by the people in the user's scope (kam.core.scopes.visible_sales_people), like the forecast and the
    quotas, and come from the funnel cells (FunnelCell): one GROUP BY over a few thousand rows, whatever the
    number of opportunities.
    """
    pipeline = _pipeline_or_default(pipeline)
    given_from = date_from
    date_from, date_to = _period(date_from, date_to)
    last = date_to.replace(day=1)
    if given_from in (None, ""):
        date_from = _months_before(last, settings.KAM["FUNNEL_DEFAULT_MONTHS"] - 1)
    first = date_from.replace(day=1)
    date_from, date_to = first, _next_month(last) - timedelta(days=1)
    cells = FunnelCell.objects.filter(pipeline=pipeline, owner__in=scopes.visible_sales_people(user))
    cells = owner_team_filter(user, cells, owner=owner, team=team)
    stages = list(pipeline.stages.exclude(kind=StageKind.LOST).order_by("order"))
    # One query for both figures: the period's cohort by furthest stage, today's open ones by stage. The
    # weighted amount is the stage's open amount × its probability (one probability per stage).
    created = Q(month__gte=first, month__lte=last)
    is_open = Q(is_open=True)
    groups = list(
        cells.filter(created | is_open).values("reached_order", "stage_id")
        .annotate(created_n=Sum("count", filter=created), created_total=Sum("amount", filter=created),
                  open_n=Sum("count", filter=is_open), open_total=Sum("amount", filter=is_open))
        .order_by().values_list("reached_order", "stage_id", "created_n", "created_total", "open_n", "open_total")
    )  # fmt: skip
    groups = [(order, stage, cn or 0, ct, on or 0, ot) for order, stage, cn, ct, on, ot in groups]
    zero = _money(0)
    funnel = []
    for stage in stages:
        at_least = [(n, _money(total)) for order, _stage, n, total, _on, _ot in groups if order >= stage.order]
        funnel.append({"stage": stage, "reached": sum(n for n, _t in at_least),
                       "amount": sum((t for _n, t in at_least), zero), "conversion": None})  # fmt: skip
    for this, following in zip(funnel, funnel[1:], strict=False):
        this["conversion"] = _share(following["reached"], this["reached"])
    won = next((f["reached"] for f in funnel if f["stage"].kind == StageKind.WON), 0)
    pipeline_now = []
    for stage in stages:
        if stage.kind == StageKind.OPEN:
            here = [(n, _money(total)) for _order, stage_id, _cn, _ct, n, total in groups if stage_id == stage.pk]
            amount = sum((t for _n, t in here), zero)
            pipeline_now.append({"stage": stage, "count": sum(n for n, _t in here), "amount": amount,
                                 "weighted": (amount * stage.probability / 100).quantize(CENT)})  # fmt: skip
    return {
        "pipeline": pipeline, "date_from": date_from, "date_to": date_to, "currency": "CNY", "stages": funnel,
        "win_rate": _share(won, funnel[0]["reached"] if funnel else 0), "open": pipeline_now,
        "open_total": {"count": sum(o["count"] for o in pipeline_now),
                       "amount": sum((o["amount"] for o in pipeline_now), zero),
                       "weighted": sum((o["weighted"] for o in pipeline_now), zero)},
    }  # fmt: skip


CLOSED_STATUSES = (OpportunityStatus.WON, OpportunityStatus.LOST, OpportunityStatus.STOPPED)


def _by_status(grouped, key: str) -> list[dict]:
    """Rows of (key, status, n, amount) merged into one row per key with lost / stopped counts, by count."""
    merged: dict = {}
    for value, status, n, total in grouped:
        row = merged.setdefault(value, {key: value, "lost": 0, "stopped": 0, "amount": _money(0)})
        row[status] = row.get(status, 0) + n
        row["amount"] += _money(total)
    rows = sorted(merged.values(), key=lambda r: (-(r["lost"] + r["stopped"]), -r["amount"], str(r[key])))
    return rows[: settings.KAM["RESULT_REVIEW_ROWS"]]


def result_review(user, *, owner=None, team=None, date_from=None, date_to=None) -> dict:
    """The result review (ANA-3) of the opportunities closed (won, lost, stopped) in the period, in the user's
    scope, of one owner and/or team: totals; lost and stopped ones by reason (the trimmed text), by the
    competitor lost to (won deals have none) and by the stage they closed in; each manager's won / lost /
    stopped counts and amounts with the win rate won / (won + lost); the latest lost reviews."""
    date_from, date_to = _period(date_from, date_to)
    start, end = _day_bounds(date_from, date_to)
    rows = scopes.visible_opportunities(user).filter(status__in=CLOSED_STATUSES, closed_at__gte=start,
                                                     closed_at__lt=end)  # fmt: skip
    rows = owner_team_filter(user, rows, owner=owner, team=team)
    not_won = rows.exclude(status=OpportunityStatus.WON)
    counted = {"n": Count("id"), "total": CNY_AMOUNT}
    by_reason = _by_status(
        not_won.annotate(reason=Trim("close_reason")).values("reason", "status").annotate(**counted).order_by()
        .values_list("reason", "status", "n", "total"), "reason")  # fmt: skip
    by_competitor = _by_status(
        not_won.annotate(competitor=Trim("review_competitor")).exclude(competitor="")
        .values("competitor", "status").annotate(**counted).order_by()
        .values_list("competitor", "status", "n", "total"), "competitor")  # fmt: skip
    by_stage = _by_status(not_won.values("closed_in_stage_id", "status").annotate(**counted).order_by()
                          .values_list("closed_in_stage_id", "status", "n", "total"), "stage_id")  # fmt: skip
    stages = Stage.objects.in_bulk([r["stage_id"] for r in by_stage if r["stage_id"]])
    for row in by_stage:
        row["stage"] = stages.get(row["stage_id"])
        row["name"] = str(row["stage"].display_name) if row["stage"] else "—"
    by_stage.sort(key=lambda r: (r["stage"] is None, r["stage"].pipeline_id if r["stage"] else 0,
                                 r["stage"].order if r["stage"] else 0))  # fmt: skip
    managers: dict = {}
    zero = _money(0)
    for owner_id, status, n, total in (rows.values("owner_id", "status").annotate(**counted).order_by()
                                       .values_list("owner_id", "status", "n", "total")):  # fmt: skip
        m = managers.setdefault(owner_id, {"won": 0, "lost": 0, "stopped": 0, "won_amount": zero,
                                           "lost_amount": zero, "stopped_amount": zero})  # fmt: skip
        m[status] += n
        m[f"{status}_amount"] += _money(total)
    from kam.org.models import User

    people = User.objects.in_bulk(list(managers))
    by_manager = []
    for owner_id, m in managers.items():
        m.update(owner=people[owner_id], win_rate=_share(m["won"], m["won"] + m["lost"]))
        by_manager.append(m)
    by_manager.sort(key=lambda m: (-m["won_amount"], -m["won"], str(m["owner"])))
    totals = {key: sum((m[key] for m in by_manager), 0) for key in ("won", "lost", "stopped")}
    totals.update({key: sum((m[key] for m in by_manager), zero)
                   for key in ("won_amount", "lost_amount", "stopped_amount")})  # fmt: skip
    totals["win_rate"] = _share(totals["won"], totals["won"] + totals["lost"])
    latest_lost = list(rows.filter(status=OpportunityStatus.LOST).select_related("account", "owner", "closed_in_stage")
                       .order_by("-closed_at", "-id")[: settings.KAM["RESULT_REVIEW_ROWS"]])  # fmt: skip
    return {"date_from": date_from, "date_to": date_to, "currency": "CNY", "totals": totals,
            "by_reason": by_reason, "by_competitor": by_competitor, "by_stage": by_stage,
            "by_manager": by_manager, "latest_lost": latest_lost}  # fmt: skip


def filter_options(user) -> dict:
    """The owners and teams a user may pick in the funnel, review and board filters (their data scope)."""
    people = scopes.visible_sales_people(user).filter(is_active=True).order_by("username")
    return {"owners": list(people), "teams": list(scopes.visible_departments(user).order_by("path"))}


# --- work plans (PIPE-4) and weekly report (GOV-8) [h4]
# "Done" counts the activities a person took part in (Activity.participants, as "mine" on the activity
# list), archived ones left out, in the plan's month (local days, settings.TIME_ZONE).


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The aware start of a month's first day and of the next month's first day, in the local time zone."""
    start = timezone.make_aware(datetime.combine(month.replace(day=1), datetime.min.time()))
    return start, timezone.make_aware(datetime.combine(_next_month(month.replace(day=1)), datetime.min.time()))


@dataclass
class PlanRow:
    """One item of a work plan with what was done of it."""

    item: WorkPlanItem
    done: int

    @property
    def planned(self) -> int:
        return self.item.planned

    @property
    def rate(self) -> Decimal:
        return _percent(min(self.done, self.planned), self.planned)


@dataclass
class PlanProgress:
    """A person's plan for a month against what was done (PIPE-4). `rate` counts at most the planned number
    per row (more calls do not make up for a missed visit); `unplanned` counts, by kind, the month's
    activities no row covers."""

    owner_id: int
    month: date
    plan: WorkPlan | None
    rows: list[PlanRow] = field(default_factory=list)
    unplanned: dict[str, int] = field(default_factory=dict)

    @property
    def planned(self) -> int:
        return sum(r.planned for r in self.rows)

    @property
    def done(self) -> int:
        return sum(r.done for r in self.rows)

    @property
    def rate(self) -> Decimal | None:
        planned = self.planned
        return _percent(sum(min(r.done, r.planned) for r in self.rows), planned) if planned else None

    @property
    def unplanned_total(self) -> int:
        return sum(self.unplanned.values())


def _percent(part, whole) -> Decimal:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")) if whole else Decimal(0)


def work_plan_progress(*, owner_ids, month: date) -> dict[int, PlanProgress]:
    """owner → their plan for the month against what was done, for many people in three queries (plans,
    items, the month's activities grouped by person, account and kind). Callers pass people already
    limited by kam.core.scopes.visible_sales_people."""
    owner_ids = list(owner_ids)
    month = month.replace(day=1)
    start, end = month_bounds(month)
    plans = {p.owner_id: p for p in WorkPlan.objects.filter(owner_id__in=owner_ids, month=month)
             .select_related("owner").prefetch_related(
                 Prefetch("items", queryset=WorkPlanItem.objects.select_related("account").order_by("id")))}  # fmt: skip
    counts: dict[int, dict[tuple[int, str], int]] = {}
    rows = (Activity.participants.through.objects
            .filter(user_id__in=owner_ids, activity__happened_at__gte=start, activity__happened_at__lt=end,
                    activity__is_archived=False)
            .values_list("user_id", "activity__account_id", "activity__kind")
            .annotate(n=Count("activity_id")).order_by())  # fmt: skip
    for user_id, account_id, kind, n in rows:
        counts.setdefault(user_id, {})[(account_id, kind)] = n
    result = {}
    for owner_id in owner_ids:
        plan, done = plans.get(owner_id), counts.get(owner_id, {})
        progress = PlanProgress(owner_id=owner_id, month=month, plan=plan)
        items = list(plan.items.all()) if plan else []
        for item in items:
            n = sum(c for (a, k), c in done.items() if k == item.kind and item.account_id in (None, a))
            progress.rows.append(PlanRow(item=item, done=n))
        covered_kinds = {i.kind for i in items if i.account_id is None}
        covered = {(i.account_id, i.kind) for i in items if i.account_id is not None}
        for (account_id, kind), n in done.items():
            if kind not in covered_kinds and (account_id, kind) not in covered:
                progress.unplanned[kind] = progress.unplanned.get(kind, 0) + n
        result[owner_id] = progress
    return result


def parse_month(value, *, field: str = "month") -> date:
    """A month as "2026-11" (or a date in it) → its first day; anything else a ValidationError naming `field`."""
    text = str(value or "").strip()
    try:
        year, month = (int(part) for part in text[:7].split("-"))
        if len(text) not in (7, 10) or not 2000 <= year <= 2999:
            raise ValueError
        return date(year, month, 1)
    except ValueError:
        raise ValidationError({field: _("Give a month as YYYY-MM.")}) from None


def work_plan_list(user, *, owner=None, month: date | None = None) -> QuerySet[WorkPlan]:
    """Work plans of the people whose figures the user may see, newest month first."""
    plans = WorkPlan.objects.filter(owner__in=scopes.visible_sales_people(user))
    if owner is not None:
        plans = plans.filter(owner_id=owner)
    if month is not None:
        plans = plans.filter(month=month.replace(day=1))
    return plans.select_related("owner").order_by("-month", "owner__username", "id")


def get_work_plan_for_user(user, pk) -> WorkPlan:
    """A work plan of someone whose figures the user may see; otherwise 404."""
    plan = work_plan_list(user).filter(pk=pk).first()
    if plan is None:
        raise Http404
    return plan


def get_sales_person_for_user(user, pk):
    """A person whose figures the user may see (their plan, their reports); otherwise 404."""
    person = scopes.visible_sales_people(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if person is None:
        raise Http404
    return person


def team_work_plan_overview(user, *, month: date) -> list[tuple]:
    """(person, progress) for the active KA managers whose figures the user may see, other than the user."""
    people = list(scopes.visible_sales_people(user).filter(role=Role.KA_MANAGER, is_active=True)
                  .exclude(pk=user.pk).order_by("department__path", "username"))  # fmt: skip
    progress = work_plan_progress(owner_ids=[p.pk for p in people], month=month)
    return [(p, progress[p.pk]) for p in people]


# --- samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]


def account_development_return(user, account_id) -> tuple:
    """An account's cost of acquisition and return by year (PIPE-5): (account, years oldest first).

    Each year with costs or sales: the development cost (sum, and by kind), the sales amount and gross
    margin (SalesMonth only, never the lines), return = gross margin − cost, and the return accumulated
    since the first year. CNY only, like the sales figures; archived costs are left out. A foreign account
    is 404; an archived one keeps its figures."""
    account = scopes.get_account_for_user(user, account_id, include_archived=True)
    zero = Decimal(0)
    years: dict[int, dict] = {}

    def year_row(year: int) -> dict:
        return years.setdefault(year, {"year": year, "cost": zero, "costs_by_kind": {}, "sales_amount": zero,
                                       "gross_margin": zero})  # fmt: skip

    costs = (
        DevelopmentCost.objects.filter(account=account, is_archived=False, currency="CNY")
        .annotate(year=ExtractYear("incurred_on"))
        .values("year", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("year", "kind", "total")
    )
    for year, kind, total in costs:
        row = year_row(year)
        row["cost"] += total
        row["costs_by_kind"][kind] = row["costs_by_kind"].get(kind, zero) + total
    sales = (
        SalesMonth.objects.filter(account=account)
        .annotate(year=ExtractYear("month"))
        .values("year")
        .annotate(amount=Sum("amount"), margin=Sum("gross_margin"))
        .order_by()
        .values_list("year", "amount", "margin")
    )
    for year, amount, margin in sales:
        row = year_row(year)
        row["sales_amount"] += amount
        row["gross_margin"] += margin
    kinds = list(CostKind.values)
    cumulative = zero
    result = []
    for year in sorted(years):
        row = years[year]
        row["costs_by_kind"] = {k: row["costs_by_kind"][k] for k in kinds if k in row["costs_by_kind"]}
        row["net_return"] = row["gross_margin"] - row["cost"]
        cumulative += row["net_return"]
        row["cumulative_return"] = cumulative
        result.append(row)
    return account, result

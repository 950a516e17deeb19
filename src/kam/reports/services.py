"""Writes of reports: the weekly sales statistics report (GOV-8), made for every active KA manager each week
and sent to their supervisors' inbox in the app. The scheduled job, the "generate now" page and the API call
weekly_reports_generate."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from kam.core import scopes
from kam.core.models import AuditAction, AuditEvent
from kam.core.templatetags.kam import money
from kam.engagement.models import Activity, Reminder, ReminderKind
from kam.org import selectors as org_selectors
from kam.org.models import Role
from kam.reports.models import WeeklyReport
from kam.sales import selectors as sales_selectors
from kam.sales.models import Opportunity, SalesRecord, StageChange, StageKind

User = get_user_model()
ZERO = Decimal(0)
CENT = Decimal("0.01")


def _day_start(day: date) -> datetime:
    """The start of a local calendar day (settings.TIME_ZONE, Asia/Shanghai by default), aware."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _month_add(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _money(value) -> str:
    return str((value or ZERO).quantize(CENT))


def _rate(part: Decimal, whole: Decimal | None) -> str | None:
    """part / whole in %, one decimal; none without a quota."""
    if not whole:
        return None
    return str((part * 100 / whole).quantize(Decimal("0.1")))


def check_week_start(value) -> date:
    """A Monday not in the future (the current week may be reported so far); else a ValidationError naming
    week_start."""
    if not isinstance(value, date):
        raise ValidationError({"week_start": _("Enter a valid date (YYYY-MM-DD).")})
    if value.weekday() != 0:
        raise ValidationError({"week_start": _("A week starts on a Monday.")})
    if value > timezone.localdate():
        raise ValidationError({"week_start": _("This week has not started yet.")})
    return value


def report_managers(actor=None):
    """Who gets a weekly report: the active KA managers (KA heads receive their team's reports instead of one
    of their own); with an actor, those whose figures the actor may see."""
    managers = User.objects.filter(role=Role.KA_MANAGER, is_active=True)
    if actor is not None:
        managers = managers.filter(pk__in=scopes.visible_sales_people(actor).values("pk"))
    return managers.select_related("department").order_by("pk")


def _previous_reports(manager_ids: list[int], week_start: date) -> dict[int, WeeklyReport]:
    """Each manager's latest report before the week, in one query."""
    latest = (WeeklyReport.objects.filter(manager_id=OuterRef("manager_id"), week_start__lt=week_start)
              .order_by("-week_start").values("week_start")[:1])  # fmt: skip
    rows = WeeklyReport.objects.filter(manager_id__in=manager_ids, week_start=Subquery(latest))
    return {r.manager_id: r for r in rows}


def weekly_figures(manager_ids: list[int], week_start: date) -> dict[int, dict]:
    """manager → the figures of their weekly report (GOV-8), JSON-ready (money as decimal strings).

    One grouped query per figure for all managers together, not a round of queries per manager.
    The week is Monday 00:00 to the next Monday 00:00 in the local time zone; "the month" is the month of
    the week's Sunday (month-, quarter- and year-to-date, quota, work plan, forecast "this month")."""
    week_end = week_start + timedelta(days=6)
    start, end = _day_start(week_start), _day_start(week_start + timedelta(days=7))
    month = week_end.replace(day=1)
    year_start = month.replace(month=1)
    quarter_start = month.replace(month=(month.month - 1) // 3 * 3 + 1)
    next_month = _month_add(month, 1)

    week_sales = {
        row["credited_to_id"]: row
        for row in SalesRecord.objects.filter(credited_to_id__in=manager_ids, date__gte=week_start, date__lte=week_end)
        .values("credited_to_id").annotate(amount=Sum("amount"), margin=Sum("gross_margin"), lines=Count("id"))
        .order_by()
    }  # fmt: skip
    credited = sales_selectors.credited_sales(owner_ids=manager_ids, first_month=year_start, last_month=month)
    quotas = org_selectors.quota_amounts(user_ids=manager_ids, first_month=year_start,
                                         last_month=year_start.replace(month=12))  # fmt: skip
    new_opportunities = {
        row["owner_id"]: row
        for row in Opportunity.objects.filter(owner_id__in=manager_ids, created_at__gte=start, created_at__lt=end)
        .values("owner_id").annotate(n=Count("id"), amount=Sum("amount")).order_by()
    }  # fmt: skip
    moves: dict[int, list] = {}
    for row in (StageChange.objects.filter(opportunity__owner_id__in=manager_ids, at__gte=start, at__lt=end,
                                           from_stage__isnull=False)
                .values("opportunity__owner_id", "to_stage_id", "to_stage__code", "to_stage__name",
                        "to_stage__order", "to_stage__kind")
                .annotate(n=Count("id"), amount=Sum("opportunity__amount")).order_by()):  # fmt: skip
        moves.setdefault(row["opportunity__owner_id"], []).append(row)
    pipeline = sales_selectors.pipeline_by_month(owner_ids=manager_ids, first_month=month, last_month=next_month)
    previous = _previous_reports(manager_ids, week_start)
    plans = sales_selectors.work_plan_progress(owner_ids=manager_ids, month=month)
    activities: dict[int, dict[str, int]] = {}
    for user_id, kind, n in (Activity.participants.through.objects
                             .filter(user_id__in=manager_ids, activity__happened_at__gte=start,
                                     activity__happened_at__lt=end, activity__is_archived=False)
                             .values_list("user_id", "activity__kind").annotate(n=Count("activity_id")).order_by()):  # fmt: skip
        activities.setdefault(user_id, {})[kind] = n

    figures = {}
    for m in manager_ids:
        months_credited = {mo: credited.get((m, mo), (ZERO, ZERO))[0] for mo in _months(year_start, month)}
        mtd = months_credited[month]
        qtd = sum((v for mo, v in months_credited.items() if mo >= quarter_start), ZERO)
        ytd = sum(months_credited.values(), ZERO)
        quota_month = quotas.get((m, month))
        quarter_quotas = [
            quotas[(m, mo)] for mo in _months(quarter_start, _month_add(quarter_start, 2)) if (m, mo) in quotas
        ]
        year_quotas = [q for (u, _mo), q in quotas.items() if u == m]
        quota_quarter = sum(quarter_quotas, ZERO) if quarter_quotas else None
        quota_year = sum(year_quotas, ZERO) if year_quotas else None
        week = week_sales.get(m, {})
        new = new_opportunities.get(m, {})
        by_stage, won, lost = [], {"count": 0, "amount": ZERO}, {"count": 0, "amount": ZERO}
        for row in sorted(moves.get(m, []), key=lambda r: (r["to_stage__order"], r["to_stage_id"])):
            by_stage.append({"stage_id": row["to_stage_id"], "code": row["to_stage__code"],
                             "name": row["to_stage__name"], "kind": row["to_stage__kind"], "count": row["n"]})  # fmt: skip
            target = (
                won
                if row["to_stage__kind"] == StageKind.WON
                else lost
                if row["to_stage__kind"] == StageKind.LOST
                else None
            )
            if target is not None:
                target["count"] += row["n"]
                target["amount"] += row["amount"] or ZERO
        before = {
            f["month"]: Decimal(f["weighted"]) for f in (previous[m].data.get("forecast", []) if m in previous else [])
        }
        forecast = []
        for mo in (month, next_month):
            weighted = pipeline.get((m, mo), {}).get("weighted", ZERO)
            key = f"{mo:%Y-%m}"
            change = weighted - before[key] if key in before else None
            forecast.append(
                {"month": key, "weighted": _money(weighted), "change": None if change is None else _money(change)}
            )
        plan = plans[m]
        kinds = activities.get(m, {})
        figures[m] = {
            "week_start": week_start.isoformat(),
            "week_end": week_end.isoformat(),
            "month": f"{month:%Y-%m}",
            "sales": {
                "week": {"amount": _money(week.get("amount")), "gross_margin": _money(week.get("margin")),
                         "lines": week.get("lines", 0)},
                "month_to_date": _money(mtd),
                "quarter_to_date": _money(qtd),
                "year_to_date": _money(ytd),
            },
            "quota": {
                "month": {"quota": _money(quota_month) if quota_month is not None else None, "sales": _money(mtd),
                          "rate": _rate(mtd, quota_month)},
                "quarter": {"quota": _money(quota_quarter) if quota_quarter is not None else None,
                            "sales": _money(qtd), "rate": _rate(qtd, quota_quarter)},
                "year": {"quota": _money(quota_year) if quota_year is not None else None, "sales": _money(ytd),
                         "rate": _rate(ytd, quota_year)},
            },
            "opportunities": {"new_count": new.get("n", 0), "new_amount": _money(new.get("amount"))},
            "stage_moves": {"by_stage": by_stage, "total": sum(s["count"] for s in by_stage),
                            "won": {"count": won["count"], "amount": _money(won["amount"])},
                            "lost": {"count": lost["count"], "amount": _money(lost["amount"])}},
            "forecast": forecast,
            "previous_report": previous[m].pk if m in previous else None,
            "work_plan": {"planned": plan.planned, "done": plan.done,
                          "rate": None if plan.rate is None else str(plan.rate)},
            "activities": dict(sorted(kinds.items())),
            "activities_total": sum(kinds.values()),
        }  # fmt: skip
    return figures


def _months(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = _month_add(month, 1)
    return months


def _is_provisional(report: WeeklyReport) -> bool:
    """Generated before its week was over: the figures of a week still running, refreshed when regenerated."""
    return report.generated_at < _day_start(report.week_start + timedelta(days=7))


def _reminders(reports: list[WeeklyReport], heads_of: dict[int, list]) -> list[Reminder]:
    reminders = []
    for report in reports:
        sales = report.data["sales"]
        for head in heads_of.get(report.manager_id, []):
            with translation.override(head.language or settings.LANGUAGE_CODE):
                title = _("Weekly report of %(manager)s, week of %(monday)s") % {
                    "manager": report.manager, "monday": formats.date_format(report.week_start, "SHORT_DATE_FORMAT")}  # fmt: skip
                body = "\n".join([
                    _("Sales this week: %(amount)s") % {"amount": money(sales["week"]["amount"])},
                    _("Month to date: %(amount)s") % {"amount": money(sales["month_to_date"])},
                    _("Read it at %(url)s") % {"url": reverse("weekly_report_detail", args=[report.pk])},
                ])  # fmt: skip
            reminders.append(Reminder(user=head, kind=ReminderKind.WEEKLY_REPORT, title=title[:200], body=body,
                                      due_at=timezone.now(), link=reverse("weekly_report_detail", args=[report.pk]),
                                      key=f"weekly-report:{report.week_start.isoformat()}:{report.manager_id}:{head.pk}"))  # fmt: skip
    return reminders


def weekly_reports_generate(*, week_start: date, actor=None) -> list[WeeklyReport]:
    """Make the weekly reports (GOV-8) of the week starting `week_start` (a Monday, not in the future) for every
    active KA manager — with an actor (a KA head or administrator: "generate now"), for those in the actor's
    scope — and put a reminder in each supervisor's inbox (see `supervisors`).

    Idempotent: one report per manager and week. A report generated after its week was over is kept as it
    is (the history reads the same later); one generated while its week was still running is refreshed.
    Each supervisor is sent a manager's report of a week once. Every report made or refreshed is audited."""
    week_start = check_week_start(week_start)
    if actor is not None and not (actor.is_active and actor.role in scopes.SCOPE_EDITORS):
        raise PermissionDenied(_("Only KA heads and administrators generate weekly reports."))
    try:
        return _generate(week_start, actor)
    except IntegrityError:  # another run wrote the same week meanwhile: its reports are now there to keep
        return _generate(week_start, actor)


@transaction.atomic
def _generate(week_start: date, actor) -> list[WeeklyReport]:
    managers = {m.pk: m for m in report_managers(actor)}
    existing = {
        r.manager_id: r for r in WeeklyReport.objects.filter(manager_id__in=list(managers), week_start=week_start)
    }
    todo = [pk for pk in managers if pk not in existing or _is_provisional(existing[pk])]
    figures = weekly_figures(todo, week_start) if todo else {}
    heads = list(User.objects.filter(role=Role.KA_HEAD, is_active=True, department__isnull=False)
                 .select_related("department"))  # fmt: skip
    heads_of = {pk: org_selectors.nearest_heads(managers[pk].department, heads) for pk in todo}
    now = timezone.now()
    new, refreshed = [], []
    for pk in todo:
        sent_to = [h.pk for h in heads_of[pk]]
        if pk in existing:
            report = existing[pk]
            report.data, report.generated_at, report.sent_to = figures[pk], now, sent_to
            refreshed.append(report)
        else:
            new.append(WeeklyReport(manager=managers[pk], week_start=week_start, generated_at=now, data=figures[pk],
                                    sent_to=sent_to))  # fmt: skip
    with transaction.atomic():
        WeeklyReport.objects.bulk_create(new)
    if refreshed:
        WeeklyReport.objects.bulk_update(refreshed, ["data", "generated_at", "sent_to"])
    if new and new[0].pk is None:  # a backend that does not return keys: read them back
        ids = dict(WeeklyReport.objects.filter(week_start=week_start, manager_id__in=[r.manager_id for r in new])
                   .values_list("manager_id", "pk"))  # fmt: skip
        for report in new:
            report.pk = report.pk or ids.get(report.manager_id)
    for report in new + refreshed:
        report.manager = managers[report.manager_id]
    made = new + refreshed
    reminders = _reminders(made, heads_of)
    taken = set(Reminder.objects.filter(key__in=[r.key for r in reminders]).values_list("key", flat=True))
    Reminder.objects.bulk_create([r for r in reminders if r.key not in taken], ignore_conflicts=True)
    AuditEvent.objects.bulk_create([
        AuditEvent(actor=actor, action=AuditAction.CREATE if r in new else AuditAction.UPDATE,
                   target_type=WeeklyReport._meta.label_lower, target_id=str(r.pk), target_repr=str(r)[:300],
                   extra={"week_start": week_start.isoformat(), "generated_by": "user" if actor else "schedule"})
        for r in made
    ])  # fmt: skip
    current = {**existing, **{r.manager_id: r for r in made}}
    return [current[pk] for pk in sorted(current)]

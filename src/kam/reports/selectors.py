"""Reads of reports, always starting from the caller's data scope: a weekly report (GOV-8) is seen by whoever
may see its manager's figures (kam.core.scopes.visible_sales_people) — the manager, their head, executives
and administrators."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from kam.core import scopes
from kam.engagement.models import ActivityKind
from kam.reports.models import WeeklyReport
from kam.sales.models import DEFAULT_STAGE_NAMES


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_report_list(user, *, manager=None, week: date | None = None) -> QuerySet[WeeklyReport]:
    """Weekly reports of the people whose figures the user may see, newest week first; `week` is any day of
    the week wanted."""
    reports = WeeklyReport.objects.filter(manager__in=scopes.visible_sales_people(user))
    if manager is not None:
        reports = reports.filter(manager_id=manager)
    if week is not None:
        reports = reports.filter(week_start=monday_of(week))
    return reports.select_related("manager").order_by("-week_start", "manager__username", "id")


def get_weekly_report_for_user(user, pk) -> WeeklyReport:
    """A weekly report of someone whose figures the user may see; otherwise 404."""
    report = weekly_report_list(user).filter(pk=pk).first()
    if report is None:
        raise Http404
    return report


@dataclass
class Line:
    """One labelled figure of a report as shown on the page and in the spreadsheet."""

    label: str
    value: Decimal | int | str | None
    money: bool = False


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def weekly_report_sections(report: WeeklyReport) -> list[tuple[str, list[Line]]]:
    """The report's figures as titled sections of labelled lines, in the reader's language (the stored figures
    are language-free: codes and decimal strings)."""
    d = report.data
    sales, quota, opp, moves = d["sales"], d["quota"], d["opportunities"], d["stage_moves"]
    kinds = dict(ActivityKind.choices)
    sections = [
        (_("Sales"), [
            Line(_("Sales this week"), _dec(sales["week"]["amount"]), True),
            Line(_("Gross margin this week"), _dec(sales["week"]["gross_margin"]), True),
            Line(_("Order lines this week"), sales["week"]["lines"]),
            Line(_("Month to date"), _dec(sales["month_to_date"]), True),
            Line(_("Quarter to date"), _dec(sales["quarter_to_date"]), True),
            Line(_("Year to date"), _dec(sales["year_to_date"]), True),
        ]),
        (_("Quota progress"), [
            line
            for key, name in (("month", _("month")), ("quarter", _("quarter")), ("year", _("year")))
            for line in (
                Line(_("Quota (%(period)s)") % {"period": name}, _dec(quota[key]["quota"]), True),
                Line(_("Completion (%(period)s), %%") % {"period": name}, _dec(quota[key]["rate"])),
            )
        ]),
        (_("Opportunities"), [
            Line(_("New opportunities"), opp["new_count"]),
            Line(_("Amount of new opportunities"), _dec(opp["new_amount"]), True),
            Line(_("Stage moves"), moves["total"]),
            *[Line(_("Moved to %(stage)s") % {"stage": m["name"] or DEFAULT_STAGE_NAMES.get(m["code"], m["code"])},
                   m["count"]) for m in moves["by_stage"]],
            Line(_("Won"), moves["won"]["count"]),
            Line(_("Won amount"), _dec(moves["won"]["amount"]), True),
            Line(_("Lost"), moves["lost"]["count"]),
            Line(_("Lost amount"), _dec(moves["lost"]["amount"]), True),
        ]),
        (_("Forecast (weighted pipeline)"), [
            line
            for f in d["forecast"]
            for line in (
                Line(_("Forecast for %(month)s") % {"month": f["month"]}, _dec(f["weighted"]), True),
                Line(_("Change since the last report (%(month)s)") % {"month": f["month"]}, _dec(f["change"]), True),
            )
        ]),
        (_("Work plan of the month"), [
            Line(_("Planned"), d["work_plan"]["planned"]),
            Line(_("Done"), d["work_plan"]["done"]),
            Line(_("Done, %"), _dec(d["work_plan"]["rate"])),
        ]),
        (_("Activities this week"), [
            *[Line(str(kinds.get(kind, kind)), n) for kind, n in d["activities"].items()],
            Line(_("Total"), d["activities_total"]),
        ]),
    ]  # fmt: skip
    return sections

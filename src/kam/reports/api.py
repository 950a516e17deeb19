"""The reports API (/api/v1): thin — parse, call a service or selector, answer."""

from django.http import FileResponse
from ninja import Query, Router
from ninja.pagination import PageNumberPagination, paginate

from kam.reports import exports, selectors, services
from kam.reports import schemas as s

router = Router(tags=["reports"])


@router.get("/reports/weekly", response=list[s.WeeklyReportOut], operation_id="list_weekly_reports")
@paginate(PageNumberPagination)
def list_weekly_reports(request, filters: Query[s.WeeklyReportFilters]):
    """Weekly sales reports (GOV-8) of the people whose figures you may see, newest week first. Filter by
    `manager` (a user id) and `week` (any day of the week)."""
    return selectors.weekly_report_list(request.auth, **filters.dict())


@router.post("/reports/weekly/generate", response=s.WeeklyReportGenerateOut, operation_id="generate_weekly_reports")
def generate_weekly_reports(request, payload: s.WeeklyReportGenerateIn):
    """Generate now (KA heads and administrators): the reports of the week starting `week_start` (a Monday, not
    in the future) for the KA managers in your scope. Idempotent: a week already reported after it ended is
    kept; a report of a week still running is refreshed."""
    reports = services.weekly_reports_generate(week_start=payload.week_start, actor=request.auth)
    return {"week_start": payload.week_start, "reports": reports}


@router.get("/reports/weekly/{report_id}", response=s.WeeklyReportOut, operation_id="get_weekly_report")
def get_weekly_report(request, report_id: int):
    """One weekly report with its figures as they were generated."""
    return selectors.get_weekly_report_for_user(request.auth, report_id)


@router.get("/reports/weekly/{report_id}/xlsx", response={200: None}, operation_id="export_weekly_report")
def export_weekly_report(request, report_id: int):
    """The weekly report as an xlsx file (Chinese file name, RFC 5987); the download is audited."""
    report = selectors.get_weekly_report_for_user(request.auth, report_id)
    return FileResponse(exports.weekly_report_xlsx(report, actor=request.auth), as_attachment=True,
                        filename=exports.weekly_report_filename(report), content_type=exports.XLSX_TYPE)  # fmt: skip

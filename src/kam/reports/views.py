"""Pages of reports: the weekly sales statistics reports (GOV-8). Thin: parse, fetch through selectors, call a
service, render."""

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kam.core import scopes
from kam.reports import exports, selectors, services


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip()) if value else None
    except ValueError:
        return None


def may_generate(user) -> bool:
    return user.is_active and user.role in scopes.SCOPE_EDITORS


@require_GET
@login_required
def weekly_report_list(request):
    """The history of weekly reports in the user's scope, filtered by manager and week."""
    manager = request.GET.get("manager", "")
    manager = int(manager) if manager.isdigit() else None
    week = _date(request.GET.get("week"))
    reports = selectors.weekly_report_list(request.user, manager=manager, week=week)
    page = Paginator(reports, 50).get_page(request.GET.get("page"))
    last_monday = selectors.monday_of(timezone.localdate()) - timedelta(days=7)
    context = {
        "page": page,
        "manager": manager,
        "week": week,
        "managers": services.report_managers(request.user) if request.user.is_active else [],
        "may_generate": may_generate(request.user),
        "last_monday": last_monday,
    }
    return render(request, "reports/weekly_report_list.html", context)


@require_GET
@login_required
def weekly_report_detail(request, pk):
    report = selectors.get_weekly_report_for_user(request.user, pk)
    return render(request, "reports/weekly_report_detail.html",
                  {"report": report, "sections": selectors.weekly_report_sections(report)})  # fmt: skip


@require_GET
@login_required
def weekly_report_xlsx(request, pk):
    report = selectors.get_weekly_report_for_user(request.user, pk)
    return FileResponse(exports.weekly_report_xlsx(report, actor=request.user), as_attachment=True,
                        filename=exports.weekly_report_filename(report), content_type=exports.XLSX_TYPE)  # fmt: skip


@require_POST
@login_required
def weekly_report_generate(request):
    """Generate now (KA heads, administrators): the chosen week's reports for the managers in scope."""
    if not may_generate(request.user):
        raise PermissionDenied
    week_start = _date(request.POST.get("week_start"))
    try:
        reports = services.weekly_reports_generate(week_start=week_start, actor=request.user)
    except ValidationError as e:
        for message in e.messages:
            messages.error(request, message)
        return redirect("weekly_report_list")
    messages.success(request, _("%(n)d weekly reports are ready.") % {"n": len(reports)})
    return redirect(f"{reverse('weekly_report_list')}?week={week_start.isoformat()}")

"""The weekly report (GOV-8) as an xlsx workbook, for the page and the API alike."""

import io
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from kam.core import audit
from kam.core.models import AuditAction
from kam.reports.models import WeeklyReport
from kam.reports.selectors import weekly_report_sections

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def weekly_report_filename(report: WeeklyReport) -> str:
    """周报_李娜_2026-11-16.xlsx in Chinese (sent with an RFC 5987 Content-Disposition by FileResponse)."""
    return f"{_('weekly report')}_{report.manager}_{report.week_start.isoformat()}.xlsx"


def weekly_report_xlsx(report: WeeklyReport, *, actor) -> io.BytesIO:
    """One sheet: the report's title, then each section's figures (numbers as numbers, money with thousand
    separators). The download is written to the audit trail, as every export is."""
    book = Workbook()
    sheet = book.active
    sheet.title = _("weekly report")[:31]
    bold = Font(bold=True)
    sheet.append([_("Weekly report of %(manager)s") % {"manager": report.manager}])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([_("Week"), f"{report.data['week_start']} – {report.data['week_end']}"])
    sheet.append([_("Generated at"), timezone.localtime(report.generated_at).strftime("%Y-%m-%d %H:%M")])
    for title, lines in weekly_report_sections(report):
        sheet.append([])
        sheet.append([title])
        sheet.cell(row=sheet.max_row, column=1).font = bold
        for line in lines:
            sheet.append([line.label, line.value])
            cell = sheet.cell(row=sheet.max_row, column=2)
            if isinstance(line.value, Decimal):
                cell.number_format = "#,##0.00" if line.money else "0.0"
    sheet.column_dimensions["A"].width = 36
    sheet.column_dimensions["B"].width = 22
    target = io.BytesIO()
    book.save(target)
    target.seek(0)
    audit.record(actor=actor, action=AuditAction.EXPORT, target=report, extra={"format": "xlsx"})
    return target

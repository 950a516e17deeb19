"""Scheduled work of reports: the weekly sales statistics reports (GOV-8).

Cron times are in settings.TIME_ZONE (Asia/Shanghai by default). Each tick runs once (kam.core.jobs), and
the service keeps one report per manager and week and sends each supervisor's reminder once.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from kam.core.jobs import scheduled
from kam.reports import services


@scheduled(name="reports.weekly_reports", cron="30 6 * * 1")
def weekly_reports(tick: datetime) -> None:
    """Mondays 06:30: last week's report (Monday to Sunday) for every active KA manager, into their supervisors'
    inbox before the working day starts. The week is the tick's, not the clock's: a run delayed by a day still
    reports the week it was meant for."""
    today = timezone.localdate(tick)
    services.weekly_reports_generate(week_start=today - timedelta(days=today.weekday() + 7))

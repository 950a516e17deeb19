"""Scheduled work of sales: the statistical forecast each night and the forecast snapshots each month
(PIPE-4, ANA-2).

Cron times are in settings.TIME_ZONE. Each tick runs once (kam.core.jobs.run_once); the snapshot service is
itself idempotent per day, and the recompute replaces all its rows, so a repeated run changes nothing.
"""

from datetime import datetime

from django.utils import timezone

from kam.core.jobs import scheduled
from kam.sales import services


@scheduled(name="sales.statistical_forecasts", cron="30 2 * * *")
def statistical_forecasts(tick: datetime) -> None:
    """02:30: every account's statistical forecast and back-test, from the monthly sales aggregates."""
    services.statistical_forecasts_recompute(today=timezone.localdate(tick))


@scheduled(name="sales.forecast_snapshots", cron="0 6 1 * *")
def forecast_snapshots(tick: datetime) -> None:
    """The 1st of each month, 06:00 (after the night's statistical forecast): each manager's forecast of this
    month and the next two as it stands, kept to measure its accuracy once the month is over."""
    services.forecast_snapshots_take(today=timezone.localdate(tick))

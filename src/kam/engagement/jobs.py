"""Scheduled work of engagement: the morning's reminders (ENG-3, ENG-2) and the weekly cadence review.

Cron times are in settings.TIME_ZONE (Asia/Shanghai by default). Each tick runs once (kam.core.jobs),
and the services are themselves once per day / week and once per reminder key.
"""

from datetime import datetime

from django.utils import timezone

from kam.core.jobs import scheduled
from kam.engagement import services


@scheduled(name="engagement.daily_reminders", cron="30 7 * * *")
def daily_reminders(tick: datetime) -> None:
    """07:30: birthdays ahead, tasks due today and accounts out of cadence into each user's inbox.
    The day is the tick's, not the clock's: a run delayed past midnight still does its own day."""
    services.reminders_for_day(day=timezone.localdate(tick))


@scheduled(name="engagement.weekly_cadence_review", cron="0 8 * * 1")
def weekly_cadence_review(tick: datetime) -> None:
    """Mondays 08:00: each KA head's summary of the accounts out of cadence in their department."""
    services.cadence_review_for_week(day=timezone.localdate(tick))

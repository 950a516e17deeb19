"""Scheduled work of engagement: the morning's reminders (ENG-3, ENG-2) and the weekly cadence review.

Cron times are in settings.TIME_ZONE (Asia/Shanghai by default). Each tick runs once (kam.core.jobs),
and the services are themselves once per day / week and once per reminder key.
"""

from datetime import datetime

from django.utils import timezone

from kam.core.jobs import enqueue, scheduled
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


# Sending goes through queued jobs, outside the tick's transaction: each reminder is claimed with its
# own committed UPDATE before its channel is called, so a retried or duplicated job never sends twice.


@scheduled(name="engagement.timed_reminders", cron="*/5 * * * *")
def timed_reminders(tick: datetime) -> None:
    """Every five minutes: call-backs and tasks whose reminder time has come, then every new reminder
    out through the channel its user chose (those who want one digest get it at 07:45)."""
    services.timed_reminders(now=tick)
    enqueue("kam.engagement.jobs.deliver_reminders")


def deliver_reminders() -> int:
    return services.reminders_deliver(now=timezone.now())


@scheduled(name="engagement.reminder_digest", cron="45 7 * * *")
def reminder_digest(tick: datetime) -> None:
    """07:45, after the morning's reminders: one message with the day's reminders for each digest user."""
    enqueue("kam.engagement.jobs.deliver_digests")


def deliver_digests() -> int:
    return services.reminders_digest(now=timezone.now())

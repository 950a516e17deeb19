"""Background work (issue 4): queueing jobs, doing their effects exactly once, and the schedules.

The queue is django-q2's, in the database by default (see Q_CLUSTER in settings), run by `kam worker`.
Its delivery is AT LEAST once: a worker leases a job, and deletes it only after its result is saved,
so a job whose worker was killed runs again when the lease ends. A job therefore does its effect
through `run_once(key, …)`: the claim of the key and the effect are ONE transaction. Two deliveries
of one job race for the key's unique row — on PostgreSQL the second waits on the index until the
first commits and then finds the key taken; on SQLite `BEGIN IMMEDIATE` makes them take turns — and
a worker killed halfway leaves nothing behind, since its transaction (claim included) rolls back and
the next delivery does the work. So nothing is ever done twice and a crash never blocks a key. The
price: the effect must be a database write that fits in one transaction (on SQLite it holds the write
lock meanwhile); an effect outside the database (an SMS) keeps its own state in a table and uses
the claim for the state change.

Schedules are declared in code, each app in its own `jobs.py`:

    @scheduled(name="engagement.birthday_reminders", cron="0 8 * * *")
    def birthday_reminders() -> None:
        services.reminders_create_birthdays(...)

`kam migrate` writes them into django-q's schedule table (`schedules_sync`). The scheduler advances
a schedule in the same locked transaction that queues its job, so a tick is queued once; the job
gets the tick (`tick=` its intended time) and runs its body once per `name@tick` claim.
"""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter
from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django_q.models import Failure, Schedule
from django_q.tasks import async_task

from kam.core.db import analyze
from kam.core.models import JobClaim

SCHEDULE_PREFIX = "kam:"  # names of the schedules declared in code; others (made in the admin) are left alone
TICK_KWARG = "tick"  # django-q passes the tick's intended time to the job under this name
_SYNC_LOCK = 4_410_001  # PostgreSQL advisory lock: one schedules_sync at a time


@dataclass(frozen=True)
class ScheduledJob:
    """A job run on a cron schedule (in settings.TIME_ZONE), declared in code."""

    name: str
    func: str
    cron: str


SCHEDULES: dict[str, ScheduledJob] = {}


def run_once(key: str, effect: Callable, *args, **kwargs) -> bool:
    """Do `effect(*args, **kwargs)` unless the key's effect is done; True if it ran now.

    The claim and the effect commit together or not at all; see the module docstring.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                JobClaim.objects.create(key=key)
        except IntegrityError:
            return False
        effect(*args, **kwargs)
    return True


def enqueue(func: str, *args, **kwargs) -> None:
    """Queue a job (a dotted path) for the worker, for a transaction that commits only.

    With the database queue the job's row is written inside the caller's transaction, so the job
    exists exactly when the business change it follows does; Redis is outside the transaction, so
    the job is sent after the commit.
    """
    if settings.Q_CLUSTER.get("orm"):
        async_task(func, *args, **kwargs)
    else:
        transaction.on_commit(functools.partial(async_task, func, *args, **kwargs))


def scheduled(*, name: str, cron: str):
    """Declare the decorated function a scheduled job; its body runs once per tick."""
    if not croniter.is_valid(cron):
        raise ValueError(f"schedule {name}: invalid cron expression {cron!r}")

    def decorate(func: Callable[..., object]):
        # A body that takes `tick` gets the tick's intended time (an aware datetime): a job that ran
        # late (a worker was down past midnight) still works on the day it was meant for.
        takes_tick = TICK_KWARG in inspect.signature(func).parameters

        @functools.wraps(func)
        def run_tick(*, tick: str) -> bool:  # the keyword is TICK_KWARG
            arguments = {TICK_KWARG: datetime.fromisoformat(tick)} if takes_tick else {}
            return run_once(f"{name}@{tick}", func, **arguments)

        SCHEDULES[name] = ScheduledJob(name=name, func=f"{func.__module__}.{func.__qualname__}", cron=cron)
        return run_tick

    return decorate


def schedules_sync() -> dict[str, list[str]]:
    """Make django-q's schedule table match the schedules declared in code; idempotent.

    Creates the missing ones, updates changed ones, removes ours that are no longer declared (and
    duplicates); schedules made by hand in the admin are not touched.
    """
    autodiscover_modules("jobs")
    declared = {f"{SCHEDULE_PREFIX}{job.name}": job for job in SCHEDULES.values()}
    changes: dict[str, list[str]] = {"created": [], "updated": [], "removed": []}
    with transaction.atomic(using=router.db_for_write(Schedule)):
        _lock_for_sync()
        existing: dict[str, Schedule] = {}
        for schedule in Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).order_by("pk"):
            if schedule.name in declared and schedule.name not in existing:
                existing[schedule.name] = schedule
            else:
                schedule.delete()
                changes["removed"].append(schedule.name)
        for name, job in declared.items():
            wanted = {
                "func": job.func,
                "schedule_type": Schedule.CRON,
                "cron": job.cron,
                "intended_date_kwarg": TICK_KWARG,
                "repeats": -1,
                "args": None,
                "kwargs": None,
                "hook": None,
                "cluster": None,
            }
            schedule = existing.get(name)
            if schedule is None:
                Schedule(name=name, **wanted).save()  # a new cron schedule computes its next run
                changes["created"].append(name)
                continue
            if all(getattr(schedule, field) == value for field, value in wanted.items()):
                continue
            cron_changed = schedule.cron != job.cron or schedule.schedule_type != Schedule.CRON
            for field, value in wanted.items():
                setattr(schedule, field, value)
            if cron_changed:
                schedule.next_run = schedule.calculate_next_run()
            schedule.save()
            changes["updated"].append(name)
    return changes


def _lock_for_sync() -> None:
    """Two syncs at once (two servers migrating) must not both create a schedule.

    SQLite's BEGIN IMMEDIATE already lets one writer in at a time; PostgreSQL takes an advisory lock
    held until the transaction ends.
    """
    connection = connections[router.db_for_write(Schedule)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SYNC_LOCK])


@scheduled(name="core.planner_statistics", cron="0 3 * * *")
def refresh_planner_statistics() -> None:
    """Nightly: fresh planner statistics (SQLite keeps the ones of its last ANALYZE, however stale)."""
    analyze()


@scheduled(name="core.prune_job_history", cron="30 3 * * *")
def prune_job_history() -> None:
    """Nightly: forget claims and failed jobs older than KAM_JOB_HISTORY_DAYS (successes are capped
    by count, failures are kept until this runs). A claim that old guards nothing: its job's
    deliveries ended long ago."""
    cutoff = timezone.now() - timedelta(days=settings.JOB_HISTORY_DAYS)
    JobClaim.objects.filter(claimed_at__lt=cutoff).delete()
    Failure.objects.filter(stopped__lt=cutoff).delete()

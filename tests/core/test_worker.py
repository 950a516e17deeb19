"""The background worker (issue 4 worker): real `kam worker` processes on the test database.

The worker runs in subprocesses, so the test database must be one they can open: on SQLite the
settings make the test database a file (TEST NAME, one per test process) instead of Django's
in-memory default, and on PostgreSQL it is the server's test database. The subprocesses get its
address as KAM_DATABASE_URL, the test run's secret key (queued jobs are signed with it), short job
leases (KAM_JOB_TIMEOUT / KAM_JOB_RETRY) so a killed worker's job comes back within seconds, and
this directory on PYTHONPATH so they can import the jobs defined below. The tests use
`transaction=True`: a worker only sees what is committed.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Success, Task
from django_q.tasks import async_task

from kam.core import jobs
from kam.core.jobs import SCHEDULE_PREFIX, TICK_KWARG, ScheduledJob, enqueue, run_once, schedules_sync
from kam.core.models import AuditAction, AuditEvent, JobClaim

REPO = Path(__file__).resolve().parents[2]
EFFECT = "worker-test-effect"  # AuditEvent.target_type of the effects the test jobs make
RUN = "worker-test-run"  # ... and of the runs of a job that does not claim anything
DEADLINE_SECONDS = 30


# Jobs the worker subprocesses run (imported there as tests.core.test_worker.*).


def _effect(key: str) -> None:
    AuditEvent.objects.create(action=AuditAction.UPDATE, target_type=EFFECT, target_id=key)


def record_effect(key: str) -> bool:
    return run_once(key, _effect, key)


def record_tick(*, tick: str) -> bool:
    return run_once(f"test.tick@{tick}", _effect, f"tick@{tick}")


def record_run(n: int) -> None:
    AuditEvent.objects.create(action=AuditAction.UPDATE, target_type=RUN, target_id=str(n))


def record_effect_then_hold(key: str, hold: str, started: str) -> bool:
    """Make the effect, say so (a file: outside the transaction), then wait inside the transaction
    while the `hold` file exists — long enough for the test to kill the worker."""

    def effect():
        _effect(key)
        Path(started, f"{os.getpid()}-{time.monotonic_ns()}").touch()
        give_up = time.monotonic() + DEADLINE_SECONDS
        while Path(hold).exists() and time.monotonic() < give_up:
            time.sleep(0.05)

    return run_once(key, effect)


# Helpers


def effects(key_prefix: str = "") -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type=EFFECT, target_id__startswith=key_prefix).values_list(
            "target_id", flat=True
        )
    )


def wait_until(condition, what: str, workers=()) -> None:
    give_up = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        for worker in workers:
            assert worker.poll() is None, f"a worker ended early (status {worker.returncode}) waiting for {what}"
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(0.1)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user, password = quote(db["USER"], safe=""), quote(db["PASSWORD"] or "", safe="")
    return f"postgresql://{user}:{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start `kam worker` processes on the test database; stop what is left of them at the end
    (before the test database is emptied, which is why this asks for transactional_db)."""
    env = {
        **os.environ,
        "KAM_DATABASE_URL": _database_url(),
        "KAM_SECRET_KEY": settings.SECRET_KEY,
        "KAM_DATA_DIR": str(settings.DATA_DIR),
        "KAM_WORKER_PROCESSES": "2",
        "KAM_JOB_TIMEOUT": "5",
        "KAM_JOB_RETRY": "6",
        "KAM_WORKER_POLL_SECONDS": "0.1",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    started = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")  # noqa: SIM115 - closed at teardown
        worker = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "kam.cli", "worker"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the cluster's processes are killed with it
        )  # fmt: skip
        started.append((worker, log))
        return worker

    yield start
    for worker, _log in started:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker, log in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=15)
        kill_group(worker)
        log.close()


def kill_group(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and every process of its group, and wait until all are gone: a cluster process
    still dying keeps its database session, and the test database could not be dropped at the end."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 10
    while _running_in_group(worker.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _running_in_group(pgid: int) -> bool:
    """Is any process of the group still running? (A zombie has closed its sockets: it does not count.)"""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state not in "ZX":
                return True
    return False


def test_worker_runs_a_queued_job_and_stops_cleanly_on_sigterm(start_worker):
    task_id = async_task("tests.core.test_worker.record_effect", "queued-1")
    worker = start_worker()
    wait_until(lambda: Success.objects.filter(id=task_id).exists(), "the job to succeed", [worker])
    assert effects("queued-") == ["queued-1"]
    assert not OrmQ.objects.exists()  # acknowledged: gone from the queue
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=DEADLINE_SECONDS) == 0


def test_worker_two_workers_never_run_a_job_or_a_scheduled_tick_twice(start_worker):
    due = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    for n in range(3):
        Schedule.objects.create(
            name=f"test-tick-{n}", func="tests.core.test_worker.record_tick", schedule_type=Schedule.DAILY,
            next_run=due + timedelta(minutes=n), intended_date_kwarg=TICK_KWARG,
        )  # fmt: skip
    first_tick = Schedule.objects.get(name="test-tick-0").next_run.isoformat()
    for _ in range(2):  # the first tick delivered twice more, as a redelivery would
        async_task("tests.core.test_worker.record_tick", tick=first_tick)
    for n in range(10):
        async_task("tests.core.test_worker.record_run", n)

    # Both start at once; each queues the due schedules when it starts, racing for them.
    workers = [start_worker(), start_worker()]
    wait_until(lambda: Success.objects.count() == 3 + 2 + 10, "all jobs to succeed", workers)

    for n in range(3):  # each schedule queued one job for its tick, and moved on to tomorrow
        assert Task.objects.filter(group=f"test-tick-{n}").count() == 1
        assert Schedule.objects.get(name=f"test-tick-{n}").next_run > timezone.now()
    ticks = [f"tick@{(due + timedelta(minutes=n)).isoformat()}" for n in range(3)]
    assert sorted(effects("tick@")) == sorted(ticks)
    assert JobClaim.objects.filter(key__startswith="test.tick@").count() == 3
    runs = AuditEvent.objects.filter(target_type=RUN).values_list("target_id", flat=True)
    assert sorted(runs, key=int) == [str(n) for n in range(10)]
    assert not OrmQ.objects.exists()


def test_worker_killed_mid_job_and_restarted_makes_the_effect_exactly_once(start_worker, tmp_path):
    hold, started = tmp_path / "hold", tmp_path / "started"
    hold.touch()
    started.mkdir()
    task_id = async_task("tests.core.test_worker.record_effect_then_hold", "killed-1", str(hold), str(started))
    first = start_worker()
    wait_until(lambda: any(started.iterdir()), "the job to be inside its transaction", [first])
    kill_group(first)  # SIGKILL to the whole cluster, mid-transaction
    hold.unlink()
    assert effects("killed-") == []  # the killed run's claim and effect rolled back together
    assert not JobClaim.objects.filter(key="killed-1").exists()

    second = start_worker()  # the job's lease runs out (KAM_JOB_RETRY) and it is delivered again
    wait_until(lambda: Success.objects.filter(id=task_id).exists(), "the job to succeed again", [second])
    assert len(list(started.iterdir())) == 2  # it ran twice ...
    assert effects("killed-") == ["killed-1"]  # ... and its effect happened once
    assert JobClaim.objects.filter(key="killed-1").count() == 1
    assert not OrmQ.objects.exists()


def test_worker_schedule_sync_is_idempotent_and_leaves_hand_made_schedules_alone(db, monkeypatch):
    Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).delete()
    Schedule.objects.create(name="made in the admin", func="kam.core.jobs.prune_job_history", schedule_type="D")
    Schedule.objects.create(name="kam:core.planner_statistics", func="old.path", schedule_type="D")
    Schedule.objects.create(name="kam:core.planner_statistics", func="old.path", schedule_type="D")  # a duplicate

    assert _core(schedules_sync()) == {
        "created": ["kam:core.prune_job_history"],
        "updated": ["kam:core.planner_statistics"],
        "removed": ["kam:core.planner_statistics"],
    }
    nightly = Schedule.objects.get(name="kam:core.planner_statistics")
    assert nightly.func == "kam.core.jobs.refresh_planner_statistics" and nightly.intended_date_kwarg == TICK_KWARG
    local = nightly.next_run.astimezone(ZoneInfo(settings.TIME_ZONE))
    assert (local.hour, local.minute) == (3, 0) and nightly.next_run > timezone.now()
    rows = sorted(Schedule.objects.values_list("name", "func", "cron", "next_run", "intended_date_kwarg"))
    assert schedules_sync() == {"created": [], "updated": [], "removed": []}
    assert sorted(Schedule.objects.values_list("name", "func", "cron", "next_run", "intended_date_kwarg")) == rows

    # A schedule changed in code is updated, one no longer declared is removed; hand-made ones stay.
    monkeypatch.setitem(jobs.SCHEDULES, "core.planner_statistics", ScheduledJob(
        name="core.planner_statistics", func="kam.core.jobs.refresh_planner_statistics", cron="0 4 * * *"))  # fmt: skip
    monkeypatch.delitem(jobs.SCHEDULES, "core.prune_job_history")
    assert _core(schedules_sync()) == {"created": [], "updated": ["kam:core.planner_statistics"],
                                       "removed": ["kam:core.prune_job_history"]}  # fmt: skip
    assert (
        Schedule.objects.get(name="kam:core.planner_statistics").next_run.astimezone(ZoneInfo(settings.TIME_ZONE)).hour
        == 4
    )
    assert Schedule.objects.filter(name="made in the admin").exists()
    assert schedules_sync() == {"created": [], "updated": [], "removed": []}


def test_worker_scheduled_job_does_its_work_once_per_tick(db, monkeypatch):
    runs = []
    monkeypatch.setattr(jobs, "analyze", lambda: runs.append(1))
    assert jobs.refresh_planner_statistics(tick="2026-05-01T19:00:00+00:00") is True
    assert jobs.refresh_planner_statistics(tick="2026-05-01T19:00:00+00:00") is False
    assert jobs.refresh_planner_statistics(tick="2026-05-02T19:00:00+00:00") is True
    assert len(runs) == 2
    assert JobClaim.objects.filter(key__startswith="core.planner_statistics@").count() == 2


def test_worker_job_queued_in_a_rolled_back_transaction_never_exists(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("tests.core.test_worker.record_effect", "never")
        assert OrmQ.objects.count() == 1
        raise RuntimeError("the business change failed")
    assert not OrmQ.objects.exists()


def test_worker_history_older_than_the_limit_is_pruned(db, settings):
    old = timezone.now() - timedelta(days=settings.JOB_HISTORY_DAYS + 1)
    JobClaim.objects.create(key="old", claimed_at=old)
    JobClaim.objects.create(key="recent")
    Task.objects.create(id="f-old", name="f-old", func="x", started=old, stopped=old, success=False)
    Task.objects.create(
        id="f-new", name="f-new", func="x", started=timezone.now(), stopped=timezone.now(), success=False
    )
    assert jobs.prune_job_history(tick="2026-05-01T19:30:00+00:00") is True
    assert set(JobClaim.objects.values_list("key", flat=True)) == {
        "recent",
        "core.prune_job_history@2026-05-01T19:30:00+00:00",
    }
    assert list(Task.objects.values_list("id", flat=True)) == ["f-new"]


def test_worker_pages_in_the_admin_for_the_admin_role(people, page_client):
    schedules_sync()
    client = page_client(people.admin)
    for model in ["success", "failure", "schedule", "ormq", "jobclaim"]:
        app = "core" if model == "jobclaim" else "django_q"
        assert client.get(f"/admin/{app}/{model}/").status_code == 200, model
    nightly = Schedule.objects.get(name="kam:core.planner_statistics")
    page = client.get(f"/admin/django_q/schedule/{nightly.pk}/change/")
    assert page.status_code == 200 and b'name="func"' not in page.content  # read-only: declared in code
    assert client.post(f"/admin/django_q/schedule/{nightly.pk}/delete/", {"post": "yes"}).status_code == 403
    assert page_client(people.manager).get("/admin/django_q/success/").status_code == 302  # to the admin login


def _core(changes: dict) -> dict:
    """The sync's changes to core's own schedules (other apps declare theirs too)."""
    return {
        kind: [name for name in names if name.startswith(f"{SCHEDULE_PREFIX}core.")] for kind, names in changes.items()
    }

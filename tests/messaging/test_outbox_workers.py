"""Never sent twice with real `kam worker` processes (MSG-1: "a worker killed mid-batch and restarted sends
each message exactly once", on PostgreSQL with two workers as well as on SQLite).

The SMS provider is the local Tencent Cloud stand-in of test_channels (it checks the TC3 signature) run
in this test process; it counts the numbers it receives and holds the first request open, so the test
can SIGKILL the worker that made it while the provider has the numbers but the worker has not recorded
the answer: the worst moment. The workers are subprocesses on the test database (see
tests/core/test_worker.py for how), configured for the stand-in through the KAM_TENCENT_SMS_* variables.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from django_q.models import OrmQ

from kam.messaging import jobs, services
from kam.messaging.models import Message, MessageStatus
from tests.core.test_worker import REPO, _database_url, kill_group
from tests.messaging.test_channels import FakeTencent, Provider

DEADLINE_SECONDS = 90
CONTACTS = 60
CHUNK = 10  # messages per send job (KAM["MESSAGE_JOB_CHUNK"]); one Tencent SendSms each


class CountingTencent(FakeTencent):
    """The Tencent stand-in, counting each number it accepts; the first request is held until released."""

    def __init__(self):
        super().__init__()
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.release = threading.Event()
        self.held_numbers: list[str] = []

    def __call__(self, request):
        status, reply = super().__call__(request)
        if "SendStatusSet" not in reply.get("Response", {}):
            return status, reply
        numbers = request.json()["PhoneNumberSet"]
        with self.lock:
            self.received.update(numbers)
            first = not self.held.is_set()
            if first:
                self.held_numbers = list(numbers)
                self.held.set()
        if first:
            self.release.wait(DEADLINE_SECONDS)
        return status, reply


def wait_until(condition, what: str) -> None:
    give_up = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def tencent_stand_in():
    fake = CountingTencent()
    server = Provider(fake)
    yield fake, server
    fake.release.set()
    server.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path, tencent_stand_in):
    """`kam worker` subprocesses (one process each, so a held request blocks its worker entirely)."""
    fake, server = tencent_stand_in
    env = {
        **os.environ,
        "KAM_DATABASE_URL": _database_url(),
        "KAM_SECRET_KEY": settings.SECRET_KEY,
        "KAM_DATA_DIR": str(settings.DATA_DIR),
        "KAM_WORKER_PROCESSES": "1",
        "KAM_JOB_TIMEOUT": "5",
        "KAM_JOB_RETRY": "6",
        "KAM_WORKER_POLL_SECONDS": "0.1",
        "KAM_TENCENT_SMS_SECRET_ID": fake.secret_id,
        "KAM_TENCENT_SMS_SECRET_KEY": fake.secret_key,
        "KAM_TENCENT_SMS_APP_ID": fake.app_id,
        "KAM_TENCENT_SMS_ENDPOINT": server.url + "/",
        "KAM_TENCENT_SMS_SIGN_NAME": "华东大客户部",
        "KAM_MESSAGING_TIMEOUT": "60",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    started = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")  # noqa: SIM115 - closed at teardown
        worker = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "kam.cli", "worker"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        started.append((worker, log))
        return worker

    yield start
    fake.release.set()
    for worker, _log in started:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker, log in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=15)
        kill_group(worker)
        log.close()


def test_msg1_worker_killed_mid_batch_and_restarted_sends_each_message_exactly_once(
    people, make_account, make_contact, tencent_stand_in, start_worker
):
    """MSG-1: a bulk SMS of 60 in 6 jobs; worker A is SIGKILLed while its first SendSms is at the provider,
    worker B works meanwhile, A is restarted: every number reaches the provider exactly once; the 10 of the
    killed request stay `sending` (never resent) and become failed/unknown after the timeout."""
    fake, _server = tencent_stand_in
    account = make_account(people.manager, name="深圳群发测试有限公司")
    contacts = [make_contact(account, name=f"客户{i}", mobile=f"1371234{i:04d}") for i in range(CONTACTS)]
    template = services.template_create(actor=people.head, fields={
        "name": "新品", "channel": "tencent_sms", "body": "", "provider_template_code": "1110",
        "provider_params": {"1": "{account.name}"}})  # fmt: skip
    with override_settings(KAM={"QUIET_HOURS": ("00:00", "00:00"), "MESSAGE_JOB_CHUNK": CHUNK}):
        batch = services.message_send_bulk(actor=people.manager, channel="tencent_sms",
                                           contact_ids=[c.pk for c in contacts], template=template)  # fmt: skip
    assert (batch.queued, OrmQ.objects.count()) == (CONTACTS, CONTACTS // CHUNK)
    numbers = {f"+861371234{i:04d}" for i in range(CONTACTS)}

    first = start_worker()
    wait_until(fake.held.is_set, "the first SendSms to reach the provider")
    second = start_worker()  # the second worker takes other jobs while the first hangs in its request
    kill_group(first)  # SIGKILL mid-batch: the provider has the numbers, the outbox has no answer
    fake.release.set()
    restarted = start_worker()

    held = set(fake.held_numbers)
    assert len(held) == CHUNK

    def done() -> bool:
        assert second.poll() is None and restarted.poll() is None, "a worker ended early"
        return (
            not OrmQ.objects.exists() and Message.objects.filter(status=MessageStatus.SENT).count() == CONTACTS - CHUNK
        )

    wait_until(done, "every job to be done (the killed one redelivered after its lease)")
    assert set(fake.received) == numbers
    assert set(fake.received.values()) == {1}  # nobody got the SMS twice
    statuses = dict(Message.objects.filter(batch=batch).values_list("recipient", "status"))
    assert {n for n, s in statuses.items() if s == MessageStatus.SENDING} == held
    assert {n for n, s in statuses.items() if s == MessageStatus.SENT} == numbers - held

    # Later the stuck ones are given up as "unknown", never resent.
    assert jobs.recover_stuck(now=timezone.now() + timedelta(minutes=11)) == CHUNK
    assert jobs.send_due() == 0
    assert set(Message.objects.filter(recipient__in=held).values_list("status", "provider_code")) == {
        ("failed", "unknown")
    }
    assert sum(fake.received.values()) == CONTACTS

"""Provider rate limits shared by every worker (MSG-3 "the provider's rate limits respected by the outbox").

The limit lives in one ChannelThrottle row per channel; a request is allowed by ONE conditional
UPDATE of it, so workers in threads, processes or on other machines never exceed it together.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from kam.messaging import config, jobs, services
from kam.messaging.channels.aliyun_sms import AliyunSmsChannel
from kam.messaging.channels.base import Channel, RateLimit, SendResult
from kam.messaging.channels.email import EmailChannel
from kam.messaging.channels.robots import DingTalkRobotChannel, FeishuRobotChannel
from kam.messaging.models import ChannelThrottle, Message, MessageStatus

# 10:00:00 in Shanghai (02:00 UTC): outside the quiet hours, at the start of a second and of a minute.
DAYTIME = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class OneByOne(Channel):
    """A provider stand-in that takes one message per request and records each request."""

    name = "log"

    def __init__(self):
        self.requests: list[list[str]] = []
        self.lock = threading.Lock()

    def _send(self, message):
        with self.lock:
            self.requests.append([message.reference])
        return SendResult.sent(provider_message_id=f"p-{message.reference}", provider_code="OK")


@pytest.fixture
def provider(monkeypatch):
    channel = OneByOne()
    monkeypatch.setitem(config.FACTORIES, "log", lambda: channel)
    return channel


@pytest.fixture
def seven(people, make_account, make_contact):
    account = make_account(people.manager, name="上海限流测试有限公司")
    return [make_contact(account, name=f"联系人{i}", mobile=f"1381234{i:04d}") for i in range(7)]


def _queue(people, contacts) -> list[int]:
    batch = services.message_send_bulk(actor=people.manager, channel="log", contact_ids=[c.pk for c in contacts],
                                       text="您好")  # fmt: skip
    return list(Message.objects.filter(batch=batch).order_by("pk").values_list("pk", flat=True))


LIMIT_3_PER_SECOND = {"MESSAGING_RATE_LIMITS": {"log": "3/1"}, "MESSAGE_THROTTLE_WAIT_SECONDS": 0}


@override_settings(KAM=LIMIT_3_PER_SECOND)
def test_msg3_only_the_limit_is_sent_in_a_window_the_rest_waits_for_the_next(people, seven, provider):
    """MSG-3: 7 messages, 3 a second: 3 now, 3 in the next second, 1 in the one after; no attempt is lost."""
    with time_machine.travel(DAYTIME, tick=False) as clock:
        ids = _queue(people, seven)
        assert jobs.send_due() == 3
        waiting = Message.objects.filter(status=MessageStatus.QUEUED).order_by("pk")
        assert [m.pk for m in waiting] == ids[3:]
        # Deferred, not failed: the next window, and no attempt counted.
        assert {(m.next_attempt_at, m.attempts) for m in waiting} == {(DAYTIME + timedelta(seconds=1), 0)}
        assert jobs.send_due() == 0  # the same second: nothing more
        clock.shift(timedelta(seconds=1))
        assert jobs.send_due() == 3
        clock.shift(timedelta(seconds=1))
        assert jobs.send_due() == 1
    assert [r[0] for r in provider.requests] == [str(pk) for pk in ids]
    assert set(Message.objects.values_list("status", "attempts")) == {("sent", 1)}
    throttle = ChannelThrottle.objects.get(channel="log")
    assert (throttle.window_start, throttle.used) == (DAYTIME + timedelta(seconds=2), 1)


@override_settings(KAM={"MESSAGING_RATE_LIMITS": {"log": "3/1"}, "MESSAGE_THROTTLE_WAIT_SECONDS": 1})
def test_msg3_the_job_waits_for_a_near_window_instead_of_deferring(people, seven, provider, monkeypatch):
    """MSG-3: with a 1-second window the job sleeps until the next window (the clock moves as it sleeps)."""
    with time_machine.travel(DAYTIME + timedelta(milliseconds=400), tick=False) as clock:
        pauses = []

        def sleep(seconds):
            pauses.append(round(seconds, 3))
            clock.shift(timedelta(seconds=seconds))

        monkeypatch.setattr(jobs.time, "sleep", sleep)
        _queue(people, seven)
        assert jobs.send_due() == 7
    assert pauses == [0.6, 1.0]  # to 10:00:01, then to 10:00:02
    assert len(provider.requests) == 7


def test_msg3_throttle_take_counts_within_a_window_and_starts_a_new_one(db):
    """MSG-3: 2 per minute: two requests allowed, the third gets the next minute; the next minute starts at 1."""
    limit = RateLimit(2, 60)
    at = DAYTIME + timedelta(seconds=10)
    assert jobs.throttle_take("dingtalk", limit, now=at) is None  # the row is made on first use
    assert jobs.throttle_take("dingtalk", limit, now=at + timedelta(seconds=5)) is None
    assert jobs.throttle_take("dingtalk", limit, now=at + timedelta(seconds=6)) == DAYTIME + timedelta(minutes=1)
    assert ChannelThrottle.objects.get(channel="dingtalk").used == 2
    assert jobs.throttle_take("dingtalk", limit, now=DAYTIME + timedelta(minutes=1, seconds=1)) is None
    row = ChannelThrottle.objects.get(channel="dingtalk")
    assert (row.window_start, row.used) == (DAYTIME + timedelta(minutes=1), 1)
    # A worker whose clock lags behind (still in the old window) is not allowed to reopen it.
    assert jobs.throttle_take("dingtalk", limit, now=at) == DAYTIME + timedelta(minutes=1)
    # A request costing 2 (SMTP counts messages) does not fit in the 1 left.
    assert jobs.throttle_take("dingtalk", limit, cost=2, now=DAYTIME + timedelta(minutes=1, seconds=2)) is not None
    assert jobs.throttle_take("dingtalk", limit, cost=1, now=DAYTIME + timedelta(minutes=1, seconds=2)) is None


@pytest.mark.django_db(transaction=True)
def test_msg3_two_workers_at_once_never_exceed_the_limit_in_a_window():
    """MSG-3: two threads (each its own database connection) race for 5 requests of one window: 5 win in all."""
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(("file:memory", ":memory:")):
        pytest.skip("threads need a database file")
    limit, now = RateLimit(5, 1), DAYTIME + timedelta(milliseconds=500)
    barrier = threading.Barrier(2)
    allowed: list[int] = []
    errors = []

    def worker(n):
        try:
            barrier.wait()
            for _ in range(20):
                if jobs.throttle_take("aliyun_sms", limit, now=now) is None:
                    allowed.append(n)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(allowed) == 5
    assert ChannelThrottle.objects.get(channel="aliyun_sms").used == 5
    # The next window opens for both again.
    assert jobs.throttle_take("aliyun_sms", limit, now=now + timedelta(seconds=1)) is None


def test_msg3_limits_default_to_the_providers_documented_ones(settings):
    """MSG-3: Alibaba 5000/s, Tencent 3000/s, DingTalk 20/min, Feishu 5/s and 100/min folded to 1/s, e-mail 10/s,
    log unlimited; KAM["MESSAGING_RATE_LIMITS"] overrides (text or dict), 0 lifts a limit."""
    settings.KAM = {}
    aliyun = AliyunSmsChannel(access_key_id="a", access_key_secret="b")
    assert config.rate_limit("aliyun_sms", aliyun) == RateLimit(5000, 1)
    assert config.rate_limit("dingtalk", DingTalkRobotChannel(webhook_url="http://x")) == RateLimit(20, 60)
    assert config.rate_limit("feishu", FeishuRobotChannel(webhook_url="http://x")) == RateLimit(1, 1)
    assert config.rate_limit("email", EmailChannel(host="h", port=25, from_email="a@b.c")) == RateLimit(10, 1)
    mail = EmailChannel(host="h", port=25, from_email="a@b.c", max_per_minute=30)
    assert config.rate_limit("email", mail) == RateLimit(30, 60)
    assert config.rate_limit("log", OneByOne()) is None
    settings.KAM = {"MESSAGING_RATE_LIMITS": "aliyun_sms=500/1, log=100"}
    assert config.rate_limit("aliyun_sms", aliyun) == RateLimit(500, 1)
    assert config.rate_limit("log", OneByOne()) == RateLimit(100, 1)
    settings.KAM = {"MESSAGING_RATE_LIMITS": {"aliyun_sms": 0, "email": (600, 60)}}
    assert config.rate_limit("aliyun_sms", aliyun) is None
    assert config.rate_limit("email", mail) == RateLimit(600, 60)
    settings.KAM = {"MESSAGING_RATE_LIMITS": "aliyun_sms=fast"}
    with pytest.raises(ImproperlyConfigured, match="20/60"):
        config.rate_limit("aliyun_sms", aliyun)


@override_settings(KAM={"MESSAGING_RATE_LIMITS": {"email": "2/60"}, "MESSAGE_THROTTLE_WAIT_SECONDS": 0})
def test_msg3_email_limit_counts_messages_not_smtp_sessions(people, make_account, make_contact, monkeypatch):
    """MSG-3: SMTP providers count messages: with 2 a minute, a batch over one session carries 2, not 50."""
    sessions: list[list[str]] = []

    class Mail(EmailChannel):
        def _send_batch(self, messages):
            sessions.append([m.recipient for m in messages])
            return [SendResult.sent(provider_message_id=m.reference) for m in messages]

    monkeypatch.setitem(config.FACTORIES, "email", lambda: Mail(host="h", port=25, from_email="kam@example.com"))
    account = make_account(people.manager)
    contacts = [make_contact(account, name=f"客户{i}", email=f"c{i}@example.com") for i in range(3)]
    with time_machine.travel(DAYTIME, tick=False) as clock:
        services.message_send_bulk(actor=people.manager, channel="email", contact_ids=[c.pk for c in contacts],
                                   text="您好", subject="问候")  # fmt: skip
        assert jobs.send_due() == 2
        clock.shift(timedelta(minutes=1))
        assert jobs.send_due() == 1
    assert sessions == [["c0@example.com", "c1@example.com"], ["c2@example.com"]]

"""The messaging outbox (MSG-1 send one or many, now or later, replies; MSG-2 templates, consent, opt-out)."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django_q.models import OrmQ

from kam.messaging import api as messaging_api
from kam.messaging import config, jobs, services
from kam.messaging.channels.aliyun_sms import AliyunSmsChannel
from kam.messaging.channels.base import Channel, SendResult
from kam.messaging.channels.tencent_sms import TencentSmsChannel
from kam.messaging.models import Consent, DeliveryEvent, InboundReply, Message, MessageStatus, MessageTemplate
from tests.messaging.test_channels import FakeAliyun, FakeTencent, Provider

SECRET = "test-webhook-secret"  # noqa: S105 - a test value
# 10:00 in Shanghai (02:00 UTC), outside the quiet hours.
DAYTIME = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class CountingChannel(Channel):
    """A provider stand-in: counts what it is asked to send per reference; answers from a script."""

    name = "log"

    def __init__(self, answers=None):
        self.sent: list[str] = []
        self.answers = list(answers or [])
        self.lock = threading.Lock()

    def _send(self, message):
        with self.lock:
            self.sent.append(message.reference)
            if self.answers:
                return self.answers.pop(0)
        return SendResult.sent(provider_message_id=f"p-{message.reference}", provider_code="OK")


@pytest.fixture
def provider(monkeypatch):
    channel = CountingChannel()
    monkeypatch.setitem(config.FACTORIES, "log", lambda: channel)
    return channel


@pytest.fixture
def world(people, make_account, make_contact):
    own = make_account(people.manager, name="上海甲有限公司")
    foreign = make_account(people.outsider, name="广州乙有限公司")
    zhang = make_contact(own, name="张三", mobile="13812345678", email="zhang@example.com")
    li = make_contact(own, name="李四", mobile="13912345678")
    nomobile = make_contact(own, name="王五")
    stranger = make_contact(foreign, name="赵六", mobile="13712345678")
    return type("World", (), {"own": own, "foreign": foreign, "zhang": zhang, "li": li, "nomobile": nomobile,
                              "stranger": stranger, **vars(people)})  # fmt: skip


def _template(actor, **fields):
    return services.template_create(
        actor=actor,
        fields={"name": "问候", "channel": "log", "body": "{contact.name}您好，{account.name}的{user.name}", **fields},
    )


# --- MSG-2 templates ----------------------------------------------------------------------------------------


def test_msg2_template_renders_fields_for_each_recipient(world, provider):
    template = _template(world.head)
    with time_machine.travel(DAYTIME, tick=False):
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", template=template)
    assert message.body == "张三您好，上海甲有限公司的李娜"
    assert message.recipient == "+8613812345678"


def test_msg2_unknown_field_is_a_422_naming_field_and_placeholder(world, api):
    response = api(world.head).post("/message-templates", {"name": "坏", "channel": "log", "body": "{contact.salary}"})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "body"
    assert "{contact.salary}" in error["message"]


def test_msg2_oversized_sms_body_is_a_422(world, api):
    response = api(world.head).post("/message-templates", {"name": "长", "channel": "log", "body": "字" * 501})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_msg2_templates_are_managed_by_the_head_and_versioned(world, api):
    assert (
        api(world.manager).post("/message-templates", {"name": "x", "channel": "log", "body": "hi"}).status_code == 403
    )
    created = api(world.head).post("/message-templates", {"name": "x", "channel": "log", "body": "hi"}).json()
    changed = api(world.head).patch(f"/message-templates/{created['id']}", {"version": 1, "body": "hello"})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = api(world.head).patch(f"/message-templates/{created['id']}", {"version": 1, "body": "again"})
    assert stale.status_code == 409
    assert stale.json()["current"]["body"] == "hello"


# --- MSG-1 sending: consent, addresses, quiet hours, scope -----------------------------------------------------


def test_msg2_opted_out_contact_is_skipped_in_single_and_bulk_sends(world, provider):
    services.consent_set(actor=world.manager, contact=world.zhang, kind="sms", opted_out=True)
    with time_machine.travel(DAYTIME, tick=False):
        single = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="您好")
        batch = services.message_send_bulk(actor=world.manager, channel="log", account_ids=[world.own.pk], text="您好")
        jobs.send_due()
    assert single.status == MessageStatus.SKIPPED and single.provider_code == "opted_out"
    statuses = dict(Message.objects.filter(batch=batch).values_list("contact__name", "status"))
    assert statuses == {"张三": "skipped", "李四": "sent", "王五": "skipped"}
    assert (batch.total, batch.queued, batch.skipped) == (3, 1, 2)
    assert provider.sent == [str(Message.objects.get(batch=batch, contact=world.li).pk)]


def test_msg2_email_consent_is_separate_from_sms(world, provider):
    services.consent_set(actor=world.manager, contact=world.zhang, kind="sms", opted_out=True)
    with time_machine.travel(DAYTIME, tick=False):
        message = services.message_send(
            actor=world.manager, contact=world.zhang, channel="email", text="hi", subject="s"
        )
    assert message.status == MessageStatus.QUEUED


def test_msg1_invalid_address_skips_that_message_not_the_batch(world, provider):
    with time_machine.travel(DAYTIME, tick=False):
        batch = services.message_send_bulk(
            actor=world.manager, channel="log", contact_ids=[world.li.pk, world.nomobile.pk], text="您好"
        )
    skipped = Message.objects.get(batch=batch, contact=world.nomobile)
    assert skipped.status == MessageStatus.SKIPPED and skipped.provider_code == "invalid_address"
    assert skipped.reason


def test_msg1_invalid_phone_from_legacy_data_is_skipped_naming_the_number(world, provider):
    """Bad input: a mobile number that bypassed validation (legacy data) is skipped with its reason."""
    from kam.accounts.models import Contact

    Contact.objects.filter(pk=world.li.pk).update(mobile="1381234")  # too short to be a mobile number
    world.li.refresh_from_db()
    with time_machine.travel(DAYTIME, tick=False):
        message = services.message_send(actor=world.manager, contact=world.li, channel="log", text="您好")
    assert (message.status, message.provider_code) == (MessageStatus.SKIPPED, "invalid_address")
    assert "1381234" in message.reason


def test_msg1_bulk_creates_rows_and_one_job_per_chunk(world, provider):
    before = OrmQ.objects.count()
    with override_settings(KAM={"MESSAGE_JOB_CHUNK": 1}), time_machine.travel(DAYTIME, tick=False):
        services.message_send_bulk(
            actor=world.manager, channel="log", contact_ids=[world.zhang.pk, world.li.pk], text="x"
        )
    assert OrmQ.objects.count() - before == 2


def test_msg1_sms_in_quiet_hours_moves_to_their_end(world, provider):
    late = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    with time_machine.travel(late, tick=False):
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="晚上好")
        assert jobs.send_due() == 0
    assert message.status == MessageStatus.QUEUED
    assert message.scheduled_for == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 next morning
    with time_machine.travel(datetime(2026, 3, 3, 0, 1, tzinfo=UTC), tick=False):
        assert jobs.send_due() == 1
    assert provider.sent == [str(message.pk)]


def test_msg1_email_is_not_held_by_quiet_hours(world, provider):
    with time_machine.travel(datetime(2026, 3, 2, 14, 30, tzinfo=UTC), tick=False):
        message = services.message_send(
            actor=world.manager, contact=world.zhang, channel="email", text="x", subject="s"
        )
        assert message.scheduled_for == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def test_msg1_scheduled_message_waits_for_its_time(world, provider, api):
    at = "2026-03-05T10:00:00+08:00"
    with time_machine.travel(DAYTIME, tick=False):
        response = api(world.manager).post(
            "/messages", {"contact_id": world.zhang.pk, "channel": "log", "text": "x", "at": at}
        )
        assert response.status_code == 201, response.content
        assert jobs.send_due() == 0
    with time_machine.travel(datetime(2026, 3, 5, 2, 0, 1, tzinfo=UTC), tick=False):
        assert jobs.send_due() == 1


def test_msg1_contact_outside_scope_cannot_be_messaged(world, provider, api):
    client = api(world.manager)
    assert client.post("/messages", {"contact_id": world.stranger.pk, "channel": "log", "text": "x"}).status_code == 404
    bulk = client.post(
        "/messages/bulk", {"channel": "log", "contact_ids": [world.li.pk, world.stranger.pk], "text": "x"}
    )
    assert bulk.status_code == 404
    assert (
        client.post("/messages/bulk", {"channel": "log", "account_ids": [world.foreign.pk], "text": "x"}).status_code
        == 404
    )
    assert not Message.objects.exists()


def test_msg1_messages_are_listed_within_scope_with_events(world, provider, api):
    with time_machine.travel(DAYTIME, tick=False):
        mine = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
        services.message_send(actor=world.outsider, contact=world.stranger, channel="log", text="y")
        jobs.send_due()
    listed = api(world.manager).get("/messages", {"status": "sent"}).json()
    assert [m["id"] for m in listed["items"]] == [mine.pk]
    detail = api(world.manager).get(f"/messages/{mine.pk}").json()
    assert [e["status"] for e in detail["events"]] == ["queued", "sending", "sent"]
    assert api(world.outsider).get(f"/messages/{mine.pk}").status_code == 404


# --- MSG-1 the send job: retries, failures, never twice --------------------------------------------------------


def test_msg1_temporary_failure_is_retried_with_backoff_then_sent(world, provider):
    provider.answers = [SendResult.failed(provider_code="Throttling", reason="slow down", temporary=True)] * 2
    with time_machine.travel(DAYTIME, tick=False) as clock:
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
        jobs.send_due()
        message.refresh_from_db()
        assert (message.status, message.attempts) == (MessageStatus.QUEUED, 1)
        assert message.next_attempt_at == DAYTIME + timedelta(seconds=60)
        assert jobs.send_due() == 0  # not before the backoff
        clock.shift(timedelta(seconds=61))
        jobs.send_due()
        message.refresh_from_db()
        assert message.next_attempt_at == DAYTIME + timedelta(seconds=61 + 120)  # doubled
        clock.shift(timedelta(seconds=121))
        jobs.send_due()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.provider_message_id) == ("sent", 3, f"p-{message.pk}")
    assert len(provider.sent) == 3


def test_msg1_temporary_failures_stop_after_max_attempts(world, provider):
    provider.answers = [SendResult.failed(provider_code="Throttling", reason="slow", temporary=True)] * 5
    limits = override_settings(KAM={"MESSAGE_MAX_ATTEMPTS": 2, "MESSAGE_RETRY_BASE_SECONDS": 1})
    with limits, time_machine.travel(DAYTIME, tick=False) as clock:
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
        jobs.send_due()
        clock.shift(timedelta(seconds=5))
        jobs.send_due()
        clock.shift(timedelta(seconds=5))
        assert jobs.send_due() == 0
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 2)


def test_msg1_permanent_failure_records_the_providers_reason(world, provider):
    provider.answers = [
        SendResult.failed(provider_code="isv.MOBILE_NUMBER_ILLEGAL", reason="非法手机号", temporary=False)
    ]
    with time_machine.travel(DAYTIME, tick=False):
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
        jobs.send_due()
    message.refresh_from_db()
    assert (message.status, message.provider_code, message.reason) == (
        "failed",
        "isv.MOBILE_NUMBER_ILLEGAL",
        "非法手机号",
    )
    assert message.next_attempt_at is None


def test_msg1_send_job_run_twice_sends_each_message_once(world, provider):
    with time_machine.travel(DAYTIME, tick=False):
        batch = services.message_send_bulk(
            actor=world.manager, channel="log", contact_ids=[world.zhang.pk, world.li.pk], text="x"
        )
        ids = list(Message.objects.filter(batch=batch).values_list("pk", flat=True))
        jobs.send_messages(ids)
        jobs.send_messages(ids)  # the queue delivered the job again
        jobs.send_due()
    assert sorted(provider.sent) == sorted(str(pk) for pk in ids)


def test_msg1_message_left_sending_by_a_dead_worker_is_never_resent(world, provider):
    with time_machine.travel(DAYTIME, tick=False) as clock:
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
        assert jobs.message_claim(message.pk)  # the worker claimed it, then died before recording
        assert jobs.send_due() == 0
        clock.shift(timedelta(minutes=11))
        assert jobs.send_due() == 0
    message.refresh_from_db()
    assert (message.status, message.provider_code) == ("failed", "unknown")
    assert provider.sent == []


@pytest.mark.django_db(transaction=True)
def test_msg1_two_workers_at_once_send_each_message_once(people, make_account, make_contact, provider):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(("file:memory", ":memory:")):
        pytest.skip("threads need a database file")
    account = make_account(people.manager)
    contacts = [make_contact(account, name=f"联系人{i}", mobile=f"1381234{i:04d}") for i in range(8)]
    with override_settings(KAM={"QUIET_HOURS": ("00:00", "00:00")}):
        batch = services.message_send_bulk(
            actor=people.manager, channel="log", contact_ids=[c.pk for c in contacts], text="x"
        )
    ids = list(Message.objects.filter(batch=batch).values_list("pk", flat=True))
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait()
            jobs.send_messages(ids)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(provider.sent) == sorted(str(pk) for pk in ids)
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}


# --- MSG-1 webhooks: delivery reports and replies ---------------------------------------------------------------


def _post_webhook(client, body, *, secret=SECRET, provider="log"):
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {"HTTP_X_KAM_SIGNATURE": messaging_api.sign(raw, secret)} if secret else {}
    return client.client.post(f"/api/v1/messaging/webhooks/{provider}", raw, content_type="application/json", **headers)


@override_settings(KAM={"MESSAGING_WEBHOOK_SECRET": SECRET})
def test_msg1_webhook_with_bad_or_missing_signature_is_refused(world, api):
    client = api(None)
    assert (
        _post_webhook(client, {"type": "reply", "from": "13812345678", "text": "退订"}, secret="wrong").status_code
        == 401
    )
    assert _post_webhook(client, {"type": "reply", "from": "13812345678", "text": "退订"}, secret="").status_code == 401
    assert not Consent.objects.exists() and not InboundReply.objects.exists()


def test_msg1_webhook_without_a_configured_secret_is_forbidden(world, api, monkeypatch):
    monkeypatch.delenv("KAM_MESSAGING_WEBHOOK_SECRET", raising=False)
    assert _post_webhook(api(None), {"type": "reply", "from": "x", "text": "y"}).status_code == 403


@override_settings(KAM={"MESSAGING_WEBHOOK_SECRET": SECRET})
def test_msg1_signed_delivery_report_marks_the_message_delivered(world, provider, api):
    with time_machine.travel(DAYTIME, tick=False):
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
        jobs.send_due()
    response = _post_webhook(api(None), [{"type": "delivery", "message_id": f"p-{message.pk}", "status": "delivered"}])
    assert response.status_code == 200 and response.json() == {"deliveries": 1, "replies": 0}
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at
    assert DeliveryEvent.objects.filter(message=message, status="delivered").exists()


@override_settings(KAM={"MESSAGING_WEBHOOK_SECRET": SECRET})
def test_msg2_unsubscribe_reply_opts_the_contact_out_and_is_attached(world, provider, api):
    response = _post_webhook(api(None), {"phone_number": "13812345678", "content": "退订"}, provider="aliyun_sms")
    assert response.json() == {"deliveries": 0, "replies": 1}
    reply = InboundReply.objects.get()
    assert (reply.contact, reply.account, reply.opted_out) == (world.zhang, world.own, True)
    assert Consent.objects.get(contact=world.zhang, kind="sms").opted_out_at is not None
    with time_machine.travel(DAYTIME, tick=False):
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
    assert message.status == MessageStatus.SKIPPED


@override_settings(KAM={"MESSAGING_WEBHOOK_SECRET": SECRET})
def test_msg1_ordinary_reply_is_stored_without_opting_out(world, api):
    _post_webhook(api(None), {"type": "reply", "from": "+8613812345678", "text": "收到，谢谢"})
    reply = InboundReply.objects.get()
    assert reply.contact == world.zhang and not reply.opted_out
    assert not Consent.objects.exists()


def test_msg1_templates_hold_no_customer_data_and_are_listed_for_all(world, api):
    _template(world.head)
    assert api(world.finance).get("/message-templates").json()["count"] == 1
    assert MessageTemplate.objects.count() == 1


def test_msg2_user_records_an_opt_out_through_the_api(world, provider, api):
    response = api(world.manager).put(
        f"/contacts/{world.li.pk}/message-consents/sms", {"opted_out": True, "note": "电话里说的"}
    )
    assert response.status_code == 200 and response.json()["opted_out"] is True
    assert Consent.objects.get(contact=world.li).source == "api"
    assert (
        api(world.manager).put(f"/contacts/{world.li.pk}/message-consents/fax", {"opted_out": True}).status_code == 422
    )
    assert (
        api(world.outsider).put(f"/contacts/{world.li.pk}/message-consents/sms", {"opted_out": False}).status_code
        == 404
    )
    with time_machine.travel(DAYTIME, tick=False):
        assert services.message_send(actor=world.manager, contact=world.li, channel="log", text="x").status == "skipped"


def test_msg1_message_list_query_count_does_not_grow_with_messages(world, provider, api):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    client = api(world.manager)

    def queries() -> int:
        with CaptureQueriesContext(db) as captured:
            assert client.get("/messages", {"page_size": 100}).status_code == 200
        return len(captured)

    with time_machine.travel(DAYTIME, tick=False):
        services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
        queries()  # the first request also records the token's use
        one = queries()
        services.message_send_bulk(actor=world.manager, channel="log", account_ids=[world.own.pk], text="y")
        assert queries() == one


def test_msg1_retry_is_not_sent_in_the_quiet_hours(world, provider):
    provider.answers = [SendResult.failed(provider_code="Throttling", reason="slow", temporary=True)]
    evening = datetime(2026, 3, 2, 12, 59, 30, tzinfo=UTC)  # 20:59:30 in Shanghai
    with time_machine.travel(evening, tick=False):
        message = services.message_send(actor=world.manager, contact=world.zhang, channel="log", text="x")
        jobs.send_due()
    message.refresh_from_db()
    assert message.next_attempt_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)


# --- MSG-1/MSG-3 provider batch endpoints: one request for many numbers, a result per number ------------------


@pytest.fixture
def fake_provider():
    started = []

    def start(fake):
        server = Provider(fake)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def _sms_contacts(make_account, make_contact, owner, n):
    account = make_account(owner, name="杭州批量短信有限公司")
    return account, [make_contact(account, name=f"客户{i}", mobile=f"1391234{i:04d}") for i in range(n)]


def test_msg1_bulk_sms_goes_out_through_send_batch_sms_with_each_numbers_parameters(
    people, make_account, make_contact, fake_provider, monkeypatch, api
):
    """MSG-1/MSG-3: Alibaba SendBatchSms carries up to max_batch numbers (100; 2 here) with a signature and
    parameters per number; every message of a call records the call's BizId; a report by number finds its own."""
    fake = FakeAliyun()
    server = fake_provider(fake)
    channel = AliyunSmsChannel(access_key_id=fake.access_key_id, access_key_secret=fake.access_key_secret,
                               endpoint=server.url + "/", sign_name="华东大客户部", timeout=5)  # fmt: skip
    channel.max_batch = 2
    monkeypatch.setitem(config.FACTORIES, "aliyun_sms", lambda: channel)
    _account, contacts = _sms_contacts(make_account, make_contact, people.manager, 5)
    template = services.template_create(actor=people.head, fields={
        "name": "回访", "channel": "aliyun_sms", "body": "", "provider_template_code": "SMS_100200",
        "provider_params": {"name": "{contact.name}"}})  # fmt: skip
    with time_machine.travel(DAYTIME, tick=False):
        batch = services.message_send_bulk(actor=people.manager, channel="aliyun_sms",
                                           contact_ids=[c.pk for c in contacts], template=template)  # fmt: skip
        assert jobs.send_due() == 5
    assert [action for action, _params in fake.actions] == ["SendBatchSms", "SendBatchSms", "SendSms"]
    assert fake.batches == [
        [("13912340000", "华东大客户部", {"name": "客户0"}), ("13912340001", "华东大客户部", {"name": "客户1"})],
        [("13912340002", "华东大客户部", {"name": "客户2"}), ("13912340003", "华东大客户部", {"name": "客户3"})],
    ]
    assert fake.actions[2][1]["PhoneNumbers"] == "13912340004"
    messages = list(Message.objects.filter(batch=batch).order_by("pk"))
    assert {(m.status, m.attempts, m.provider_code) for m in messages} == {("sent", 1, "OK")}
    biz = [m.provider_message_id for m in messages]
    assert biz[0] == biz[1] != biz[2] == biz[3] != biz[4]
    # A delivery report of the second number of the first call marks that message, not its neighbour.
    with override_settings(KAM={"MESSAGING_WEBHOOK_SECRET": SECRET}):
        response = _post_webhook(api(None), [{"biz_id": biz[0], "phone_number": "13912340001", "success": True}],
                                 provider="aliyun_sms")  # fmt: skip
    assert response.json() == {"deliveries": 1, "replies": 0}
    assert [m.status for m in Message.objects.filter(batch=batch).order_by("pk")][:2] == ["sent", "delivered"]


def test_msg1_bulk_sms_goes_out_in_one_tencent_send_sms_with_a_status_per_number(
    people, make_account, make_contact, fake_provider, monkeypatch
):
    """MSG-1/MSG-3: Tencent SendSms takes up to 200 numbers sharing template and parameters; each number's
    SendStatusSet entry is recorded on its own message (one blacklisted number fails, the rest are sent)."""
    fake = FakeTencent()
    server = fake_provider(fake)
    channel = TencentSmsChannel(secret_id=fake.secret_id, secret_key=fake.secret_key, sdk_app_id=fake.app_id,
                                endpoint=server.url + "/", sign_name="华东大客户部", timeout=5)  # fmt: skip
    monkeypatch.setitem(config.FACTORIES, "tencent_sms", lambda: channel)
    _account, contacts = _sms_contacts(make_account, make_contact, people.manager, 4)
    fake.codes["+8613912340002"] = ("FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中")
    template = services.template_create(actor=people.head, fields={
        "name": "活动", "channel": "tencent_sms", "body": "", "provider_template_code": "1110",
        "provider_params": {"1": "{account.name}"}})  # fmt: skip
    with time_machine.travel(DAYTIME, tick=False):
        batch = services.message_send_bulk(actor=people.manager, channel="tencent_sms",
                                           contact_ids=[c.pk for c in contacts], template=template)  # fmt: skip
        assert jobs.send_due() == 4
    assert len(fake.bodies) == 1
    assert fake.bodies[0] == {"PhoneNumberSet": [f"+861391234000{i}" for i in range(4)], "SmsSdkAppId": fake.app_id,
                              "TemplateId": "1110", "TemplateParamSet": ["杭州批量短信有限公司"],
                              "SignName": "华东大客户部"}  # fmt: skip
    messages = list(Message.objects.filter(batch=batch).order_by("pk"))
    assert [(m.status, m.provider_code) for m in messages] == [
        ("sent", "Ok"), ("sent", "Ok"), ("failed", "FailedOperation.PhoneNumberInBlacklist"), ("sent", "Ok"),
    ]  # fmt: skip
    serials = [m.provider_message_id for m in messages if m.status == "sent"]
    assert len(set(serials)) == 3 and all(s.startswith("3369:") for s in serials)
    assert messages[2].reason == "手机号在免打扰名单库中" and messages[2].next_attempt_at is None


def test_msg1_a_provider_batch_is_claimed_whole_before_the_call(world, provider, monkeypatch):
    """MSG-1: the messages of one provider request are all `sending` (committed) when the provider is called."""
    seen = []

    def send_batch(messages):
        seen.append(sorted(Message.objects.filter(pk__in=[int(m.reference) for m in messages])
                           .values_list("status", flat=True)))  # fmt: skip
        return [SendResult.sent(provider_message_id="one-call") for _m in messages]

    monkeypatch.setattr(provider, "max_batch", 10, raising=False)
    monkeypatch.setattr(provider, "send_batch", send_batch, raising=False)
    with time_machine.travel(DAYTIME, tick=False):
        services.message_send_bulk(actor=world.manager, channel="log", contact_ids=[world.zhang.pk, world.li.pk],
                                   text="x")  # fmt: skip
        assert jobs.send_due() == 2
    assert seen == [["sending", "sending"]]
    assert set(Message.objects.values_list("status", "provider_message_id")) == {("sent", "one-call")}


def test_msg2_opt_outs_of_a_large_send_are_read_whole_and_intersected(world):
    """MSG-2: over 1000 recipients the opt-outs of the kind are read whole (no IN of 100,000 ids): same answer."""
    services.consent_set(actor=world.manager, contact=world.zhang, kind="sms", opted_out=True)
    services.consent_set(actor=world.manager, contact=world.stranger, kind="sms", opted_out=True)
    many = [world.zhang.pk, world.li.pk, *range(10**6, 10**6 + 1000)]
    assert services.opted_out_contact_ids(many, "sms") == {world.zhang.pk}
    assert services.opted_out_contact_ids(many, "email") == set()
    assert services.opted_out_contact_ids([world.zhang.pk, world.li.pk], "sms") == {world.zhang.pk}

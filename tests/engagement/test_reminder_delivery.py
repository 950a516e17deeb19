"""ENG-3: call-backs reminded at the minute set, contract signings with the documents to bring, reminders
delivered through the user's own channel (e-mail, WeCom, DingTalk, Feishu), the daily digest, and
ENG-2's fortnightly cadence review."""

import email
import email.policy
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from kam.core.models import AuditEvent
from kam.engagement import jobs, services
from kam.engagement.models import NotificationSettings, Reminder, ReminderKind, TaskKind
from kam.org.models import Role
from tests.messaging.test_channels import FakeDingTalk, FakeFeishu, FakeWeCom, LocalSMTP, Mailbox, Provider

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour=7, minute=30) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, name="苏州精密机械有限公司")


@pytest.fixture
def local_robots():
    """The three robots played by local servers; the allowed-URL setting points at them."""
    started = []

    def start(fake):
        provider = Provider(fake)
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.close()


def robot_urls(**urls):
    from django.conf import settings

    return override_settings(KAM={**settings.KAM, "NOTIFY_ROBOT_URLS": {k: [v] for k, v in urls.items()}})


# --- call-backs at the minute set ----------------------------------------------------------------


def test_eng3_call_back_is_reminded_at_its_due_minute_not_in_the_morning_list(people, account, make_task,
                                                                              time_machine):  # fmt: skip
    time_machine.move_to(at(date(2026, 5, 11), 7, 0))
    task = make_task(people.manager, title="回电张总确认报价", kind=TaskKind.CALL_BACK,
                     due_at=at(date(2026, 5, 11), 15, 0), account=account.pk)  # fmt: skip
    services.reminders_for_day(day=date(2026, 5, 11))
    assert not Reminder.objects.filter(task=task).exists()  # not in the 07:30 list: it comes at 15:00

    assert services.timed_reminders(now=at(date(2026, 5, 11), 14, 55)) == 0
    assert services.timed_reminders(now=at(date(2026, 5, 11), 15, 0)) == 1
    assert services.timed_reminders(now=at(date(2026, 5, 11), 15, 5)) == 0  # once
    reminder = Reminder.objects.get(task=task)
    assert (reminder.user, reminder.kind, reminder.title) == (people.manager, ReminderKind.TASK_DUE, "回电张总确认报价")
    assert reminder.due_at == at(date(2026, 5, 11), 15, 0)


def test_eng3_a_task_with_a_reminder_time_is_reminded_then(people, make_task, time_machine):
    time_machine.move_to(at(date(2026, 5, 11), 8, 0))
    task = make_task(people.manager, title="准备投标文件", due_at=at(date(2026, 5, 12), 17, 0),
                     remind_at=at(date(2026, 5, 12), 9, 30))  # fmt: skip
    assert services.timed_reminders(now=at(date(2026, 5, 12), 9, 25)) == 0
    assert services.timed_reminders(now=at(date(2026, 5, 12), 9, 30)) == 1
    assert Reminder.objects.get(task=task).due_at == at(date(2026, 5, 12), 9, 30)
    # Moved to another time: reminded again then.
    services.task_update(actor=people.manager, task=task, fields={"remind_at": at(date(2026, 5, 12), 11, 0)})
    assert services.timed_reminders(now=at(date(2026, 5, 12), 11, 0)) == 1
    # A done task is not reminded.
    services.task_update(actor=people.manager, task=task, fields={"remind_at": at(date(2026, 5, 12), 16, 0)})
    services.task_complete(actor=people.manager, task=task)
    assert services.timed_reminders(now=at(date(2026, 5, 12), 16, 0)) == 0


def test_eng3_a_reminder_time_older_than_a_day_is_not_resurrected(people, make_task, time_machine):
    time_machine.move_to(at(date(2026, 5, 1), 8, 0))
    make_task(people.manager, kind=TaskKind.CALL_BACK, due_at=at(date(2026, 5, 2), 10, 0))
    assert services.timed_reminders(now=at(date(2026, 5, 3), 10, 5)) == 0  # the worker was down for a day


def test_eng3_remind_after_due_is_refused_naming_the_field(people, make_task):
    with pytest.raises(ValidationError) as caught:
        make_task(people.manager, due_at=at(date(2030, 5, 12), 9, 0), remind_at=at(date(2030, 5, 12), 10, 0))
    assert set(caught.value.message_dict) == {"remind_at"}


# --- contract signings ---------------------------------------------------------------------------


def test_eng3_contract_signing_is_reminded_three_days_ahead_and_on_the_day_with_documents(
    people, account, make_task, time_machine
):
    time_machine.move_to(at(date(2026, 6, 1), 9, 0))
    task = make_task(people.manager, title="签订2027年度框架合同", kind=TaskKind.CONTRACT_SIGNING,
                     due_at=at(date(2026, 6, 8), 14, 0), account=account.pk,
                     documents="营业执照副本复印件\n授权委托书\n\n公章")  # fmt: skip
    assert task.documents == ["营业执照副本复印件", "授权委托书", "公章"]
    services.reminders_for_day(day=date(2026, 6, 4))
    assert not Reminder.objects.filter(task=task).exists()
    services.reminders_for_day(day=date(2026, 6, 5))  # three days ahead
    ahead = Reminder.objects.get(task=task)
    assert ahead.kind == ReminderKind.CONTRACT
    assert "签订2027年度框架合同" in ahead.title and "6" in ahead.title
    assert ahead.body.splitlines()[-3:] == ["- 营业执照副本复印件", "- 授权委托书", "- 公章"]
    services.reminders_for_day(day=date(2026, 6, 8))  # the day itself
    on_the_day = Reminder.objects.filter(task=task).exclude(pk=ahead.pk).get()
    assert on_the_day.due_at == at(date(2026, 6, 8), 14, 0) and "- 公章" in on_the_day.body


def test_eng3_documents_are_validated(people, make_task):
    with pytest.raises(ValidationError) as caught:
        make_task(people.manager, documents=[f"文件{i}" for i in range(31)])
    assert set(caught.value.message_dict) == {"documents"}
    with pytest.raises(ValidationError) as caught:
        make_task(people.manager, documents=[1, 2])
    assert set(caught.value.message_dict) == {"documents"}


# --- notification settings -----------------------------------------------------------------------


def test_eng3_robot_url_must_be_the_providers_webhook(people):
    with pytest.raises(ValidationError) as caught:
        services.notification_settings_update(actor=people.manager, fields={
            "channel": "wecom", "address": "http://10.0.0.5/admin"})  # fmt: skip
    assert set(caught.value.message_dict) == {"address"}
    saved = services.notification_settings_update(actor=people.manager, fields={
        "channel": "wecom", "address": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"})  # fmt: skip
    assert saved.channel == "wecom"
    with pytest.raises(ValidationError) as caught:
        services.notification_settings_update(actor=people.manager, fields={"channel": "email", "address": "不是邮箱"})
    assert set(caught.value.message_dict) == {"address"}
    with pytest.raises(ValidationError) as caught:
        services.notification_settings_update(actor=people.manager, fields={"channel": "", "daily_digest": True})
    assert set(caught.value.message_dict) == {"daily_digest"}


def test_eng3_secret_is_audited_as_changed_but_never_written_to_the_trail(people):
    services.notification_settings_update(actor=people.manager, fields={
        "channel": "dingtalk", "address": "https://oapi.dingtalk.com/robot/send?access_token=t",
        "secret": "SECtopsecret"})  # fmt: skip
    event = AuditEvent.objects.filter(target_type__icontains="notificationsettings").latest("id")
    assert "SECtopsecret" not in str(event.changes)
    assert event.changes["secret"] == ["***", "***"]


def _reminder(user, title="回访张总", minutes_ago=1):
    from django.utils import timezone

    now = timezone.now()
    return Reminder.objects.create(user=user, kind=ReminderKind.TASK_DUE, title=title, body="带上报价单",
                                   due_at=now, key=f"test:{title}:{user.pk}",
                                   created_at=now - timedelta(minutes=minutes_ago))  # fmt: skip


def test_eng3_reminders_go_to_the_users_wecom_robot_once(people, local_robots):
    fake = FakeWeCom()
    robot = local_robots(fake)
    url = f"{robot.url}/cgi-bin/webhook/send?key={fake.key}"
    with robot_urls(wecom=f"{robot.url}/cgi-bin/webhook/send"):
        services.notification_settings_update(actor=people.manager, fields={"channel": "wecom", "address": url})
        reminder = _reminder(people.manager)
        _reminder(people.colleague, title="别人的提醒")  # no channel chosen: stays in the app
        old = _reminder(people.manager, title="上周的提醒", minutes_ago=60 * 30)
        from django.utils import timezone

        assert services.reminders_deliver(now=timezone.now()) == 1
        assert services.reminders_deliver(now=timezone.now()) == 0  # never twice
    assert len(fake.bodies) == 1
    assert "回访张总" in fake.bodies[0]["text"]["content"] and "带上报价单" in fake.bodies[0]["text"]["content"]
    reminder.refresh_from_db(), old.refresh_from_db()
    assert reminder.delivered_at is not None and reminder.delivery_error == ""
    assert old.delivered_at is None  # older than a day: choosing a channel does not flood it


def test_eng3_a_failing_robot_is_recorded_and_not_retried_forever(people, local_robots):
    fake = FakeWeCom(key="right-key")
    robot = local_robots(fake)
    with robot_urls(wecom=f"{robot.url}/cgi-bin/webhook/send"):
        services.notification_settings_update(actor=people.manager, fields={
            "channel": "wecom", "address": f"{robot.url}/cgi-bin/webhook/send?key=wrong"})  # fmt: skip
        reminder = _reminder(people.manager)
        from django.utils import timezone

        assert services.reminders_deliver(now=timezone.now()) == 0
    reminder.refresh_from_db()
    assert "93000" in reminder.delivery_error
    assert reminder.dismissed_at is None  # still in the inbox


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
def test_eng3_signed_robots_receive_the_reminder(people, local_robots, kind):
    fake = FakeDingTalk() if kind == "dingtalk" else FakeFeishu()
    robot = local_robots(fake)
    path = f"/robot/send?access_token={fake.token}" if kind == "dingtalk" else f"/open-apis/bot/v2/hook/{fake.hook}"
    with robot_urls(**{kind: robot.url + "/"}):
        services.notification_settings_update(actor=people.manager, fields={
            "channel": kind, "address": robot.url + path, "secret": fake.secret})  # fmt: skip
        _reminder(people.manager)
        assert services.notification_test(actor=people.manager) == ""
        from django.utils import timezone

        assert services.reminders_deliver(now=timezone.now()) == 1
    assert len(fake.bodies) == 2


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = LocalSMTP(mailbox, hostname="127.0.0.1", port=0)
    controller.start()
    with override_settings(KAM_SMTP_HOST="127.0.0.1", KAM_SMTP_PORT=str(controller.port),
                           KAM_SMTP_FROM="大客户部 <kam@example.com>", KAM_SMTP_USER="", KAM_SMTP_PASSWORD=""):  # fmt: skip
        yield mailbox
    controller.stop()


def test_eng3_daily_digest_sends_one_e_mail_with_every_new_reminder(people, smtp_server):
    services.notification_settings_update(actor=people.manager, fields={
        "channel": "email", "address": "lina@example.com", "daily_digest": True})  # fmt: skip
    _reminder(people.manager, title="张总生日")
    _reminder(people.manager, title="回访苏州精密")
    from django.utils import timezone

    assert services.reminders_deliver(now=timezone.now()) == 0  # digest users wait for the digest
    assert services.reminders_digest(now=timezone.now()) == 1
    assert services.reminders_digest(now=timezone.now()) == 0
    assert len(smtp_server.received) == 1
    sender, recipients, raw = smtp_server.received[0]
    assert recipients == ["lina@example.com"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    assert "张总生日" in text and "回访苏州精密" in text
    assert "2" in message["Subject"]


def test_eng3_unconfigured_smtp_is_a_clear_delivery_error(people):
    services.notification_settings_update(actor=people.manager, fields={"channel": "email", "address": "a@b.cn"})
    reminder = _reminder(people.manager)
    with override_settings(KAM_SMTP_HOST=""):
        from django.utils import timezone

        services.reminders_deliver(now=timezone.now())
    reminder.refresh_from_db()
    assert "KAM_SMTP_HOST" in reminder.delivery_error


def test_eng3_the_five_minute_job_makes_timed_reminders_and_queues_delivery(people, make_task, time_machine):
    from django_q.models import OrmQ

    time_machine.move_to(at(date(2026, 5, 11), 8, 0))
    make_task(people.manager, kind=TaskKind.CALL_BACK, due_at=at(date(2026, 5, 11), 10, 0))
    jobs.timed_reminders(tick=at(date(2026, 5, 11), 10, 0).isoformat())
    assert Reminder.objects.filter(user=people.manager).count() == 1
    assert OrmQ.objects.count() == 1  # deliver_reminders, run by the worker outside the tick's transaction


# --- fortnightly cadence review (ENG-2) ----------------------------------------------------------


def test_eng2_fortnightly_review_comes_every_other_week(people, make_account, time_machine):
    time_machine.move_to(at(date(2026, 4, 1), 8, 0))
    make_account(people.manager, name="苏州精密机械有限公司")  # never contacted since: out of cadence in June
    head = people.head
    assert head.role == Role.KA_HEAD
    NotificationSettings.objects.create(user=head, cadence_review="fortnight")
    # 2026-06-01 is a Monday, 126 weeks after 2024-01-01: an even week; 2026-06-08 an odd one.
    assert services.is_review_week(date(2026, 6, 1), "fortnight")
    assert not services.is_review_week(date(2026, 6, 8), "fortnight")
    assert services.is_review_week(date(2026, 6, 8), "week")
    time_machine.move_to(at(date(2026, 6, 1), 8, 0))
    assert services.cadence_review_for_week(day=date(2026, 6, 1)) == 1
    time_machine.move_to(at(date(2026, 6, 8), 8, 0))
    assert services.cadence_review_for_week(day=date(2026, 6, 8)) == 0
    time_machine.move_to(at(date(2026, 6, 15), 8, 0))
    assert services.cadence_review_for_week(day=date(2026, 6, 15)) == 1


# --- API and page ----------------------------------------------------------------------------------

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def test_eng3_call_back_and_contract_tasks_through_the_api(people, api):
    client = api(people.manager)
    response = client.post("/tasks", {"title": "签约", "kind": "contract_signing", "due_at": "2030-06-08T14:00:00",
                                      "documents": ["营业执照复印件", "公章"], "remind_at": "2030-06-08T09:00:00"})  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["documents"]) == ("contract_signing", ["营业执照复印件", "公章"])
    assert body["remind_at"] == "2030-06-08T01:00:00Z"  # 09:00 in Shanghai, stored and given in UTC
    response = client.post("/tasks", {"title": "x", "kind": "party", "due_at": "2030-06-08T14:00:00"}, **EN)
    assert response.status_code == 422 and "kind" in response.content.decode()
    response = client.post("/tasks", {"title": "x", "due_at": "2030-06-08T14:00:00",
                                      "remind_at": "2030-06-09T14:00:00"}, **EN)  # fmt: skip
    assert response.status_code == 422 and "remind_at" in response.content.decode()


def test_eng3_notification_settings_api(people, api):
    client = api(people.manager)
    assert client.get("/me/notification-settings").json() == {
        "channel": "", "address": "", "has_secret": False, "daily_digest": False, "cadence_review": "week"}  # fmt: skip
    url = "https://oapi.dingtalk.com/robot/send?access_token=abc"
    response = client.put("/me/notification-settings", {"channel": "dingtalk", "address": url, "secret": "SECx"})
    assert response.status_code == 200 and response.json()["has_secret"] is True
    # The secret is write-only and kept when omitted.
    response = client.put("/me/notification-settings", {"channel": "dingtalk", "address": url, "daily_digest": True})
    assert response.json()["has_secret"] is True and response.json()["daily_digest"] is True
    assert "secret" not in response.json()
    response = client.put("/me/notification-settings", {"channel": "dingtalk", "address": "http://127.0.0.1/x"}, **EN)
    assert response.status_code == 422 and "address" in response.content.decode()
    response = client.put("/me/notification-settings", {"channel": "sms"}, **EN)
    assert response.status_code == 422 and "channel" in response.content.decode()
    # Someone else's settings are untouched.
    assert api(people.colleague).get("/me/notification-settings").json()["channel"] == ""


def test_eng3_notification_settings_page(people, page_client):
    client = page_client(people.manager)
    assert client.get("/me/notifications/").status_code == 200
    response = client.post("/me/notifications/", {"channel": "email", "address": "错", "cadence_review": "week"})
    assert response.status_code == 200 and "address" in response.context["form"].errors
    response = client.post("/me/notifications/", {"channel": "email", "address": "lina@example.com",
                                                  "cadence_review": "fortnight"})  # fmt: skip
    assert response.status_code == 302
    saved = NotificationSettings.objects.get(user=people.manager)
    assert (saved.channel, saved.address, saved.cadence_review) == ("email", "lina@example.com", "fortnight")
    with override_settings(KAM_SMTP_HOST=""):
        response = client.post("/me/notifications/", {"action": "test"}, follow=True)
    assert "KAM_SMTP_HOST" in response.content.decode()

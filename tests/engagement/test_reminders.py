"""ENG-3: reminders in the in-app inbox — birthdays ahead (solar and lunar), tasks due, read / dismiss."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import override_settings
from lunar_python import Lunar

from kam.accounts import services as account_services
from kam.core.jobs import SCHEDULES
from kam.core.models import JobClaim
from kam.engagement import jobs, selectors, services
from kam.engagement.models import Reminder, ReminderKind

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour=7, minute=30) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def solar_of_lunar(year, month, day) -> date:
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def birthdays(user=None) -> list[Reminder]:
    reminders = Reminder.objects.filter(kind=ReminderKind.BIRTHDAY)
    return list(reminders.filter(user=user) if user else reminders)


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, name="苏州精密机械有限公司")


def remind(day: date) -> int:
    return services.reminders_for_day(day=day)


# --- birthdays ---------------------------------------------------------------------------------


def test_eng3_solar_birthday_is_reminded_three_days_ahead(people, account, make_contact, time_machine):
    contact = make_contact(account, name="张总", birthday=date(1975, 3, 10))
    time_machine.move_to(at(date(2026, 3, 6)))
    remind(date(2026, 3, 6))
    assert birthdays() == []
    remind(date(2026, 3, 7))
    [reminder] = birthdays()
    assert reminder.user == people.manager
    assert reminder.contact == contact and reminder.account == account
    assert reminder.key == f"birthday:{contact.pk}:2026-03-10:{people.manager.pk}"
    assert "张总" in reminder.title
    assert reminder.due_at == at(date(2026, 3, 7), 0, 0)


def test_eng3_lunar_birthday_is_reminded_before_this_years_solar_date(people, account, make_contact):
    # Lunar 8/15 (中秋) is 25 September 2026.
    assert solar_of_lunar(2026, 8, 15) == date(2026, 9, 25)
    lunar = make_contact(account, name="中秋生日", birthday=date(1970, 8, 15), birthday_is_lunar=True)
    make_contact(account, name="公历八月十五", birthday=date(1970, 8, 15))
    remind(date(2026, 9, 21))
    assert birthdays() == []
    remind(date(2026, 9, 22))
    assert [r.contact for r in birthdays()] == [lunar]
    assert birthdays()[0].body  # says it is a lunar birthday
    remind(date(2026, 8, 12))  # the solar 15 August: only the solar birthday
    assert {r.contact.name for r in birthdays()} == {"中秋生日", "公历八月十五"}


def test_eng3_lunar_30th_falls_on_the_29th_of_a_short_month(account, make_contact):
    # The 8th lunar month of 2026 has 29 days: a birthday on lunar 8/30 is kept on 8/29.
    last_day = solar_of_lunar(2026, 8, 29)
    contact = make_contact(account, name="三十生日", birthday=date(1980, 8, 30), birthday_is_lunar=True)
    remind(last_day - timedelta(days=3))
    assert [r.contact for r in birthdays()] == [contact]


def test_eng3_no_lunar_birthday_falls_in_a_leap_month(account, make_contact):
    # 2025 has a leap 6th month (闰六月): lunar 6/10 birthdays are kept in the ordinary 6th month only.
    contact = make_contact(account, name="六月初十", birthday=date(1985, 6, 10), birthday_is_lunar=True)
    leap = Lunar.fromYmd(2025, -6, 10).getSolar()
    remind(date(leap.getYear(), leap.getMonth(), leap.getDay()) - timedelta(days=3))
    assert birthdays() == []
    remind(solar_of_lunar(2025, 6, 10) - timedelta(days=3))
    assert [r.contact for r in birthdays()] == [contact]


def test_eng3_29_february_birthday_is_kept_on_the_28th_in_a_common_year(account, make_contact):
    contact = make_contact(account, name="闰日", birthday=date(1988, 2, 29))
    remind(date(2026, 2, 25))
    assert [r.contact for r in birthdays()] == [contact]


def test_eng3_each_owner_of_the_contacts_accounts_is_reminded(people, account, make_account, make_contact):
    other = make_account(people.colleague, name="无锡电子有限公司")
    contact = make_contact(account, birthday=date(1975, 3, 10))
    account_services.position_set(actor=people.colleague, account=other, contact=contact, fields={"title": "顾问"})
    archived = make_contact(account, name="已归档", birthday=date(1975, 3, 10))
    account_services.contact_archive(actor=people.manager, contact=archived)
    remind(date(2026, 3, 7))
    assert {(r.user, r.account) for r in birthdays()} == {(people.manager, account), (people.colleague, other)}


def test_eng3_days_ahead_is_a_setting(account, make_contact):
    make_contact(account, birthday=date(1975, 3, 10))
    with override_settings(KAM={**settings.KAM, "BIRTHDAY_REMINDER_DAYS": 7}):
        remind(date(2026, 3, 3))
    assert len(birthdays()) == 1


# --- tasks due -----------------------------------------------------------------------------------


def test_eng3_open_task_due_today_reminds_its_assignee(people, account, make_task, time_machine):
    time_machine.move_to(at(date(2026, 3, 6), 18))
    due = make_task(people.manager, title="回电话给张总", due_at=at(date(2026, 3, 7), 15), account=account)
    make_task(people.manager, title="明天的事", due_at=at(date(2026, 3, 8), 9))
    done = make_task(people.manager, title="已完成", due_at=at(date(2026, 3, 7), 10))
    services.task_complete(actor=people.manager, task=done)
    remind(date(2026, 3, 7))
    [reminder] = Reminder.objects.filter(kind=ReminderKind.TASK_DUE)
    assert (reminder.user, reminder.task, reminder.due_at) == (people.manager, due, due.due_at)
    assert reminder.account == account


# --- once ----------------------------------------------------------------------------------------


def test_eng3_daily_job_run_twice_makes_each_reminder_once(people, account, make_contact, make_task, time_machine):
    time_machine.move_to(at(date(2026, 3, 7), 7, 0))
    make_contact(account, birthday=date(1975, 3, 10))
    make_task(people.manager, due_at=at(date(2026, 3, 7), 15), account=account)
    time_machine.move_to(at(date(2026, 3, 7)))
    tick = "2026-03-07T07:30:00+08:00"
    assert jobs.daily_reminders(tick=tick) is True
    assert jobs.daily_reminders(tick=tick) is False  # the same tick delivered again
    made = Reminder.objects.count()
    assert made == 2
    assert services.reminders_for_day(day=date(2026, 3, 7)) == 0  # once per day
    JobClaim.objects.all().delete()  # even with the claims forgotten, the keys hold
    assert services.reminders_for_day(day=date(2026, 3, 7)) == 0
    assert Reminder.objects.count() == made


def test_eng3_jobs_are_scheduled_in_the_morning_and_weekly():
    assert SCHEDULES["engagement.daily_reminders"].cron == "30 7 * * *"
    assert SCHEDULES["engagement.weekly_cadence_review"].cron == "0 8 * * 1"
    assert settings.TIME_ZONE == "Asia/Shanghai"


# --- the inbox -----------------------------------------------------------------------------------


def reminder(user, key, *, due_at, kind=ReminderKind.TASK_DUE, **fields):
    return Reminder.objects.create(user=user, kind=kind, title=key, key=key, due_at=due_at, **fields)


def test_eng3_inbox_holds_due_undismissed_reminders_unread_first(people, time_machine):
    now = at(date(2026, 3, 7), 10)
    time_machine.move_to(now)
    read = reminder(people.manager, "read", due_at=now - timedelta(hours=1), read_at=now)
    overdue = reminder(people.manager, "overdue", due_at=now - timedelta(days=2))
    today = reminder(people.manager, "today", due_at=now + timedelta(hours=5))
    reminder(people.manager, "tomorrow", due_at=now + timedelta(days=1))
    reminder(people.manager, "dismissed", due_at=now, dismissed_at=now)
    assert list(selectors.inbox(people.manager)) == [today, overdue, read]
    assert list(selectors.inbox(people.manager, unread=True)) == [today, overdue]
    assert list(selectors.inbox(people.manager, unread=False)) == [read]
    assert list(selectors.inbox(people.manager, kind="birthday")) == []


def test_eng3_a_manager_never_sees_anothers_reminders(people):
    mine = reminder(people.manager, "mine", due_at=at(date(2026, 1, 1)))
    assert list(selectors.inbox(people.colleague)) == []
    assert list(selectors.inbox(people.head)) == []  # a head's data scope does not open others' inboxes
    assert list(selectors.inbox(people.manager)) == [mine]


def test_eng3_api_lists_reads_and_dismisses_own_reminders(people, api):
    item = reminder(people.manager, "回访提醒", due_at=at(date(2026, 1, 1)))
    client = api(people.manager)
    data = client.get("/reminders").json()
    assert [r["id"] for r in data["items"]] == [item.pk]
    response = client.post(f"/reminders/{item.pk}/read")
    assert response.status_code == 200 and response.json()["read_at"]
    assert client.get("/reminders", {"unread": "true"}).json()["items"] == []
    response = client.post(f"/reminders/{item.pk}/dismiss")
    assert response.status_code == 200 and response.json()["dismissed_at"]
    assert client.get("/reminders").json()["items"] == []


def test_eng3_api_another_users_reminder_is_not_found(people, api):
    item = reminder(people.manager, "私人提醒", due_at=at(date(2026, 1, 1)))
    for path in (f"/reminders/{item.pk}/read", f"/reminders/{item.pk}/dismiss"):
        response = api(people.colleague).post(path)
        assert response.status_code == 404 and "detail" in response.json()
    item.refresh_from_db()
    assert item.read_at is None and item.dismissed_at is None
    assert api(people.manager).post("/reminders/999999/read").status_code == 404


def test_eng3_api_bad_input_is_a_clear_422(people, api):
    client = api(people.manager)
    response = client.get("/reminders", {"kind": "party"})
    assert response.status_code == 422 and "kind" in str(response.json())
    assert client.get("/reminders", {"unread": "maybe"}).status_code == 422
    assert client.post("/reminders/abc/read").status_code == 422
    assert api(None).get("/reminders").status_code == 401


def test_eng3_api_list_queries_do_not_grow_with_rows(people, api, django_assert_max_num_queries):
    for n in range(30):
        reminder(people.manager, f"r{n}", due_at=at(date(2026, 1, 1)))
    with django_assert_max_num_queries(6):
        assert api(people.manager).get("/reminders", {"page_size": 100}).json()["count"] == 30


def test_eng3_inbox_page_and_htmx_dismiss(people, page_client):
    item = reminder(people.manager, "生日提醒甲", due_at=at(date(2026, 1, 1)))
    client = page_client(people.manager)
    assert "生日提醒甲" in client.get("/reminders/").content.decode()
    assert "生日提醒甲" in client.get("/").content.decode()  # the home page shows today's reminders
    response = client.post(f"/reminders/{item.pk}/dismiss/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and f'id="reminder-{item.pk}"' in response.content.decode()
    assert "生日提醒甲" not in client.get("/reminders/").content.decode()
    assert page_client(people.colleague).post(f"/reminders/{item.pk}/read/").status_code == 404
    assert client.get("/reminders/", {"kind": "nonsense", "page": "x"}).status_code == 200


def test_eng3_htmx_answer_keeps_the_page_to_return_to(people, page_client):
    item = reminder(people.manager, "回访提醒乙", due_at=at(date(2026, 1, 1)))
    client = page_client(people.manager)
    response = client.post(f"/reminders/{item.pk}/read/", {"next": "/"}, HTTP_HX_REQUEST="true")
    assert 'name="next" value="/"' in response.content.decode()
    response = client.post(f"/reminders/{item.pk}/dismiss/", {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_eng3_inbox_page_queries_do_not_grow_with_rows(people, page_client, django_assert_max_num_queries):
    client = page_client(people.manager)
    for n in range(20):
        reminder(people.manager, f"提醒{n}", due_at=at(date(2026, 1, 1)))
    with django_assert_max_num_queries(10):
        assert client.get("/reminders/").status_code == 200

"""Holiday greetings (ENG-4, MSG-2): prepared ahead for each statutory holiday from the Chinese holiday
calendar (chinese-calendar), completed with a template and an audience, and sent once as a bulk message."""

from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import override_settings

from kam.core.jobs import SCHEDULES
from kam.messaging import jobs, services
from kam.messaging.models import HolidayGreeting, Message, MessageStatus

# chinese-calendar for 2026: Mid-autumn Festival 09-25…09-27, National Day 10-01…10-07 (10-10 is a make-up
# working day named "National Day"); Spring Festival 02-15…02-23 with 02-14 a make-up working day.


def _rows():
    return list(HolidayGreeting.objects.order_by("day").values_list("holiday", "day", "send_at"))


def _nine(day):  # 09:00 in Shanghai is 01:00 UTC
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


def test_eng4_greetings_are_prepared_for_holidays_starting_within_the_window(db):
    created = services.greetings_prepare(today=date(2026, 9, 20))
    assert len(created) == 2
    assert _rows() == [
        ("Mid-autumn Festival", date(2026, 9, 25), _nine(date(2026, 9, 25))),
        ("National Day", date(2026, 10, 1), _nine(date(2026, 10, 1))),
    ]


def test_eng4_preparing_again_adds_nothing(db):
    services.greetings_prepare(today=date(2026, 9, 20))
    assert services.greetings_prepare(today=date(2026, 9, 21)) == []
    assert HolidayGreeting.objects.count() == 2


def test_eng4_holiday_already_under_way_is_not_prepared(db):
    services.greetings_prepare(today=date(2026, 9, 26))
    assert [(h, d) for h, d, _s in _rows()] == [("National Day", date(2026, 10, 1))]


def test_eng4_make_up_working_day_is_not_the_first_day_of_the_holiday(db):
    services.greetings_prepare(today=date(2026, 2, 10))
    assert [(h, d) for h, d, _s in _rows()] == [("Spring Festival", date(2026, 2, 15))]


def test_eng4_window_is_a_setting(db):
    with override_settings(KAM={**settings.KAM, "GREETING_PREPARE_DAYS": 4}):
        assert services.greetings_prepare(today=date(2026, 9, 20)) == []  # 09-25 is 5 days ahead
    with override_settings(KAM={**settings.KAM, "GREETING_PREPARE_DAYS": 5}):
        assert [g.holiday for g in services.greetings_prepare(today=date(2026, 9, 20))] == ["Mid-autumn Festival"]


def test_eng4_years_the_calendar_does_not_know_are_skipped_without_error(db):
    assert services.greetings_prepare(today=date(2026, 12, 25)) == []


def test_eng4_preparing_is_a_daily_scheduled_job(db):
    assert SCHEDULES["messaging.prepare_greetings"].cron == "0 6 * * *"
    assert jobs.prepare_greetings(tick="2026-09-19T22:00:00+00:00") is True  # 06:00 on 09-20 in Shanghai
    assert [d for _h, d, _s in _rows()] == [date(2026, 9, 25), date(2026, 10, 1)]


@pytest.fixture
def greeting_world(people, make_account, make_contact):
    account = make_account(people.manager, name="上海甲有限公司", lifecycle="customer")
    make_contact(account, name="张总", mobile="13812345678")
    make_contact(account, name="李总", mobile="13912345678")
    template = services.template_create(actor=people.head, fields={"name": "国庆问候", "channel": "log",
                                                                   "body": "{contact.name}，国庆快乐！"})  # fmt: skip
    audience = services.audience_create(
        actor=people.manager, fields={"name": "客户", "filters": {"lifecycle": "customer"}}
    )
    (greeting,) = [g for g in services.greetings_prepare(today=date(2026, 9, 26))]
    return type("W", (), {"template": template, "audience": audience, "greeting": greeting, **vars(people)})


def test_eng4_greeting_is_sent_as_a_bulk_message_at_its_time(greeting_world):
    w = greeting_world
    sent = services.greeting_send(actor=w.manager, greeting=w.greeting, template=w.template, audience=w.audience)
    assert sent.batch.total == 2
    messages = Message.objects.filter(batch=sent.batch).order_by("body")
    assert [m.body for m in messages] == ["张总，国庆快乐！", "李总，国庆快乐！"]
    assert {m.scheduled_for for m in messages} == {_nine(date(2026, 10, 1))}
    assert {m.status for m in messages} == {MessageStatus.QUEUED}


def test_eng4_greeting_is_sent_only_once(greeting_world):
    w = greeting_world
    services.greeting_send(actor=w.manager, greeting=w.greeting, template=w.template, audience=w.audience)
    with pytest.raises(ValidationError) as caught:
        services.greeting_send(actor=w.head, greeting=w.greeting, template=w.template, audience=w.audience)
    assert list(caught.value.message_dict) == ["greeting"]
    assert Message.objects.count() == 2


def test_eng4_greeting_needs_a_template_and_an_audience(greeting_world):
    w = greeting_world
    with pytest.raises(ValidationError) as caught:
        services.greeting_send(actor=w.manager, greeting=w.greeting, template=None, audience=None)
    assert sorted(caught.value.message_dict) == ["audience_id", "template_id"]
    assert HolidayGreeting.objects.get(pk=w.greeting.pk).batch is None

"""Reads: the account timeline (activities and dynamic information merged, paged by position),
today's and overdue tasks for the home page, activity filters (ENG-1, ENG-3, ARC-7)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from kam.accounts import services as account_services
from kam.engagement import selectors, services

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day, hour, minute=0):
    return datetime(2026, 1, day, hour, minute, tzinfo=SHANGHAI)


def describe(page) -> list[str]:
    return [e.item.subject if e.kind == "activity" else e.item.content for e in page.entries]


def walk(user, account, limit):
    """Every entry of the timeline, page by page."""
    seen, before = [], None
    while True:
        page = selectors.account_timeline(user, account, before=before, limit=limit)
        seen += describe(page)
        if page.next_before is None:
            return seen
        before = page.next_before


@pytest.fixture
def timeline_account(people, make_account, make_activity):
    account = make_account(people.manager)
    make_activity(account, subject="5日上午拜访", happened_at=at(5, 10))
    make_activity(account, subject="5日下午电话", happened_at=at(5, 15), kind="call")
    make_activity(
        account, subject="6日零点消息", happened_at=at(6, 0), kind="message"
    )  # same instant as the 6th's update
    make_activity(account, subject="7日会议", happened_at=at(7, 9), kind="meeting")
    make_activity(account, subject="7日会议（同时）", happened_at=at(7, 9), kind="meeting")
    for day, content in ((4, "4日动态"), (6, "6日动态"), (6, "6日第二条动态"), (7, "7日动态")):
        account_services.account_update_add(actor=people.manager, account=account, happened_on=date(2026, 1, day),
                                            content=content)  # fmt: skip
    return account


EXPECTED = ["7日会议（同时）", "7日会议", "7日动态", "6日零点消息", "6日第二条动态", "6日动态", "5日下午电话",
            "5日上午拜访", "4日动态"]  # fmt: skip


def test_eng1_timeline_merges_activities_and_dynamic_information_newest_first(people, timeline_account):
    page = selectors.account_timeline(people.manager, timeline_account, limit=20)
    assert describe(page) == EXPECTED
    assert page.next_before is None


@pytest.mark.parametrize("limit", [1, 2, 3, 4])
def test_eng1_timeline_pages_by_position_miss_nothing_and_repeat_nothing(people, timeline_account, limit):
    assert walk(people.manager, timeline_account, limit) == EXPECTED


def test_eng1_timeline_leaves_out_archived_activities(people, timeline_account):
    activity = timeline_account.activities.get(subject="7日会议")
    services.activity_archive(actor=people.manager, activity=activity, version=1)
    assert "7日会议" not in describe(selectors.account_timeline(people.manager, timeline_account))


def test_eng1_a_foreign_account_has_no_timeline(people, timeline_account):
    with pytest.raises(Http404):
        selectors.account_timeline(people.outsider, timeline_account)


def test_eng1_a_made_up_position_is_an_error_naming_before(people, timeline_account):
    for bad in ("yesterday", "1.x.2", "99999999999999999999999.a.1", ""):
        if not bad:
            continue
        with pytest.raises(ValidationError) as e:
            selectors.account_timeline(people.manager, timeline_account, before=bad)
        assert set(e.value.message_dict) == {"before"}


def test_eng3_my_tasks_are_todays_and_overdue_open_ones(people, make_account, make_task):
    account = make_account(people.manager)
    with time_machine.travel(at(10, 8), tick=False):
        make_task(people.manager, title="昨天的", due_at=at(9, 17), account=account)
        make_task(people.manager, title="今天早上", due_at=at(10, 7))
        make_task(people.manager, title="今天晚上", due_at=at(10, 23, 30))
        make_task(people.manager, title="明天的", due_at=at(11, 0))
        done = make_task(people.manager, title="已完成", due_at=at(10, 9))
        services.task_complete(actor=people.manager, task=done)
        make_task(people.head, title="主任自己的", due_at=at(10, 9))
        make_task(people.head, title="主任派给她的", due_at=at(10, 12), assignee=people.manager)
        tasks = selectors.my_tasks(people.manager, timezone.localdate())
    assert [t.title for t in tasks] == ["昨天的", "今天早上", "主任派给她的", "今天晚上"]


def test_eng1_activity_list_filters(people, make_account, make_activity):
    first, second = make_account(people.manager), make_account(people.manager)
    make_activity(first, subject="拜访甲", happened_at=at(5, 10), notes="谈价格")
    make_activity(first, subject="电话甲", happened_at=at(6, 10), kind="call", participants=[people.head.pk])
    make_activity(second, subject="拜访乙", happened_at=at(7, 10))

    def subjects(**filters):
        return [a.subject for a in selectors.activity_list(people.manager, filters=filters)]

    assert subjects() == ["拜访乙", "电话甲", "拜访甲"]
    assert subjects(account=first.pk) == ["电话甲", "拜访甲"]
    assert subjects(kind="call") == ["电话甲"]
    assert subjects(date_from="2026-01-06") == ["拜访乙", "电话甲"]
    assert subjects(date_to="2026-01-06") == ["电话甲", "拜访甲"]
    assert subjects(participant=people.head.pk) == ["电话甲"]
    assert subjects(q="价格") == ["拜访甲"]
    assert subjects(account=first.pk, kind="visit") == ["拜访甲"]


def test_eng3_task_list_by_assignee_status_and_due(people, make_account, make_task):
    account = make_account(people.manager)
    mine = make_task(people.manager, title="我的", account=account, due_at=timezone.now() + timedelta(hours=1))
    delegated = make_task(people.manager, title="派给主任", account=account, assignee=people.head)
    assert list(selectors.task_list(people.manager)) == [mine]
    assert set(selectors.task_list(people.manager, assignee="any")) == {mine, delegated}
    assert list(selectors.task_list(people.manager, assignee=str(people.head.pk))) == [delegated]
    assert list(selectors.task_list(people.manager, status="done")) == []
    assert list(selectors.task_list(people.manager, due_before=timezone.now() + timedelta(hours=2))) == [mine]
    with pytest.raises(ValidationError):
        selectors.task_list(people.manager, status="later")

"""ENG-2: contact cadence — accounts contacted less often than their lifecycle's rule, reminders to the
owner, the weekly summary to the KA head, working days around statutory holidays."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from kam.accounts import services as account_services
from kam.accounts.models import Lifecycle
from kam.core.models import AuditEvent
from kam.engagement import jobs, selectors, services
from kam.engagement.models import CadenceRule, Reminder, ReminderKind
from kam.org import services as org_services
from kam.org.models import Role

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour=10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def visited(make_account, make_activity, time_machine):
    """An account of `owner`, created and visited on `day` (the clock is moved there and left)."""

    def make(owner, day: date, lifecycle=Lifecycle.PROSPECT, name=None):
        time_machine.move_to(at(day, 9))
        account = make_account(owner, name=name, lifecycle=lifecycle)
        make_activity(account, happened_at=at(day, 9))
        return account

    return make


def breached(user, today) -> list:
    return [b.account for b in selectors.cadence_breaches(user, today)]


def test_eng2_default_rules_are_seeded():
    rules = {r.lifecycle: (r.max_days, r.skip_holidays) for r in CadenceRule.objects.all()}
    assert rules == {Lifecycle.PROSPECT: (7, False), Lifecycle.CUSTOMER: (30, False)}


def test_eng2_prospect_is_out_of_cadence_after_seven_days(people, visited):
    account = visited(people.manager, date(2026, 3, 2))
    assert breached(people.manager, date(2026, 3, 9)) == []  # 7 days: still within
    [breach] = selectors.cadence_breaches(people.manager, date(2026, 3, 10))
    assert (breach.account, breach.days_since, breach.last_contact) == (account, 8, date(2026, 3, 2))
    assert not breach.never_contacted


def test_eng2_customer_is_out_of_cadence_after_thirty_days(people, visited):
    account = visited(people.manager, date(2026, 3, 2), lifecycle=Lifecycle.CUSTOMER)
    assert breached(people.manager, date(2026, 4, 1)) == []
    assert breached(people.manager, date(2026, 4, 2)) == [account]


def test_eng2_lost_and_dormant_accounts_have_no_rule(people, visited):
    visited(people.manager, date(2026, 1, 5), lifecycle=Lifecycle.LOST)
    assert breached(people.manager, date(2026, 6, 1)) == []


def test_eng2_never_contacted_counts_from_creation_and_archived_visits_do_not_count(
    people, make_account, make_activity, time_machine
):
    time_machine.move_to(at(date(2026, 3, 2)))
    account = make_account(people.manager)
    activity = make_activity(account, happened_at=at(date(2026, 3, 2), 8))
    services.activity_archive(actor=people.manager, activity=activity)
    [breach] = selectors.cadence_breaches(people.manager, date(2026, 3, 10))
    assert breach.never_contacted and breach.last_contact == date(2026, 3, 2)


def test_eng2_a_newer_visit_brings_the_account_back(people, visited, make_activity, time_machine):
    account = visited(people.manager, date(2026, 3, 2))
    time_machine.move_to(at(date(2026, 3, 9)))
    make_activity(account, happened_at=at(date(2026, 3, 9), 8))
    assert breached(people.manager, date(2026, 3, 10)) == []


def test_eng2_working_days_only_across_national_day(people, visited):
    """2026-10-01..07 are holidays (chinese_calendar): 9 calendar days, but 2 working days, after 30 Sept."""
    account = visited(people.manager, date(2026, 9, 30))
    assert breached(people.manager, date(2026, 10, 9)) == [account]  # calendar days
    CadenceRule.objects.filter(lifecycle=Lifecycle.PROSPECT).update(skip_holidays=True)
    assert breached(people.manager, date(2026, 10, 9)) == []
    # Saturday 10 October is a make-up working day (调休): it counts.
    assert selectors.working_days_after(date(2026, 9, 30), date(2026, 10, 10)) == 3
    # Working days after 30 Sept: 8, 9, 10 (Sat), 12, 13, 14, 15 Oct make 7 — still within; 16 Oct is the 8th.
    assert breached(people.manager, date(2026, 10, 15)) == []
    assert [b.days_since for b in selectors.cadence_breaches(people.manager, date(2026, 10, 16))] == [8]


def test_eng2_working_days_outside_the_known_years_are_monday_to_friday():
    assert selectors.working_days_after(date(2031, 1, 3), date(2031, 1, 10)) == 5


def test_eng2_owner_gets_one_reminder_per_stretch_without_contact(people, visited, make_activity, time_machine):
    account = visited(people.manager, date(2026, 3, 2))
    services.reminders_for_day(day=date(2026, 3, 10))
    services.reminders_for_day(day=date(2026, 3, 11))
    [reminder] = Reminder.objects.filter(kind=ReminderKind.CADENCE)
    assert (reminder.user, reminder.account) == (people.manager, account)
    time_machine.move_to(at(date(2026, 3, 12)))
    make_activity(account, happened_at=at(date(2026, 3, 12), 8))
    services.reminders_for_day(day=date(2026, 3, 20))
    assert Reminder.objects.filter(kind=ReminderKind.CADENCE).count() == 2


def test_eng2_weekly_summary_goes_to_the_department_head(people, visited, time_machine):
    mine = visited(people.manager, date(2026, 3, 2), name="李娜的客户有限公司")
    siblings = visited(people.sibling, date(2026, 3, 2), name="孙丽的客户有限公司")
    visited(people.outsider, date(2026, 3, 2), name="赵强的客户有限公司")  # south: no head there
    visited(people.colleague, date(2026, 3, 13), name="王伟的客户有限公司")  # within cadence
    time_machine.move_to(at(date(2026, 3, 16), 8))  # Monday 08:00
    assert jobs.weekly_cadence_review(tick="2026-03-16T08:00:00+08:00") is True
    assert jobs.weekly_cadence_review(tick="2026-03-16T08:00:00+08:00") is False
    [summary] = Reminder.objects.filter(kind=ReminderKind.DIGEST)
    assert summary.user == people.head
    assert mine.name in summary.body and siblings.name in summary.body
    assert "赵强" not in summary.body and "王伟" not in summary.body
    assert "2" in summary.title
    # Run again (another delivery, or later in the week): one summary a week.
    assert services.cadence_review_for_week(day=date(2026, 3, 18)) == 0
    assert Reminder.objects.filter(kind=ReminderKind.DIGEST).count() == 1


def test_eng2_summary_goes_to_the_nearest_head_only(org, people, visited):
    team_lead = org_services.user_create(actor=None, username="teamlead", password=None, role=Role.KA_HEAD,
                                         department=org.team_a, data_scope=None, display_name="一组组长")  # fmt: skip
    mine = visited(people.manager, date(2026, 3, 2), name="一组客户有限公司")
    siblings = visited(people.sibling, date(2026, 3, 2), name="二组客户有限公司")
    services.cadence_review_for_week(day=date(2026, 3, 16))
    bodies = {r.user: r.body for r in Reminder.objects.filter(kind=ReminderKind.DIGEST)}
    assert set(bodies) == {team_lead, people.head}
    assert mine.name in bodies[team_lead] and siblings.name not in bodies[team_lead]
    assert siblings.name in bodies[people.head] and mine.name not in bodies[people.head]


def test_eng2_manager_sees_her_own_head_sees_the_department(people, visited):
    mine = visited(people.manager, date(2026, 3, 2))
    colleagues = visited(people.colleague, date(2026, 3, 2))
    siblings = visited(people.sibling, date(2026, 3, 2))
    outsiders = visited(people.outsider, date(2026, 3, 2))
    today = date(2026, 3, 20)
    assert breached(people.manager, today) == [mine]
    assert set(breached(people.dept_viewer, today)) == set()  # a KA manager: her own accounts only
    assert set(breached(people.head, today)) == {mine, colleagues, siblings}
    assert set(breached(people.admin, today)) == {mine, colleagues, siblings, outsiders}


def test_eng2_breaches_are_one_aggregate_query(people, visited, django_assert_max_num_queries):
    for n in range(12):
        visited(people.head, date(2026, 3, 2), name=f"部门客户{n:02d}有限公司")
    with django_assert_max_num_queries(4):  # the rules, the scope, one aggregate over accounts
        assert len(selectors.cadence_breaches(people.head, date(2026, 3, 20))) == 12


def test_eng2_api_and_page_list_breaches_in_scope(people, visited, api, page_client, time_machine):
    mine = visited(people.manager, date(2026, 3, 2), name="超期客户有限公司")
    visited(people.outsider, date(2026, 3, 2), name="外地超期有限公司")
    time_machine.move_to(at(date(2026, 3, 20)))
    data = api(people.manager).get("/cadence/breaches").json()
    assert [(b["account"]["id"], b["days_since"], b["max_days"]) for b in data["items"]] == [(mine.pk, 18, 7)]
    assert api(people.outsider).get("/cadence/breaches").json()["count"] == 1
    assert api(people.manager).get("/cadence/breaches", {"page": "x"}).status_code == 422
    text = page_client(people.manager).get("/cadence/").content.decode()
    assert "超期客户有限公司" in text and "外地超期有限公司" not in text


def test_eng2_admin_changes_a_rule_and_it_is_audited(people, page_client):
    rule = CadenceRule.objects.get(lifecycle=Lifecycle.CUSTOMER)
    client = page_client(people.admin)
    response = client.post(f"/admin/engagement/cadencerule/{rule.pk}/change/",
                           {"lifecycle": "customer", "max_days": "14", "skip_holidays": "on"})  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.max_days, rule.skip_holidays) == (14, True)
    assert AuditEvent.objects.filter(target_type="engagement.cadencerule", target_id=str(rule.pk)).exists()
    response = client.post(
        f"/admin/engagement/cadencerule/{rule.pk}/change/", {"lifecycle": "customer", "max_days": "0"}
    )
    assert response.status_code == 200  # 0 days is refused


def test_eng2_a_tier_rule_wins_over_its_lifecycle_rule(people, visited, make_account):
    """ENG-2 by lifecycle and tier: platinum customers every 14 days, gold ones under the customers' 30."""
    CadenceRule.objects.create(lifecycle=Lifecycle.CUSTOMER, tier="platinum", max_days=14)
    platinum = visited(people.manager, date(2026, 3, 2), lifecycle=Lifecycle.CUSTOMER, name="铂金客户有限公司")
    gold = visited(people.manager, date(2026, 3, 2), lifecycle=Lifecycle.CUSTOMER, name="黄金客户有限公司")
    for account, tier in ((platinum, "platinum"), (gold, "gold")):
        account_services.account_update(actor=people.manager, account=account, fields={"value_tier": tier})
    assert breached(people.manager, date(2026, 3, 16)) == []  # 14 days: within
    [breach] = selectors.cadence_breaches(people.manager, date(2026, 3, 17))
    assert (breach.account, breach.rule.max_days, breach.days_since) == (platinum, 14, 15)
    assert set(breached(people.manager, date(2026, 4, 2))) == {platinum, gold}  # gold: the customers' 30 days


def test_eng2_one_rule_per_lifecycle_and_tier(people):
    from django.db import IntegrityError, transaction

    CadenceRule.objects.create(lifecycle=Lifecycle.CUSTOMER, tier="gold", max_days=20)
    with pytest.raises(IntegrityError), transaction.atomic():
        CadenceRule.objects.create(lifecycle=Lifecycle.CUSTOMER, tier="gold", max_days=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        CadenceRule.objects.create(lifecycle=Lifecycle.CUSTOMER, max_days=10)  # the customers' rule exists

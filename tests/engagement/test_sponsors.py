"""ENG-5, ENG-6: executive sponsors of key accounts with their duties, plans for executive visits and
top-level meetings every N months, which of them are overdue (with a controlled clock), and the daily
reminders they feed. GOV-7: a foreign account's sponsor or plan is 404."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from kam.core.models import AuditAction, AuditEvent
from kam.engagement import selectors, services
from kam.engagement.models import ExecutiveSponsor, Reminder

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour=10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI)


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, name="苏州精密机械有限公司")


@pytest.fixture
def sponsorship(people, account):
    return services.sponsor_create(actor=people.manager, account=account, fields={
        "sponsor": people.executive, "title": "vice_president", "duties": "每季度拜访一次董事长", "since": date(2026, 1, 1)})  # fmt: skip


def test_eng5_a_vp_is_named_sponsor_with_duties_and_sees_the_accounts_he_sponsors(people, account, sponsorship, api):
    """ENG-5: the sponsorship is stored and audited; the executive's "accounts I sponsor" lists it."""
    assert (sponsorship.sponsor, sponsorship.title, sponsorship.since, sponsorship.until) == (
        people.executive, "vice_president", date(2026, 1, 1), None)  # fmt: skip
    audit = AuditEvent.objects.get(target_type="engagement.executivesponsor", target_id=str(sponsorship.pk))
    assert audit.action == AuditAction.CREATE and audit.account_id == account.pk
    body = api(people.executive).get("/sponsors", {"sponsor": "me"}).json()
    assert [(i["account"]["name"], i["duties"], i["current"]) for i in body["items"]] == [
        ("苏州精密机械有限公司", "每季度拜访一次董事长", True)]  # fmt: skip
    assert api(people.head).get("/sponsors", {"sponsor": "me"}).json()["count"] == 0


def test_eng5_an_account_may_have_several_sponsors_but_one_person_once_per_period(people, account, sponsorship):
    second = services.sponsor_create(actor=people.manager, account=account,
                                     fields={"sponsor": people.head, "title": "branch_gm"})  # fmt: skip
    assert ExecutiveSponsor.objects.filter(account=account).count() == 2 and second.sponsor == people.head
    with pytest.raises(ValidationError) as e:
        services.sponsor_create(actor=people.manager, account=account,
                                fields={"sponsor": people.executive, "since": date(2026, 6, 1)})  # fmt: skip
    assert "sponsor" in e.value.message_dict
    # After the first one ends, the same executive may be named again.
    services.sponsor_update(actor=people.manager, sponsorship=sponsorship, fields={"until": date(2026, 5, 31)},
                            version=1)  # fmt: skip
    again = services.sponsor_create(actor=people.manager, account=account,
                                    fields={"sponsor": people.executive, "since": date(2026, 6, 1)})  # fmt: skip
    assert again.since == date(2026, 6, 1)


def test_eng5_bad_sponsorships_are_refused_naming_the_field(people, account, make_account, api):
    client = api(people.manager)
    response = client.post("/sponsors", {"account_id": account.pk, "sponsor_id": people.executive.pk,
                                         "since": "2026-03-01", "until": "2026-02-01"})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "until"
    # 王伟 (own scope) cannot see 李娜's account: he cannot sponsor it.
    response = client.post("/sponsors", {"account_id": account.pk, "sponsor_id": people.colleague.pk})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "sponsor_id"
    response = client.post("/sponsors", {"account_id": account.pk, "sponsor_id": people.executive.pk, "title": "king"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "title"
    foreign = make_account(people.outsider, name="外地客户有限公司")
    response = client.post("/sponsors", {"account_id": foreign.pk, "sponsor_id": people.executive.pk})
    assert response.status_code == 404
    assert ExecutiveSponsor.objects.count() == 0


def test_eng5_stale_version_is_409_and_foreign_sponsorship_is_404(people, account, sponsorship, api):
    client = api(people.manager)
    assert client.patch(f"/sponsors/{sponsorship.pk}", {"version": 1, "duties": "年度战略会"}).status_code == 200
    response = client.patch(f"/sponsors/{sponsorship.pk}", {"version": 1, "duties": "又改"})
    assert response.status_code == 409 and response.json()["current"]["duties"] == "年度战略会"
    assert api(people.outsider).get(f"/sponsors/{sponsorship.pk}").status_code == 404
    # 刘总 sees every account but changes none (a read-only role): 403.
    assert api(people.executive).patch(f"/sponsors/{sponsorship.pk}", {"version": 2, "duties": "x"}).status_code == 403


def test_eng5_accounts_i_sponsor_page(people, account, sponsorship, page_client):
    response = page_client(people.executive).get("/sponsors/")
    assert response.status_code == 200
    assert [s.account.name for s in response.context["page"]] == ["苏州精密机械有限公司"]
    section = page_client(people.manager).get(f"/accounts/{account.pk}/sponsors-campaigns/")
    assert "每季度拜访一次董事长" in section.content.decode()


# --- plans: every N months, overdue ------------------------------------------------------------------


def _visit(people, account, day, kind="executive_visit", with_sponsor=True):
    participants = [people.manager.pk, *([people.executive.pk] if with_sponsor else [])]
    return services.activity_create(actor=people.manager, account=account, fields={
        "kind": kind, "happened_at": at(day), "participants": participants, "subject": "高层拜访"})  # fmt: skip


def test_eng6_plan_is_due_on_its_first_day_then_n_months_after_the_last_visit(
    people, account, sponsorship, time_machine
):
    """ENG-6: every 3 months from 10 Jan; a visit on 31 Jan makes it due on 30 April (no 31 April)."""
    time_machine.move_to(at(date(2026, 1, 15)))
    plan = services.plan_create(actor=people.manager, account=account, fields={
        "kind": "executive_visit", "every_months": 3, "sponsor": sponsorship.pk, "starts_on": date(2026, 1, 10)})  # fmt: skip
    status = selectors.plan_status(plan, date(2026, 1, 15))
    assert (status.last_done, status.next_due, status.days_overdue) == (None, date(2026, 1, 10), 5)
    time_machine.move_to(at(date(2026, 1, 31), 18))
    _visit(people, account, date(2026, 1, 31), with_sponsor=False)  # without the sponsor: does not count
    _visit(people, account, date(2026, 1, 31), kind="meeting")  # another kind: does not count
    assert selectors.plan_status(plan, date(2026, 1, 31)).next_due == date(2026, 1, 10)
    _visit(people, account, date(2026, 1, 31))
    status = selectors.plan_status(plan, date(2026, 4, 30))
    assert (status.last_done, status.next_due, status.overdue) == (date(2026, 1, 31), date(2026, 4, 30), False)
    assert selectors.plan_status(plan, date(2026, 5, 2)).days_overdue == 2


def test_eng6_overdue_list_stays_within_the_data_scope(people, account, sponsorship, make_account, api, time_machine,
                                                       page_client):  # fmt: skip
    time_machine.move_to(at(date(2026, 3, 1)))
    late = services.plan_create(actor=people.manager, account=account, fields={
        "kind": "meeting", "every_months": 6, "sponsor": sponsorship, "starts_on": date(2026, 2, 1)})  # fmt: skip
    services.plan_create(actor=people.manager, account=account, fields={
        "kind": "executive_visit", "every_months": 6, "sponsor": sponsorship, "starts_on": date(2026, 4, 1)})  # fmt: skip
    body = api(people.manager).get("/executive-plans/overdue").json()
    assert [(i["id"], i["next_due"], i["days_overdue"]) for i in body["items"]] == [(late.pk, "2026-02-01", 28)]
    assert api(people.manager).get("/executive-plans").json()["count"] == 2
    assert api(people.colleague).get("/executive-plans/overdue").json()["count"] == 0
    assert api(people.outsider).get(f"/executive-plans/{late.pk}").status_code == 404
    page = page_client(people.head).get("/executive-plans/?overdue=1")
    assert [s.plan.pk for s in page.context["page"]] == [late.pk]


def test_eng6_bad_plans_are_refused_naming_the_field(people, account, sponsorship, make_account, api):
    client = api(people.manager)
    response = client.post(
        "/executive-plans", {"account_id": account.pk, "every_months": 0, "sponsor_id": sponsorship.pk}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "every_months"
    other = make_account(people.manager, name="另一家客户有限公司")
    response = client.post(
        "/executive-plans", {"account_id": other.pk, "every_months": 3, "sponsor_id": sponsorship.pk}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "sponsor_id"
    response = client.post("/executive-plans", {"account_id": account.pk, "every_months": 3,
                                                "sponsor_id": sponsorship.pk, "kind": "lunch"})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "kind"
    created = client.post("/executive-plans", {"account_id": account.pk, "every_months": 3,
                                               "sponsor_id": sponsorship.pk})  # fmt: skip
    assert created.status_code == 201, created.content
    plan_id = created.json()["id"]
    assert client.patch(f"/executive-plans/{plan_id}", {"version": 1, "every_months": -1}).status_code == 422
    assert client.patch(f"/executive-plans/{plan_id}", {"version": 1, "is_active": False}).json()["is_active"] is False
    assert client.patch(f"/executive-plans/{plan_id}", {"version": 1, "notes": "x"}).status_code == 409


def test_eng6_overdue_plans_feed_the_daily_reminders_once(people, account, sponsorship, time_machine):
    """The sponsor and the account's owner are reminded once per overdue stretch (key plan:<id>:<due>:<user>)."""
    time_machine.move_to(at(date(2026, 3, 1), 7))
    plan = services.plan_create(actor=people.manager, account=account, fields={
        "kind": "executive_visit", "every_months": 2, "sponsor": sponsorship, "starts_on": date(2026, 3, 1)})  # fmt: skip
    services.reminders_for_day(day=date(2026, 3, 1))
    assert not Reminder.objects.filter(key__startswith="plan:").exists()  # due today is not overdue
    time_machine.move_to(at(date(2026, 3, 2), 7))
    services.reminders_for_day(day=date(2026, 3, 2))
    services.reminders_for_day(day=date(2026, 3, 3))
    reminders = Reminder.objects.filter(key__startswith="plan:").order_by("user__username")
    assert [(r.user, r.key, r.account) for r in reminders] == [
        (people.executive, f"plan:{plan.pk}:2026-03-01:{people.executive.pk}", account),
        (people.manager, f"plan:{plan.pk}:2026-03-01:{people.manager.pk}", account)]  # fmt: skip
    # Once visited, the next stretch starts two months later: nothing new before it is overdue again.
    time_machine.move_to(at(date(2026, 3, 4), 18))
    _visit(people, account, date(2026, 3, 4))
    services.reminders_for_day(day=date(2026, 5, 4))
    assert Reminder.objects.filter(key__startswith="plan:").count() == 2
    services.reminders_for_day(day=date(2026, 5, 5))
    assert Reminder.objects.filter(key__startswith=f"plan:{plan.pk}:2026-05-04:").count() == 2


def test_eng5_eng6_lists_cost_the_same_number_of_queries_for_one_account_or_many(people, make_account, api):
    """The sponsor and plan lists do not grow a query per row (no N+1)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(people.manager)

    def add(n):
        for _ in range(n):
            account = make_account(people.manager)
            sponsorship = services.sponsor_create(actor=people.manager, account=account,
                                                  fields={"sponsor": people.executive})  # fmt: skip
            services.plan_create(
                actor=people.manager, account=account, fields={"every_months": 3, "sponsor": sponsorship}
            )

    def cost(path):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        return len(queries)

    add(1)
    cost("/sponsors")  # the token's first use of the minute is recorded: one write to leave out
    one = (cost("/sponsors"), cost("/executive-plans"))
    add(4)
    assert (cost("/sponsors"), cost("/executive-plans")) == one
    assert client.get("/executive-plans").json()["count"] == 5


def test_eng5_eng6_pages_name_a_sponsor_and_plan_visits(people, account, page_client):
    client = page_client(people.manager)
    response = client.post(f"/accounts/{account.pk}/sponsors/new/", {
        "sponsor": people.colleague.pk, "title": "president", "since": "2026-02-01"})  # fmt: skip
    assert response.status_code == 200 and "sponsor" in response.context["form"].errors  # cannot see the account
    response = client.post(f"/accounts/{account.pk}/sponsors/new/", {
        "sponsor": people.executive.pk, "title": "president", "since": "2026-02-01", "duties": "年度战略对接"})  # fmt: skip
    assert response.status_code == 302
    sponsorship = ExecutiveSponsor.objects.get()
    assert (sponsorship.title, sponsorship.duties) == ("president", "年度战略对接")
    response = client.post(f"/accounts/{account.pk}/executive-plans/new/", {
        "kind": "meeting", "every_months": 0, "sponsor": sponsorship.pk, "starts_on": "2026-03-01"})  # fmt: skip
    assert response.status_code == 200 and "every_months" in response.context["form"].errors
    response = client.post(f"/accounts/{account.pk}/executive-plans/new/", {
        "kind": "meeting", "every_months": 12, "sponsor": sponsorship.pk, "starts_on": "2026-03-01"})  # fmt: skip
    assert response.status_code == 302
    assert [s.plan.every_months for s in selectors.plan_list(people.manager)] == [12]
    # 王伟 cannot see the account: its forms do not exist for him.
    assert page_client(people.colleague).get(f"/accounts/{account.pk}/sponsors/new/").status_code == 404

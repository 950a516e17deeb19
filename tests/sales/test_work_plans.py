"""Monthly work plans (PIPE-4): planned visits and actions against what was done, written all or nothing."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from kam.core.errors import ConflictError
from kam.core.models import AuditEvent
from kam.engagement import services as engagement_services
from kam.sales import selectors, services
from kam.sales.models import WorkPlan

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOV = date(2026, 11, 1)
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=SH)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _activity(actor, account, kind, day, **extra):
    return engagement_services.activity_create(actor=actor, account=account, fields={
        "kind": kind, "happened_at": datetime(2026, 11, day, 10, tzinfo=SH), **extra})  # fmt: skip


def test_plan_against_what_was_done_by_hand(people, make_account):
    """PIPE-4: done counts the activities she took part in during the month, by kind (and account when the row
    names one); the rate counts at most the planned number per row; what no row covers is listed apart."""
    lina, wang = people.manager, people.colleague
    a, b = make_account(lina), make_account(lina)
    plan = services.work_plan_set(actor=lina, owner=lina, month=date(2026, 11, 17), items=[
        {"account": a.pk, "kind": "visit", "planned": 4, "note": "季度拜访"},
        {"account": None, "kind": "call", "planned": 2},
        {"account": b.pk, "kind": "meeting", "planned": 1},
    ], note="十一月")  # fmt: skip
    assert plan.month == NOV and plan.version == 1
    _activity(lina, a, "visit", 3)
    _activity(lina, a, "visit", 20)
    _activity(lina, b, "visit", 21)  # a visit at 乙: no row plans it
    _activity(lina, a, "call", 4)
    _activity(lina, b, "call", 5)
    _activity(lina, b, "call", 6)  # three calls, two planned
    engagement_services.activity_create(actor=wang, account=make_account(wang),
                                        fields={"kind": "visit", "happened_at": datetime(2026, 11, 7, tzinfo=SH)})  # fmt: skip
    _activity(lina, a, "message", 8, participants=[wang.pk])  # recorded by her for him: his, not hers
    progress = selectors.work_plan_progress(owner_ids=[lina.pk], month=NOV)[lina.pk]
    assert [(r.item.kind, r.done, r.planned, r.rate) for r in progress.rows] == [
        ("visit", 2, 4, 50), ("call", 3, 2, 100), ("meeting", 0, 1, 0)]  # fmt: skip
    assert (progress.planned, progress.done, str(progress.rate)) == (7, 5, "57.1")  # (2 + 2 + 0) / 7
    assert progress.unplanned == {"visit": 1}
    team = dict(selectors.team_work_plan_overview(people.head, month=NOV))
    assert team[lina].done == 5 and team[people.sibling].plan is None


def test_replacing_items_needs_the_version_read_and_is_audited(people, make_account):
    """PIPE-4: the items are replaced as a whole; a stale version is a 409; each change is audited."""
    lina = people.manager
    a = make_account(lina)
    plan = services.work_plan_set(actor=lina, owner=lina, month=NOV, items=[{"account": a.pk, "kind": "visit",
                                                                             "planned": 2}])  # fmt: skip
    with pytest.raises(ValidationError) as missing:
        services.work_plan_set(actor=lina, owner=lina, month=NOV, items=[])
    assert "version" in missing.value.message_dict
    plan = services.work_plan_set(actor=lina, owner=lina, month=NOV, version=1, items=[{"kind": "call", "planned": 5}])
    assert plan.version == 2 and [(i.account_id, i.kind, i.planned) for i in plan.items.all()] == [(None, "call", 5)]
    with pytest.raises(ConflictError):
        services.work_plan_set(actor=lina, owner=lina, month=NOV, version=1, items=[])
    events = AuditEvent.objects.filter(target_type="sales.workplan", target_id=str(plan.pk)).order_by("id")
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].changes["items"] == [[[a.pk, "visit", 2, ""]], [[None, "call", 5, ""]]]


def test_bad_items_are_refused_all_together_naming_item_and_field(people, make_account):
    """PIPE-4: nothing is saved when one item is wrong; each error names the item and its field."""
    lina = people.manager
    foreign = make_account(people.outsider)
    with pytest.raises(ValidationError) as refused:
        services.work_plan_set(actor=lina, owner=lina, month=NOV, items=[
            {"kind": "visit", "planned": 1},
            {"kind": "fly", "planned": 0},
            {"account": foreign.pk, "kind": "call", "planned": 100},
            {"kind": "visit", "planned": 2, "colour": "red"},
        ])  # fmt: skip
    assert set(refused.value.message_dict) == {"items.1.kind", "items.1.planned", "items.2.account",
                                                "items.2.planned", "items.3.colour", "items.3.kind"}  # fmt: skip
    assert not WorkPlan.objects.exists()


def test_who_may_write_a_plan(people):
    """PIPE-4: the owner writes her plan; her head may too; a colleague may not."""
    lina = people.manager
    services.work_plan_set(actor=people.head, owner=lina, month=NOV, items=[{"kind": "visit", "planned": 1}])
    with pytest.raises(PermissionDenied):
        services.work_plan_set(actor=people.colleague, owner=lina, month=NOV, version=1, items=[])
    with pytest.raises(PermissionDenied):
        services.work_plan_set(actor=people.executive, owner=lina, month=NOV, version=1, items=[])


def test_api_writes_reads_and_refuses(people, make_account, api):
    """PIPE-4: PUT creates then replaces (version), GET lists and reads with done / planned; 4xx named."""
    lina = people.manager
    a = make_account(lina)
    client = api(lina)
    created = client.put(f"/work-plans/{lina.pk}/2026-11", {"items": [{"account_id": a.pk, "kind": "visit",
                                                                       "planned": 3}]})  # fmt: skip
    assert created.status_code == 200, created.content
    body = created.json()
    assert (body["month"], body["planned"], body["done"], body["items"][0]["account"]["id"]) == (
        "2026-11-01",
        3,
        0,
        a.pk,
    )
    _activity(lina, a, "visit", 2)
    stale = client.put(f"/work-plans/{lina.pk}/2026-11", {"version": 0, "items": []})
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 1
    bad = client.put(f"/work-plans/{lina.pk}/2026-11", {"version": 1, "items": [{"account_id": 999999, "kind": "visit",
                                                                                   "planned": 1}]})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "items.0.account_id"
    assert client.put(f"/work-plans/{lina.pk}/2026-13", {"items": []}).json()["errors"][0]["field"] == "month"
    assert client.put(f"/work-plans/{people.outsider.pk}/2026-11", {"items": []}).status_code == 404
    assert client.put(f"/work-plans/{people.manager.pk}/2026-11", {"version": 1, "items": [{"kind": "x", "planned": "a"}]}
                      ).json()["errors"][0]["field"] == "items.0.planned"  # fmt: skip
    listed = api(people.head).get("/work-plans", {"month": "2026-11"}).json()
    assert listed["count"] == 1 and listed["items"][0]["done"] == 1 and listed["items"][0]["rate"] == "33.3"
    assert api(people.colleague).get(f"/work-plans/{body['id']}").status_code == 404
    assert api(people.outsider).get("/work-plans").json()["count"] == 0


def test_page_shows_progress_and_saves_rows(people, make_account, page_client):
    """PIPE-4: the page shows done / planned per row and saves the rows posted; a bad row is shown with its
    error and nothing is saved; the head sees his team's plans."""
    lina = people.manager
    a = make_account(lina, "计划甲有限公司")
    client = page_client(lina)
    page = client.get("/sales/plans/?month=2026-11")
    assert page.status_code == 200 and "计划甲有限公司" in page.content.decode()
    bad = client.post("/sales/plans/", {"owner": lina.pk, "month": "2026-11", "rows": 3, "r0-account": a.pk,
                                        "r0-kind": "visit", "r0-planned": "0"}, HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert bad.status_code == 200 and "1 to 99" in bad.content.decode() and not WorkPlan.objects.exists()
    saved = client.post("/sales/plans/", {"owner": lina.pk, "month": "2026-11", "rows": 3, "r0-account": a.pk,
                                          "r0-kind": "visit", "r0-planned": "2", "r2-kind": "call",
                                          "r2-planned": "1"})  # fmt: skip
    assert saved.status_code == 302
    _activity(lina, a, "visit", 2)
    page = client.get("/sales/plans/?month=2026-11").content.decode()
    assert 'id="plan-total">1 / 3<' in page
    head = page_client(people.head).get("/sales/plans/?month=2026-11").content.decode()
    assert 'id="team-plans"' in head and f"?owner={lina.pk}&amp;month=2026-11" in head
    assert (
        page_client(people.colleague).post("/sales/plans/", {"owner": lina.pk, "month": "2026-11"}).status_code == 404
    )
    assert (
        page_client(people.dept_viewer).post("/sales/plans/", {"owner": lina.pk, "month": "2026-11"}).status_code == 403
    )

"""The pipeline API: pipelines, opportunities with the gated advance, samples, costs, positioning (PIPE-1,
PIPE-2, PIPE-3, PIPE-5, PIPE-8, GOV-6)."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from kam.sales.models import GateItem, Stage
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_pipeline(db):
    ensure_default_pipeline()


ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


def stage(code):
    return Stage.objects.get(pipeline__is_default=True, code=code)


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, name="常州电机有限公司")


@pytest.fixture
def deal(api, people, account):
    response = api(people.manager).post("/opportunities", {
        "account_id": account.pk, "name": "电机升级", "amount": "880000.00",
        "expected_close": str(timezone.localdate() + timedelta(days=45)), "competitors": ["西门子"]})  # fmt: skip
    assert response.status_code == 201, response.content
    return response.json()


def test_pipelines_list_stages_and_gate_items(api, people):
    """PIPE-1 / PIPE-2: the default pipeline with its six stages and the gate items of each."""
    response = api(people.manager).get("/pipelines")
    assert response.status_code == 200
    [pipeline] = response.json()
    assert [(s["code"], s["probability"], len(s["gate_items"])) for s in pipeline["stages"]] == [
        ("potential", "10.00", 3), ("intention", "30.00", 4), ("proposal", "50.00", 4), ("negotiation", "70.00", 4),
        ("won", "100.00", 0), ("lost", "0.00", 0),
    ]  # fmt: skip


def test_create_answers_the_opportunity_with_its_gate(deal, people):
    assert deal["stage"]["id"] == stage("potential").pk
    assert deal["amount"] == "880000.00"
    assert deal["owner"]["id"] == people.manager.pk
    assert [g["holds"] for g in deal["gate"]] == [False, False, False]
    assert deal["is_stuck"] is False


def test_advance_refused_answers_422_with_the_missing_items(api, people, deal):
    """PIPE-2: {"detail", "missing"} names what does not hold; then ticking all lets it through."""
    client = api(people.manager)
    item = GateItem.objects.get(stage=stage("potential"), code="potential_need")
    assert client.post(f"/opportunities/{deal['id']}/gate-checks", {"item_id": item.pk}).status_code == 200
    response = client.post(f"/opportunities/{deal['id']}/advance", {"stage_id": stage("intention").pk,
                                                                     "version": deal["version"]}, **ENGLISH)  # fmt: skip
    assert response.status_code == 422
    body = response.json()
    assert body["missing"] == ["first contact made", "go decision taken (or stop)"]
    assert body["errors"][0]["field"] == "stage_id"
    for code in ("first_contact", "go_decision"):
        item = GateItem.objects.get(stage=stage("potential"), code=code)
        client.post(f"/opportunities/{deal['id']}/gate-checks", {"item_id": item.pk})
    response = client.post(f"/opportunities/{deal['id']}/advance", {"stage_id": stage("intention").pk,
                                                                     "version": deal["version"]})  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["stage"]["id"] == stage("intention").pk
    history = client.get(f"/opportunities/{deal['id']}/history").json()
    assert [(h["from_stage"] and h["from_stage"]["id"], h["to_stage"]["id"]) for h in history] == [
        (None, stage("potential").pk),
        (stage("potential").pk, stage("intention").pk),
    ]
    stale = client.post(f"/opportunities/{deal['id']}/advance", {"stage_id": stage("potential").pk,
                                                                  "version": deal["version"]})  # fmt: skip
    assert stale.status_code == 409
    assert stale.json()["current"]["stage"]["id"] == stage("intention").pk


def test_unknown_stage_is_422_naming_stage_id(api, people, deal):
    response = api(people.manager).post(f"/opportunities/{deal['id']}/advance", {"stage_id": 999999, "version": 1})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "stage_id"


def test_lose_requires_the_review_and_names_the_api_fields(api, people, deal):
    """GOV-6: missing review fields are named as sent (reason, what_happened, lesson)."""
    client = api(people.manager)
    response = client.post(f"/opportunities/{deal['id']}/lose", {"version": 1, "reason": "", "what_happened": "",
                                                                  "lesson": ""})  # fmt: skip
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == ["lesson", "reason", "what_happened"]
    response = client.post(f"/opportunities/{deal['id']}/lose", {"version": 1, "reason": "价格", "what_happened": "低价",
                                                                  "competitor": "西门子", "lesson": "早报价"})  # fmt: skip
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["stage"]["id"]) == ("lost", stage("lost").pk)
    assert client.post(f"/opportunities/{deal['id']}/stop", {"version": 2, "reason": "a", "what_happened": "b",
                                                              "lesson": "c"}).status_code == 422  # fmt: skip


@pytest.mark.parametrize("amount", ["-1", "99999999999", "abc"])
def test_bad_amounts_are_422_naming_amount(api, people, account, amount):
    response = api(people.manager).post("/opportunities", {"account_id": account.pk, "name": "x", "amount": amount})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "amount"


def test_distant_past_close_date_and_foreign_owner_are_422(api, people, account):
    client = api(people.manager)
    response = client.post("/opportunities", {"account_id": account.pk, "name": "x",
                                              "expected_close": "2020-01-01", "owner_id": people.outsider.pk})  # fmt: skip
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == ["expected_close", "owner_id"]


def test_a_foreign_opportunity_is_404_and_a_read_only_viewer_gets_403(api, people, deal):
    assert api(people.outsider).get(f"/opportunities/{deal['id']}").status_code == 404
    assert api(people.outsider).patch(f"/opportunities/{deal['id']}", {"version": 1, "name": "x"}).status_code == 404
    assert api(people.dept_viewer).get(f"/opportunities/{deal['id']}").status_code == 200
    assert api(people.dept_viewer).patch(f"/opportunities/{deal['id']}", {"version": 1, "name": "x"}).status_code == 403
    assert api(people.outsider).get("/opportunities").json()["count"] == 0


def test_list_filters_and_query_count(api, people, account, deal, django_assert_max_num_queries):
    client = api(people.manager)
    for n in range(3):
        client.post("/opportunities", {"account_id": account.pk, "name": f"备件{n}"})
    with django_assert_max_num_queries(8):
        response = client.get("/opportunities", {"page_size": 50})
    assert response.json()["count"] == 4
    assert client.get("/opportunities", {"status": "won"}).json()["count"] == 0
    assert (
        client.get("/opportunities", {"close_to": str(timezone.localdate() + timedelta(days=45))}).json()["count"] == 1
    )
    assert client.get("/opportunities", {"status": "maybe"}).status_code == 422


def test_only_admins_edit_gate_items(api, people):
    potential = stage("potential")
    url = f"/pipelines/{potential.pipeline_id}/stages/{potential.pk}/gate-items"
    assert api(people.head).post(url, {"label": "资信初查"}).status_code == 403
    response = api(people.admin).post(url, {"label": "资信初查"})
    assert response.status_code == 201
    item = response.json()
    assert (item["label"], item["order"]) == ("资信初查", 4)
    patched = api(people.admin).patch(f"{url}/{item['id']}", {"version": 1, "is_active": False})
    assert patched.json()["is_active"] is False
    assert api(people.admin).patch(f"{url}/{item['id']}", {"version": 1, "label": "y"}).status_code == 409
    wrong = f"/pipelines/{potential.pipeline_id}/stages/{stage('won').pk}/gate-items/{item['id']}"
    assert api(people.admin).patch(wrong, {"version": 2, "label": "y"}).status_code == 404


def test_samples_costs_and_positioning_over_the_api(api, people, account):
    """PIPE-8, PIPE-5, PIPE-3 through the API, with scope."""
    client = api(people.manager)
    sample = client.post("/samples", {"account_id": account.pk, "product": "样机", "quantity": "2"})
    assert sample.status_code == 201, sample.content
    patched = client.patch(f"/samples/{sample.json()['id']}", {"version": 1, "accepted": "yes"})
    assert patched.json()["accepted"] == "yes"
    assert api(people.outsider).get(f"/samples/{sample.json()['id']}").status_code == 404
    cost = client.post("/development-costs", {"account_id": account.pk, "kind": "presales", "hours": "4",
                                              "rate": "250.5"})  # fmt: skip
    assert cost.status_code == 201
    assert cost.json()["amount"] == "1002.00"
    assert client.post("/development-costs", {"account_id": account.pk, "amount": "-3"}).status_code == 422
    assert client.get("/development-costs", {"account": account.pk}).json()["count"] == 1
    url = f"/accounts/{account.pk}/positioning"
    assert client.get(url).json() == {
        "account_id": account.pk,
        "growth_type": "",
        "risk_assessment": "",
        "background_check": "",
        "needs_survey": "",
        "difficulty": "",
        "version": None,
    }
    put = client.put(url, {"growth_type": "stable", "difficulty": "medium"})
    assert (put.status_code, put.json()["version"]) == (200, 1)
    assert client.put(url, {"version": 0, "growth_type": "high_growth"}).status_code == 409
    assert api(people.dept_viewer).put(url, {"version": 1, "growth_type": "stable"}).status_code == 404
    assert api(people.outsider).get(url).status_code == 404


@override_settings(KAM={**__import__("django.conf").conf.settings.KAM, "OPPORTUNITY_STUCK_DAYS": 0})
def test_stuck_filter(api, people, deal):
    assert api(people.manager).get("/opportunities", {"stuck": "true"}).json()["count"] == 1

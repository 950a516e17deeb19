"""The result review (ANA-3): won and lost opportunities of a period by reason, competitor, stage where
lost or stopped, and manager, with the latest lost reviews (GOV-6). Figures by hand below."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kam.sales import selectors, services
from kam.sales.models import Opportunity, Stage
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_pipeline(db):
    ensure_default_pipeline()


def stage(code):
    return Stage.objects.get(pipeline__is_default=True, code=code)


def closed(owner, account, *, amount, status, days_ago=5, reason="", competitor="", closed_in=None, lesson=""):
    o = services.opportunity_create(actor=owner, account=account, fields={"name": f"商机{amount}", "amount": amount})
    Opportunity.objects.filter(pk=o.pk).update(
        status=status, stage=stage("won" if status == "won" else "lost" if status == "lost" else closed_in),
        closed_at=timezone.now() - timedelta(days=days_ago), close_reason=reason, review_competitor=competitor,
        closed_in_stage=stage(closed_in) if closed_in else None, review_what_happened="经过", review_lesson=lesson)  # fmt: skip
    return o


@pytest.fixture
def review_world(people, make_account):
    mine = make_account(people.manager, name="常州电机有限公司")
    theirs = make_account(people.colleague, name="无锡轴承有限公司")
    m, c = people.manager, people.colleague
    closed(m, mine, amount="1000", status="won")
    closed(
        m, mine, amount="300", status="lost", reason=" 价格太高 ", competitor="西门子", closed_in="proposal", days_ago=3
    )
    closed(m, mine, amount="500", status="lost", reason="价格太高", competitor="ABB", closed_in="negotiation",
           days_ago=2, lesson="早点找决策人")  # fmt: skip
    closed(m, mine, amount="100", status="stopped", reason="客户预算取消", closed_in="potential")
    closed(
        c,
        theirs,
        amount="200",
        status="lost",
        reason="价格太高",
        competitor="西门子 ",
        closed_in="proposal",
        days_ago=1,
    )
    closed(m, mine, amount="8000", status="lost", reason="太久以前", closed_in="proposal", days_ago=800)


def test_the_review_breaks_down_the_closed_deals_by_reason_competitor_stage_and_manager(people, review_world):
    """ANA-3: the department head's review of the last 12 months (the 800-day-old loss left out): reasons
    grouped on the trimmed text; competitors of lost and stopped deals; stages in pipeline order; win rate
    won / (won + lost)."""
    review = selectors.result_review(people.head)
    totals = review["totals"]
    assert (totals["won"], totals["lost"], totals["stopped"]) == (1, 3, 1)
    assert (totals["won_amount"], totals["lost_amount"], totals["win_rate"]) == (Decimal("1000"), Decimal("1000"),
                                                                                  Decimal("25.0"))  # fmt: skip
    assert [(r["reason"], r["lost"], r["stopped"], r["amount"]) for r in review["by_reason"]] == [
        ("价格太高", 3, 0, Decimal("1000")), ("客户预算取消", 0, 1, Decimal("100"))]  # fmt: skip
    assert [(r["competitor"], r["lost"], r["amount"]) for r in review["by_competitor"]] == [
        ("西门子", 2, Decimal("500")), ("ABB", 1, Decimal("500"))]  # fmt: skip
    assert [(r["stage"].code, r["lost"], r["stopped"], r["amount"]) for r in review["by_stage"]] == [
        ("potential", 0, 1, Decimal("100")), ("proposal", 2, 0, Decimal("500")),
        ("negotiation", 1, 0, Decimal("500"))]  # fmt: skip
    assert [(m["owner"], m["won"], m["lost"], m["stopped"], m["win_rate"]) for m in review["by_manager"]] == [
        (people.manager, 1, 2, 1, Decimal("33.3")), (people.colleague, 0, 1, 0, Decimal("0.0"))]  # fmt: skip
    assert [o.amount for o in review["latest_lost"]] == [Decimal("200"), Decimal("500"), Decimal("300")]


def test_the_review_keeps_to_scope_owner_team_and_period(people, review_world, org):
    """ANA-3, GOV-7: 李娜 sees only her own; the head filters by owner and team; an old period finds the old loss."""
    assert selectors.result_review(people.manager)["totals"]["lost"] == 2
    assert selectors.result_review(people.head, owner=str(people.colleague.pk))["totals"]["lost"] == 1
    assert selectors.result_review(people.head, team=str(org.team_b.pk))["totals"]["lost"] == 0
    today = timezone.localdate()
    old = selectors.result_review(
        people.manager, date_from=today - timedelta(days=900), date_to=today - timedelta(days=700)
    )
    assert [(r["reason"], r["lost"]) for r in old["by_reason"]] == [("太久以前", 1)]
    assert old["totals"]["win_rate"] == Decimal("0.0")


def test_the_review_api_and_page(api, page_client, people, review_world):
    """ANA-3: the API answers the same figures (a bad date is a 422 naming it); the page lists the lost
    reviews with their lesson and grouped amounts."""
    body = api(people.manager).get("/opportunities/review", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (body["totals"]["lost"], body["totals"]["win_rate"]) == (2, "33.3")
    assert body["latest_lost"][0]["review_lesson"] == "早点找决策人"
    assert body["latest_lost"][0]["closed_in_stage"] == "negotiation"
    bad = api(people.manager).get("/opportunities/review", {"to": "2026-02-31"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["to"]
    response = page_client(people.manager).get("/sales/review/", HTTP_ACCEPT_LANGUAGE="en")
    text = response.content.decode()
    assert response.status_code == 200
    assert "早点找决策人" in text and "1,000.00" in text and "33.3%" in text

"""Opportunity pages: list, create / edit, the detail's gate checklist with the refusal shown in place
(htmx), closing with the review, the account page's section (PIPE-1, PIPE-2, PIPE-6, GOV-6)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kam.sales import services
from kam.sales.models import GateItem, Opportunity, Stage
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_pipeline(db):
    ensure_default_pipeline()


HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT_LANGUAGE": "en"}


def stage(code):
    return Stage.objects.get(pipeline__is_default=True, code=code)


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, name="南通纺织机械有限公司")


@pytest.fixture
def deal(people, account):
    return services.opportunity_create(actor=people.manager, account=account, fields={"name": "织机改造"})


def test_create_page_opens_an_opportunity_in_the_first_stage(page_client, people, account):
    """PIPE-1: the form's competitors typed with Chinese commas become a list."""
    client = page_client(people.manager)
    assert client.get(f"/accounts/{account.pk}/opportunities/new/").status_code == 200
    response = client.post(f"/accounts/{account.pk}/opportunities/new/", {
        "name": "纺机年度采购", "amount": "350000", "currency": "CNY", "competitors": "丰田，必佳乐",
        "forecast_category": "pipeline",
        "expected_close": str(timezone.localdate() + timedelta(days=30))})  # fmt: skip
    opportunity = Opportunity.objects.get(name="纺机年度采购")
    assert response.status_code == 302
    assert (opportunity.stage, opportunity.competitors) == (stage("potential"), ["丰田", "必佳乐"])


def test_create_page_shows_bad_amount_on_its_field(page_client, people, account):
    response = page_client(people.manager).post(f"/accounts/{account.pk}/opportunities/new/", {
        "name": "x", "amount": "-5", "currency": "CNY", "forecast_category": "pipeline"}, HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == ["The amount cannot be negative."]


def test_advance_refused_in_place_names_the_missing_items(page_client, people, deal):
    """PIPE-2: the htmx answer is the gate panel with the refusal and the missing items listed."""
    client = page_client(people.manager)
    item = GateItem.objects.get(stage=stage("potential"), code="first_contact")
    ticked = client.post(f"/opportunities/{deal.pk}/gate/{item.pk}/", {"checked": "1"}, **HTMX)
    assert ticked.status_code == 200
    assert [holds for _, holds in ticked.context["gate"]] == [False, True, False]
    response = client.post(f"/opportunities/{deal.pk}/advance/", {"stage": stage("intention").pk,
                                                                   "version": deal.version}, **HTMX)  # fmt: skip
    assert response.status_code == 200
    assert response.context["missing"] == ["potential need found", "go decision taken (or stop)"]
    html = response.content.decode()
    assert 'id="gate-refusal"' in html and "<li>potential need found</li>" in html
    assert "<html" not in html  # a fragment, swapped in place


def test_advance_through_the_gate_redirects_to_the_detail(page_client, people, deal):
    client = page_client(people.manager)
    for item in GateItem.objects.filter(stage=stage("potential")):
        services.gate_check(actor=people.manager, opportunity=deal, item=item)
    response = client.post(f"/opportunities/{deal.pk}/advance/", {"stage": stage("intention").pk,
                                                                   "version": deal.version}, **HTMX)  # fmt: skip
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/opportunities/{deal.pk}/"
    deal.refresh_from_db()
    assert deal.stage == stage("intention")
    detail = client.get(f"/opportunities/{deal.pk}/")
    assert [c.to_stage.code for c in detail.context["history"]] == ["potential", "intention"]


def test_closing_needs_the_review(page_client, people, deal):
    """GOV-6: without the review the page answers 422 with the fields named; with it, the deal is lost."""
    client = page_client(people.manager)
    response = client.post(f"/opportunities/{deal.pk}/close/", {"outcome": "lose", "version": deal.version})
    assert response.status_code == 422
    assert set(response.context["close_form"].errors) == {"reason", "what_happened", "lesson"}
    response = client.post(f"/opportunities/{deal.pk}/close/", {"outcome": "lose", "version": deal.version,
                                                                 "reason": "价格", "what_happened": "对手降价",
                                                                 "competitor": "丰田", "lesson": "早做价值"})  # fmt: skip
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.stage, deal.review_competitor) == ("lost", stage("lost"), "丰田")


def test_list_edit_and_account_section(page_client, people, account, deal):
    client = page_client(people.manager)
    assert list(client.get("/opportunities/").context["page"]) == [deal]
    assert list(client.get(f"/accounts/{account.pk}/opportunities/").context["opportunities"]) == [deal]
    response = client.post(f"/opportunities/{deal.pk}/edit/", {"name": "织机改造二期", "amount": "10", "currency": "CNY",
                                                                "forecast_category": "commit", "version": deal.version})  # fmt: skip
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.name, deal.forecast_category) == ("织机改造二期", "commit")


def test_a_foreign_opportunity_page_is_404_and_a_viewer_cannot_tick(page_client, people, deal):
    assert page_client(people.outsider).get(f"/opportunities/{deal.pk}/").status_code == 404
    viewer = page_client(people.dept_viewer)
    assert viewer.get(f"/opportunities/{deal.pk}/").status_code == 200
    item = GateItem.objects.get(stage=stage("potential"), code="first_contact")
    assert viewer.post(f"/opportunities/{deal.pk}/gate/{item.pk}/", {"checked": "1"}).status_code == 403


def test_the_board_has_a_column_per_stage_and_refuses_a_drop_in_place(page_client, people, account, deal):
    """Issue 3 item 7 / PIPE-2: columns potential … won (lost left out); a drop past a gate that does not
    hold answers the refusal fragment naming the missing items, and the card stays."""
    client = page_client(people.manager)
    board = client.get("/opportunities/board/")
    assert [(stage.code, [o.pk for o in cards], count) for stage, cards, count in board.context["columns"]] == [
        ("potential", [deal.pk], 1),
        ("intention", [], 0),
        ("proposal", [], 0),
        ("negotiation", [], 0),
        ("won", [], 0),
    ]
    response = client.post(
        f"/opportunities/{deal.pk}/advance/",
        {"stage": stage("intention").pk, "version": deal.version, "from": "board"},
        **HTMX,
    )
    assert response.status_code == 200
    assert response.context["missing"] == [
        "potential need found",
        "first contact made",
        "go decision taken (or stop)",
    ]
    assert 'id="board-refusal"' in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == stage("potential")


def test_a_board_drop_through_the_gate_reloads_the_board(page_client, people, deal):
    for item in GateItem.objects.filter(stage=stage("potential")):
        services.gate_check(actor=people.manager, opportunity=deal, item=item)
    response = page_client(people.manager).post(
        f"/opportunities/{deal.pk}/advance/",
        {"stage": stage("intention").pk, "version": deal.version, "from": "board"},
        **HTMX,
    )
    assert (response.status_code, response["HX-Redirect"]) == (204, "/opportunities/board/")


def test_the_board_asks_a_bounded_number_of_queries(page_client, people, account, django_assert_max_num_queries):
    """Five columns: one query for the cards and one count each, whatever the number of opportunities."""
    for n in range(12):
        services.opportunity_create(actor=people.manager, account=account, fields={"name": f"商机{n}"})
    client = page_client(people.manager)
    client.get("/opportunities/board/")
    with django_assert_max_num_queries(20):
        response = client.get("/opportunities/board/")
    assert response.context["columns"][0][2] == 12

"""The gate on the opportunity page, in Chromium: moving on with items missing is refused in place (htmx)
with the missing items listed; ticking them lets the opportunity move to the next stage (PIPE-2)."""

import pytest
from django.utils import translation
from playwright.sync_api import expect

from kam.accounts import services as account_services
from kam.sales import services
from kam.sales.models import GateItem, Stage
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def default_pipeline(transactional_db):
    ensure_default_pipeline()


def test_pipe2_refused_gate_is_shown_in_place_then_ticking_lets_it_through(page, people, log_in, screenshot):
    account = account_services.account_create(actor=people.manager, fields={"name": "扬州船舶配件有限公司"})
    deal = services.opportunity_create(actor=people.manager, account=account, fields={"name": "船用泵替换"})
    potential = Stage.objects.get(pipeline__is_default=True, code="potential")
    items = list(GateItem.objects.filter(stage=potential).order_by("order"))
    with translation.override("zh-hans"):  # the browser asks for zh-CN
        labels = [str(item.display_label) for item in items]
    log_in(people.manager)
    page.goto(f"/opportunities/{deal.pk}/")

    # The first item is ticked in place; the page is not reloaded (the panel is swapped by htmx).
    page.locator("#gate-items li", has_text=labels[0]).locator("button").click()
    expect(page.locator("#gate-items li", has_text=labels[0]).locator("button")).to_have_attribute(
        "aria-pressed", "true"
    )

    # Moving on is refused in place, naming exactly the two items still missing.
    page.locator("#advance-submit").click()
    refusal = page.locator("#gate-refusal")
    expect(refusal).to_be_visible()
    expect(refusal.locator("li")).to_have_text(labels[1:])
    screenshot("kam-opportunity-gate-refused.png")

    for label in labels[1:]:
        page.locator("#gate-items li", has_text=label).locator("button").click()
        expect(page.locator("#gate-items li", has_text=label).locator("button")).to_have_attribute(
            "aria-pressed", "true"
        )
    page.locator("#advance-submit").click()
    with translation.override("zh-hans"):
        intention = str(Stage.objects.get(pipeline__is_default=True, code="intention"))
    expect(page.locator("#opportunity dd").first).to_contain_text(intention)
    expect(page.locator("#history li")).to_have_count(2)
    deal.refresh_from_db()
    assert deal.stage.code == "intention"


def test_board_drag_refused_in_place_then_moves_through_the_gate(page, people, log_in, screenshot):
    """Issue 3 item 7 / PIPE-2: dragging a card to the next stage is refused in place naming the missing
    items; once the gate holds, the same drag moves the card."""
    account = account_services.account_create(actor=people.manager, fields={"name": "镇江阀门有限公司"})
    deal = services.opportunity_create(actor=people.manager, account=account, fields={"name": "阀门国产化"})
    stages = {s.code: s for s in Stage.objects.filter(pipeline__is_default=True)}
    with translation.override("zh-hans"):
        labels = [str(i.display_label) for i in GateItem.objects.filter(stage=stages["potential"]).order_by("order")]
    log_in(people.manager)
    page.goto("/opportunities/board/")
    card = page.locator(f"#card-{deal.pk}")
    target = page.locator(f".board-column[data-stage='{stages['intention'].pk}']")
    card.drag_to(target)
    refusal = page.locator("#board-refusal")
    expect(refusal).to_be_visible()
    expect(refusal.locator("li")).to_have_text(labels)
    expect(page.locator(f".board-column[data-stage='{stages['potential'].pk}'] #card-{deal.pk}")).to_be_visible()
    screenshot("kam-opportunity-board-refused.png")

    for item in GateItem.objects.filter(stage=stages["potential"]):
        services.gate_check(actor=people.manager, opportunity=deal, item=item)
    page.reload()
    page.locator(f"#card-{deal.pk}").drag_to(page.locator(f".board-column[data-stage='{stages['intention'].pk}']"))
    expect(page.locator(f".board-column[data-stage='{stages['intention'].pk}'] #card-{deal.pk}")).to_be_visible()
    deal.refresh_from_db()
    assert deal.stage == stages["intention"]

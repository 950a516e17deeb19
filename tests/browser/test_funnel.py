"""Browser: the funnel page (issue 3 item 7, PIPE-1) — ECharts funnel and table, CSP clean."""

import pytest
from playwright.sync_api import expect

from kam.sales import services
from kam.sales.models import Opportunity, Stage
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_funnel_page_draws_the_chart_and_shows_the_figures(page, people, make_account, log_in, screenshot):
    """PIPE-1: two deals, one of them through to negotiation: potential 2 (12,000.00), 50.0% on to intention."""
    ensure_default_pipeline()
    account = make_account(people.manager, "杭州恒达机械有限公司")
    for name, amount in (("阀门改造", "2000"), ("产线升级", "10000")):
        services.opportunity_create(actor=people.manager, account=account, fields={"name": name, "amount": amount})
    negotiation = Stage.objects.get(pipeline__is_default=True, code="negotiation")
    Opportunity.objects.filter(name="产线升级").update(reached_order=negotiation.order, stage=negotiation)
    services.opportunity_cells_recompute()  # moved around the services: rebuild the funnel's cells
    log_in(people.manager)
    page.goto("/sales/funnel/")
    expect(page.locator("#funnel-chart")).to_have_attribute("data-rendered", "true")
    first = page.locator("#funnel-table tbody tr").nth(0)
    expect(first).to_contain_text("2")
    expect(first).to_contain_text("12,000.00")
    expect(first).to_contain_text("50.0%")
    expect(page.locator("#funnel-win-rate")).to_contain_text("0.0%")
    screenshot("funnel.png")

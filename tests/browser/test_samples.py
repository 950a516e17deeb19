"""Samples in Chromium (PIPE-8, PIPE-2, PIPE-5): a sample added from the opportunity page and accepted there
makes the gate's "sample accepted" item hold; the account page draws its cost and return chart."""

from datetime import date

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


def test_pipe8_sample_added_and_accepted_on_the_opportunity_page_makes_the_gate_hold(page, people, log_in, screenshot):
    account = account_services.account_create(actor=people.manager, fields={"name": "泰州电机制造有限公司"})
    account_services.contact_create(actor=people.manager, account=account, fields={"name": "采购部孙经理"},
                                    position={})  # fmt: skip
    deal = services.opportunity_create(actor=people.manager, account=account, fields={"name": "电机试用"})
    for item in GateItem.objects.filter(stage__pipeline=deal.pipeline, stage__code="potential"):
        services.gate_check(actor=people.manager, opportunity=deal, item=item)
    intention = Stage.objects.get(pipeline=deal.pipeline, code="intention")
    services.opportunity_advance(actor=people.manager, opportunity=deal, to_stage=intention)
    services.development_cost_create(actor=people.manager, account=account,
                                     fields={"kind": "travel", "amount": "1200", "incurred_on": date(2025, 5, 6)})  # fmt: skip
    with translation.override("zh-hans"):
        label = str(GateItem.objects.get(stage=intention, auto_check="sample_accepted").display_label)
    log_in(people.manager)
    page.goto(f"/opportunities/{deal.pk}/")
    gate_item = page.locator("#gate-items li", has_text=label)
    expect(gate_item).to_contain_text("☐")

    page.locator("#sample-new").click()
    page.locator("#id_product").fill("YE3-132M 电机")
    page.locator("#id_contact").select_option(label="采购部孙经理")
    page.locator("#sample-save").click()
    page.wait_for_url(f"**/opportunities/{deal.pk}/")
    row = page.locator("#sample-list tbody tr", has_text="YE3-132M 电机")
    expect(row).to_contain_text("采购部孙经理")

    row.get_by_role("link").first.click()
    page.locator("#id_accepted").select_option("yes")
    page.locator("#id_result_note").fill("温升与噪声均达标")
    page.locator("#sample-save").click()
    page.wait_for_url(f"**/opportunities/{deal.pk}/")
    expect(page.locator("#gate-items li", has_text=label)).to_contain_text("☑")
    screenshot("kam-sample-accepted-gate.png")

    page.goto(f"/accounts/{account.pk}/")
    expect(page.locator("#development-return-chart")).to_have_attribute("data-rendered", "true")
    expect(page.locator("#sample-list tbody tr")).to_have_count(1)
    screenshot("kam-account-development-return.png", locator=page.locator("#development-return"))

"""Browser: the account page's sales history (issue 3 item 6) — table and ECharts chart, CSP clean."""

from datetime import date

import pytest
from playwright.sync_api import expect

from kam.sales import services

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_account_page_shows_the_sales_history_table_and_chart(page, people, make_account, log_in, screenshot):
    """Issue 3 item 6: months newest first, Feb 2025 = 300.00 + 200.50 = 500.50; the chart is drawn."""
    account = make_account(people.manager, "杭州恒达机械有限公司")
    for order, day, amount in (("SO-1", date(2025, 1, 5), "1000"), ("SO-2", date(2025, 2, 3), "300"),
                               ("SO-3", date(2025, 2, 20), "200.50")):  # fmt: skip
        services.sales_record_create(actor=people.manager, account=account,
                                     fields={"order_number": order, "date": day, "product_line": "工业阀门",
                                             "quantity": "1", "amount": amount, "gross_margin": "10"})  # fmt: skip
    log_in(people.manager)
    page.goto(f"/accounts/{account.pk}/")
    rows = page.locator("#sales-history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("2025-02")
    expect(rows.nth(0)).to_contain_text("500.50")
    expect(rows.nth(1)).to_contain_text("2025-01")
    expect(page.locator("#sales-history-chart")).to_have_attribute("data-rendered", "true")
    screenshot("sales-history.png", locator=page.locator("#sales-history-card"))

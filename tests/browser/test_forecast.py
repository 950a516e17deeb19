"""Browser: the forecast page (PIPE-4, ANA-1) — the ECharts chart drawn and the month table, CSP clean."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kam.org.models import Quota
from kam.sales import services
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_forecast_page_draws_the_chart_and_the_month(page, people, make_account, log_in, screenshot):
    """PIPE-4: a commit deal of 3,000 this month (first stage, 10 %) against a quota of 12,000: weighted 300.00,
    commit 3,000.00 in this month's row."""
    ensure_default_pipeline()
    today = timezone.localdate()
    account = make_account(people.manager, "杭州恒达机械有限公司")
    services.opportunity_create(actor=people.manager, account=account, fields={
        "name": "阀门改造", "amount": "3000", "expected_close": today + timedelta(days=1) if today.day < 28 else today,
        "forecast_category": "commit"})  # fmt: skip
    Quota.objects.create(user=people.manager, month=today.replace(day=1), amount=Decimal("12000"))
    log_in(people.manager)
    page.goto("/sales/forecast/")
    expect(page.locator("#forecast-chart")).to_have_attribute("data-rendered", "true")
    row = page.locator("#forecast-months tr.current")
    expect(row).to_contain_text("12,000.00")
    expect(row).to_contain_text("300.00")
    expect(row).to_contain_text("3,000.00")
    screenshot("forecast.png")

"""Browser: the quota page (PIPE-7) — a head saves the grid, the completion table shows the rate, CSP clean."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kam.org.models import Quota
from kam.sales.models import SalesCredit

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_head_sets_a_quota_and_sees_the_completion(page, people, log_in, screenshot):
    """PIPE-7: 李娜 sold 45,000 in January; 陈主任 types a January quota of 50,000 into the grid and saves:
    the completion table shows 90.0 %, highlighted as below 100 %."""
    year = timezone.localdate().year
    SalesCredit.objects.create(owner=people.manager, month=date(year, 1, 1), amount=Decimal(45000), lines=1)
    log_in(people.head)
    page.goto(f"/quotas/?year={year}")
    page.fill(f'input[name="c-u{people.manager.pk}-1"]', "50,000")
    page.click("#quota-grid button[type=submit]")
    expect(page.locator(".msg.success")).to_be_visible()
    assert Quota.objects.get(user=people.manager, month=date(year, 1, 1)).amount == Decimal("50000.00")
    cell = page.locator("#quota-completion tr.user", has_text="李娜").locator("td").first
    expect(cell).to_contain_text("90.0 %")
    expect(cell).to_contain_text("45,000 / 50,000")
    expect(cell).to_have_class("num below")
    expect(page.locator(f'input[name="c-u{people.manager.pk}-1"]')).to_have_value("50,000")
    screenshot("quotas.png")

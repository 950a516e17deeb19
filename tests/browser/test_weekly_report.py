"""Browser: the KA head generates last week's reports, reads 李娜's and downloads it as xlsx (GOV-8), CSP clean."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kam.sales import services

pytestmark = pytest.mark.django_db(transaction=True)


def test_head_generates_reads_and_downloads_a_weekly_report(page, people, make_account, log_in, screenshot):
    """GOV-8: "generate now" for last week; the report lists 李娜's sales of the week with thousand separators;
    the xlsx download carries her name; the head's inbox has the report, and its item opens it."""
    today = timezone.localdate()
    last_monday = today - timedelta(days=today.weekday() + 7)
    account = make_account(people.manager, "宁波港信息有限公司")
    services.sales_record_create(actor=people.manager, account=account, fields={
        "order_number": "WR-1", "date": last_monday + timedelta(days=2), "product_line": "工业阀门", "quantity": "1",
        "amount": "12345.60", "gross_margin": "1000"})  # fmt: skip
    log_in(people.head)
    page.goto("/reports/weekly/")
    page.locator("#generate-form button[type=submit]").click()
    row = page.locator("#weekly-reports tbody tr", has_text="李娜")
    expect(row).to_contain_text("12,345.60")
    row.locator("a").click()
    expect(page.locator("main")).to_contain_text("12,345.60")
    screenshot("weekly-report.png")
    with page.expect_download() as download:
        page.locator("a[href$='/xlsx/']").click()
    assert "李娜" in download.value.suggested_filename and download.value.suggested_filename.endswith(".xlsx")
    page.goto("/reminders/")
    page.locator("li.reminder a", has_text="李娜").first.click()  # the inbox item opens the report
    expect(page).to_have_url(re.compile(r"/reports/weekly/\d+/$"))
    expect(page.locator("main")).to_contain_text("12,345.60")

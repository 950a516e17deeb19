"""Credited sales (sales.SalesCredit), what quota completion reads (PIPE-7): a line counts for the manager who
owned its account when it was recorded, by import or API, never twice, and the repair gives the same rows."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kam.accounts import services as account_services
from kam.sales import services
from kam.sales.imports import sales_import
from kam.sales.models import SalesCredit

pytestmark = pytest.mark.django_db

HEADER = "客户,订单号,行号,日期,产品线,数量,金额,毛利,退货"


def csv_file(*lines):
    return SimpleUploadedFile("销售.csv", ("\n".join([HEADER, *lines]) + "\n").encode("utf-8"), content_type="text/csv")


def credits() -> dict:
    return {(c.owner_id, c.month): (c.amount, c.gross_margin, c.lines) for c in SalesCredit.objects.all()}


@pytest.fixture
def accounts(people, make_account):
    return make_account(people.manager, "杭州恒达机械有限公司"), make_account(people.sibling, "苏州精工电子有限公司")


def test_the_import_credits_each_line_to_the_accounts_owner_and_never_twice(people, accounts):
    """PIPE-7: 李娜 (owner of 杭州) Jan 2026: 1000.00 + 250.50 = 1250.50, margin 100 + 25.05 = 125.05, 2 lines;
    Feb: −200 (a return), margin −20, 1 line. 孙丽 (owner of 苏州) Jan: 300, margin 30. The same file again
    changes nothing; a later transfer of 杭州 to 孙丽 leaves the past credit with 李娜, and the next line goes
    to 孙丽 (Mar 400)."""
    hangzhou, suzhou = accounts
    file = (
        f"{hangzhou.pk},Q-1,1,2026-01-05,阀门,1,1000.00,100,",
        f"{hangzhou.pk},Q-1,2,2026-01-31,阀门,1,250.50,25.05,",
        f"{hangzhou.pk},Q-2,1,2026-02-10,阀门,-1,-200,-20,是",
        f"{suzhou.pk},Q-3,1,2026-01-20,仪表,1,300,30,",
    )
    assert sales_import(actor=people.head, file=csv_file(*file)).ok
    expected = {
        (people.manager.pk, date(2026, 1, 1)): (Decimal("1250.50"), Decimal("125.05"), 2),
        (people.manager.pk, date(2026, 2, 1)): (Decimal("-200.00"), Decimal("-20.00"), 1),
        (people.sibling.pk, date(2026, 1, 1)): (Decimal("300.00"), Decimal("30.00"), 1),
    }
    assert credits() == expected
    again = sales_import(actor=people.head, file=csv_file(*file))
    assert (again.ok, again.created, again.skipped) == (True, 0, 4)
    assert credits() == expected

    account_services.account_update(actor=people.head, account=hangzhou, fields={"owner": people.sibling})
    assert credits() == expected
    assert sales_import(actor=people.head, file=csv_file(f"{hangzhou.pk},Q-4,1,2026-03-02,阀门,1,400,40,")).ok
    assert credits() == {**expected, (people.sibling.pk, date(2026, 3, 1)): (Decimal("400.00"), Decimal("40.00"), 1)}

    assert services.sales_months_recompute() == 4  # (杭州, Jan), (杭州, Feb), (杭州, Mar), (苏州, Jan)
    assert credits() == {**expected, (people.sibling.pk, date(2026, 3, 1)): (Decimal("400.00"), Decimal("40.00"), 1)}


def test_a_line_recorded_through_the_api_is_credited_too(people, accounts, api):
    """PIPE-7: POST /sales-records credits the owner (李娜, May 2026: 80 + 20 = 100, margin 8 + 2 = 10)."""
    hangzhou = accounts[0]
    client = api(people.manager)
    for number, (amount, margin) in enumerate([("80", "8"), ("20", "2")], 1):
        response = client.post("/sales-records", {"account_id": hangzhou.pk, "order_number": f"A-{number}",
                                                  "date": "2026-05-09", "product_line": "阀门", "quantity": "1",
                                                  "amount": amount, "gross_margin": margin})  # fmt: skip
        assert response.status_code == 201, response.content
    assert client.post("/sales-records", {"account_id": hangzhou.pk, "order_number": "A-1", "date": "2026-05-09",
                                          "product_line": "阀门", "quantity": "1", "amount": "80",
                                          "gross_margin": "8"}).status_code == 409  # fmt: skip
    assert credits() == {(people.manager.pk, date(2026, 5, 1)): (Decimal("100.00"), Decimal("10.00"), 2)}
    services.sales_months_recompute()
    assert credits() == {(people.manager.pk, date(2026, 5, 1)): (Decimal("100.00"), Decimal("10.00"), 2)}

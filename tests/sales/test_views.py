"""Sales pages (issue 3 item 6): the import page and the account page's sales history section."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kam.sales import services
from kam.sales.models import SalesImport, SalesRecord

pytestmark = pytest.mark.django_db

HEADER = "客户,订单号,行号,日期,产品线,数量,金额,毛利"


def _line(**fields):
    return {"order_number": "SO-1", "date": date(2025, 1, 5), "product_line": "工业阀门", "quantity": "1",
            "amount": "1000.00", "gross_margin": "200.00", **fields}  # fmt: skip


def test_the_account_page_shows_sales_by_month_newest_first(people, make_account, page_client):
    """Issue 3 item 6: Jan 1,000.00 + 234.50 = 1,234.50 (2 lines); Mar 99.90 (1 line); total 1334.40."""
    account = make_account(people.manager, "杭州恒达机械有限公司")
    services.sales_record_create(actor=people.manager, account=account, fields=_line())
    services.sales_record_create(actor=people.manager, account=account,
                                 fields=_line(line_number=2, amount="234.50", gross_margin="34.50"))  # fmt: skip
    services.sales_record_create(actor=people.manager, account=account,
                                 fields=_line(order_number="SO-2", date=date(2025, 3, 9), amount="99.90",
                                              gross_margin="9.90"))  # fmt: skip
    client = page_client(people.manager)
    page = client.get(f"/accounts/{account.pk}/")
    assert f"/accounts/{account.pk}/sales-history/" in page.content.decode()
    response = client.get(f"/accounts/{account.pk}/sales-history/")
    assert response.status_code == 200
    months = [(m.month, m.amount, m.lines) for m in response.context["months"]]
    assert months == [(date(2025, 3, 1), Decimal("99.90"), 1), (date(2025, 1, 1), Decimal("1234.50"), 2)]
    text = response.content.decode()
    assert "2025-03" in text and "1334.40" in text
    assert client.get(f"/accounts/{account.pk}/sales-history/").status_code == 200
    assert page_client(people.outsider).get(f"/accounts/{account.pk}/sales-history/").status_code == 404


def test_the_import_page_imports_or_lists_the_failed_rows(people, make_account, page_client):
    """Issue 3 item 6: the page runs the same all-or-nothing import and shows row, column and reason."""
    account = make_account(people.manager, "苏州精工电子有限公司")
    client = page_client(people.manager)
    good = SimpleUploadedFile("销售.csv", f"{HEADER}\n{account.pk},SO-1,1,2025-02-01,耗材,1,10,1\n".encode())
    response = client.post("/sales/import/", {"file": good})
    assert response.status_code == 302
    assert SalesRecord.objects.count() == 1
    bad = SimpleUploadedFile("销售.csv", f"{HEADER}\n{account.pk},SO-2,1,2025-02-01,耗材,1,-10,1\n".encode())
    response = client.post("/sales/import/", {"file": bad})
    assert response.status_code == 200
    assert [(e["row"], e["field"]) for e in response.context["report"].errors] == [(2, "amount")]
    assert SalesRecord.objects.count() == 1
    assert list(SalesImport.objects.order_by("pk").values_list("status", flat=True)) == ["done", "failed"]
    assert client.post("/sales/import/", {}).context["file_error"]
    assert page_client(people.finance).post("/sales/import/", {"file": good}).status_code == 403

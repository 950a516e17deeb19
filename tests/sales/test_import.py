"""Sales import from ERP exports (issue 3 item 6): all or nothing, idempotent, monthly aggregates kept."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kam.accounts.imports import ImportFileError
from kam.core.models import AuditAction, AuditEvent
from kam.sales.imports import sales_import
from kam.sales.models import SalesImport, SalesImportStatus, SalesMonth, SalesRecord, SalesSource

pytestmark = pytest.mark.django_db

HEADER = "客户,订单号,行号,日期,产品线,产品,数量,金额,毛利"


def csv_file(*lines, header=HEADER, encoding="utf-8-sig", name="销售明细.csv"):
    return SimpleUploadedFile(name, ("\n".join([header, *lines]) + "\n").encode(encoding), content_type="text/csv")


def months(account) -> list[tuple]:
    return [
        (m.month, m.amount, m.gross_margin, m.quantity, m.lines)
        for m in SalesMonth.objects.filter(account=account).order_by("month")
    ]


@pytest.fixture
def accounts(people, make_account):
    hangzhou = make_account(people.manager, "杭州恒达机械有限公司", credit_code="91330100MA2B3C4D5N")
    suzhou = make_account(people.manager, "苏州精工电子有限公司")
    foreign = make_account(people.outsider, "广州南方电子有限公司", credit_code="91440101MA5CXY0124")
    return hangzhou, suzhou, foreign


def test_an_erp_file_is_imported_with_its_monthly_aggregates(people, accounts):
    """Issue 3 item 6: accounts by credit code, exact name or id; Chinese headers; aggregates by hand:
    杭州 2025-01: 1000.50 + 200.00 = 1200.50, margin 100.25 + 50.00 = 150.25, qty 10 + 2.5, 2 lines;
    杭州 2025-02: 300.00, margin 30.00, qty 3, 1 line; 苏州 2024-12: 88.80, 8.80, 1, 1 line."""
    hangzhou, suzhou, _foreign = accounts
    report = sales_import(actor=people.manager, file=csv_file(
        "91330100MA2B3C4D5N,SO-001,1,2025-01-05,工业阀门,DN50 球阀,10,\"1,000.50\",100.25",
        f"{hangzhou.pk},SO-001,2,2025/1/31,仪器仪表,,2.5,200,50",
        "杭州恒达机械有限公司,SO-002,,2025年2月3日,工业阀门,蝶阀,3,300.00,30",
        "苏州精工电子有限公司,SO-003,1,20241215,耗材,滤芯,1,88.8,8.8",
    ))  # fmt: skip
    assert report.ok, report.errors
    assert (report.rows, report.created, report.skipped, report.failed) == (4, 4, 0, 0)
    assert months(hangzhou) == [
        (date(2025, 1, 1), Decimal("1200.50"), Decimal("150.25"), Decimal("12.5"), 2),
        (date(2025, 2, 1), Decimal("300.00"), Decimal("30.00"), Decimal("3"), 1),
    ]
    assert months(suzhou) == [(date(2024, 12, 1), Decimal("88.80"), Decimal("8.80"), Decimal("1"), 1)]
    line = SalesRecord.objects.get(order_number="SO-002")
    assert (line.line_number, line.date, line.product, line.source) == (1, date(2025, 2, 3), "蝶阀", SalesSource.IMPORT)
    batch = SalesImport.objects.get()
    assert (batch.status, batch.rows, batch.created, batch.skipped, batch.file_name) == (
        SalesImportStatus.DONE, 4, 4, 0, "销售明细.csv")  # fmt: skip
    assert set(SalesRecord.objects.values_list("sales_import", flat=True)) == {batch.pk}
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, target_type="sales.salesrecord").count() == 1


def test_the_same_file_twice_and_an_overlapping_file_never_double_revenue(people, accounts):
    """Issue 3 item 6 (idempotent): known (order, line) pairs are skipped and counted; only new lines add up."""
    hangzhou = accounts[0]
    first = (
        "91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,1,100,10",
        "91330100MA2B3C4D5N,SO-1,2,2025-03-02,工业阀门,,1,200,20",
    )
    assert sales_import(actor=people.manager, file=csv_file(*first)).created == 2
    again = sales_import(actor=people.manager, file=csv_file(*first))
    assert (again.ok, again.created, again.skipped) == (True, 0, 2)
    overlap = sales_import(actor=people.manager, file=csv_file(
        first[1], "91330100MA2B3C4D5N,SO-2,1,2025-03-20,工业阀门,,4,400,40"))  # fmt: skip
    assert (overlap.created, overlap.skipped) == (1, 1)
    assert SalesRecord.objects.count() == 3
    assert months(hangzhou) == [(date(2025, 3, 1), Decimal("700.00"), Decimal("70.00"), Decimal("6"), 3)]
    assert list(SalesImport.objects.order_by("pk").values_list("created", "skipped")) == [(2, 0), (0, 2), (1, 1)]


def test_one_bad_row_saves_nothing_and_the_report_names_row_and_field(people, accounts):
    """Issue 3 item 6: all or nothing per file; the failed attempt is kept with its errors."""
    report = sales_import(actor=people.manager, file=csv_file(
        "91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,1,100,10",
        "91330100MA2B3C4D5N,SO-1,2,2025-03-02,工业阀门,,1,-200,20",
        "91330100MA2B3C4D5N,SO-2,1,2025-02-30,工业阀门,,1,200,20",
    ))  # fmt: skip
    assert not report.ok
    assert (report.rows, report.failed, report.created) == (3, 2, 0)
    assert [(e["row"], e["field"]) for e in report.errors] == [(3, "amount"), (4, "date")]
    assert report.errors[0]["column"] and report.errors[0]["message"]
    assert not SalesRecord.objects.exists() and not SalesMonth.objects.exists()
    batch = SalesImport.objects.get()
    assert (batch.status, batch.failed, batch.created) == (SalesImportStatus.FAILED, 2, 0)
    assert [e["row"] for e in batch.errors] == [3, 4]


@pytest.mark.parametrize(
    "row, field",
    [
        ("91330100MA2B3C4D5N,SO-9,1,2025-13-01,工业阀门,,1,100,10", "date"),  # no such month
        ("91330100MA2B3C4D5N,SO-9,1,1999-12-31,工业阀门,,1,100,10", "date"),  # before 2000
        ("91330100MA2B3C4D5N,SO-9,1,,工业阀门,,1,100,10", "date"),
        ("91330100MA2B3C4D5N,SO-9,1,2025-01-01,工业阀门,,1,-100,-10", "amount"),  # negative, not a return
        ("91330100MA2B3C4D5N,SO-9,1,2025-01-01,工业阀门,,1,5000000000,10", "amount"),  # absurd
        ("91330100MA2B3C4D5N,SO-9,1,2025-01-01,工业阀门,,1,一百,10", "amount"),
        ("91330100MA2B3C4D5N,SO-9,1,2025-01-01,工业阀门,,1,100,-2000000000", "gross_margin"),
        ("91330100MA2B3C4D5N,SO-9,x,2025-01-01,工业阀门,,1,100,10", "line_number"),
        ("91330100MA2B3C4D5N,,1,2025-01-01,工业阀门,,1,100,10", "order_number"),
        ("91330100MA2B3C4D5N,SO-9,1,2025-01-01,,,1,100,10", "product_line"),
        ("不存在的公司,SO-9,1,2025-01-01,工业阀门,,1,100,10", "account"),
        ("91440101MA5CXY0124,SO-9,1,2025-01-01,工业阀门,,1,100,10", "account"),  # another branch's account
        ("广州南方电子有限公司,SO-9,1,2025-01-01,工业阀门,,1,100,10", "account"),
    ],
)
def test_malformed_rows_are_reported_with_their_field(people, accounts, row, field):
    """Issue 3 (malformed order files): bad dates, negative/absurd amounts, unknown or foreign accounts."""
    report = sales_import(
        actor=people.manager, file=csv_file("91330100MA2B3C4D5N,SO-8,1,2025-01-01,工业阀门,,1,1,0", row)
    )
    assert [(e["row"], e["field"]) for e in report.errors] == [(3, field)]
    assert not SalesRecord.objects.exists()


def test_a_date_in_the_future_is_refused(people, accounts):
    """Issue 3 item 6: not more than a day ahead."""
    later = (timezone.localdate() + timedelta(days=3)).isoformat()
    report = sales_import(actor=people.manager, file=csv_file(f"91330100MA2B3C4D5N,SO-9,1,{later},工业阀门,,1,100,10"))
    assert [(e["row"], e["field"]) for e in report.errors] == [(2, "date")]


def test_the_same_order_line_twice_in_one_file_is_an_error(people, accounts):
    """Issue 3 item 6: which of two rows for one order line is right cannot be guessed."""
    report = sales_import(actor=people.manager, file=csv_file(
        "91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,1,100,10",
        "苏州精工电子有限公司,SO-1,1,2025-03-01,工业阀门,,1,100,10",
    ))  # fmt: skip
    assert [(e["row"], e["field"]) for e in report.errors] == [(3, "order_number")]
    assert "2" in report.errors[0]["message"]
    assert not SalesRecord.objects.exists()


def test_a_return_is_negative_and_reduces_the_month(people, accounts):
    """Issue 3 item 6: a return (退货 = 是) carries negative quantity and amount: 500 − 120 = 380."""
    report = sales_import(actor=people.manager, file=csv_file(
        "91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,5,500,100,否",
        "91330100MA2B3C4D5N,RT-1,1,2025-03-09,工业阀门,,-1,-120,-24,是",
        header=HEADER + ",退货",
    ))  # fmt: skip
    assert report.ok, report.errors
    assert months(accounts[0]) == [(date(2025, 3, 1), Decimal("380.00"), Decimal("76.00"), Decimal("4"), 2)]


def test_gb18030_and_tab_separated_exports_are_read(people, accounts):
    """Issue 3 item 6: ERP exports in GBK / GB18030, tab separated, as Chinese Excel writes them."""
    data = csv_file("苏州精工电子有限公司\tSO-1\t1\t2025-03-01\t耗材\t密封件\t2\t20\t5",
                    header=HEADER.replace(",", "\t"), encoding="gb18030")  # fmt: skip
    report = sales_import(actor=people.manager, file=data)
    assert report.ok, report.errors
    assert SalesRecord.objects.get().product == "密封件"


def test_an_xlsx_export_is_read(people, accounts):
    """Issue 3 item 6: xlsx through the account import's guarded streaming reader (dates as date cells)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["客户名称", "订单编号", "行号", "订单日期", "产品线", "数量", "金额", "毛利额"])
    sheet.append(["91330100MA2B3C4D5N", "SO-X", 1, date(2025, 4, 2), "工业阀门", 3, 299.99, 29.99])
    buffer = io.BytesIO()
    book.save(buffer)
    report = sales_import(actor=people.manager, file=SimpleUploadedFile("销售.xlsx", buffer.getvalue()))
    assert report.ok, report.errors
    assert months(accounts[0]) == [(date(2025, 4, 1), Decimal("299.99"), Decimal("29.99"), Decimal("3"), 1)]


@pytest.mark.parametrize(
    "content, name, status",
    [
        (b"", "a.csv", 422),
        ("客户,订单号,日期\n甲,1,2025-01-01\n".encode(), "a.csv", 422),  # required columns missing
        (f"{HEADER},颜色\n".encode(), "a.csv", 422),  # unknown column
        (HEADER.encode() + b"\n", "a.csv", 422),  # no rows
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "a.xls", 415),
        (b"PK\x03\x04garbage", "a.xlsx", 422),
        ("客户,订单号\n".encode("utf-16"), "a.csv", 415),
    ],
)
def test_files_that_cannot_be_read_are_refused_naming_the_file(people, accounts, content, name, status):
    """Issue 3 (malformed order files): wrong columns, wrong type, empty; nothing is saved."""
    with pytest.raises(ImportFileError) as caught:
        sales_import(actor=people.manager, file=SimpleUploadedFile(name, content))
    assert caught.value.status == status
    assert "file" in caught.value.message_dict
    assert not SalesRecord.objects.exists()


def test_read_only_roles_cannot_import(people, accounts):
    """GOV-1: finance, service and executives change no account, so they record no sales either."""
    with pytest.raises(PermissionDenied):
        sales_import(actor=people.finance, file=csv_file("91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,1,100,10"))


def test_a_large_file_goes_in_batches_with_the_same_sums(people, accounts, monkeypatch):
    """Issue 3 item 6: batching (here 7 rows a batch) and duplicate detection across batches give the
    same result: 25 lines of 10.00 / margin 1.00 in March 2025 → 250.00 / 25.00, 25 lines; a repeat of
    line 3 in a later batch is an error naming it."""
    from kam.sales import imports

    monkeypatch.setattr(imports, "BATCH", 7)
    monkeypatch.setattr(imports, "MONTHS_PENDING", 1)  # the monthly sums added after every batch
    rows = [f"91330100MA2B3C4D5N,SO-{n // 3},{n % 3 + 1},2025-03-{n % 28 + 1:02d},耗材,,1,10,1" for n in range(25)]
    report = sales_import(actor=people.manager, file=csv_file(*rows))
    assert (report.ok, report.created) == (True, 25), report.errors
    assert months(accounts[0]) == [(date(2025, 3, 1), Decimal("250.00"), Decimal("25.00"), Decimal("25"), 25)]
    SalesRecord.objects.all().delete()
    SalesMonth.objects.all().delete()
    report = sales_import(actor=people.manager, file=csv_file(*rows, rows[2]))
    assert [(e["row"], e["field"]) for e in report.errors] == [(27, "order_number")]
    assert not SalesRecord.objects.exists()


# --- the API


def test_api_import_answers_201_with_the_report_and_422_with_row_errors(api, people, accounts):
    """Issue 3 item 13: POST /sales-records/import multipart; 422 saves nothing."""
    client = api(people.manager)
    good = client.client.post("/api/v1/sales-records/import", {"file": csv_file(
        "91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,1,100,10")}, **client.headers)  # fmt: skip
    assert good.status_code == 201, good.content
    assert (good.json()["created"], good.json()["skipped"]) == (1, 0)
    bad = client.client.post("/api/v1/sales-records/import", {"file": csv_file(
        "91330100MA2B3C4D5N,SO-2,1,2025-03-01,工业阀门,,1,100,10",
        "91440101MA5CXY0124,SO-3,1,2025-03-01,工业阀门,,1,100,10")}, **client.headers)  # fmt: skip
    assert bad.status_code == 422
    assert [(e["row"], e["field"]) for e in bad.json()["errors"]] == [(3, "account")]
    assert SalesRecord.objects.count() == 1
    wrong = client.client.post(
        "/api/v1/sales-records/import", {"file": csv_file(header="客户,订单号")}, **client.headers
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "file"
    assert api(people.finance).client.post("/api/v1/sales-records/import", {"file": csv_file(
        "91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,1,100,10")}, **api(people.finance).headers).status_code == 403  # fmt: skip


def test_the_kam_import_command_imports_sales_files(people, accounts, tmp_path, capsys):
    """Issue 3 item 6: `kam import FILE --entity sales` — 0 imported, 1 with the failed rows listed."""
    from kam import cli

    good = tmp_path / "销售.csv"
    good.write_text(HEADER + "\n91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,1,100,10\n", encoding="utf-8")
    assert cli.main(["import", str(good), "--entity", "sales", "--user", "lina"]) == 0
    assert SalesRecord.objects.count() == 1
    assert cli.main(["import", str(good), "--entity", "sales", "--user", "lina"]) == 0  # skipped, not doubled
    assert SalesRecord.objects.count() == 1
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\n91330100MA2B3C4D5N,SO-2,1,2025-03-01,工业阀门,,1,-100,10\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["import", str(bad), "--entity", "sales", "--user", "lina"]) == 1
    assert "2" in capsys.readouterr().err
    assert cli.main(["import", str(tmp_path / "missing.csv"), "--entity", "sales", "--user", "lina"]) == 2
    assert SalesRecord.objects.count() == 1


def test_an_order_line_written_meanwhile_by_another_import_is_a_409_not_a_500(people, accounts, monkeypatch):
    """Issue 3 item 6: if a concurrent import wrote a line between the duplicate check and the write, the
    unique (order, line) constraint refuses it; the file is rolled back with a clear error."""
    from kam.sales import imports

    line = "91330100MA2B3C4D5N,SO-1,1,2025-03-01,工业阀门,,1,100,10"
    sales_import(actor=people.manager, file=csv_file(line))
    monkeypatch.setattr(imports._SalesImporter, "existing_lines", lambda self, orders: {})  # the check missed it
    with pytest.raises(ImportFileError) as caught:
        sales_import(actor=people.manager, file=csv_file(line, "91330100MA2B3C4D5N,SO-2,1,2025-03-01,工业阀门,,1,5,1"))
    assert caught.value.status == 409
    assert SalesRecord.objects.count() == 1
    assert months(accounts[0]) == [(date(2025, 3, 1), Decimal("100.00"), Decimal("10.00"), Decimal("1"), 1)]

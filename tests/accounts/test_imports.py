"""Import and export of accounts and contacts (ARC-8), with the duplicate policy of ARC-5."""

import csv
import io
import zipfile
from datetime import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook
from openpyxl.utils.datetime import to_excel
from python_calamine import CalamineWorkbook
from stdnum.cn import uscc

from kam.accounts import imports, search
from kam.accounts.models import Account, AccountContact, Contact
from kam.cli import main as kam
from kam.core.models import AuditAction, AuditEvent

HEADER = ["客户名称*", "统一社会信用代码", "企业性质", "行业", "省", "市", "区", "电话", "负责人", "标签", "简称"]


def code(n: int) -> str:
    """A valid unified social credit code (GB 32100-2015 check character)."""
    base = f"914403{n:011d}"
    return base + uscc.calc_check_digit(base)


def xlsx_upload(rows, name="客户.xlsx") -> SimpleUploadedFile:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=imports.XLSX_TYPE)


def csv_upload(rows, name="客户.csv", encoding="utf-8-sig") -> SimpleUploadedFile:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return SimpleUploadedFile(name, text.getvalue().encode(encoding), content_type="text/csv")


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def read_xlsx(data: bytes) -> list[list]:
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    return [list(row) for row in sheet.iter_rows()]


def account_row(name, n=None, ownership="", industry="", province="", city="", district="", phone="", owner="",
                tags="", short=""):  # fmt: skip
    return [name, code(n) if n else "", ownership, industry, province, city, district, phone, owner, tags, short]


def import_accounts(actor, rows, on_duplicate="stop", upload=xlsx_upload):
    return imports.import_accounts(actor=actor, file=upload([HEADER, *rows]), on_duplicate=on_duplicate)


# ---------------------------------------------------------------------------------------------
# templates


def test_arc8_xlsx_template_marks_required_columns_and_explains_each(people):
    template = imports.import_template(entity="accounts", fmt="xlsx")
    workbook = load_workbook(template.file)
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    name_label = str(Account._meta.get_field("name").verbose_name)
    assert header[0] == f"{name_label}*"
    assert not header[1].endswith("*")  # English name is optional
    assert "name" in sheet["A1"].comment.text  # the stable column key
    ownership = header.index(str(Account._meta.get_field("ownership").verbose_name)) + 1
    assert "state_owned" in sheet.cell(row=1, column=ownership).comment.text
    assert workbook.worksheets[1].max_row > len(header)  # one line of instructions per column
    assert template.filename.endswith(".xlsx")


def test_arc8_contact_template_has_account_contact_and_position_columns(people):
    template = imports.import_template(entity="contacts", fmt="csv")
    header = next(csv.reader(io.StringIO(template.file.read().decode("utf-8-sig"))))
    keys = [c.key for c in imports.columns_for("contacts")]
    assert keys[0] == "account" and header[0].endswith("*")
    assert {"name", "mobile", "birthday", "title", "buying_role", "influence", "attitude"} <= set(keys)


def test_arc8_filled_in_template_imports(people):
    """The template's own headers (in the user's language) are read back."""
    template = imports.import_template(entity="accounts", fmt="xlsx")
    header = read_xlsx(template.file.read())[0]
    keys = [c.key for c in imports.columns_for("accounts")]
    row = [""] * len(header)
    row[keys.index("name")] = "华南重工股份有限公司"
    row[keys.index("lifecycle")] = "customer"
    report = imports.import_accounts(actor=people.manager, file=xlsx_upload([header, row]))
    assert report.ok and report.imported == 1
    assert Account.objects.get(name="华南重工股份有限公司").lifecycle == "customer"


# ---------------------------------------------------------------------------------------------
# importing accounts


def test_arc8_import_converts_labels_regions_owner_tags_and_short_names(people):
    rows = [
        account_row("深圳湾科技有限公司", 1, "国有企业", "信息技术", "广东省", "深圳市", "南山区", "0755-26668888",
                    "lina", "世界500强, 重点", "深湾、SZBay"),
        account_row("北京朝阳商贸有限公司", 2, "state_owned", "trade", "北京", "北京市", "朝阳区"),
        account_row("杭州西湖电子有限公司", 3, "", "", "", "杭州市", "西湖区"),
    ]  # fmt: skip
    report = import_accounts(people.head, rows)
    assert report.ok, report.as_dict()
    assert (report.imported, report.updated, report.skipped, report.failed) == (3, 0, 0, 0)
    bay = Account.objects.get(name="深圳湾科技有限公司")
    assert (bay.ownership, bay.industry) == ("state_owned", "it")
    assert (bay.province, bay.city, bay.district) == ("44", "4403", "440305")
    assert bay.credit_code == code(1) and bay.phone == "+8675526668888"
    assert bay.owner == people.manager and bay.department == people.manager.department
    assert sorted(t.name for t in bay.tags.all()) == ["世界500强", "重点"]
    assert bay.short_names == ["深湾", "SZBay"]
    beijing = Account.objects.get(name="北京朝阳商贸有限公司")
    assert (beijing.province, beijing.city, beijing.district) == ("11", "1101", "110105")
    assert beijing.owner == people.head  # empty owner: the importing user
    hangzhou = Account.objects.get(name="杭州西湖电子有限公司")
    assert (hangzhou.province, hangzhou.city, hangzhou.district) == ("33", "3301", "330106")
    # Search terms and audit trail are written as by account_create.
    assert [a.pk for a in search.search_accounts(people.head, "szwkj")] == [bay.pk]
    assert [a.pk for a in search.search_accounts(people.head, "深湾")] == [bay.pk]
    created = AuditEvent.objects.filter(action=AuditAction.CREATE, account_id=bay.pk).get()
    assert created.actor == people.head and created.changes["name"] == [None, "深圳湾科技有限公司"]
    assert created.changes["tags"] == [None, ["世界500强", "重点"]]
    event = AuditEvent.objects.get(action=AuditAction.IMPORT)
    assert event.extra["imported"] == 3 and event.extra["entity"] == "accounts"


def test_arc8_import_is_all_or_nothing_and_names_field_and_row(people):
    rows = [
        account_row("甲公司", 1),
        account_row("乙公司", 2, phone="12"),
        account_row("丙公司", 3, ownership="友好企业"),
        account_row("丁公司", 4),
    ]
    events = AuditEvent.objects.count()
    report = import_accounts(people.manager, rows)
    assert not report.ok and report.failed == 2 and report.imported == 0
    assert Account.objects.count() == 0 and AuditEvent.objects.count() == events
    errors = {(e.row, e.field) for e in report.errors}
    assert errors == {(3, "phone"), (4, "ownership")}
    phone_error = next(e for e in report.errors if e.field == "phone")
    assert phone_error.column == str(Account._meta.get_field("phone").verbose_name) and phone_error.message


def test_arc8_a_row_gets_all_its_problems_at_once(people):
    report = import_accounts(people.manager, [account_row("戊公司", ownership="友好企业", phone="12", province="火星")])
    assert {e.field for e in report.errors} == {"ownership", "phone", "province"}


def test_arc8_missing_required_value_and_foreign_owner_are_row_errors(people):
    rows = [account_row("", 1), account_row("己公司", 2, owner="wangwei"), account_row("庚公司", 3, owner="nobody")]
    report = import_accounts(people.manager, rows)
    assert {(e.row, e.field) for e in report.errors} == {(2, "name"), (3, "owner"), (4, "owner")}
    assert Account.objects.count() == 0


def test_arc8_error_report_is_an_xlsx_of_failed_rows_with_an_error_column(people):
    with translation.override("en"):
        report = import_accounts(people.manager, [account_row("甲公司", 1), account_row("乙公司", 2, phone="12")])
        rows = read_xlsx(report.xlsx_bytes())
    assert rows[0][0] == "row" and rows[0][1:-1] == HEADER and rows[0][-1] == "errors"
    assert len(rows) == 2
    assert rows[1][0] == 3 and rows[1][1] == "乙公司"
    assert rows[1][-1].startswith("phone: ") and "phone number" in rows[1][-1]


def test_arc8_corrected_error_report_can_be_imported_again(people):
    report = import_accounts(people.manager, [account_row("乙公司", 2, phone="12")])
    rows = read_xlsx(report.xlsx_bytes())
    rows[1][HEADER.index("电话") + 1] = "021-61234567"
    corrected = imports.import_accounts(actor=people.manager, file=xlsx_upload(rows))
    assert corrected.ok and corrected.imported == 1


def test_arc8_csv_in_gbk_and_utf8_import_alike(people):
    report = import_accounts(people.manager, [account_row("甲公司", 1, "民营企业")],
                             upload=lambda rows: csv_upload(rows, encoding="gbk"))  # fmt: skip
    assert report.ok
    report = import_accounts(people.manager, [account_row("乙公司", 2, "民营企业")], upload=csv_upload)
    assert report.ok
    assert set(Account.objects.values_list("name", "ownership")) == {("甲公司", "private"), ("乙公司", "private")}


def test_arc8_head_office_from_an_earlier_row_or_an_existing_account(people, make_account):
    make_account(people.manager, name="华为技术有限公司")
    header = ["客户名称", "总部"]
    upload = xlsx_upload(
        [header, ["华为深圳分公司", "华为技术有限公司"], ["华为南京研究所", ""], ["华为南京分部", "华为南京研究所"]]
    )
    report = imports.import_accounts(actor=people.manager, file=upload)
    assert report.ok, report.as_dict()
    assert Account.objects.get(name="华为深圳分公司").parent.name == "华为技术有限公司"
    assert Account.objects.get(name="华为南京分部").parent.name == "华为南京研究所"


# ---------------------------------------------------------------------------------------------
# duplicates (ARC-5)


def test_arc5_duplicate_stops_the_import_by_default(people, make_account):
    make_account(people.manager, name="甲公司", credit_code=code(1))
    report = import_accounts(people.manager, [account_row("新名字公司", 1), account_row("乙公司", 2)])
    assert not report.ok
    (error,) = report.errors
    assert (error.row, error.field) == (2, "credit_code") and "甲公司" in error.message
    assert not Account.objects.filter(name="乙公司").exists()


def test_arc5_duplicates_can_be_skipped(people, make_account):
    existing = make_account(people.manager, name="甲公司有限公司", phone="021-61234567")
    report = import_accounts(
        people.manager, [account_row("甲公司", industry="finance"), account_row("乙公司", 2)], "skip"
    )
    assert report.ok and (report.imported, report.skipped) == (1, 1)
    existing.refresh_from_db()
    assert existing.industry == "" and existing.version == 1


def test_arc5_duplicates_can_update_the_existing_account_with_filled_in_cells(people, make_account):
    existing = make_account(people.manager, name="甲公司", credit_code=code(1), phone="021-61234567", industry="it")
    report = import_accounts(people.manager, [account_row("甲公司", 1, "上市公司", tags="重点")], "update")
    assert report.ok and (report.imported, report.updated) == (0, 1)
    existing.refresh_from_db()
    assert existing.ownership == "listed" and existing.version == 2
    assert existing.industry == "it" and existing.phone == "+862161234567"  # empty cells change nothing
    assert [t.name for t in existing.tags.all()] == ["重点"]
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, account_id=existing.pk).exists()


def test_arc5_duplicate_outside_scope_is_neither_shown_nor_updated(people, make_account):
    make_account(people.outsider, name="华南秘密客户有限公司", credit_code=code(7))
    report = import_accounts(people.manager, [account_row("华南秘密客户", 7)], "update")
    assert not report.ok
    (error,) = report.errors
    assert "华南秘密" not in error.message and "赵强" not in error.message
    assert Account.objects.get(credit_code=code(7)).version == 1


def test_arc5_read_only_duplicate_is_not_updated(people, make_account):
    make_account(people.colleague, name="王伟的客户有限公司")
    report = import_accounts(people.dept_viewer, [account_row("王伟的客户", ownership="listed")], "update")
    assert not report.ok and report.errors[0].field == "name"


def test_arc8_the_same_company_twice_in_the_file_is_an_error(people):
    rows = [account_row("甲公司", 1), account_row("乙公司", 1), account_row("甲公司有限公司"), account_row("丙公司", 3)]
    for policy in ("skip", "update", "stop"):
        report = import_accounts(people.manager, rows, policy)
        assert {(e.row, e.field) for e in report.errors} == {(3, "credit_code"), (4, "name")}
        assert "2" in report.errors[0].message
    assert Account.objects.count() == 0


# ---------------------------------------------------------------------------------------------
# importing contacts

CONTACT_HEADER = ["客户", "姓名", "性别", "手机", "生日", "职务", "采购角色", "影响力", "态度"]


def test_arc8_import_contacts_with_positions(people, make_account):
    account = make_account(people.manager, name="甲公司", credit_code=code(1))
    rows = [
        CONTACT_HEADER,
        ["甲公司", "张伟", "男", "13812345678", "1980-05-20", "采购总监", "决策者", "5", "支持"],
        [code(1), "李静", "female", "", "1985/3/8", "工程师", "technical evaluator", 3, "neutral"],
    ]
    report = imports.import_contacts(actor=people.manager, file=xlsx_upload(rows))
    assert report.ok, report.as_dict()
    zhang = Contact.objects.get(name="张伟")
    assert (zhang.gender, zhang.mobile, str(zhang.birthday)) == ("male", "+8613812345678", "1980-05-20")
    position = AccountContact.objects.get(contact=zhang)
    assert (position.account, position.title, position.buying_role, position.influence, position.attitude) == (
        account, "采购总监", "decision_maker", 5, "supportive")  # fmt: skip
    assert AccountContact.objects.get(contact__name="李静").buying_role == "technical"


def test_arc8_contacts_only_at_accounts_you_may_change(people, make_account):
    make_account(people.colleague, name="王伟的客户")
    make_account(people.manager, name="甲公司")
    rows = [CONTACT_HEADER, ["甲公司", "张伟"], ["王伟的客户", "李静"], ["甲公司", "王五", "", "", "", "", "", "9"]]
    report = imports.import_contacts(actor=people.manager, file=xlsx_upload(rows))
    assert {(e.row, e.field) for e in report.errors} == {(3, "account"), (4, "influence")}
    assert Contact.objects.count() == 0


def test_arc8_contact_duplicates_follow_the_policy(people, make_account, make_contact):
    account = make_account(people.manager, name="甲公司")
    existing = make_contact(account, name="张伟", mobile="13812345678")
    rows = [CONTACT_HEADER, ["甲公司", "张伟", "", "138 1234 5678", "", "副总经理"], ["甲公司", "李静"]]
    assert not imports.import_contacts(actor=people.manager, file=xlsx_upload(rows)).ok
    report = imports.import_contacts(actor=people.manager, file=xlsx_upload(rows), on_duplicate="skip")
    assert (report.imported, report.skipped) == (1, 1)
    report = imports.import_contacts(actor=people.manager, file=xlsx_upload(rows[:2]), on_duplicate="update")
    assert report.updated == 1
    assert AccountContact.objects.get(contact=existing).title == "副总经理"
    twice = imports.import_contacts(
        actor=people.manager, file=xlsx_upload([CONTACT_HEADER, ["甲公司", "王五"], ["甲公司", "王五"]])
    )
    assert [e.row for e in twice.errors] == [3]


def test_arc8_only_editing_roles_import(people):
    with pytest.raises(PermissionDenied):
        import_accounts(people.finance, [account_row("甲公司")])


# ---------------------------------------------------------------------------------------------
# exporting


def test_arc8_export_contains_only_what_the_user_sees(people, make_account):
    make_account(people.manager, name="李娜的客户")
    make_account(people.colleague, name="王伟的客户")
    make_account(people.outsider, name="赵强的客户")

    def names(user):
        result = imports.export_accounts(actor=user, fmt="csv")
        rows = list(csv.reader(io.StringIO(result.file.read().decode("utf-8-sig"))))
        return {row[0] for row in rows[1:]}

    assert names(people.manager) == {"李娜的客户"}
    assert names(people.head) == {"李娜的客户", "王伟的客户"}
    assert names(people.finance) == {"李娜的客户", "王伟的客户", "赵强的客户"}


def test_arc8_export_is_audited_with_row_count_and_filters(people, make_account):
    make_account(people.manager, name="甲公司", industry="it")
    make_account(people.manager, name="乙公司", industry="finance")
    result = imports.export_accounts(actor=people.manager, fmt="xlsx", filters={"industry": "it", "q": ""})
    assert result.rows == 1 and result.filename.endswith(".xlsx")
    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert event.actor == people.manager
    assert event.extra["rows"] == 1 and event.extra["filters"] == {"industry": "it"} and event.extra["format"] == "xlsx"


def test_arc8_export_writes_labels_and_region_names_that_import_back(people, make_account):
    make_account(people.manager, name="深圳湾科技有限公司", ownership="state_owned", province="44", city="4403",
                 district="440305", short_names="深湾、SZBay", credit_code=code(1))  # fmt: skip
    exported = imports.export_accounts(actor=people.manager, fmt="xlsx").file.read()
    header, row = read_xlsx(exported)
    keys = [c.key for c in imports.columns_for("accounts")]
    assert row[keys.index("province")] == "广东省" and row[keys.index("district")] == "南山区"
    assert row[keys.index("ownership")] == str(Account._meta.get_field("ownership").choices[1][1])
    assert row[keys.index("owner")] == "lina" and row[keys.index("short_names")] == "深湾、SZBay"
    again = imports.import_accounts(actor=people.manager, file=xlsx_upload([header, row]), on_duplicate="skip")
    assert again.ok and again.skipped == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_arc8_export_neutralizes_formulas(people, make_account, make_contact, fmt):
    account = make_account(
        people.manager, name='=HYPERLINK("http://evil")', address="@SUM(A1)", phone="+86 21 6123 4567"
    )
    make_contact(account, name="-2+3", notes="\tcmd")
    accounts = imports.export_accounts(actor=people.manager, fmt=fmt).file.read()
    contacts = imports.export_contacts(actor=people.manager, fmt=fmt).file.read()
    if fmt == "csv":
        row = list(csv.reader(io.StringIO(accounts.decode("utf-8-sig"))))[1]
        assert row[0] == '\'=HYPERLINK("http://evil")' and "'@SUM(A1)" in row and "'+862161234567" in row
        contact_row = list(csv.reader(io.StringIO(contacts.decode("utf-8-sig"))))[1]
        assert "'-2+3" in contact_row and "'\tcmd" in contact_row
    else:
        with io.BytesIO(accounts) as data, zipfile.ZipFile(data) as archive:
            sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        assert "<f>" not in sheet and 't="inlineStr"' in sheet
        workbook = load_workbook(io.BytesIO(accounts))
        cell = workbook.active["A2"]
        assert cell.value == '=HYPERLINK("http://evil")' and cell.data_type == "s"


def test_arc8_export_contacts_from_visible_accounts(people, make_account, make_contact):
    mine = make_account(people.manager, name="李娜的客户")
    other = make_account(people.outsider, name="赵强的客户")
    make_contact(mine, name="张伟", position={"title": "经理", "buying_role": "user"})
    make_contact(other, name="秘密联系人")
    result = imports.export_contacts(actor=people.manager, fmt="csv")
    rows = list(csv.reader(io.StringIO(result.file.read().decode("utf-8-sig"))))
    assert [row[:2] for row in rows[1:]] == [["李娜的客户", "张伟"]]
    assert result.rows == 1
    assert AuditEvent.objects.get(action=AuditAction.EXPORT).extra["entity"] == "contacts"


# ---------------------------------------------------------------------------------------------
# the API


def test_arc8_api_template_download_has_a_chinese_rfc5987_filename(people, api):
    with translation.override("zh-hans"):
        response = api(people.manager).get("/imports/templates/accounts")
    assert response.status_code == 200
    assert response["Content-Type"] == imports.XLSX_TYPE
    assert "filename*=utf-8''" in response["Content-Disposition"]
    assert content(response).startswith(b"PK\x03\x04")
    assert api(people.manager).get("/imports/templates/visitors").status_code == 404


def test_arc8_api_import_reports_counts(people, api):
    upload = xlsx_upload([HEADER, account_row("甲公司", 1), account_row("乙公司", 2)])
    response = api(people.manager).client.post("/api/v1/imports/accounts", {"file": upload, "on_duplicate": "skip"},
                                               **api(people.manager).headers)  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json() | {"detail": ""} == {"ok": True, "detail": "", "imported": 2, "updated": 0, "skipped": 0,
                                                "failed": 0, "errors": [], "errors_truncated": False, "report_url": None}  # fmt: skip


def test_arc8_api_failed_import_is_422_with_the_report_for_its_author_only(people, api):
    client = api(people.manager)
    upload = xlsx_upload([HEADER, account_row("甲公司", 1), account_row("乙公司", 2, phone="12")])
    response = client.client.post("/api/v1/imports/accounts", {"file": upload}, **client.headers)
    assert response.status_code == 422
    body = response.json()
    assert (body["imported"], body["failed"]) == (0, 1)
    assert body["errors"][0]["row"] == 3 and body["errors"][0]["field"] == "phone"
    assert Account.objects.count() == 0
    report = client.get(body["report_url"])
    assert report.status_code == 200 and read_xlsx(content(report))[1][1] == "乙公司"
    assert api(people.colleague).get(body["report_url"]).status_code == 404


def test_arc8_api_import_is_for_editing_roles(people, api):
    client = api(people.finance)
    upload = xlsx_upload([HEADER, account_row("甲公司", 1)])
    response = client.client.post("/api/v1/imports/accounts", {"file": upload}, **client.headers)
    assert response.status_code == 403 and response.json()["detail"]


def test_arc8_api_export_with_list_filters(people, api, make_account):
    make_account(people.manager, name="甲公司", industry="it")
    make_account(people.manager, name="乙公司", industry="finance")
    response = api(people.manager).get("/exports/accounts", {"format": "csv", "industry": "finance"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "filename*=utf-8''" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(content(response).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["乙公司"]
    response = api(people.executive).get("/exports/contacts", {"format": "xlsx"})
    assert response.status_code == 200
    assert api(people.manager).get("/exports/accounts", {"format": "pdf"}).status_code == 422


# ---------------------------------------------------------------------------------------------
# the page


def test_arc8_import_page_shows_templates_upload_and_exports(people, page_client):
    page = page_client(people.manager).get(reverse("import_page"))
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("import_template", args=["accounts", "xlsx"]) in html
    assert reverse("export_download", args=["contacts"]) in html and 'type="file"' in html
    finance_page = page_client(people.finance).get(reverse("import_page")).content.decode()
    assert 'type="file"' not in finance_page and reverse("export_download", args=["accounts"]) in finance_page


def test_arc8_import_page_shows_failed_rows_and_a_private_report(people, page_client):
    client = page_client(people.manager)
    upload = xlsx_upload([HEADER, account_row("甲公司", 1), account_row("乙公司", 2, phone="12")])
    page = client.post(reverse("import_page"), {"entity": "accounts", "on_duplicate": "stop", "file": upload})
    assert page.status_code == 200
    report = page.context["report"]
    assert report.failed == 1 and page.context["failed_rows"][0]["row"] == 3
    url = reverse("import_report", args=[page.context["report_token"]])
    assert url in page.content.decode()
    download = client.get(url)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")
    assert read_xlsx(content(download))[1][1] == "乙公司"
    assert page_client(people.colleague).get(url).status_code == 404
    assert client.get(reverse("import_report", args=["secret_key"])).status_code == 404
    assert client.get(reverse("import_report", args=["0" * 32])).status_code == 404


def test_arc8_import_page_success_and_bad_file(people, page_client):
    client = page_client(people.manager)
    upload = xlsx_upload([HEADER, account_row("甲公司", 1)])
    response = client.post(reverse("import_page"), {"entity": "accounts", "on_duplicate": "stop", "file": upload})
    assert response.status_code == 302 and Account.objects.filter(name="甲公司").exists()
    bad = SimpleUploadedFile("a.xlsx", b"not a workbook")
    page = client.post(reverse("import_page"), {"entity": "accounts", "on_duplicate": "stop", "file": bad})
    assert page.status_code == 200 and page.context["file_error"]
    assert page_client(people.finance).post(reverse("import_page"), {"entity": "accounts"}).status_code == 403


def test_arc8_page_export_download(people, page_client, make_account):
    make_account(people.manager, name="甲公司")
    response = page_client(people.manager).get(reverse("export_download", args=["accounts"]), {"format": "xlsx"})
    assert response.status_code == 200
    assert read_xlsx(content(response))[1][0] == "甲公司"


# ---------------------------------------------------------------------------------------------
# the command line


def test_arc8_cli_import_and_export(people, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_upload([HEADER, account_row("甲公司", 1, owner="lina")]).read())
    assert kam(["import", str(good), "--entity", "accounts", "--user", "chen"]) == 0
    assert Account.objects.get(name="甲公司").owner == people.manager

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx_upload([HEADER, account_row("乙公司", 2, phone="12")]).read())
    report = tmp_path / "errors.xlsx"
    assert kam(["import", str(bad), "--entity", "accounts", "--report", str(report)]) == 1
    assert "2" in capsys.readouterr().err
    assert read_xlsx(report.read_bytes())[1][1] == "乙公司"

    assert kam(["import", str(tmp_path / "missing.xlsx"), "--entity", "accounts"]) == 2
    (tmp_path / "empty.csv").write_bytes(b"")
    assert kam(["import", str(tmp_path / "empty.csv"), "--entity", "accounts"]) == 2
    assert kam(["import", str(good), "--entity", "accounts", "--user", "nobody"]) == 2

    out = tmp_path / "accounts.xlsx"
    assert kam(["export", "--entity", "accounts", "--user", "lina", "--format", "xlsx", "-o", str(out)]) == 0
    assert [row[0] for row in read_xlsx(out.read_bytes())[1:]] == ["甲公司"]
    capsys.readouterr()
    assert kam(["export", "--entity", "contacts"]) == 0  # the first administrator, csv to stdout
    assert capsys.readouterr().out.startswith("\ufeff")
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT).count() == 2


# ---------------------------------------------------------------------------------------------
# workbooks as Excel and WPS write them


def excel_style_workbook() -> bytes:
    """Shared strings with rich text and phonetic runs, prefixed XML, date styles, booleans,
    formulas with cached values, cells without references: what the streaming reader must read."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    strings = ["客户", "姓名", "生日", "农历生日", "影响力", "职务", "甲公司"]
    shared = "".join(f"<si><t>{s}</t></si>" for s in strings)
    shared += '<si><r><t>张</t></r><r><rPr><b/></rPr><t>伟</t></r><rPh sb="0" eb="1"><t>zhang</t></rPh></si>'
    birthday = int(to_excel(datetime(1980, 5, 20)))
    sheet = (
        f'<x:worksheet xmlns:x="{main}"><x:sheetData>'
        '<x:row r="1">' + "".join(f'<x:c r="{col}1" t="s"><x:v>{i}</x:v></x:c>' for i, col in enumerate("ABCDEF")) + "</x:row>"
        '<x:row r="3"><x:c r="A3" t="s"><x:v>6</x:v></x:c><x:c r="B3" t="s"><x:v>7</x:v></x:c>'
        f'<x:c r="C3" s="1"><x:v>{birthday}</x:v></x:c><x:c r="D3" t="b"><x:v>1</x:v></x:c>'
        '<x:c r="E3"><x:f>2+2</x:f><x:v>4</x:v></x:c><x:c r="F3" t="inlineStr"><x:is><x:t>总经理</x:t></x:is></x:c></x:row>'
        '<x:row><x:c t="s"><x:v>6</x:v></x:c><x:c t="inlineStr"><x:is><x:t>李静</x:t></x:is></x:c>'
        f'<x:c s="2"><x:v>{birthday + 1}</x:v></x:c></x:row>'
        "</x:sheetData></x:worksheet>"
    )  # fmt: skip
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
        '<sheet name="联系人" sheetId="1" r:id="rId7"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId7" Type="{rel}/worksheet" Target="worksheets/contacts.xml"/>'
        f'<Relationship Id="rId8" Type="{rel}/sharedStrings" Target="/xl/strings.xml"/>'
        f'<Relationship Id="rId9" Type="{rel}/styles" Target="styles.xml"/></Relationships>',
        "xl/worksheets/contacts.xml": sheet,
        "xl/strings.xml": f'<sst xmlns="{main}">{shared}</sst>',
        "xl/styles.xml": f'<styleSheet xmlns="{main}"><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs>'
        '<cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="31"/></cellXfs></styleSheet>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + text)
    return buffer.getvalue()


def test_arc8_reads_shared_strings_dates_and_formulas_as_excel_writes_them(people, make_account):
    make_account(people.manager, name="甲公司")
    upload = SimpleUploadedFile("联系人.xlsx", excel_style_workbook())
    report = imports.import_contacts(actor=people.manager, file=upload)
    assert report.ok, report.as_dict()
    zhang = Contact.objects.get(name="张伟")  # the phonetic run is not part of the name
    assert str(zhang.birthday) == "1980-05-20" and zhang.birthday_is_lunar
    position = AccountContact.objects.get(contact=zhang)
    assert position.influence == 4 and position.title == "总经理"
    assert str(Contact.objects.get(name="李静").birthday) == "1980-05-21"

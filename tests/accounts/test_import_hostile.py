"""Hostile and broken import files get a clear 4xx naming the problem, never a 500 (ARC-8).

Each case goes through the service (ImportFileError with its HTTP status) and through the API
(4xx JSON with `detail` and a `file` error); nothing is ever saved.
"""

import csv
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from openpyxl import Workbook

from kam.accounts import imports
from kam.accounts.models import Account, Contact

HEADER = ["客户名称*", "行业"]


def xlsx_bytes(rows=None) -> bytes:
    workbook = Workbook()
    for row in rows or [HEADER, ["甲公司", "finance"]]:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows=None, encoding="utf-8-sig") -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows or [HEADER, ["甲公司", "finance"]])
    return text.getvalue().encode(encoding)


def rewrite_xlsx(replace: dict[str, callable]) -> bytes:
    """A real workbook with some of its parts rewritten."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename in replace:
                data = replace[info.filename](data)
            target.writestr(info.filename, data)
    return buffer.getvalue()


def with_doctype(declaration: bytes, use: bytes = b""):
    def rewrite(xml: bytes) -> bytes:
        xml = xml.replace(b"</sheetData>", use + b"</sheetData>", 1)
        if xml.startswith(b"<?xml"):
            head, _, rest = xml.partition(b"?>")
            return head + b"?>" + declaration + rest
        return declaration + xml

    return rewrite


BILLION_LAUGHS = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
)
XXE = b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<worksheet>" + b" " * (20 * 2**20) + b"</worksheet>")
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return buffer.getvalue()


def damaged_deflate() -> bytes:
    data = bytearray(xlsx_bytes([HEADER, *[[f"公司{i}", "it"] for i in range(2000)]]))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 50, start + info.compress_size - 50, 7):
        data[i] ^= 0x5A
    return bytes(data)


CASES = {
    # name: (file name, content, HTTP status, words of the message in English)
    "png renamed to xlsx": ("accounts.xlsx", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 415, "not an xlsx"),
    "an image": ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 415, "Only .xlsx and .csv"),
    "old excel": ("accounts.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, 415, ".xls"),
    "binary as csv": ("accounts.csv", b"\x7fELF\x02\x01\x01\x00" + b"\0" * 100, 415, "not a text"),
    "utf-16 csv": ("accounts.csv", "客户名称\n甲公司\n".encode("utf-16"), 415, "UTF-16"),
    "zip that is no workbook": ("accounts.xlsx", plain_zip(), 415, "not an Excel workbook"),
    "zip bomb": ("accounts.xlsx", zip_bomb(), 413, "zip bomb"),
    "billion laughs": ("accounts.xlsx", rewrite_xlsx({"xl/worksheets/sheet1.xml": with_doctype(
        BILLION_LAUGHS, b'<row r="3"><c r="A3" t="inlineStr"><is><t>&lol2;</t></is></c></row>')}), 422, "DOCTYPE"),
    "external entity": ("accounts.xlsx", rewrite_xlsx({"xl/workbook.xml": with_doctype(XXE)}), 422, "DOCTYPE"),
    "entity in utf-16": ("accounts.xlsx", rewrite_xlsx({"xl/styles.xml": lambda x: (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE s [<!ENTITY a "b">]>' + x.decode()).encode("utf-16")}),
        422, "DOCTYPE"),
    "truncated xlsx": ("accounts.xlsx", xlsx_bytes()[:3000], 422, "damaged"),
    "damaged compressed data": ("accounts.xlsx", damaged_deflate(), 422, "damaged"),
    "broken sheet xml": ("accounts.xlsx", rewrite_xlsx({"xl/worksheets/sheet1.xml": lambda x: x[: len(x) // 2]}),
                         422, "damaged"),
    "undecodable csv": ("accounts.csv", "客户名称\n".encode() + b"\x80\xff\xfe\x81 \n", 422, "cannot be read"),
    "malformed csv": ("accounts.csv", csv_bytes([HEADER, ["x" * 200_000]]), 422, "malformed"),
    "empty file": ("accounts.csv", b"", 422, "empty"),
    "blank sheet": ("accounts.xlsx", xlsx_bytes([[]]), 422, "no header"),
    "header only": ("accounts.csv", csv_bytes([HEADER]), 422, "no rows"),
    "required column missing": ("accounts.xlsx", xlsx_bytes([["行业"], ["finance"]]), 422, "legal name"),
    "unknown column": ("accounts.csv", csv_bytes([[*HEADER, "星座"], ["甲公司", "it", "白羊"]]), 422, "星座"),
    "column twice": ("accounts.csv", csv_bytes([["客户名称", "公司名称"], ["甲", "乙"]]), 422, "twice"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_arc8_hostile_file_is_refused_by_the_service(people, case):
    name, content, status, words = CASES[case]
    with translation.override("en"), pytest.raises(imports.ImportFileError) as refused:
        imports.import_accounts(actor=people.manager, file=SimpleUploadedFile(name, content))
    assert refused.value.status == status
    assert words in refused.value.message_text
    assert not Account.objects.exists()


@pytest.mark.parametrize("case", CASES)
def test_arc8_hostile_file_gets_4xx_json_from_the_api(people, api, case):
    name, content, status, words = CASES[case]
    client = api(people.manager)
    response = client.client.post("/api/v1/imports/accounts", {"file": SimpleUploadedFile(name, content)},
                                  HTTP_ACCEPT_LANGUAGE="en", **client.headers)  # fmt: skip
    assert response.status_code == status
    body = response.json()
    assert words in body["detail"] and body["errors"] == [{"field": "file", "message": body["detail"]}]
    assert not Account.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_arc8_oversized_file_is_413(people, api, settings, fmt):
    settings.IMPORT_MAX_BYTES = 4096
    content = (csv_bytes if fmt == "csv" else xlsx_bytes)([HEADER, *[[f"公司{i}", "it"] for i in range(400)]])
    assert len(content) > 4096
    with translation.override("en"), pytest.raises(imports.ImportFileError) as refused:
        imports.import_accounts(actor=people.manager, file=SimpleUploadedFile(f"a.{fmt}", content))
    assert refused.value.status == 413 and "larger than" in refused.value.message_text
    client = api(people.manager)
    response = client.client.post("/api/v1/imports/accounts", {"file": SimpleUploadedFile(f"a.{fmt}", content)},
                                  **client.headers)  # fmt: skip
    assert response.status_code == 413 and response.json()["detail"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_arc8_too_many_rows_is_413_and_nothing_saved(people, api, settings, fmt):
    settings.IMPORT_MAX_ROWS = 3
    content = (csv_bytes if fmt == "csv" else xlsx_bytes)([HEADER, *[[f"公司{i}", "it"] for i in range(5)]])
    with translation.override("en"), pytest.raises(imports.ImportFileError) as refused:
        imports.import_accounts(actor=people.manager, file=SimpleUploadedFile(f"a.{fmt}", content))
    assert refused.value.status == 413 and "more than 3 rows" in refused.value.message_text
    client = api(people.manager)
    response = client.client.post("/api/v1/imports/accounts", {"file": SimpleUploadedFile(f"a.{fmt}", content)},
                                  **client.headers)  # fmt: skip
    assert response.status_code == 413
    assert not Account.objects.exists()


def test_arc8_workbook_that_unpacks_beyond_the_limit_is_413(people, settings):
    settings.IMPORT_MAX_UNPACKED_BYTES = 4096
    with pytest.raises(imports.ImportFileError) as refused:
        imports.import_accounts(actor=people.manager, file=SimpleUploadedFile("a.xlsx", xlsx_bytes()))
    assert refused.value.status == 413


def test_arc8_contacts_import_refuses_hostile_files_too(people, api):
    client = api(people.manager)
    for name, content, status, _words in (CASES["billion laughs"], CASES["zip bomb"], CASES["required column missing"]):
        response = client.client.post("/api/v1/imports/contacts", {"file": SimpleUploadedFile(name, content)},
                                      **client.headers)  # fmt: skip
        assert response.status_code == status
    assert not Contact.objects.exists()


def test_arc8_api_bad_requests_are_4xx(people, api):
    client = api(people.manager)
    assert client.client.post("/api/v1/imports/accounts", {}, **client.headers).status_code == 422
    upload = SimpleUploadedFile("a.csv", csv_bytes())
    response = client.client.post(
        "/api/v1/imports/accounts", {"file": upload, "on_duplicate": "merge"}, **client.headers
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "on_duplicate"
    upload = SimpleUploadedFile("a.csv", csv_bytes())
    assert client.client.post("/api/v1/imports/visitors", {"file": upload}, **client.headers).status_code == 404
    assert not Account.objects.exists()


def test_arc8_gbk_csv_is_read_and_a_bom_is_ignored(people):
    for encoding in ("gbk", "gb18030", "utf-8", "utf-8-sig"):
        content = csv_bytes([HEADER, [f"{encoding}测试公司", "金融业"]], encoding=encoding)
        report = imports.import_accounts(actor=people.manager, file=SimpleUploadedFile("a.csv", content))
        assert report.ok, (encoding, report.as_dict())
    assert set(Account.objects.values_list("industry", flat=True)) == {"finance"}


def test_arc8_the_xml_parser_itself_refuses_entities(people):
    """Second line of defence behind the scan of the zip: the reader's parser refuses DTDs."""
    for xml in (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', b'<!DOCTYPE x SYSTEM "http://evil/x.dtd"><x/>'):
        with pytest.raises(imports.ImportFileError):
            imports._parser().Parse(xml, True)


def test_arc8_sheet_with_absurdly_many_columns_is_refused(people, api):
    workbook = Workbook()
    workbook.active.append(HEADER)
    workbook.active.cell(row=2, column=imports.MAX_COLUMNS + 5, value="x")
    buffer = io.BytesIO()
    workbook.save(buffer)
    client = api(people.manager)
    upload = SimpleUploadedFile("a.xlsx", buffer.getvalue())
    response = client.client.post(
        "/api/v1/imports/accounts", {"file": upload}, HTTP_ACCEPT_LANGUAGE="en", **client.headers
    )
    assert response.status_code == 422 and "columns" in response.json()["detail"]

"""Import and export of accounts and contacts as xlsx or csv (ARC-8).

An import first puts the file through guards (size, type by its magic bytes, zip bombs, XML
declarations, text encoding, row count), maps the columns (named in any shipped language or by
their stable key), converts the cells (choice labels, region names, usernames, dates) and hands
every row to the services the pages and the API use, inside one transaction. If any row fails,
the whole file is rolled back and the report names each failed row, field and reason.

Exports start from the caller's data scope, are written to the audit trail, and never let a cell
become a formula (csv cells get a leading apostrophe, xlsx cells are text cells).
"""

import codecs
import csv
import io
import posixpath
import re
import secrets
import sys
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from xml.parsers import expat
from xml.sax.saxutils import escape as xml_escape

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.styles.numbers import is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel
from stdnum.cn import uscc

from kam.accounts import search, selectors, services
from kam.accounts.models import (
    Account,
    AccountContact,
    Attitude,
    BuyingRole,
    Contact,
    Gender,
    Industry,
    LeadSource,
    Lifecycle,
    Ownership,
    Personality,
    ProcurementMode,
    PurchasePattern,
    SearchTerm,
    ValueTier,
)
from kam.accounts.names import normalize_company_name, pinyin_syllables
from kam.core import audit, regions, scopes
from kam.core.db import WriteBehind, analyze
from kam.core.errors import ConflictError, DuplicateError
from kam.core.models import AuditAction
from kam.core.validators import clean_credit_code, clean_phone
from kam.org.models import Role

ENTITIES = ("accounts", "contacts")
FORMATS = ("xlsx", "csv")
ON_DUPLICATE = ("skip", "update", "stop")
BATCH = 1000  # rows validated and saved together
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
# Cells starting with these become formulas in spreadsheet programs (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))  # settings.py declares them; the default guards old configs


def max_bytes() -> int:
    return _limit("IMPORT_MAX_BYTES", 50 * 2**20)


def max_rows() -> int:
    return _limit("IMPORT_MAX_ROWS", 200_000)


def max_unpacked_bytes() -> int:
    """What an xlsx may unpack to: enough for IMPORT_MAX_ROWS real rows, far below a zip bomb."""
    return _limit("IMPORT_MAX_UNPACKED_BYTES", 400 * 2**20)


def max_zip_ratio() -> int:
    """Real xlsx parts compress 5–30 times; a zip bomb a thousand times."""
    return _limit("IMPORT_MAX_ZIP_RATIO", 200)


def report_max_rows() -> int:
    """Failed rows kept in detail in a report (the count is always complete)."""
    return _limit("IMPORT_REPORT_MAX_ROWS", 1000)


class ImportFileError(ValidationError):
    """The file itself cannot be imported (type, size, structure, columns); nothing was saved."""

    def __init__(self, message, *, status: int = 422):
        super().__init__({"file": [message]})
        self.status = status
        self.message_text = str(message)


# ---------------------------------------------------------------------------------------------
# columns


@dataclass(frozen=True)
class Column:
    """A column of an import template: stable key, label in the user's language, how cells read."""

    key: str
    label: object
    kind: str = "text"  # text, choice, int, decimal, bool, date, region, user, parent, account, tags
    required: bool = False
    choices: type | None = None
    aliases: tuple[str, ...] = ()  # header names found in customers' own Chinese spreadsheets


def _verbose(model, name: str):
    return model._meta.get_field(name).verbose_name


def _account_columns() -> list[Column]:
    a = Account
    return [
        Column("name", _verbose(a, "name"), required=True, aliases=("客户名称", "公司名称", "企业名称", "单位名称", "客户全称")),
        Column("name_en", _verbose(a, "name_en"), aliases=("英文名称", "英文名")),
        Column("short_names", _verbose(a, "short_names"), aliases=("简称", "客户简称")),
        Column("credit_code", _verbose(a, "credit_code"), aliases=("统一社会信用代码", "信用代码", "社会信用代码")),
        Column("credit_code_exception", _verbose(a, "credit_code_exception"), "bool"),
        Column("industry", _verbose(a, "industry"), "choice", choices=Industry, aliases=("行业", "所属行业")),
        Column("ownership", _verbose(a, "ownership"), "choice", choices=Ownership, aliases=("企业性质", "所有制", "性质", "企业类型")),
        Column("employees", _verbose(a, "employees"), "int", aliases=("员工人数", "人数", "员工数")),
        Column("annual_revenue", _verbose(a, "annual_revenue"), "decimal", aliases=("年营业额", "年收入", "营业收入", "年营收")),
        Column("province", _verbose(a, "province"), "region", aliases=("省", "省份")),
        Column("city", _verbose(a, "city"), "region", aliases=("市", "城市", "地市")),
        Column("district", _verbose(a, "district"), "region", aliases=("区", "区县", "县区")),
        Column("address", _verbose(a, "address"), aliases=("地址", "详细地址", "公司地址")),
        Column("phone", _verbose(a, "phone"), aliases=("电话", "联系电话", "总机", "公司电话")),
        Column("website", _verbose(a, "website"), aliases=("网址", "官网", "网站")),
        Column("parent", _verbose(a, "parent"), "parent", aliases=("总部", "上级单位", "总公司", "上级公司")),
        Column("procurement_mode", _verbose(a, "procurement_mode"), "choice", choices=ProcurementMode, aliases=("采购模式", "采购方式")),
        Column("purchase_pattern", _verbose(a, "purchase_pattern"), "choice", choices=PurchasePattern, aliases=("购买模式", "采购类型")),
        Column("lead_source", _verbose(a, "lead_source"), "choice", choices=LeadSource, aliases=("客户来源", "来源", "线索来源")),
        Column("lifecycle", _verbose(a, "lifecycle"), "choice", choices=Lifecycle, aliases=("客户状态", "生命周期", "状态")),
        Column("value_tier", _verbose(a, "value_tier"), "choice", choices=ValueTier, aliases=("价值等级", "客户价值等级", "客户等级")),
        Column("description", _verbose(a, "description"), aliases=("备注", "说明")),
        Column("owner", _verbose(a, "owner"), "user", aliases=("负责人", "客户经理", "归属人", "所属客户经理")),
        Column("tags", gettext_lazy("tags"), "tags", aliases=("标签",)),
    ]  # fmt: skip


def _contact_columns() -> list[Column]:
    c, p = Contact, AccountContact
    return [
        Column("account", gettext_lazy("account"), "account", required=True, aliases=("客户", "客户名称", "公司", "公司名称", "单位")),
        Column("name", _verbose(c, "name"), required=True, aliases=("姓名", "联系人", "联系人姓名")),
        Column("name_en", _verbose(c, "name_en"), aliases=("英文名",)),
        Column("gender", _verbose(c, "gender"), "choice", choices=Gender, aliases=("性别",)),
        Column("mobile", _verbose(c, "mobile"), aliases=("手机", "手机号", "手机号码")),
        Column("phone", _verbose(c, "phone"), aliases=("电话", "办公电话", "座机")),
        Column("email", _verbose(c, "email"), aliases=("邮箱", "电子邮件", "email")),
        Column("wechat", _verbose(c, "wechat"), aliases=("微信", "微信号")),
        Column("birthday", _verbose(c, "birthday"), "date", aliases=("生日", "出生日期")),
        Column("birthday_is_lunar", _verbose(c, "birthday_is_lunar"), "bool", aliases=("农历生日",)),
        Column("birth_year", _verbose(c, "birth_year"), "int", aliases=("出生年份",)),
        Column("hometown", _verbose(c, "hometown"), aliases=("籍贯", "家乡")),
        Column("interests", _verbose(c, "interests"), aliases=("兴趣爱好", "爱好")),
        Column("joined_company_on", _verbose(c, "joined_company_on"), "date", aliases=("入职日期",)),
        Column("authority", _verbose(c, "authority"), aliases=("权限", "职权")),
        Column("personality", _verbose(c, "personality"), "choice", choices=Personality, aliases=("性格类型", "性格")),
        Column("working_style", _verbose(c, "working_style"), aliases=("工作风格", "做事风格")),
        Column("family_notes", _verbose(c, "family_notes"), aliases=("家庭情况",)),
        Column("notes", _verbose(c, "notes"), aliases=("备注",)),
        Column("title", _verbose(p, "title"), aliases=("职务", "职位", "头衔")),
        Column("department_name", _verbose(p, "department_name"), aliases=("部门", "所在部门")),
        Column("buying_role", _verbose(p, "buying_role"), "choice", choices=BuyingRole, aliases=("采购角色", "角色")),
        Column("influence", _verbose(p, "influence"), "int", aliases=("影响力",)),
        Column("attitude", _verbose(p, "attitude"), "choice", choices=Attitude, aliases=("态度", "对我方态度")),
        Column("is_primary", _verbose(p, "is_primary"), "bool", aliases=("主要联系人", "首要联系人")),
    ]  # fmt: skip


def columns_for(entity: str) -> list[Column]:
    if entity == "accounts":
        return _account_columns()
    if entity == "contacts":
        return _contact_columns()
    raise ValidationError({"entity": _("Choose accounts or contacts.")})


CONTACT_COLUMN_KEYS = {"name", *services.CONTACT_FIELDS}
POSITION_COLUMN_KEYS = {"title", "department_name", "buying_role", "influence", "attitude", "is_primary"}

# Names Chinese spreadsheets use for the choices, besides the codes and the translated labels.
VALUE_ALIASES: dict[type, dict[str, str]] = {
    Ownership: {"民营企业": "private", "民企": "private", "私营企业": "private", "私企": "private",
                "国有企业": "state_owned", "国企": "state_owned", "央企": "state_owned",
                "中外合资企业": "joint_venture", "合资企业": "joint_venture", "合资": "joint_venture",
                "政府机关": "government", "政府": "government", "机关": "government", "上市公司": "listed",
                "外资企业": "foreign", "外企": "foreign", "外商独资企业": "foreign"},
    Industry: {"农林牧渔业": "agriculture", "农业": "agriculture", "采矿业": "mining", "制造业": "manufacturing",
               "电力、热力、燃气及水生产和供应业": "utilities", "能源": "utilities", "建筑业": "construction",
               "批发和零售业": "trade", "批发零售": "trade", "交通运输、仓储和邮政业": "logistics", "物流": "logistics",
               "住宿和餐饮业": "hospitality", "信息传输、软件和信息技术服务业": "it", "信息技术": "it", "软件": "it",
               "金融业": "finance", "金融": "finance", "房地产业": "real_estate", "房地产": "real_estate",
               "租赁和商务服务业": "business_services", "科学研究和技术服务业": "research",
               "水利、环境和公共设施管理业": "environment", "教育": "education", "卫生和社会工作": "health",
               "医疗": "health", "文化、体育和娱乐业": "culture", "公共管理、社会保障和社会组织": "public",
               "其他": "other"},
    Lifecycle: {"潜在客户": "prospect", "潜在": "prospect", "成交客户": "customer", "正式客户": "customer",
                "客户": "customer", "休眠客户": "dormant", "休眠": "dormant", "流失客户": "lost", "流失": "lost"},
    LeadSource: {"转介绍": "referral", "推荐": "referral", "展会": "exhibition", "网站": "website", "官网": "website",
                 "陌生拜访": "cold_call", "电话陌拜": "cold_call", "招标": "tender", "公开招标": "tender",
                 "来访": "walk_in", "上门": "walk_in", "合作伙伴": "partner", "经销商": "partner", "其他": "other"},
    ProcurementMode: {"集中采购": "centralized", "集中": "centralized", "集采": "centralized",
                      "分散采购": "decentralized", "分散": "decentralized"},
    PurchasePattern: {"持续采购": "continuous", "持续": "continuous", "连续": "continuous",
                      "一次性采购": "one_off", "一次性": "one_off"},
    Gender: {"女": "female", "男": "male"},
    BuyingRole: {"决策者": "decision_maker", "使用者": "user", "采购者": "purchaser", "采购": "purchaser",
                 "财务": "purchaser", "技术评估者": "technical", "技术": "technical", "支持者": "supporter",
                 "秘书": "supporter", "助理": "supporter", "内线": "champion", "其他": "other"},
    Attitude: {"拥护者": "champion", "铁杆": "champion", "支持": "supportive", "中立": "neutral",
               "怀疑": "sceptical", "反对": "opposed"},
}  # fmt: skip
TRUE_WORDS = {"1", "true", "yes", "y", "t", "是", "对", "√", "✓", "✔"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "否", "不", "不是", "×", "✗"}


def _fold(text) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(text)).strip().lower())


def _header_key(text) -> str:
    return _fold(text).strip("*").strip()


def _languages() -> list[str]:
    current = translation.get_language() or settings.LANGUAGE_CODE
    return list(dict.fromkeys([current, *(code for code, _name in settings.LANGUAGES)]))


def _in_every_language(text) -> set[str]:
    found = set()
    for language in _languages():
        with translation.override(language):
            found.add(str(text))
    return found


def _report_columns() -> set[str]:
    """The row and error columns an error report adds; ignored when a corrected report comes back."""
    return {
        _header_key(t) for label in (gettext_lazy("row"), gettext_lazy("errors")) for t in _in_every_language(label)
    }


def _header_names(columns: list[Column]) -> dict[str, str]:
    names: dict[str, str] = {}
    for column in columns:
        names.setdefault(_header_key(column.key), column.key)
    for language in _languages():
        with translation.override(language):
            for column in columns:
                names.setdefault(_header_key(str(column.label)), column.key)
    for column in columns:
        for alias in column.aliases:
            names.setdefault(_header_key(alias), column.key)
    return names


def _map_header(header: list, columns: list[Column]) -> list[str | None]:
    """Each header cell's column key (None: ignored); raises ImportFileError naming what is wrong."""
    names = _header_names(columns)
    ignored = _report_columns()
    keys: list[str | None] = []
    unknown, twice = [], []
    for cell in header:
        text = _text(cell)
        key = names.get(_header_key(text)) if text else None
        if text and key is None and _header_key(text) not in ignored:
            unknown.append(text)
        if key is not None and key in keys:
            twice.append(text)
        keys.append(key)
    labels = {c.key: str(c.label) for c in columns}
    missing = [labels[c.key] for c in columns if c.required and c.key not in keys]
    problems = []
    if missing:
        problems.append(_("Required columns are missing: %(columns)s.") % {"columns": "、".join(missing)})
    if unknown:
        problems.append(_("Unknown columns: %(columns)s.") % {"columns": "、".join(unknown)})
    if twice:
        problems.append(_("Columns given twice: %(columns)s.") % {"columns": "、".join(twice)})
    if problems:
        problems.append(_("Use the column names of the import template."))
        raise ImportFileError(" ".join(problems))
    return keys


# ---------------------------------------------------------------------------------------------
# reading files


@dataclass
class Table:
    """The rows of an uploaded sheet: the header and an iterator of (row number, cells)."""

    header: list
    rows: object  # Iterator[tuple[int, list]]
    kind: str


def _file_size(file) -> int:
    size = getattr(file, "size", None)
    if size is None:
        position = file.tell()
        size = file.seek(0, io.SEEK_END)
        file.seek(position)
    return int(size)


def read_table(file, *, filename: str = "") -> Table:
    """Check the file (size, type, structure) and open its first sheet; raise ImportFileError."""
    size = _file_size(file)
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    if size > max_bytes():
        raise ImportFileError(_("The file is larger than %(mb)d MB.") % {"mb": max_bytes() // 2**20}, status=413)
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    ext = Path(filename or getattr(file, "name", "") or "").suffix.lower().lstrip(".")
    if head.startswith(b"PK\x03\x04"):
        return _read_xlsx(file)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _("Old Excel files (.xls) are not accepted: save the sheet as .xlsx or CSV UTF-8."), status=415
        )
    if ext == "xlsx":
        raise ImportFileError(_("The file's content is not an xlsx workbook, although its name says so."), status=415)
    if ext not in ("csv", "txt", ""):
        raise ImportFileError(_("Only .xlsx and .csv files can be imported."), status=415)
    return _read_csv(file)


# --- xlsx: check the zip and its XML before any parser sees it

_DECLARATION = re.compile(rb"<!\s*(?:doctype|entity)", re.IGNORECASE)
_DECLARATION_TEXT = re.compile(r"<!\s*(?:doctype|entity)", re.IGNORECASE)
_CHUNK = 1 << 20


def _damaged() -> ImportFileError:
    return ImportFileError(_("The file is damaged: it cannot be read as an xlsx workbook."))


def _check_xlsx(file) -> None:
    """Refuse zip bombs, encrypted or foreign zips and XML with DOCTYPE/ENTITY declarations."""
    try:
        archive = zipfile.ZipFile(getattr(file, "file", file))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
        raise _damaged() from e
    bomb = ImportFileError(
        _("The workbook unpacks to far more data than its size suggests (a zip bomb?); it is not read."), status=413
    )
    with archive:
        members = archive.infolist()
        names = {m.filename for m in members}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise ImportFileError(_("This zip file is not an Excel workbook (.xlsx)."), status=415)
        if len(members) > 5000 or sum(m.file_size for m in members) > max_unpacked_bytes():
            raise bomb
        for member in members:
            if member.flag_bits & 0x1:
                raise ImportFileError(_("The workbook is encrypted: remove the password and try again."))
            if member.file_size > 2**20 and member.file_size > max_zip_ratio() * max(member.compress_size, 1):
                raise bomb
            # Everything but the sheet is held in memory while reading: keep those parts small.
            if not member.filename.startswith("xl/worksheets/") and member.file_size > max_unpacked_bytes() // 4:
                raise bomb
        for member in members:
            rows = _scan_member(archive, member)
            if member.filename.startswith("xl/worksheets/") and rows > max_rows() + 1:
                raise _too_many_rows()


def _scan_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """Unpack one part in chunks, looking for DOCTYPE/ENTITY; return how many rows it has."""
    rows, read, tail = 0, 0, b""
    decoder = None
    try:
        with archive.open(member) as part:
            while chunk := part.read(_CHUNK):
                read += len(chunk)
                if read > max_unpacked_bytes():
                    raise ImportFileError(_("The workbook unpacks to too much data."), status=413)
                if (
                    decoder is None
                    and read == len(chunk)
                    and chunk[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")
                ):
                    encoding = "utf-16-be" if chunk[:2] in (b"\xfe\xff", b"\x00<") else "utf-16-le"
                    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
                if decoder is not None:
                    text = decoder.decode(chunk)
                    if _DECLARATION_TEXT.search(tail.decode("utf-8", "replace") + text):
                        _refuse_declarations()
                    tail = text[-32:].encode()
                    continue
                if _DECLARATION.search(tail + chunk):
                    _refuse_declarations()
                rows += chunk.count(b"<row ") + chunk.count(b"<row>")
                tail = chunk[-32:]
    except ImportFileError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile, zlib, bz2, lzma each raise their own errors on damage
        raise _damaged() from e
    return rows


def _too_many_rows() -> ImportFileError:
    return ImportFileError(
        _("The file has more than %(n)d rows; split it into several files.") % {"n": max_rows()}, status=413
    )


def _read_xlsx(file) -> Table:
    """Stream the first sheet row by row, so memory stays small whatever the number of rows."""
    _check_xlsx(file)
    file.seek(0)
    try:
        archive = zipfile.ZipFile(getattr(file, "file", file))
        layout = _workbook_layout(archive)
        shared = _shared_strings(archive, layout["shared"])
        date_styles = _date_styles(archive, layout["styles"])
    except ImportFileError:
        raise
    except Exception as e:  # noqa: BLE001 - expat, zipfile and zlib report damage with their own errors
        raise _damaged() from e
    rows = _sheet_rows(archive, layout, shared, date_styles)
    return _table(rows, "xlsx")


# Number formats that show dates: the built-in ones (with the Chinese locale ones 27–36, 50–58)
# and custom formats with date or time codes.
_DATE_FORMAT_IDS = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}
MAX_COLUMNS = 256


def _local(name: str) -> str:
    return name[name.find(":") + 1 :]  # "x:c" → "c", "c" → "c"


def _refuse_declarations(*_args):
    raise ImportFileError(
        _("The workbook contains an XML DOCTYPE or ENTITY declaration, which xlsx files never need; it is refused "
          "for safety. Save it again from Excel or WPS.")
    )  # fmt: skip


def _parser():
    """An expat parser that refuses document types and entities, as defusedxml's parsers do."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_declarations
    parser.EntityDeclHandler = _refuse_declarations
    parser.UnparsedEntityDeclHandler = _refuse_declarations
    parser.ExternalEntityRefHandler = _refuse_declarations
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    return parser


def _elements(archive: zipfile.ZipFile, path: str) -> list[tuple[str, dict]]:
    """The (name, attributes) of every element of a small part (workbook, relationships, styles)."""
    if path not in archive.NameToInfo:
        return []
    found: list[tuple[str, dict]] = []
    parser = _parser()
    parser.StartElementHandler = lambda name, attrs: found.append((_local(name), attrs))
    parser.Parse(archive.read(path), True)
    return found


def _part_path(target: str) -> str:
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))


def _workbook_layout(archive: zipfile.ZipFile) -> dict:
    workbook = _elements(archive, "xl/workbook.xml")
    sheets = [attrs for name, attrs in workbook if name == "sheet"]
    if not sheets:
        raise _damaged()
    relation = next((value for key, value in sheets[0].items() if _local(key) == "id"), None)
    relations = {
        a.get("Id"): a for name, a in _elements(archive, "xl/_rels/workbook.xml.rels") if name == "Relationship"
    }

    def target(kind: str, default: str) -> str:
        found = [_part_path(a.get("Target", "")) for a in relations.values() if a.get("Type", "").endswith("/" + kind)]
        return found[0] if found else default

    sheet = _part_path(relations[relation]["Target"]) if relation in relations else "xl/worksheets/sheet1.xml"
    if sheet not in archive.NameToInfo:
        raise _damaged()
    date1904 = any(name == "workbookPr" and attrs.get("date1904") in ("1", "true") for name, attrs in workbook)
    return {"sheet": sheet, "shared": target("sharedStrings", "xl/sharedStrings.xml"),
            "styles": target("styles", "xl/styles.xml"), "epoch": CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900}  # fmt: skip


def _shared_strings(archive: zipfile.ZipFile, path: str) -> list[str]:
    """The shared-string table: the text of each <si>, without phonetic runs (<rPh>)."""
    if path not in archive.NameToInfo:
        return []
    strings: list[str] = []
    state = {"parts": [], "text": False, "phonetic": 0}

    def start(name, _attrs):
        name = _local(name)
        if name == "si":
            state["parts"] = []
        elif name == "rPh":
            state["phonetic"] += 1
        elif name == "t":
            state["text"] = not state["phonetic"]

    def end(name):
        name = _local(name)
        if name == "t":
            state["text"] = False
        elif name == "rPh":
            state["phonetic"] -= 1
        elif name == "si":
            strings.append("".join(state["parts"]))

    def data(text):
        if state["text"]:
            state["parts"].append(text)

    parser = _parser()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    with archive.open(path) as part:
        while chunk := part.read(_CHUNK):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return strings


def _date_styles(archive: zipfile.ZipFile, path: str) -> set[str]:
    """The cell styles (the s="…" of a cell) whose number format shows a date."""
    custom, formats, section = {}, [], None
    for name, attrs in _elements(archive, path):
        if name == "numFmt":
            custom[attrs.get("numFmtId")] = attrs.get("formatCode", "")
        elif name in ("cellStyleXfs", "cellXfs"):
            section = name
        elif name == "xf" and section == "cellXfs":
            formats.append(attrs.get("numFmtId", "0"))
    dates = set()
    for index, number_format in enumerate(formats):
        if (number_format.isdigit() and int(number_format) in _DATE_FORMAT_IDS) or (
            number_format in custom and is_date_format(custom[number_format])
        ):
            dates.add(str(index))
    return dates


def _column_index(reference: str) -> int:
    index = 0
    for ch in reference:
        letter = ord(ch) - 64
        if not 1 <= letter <= 26:
            break
        index = index * 26 + letter
    return index - 1


class _SheetReader:
    """expat handlers that turn <row>/<c> elements into (row number, [cell values])."""

    def __init__(self, shared: list[str], date_styles: set[str], epoch):
        self.shared, self.date_styles, self.epoch = shared, date_styles, epoch
        self.done: list[tuple[int, list]] = []
        self.row_no, self.cells, self.column = 0, None, -1
        self.kind, self.style, self.parts, self.collect, self.phonetic = "n", None, [], False, 0

    def start(self, name, attrs):
        name = _local(name)
        if name == "c":
            reference = attrs.get("r")
            self.column = _column_index(reference) if reference else self.column + 1
            self.kind, self.style, self.parts = attrs.get("t", "n"), attrs.get("s"), []
        elif name == "v":
            self.collect = True
        elif name == "t":
            self.collect = not self.phonetic
        elif name == "rPh":
            self.phonetic += 1
        elif name == "row":
            number = attrs.get("r", "")
            self.row_no = int(number) if number.isdigit() else self.row_no + 1
            self.cells, self.column = {}, -1

    def end(self, name):
        name = _local(name)
        if name in ("v", "t"):
            self.collect = False
        elif name == "rPh":
            self.phonetic -= 1
        elif name == "c" and self.cells is not None:
            value = self.value()
            if value is not None and value != "":
                if self.column >= MAX_COLUMNS:
                    raise ImportFileError(_("The sheet has more than %(n)d columns.") % {"n": MAX_COLUMNS})
                self.cells[self.column] = value
        elif name == "row" and self.cells is not None:
            if self.cells:
                self.done.append((self.row_no, [self.cells.get(i) for i in range(max(self.cells) + 1)]))
            self.cells = None

    def data(self, text):
        if self.collect:
            self.parts.append(text)

    def value(self):
        text, kind = "".join(self.parts), self.kind
        if kind == "s":
            try:
                return self.shared[int(text)]
            except (ValueError, IndexError):
                raise _damaged() from None
        if kind in ("inlineStr", "str", "e", "d"):
            return text
        if kind == "b":
            return text.strip() in ("1", "true")
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise _damaged() from None
        if self.style in self.date_styles:
            try:
                return from_excel(number, self.epoch)
            except (ValueError, OverflowError):
                return number
        return number

    def take(self) -> list:
        done, self.done = self.done, []
        return done


def _sheet_rows(archive: zipfile.ZipFile, layout: dict, shared: list[str], date_styles: set[str]):
    reader = _SheetReader(shared, date_styles, layout["epoch"])
    parser = _parser()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = (
        reader.start,
        reader.end,
        reader.data,
    )
    try:
        with archive.open(layout["sheet"]) as part:
            while True:
                try:
                    chunk = part.read(_CHUNK)
                    parser.Parse(chunk, not chunk)
                except ImportFileError:
                    raise
                except Exception as e:  # noqa: BLE001 - expat, zipfile and zlib errors all mean damage
                    raise _damaged() from e
                yield from reader.take()
                if not chunk:
                    break
    finally:
        archive.close()


def _table(numbered, kind: str) -> Table:
    """The first non-empty row is the header; blank rows are skipped; the row limit is enforced."""
    for _row_no, cells in numbered:
        if any(_text(c) for c in cells):
            header = list(cells)
            break
    else:
        raise ImportFileError(_("The file has no header row: download the import template."))

    def data_rows():
        count = 0
        for row_no, cells in numbered:
            if not any(_text(c) for c in cells):
                continue
            count += 1
            if count > max_rows():
                raise _too_many_rows()
            yield row_no, cells

    return Table(header=header, rows=data_rows(), kind=kind)


# --- csv: UTF-8 (with or without BOM) or GB18030 (which covers GBK)


def _lines(text: str):
    """The lines of a text one by one (io.StringIO would hold a second, wider copy of it)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        end = size if end == -1 else end + 1
        yield text[start:end]
        start = end


def _read_csv(file) -> Table:
    data = file.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise ImportFileError(_("This is not a text (CSV) file, or it is in UTF-16: save it as CSV UTF-8."), status=415)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError(_("The text of this CSV file cannot be read: save it as CSV UTF-8 (or GBK)."))
    del data
    first_line = text[: text.find("\n")] if "\n" in text else text
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(_lines(text), delimiter=delimiter)

    def numbered():
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as e:
            raise ImportFileError(_("The CSV file is malformed near row %(row)d.") % {"row": reader.line_num}) from e

    return _table(numbered(), "csv")


# ---------------------------------------------------------------------------------------------
# cells


def _text(value) -> str:
    """A cell as text: numbers without a spurious .0, dates in ISO form, our export's ' removed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        text = text[1:]
    return text


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


class _Cells:
    """Converts cells to service values for one import: choice maps, regions and users, cached."""

    def __init__(self, actor, columns: list[Column]):
        self.actor = actor
        self.columns = {c.key: c for c in columns}
        self.choice_maps = {c.key: self._choice_map(c.choices) for c in columns if c.kind == "choice"}
        self.true_words = TRUE_WORDS | {_fold(t) for t in _in_every_language(gettext_lazy("yes"))}
        self.false_words = FALSE_WORDS | {_fold(t) for t in _in_every_language(gettext_lazy("no"))}
        self.users: dict[str, object] = {}
        self.region_cache: dict[tuple, tuple] = {}

    @staticmethod
    def _choice_map(choices) -> dict[str, str]:
        names = {_fold(value): value for value in choices.values}
        for language in _languages():
            with translation.override(language):
                for value, label in choices.choices:
                    names.setdefault(_fold(label), value)
                    for part in str(label).split(" — "):
                        names.setdefault(_fold(part), value)
        for alias, value in VALUE_ALIASES.get(choices, {}).items():
            names.setdefault(_fold(alias), value)
        return names

    def convert(self, key: str, value):
        """The service value of a cell, or raise ValueError with the reason."""
        kind = self.columns[key].kind
        if kind == "choice":
            found = self.choice_maps[key].get(_fold(value))
            if found is None:
                labels = "、".join(str(label) for _value, label in self.columns[key].choices.choices)
                raise ValueError(
                    _("“%(value)s” is not one of: %(labels)s.") % {"value": _text(value), "labels": labels}
                )
            return found
        if kind == "int":
            return self._int(value)
        if kind == "decimal":
            return self._decimal(value)
        if kind == "bool":
            return self._bool(value)
        if kind == "date":
            return self._date(value)
        if kind == "tags":
            return [t.strip() for t in re.split(r"[,，、;；]", _text(value)) if t.strip()]
        if kind == "user":
            return self._user(_text(value))
        return _text(value)

    @staticmethod
    def _int(value) -> int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = re.sub(r"[\s,，]", "", _text(value))
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        raise ValueError(_("Enter a whole number."))

    @staticmethod
    def _decimal(value) -> Decimal:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        text = re.sub(r"[\s,，¥￥元]", "", _text(value))
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise ValueError(_("Enter a number."))
        return number

    def _bool(self, value) -> bool:
        if isinstance(value, bool):
            return value
        word = _fold(_text(value))
        if word in self.true_words:
            return True
        if word in self.false_words:
            return False
        raise ValueError(_("Enter yes or no."))

    @staticmethod
    def _date(value) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = _text(value)
        for pattern in _DATE_PATTERNS:
            if match := pattern.match(text):
                try:
                    return date(*(int(part) for part in match.groups()))
                except ValueError:
                    break
        raise ValueError(_("Enter a date such as 2024-05-20."))

    def _user(self, text: str):
        if text not in self.users:
            User = get_user_model()
            user = User.objects.filter(username=text).select_related("department").first()
            if user is None:
                named = list(User.objects.filter(display_name=text, is_active=True).select_related("department")[:2])
                user = named[0] if len(named) == 1 else None
            self.users[text] = user
        if self.users[text] is None:
            raise ValueError(_("There is no user with this username."))
        return self.users[text]

    def regions(self, province, city, district) -> tuple[dict, dict]:
        """Codes for names such as 广东省 / 深圳市 / 南山区 (or codes); errors by field."""
        key = (_text(province), _text(city), _text(district))
        if key not in self.region_cache:
            self.region_cache[key] = _resolve_region(*key)
        return self.region_cache[key]


@cache
def _region_levels() -> tuple[dict, dict]:
    """code → (name, parent code), and name → [codes], for every province, city and district."""
    nodes, by_name = {}, {}
    stack = [(code, name, None) for code, name in regions.provinces()]
    while stack:
        code, name, parent = stack.pop()
        nodes[code] = (name, parent)
        by_name.setdefault(name, []).append(code)
        stack.extend((c, n, code) for c, n in regions.children(code))
    return nodes, by_name


def _region_match(text: str, options: list[tuple[str, str]]) -> str | None:
    """The code among options for a code, a full name, or a unique leading part (广东 → 广东省)."""
    text = unicodedata.normalize("NFKC", text).strip()
    for code, name in options:
        if text in (code, name):
            return code
    starts = [code for code, name in options if len(text) >= 2 and name.startswith(text)]
    return starts[0] if len(starts) == 1 else None


def _resolve_region(province: str, city: str, district: str) -> tuple[dict, dict]:
    nodes, _by_name = _region_levels()
    errors: dict[str, str] = {}
    p = _region_match(province, regions.provinces()) if province else ""
    if p is None:
        errors["province"] = _("Unknown province “%(name)s”.") % {"name": province}
    c = ""
    if city and not province:
        c = _region_match(
            city, [(code, n) for code, (n, parent) in nodes.items() if parent and nodes[parent][1] is None]
        )
        p = nodes[c][1] if c else _region_match(city, regions.provinces())  # 上海市 in the city column
        if c is None and p:
            c, city = "", ""
    if city and p:
        cities = regions.children(p)
        c = _region_match(city, cities)
        # Municipalities (北京市, 重庆市…) have placeholder cities (市辖区, 县): "重庆市 / 重庆市 / 渝中区"
        # names the municipality twice; the district then tells which placeholder it is under.
        if c is None and _region_match(city, [(p, nodes[p][0])]):
            c = cities[0][0] if len(cities) == 1 else ""
    if city and c is None:
        errors["city"] = _("Unknown city “%(name)s” in this province.") % {"name": city}
    d = ""
    if district and p is not None and c is not None:
        if c:
            options = regions.children(c)
        elif p:
            options = [item for code, _n in regions.children(p) for item in regions.children(code)]
        else:
            options = [(code, n) for code, (n, parent) in nodes.items() if parent and nodes[parent][1] is not None]
        d = _region_match(district, options)
        if d is None:
            errors["district"] = _("Unknown district “%(name)s” in this city.") % {"name": district}
        else:
            c = c or nodes[d][1]
            p = p or nodes[c][1]
    codes = {name: value for name, value in (("province", p), ("city", c), ("district", d)) if value}
    return codes, errors


# ---------------------------------------------------------------------------------------------
# the report


@dataclass
class RowError:
    row: int
    field: str | None
    column: str
    message: str


@dataclass
class ImportReport:
    """What an import did, or why it did nothing: counts and, per failed row, field and reason."""

    entity: str
    header: list = field(default_factory=list)
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    failed_rows: list[tuple[int, list[str]]] = field(default_factory=list)
    labels: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def truncated(self) -> bool:
        return self.failed > len(self.failed_rows)

    def add(self, row: int, cells: list, errors: list[tuple[str | None, str]]) -> None:
        self.failed += 1
        if len(self.failed_rows) >= report_max_rows():
            return
        width = max(len(self.header), len(cells))
        self.failed_rows.append((row, [_text(c) for c in cells] + [""] * (width - len(cells))))
        for key, message in errors:
            key = None if key in (None, NON_FIELD_ERRORS) else key
            self.errors.append(RowError(row=row, field=key, column=self.labels.get(key, ""), message=str(message)))

    def detail(self) -> str:
        if self.ok:
            return _("Imported %(imported)d, updated %(updated)d, skipped %(skipped)d.") % self.counts()
        return _("%(failed)d rows have errors; nothing was imported. Correct them and import the file again.") % {
            "failed": self.failed
        }

    def counts(self) -> dict:
        return {"imported": self.imported, "updated": self.updated, "skipped": self.skipped, "failed": self.failed}

    def as_dict(self) -> dict:
        return {
            **self.counts(),
            "ok": self.ok,
            "detail": self.detail(),
            "errors": [{"row": e.row, "field": e.field, "column": e.column, "message": e.message} for e in self.errors],
            "errors_truncated": self.truncated,
        }

    def row_messages(self) -> dict[int, str]:
        """Per failed row: "column: reason; column: reason"."""
        messages: dict[int, list[str]] = {}
        for error in self.errors:
            text = _("%(column)s: %(message)s") % {"column": error.column, "message": error.message}
            messages.setdefault(error.row, []).append(text if error.column else error.message)
        return {row: "; ".join(items) for row, items in messages.items()}

    def write_xlsx(self, target) -> None:
        """The failed rows as they were, with the row number and an error column (user's language)."""
        per_row = self.row_messages()
        writer = XlsxWriter(target, sheet_name=_("errors"))
        writer.row([_("row"), *(_text(h) for h in self.header), _("errors")], header=True)
        for row, cells in self.failed_rows:
            writer.row([row, *cells, per_row.get(row, "")])
        writer.close()

    def xlsx_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.write_xlsx(buffer)
        return buffer.getvalue()


def _error_items(error: ValidationError) -> list[tuple[str | None, str]]:
    if hasattr(error, "error_dict"):
        return [(key, message) for key, messages in error.message_dict.items() for message in messages]
    return [(None, message) for message in error.messages]


# ---------------------------------------------------------------------------------------------
# importing


def _check_may_import(actor, on_duplicate: str) -> None:
    if actor is None or not actor.is_active or not actor.can_edit_accounts:
        raise PermissionDenied(_("Your role cannot import accounts or contacts."))
    if on_duplicate not in ON_DUPLICATE:
        raise ValidationError({"on_duplicate": _("Choose skip, update or stop.")})


def import_records(*, actor, entity: str, file, on_duplicate: str = "stop", filename: str = "") -> ImportReport:
    if entity == "accounts":
        return import_accounts(actor=actor, file=file, on_duplicate=on_duplicate, filename=filename)
    if entity == "contacts":
        return import_contacts(actor=actor, file=file, on_duplicate=on_duplicate, filename=filename)
    raise ValidationError({"entity": _("Choose accounts or contacts.")})


def import_accounts(*, actor, file, on_duplicate: str = "stop", filename: str = "") -> ImportReport:
    """Import accounts from xlsx or csv, all or nothing (ARC-8), with a duplicate policy (ARC-5)."""
    return _run_import(_AccountImport, actor=actor, file=file, on_duplicate=on_duplicate, filename=filename,
                       entity="accounts")  # fmt: skip


def import_contacts(*, actor, file, on_duplicate: str = "stop", filename: str = "") -> ImportReport:
    """Import contacts with their position at an account the actor may change, all or nothing."""
    return _run_import(_ContactImport, actor=actor, file=file, on_duplicate=on_duplicate, filename=filename,
                       entity="contacts")  # fmt: skip


def _run_import(importer_class, *, actor, file, on_duplicate, filename, entity) -> ImportReport:
    _check_may_import(actor, on_duplicate)
    filename = Path(filename or getattr(file, "name", "") or "").name
    table = read_table(file, filename=filename)
    columns = columns_for(entity)
    keys = _map_header(table.header, columns)
    report = ImportReport(entity=entity, header=table.header, labels={c.key: str(c.label) for c in columns})
    started = time.monotonic()
    with transaction.atomic():
        with WriteBehind() as writer:
            importer = importer_class(actor=actor, columns=columns, keys=keys, on_duplicate=on_duplicate,
                                      report=report, source=filename, writer=writer)  # fmt: skip
            for row_no, cells in table.rows:
                importer.add(row_no, cells)
            importer.finish()
        if report.imported + report.updated + report.skipped + report.failed == 0:
            raise ImportFileError(_("The file has no rows to import."))
        if not report.ok:
            transaction.set_rollback(True)
            report.imported = report.updated = 0
            return report
        if report.imported + report.updated >= BATCH:
            analyze(*importer.grows)  # the statistics from before a large import mislead the planner after it
        audit.record(
            actor=actor, action=AuditAction.IMPORT, target=(f"accounts.{entity}", "", filename or entity),
            extra={"entity": entity, "file": filename, "format": table.kind, "on_duplicate": on_duplicate,
                   **report.counts(), "seconds": round(time.monotonic() - started, 1)},
        )  # fmt: skip
    return report


@dataclass
class _Row:
    row: int
    cells: list
    fields: dict
    tags: list | None = None
    raw: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)


class _Import:
    def __init__(self, *, actor, columns, keys, on_duplicate, report, source, writer):
        self.doomed = False  # a row failed: the rest is only checked, nothing more is written
        self.writer = writer
        self.actor = actor
        self.keys = keys
        self.on_duplicate = on_duplicate
        self.report = report
        self.source = source
        self.cells = _Cells(actor, columns)

    def parse(self, row_no: int, cells: list) -> _Row:
        item = _Row(row=row_no, cells=list(cells), fields={})
        raw: dict[str, object] = {}
        for key, value in zip(self.keys, cells, strict=False):
            if key is not None and _text(value):
                raw[key] = value
        for key, value in raw.items():
            kind = self.cells.columns[key].kind
            if kind in ("region", "parent", "account"):
                continue
            try:
                converted = self.cells.convert(key, value)
            except ValueError as e:
                item.errors.append((key, str(e)))
                continue
            if kind == "tags":
                item.tags = converted
            else:
                item.fields[key] = converted
        if any(k in raw for k in ("province", "city", "district")):
            codes, errors = self.cells.regions(raw.get("province"), raw.get("city"), raw.get("district"))
            item.fields.update(codes)
            item.errors.extend(errors.items())
        item.raw = raw
        return item

    def fail(self, item: _Row, errors) -> None:
        self.doomed = True
        self.report.add(item.row, item.cells, errors)


class _AccountImport(_Import):
    """Rows are checked and saved in batches (services.account_check_many / account_save_many), their
    search terms written behind on a helper thread; duplicates follow the chosen policy."""

    grows = (Account, SearchTerm)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.analyzed_rows = Account.objects.count()  # accounts when the planner's statistics were taken
        self.new_rows = 0  # accounts added since
        self.pending: list[_Row] = []
        self.invalid: list[_Row] = []
        self.pending_rows: set[int] = set()
        self.seen: dict[str, int] = {}  # credit code / normalized name → first row with it
        self.row_pks: dict[int, int | None] = {}  # row → its account (None in a dry run)
        self.parents: dict[str, tuple] = {}

    def add(self, row_no: int, cells: list) -> None:
        item = self.parse(row_no, cells)
        if "parent" in item.raw:
            parent, error = self.resolve_parent(_text(item.raw["parent"]))
            if error:
                item.errors.append(("parent", error))
            else:
                item.fields["parent"] = parent
        self.check_twice(item)
        if item.errors:
            self.doomed = True
            self.invalid.append(item)
            if len(self.invalid) >= BATCH:
                self.flush_invalid()
            return
        self.pending.append(item)
        self.pending_rows.add(item.row)
        if len(self.pending) >= BATCH:
            self.flush()

    def identity(self, name, code) -> list[str]:
        keys = []
        code = uscc.compact(_text(code))  # clean_credit_code's normalization; the service validates
        if len(code) == 18 and code.isascii() and code.isalnum():
            keys.append(f"code:{code}")
        if normalized := normalize_company_name(_text(name)):
            keys.append(f"name:{normalized}")
        return keys

    def check_twice(self, item: _Row) -> None:
        """The same company twice in the file is an error in every policy: which row should win?"""
        keys = self.identity(item.fields.get("name"), item.fields.get("credit_code"))
        for key in keys:
            if key in self.seen:
                column = "credit_code" if key.startswith("code:") else "name"
                item.errors.append((column, _("The same company is already in row %(row)d of this file.")
                                    % {"row": self.seen[key]}))  # fmt: skip
                break
        for key in keys:
            self.seen.setdefault(key, item.row)

    def resolve_parent(self, ref: str):
        """A head office: an earlier row of this file, or an account the actor can see."""
        keys = self.identity(ref, ref)
        for key in keys:
            row = self.seen.get(key)
            if row is None:
                continue
            if row in self.pending_rows:
                self.flush()
            if row in self.row_pks:
                pk = self.row_pks[row]
                return (pk if pk is not None else Account(name=ref)), None
            return None, _("The head office in row %(row)d could not be imported.") % {"row": row}
        if ref not in self.parents:
            code = keys[0][5:] if keys and keys[0].startswith("code:") else ""
            condition = Q(credit_code=code) if code else Q(normalized_name=normalize_company_name(ref))
            found = list(scopes.visible_accounts(self.actor).filter(condition).values_list("pk", flat=True)[:2])
            if len(found) == 1:
                self.parents[ref] = (found[0], None)
            elif found:
                self.parents[ref] = (None, _("Several accounts have this name: give the head office's credit code."))
            else:
                self.parents[ref] = (None, _("No account you can see has this name or credit code."))
        return self.parents[ref]

    def flush(self) -> None:
        items, self.pending = self.pending, []
        self.pending_rows.clear()
        if not items:
            return
        batch = services.account_check_many(
            actor=self.actor, rows=[(i.fields, i.tags) for i in items], confirm_duplicates=True
        )
        # The previous batch's search terms were written meanwhile, on the write-behind thread, while
        # this batch was read and checked. Wait for them: no savepoint (update() below) while they are.
        self.writer.wait()
        written_behind = []
        if not self.doomed:
            written_behind = services.account_save_many(
                actor=self.actor, batch=batch, audit_extra={"import": self.source}, defer=True
            )
        # Names do not repeat across batches: keep the pinyin cache from growing through the file.
        pinyin_syllables.cache_clear()
        for item, result in zip(items, batch.results, strict=True):
            if isinstance(result, Account):
                self.report.imported += 1
                self.row_pks[item.row] = result.pk
                self.new_rows += 1
            elif isinstance(result, DuplicateError):
                self.duplicate(item, result)
            else:
                self.fail(item, _error_items(result))
        self.writer.submit(*written_behind)  # the search terms; after update(), which may roll back
        if self.new_rows > max(self.analyzed_rows, BATCH):
            # Each duplicate lookup is an IN (…) of 500 values, which the planner answers with a
            # scan of the table while it believes the table small: the time of an import grew with
            # the square of its rows. Refreshed each time the table has doubled (0.1 s at 100,000).
            analyze(Account)
            self.analyzed_rows += self.new_rows
            self.new_rows = 0

    def flush_invalid(self) -> None:
        """Rows with unreadable cells: let the service name the problems of their other cells too."""
        items, self.invalid = self.invalid, []
        if not items:
            return
        results = services.account_check_many(actor=self.actor, rows=[(i.fields, i.tags) for i in items]).results
        for item, result in zip(items, results, strict=True):
            errors = list(item.errors)
            if isinstance(result, ValidationError) and not isinstance(result, DuplicateError):
                named = {key for key, _message in errors}
                errors += [(k, m) for k, m in _error_items(result) if k not in named]
            self.fail(item, errors)

    def finish(self) -> None:
        self.flush()
        self.flush_invalid()

    def duplicate(self, item: _Row, error: DuplicateError) -> None:
        """ARC-5 said "already in KAM": skip the row, update that account, or stop with an error."""
        same = [h for h in error.duplicates if {"credit_code", "name"} & set(h["matched_on"])]
        column = "credit_code" if any("credit_code" in h["matched_on"] for h in error.duplicates) else "name"
        if not same:
            column = "phone"
        if self.on_duplicate == "skip":
            self.report.skipped += 1
            if len(same) == 1 and same[0]["visible"]:
                self.row_pks[item.row] = same[0]["id"]
            return
        if self.on_duplicate == "update" and same:
            self.update(item, same, column)
            return
        self.fail(item, [(column, _describe_duplicate(error))])

    def update(self, item: _Row, hits: list[dict], column: str) -> None:
        if len(hits) > 1:
            self.fail(item, [(column, _("Several existing accounts match this row; update them one by one."))])
            return
        hit = hits[0]
        existing = scopes.editable_accounts(self.actor).filter(pk=hit["id"]).first() if hit["visible"] else None
        if existing is None:
            message = _describe_duplicate(DuplicateError(_("This company is already in KAM."), duplicates=hits))
            self.fail(item, [(column, message + " " + _("You may not change it, so it cannot be updated."))])
            return
        if existing.is_archived:
            self.fail(item, [(column, _("The existing account %(name)s is archived; restore it first.")
                              % {"name": existing.name})])  # fmt: skip
            return
        if isinstance(item.fields.get("parent"), Account) and item.fields["parent"].pk is None:
            self.report.updated += 1  # a dry run already: the head office row was not saved
            return
        try:
            with transaction.atomic():
                services.account_update(actor=self.actor, account=existing, fields=item.fields, version=existing.version,
                                        tags=item.tags or None, confirm_duplicates=True)  # fmt: skip
        except ConflictError:
            self.fail(item, [(column, _("The existing account was changed meanwhile; import the file again."))])
        except ValidationError as e:
            self.fail(item, _error_items(e))
        else:
            self.report.updated += 1
            self.row_pks[item.row] = existing.pk


def _describe_duplicate(error: DuplicateError) -> str:
    parts = [error.messages[0]]
    for hit in error.duplicates:
        if hit["visible"]:
            parts.append(
                _("Existing account: %(name)s (owner: %(owner)s).") % {"name": hit["name"], "owner": hit["owner"]}
            )
        else:
            parts.append(_("It is owned by someone outside your data scope."))
    return " ".join(dict.fromkeys(parts))


class _DryRun(Exception):
    """Raised inside a savepoint to undo a service call made only to collect its errors."""


class _ContactImport(_Import):
    """Each row through services.contact_create (or contact_update + position_set), in a savepoint.

    A contact counts as a duplicate when the same account already has a contact with the same
    name and the same mobile number (both empty counts as the same).
    """

    grows = (Contact, AccountContact, SearchTerm)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.accounts: dict[str, tuple] = {}
        self.seen: dict[tuple, int] = {}

    def add(self, row_no: int, cells: list) -> None:
        item = self.parse(row_no, cells)
        fields = {k: v for k, v in item.fields.items() if k in CONTACT_COLUMN_KEYS}
        position = {k: v for k, v in item.fields.items() if k in POSITION_COLUMN_KEYS}
        account = None
        if "account" in item.raw:
            account, error = self.resolve_account(_text(item.raw["account"]))
            if error:
                item.errors.append(("account", error))
        else:
            item.errors.append(("account", _("Enter the name or credit code of the contact's account.")))
        try:
            mobile = clean_phone(_text(fields.get("mobile")))
        except ValidationError:
            mobile = None  # the service names the problem
        key = (
            (account.pk, _fold(fields["name"]), mobile)
            if account and fields.get("name") and mobile is not None
            else None
        )
        if key is not None:
            if key in self.seen:
                item.errors.append(("name", _("The same contact is already in row %(row)d of this file.")
                                    % {"row": self.seen[key]}))  # fmt: skip
            self.seen.setdefault(key, row_no)
        if item.errors:
            if account is not None:
                item.errors += self.dry_run_errors(account, fields, position, {k for k, _m in item.errors})
            self.fail(item, item.errors)
            return
        existing = None
        if key is not None:
            existing = (
                AccountContact.objects.filter(account=account, contact__is_archived=False, contact__name=fields["name"],
                                              contact__mobile=mobile)
                .select_related("contact").first()
            )  # fmt: skip
        if existing is None:
            self.create(item, account, fields, position)
        elif self.on_duplicate == "skip":
            self.report.skipped += 1
        elif self.on_duplicate == "update":
            self.update(item, account, existing, fields, position)
        else:
            self.fail(item, [("name", _("This contact is already at %(account)s.") % {"account": account.name})])

    def resolve_account(self, ref: str):
        """An account the actor may change, by credit code or name."""
        if len(self.accounts) > 10_000:
            self.accounts.clear()  # a bounded cache: memory stays flat through a long file
        if ref not in self.accounts:
            try:
                code = clean_credit_code(ref, checksum_exception=True)
            except ValidationError:
                code = ""
            condition = Q(credit_code=code) if code else Q(normalized_name=normalize_company_name(ref))
            found = list(scopes.editable_accounts(self.actor).filter(condition, is_archived=False)[:2])
            if len(found) == 1:
                self.accounts[ref] = (found[0], None)
            elif found:
                self.accounts[ref] = (None, _("Several accounts have this name: give the credit code."))
            else:
                self.accounts[ref] = (None, _("No account you may change has this name or credit code."))
        return self.accounts[ref]

    def dry_run_errors(self, account, fields, position, named) -> list:
        try:
            with transaction.atomic():
                services.contact_create(actor=self.actor, account=account, fields=fields, position=position)
                raise _DryRun
        except _DryRun:
            return []
        except ValidationError as e:
            return [(k, m) for k, m in _error_items(e) if k not in named]

    def create(self, item, account, fields, position) -> None:
        try:
            with transaction.atomic():
                services.contact_create(actor=self.actor, account=account, fields=fields, position=position)
        except ValidationError as e:
            self.fail(item, _error_items(e))
        else:
            self.report.imported += 1

    def update(self, item, account, existing, fields, position) -> None:
        try:
            with transaction.atomic():
                services.contact_update(actor=self.actor, contact=existing.contact, fields=fields,
                                        version=existing.contact.version)  # fmt: skip
                if position:
                    services.position_set(actor=self.actor, account=account, contact=existing.contact, fields=position)
        except ConflictError:
            self.fail(item, [("name", _("The existing contact was changed meanwhile; import the file again."))])
        except ValidationError as e:
            self.fail(item, _error_items(e))
        else:
            self.report.updated += 1

    def finish(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# reports kept for download (the page and the API): per user, random names, never world-readable

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
REPORT_KEEP_SECONDS = 24 * 3600


def _reports_dir(user) -> Path:
    return Path(settings.DATA_DIR) / "reports" / str(int(user.pk))


def save_report(report: ImportReport, *, user) -> str:
    """Write the error report as xlsx for `user`; return its token. Old reports are removed."""
    folder = _reports_dir(user)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    now = time.time()
    for old in folder.glob("*.xlsx"):
        if now - old.stat().st_mtime > REPORT_KEEP_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    path = folder / f"{token}.xlsx"
    with open(path, "wb") as handle:
        path.chmod(0o600)
        report.write_xlsx(handle)
    return token


def open_report(*, user, token: str):
    """The user's own report file, or None (someone else's token finds nothing)."""
    if not _TOKEN.match(token or ""):
        return None
    path = _reports_dir(user) / f"{token}.xlsx"
    return open(path, "rb") if path.is_file() else None  # noqa: SIM115 - the response closes it


def report_filename() -> str:
    return _("import errors") + ".xlsx"


# ---------------------------------------------------------------------------------------------
# writing xlsx and csv


_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class XlsxWriter:
    """A small streaming xlsx writer: one sheet, bold header, text cells for all text.

    Text is always written as a text cell formatted "@", never as a formula, so a value such as
    "=HYPERLINK(…)" stays inert; it streams 100,000 rows in a few seconds with little memory.
    """

    def __init__(self, target, *, sheet_name: str):
        self.zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=5)
        name = re.sub(r"[\[\]:*?/\\]", " ", sheet_name)[:31] or "Sheet1"
        ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
        self.zip.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            "</Types>"))  # fmt: skip
        self.zip.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))  # fmt: skip
        self.zip.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {ns} xmlns:r="{rel}">'
            f'<sheets><sheet name="{xml_escape(name, {chr(34): "&quot;"})}" sheetId="1" r:id="rId1"/></sheets></workbook>'))  # fmt: skip
        self.zip.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/styles" Target="styles.xml"/></Relationships>'))  # fmt: skip
        self.zip.writestr("xl/styles.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet {ns}>'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyNumberFormat="1"/>'
            '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'))  # fmt: skip
        self.sheet = self.zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self.rows = 0
        self.letters: list[str] = []
        self.buffer: list[str] = [
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {ns}><sheetViews>'
            '<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            "</sheetView></sheetViews><sheetData>"
        ]

    def row(self, values, *, header: bool = False) -> None:
        self.rows += 1
        r = str(self.rows)
        while len(self.letters) < len(values):
            self.letters.append(_column_letter(len(self.letters)))
        style = "1" if header else "2"
        parts = [f'<row r="{r}">']
        for letter, value in zip(self.letters, values, strict=False):
            if value is None or value == "":
                continue
            if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                parts.append(f'<c r="{letter}{r}"><v>{value}</v></c>')
                continue
            text = xml_escape(_ILLEGAL_XML.sub("", str(value))).replace("\r", "&#13;")
            parts.append(
                f'<c r="{letter}{r}" t="inlineStr" s="{style}"><is><t xml:space="preserve">{text}</t></is></c>'
            )
        parts.append("</row>")
        self.buffer.append("".join(parts))
        if len(self.buffer) >= 500:
            self._drain()

    def _drain(self) -> None:
        self.sheet.write("".join(self.buffer).encode("utf-8"))
        self.buffer = []

    def close(self) -> None:
        self.buffer.append("</sheetData></worksheet>")
        self._drain()
        self.sheet.close()
        self.zip.close()


def csv_safe(value) -> object:
    """Neutralize a cell a spreadsheet would run as a formula (=, +, -, @, tab, CR) with a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CsvWriter:
    """CSV in UTF-8 with a BOM (so Excel opens Chinese text correctly), formulas neutralized."""

    def __init__(self, target):
        self.target = target
        self.text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="", write_through=False)
        self.writer = csv.writer(self.text)

    def row(self, values, *, header: bool = False) -> None:
        self.writer.writerow(["" if v is None else csv_safe(v) for v in values])

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


@dataclass
class ExportFile:
    """A file ready for download: a name in the user's language, its type and an open handle."""

    filename: str
    content_type: str
    file: object
    rows: int = 0


def _entity_label(entity: str) -> str:
    model = Account if entity == "accounts" else Contact
    return str(model._meta.verbose_name_plural)


def entity_choices() -> list[tuple[str, str]]:
    return [(entity, _entity_label(entity)) for entity in ENTITIES]


def _writer(fmt: str, target, sheet_name: str):
    if fmt == "xlsx":
        return XlsxWriter(target, sheet_name=sheet_name)
    if fmt == "csv":
        return CsvWriter(target)
    raise ValidationError({"format": _("Choose xlsx or csv.")})


def _header_labels(columns: list[Column], *, marked: bool) -> list[str]:
    return [f"{c.label}*" if marked and c.required else str(c.label) for c in columns]


# --- templates


def _column_help(column: Column) -> str:
    kind = column.kind
    if kind == "choice":
        return _("One of: %(labels)s (or the codes %(codes)s).") % {
            "labels": "、".join(str(label) for _value, label in column.choices.choices),
            "codes": ", ".join(column.choices.values),
        }
    helps = {
        "region": _("A name such as 广东省 / 深圳市 / 南山区, or its GB/T 2260 code."),
        "user": _("Username of an active KA manager or KA department head; empty: yourself."),
        "parent": _("Name or credit code of an account you can see, or of a row above in this file."),
        "account": _("Name or unified social credit code of an account you may change."),
        "tags": _("Several tags separated by commas."),
        "bool": _("yes or no."),
        "date": _("A date such as 2024-05-20."),
        "int": _("A whole number."),
        "decimal": _("A number."),
    }
    if kind in helps:
        return helps[kind]
    special = {
        "short_names": _("Several short names separated by commas or 、, e.g. 中行、BOC."),
        "credit_code": _("18 characters; format the cell as text."),
        "phone": _("Mainland numbers with or without +86, e.g. 010-66596688."),
        "mobile": _("A mobile number such as 13812345678."),
    }
    return special.get(column.key, "")


def import_template(*, entity: str, fmt: str = "xlsx") -> ExportFile:
    """An empty import file: required columns marked *, notes on each column, choice lists (ARC-8)."""
    columns = columns_for(entity)
    label = _entity_label(entity)
    filename = _("%(entity)s import template.%(ext)s") % {"entity": label, "ext": fmt}
    if fmt == "csv":
        target = io.BytesIO()
        writer = CsvWriter(target)
        writer.row(_header_labels(columns, marked=True), header=True)
        writer.close()
        target.seek(0)
        return ExportFile(filename=filename, content_type=CSV_TYPE, file=target)
    if fmt != "xlsx":
        raise ValidationError({"format": _("Choose xlsx or csv.")})
    return ExportFile(filename=filename, content_type=XLSX_TYPE, file=io.BytesIO(_template_xlsx(columns, label)))


def _template_xlsx(columns: list[Column], label: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = re.sub(r"[\[\]:*?/\\]", " ", label)[:31]
    notes = workbook.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", _("instructions"))[:31])
    lists = workbook.create_sheet("lists")
    lists.sheet_state = "hidden"
    bold, required = Font(bold=True), Font(bold=True, color="B3261E")
    list_column = 0
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index, value=f"{column.label}*" if column.required else str(column.label))
        cell.font = required if column.required else bold
        help_text = _column_help(column)
        note = " ".join(filter(None, [_("Required.") if column.required else "", help_text,
                                      _("Column key: %(key)s") % {"key": column.key}]))  # fmt: skip
        cell.comment = Comment(note, "KAM", width=300, height=120)
        sheet.column_dimensions[letter].width = max(12, min(40, len(str(column.label)) * 2 + 4))
        sheet.column_dimensions[letter].number_format = "@"
        if column.kind == "choice":
            list_column += 1
            list_letter = get_column_letter(list_column)
            choices = [str(lbl) for _value, lbl in column.choices.choices]
            for row, text in enumerate(choices, start=1):
                lists.cell(row=row, column=list_column, value=text)
            validation = DataValidation(type="list", formula1=f"=lists!${list_letter}$1:${list_letter}${len(choices)}",
                                        allow_blank=True, showErrorMessage=False)  # fmt: skip
            validation.add(f"{letter}2:{letter}{max_rows() + 1}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    notes.append([_("column"), _("column key"), _("required"), _("what to enter")])
    for cell in notes[1]:
        cell.font = bold
    for column in columns:
        notes.append([str(column.label), column.key, _("yes") if column.required else "", _column_help(column)])
    notes.append([])
    notes.append([_("Fill in one row per record on the first sheet. Required columns are marked with *. "
                    "The import saves all rows or none: rows with errors come back in a report.")])  # fmt: skip
    for letter, width in (("A", 28), ("B", 24), ("C", 8), ("D", 90)):
        notes.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- exports


def _yes_no(value) -> str:
    return _("yes") if value else _("no")


def _choice_labels(columns: list[Column]) -> dict[str, dict[str, str]]:
    return {c.key: {value: str(label) for value, label in c.choices.choices} for c in columns if c.kind == "choice"}


def _export_value(column: Column, value, labels: dict):
    if value is None or value == "":
        return ""
    kind = column.kind
    if kind == "choice":
        return labels[column.key].get(value, value)
    if kind == "region":
        return regions.name(value) or value
    if kind == "bool":
        return _yes_no(value)
    if kind == "date":
        return value.isoformat()
    if column.key == "short_names":
        return "、".join(value)
    if kind == "tags":
        return ", ".join(value)
    return value


def _spool():
    return tempfile.SpooledTemporaryFile(max_size=8 * 2**20)  # noqa: SIM115 - handed to the response


def export_accounts(
    *, actor, fmt: str = "xlsx", filters: dict | None = None, include_archived: bool = False
) -> ExportFile:
    """The accounts the actor can see (filtered as the account list), as xlsx or csv; audited."""
    filters = {k: v for k, v in (filters or {}).items() if k in selectors.ACCOUNT_FILTERS and v not in (None, "")}
    columns = _account_columns()
    labels = _choice_labels(columns)
    accounts = selectors.account_list(actor, filters=filters, include_archived=include_archived)
    plain = [c.key for c in columns if c.kind not in ("user", "parent", "tags")]
    rows = accounts.values("pk", *plain, "owner__username", "parent__name").iterator(chunk_size=2000)
    target = _spool()
    writer = _writer(fmt, target, _entity_label("accounts"))
    writer.row(_header_labels(columns, marked=False), header=True)
    count = 0
    for chunk in _chunks(rows, 1000):
        tags: dict[int, list[str]] = {}
        links = Account.tags.through.objects.filter(account_id__in=[r["pk"] for r in chunk]).order_by("tag__name")
        for account_id, name in links.values_list("account_id", "tag__name"):
            tags.setdefault(account_id, []).append(name)
        for row in chunk:
            row["owner"], row["parent"], row["tags"] = (
                row["owner__username"],
                row["parent__name"],
                tags.get(row["pk"], []),
            )
            writer.row([_export_value(c, row[c.key], labels) for c in columns])
            count += 1
    writer.close()
    return _finish_export(actor=actor, entity="accounts", fmt=fmt, target=target, count=count,
                          extra={"filters": filters, "include_archived": include_archived})  # fmt: skip


def export_contacts(*, actor, fmt: str = "xlsx", filters: dict | None = None) -> ExportFile:
    """Contacts the actor can see, one row per position at a visible account (filters as the
    account list; `q` searches the contacts, `account` picks one account); audited."""
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    columns = _contact_columns()
    labels = _choice_labels(columns)
    account_filters = {k: v for k, v in filters.items() if k in selectors.ACCOUNT_FILTERS and k != "q"}
    accounts = selectors.account_list(actor, filters=account_filters)
    if filters.get("account"):
        accounts = accounts.filter(pk=filters["account"])
    contacts = scopes.visible_contacts(actor)
    if filters.get("q"):
        contacts = contacts.filter(pk__in=search.contact_ids_matching(filters["q"]))
    contact_keys = [c.key for c in columns if c.key in CONTACT_COLUMN_KEYS]
    position_keys = [c.key for c in columns if c.key in POSITION_COLUMN_KEYS]
    positions = (
        AccountContact.objects.filter(contact__in=contacts, account__in=accounts.values("pk"))
        .order_by("contact__name_sort", "contact_id", "account__name_sort")
        .values("account__name", *(f"contact__{k}" for k in contact_keys), *position_keys)
    )
    target = _spool()
    writer = _writer(fmt, target, _entity_label("contacts"))
    writer.row(_header_labels(columns, marked=False), header=True)
    count = 0
    for row in positions.iterator(chunk_size=2000):
        row["account"] = row["account__name"]
        for key in contact_keys:
            row[key] = row[f"contact__{key}"]
        writer.row([_export_value(c, row[c.key], labels) for c in columns])
        count += 1
    writer.close()
    return _finish_export(actor=actor, entity="contacts", fmt=fmt, target=target, count=count,
                          extra={"filters": {k: str(v) for k, v in filters.items()}, "personal_details": True})  # fmt: skip


def export_records(*, actor, entity: str, fmt: str = "xlsx", filters: dict | None = None) -> ExportFile:
    if entity == "accounts":
        return export_accounts(actor=actor, fmt=fmt, filters=filters)
    if entity == "contacts":
        return export_contacts(actor=actor, fmt=fmt, filters=filters)
    raise ValidationError({"entity": _("Choose accounts or contacts.")})


def _chunks(iterable, size: int):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _finish_export(*, actor, entity, fmt, target, count, extra) -> ExportFile:
    audit.record(
        actor=actor, action=AuditAction.EXPORT, target=(f"accounts.{entity}", "", f"{entity} ({fmt})"),
        extra={"entity": entity, "format": fmt, "rows": count, **extra},
    )  # fmt: skip
    target.seek(0)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return ExportFile(filename=f"{_entity_label(entity)}-{stamp}.{fmt}", content_type=XLSX_TYPE if fmt == "xlsx" else CSV_TYPE,
                      file=target, rows=count)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the `kam import` and `kam export` commands


def _command_user(username: str | None):
    User = get_user_model()
    if username:
        user = User.objects.filter(username=username, is_active=True).select_related("department").first()
        if user is None:
            print(_("There is no active user %(name)s.") % {"name": username}, file=sys.stderr)
        return user
    user = User.objects.filter(is_active=True, role=Role.ADMIN).select_related("department").order_by("pk").first()
    if user is None:
        print(_("There is no active administrator: give --user."), file=sys.stderr)
    return user


def run_import_command(path, entity: str, username: str | None, on_duplicate: str = "stop", report=None) -> int:
    """`kam import FILE --entity accounts`: 0 imported, 1 rows failed (listed), 2 bad usage or file."""
    user = _command_user(username)
    if user is None:
        return 2
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        print(_("Cannot open %(path)s: %(reason)s") % {"path": path, "reason": e.strerror}, file=sys.stderr)
        return 2
    try:
        with handle:
            result = import_records(actor=user, entity=entity, file=handle, on_duplicate=on_duplicate,
                                    filename=Path(path).name)  # fmt: skip
    except PermissionDenied as e:
        print(str(e), file=sys.stderr)
        return 2
    except ValidationError as e:
        for _key, message in _error_items(e):
            print(message, file=sys.stderr)
        return 2
    if result.ok:
        print(result.detail())
        return 0
    print(result.detail(), file=sys.stderr)
    for row, message in result.row_messages().items():
        print(_("row %(row)d: %(message)s") % {"row": row, "message": message}, file=sys.stderr)
    if result.truncated:
        print(_("(only the first %(n)d failed rows are listed)") % {"n": len(result.failed_rows)}, file=sys.stderr)
    if report:
        with open(report, "wb") as handle:
            result.write_xlsx(handle)
        print(_("Error report written to %(path)s.") % {"path": report}, file=sys.stderr)
    return 1


def run_export_command(entity: str, username: str | None, output: str | None = None, fmt: str = "csv") -> int:
    """`kam export --entity accounts [-o FILE] [--format xlsx]`: what the user may see, audited."""
    user = _command_user(username)
    if user is None:
        return 2
    if fmt == "xlsx" and not output and sys.stdout.isatty():
        print(_("Give --output for an xlsx export."), file=sys.stderr)
        return 2
    try:
        result = export_records(actor=user, entity=entity, fmt=fmt)
    except ValidationError as e:
        for _key, message in _error_items(e):
            print(message, file=sys.stderr)
        return 2
    with result.file as source:
        if output:
            with open(output, "wb") as target:
                _copy(source, target)
        else:
            sys.stdout.flush()
            _copy(source, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    print(_("Exported %(n)d rows.") % {"n": result.rows}, file=sys.stderr)
    return 0


def _copy(source, target) -> None:
    while chunk := source.read(_CHUNK):
        target.write(chunk)

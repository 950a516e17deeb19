"""Import of sales lines (成交 / 订单行) from ERP exports, csv or xlsx (issue 3 item 6).

All or nothing per file: any failed row rolls the whole file back, and the report names each failed
row, field and reason. Idempotent: a row whose (order number, line number) is already recorded is
skipped and counted, never doubled; the same order line twice in one file is an error. Monthly
aggregates (SalesMonth) of the touched (account, month) pairs are updated in the same transaction.

Built for ERP-sized files (a million lines): rows are read and checked in batches of BATCH, the
existing order lines looked up once per batch, and each batch written as one database call (SQLite
json_each, PostgreSQL COPY) on kam.core.db's write-behind thread while the next batch is read; the
aggregates of a batch are one INSERT … ON CONFLICT DO UPDATE. No ORM object per row.

The file guards (size, type by magic bytes, zip bombs, XML declarations) and the xlsx reader are
those of the account import (kam.accounts.imports); csv is streamed here, in UTF-8 (with or without
BOM) or GB18030, with limits of its own (KAM["SALES_IMPORT_MAX_MB"], ["SALES_IMPORT_MAX_ROWS"]).
"""

import codecs
import csv
import io
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kam.accounts import imports as sheets
from kam.accounts.imports import Column, ImportFileError
from kam.accounts.names import normalize_company_name
from kam.core import audit, scopes
from kam.core.db import BulkInsert, WriteBehind, analyze, bulk_insert
from kam.core.models import AuditAction
from kam.sales import services
from kam.sales.models import SalesImport, SalesImportStatus, SalesMonth, SalesRecord, SalesSource

BATCH = 25_000
# The monthly sums are kept across batches until this many (account, month) pairs are pending (about
# 50 MB): a batch of 10,000 lines touches nearly as many pairs, so adding each batch's sums at once
# cost PostgreSQL an upsert per line; kept longer, a pair is upserted once for all its lines.
MONTHS_PENDING = 100_000
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
ACCOUNT_LOOKUP_CHUNK = 2000
TRUE_WORDS = {"1", "true", "yes", "y", "t", "是", "退货", "√"}
FALSE_WORDS = {"", "0", "false", "no", "n", "f", "否"}
CELL_ORDER = ("account", "order_number", "line_number", "date", "product_line", "product", "quantity", "amount",
              "gross_margin", "currency", "is_return")  # fmt: skip
NUMBER_COLUMNS = ("quantity", "amount", "gross_margin")
COPY_NULL = "\\N"  # NULL in COPY's text format
ORDER_SEPARATOR = "\x1f"  # joins the order numbers of a duplicate lookup on PostgreSQL (chr(31) there)
RECORD_COLUMNS = ("account", "order_number", "line_number", "date", "product_line", "product", "quantity", "amount",
                  "gross_margin", "currency", "is_return", "credited_to", "source", "sales_import", "created_by", "created_at")  # fmt: skip


def columns() -> list[Column]:
    """The columns of a sales file: stable key, label, and the names Chinese ERP exports use."""
    return [
        Column("account", gettext_lazy("account"), required=True,
               aliases=("客户", "客户名称", "客户编号", "客户ID", "统一社会信用代码", "信用代码", "购货单位", "单位名称")),
        Column("order_number", gettext_lazy("order number"), required=True, aliases=("订单号", "订单编号", "单据编号", "单号", "销售订单号")),
        Column("line_number", gettext_lazy("line number"), aliases=("行号", "订单行号", "行")),
        Column("date", gettext_lazy("date"), required=True, aliases=("日期", "订单日期", "成交日期", "单据日期", "销售日期")),
        Column("product_line", gettext_lazy("product line"), required=True, aliases=("产品线", "产品类别", "产品大类")),
        Column("product", gettext_lazy("product"), aliases=("产品", "产品名称", "物料名称", "商品名称", "品名")),
        Column("quantity", gettext_lazy("quantity"), required=True, aliases=("数量", "销售数量")),
        Column("amount", gettext_lazy("amount"), required=True, aliases=("金额", "销售金额", "含税金额", "价税合计", "成交金额")),
        Column("gross_margin", gettext_lazy("gross margin"), required=True, aliases=("毛利", "毛利额", "毛利润")),
        Column("currency", gettext_lazy("currency"), aliases=("币种", "币别", "货币")),
        Column("is_return", gettext_lazy("return"), aliases=("退货", "是否退货")),
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the report


@dataclass
class SalesImportReport:
    """What a sales import did, or why it did nothing: counts and, per failed row, field and reason."""

    file_name: str = ""
    rows: int = 0
    created: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)
    import_id: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def truncated(self) -> bool:
        return len({e["row"] for e in self.errors}) < self.failed

    def detail(self) -> str:
        if self.ok:
            return _("Imported %(created)d sales lines; %(skipped)d already recorded were skipped.") % {
                "created": self.created,
                "skipped": self.skipped,
            }
        return _("%(failed)d rows have errors; nothing was imported. Correct them and import the file again.") % {
            "failed": self.failed
        }

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "detail": self.detail(),
            "import_id": self.import_id,
            "rows": self.rows,
            "created": self.created,
            "skipped": self.skipped,
            "failed": self.failed,
            "errors": self.errors,
            "errors_truncated": self.truncated,
        }


# ---------------------------------------------------------------------------------------------
# reading


def _setting(name: str) -> int:
    return int(settings.KAM[name])


def _read(file, filename: str):
    """(header, iterator of (row number, cells), kind) of the file; raise ImportFileError."""
    size = sheets._file_size(file)
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")) or Path(filename).suffix.lower() == ".xlsx":
        table = sheets.read_table(file, filename=filename)  # the account import's guards and reader
        return table.header, table.rows, table.kind
    if size > _setting("SALES_IMPORT_MAX_MB") * 2**20:
        raise ImportFileError(
            _("The file is larger than %(mb)d MB.") % {"mb": _setting("SALES_IMPORT_MAX_MB")}, status=413
        )
    if Path(filename).suffix.lower() not in (".csv", ".txt", ""):
        raise ImportFileError(_("Only .xlsx and .csv files can be imported."), status=415)
    return _read_csv(file)


def _csv_encoding(file) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as such, else GB18030 (which covers GBK)."""
    raw = getattr(file, "file", file)
    raw.seek(0)
    first = raw.read(4)
    raw.seek(0)
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(_("This is not a text (CSV) file, or it is in UTF-16: save it as CSV UTF-8."), status=415)
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := raw.read(sheets._CHUNK):
                if b"\x00" in chunk:
                    raise ImportFileError(
                        _("This is not a text (CSV) file, or it is in UTF-16: save it as CSV UTF-8."), status=415
                    )
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
        finally:
            raw.seek(0)
    raise ImportFileError(_("The text of this CSV file cannot be read: save it as CSV UTF-8 (or GBK)."))


def _read_csv(file):
    encoding = _csv_encoding(file)
    raw = getattr(file, "file", file)
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    first = text.readline()
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    text.seek(0)
    reader = csv.reader(text, delimiter=delimiter)
    limit = _setting("SALES_IMPORT_MAX_ROWS")

    def numbered():
        count = 0
        try:
            for row in reader:
                if not any(row):
                    continue
                count += 1
                if count > limit + 1:
                    raise ImportFileError(
                        _("The file has more than %(n)d rows; split it into several files.") % {"n": limit}, status=413
                    )
                yield reader.line_num, row
        except csv.Error as e:
            raise ImportFileError(_("The CSV file is malformed near row %(row)d.") % {"row": reader.line_num}) from e

    rows = numbered()
    for _row_no, header in rows:
        return header, rows, "csv"
    raise ImportFileError(_("The file has no header row: download the import template."))


# ---------------------------------------------------------------------------------------------
# cells: fast converters (a million rows), the same rules as the account import's


def _clean(value) -> str:
    """A cell as text (sheets._text), with a fast path for the strings of a csv."""
    if value.__class__ is str:
        value = value.strip()
        if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@"):
            value = value[1:]  # our own export's guard against formulas
        return value
    return sheets._text(value)


def _decimal(value) -> Decimal:
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    return sheets._Cells._decimal(value)  # numbers from xlsx, "1,234.50", "¥12", …


def _date(value) -> date:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    return sheets._Cells._date(value)


def _line_number(value) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value in (None, ""):
        return 1
    return sheets._Cells._int(value)


# ---------------------------------------------------------------------------------------------
# importing


def _check_may_import(actor) -> None:
    if actor is None or not actor.is_active or not actor.can_edit_accounts:
        raise PermissionDenied(_("Your role cannot import sales records."))


def sales_import(*, actor, file, filename: str = "") -> SalesImportReport:
    """Import sales lines from an ERP export (csv or xlsx), all or nothing, idempotent (issue 3 item 6).

    Raises ImportFileError (a ValidationError on `file`) for a file that cannot be read or whose
    columns are wrong, PermissionDenied for a read-only role. A report with failed rows means nothing
    was saved; the attempt is kept as a failed SalesImport with its errors.
    """
    _check_may_import(actor)
    filename = Path(filename or getattr(file, "name", "") or "").name
    started = time.monotonic()
    header, rows, kind = _read(file, filename)
    keys = sheets._map_header(header, columns())
    report = SalesImportReport(file_name=filename)
    try:
        return _import_rows(actor=actor, rows=rows, keys=keys, kind=kind, report=report, started=started)
    except IntegrityError as e:
        # Only another import writing the same order lines at the same moment gets here (the lines
        # already recorded were skipped): its lines are in now; importing the file again skips them.
        raise ImportFileError(
            _("Another import wrote some of these order lines at the same time; nothing was saved. Import again."),
            status=409,
        ) from e


def _import_rows(*, actor, rows, keys, kind, report, started) -> SalesImportReport:
    filename = report.file_name
    with transaction.atomic():
        batch_import = SalesImport.objects.create(
            created_by=actor, file_name=filename[:255], status=SalesImportStatus.DONE
        )
        with WriteBehind() as writer:
            importer = _SalesImporter(actor=actor, keys=keys, report=report, batch_import=batch_import, writer=writer)
            for row_no, cells in rows:
                importer.add(row_no, cells)
            importer.finish()
        if report.rows == 0:
            raise ImportFileError(_("The file has no rows to import."))
        report.seconds = round(time.monotonic() - started, 1)
        if report.ok:
            SalesImport.objects.filter(pk=batch_import.pk).update(
                rows=report.rows, created=report.created, skipped=report.skipped
            )
            report.import_id = batch_import.pk
            if report.created >= BATCH:
                analyze(SalesRecord, SalesMonth)
            audit.record(
                actor=actor, action=AuditAction.IMPORT, target=("sales.salesrecord", batch_import.pk, filename or "sales"),
                extra={"file": filename, "format": kind, "rows": report.rows, "created": report.created,
                       "skipped": report.skipped, "seconds": report.seconds},
            )  # fmt: skip
            return report
        transaction.set_rollback(True)
    failed = SalesImport.objects.create(
        created_by=actor, file_name=filename[:255], status=SalesImportStatus.FAILED, rows=report.rows,
        skipped=report.skipped, failed=report.failed, errors=report.errors,
    )  # fmt: skip
    report.import_id = failed.pk
    report.created = 0
    return report


class _SalesImporter:
    """Rows in, batches out: parse and check each row; per batch resolve accounts, find the order lines
    already recorded, and (while no row failed) write lines and aggregates behind."""

    def __init__(self, *, actor, keys, report, batch_import, writer):
        self.actor, self.report, self.writer = actor, report, writer
        self.import_id = batch_import.pk
        self.rules = services.SalesLineRules.current()
        index = {key: i for i, key in enumerate(keys) if key is not None}
        self.positions = [index.get(key) for key in CELL_ORDER]  # each column's cell, None if absent
        self.labels = {c.key: str(c.label) for c in columns()}
        self.accounts: dict[str, tuple[int | None, str | None]] = {}  # reference → (account id, error)
        self.owners: dict[int, int | None] = {}  # account id → its owner, credited with the account's lines
        self.pending: list[tuple] = []
        self.doomed = False
        self.connection = connections[router.db_for_write(SalesRecord)]
        self.created_at = str(self.connection.ops.adapt_datetimefield_value(timezone.now()))
        self.max_errors = sheets.report_max_rows()
        self.dates: dict[str, date] = {}
        self.days: dict[date, tuple[str, date]] = {}  # a line's date → (ISO text, first day of its month)
        self.escaped: dict[str, str] = {}  # product lines, products, currencies in COPY's text format
        self.analyzed_rows = SalesRecord.objects.count()  # lines when the planner's statistics were taken
        self.unanalyzed = 0  # lines written since
        # (account, month) → [amount, margin, quantity, lines] of the lines written and not yet added to SalesMonth
        self.sums: dict[tuple[int, date], list] = {}
        # (owner, month) → [amount, margin, lines] of the lines written and not yet added to SalesCredit
        self.credits: dict[tuple[int, date], list] = {}
        self.copy_format = self.connection.vendor == "postgresql"
        self.constants = (SalesSource.IMPORT.value, self.import_id, self.actor.pk, self.created_at)
        self.row_tail = "\t".join(str(value) for value in self.constants) + "\n"

    def fail(self, row_no: int, problems) -> None:
        self.doomed = True
        self.report.failed += 1
        if len(self.report.errors) < self.max_errors:
            for name, message in problems:
                self.report.errors.append({"row": row_no, "field": name, "column": self.labels.get(name, ""),
                                           "message": str(message)})  # fmt: skip

    def add(self, row_no: int, cells: list) -> None:
        """Parse and check one row; queue it for its batch. Written for speed: 10 µs a row matters."""
        self.report.rows += 1
        width, positions, problems = len(cells), self.positions, []
        account_ref, order_number, raw_line, raw_date, product_line, product, *raw_numbers, raw_currency, flag = (
            _clean(cells[i]) if i is not None and i < width else "" for i in positions
        )
        try:
            line_number = int(raw_line) if raw_line.isdigit() else _line_number(raw_line)
        except ValueError as e:
            problems.append(("line_number", str(e)))
            line_number = 1
        day = self.dates.get(raw_date)
        if day is None:
            if not raw_date:
                problems.append(("date", _("Enter the date.")))
            else:
                try:
                    day = _date(raw_date)
                    if len(self.dates) < 100_000:
                        self.dates[raw_date] = day  # an export has a few thousand distinct dates
                except ValueError as e:
                    problems.append(("date", str(e)))
        numbers = []
        for name, text in zip(NUMBER_COLUMNS, raw_numbers, strict=True):
            if not text:
                problems.append((name, _("Enter a number.")))
                continue
            try:
                numbers.append(Decimal(text))
            except InvalidOperation:
                try:
                    numbers.append(_decimal(text))
                except ValueError as e:
                    problems.append((name, str(e)))
        is_return = False
        if flag:
            flag = flag.lower()
            is_return = flag in TRUE_WORDS
            if not is_return and flag not in FALSE_WORDS:
                problems.append(("is_return", _("Enter yes or no.")))
        if not account_ref:
            problems.append(("account", _("Enter the account's credit code, name or id.")))
        currency = raw_currency.upper() or self.rules.currency
        if day is not None and len(numbers) == 3:
            quantity, amount, margin = numbers
            problems += services.sales_line_problems(
                self.rules, order_number=order_number, line_number=line_number, date_=day, product_line=product_line,
                product=product, quantity=quantity, amount=amount, gross_margin=margin, is_return=is_return,
                currency=currency,
            )  # fmt: skip
        if problems:
            self.fail(row_no, problems)
            return
        self.pending.append((row_no, account_ref, order_number, line_number, day, product_line, product, quantity,
                             amount, margin, currency, is_return))  # fmt: skip
        if len(self.pending) >= BATCH:
            self.flush()

    def resolve_accounts(self, refs: set[str]) -> None:
        """Accounts the actor may change, by id, unified social credit code or name (cached).

        A name matches exactly, or else by its normalized form (the ARC-5 identity: full-width folded,
        legal form dropped) if that names one account. One indexed query per kind of reference.
        """
        unknown = [ref for ref in refs if ref not in self.accounts]
        editable = scopes.editable_accounts(self.actor)
        for start in range(0, len(unknown), ACCOUNT_LOOKUP_CHUNK):
            chunk = unknown[start : start + ACCOUNT_LOOKUP_CHUNK]
            ids = {ref: int(ref) for ref in chunk if ref.isdigit() and len(ref) <= 12}
            codes = {ref: ref.upper() for ref in chunk if len(ref) == 18 and ref.isalnum()}
            names = {ref: normalize_company_name(ref) for ref in chunk if ref not in ids}
            owners = self.owners
            by_id = set()
            if ids:
                for pk, owner in editable.filter(pk__in=ids.values()).values_list("pk", "owner_id"):
                    by_id.add(pk)
                    owners[pk] = owner
            by_code: dict[str, set[int]] = {}
            if codes:
                rows = editable.filter(credit_code__in=set(codes.values()))
                for pk, code, owner in rows.values_list("pk", "credit_code", "owner_id"):
                    by_code.setdefault(code, set()).add(pk)
                    owners[pk] = owner
            by_name: dict[str, set[int]] = {}
            by_normalized: dict[str, set[int]] = {}
            if names:
                rows = editable.filter(normalized_name__in=set(names.values()))
                for pk, name, normalized, owner in rows.values_list("pk", "name", "normalized_name", "owner_id"):
                    owners[pk] = owner
                    by_name.setdefault(name, set()).add(pk)
                    by_normalized.setdefault(normalized, set()).add(pk)
            for ref in chunk:
                if ref in ids:
                    hits = {ids[ref]} & by_id
                else:
                    hits = (
                        by_code.get(codes.get(ref), set()) or by_name.get(ref) or by_normalized.get(names[ref], set())
                    )
                if len(hits) == 1:
                    self.accounts[ref] = (next(iter(hits)), None)
                elif hits:
                    self.accounts[ref] = (None, _("Several accounts have this name: give the credit code."))
                else:
                    self.accounts[ref] = (None, _("No account you may change has this credit code, name or id."))

    def existing_lines(self, orders: list[str]) -> dict[tuple[str, int], int | None]:
        """(order number, line) → import id of the order lines already recorded, for these orders."""
        table = self.connection.ops.quote_name(SalesRecord._meta.db_table)
        if self.connection.vendor == "postgresql":
            # One text parameter split by the server: psycopg would dump a list of 25,000 order numbers element
            # by element in Python (and with the GIL, while the write-behind thread wants it too).
            joined = ORDER_SEPARATOR.join(orders)
            if joined.count(ORDER_SEPARATOR) == len(orders) - 1:
                sql = (f"SELECT order_number, line_number, sales_import_id FROM {table} "  # noqa: S608
                       "WHERE order_number = ANY(string_to_array(%s, chr(31)))")  # fmt: skip
                params = [joined]
            else:  # an order number containing the separator itself
                sql = f"SELECT order_number, line_number, sales_import_id FROM {table} WHERE order_number = ANY(%s)"  # noqa: S608
                params = [orders]
        else:
            sql = (f"SELECT order_number, line_number, sales_import_id FROM {table} "  # noqa: S608
                   "WHERE order_number IN (SELECT value FROM json_each(%s))")  # fmt: skip
            params = [json.dumps(orders, ensure_ascii=False)]
        with self.connection.cursor() as cursor:
            if self.connection.vendor != "postgresql":
                cursor.execute(sql, params)
                return {(order, line): import_id for order, line, import_id in cursor.fetchall()}
            # PostgreSQL estimates ~4 lines per order number, 100,000 for a batch, and from about a million
            # lines on scans the whole table (in parallel) rather than probe the unique index 25,000 times:
            # 0.45 s a batch at 1.3 million lines, against 0.08 s by the index when the orders are new (as in
            # most imports), and the same when they are all there. So the scan is switched off for this one
            # query, and the setting restored (set_config(…, true) lasts until the transaction ends).
            cursor.execute("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
            previous = cursor.fetchone()[0]
            try:
                cursor.execute(sql, params)
                return {(order, line): import_id for order, line, import_id in cursor.fetchall()}
            finally:
                cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [previous])

    def _escape(self, text: str) -> str:
        """A repeated text of the file (product line, product, currency) in COPY's text format, cached."""
        escaped = self.escaped.get(text)
        if escaped is None:
            escaped = text.translate(COPY_ESCAPES)
            if len(self.escaped) < 100_000:
                self.escaped[text] = escaped
        return escaped

    def flush(self) -> None:
        items, self.pending = self.pending, []
        if not items:
            return
        if len(self.accounts) > 200_000:
            self.accounts.clear()
            self.owners.clear()  # bounded: memory stays flat through a long file
        self.resolve_accounts({item[1] for item in items})
        # Lines written by the previous batch must be in the table before looking for duplicates.
        self.writer.wait()
        if self.unanalyzed > max(self.analyzed_rows, BATCH):
            # The duplicate lookup is an IN / ANY of some thousand order numbers, which the planner answers
            # with a scan of the whole table while its statistics say the table is small: without this the
            # import slowed down with the square of its lines (PostgreSQL: 1,000,000 lines at 21,000/s).
            # Refreshed each time the table has doubled; ANALYZE counts this transaction's own rows.
            analyze(SalesRecord)
            self.analyzed_rows += self.unanalyzed
            self.unanalyzed = 0
        existing = self.existing_lines(list({item[2] for item in items}))
        seen: dict[tuple[str, int], int] = {}
        rows, sums, credits, owners = [], self.sums, self.credits, self.owners
        import_id, copy = self.import_id, self.copy_format
        days, escape = self.days, self._escape
        for (
            row_no,
            ref,
            order,
            line,
            day,
            product_line,
            product,
            quantity,
            amount,
            margin,
            currency,
            is_return,
        ) in items:
            account_id, error = self.accounts[ref]
            if error:
                self.fail(row_no, [("account", error)])
                continue
            key = (order, line)
            if key in seen:
                message = _("Order %(order)s line %(line)d is already in row %(row)d of this file.")
                self.fail(row_no, [("order_number", message % {"order": order, "line": line, "row": seen[key]})])
                continue
            if key in existing:
                if existing[key] == import_id:
                    message = _("Order %(order)s line %(line)d is already in an earlier row of this file.")
                    self.fail(row_no, [("order_number", message % {"order": order, "line": line})])
                else:
                    self.report.skipped += 1
                continue
            seen[key] = row_no
            if self.doomed:
                continue
            owner = owners[account_id]
            # (str.translate, date.replace, date.isoformat and f-string formatting of Decimals cost ~8 µs a line
            # together: the ISO text and month of each date and the escaped repeated texts are cached.)
            known = days.get(day)
            if known is None:
                known = days[day] = (day.isoformat(), day.replace(day=1))
            day_text, first = known
            if copy:  # PostgreSQL COPY text: only the texts from the file need escaping
                if not order.isprintable() or "\\" in order:  # a tab, line break or backslash
                    order = order.translate(COPY_ESCAPES)
                rows.append(f"{account_id}\t{order}\t{line}\t{day_text}\t{escape(product_line)}\t{escape(product)}\t"
                            f"{str(quantity)}\t{str(amount)}\t{str(margin)}\t{escape(currency)}\t{int(is_return)}\t"
                            f"{COPY_NULL if owner is None else owner}\t{self.row_tail}")  # fmt: skip
            else:
                rows.append((account_id, order, line, day_text, product_line, product, str(quantity),
                             str(amount), str(margin), currency, int(is_return), owner, *self.constants))  # fmt: skip
            if owner is not None:
                credit = credits.get((owner, first))
                if credit is None:
                    credits[(owner, first)] = [amount, margin, 1]
                else:
                    credit[0] += amount
                    credit[1] += margin
                    credit[2] += 1
            month = (account_id, first)
            total = sums.get(month)
            if total is None:
                sums[month] = [amount, margin, quantity, 1]
            else:
                total[0] += amount
                total[1] += margin
                total[2] += quantity
                total[3] += 1
        if self.doomed:
            return
        self.report.created += len(rows)
        self.unanalyzed += len(rows)
        jobs = [_LinesCopy(rows) if copy else bulk_insert(SalesRecord, RECORD_COLUMNS, rows)]
        if len(sums) >= MONTHS_PENDING:
            jobs.append(_sums_job(services.sales_months_add, sums, copy))
            self.sums = {}
        if len(credits) >= MONTHS_PENDING:
            jobs.append(_sums_job(services.sales_credits_add, credits, copy))
            self.credits = {}
        self.writer.submit(*jobs)

    def finish(self) -> None:
        self.flush()
        if self.doomed:
            return
        if self.sums:
            self.writer.submit(_sums_job(services.sales_months_add, self.sums, self.copy_format))
            self.sums = {}
        if self.credits:
            self.writer.submit(_sums_job(services.sales_credits_add, self.credits, self.copy_format))
            self.credits = {}


# ---------------------------------------------------------------------------------------------
# `kam import FILE --entity sales`


def run_import_command(path, username: str | None) -> int:
    """`kam import FILE --entity sales`: 0 imported, 1 rows failed (listed), 2 bad usage or file."""
    user = sheets._command_user(username)
    if user is None:
        return 2
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        print(_("Cannot open %(path)s: %(reason)s") % {"path": path, "reason": e.strerror}, file=sys.stderr)
        return 2
    try:
        with handle:
            report = sales_import(actor=user, file=handle, filename=Path(path).name)
    except PermissionDenied as e:
        print(str(e), file=sys.stderr)
        return 2
    except ImportFileError as e:
        print(e.message_text, file=sys.stderr)
        return 2
    if report.ok:
        print(report.detail())
        return 0
    print(report.detail(), file=sys.stderr)
    for error in report.errors:
        text = f"{error['column']}: {error['message']}" if error["column"] else error["message"]
        print(_("row %(row)d: %(message)s") % {"row": error["row"], "message": text}, file=sys.stderr)
    if report.truncated:
        print(_("(only the first %(n)d errors are listed)") % {"n": len(report.errors)}, file=sys.stderr)
    return 1


class _LinesCopy(BulkInsert):
    """Sales lines as one PostgreSQL COPY, from rows already in COPY's text format (built in flush(),
    several times faster than BulkInsert formatting each value)."""

    def __init__(self, rows: list[str]):
        super().__init__(SalesRecord, RECORD_COLUMNS, [])
        self.payload, self.count = "".join(rows), len(rows)


def _sums_job(make, sums: dict, postgresql: bool) -> services.MonthlySumsAdd:
    """The aggregate update of these sums (`make`: services.sales_months_add or sales_credits_add). On PostgreSQL
    its parameters are built here, each column as ONE array literal ('{1,2,…}', cast by the server): psycopg
    dumps a Python list element by element in Python (~0.5 s per 100,000 (key, month) pairs, on the write-behind
    thread but holding the GIL the reading thread needs), and the generic builder formats every month again.
    The values are ids, ISO dates, decimal numbers and counts: nothing in them needs quoting in a literal."""
    if not postgresql:
        return make(sums)
    job = make({})  # the statement alone
    keys, months, texts = [], [], {}
    for key, month in sums:
        keys.append(key)
        text = texts.get(month)
        if text is None:
            text = texts[month] = month.isoformat()
        months.append(text)
    columns = [keys, months, *zip(*sums.values(), strict=True)]
    job.params = ["{" + ",".join(map(str, column)) + "}" for column in columns]
    job.count = len(sums)
    return job

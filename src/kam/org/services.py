"""Writes on the organisation: departments and users, quotas (PIPE-7), audited."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kam.core import audit, scopes
from kam.core.edits import record_created
from kam.core.errors import ConflictError
from kam.core.models import AuditAction
from kam.org.models import DEFAULT_SCOPE, DataScope, Department, DepartmentKind, Quota, Role, User

USER_FIELDS = [
    "username",
    "display_name",
    "email",
    "role",
    "department",
    "data_scope",
    "phone",
    "is_active",
    "language",
]


@transaction.atomic
def department_create(
    *, actor, name: str, kind: str = DepartmentKind.TEAM, parent: Department | None = None
) -> Department:
    department = Department(name=(name or "").strip(), kind=kind, parent=parent)
    department.full_clean(exclude=["path"], validate_unique=False, validate_constraints=False)
    if Department.objects.filter(parent=parent, name=department.name).exists():
        raise ValidationError({"name": _("A department of this name already exists here.")})
    department.save()
    department.path = f"{parent.path if parent else '/'}{department.pk}/"
    department.save(update_fields=["path"])
    audit.record(actor=actor, action=AuditAction.CREATE, target=department,
                 changes={"name": [None, department.name], "parent": [None, parent.pk if parent else None]})  # fmt: skip
    return department


def department_get_or_create_path(*, actor, names: list[str]) -> Department:
    """The department at the end of a path of names ("总公司/华东分公司/大客户部"), created if missing."""
    kinds = [DepartmentKind.COMPANY, DepartmentKind.BRANCH, DepartmentKind.KA_DEPARTMENT, DepartmentKind.TEAM]
    parent = None
    for depth, name in enumerate(n.strip() for n in names if n.strip()):
        found = Department.objects.filter(parent=parent, name=name).first()
        parent = found or department_create(actor=actor, name=name, kind=kinds[min(depth, 3)], parent=parent)
    if parent is None:
        raise ValidationError({"department": _("Name a department.")})
    return parent


@transaction.atomic
def department_move(*, actor, department: Department, parent: Department | None) -> Department:
    """Move a department (and its subtree) under another parent, keeping the paths right."""
    if parent and parent.path.startswith(department.path):
        raise ValidationError({"parent": _("A department cannot move under itself.")})
    old_path = department.path
    new_path = f"{parent.path if parent else '/'}{department.pk}/"
    before = department.parent_id
    department.parent = parent
    department.save(update_fields=["parent"])
    for node in Department.objects.filter(path__startswith=old_path):
        node.path = new_path + node.path[len(old_path) :]
        node.save(update_fields=["path"])
    audit.record(actor=actor, action=AuditAction.UPDATE, target=department,
                 changes={"parent": [before, parent.pk if parent else None]})  # fmt: skip
    return department


@transaction.atomic
def user_create(*, actor, username: str, password: str | None, role: str, department: Department | None,
                data_scope: str | None = None, display_name: str = "", email: str = "") -> User:  # fmt: skip
    """Create a user with one role and a data scope (defaulting by role)."""
    if role not in Role.values:
        raise ValidationError(
            {"role": _("Unknown role. Choose one of: %(roles)s.") % {"roles": ", ".join(Role.values)}}
        )
    scope = data_scope or DEFAULT_SCOPE[Role(role)]
    if scope not in DataScope.values:
        raise ValidationError(
            {"data_scope": _("Unknown data scope. Choose one of: %(s)s.") % {"s": ", ".join(DataScope.values)}}
        )
    user = User(username=username, role=role, department=department, data_scope=scope,
                display_name=display_name, email=email, is_staff=(role == Role.ADMIN),
                is_superuser=(role == Role.ADMIN))  # fmt: skip
    user.full_clean(exclude=["password"])
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=user,
                 changes=audit.diff({}, audit.snapshot(user, USER_FIELDS)))  # fmt: skip
    return user


def user_record_change(*, actor, user: User, before: dict) -> None:
    """Audit a change made to a user elsewhere (the admin screens), from a snapshot taken before."""
    changes = audit.diff(before, audit.snapshot(user, USER_FIELDS))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, target=user, changes=changes)


@transaction.atomic
def user_update(*, actor, user: User, fields: dict) -> User:
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in unknown})
    before = audit.snapshot(user, USER_FIELDS)
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    user.version += 1
    user.save()
    if "department" in fields:
        # Accounts follow their owner's department, so scopes stay right.
        user.owned_accounts.update(department=user.department)
    user_record_change(actor=actor, user=user, before=before)
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> None:
    User.objects.filter(pk=user.pk).update(language=language)


# --- quotas (PIPE-7) [h1]: monthly targets per KA manager or team, set one by one, in bulk or by import

QUOTA_FIELDS = ["user", "department", "month", "amount", "currency"]
_MONTH_PATTERNS = (
    re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})(?:\s*[-/.]\s*0?1)?$"),  # 2026-01, 2026/1, 2026-01-01
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月(?:\s*0?1\s*日)?$"),  # 2026年1月
    re.compile(r"^(\d{4})(\d{2})$"),  # 202601
)


def quota_month(value) -> date:
    """The month a value names, as its first day: a date on the 1st, "2026-01", "2026/1", "2026年1月", "202601".
    Raises ValueError with the reason; months before KAM["SALES_EARLIEST_DATE"] or more than
    KAM["QUOTA_YEARS_AHEAD"] years ahead are refused (typing errors)."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        if value.day != 1:
            raise ValueError(_("Enter a month such as 2026-01."))
        month = value
    else:
        text = str(value or "").strip()
        match = next((m for pattern in _MONTH_PATTERNS if (m := pattern.match(text))), None)
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise ValueError(_("Enter a month such as 2026-01."))
        month = date(int(match.group(1)), int(match.group(2)), 1)
    earliest = date.fromisoformat(settings.KAM["SALES_EARLIEST_DATE"]).replace(day=1)
    latest = date(timezone.localdate().year + settings.KAM["QUOTA_YEARS_AHEAD"], 12, 1)
    if not earliest <= month <= latest:
        raise ValueError(_("Enter a month from %(first)s to %(last)s.") % {"first": f"{earliest:%Y-%m}",
                                                                           "last": f"{latest:%Y-%m}"})  # fmt: skip
    return month


def quota_amount(value) -> Decimal | None:
    """A quota amount in CNY (None: no quota); raises ValueError with the reason."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(_("Enter a number."))
    text = re.sub(r"[\s,，¥￥元]", "", str(value)) if not isinstance(value, Decimal) else value
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else text)
    except InvalidOperation:
        raise ValueError(_("Enter a number.")) from None
    if not amount.is_finite():
        raise ValueError(_("Enter a number."))
    if amount < 0:
        raise ValueError(_("A quota cannot be negative."))
    cap = Decimal(settings.KAM["QUOTA_MAX_AMOUNT"])
    if amount > cap:
        raise ValueError(_("A quota cannot exceed %(max)s CNY.") % {"max": f"{cap:,}"})
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise ValueError(_("Enter at most 2 decimal places."))
    return amount.quantize(Decimal("0.01"))


@dataclass
class QuotaChange:
    """One checked quota entry: its target (a user or a team), month, amount (None removes it), version read."""

    user: User | None
    department: Department | None
    month: date
    amount: Decimal | None
    version: int | None = None

    @property
    def key(self) -> tuple:
        return (self.user.pk if self.user else None, self.department.pk if self.department else None, self.month)


@dataclass
class QuotaResult:
    """What a quota write did: the quotas now set by it, and counts."""

    quotas: list = field(default_factory=list)
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


def _pk_of(value):
    if value is None or value == "":
        return None
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return False  # not an id


def _quota_changes(actor, entries: list[dict]) -> tuple[list[QuotaChange], dict[int, dict[str, str]]]:
    """Check entries {"user" | "department": id or instance, "month", "amount", "version"}: the changes, and
    per entry index the problems by field. A target the actor may not set a quota for does not exist."""
    from kam.org import selectors

    user_ids = {pk for e in entries if (pk := _pk_of(e.get("user")))}
    team_ids = {pk for e in entries if (pk := _pk_of(e.get("department")))}
    people = {u.pk: u for u in selectors.quota_settable_people(actor).filter(pk__in=user_ids)} if user_ids else {}
    teams = {d.pk: d for d in selectors.quota_settable_teams(actor).filter(pk__in=team_ids)} if team_ids else {}
    changes, problems, seen = [], {}, {}
    for index, entry in enumerate(entries):
        errors: dict[str, str] = {}
        unknown = set(entry) - {"user", "department", "month", "amount", "version"}
        for name in sorted(unknown):
            errors[name] = _("Unknown field.")
        user_pk, team_pk = _pk_of(entry.get("user")), _pk_of(entry.get("department"))
        user = department = None
        if user_pk is None and team_pk is None:
            errors["user"] = _("Give a KA manager or a team.")
        elif user_pk is not None and team_pk is not None:
            errors["department"] = _("Give a KA manager or a team, not both.")
        elif user_pk is not None:
            user = people.get(user_pk) if user_pk else None
            if user is None:
                errors["user"] = _("There is no such KA manager.")
        else:
            department = teams.get(team_pk) if team_pk else None
            if department is None:
                errors["department"] = _("There is no such team.")
        month = amount = version = None
        try:
            month = quota_month(entry.get("month"))
        except ValueError as e:
            errors["month"] = str(e)
        try:
            amount = quota_amount(entry.get("amount"))
        except ValueError as e:
            errors["amount"] = str(e)
        raw_version = entry.get("version")
        if raw_version not in (None, ""):
            try:
                version = int(raw_version)
                if version < 0 or isinstance(raw_version, bool):
                    raise ValueError
            except (TypeError, ValueError):
                errors["version"] = _("Give the version you read.")
        if not errors:
            change = QuotaChange(user=user, department=department, month=month, amount=amount, version=version)
            if change.key in seen:
                errors["month"] = _("This quota is given twice (entry %(n)d).") % {"n": seen[change.key] + 1}
            else:
                seen[change.key] = index
                changes.append(change)
        if errors:
            problems[index] = errors
    return changes, problems


def _quota_snapshot(quota: Quota) -> dict:
    return audit.snapshot(quota, QUOTA_FIELDS)


def _quota_apply(*, actor, changes: list[QuotaChange]) -> QuotaResult:
    """Write checked changes all or nothing: lock what exists, refuse a stale version (409, nothing written:
    version 0 means "I saw no quota there"), then create, update or remove each, audited."""
    result = QuotaResult()
    if not changes:
        return result
    months = {c.month for c in changes}
    condition = models.Q(user_id__in={c.user.pk for c in changes if c.user}, month__in=months) | models.Q(
        department_id__in={c.department.pk for c in changes if c.department}, month__in=months
    )
    try:
        with transaction.atomic():
            existing = {(q.user_id, q.department_id, q.month): q
                        for q in Quota.objects.select_for_update().filter(condition)}  # fmt: skip
            for change in changes:
                current = existing.get(change.key)
                if current is not None and change.version is not None and change.version != current.version:
                    raise ConflictError(current)
                if current is None and change.version:  # it was there when read, and was removed since
                    raise ConflictError(None)
            for change in changes:
                current = existing.get(change.key)
                if change.amount is None:
                    if current is None:
                        result.unchanged += 1
                        continue
                    before = _quota_snapshot(current)
                    label, pk = str(current), current.pk
                    current.delete()
                    audit.record(actor=actor, action=AuditAction.DELETE, target=("org.quota", pk, label),
                                 changes={k: [v, None] for k, v in before.items()})  # fmt: skip
                    result.deleted += 1
                elif current is None:
                    quota = Quota(user=change.user, department=change.department, month=change.month,
                                  amount=change.amount, updated_by=actor)  # fmt: skip
                    record_created(quota, actor=actor, snapshot=_quota_snapshot)
                    result.quotas.append(quota)
                    result.created += 1
                elif current.amount != change.amount:
                    before = _quota_snapshot(current)
                    current.amount, current.updated_by = change.amount, actor
                    current.version += 1
                    current.save()
                    audit.record(actor=actor, action=AuditAction.UPDATE, target=current,
                                 changes=audit.diff(before, _quota_snapshot(current)))  # fmt: skip
                    result.quotas.append(current)
                    result.updated += 1
                else:
                    result.quotas.append(current)
                    result.unchanged += 1
    except IntegrityError:
        # Someone else created one of these quotas at the same moment: nothing was written; show theirs.
        current = Quota.objects.filter(condition).order_by("-updated_at").first()
        if current is None:
            raise
        raise ConflictError(current) from None
    return result


def _check_may_set_quotas(actor) -> None:
    if not scopes.may_set_quotas(actor):
        raise PermissionDenied(_("Your role cannot set quotas."))


def quota_bulk_set(*, actor, entries: list[dict]) -> QuotaResult:
    """Set many quotas at once, all or nothing (PIPE-7): entries {"user" | "department", "month", "amount"
    (empty removes the quota), "version" (the one read; 0: none was there; none: no check)}.

    Raises PermissionDenied for a role that sets no quotas, ValidationError naming "<entry index>.<field>"
    for every bad entry (nothing saved), ConflictError for a stale version (nothing saved)."""
    _check_may_set_quotas(actor)
    changes, problems = _quota_changes(actor, list(entries))
    if problems:
        raise ValidationError({f"{index}.{name}": message for index, errors in problems.items()
                               for name, message in errors.items()})  # fmt: skip
    return _quota_apply(actor=actor, changes=changes)


def quota_set(*, actor, month, amount, user=None, department=None, version=None) -> Quota | None:
    """Set one quota (a KA manager's or a team's, for one month); an empty amount removes it. Errors name
    the field; a stale version is a ConflictError. Returns the quota, or None when removed."""
    _check_may_set_quotas(actor)
    entry = {"user": user, "department": department, "month": month, "amount": amount, "version": version}
    changes, problems = _quota_changes(actor, [entry])
    if problems:
        raise ValidationError(problems[0])
    result = _quota_apply(actor=actor, changes=changes)
    return result.quotas[0] if result.quotas else None


def quota_remove(*, actor, quota: Quota, version=None) -> None:
    """Remove a quota (the same as setting it empty), audited; stale version → ConflictError."""
    quota_set(actor=actor, user=quota.user, department=quota.department, month=quota.month, amount=None,
              version=version)  # fmt: skip


def quota_import_columns() -> list:
    """The columns of a quota sheet (the account import's Column and header matching)."""
    from kam.accounts.imports import Column

    return [
        Column("user", gettext_lazy("KA manager"), aliases=("经理", "客户经理", "大客户经理", "用户名", "用户", "姓名")),
        Column("department", gettext_lazy("team"), aliases=("团队", "小组", "部门")),
        Column("month", gettext_lazy("month"), required=True, aliases=("月份", "月度", "年月")),
        Column("amount", gettext_lazy("quota"), required=True, aliases=("定额", "金额", "销售定额", "指标", "目标")),
    ]  # fmt: skip


@dataclass
class QuotaImportReport:
    """What a quota import did, or why it did nothing: counts and, per failed row, column and reason."""

    file_name: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)  # [{row, field, column, message}]

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def detail(self) -> str:
        if self.ok:
            return _("Imported %(rows)d quotas: %(created)d new, %(updated)d changed, %(unchanged)d unchanged.") % {
                "rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged}  # fmt: skip
        return _("%(failed)d rows have errors; nothing was imported. Correct them and import the file again.") % {
            "failed": self.failed
        }

    def as_dict(self) -> dict:
        return {"ok": self.ok, "detail": self.detail(), "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed, "errors": self.errors}  # fmt: skip


def _quota_import_targets(actor):
    """Lookups for a quota sheet: people by username and by display name, teams by name and by path."""
    from kam.org import selectors

    people = list(selectors.quota_settable_people(actor))
    by_username = {u.username: u for u in people}
    by_name: dict[str, list] = {}
    for u in people:
        if u.display_name:
            by_name.setdefault(u.display_name, []).append(u)
    teams = list(selectors.quota_settable_teams(actor))
    paths = selectors.department_path_names(teams)
    by_team: dict[str, list] = {}
    for team in teams:
        by_team.setdefault(team.name, []).append(team)
    return by_username, by_name, teams, paths, by_team


def _quota_row_error(row_no: int, name: str, labels: dict, message: str) -> dict:
    return {"row": row_no, "field": name, "column": labels.get(name, name), "message": message}


def quota_import(*, actor, file, filename: str = "") -> QuotaImportReport:
    """Import quotas from a sheet (csv or xlsx; columns 经理/用户名 or 团队, 月份, 定额), all or nothing
    (PIPE-7): a report naming each failed row, column and reason, and nothing saved; or every row saved.
    A manager is found by username or display name, a team by name or path ("华东大客户部/一组"), among
    those the actor may set. Raises ImportFileError for a file that cannot be read, PermissionDenied for a
    role that sets no quotas. The file reader and its guards are the account import's."""
    from kam.accounts import imports as sheets

    _check_may_set_quotas(actor)
    columns = quota_import_columns()
    labels = {c.key: str(c.label) for c in columns}
    table = sheets.read_table(file, filename=filename)
    keys = sheets._map_header(table.header, columns)
    report = QuotaImportReport(file_name=filename)
    by_username, by_name, teams, paths, by_team = _quota_import_targets(actor)
    entries, rows = [], []
    for row_no, cells in table.rows:
        report.rows += 1
        values = {key: sheets._text(cell) if key != "month" else cell
                  for key, cell in zip(keys, cells, strict=False) if key}  # fmt: skip
        problems: dict[str, str] = {}
        entry = {"month": values.get("month"), "amount": values.get("amount")}
        who, team_name = values.get("user", ""), values.get("department", "")
        if who and team_name:
            problems["department"] = _("Give a KA manager or a team, not both.")
        elif who:
            named = by_name.get(who, [])
            entry["user"] = by_username.get(who) or (named[0] if len(named) == 1 else None)
            if entry["user"] is None:
                problems["user"] = (_("Several people have this name: give the username.") if named
                                    else _("There is no such KA manager."))  # fmt: skip
        elif team_name:
            if "/" in team_name:
                named = [t for t in teams if paths[t.pk] == team_name or paths[t.pk].endswith("/" + team_name)]
            else:
                named = by_team.get(team_name, [])
            if len(named) == 1:
                entry["department"] = named[0]
            else:
                problems["department"] = (_("Several teams have this name: give its path, e.g. 华东大客户部/一组.")
                                          if named else _("There is no such team."))  # fmt: skip
        else:
            problems["user"] = _("Give a KA manager or a team.")
        if sheets._text(values.get("amount")) == "":
            problems["amount"] = _("Enter the quota.")
        if problems:
            # The row's other cells are still checked, so one pass over the file shows every mistake.
            for name, check in (("month", quota_month), ("amount", quota_amount)):
                try:
                    check(values.get(name))
                except ValueError as e:
                    problems.setdefault(name, str(e))
            report.failed += 1
            report.errors += [_quota_row_error(row_no, f, labels, m) for f, m in problems.items()]
            entry = None
        entries.append(entry)
        rows.append(row_no)
    if report.rows == 0:
        raise sheets.ImportFileError(_("The file has no rows to import."))
    positions = [i for i, e in enumerate(entries) if e is not None]
    changes, problems_by_entry = _quota_changes(actor, [entries[i] for i in positions])
    for index, errors in problems_by_entry.items():
        report.failed += 1
        report.errors += [_quota_row_error(rows[positions[index]], f, labels, m) for f, m in errors.items()]
    report.errors.sort(key=lambda e: e["row"])
    if not report.ok:
        return report
    with transaction.atomic():
        result = _quota_apply(actor=actor, changes=changes)
        report.created, report.updated, report.unchanged = result.created, result.updated, result.unchanged
        audit.record(actor=actor, action=AuditAction.IMPORT, target=("org.quota", "", filename or "quotas"),
                     extra={"file": filename, "format": table.kind, "rows": report.rows, "created": result.created,
                            "updated": result.updated})  # fmt: skip
    return report

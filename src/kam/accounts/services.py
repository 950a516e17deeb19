"""Writes on the customer archive. Every page, API call, import and job goes through these."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.accounts import search
from kam.accounts.models import (
    PERSONAL_FIELDS,
    Account,
    AccountContact,
    AccountTeamMember,
    AccountUpdate,
    Attachment,
    Contact,
    Lifecycle,
    SearchTerm,
    Tag,
    TeamAccess,
    Visitor,
    VisitorStatus,
)
from kam.accounts.names import normalize_company_name, sort_key
from kam.core import audit, scopes
from kam.core.db import bulk_insert, insert_objects
from kam.core.edits import lock, refuse_unknown, set_archived
from kam.core.errors import DuplicateError
from kam.core.models import AuditAction, AuditEvent
from kam.core.regions import validate as validate_region
from kam.core.trees import ancestors
from kam.core.validators import clean_credit_code, clean_phone
from kam.org.models import Role

ACCOUNT_FIELDS = [
    "name", "name_en", "short_names", "credit_code", "credit_code_exception", "industry", "ownership",
    "employees", "annual_revenue", "province", "city", "district", "address", "phone", "website",
    "parent", "procurement_mode", "purchase_pattern", "lead_source", "lifecycle", "value_tier", "description",
    "owner",
]  # fmt: skip
CONTACT_FIELDS = [
    "name", "name_en", "gender", "mobile", "phone", "email", "wechat", "birthday", "birthday_is_lunar",
    "birth_year", "hometown", "interests", "joined_company_on", "authority", "personality",
    "working_style", "family_notes", "notes",
]  # fmt: skip
POSITION_FIELDS = ["title", "department_name", "buying_role", "influence", "attitude", "reports_to", "is_primary"]
VISITOR_FIELDS = ["name", "visited_on", "phone", "features", "employer", "address", "intention", "status"]
OWNER_ROLES = {Role.KA_MANAGER, Role.KA_HEAD}


# ---------------------------------------------------------------------------------------------
# helpers shared by the services below


def _stripped(fields: dict, names) -> dict:
    """A copy of `fields` with surrounding blanks removed from the named texts, so "   " is no name."""
    data = dict(fields)
    for name in names:
        if isinstance(data.get(name), str):
            data[name] = data[name].strip()
    return data


def _full_clean(instance, exclude=()) -> None:
    instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)


def _tag_names(account) -> list[str]:
    return sorted(t.name for t in account.tags.all())


def _clean_tag_names(names) -> list[str]:
    clean = []
    for name in names or []:
        name = str(name).strip()
        if not name:
            continue
        if len(name) > 40:
            raise ValidationError({"tags": _("A tag has at most 40 characters.")})
        clean.append(name)
    return list(dict.fromkeys(clean))


def _set_tags(account, names) -> None:
    tags = [Tag.objects.get_or_create(name=name)[0] for name in _clean_tag_names(names)]
    account.tags.set(tags)


# ---------------------------------------------------------------------------------------------
# duplicates (ARC-5)


_DUPLICATE_FETCH = 100  # rows read per lookup at most (a switchboard number can be shared by many)


def _duplicate_lookup(**condition):
    """Accounts by an indexed column, for the duplicate check: no ORDER BY and no join in the SQL.

    Either can make the planner, with statistics from when the table was small (SQLite's ANALYZE at
    start-up, PostgreSQL's before a large import commits), walk a whole index instead of looking the
    values up: 30–100 ms a lookup, 18–45 s in a 100,000-row import. The owners come in one more query
    for the rows found; sorting is done by _by_name.
    """
    return Account.objects.filter(**condition).order_by().prefetch_related("owner")


def _by_name(accounts) -> list[Account]:
    return sorted(accounts, key=lambda a: (a.name_sort, a.pk))


def find_duplicates(*, actor, name="", credit_code="", phone="", exclude_pk=None) -> list[dict]:
    """Existing accounts that look like the same company.

    Each hit says what matched. Accounts the actor may see are named with their owner; others
    are reported only as "exists, owned elsewhere", so a duplicate is caught without leaking it.
    """
    checks = []
    if credit_code:
        checks.append(("credit_code", {"credit_code": credit_code}))
    if name and (normalized := normalize_company_name(name)):
        checks.append(("name", {"normalized_name": normalized}))
    if phone:
        checks.append(("phone", {"phone": phone}))
    visible = set()
    hits: dict[int, dict] = {}
    for matched_on, condition in checks:
        found = _by_name(_duplicate_lookup(**condition).exclude(pk=exclude_pk)[:_DUPLICATE_FETCH])[:5]
        for account in found:
            hit = hits.setdefault(account.pk, {"account": account, "matched_on": []})
            hit["matched_on"].append(matched_on)
    if hits:
        visible = set(
            scopes.visible_accounts(actor, include_archived=True).filter(pk__in=hits).values_list("pk", flat=True)
        )
    return _describe_duplicates(hits, visible)


def _describe_duplicates(hits: dict[int, dict], visible: set) -> list[dict]:
    """Hits as the caller may see them: named with owner if visible, else only "exists elsewhere"."""
    result = []
    for pk, hit in hits.items():
        account = hit["account"]
        if pk in visible:
            result.append(
                {"id": pk, "name": account.name, "owner": str(account.owner), "archived": account.is_archived,
                 "matched_on": hit["matched_on"], "visible": True}
            )  # fmt: skip
        else:
            result.append({"id": None, "name": None, "owner": None, "archived": None,
                           "matched_on": hit["matched_on"], "visible": False})  # fmt: skip
    return result


def _check_duplicates(*, actor, account, exclude_pk, confirm_duplicates) -> None:
    hits = find_duplicates(
        actor=actor, name=account.name, credit_code=account.credit_code, phone=account.phone, exclude_pk=exclude_pk
    )
    error = _duplicate_error(hits, confirm_duplicates=confirm_duplicates)
    if error is not None:
        raise error


def _duplicate_error(hits: list[dict], *, confirm_duplicates) -> DuplicateError | None:
    """The rule of ARC-5: same credit code or name blocks; the same phone only needs a confirmation."""
    blocking = [h for h in hits if {"credit_code", "name"} & set(h["matched_on"])]
    phone_only = [h for h in hits if h not in blocking]
    if blocking:
        return DuplicateError(_("This company is already in KAM."), duplicates=blocking)
    if phone_only and (settings.KAM["DUPLICATE_PHONE_BLOCKS"] or not confirm_duplicates):
        return DuplicateError(
            _("Another account has the same phone number. Check it; confirm to save anyway."),
            duplicates=phone_only,
            confirmable=not settings.KAM["DUPLICATE_PHONE_BLOCKS"],
        )
    return None


# ---------------------------------------------------------------------------------------------
# accounts


def _apply_account_fields(*, actor, account: Account, fields: dict) -> None:
    """Validate and set account fields; raise ValidationError naming each bad field."""
    errors: dict[str, list] = {}
    data = _stripped(fields, ("name", "name_en"))
    if "credit_code" in data or "credit_code_exception" in data:
        exception = bool(data.get("credit_code_exception", account.credit_code_exception))
        try:
            data["credit_code"] = clean_credit_code(
                data.get("credit_code", account.credit_code), checksum_exception=exception
            )
        except ValidationError as e:
            errors["credit_code"] = e.messages
    if "phone" in data:
        try:
            data["phone"] = clean_phone(data["phone"])
        except ValidationError as e:
            errors["phone"] = e.messages
    if "short_names" in data:
        names = data["short_names"] or []
        if isinstance(names, str):
            names = [n for n in names.replace("，", ",").replace("、", ",").split(",")]
        names = [str(n).strip() for n in names if str(n).strip()]
        if len(names) > 10 or any(len(n) > 50 for n in names):
            errors["short_names"] = [_("At most 10 short names of up to 50 characters each.")]
        data["short_names"] = names
    if data.get("parent") is not None and "parent" in data:
        parent = data["parent"]
        if not isinstance(parent, Account):
            parent = scopes.visible_accounts(actor).filter(pk=parent).first()
        if parent is None:
            errors["parent"] = [_("Pick a head office you can see.")]
        elif account.pk and (parent.pk == account.pk or _is_descendant(parent, account)):
            errors["parent"] = [_("An account cannot be its own head office or a branch of its branch.")]
        data["parent"] = parent
    if "owner" in data:
        owner = data["owner"]
        if owner is None or getattr(owner, "role", None) not in OWNER_ROLES or not owner.is_active:
            errors["owner"] = [_("The owner must be an active KA manager or KA department head.")]
    for name in data:
        if name not in errors:
            setattr(account, name, data[name])
    if {"province", "city", "district"} & set(data):
        try:
            validate_region(account.province, account.city, account.district)
        except ValidationError as e:
            for key, messages in e.message_dict.items():
                errors.setdefault(key, messages)
    try:
        _full_clean(account, exclude=["owner", "department", "parent", *errors])
    except ValidationError as e:
        for key, messages in e.message_dict.items():
            errors.setdefault(key, messages)
    if errors:
        raise ValidationError(errors)
    account.normalized_name = normalize_company_name(account.name)
    account.name_sort = sort_key(account.name)
    if account.owner_id:
        account.department_id = account.owner.department_id


def _is_descendant(candidate: Account, ancestor: Account) -> bool:
    return any(node.pk == ancestor.pk for node in ancestors(candidate, "parent"))


def _account_snapshot(account: Account, tags=None) -> dict:
    values = audit.snapshot(account, [f for f in ACCOUNT_FIELDS])
    if tags is not None:
        values["tags"] = sorted(tags)
    else:
        values["tags"] = _tag_names(account) if account.pk else []
    return values


def _new_account_fields(*, actor, fields: dict) -> dict:
    """The fields of a new account, owned by `fields['owner']` (default: the actor), if the actor may create it."""
    if not actor.can_edit_accounts:
        raise ValidationError({"owner": _("Your role cannot create accounts.")})
    refuse_unknown(fields, ACCOUNT_FIELDS)
    fields = dict(fields)
    fields.setdefault("owner", actor)
    if fields["owner"] != actor and actor.role == Role.KA_MANAGER:
        raise ValidationError({"owner": _("A KA manager creates accounts for herself or himself.")})
    return fields


@transaction.atomic
def account_create(*, actor, fields: dict, tags=None, confirm_duplicates: bool = False) -> Account:
    """Create an account owned by `fields['owner']` (default: the actor). ARC-1, ARC-5, GOV-1."""
    fields = _new_account_fields(actor=actor, fields=fields)
    account = Account()
    _apply_account_fields(actor=actor, account=account, fields=fields)
    _check_duplicates(actor=actor, account=account, exclude_pk=None, confirm_duplicates=confirm_duplicates)
    account.save()
    if tags:
        _set_tags(account, tags)
    search.index_account(account)
    audit.record(
        actor=actor, action=AuditAction.CREATE, target=account, account_id=account.pk,
        changes=audit.diff({}, _account_snapshot(account)),
    )  # fmt: skip
    return account


@transaction.atomic
def account_update(
    *, actor, account: Account, fields: dict, version=None, tags=None, confirm_duplicates=False
) -> Account:
    """Change an account's fields; a stale `version` raises ConflictError (HTTP 409)."""
    refuse_unknown(fields, ACCOUNT_FIELDS)
    account = lock(Account, account.pk, version)
    if "owner" in fields and fields["owner"] != account.owner and actor.role not in scopes.SCOPE_EDITORS:
        raise ValidationError({"owner": _("Only a KA department head or an administrator changes the owner.")})
    before = _account_snapshot(account)
    _apply_account_fields(actor=actor, account=account, fields=fields)
    if {"name", "credit_code", "phone"} & set(fields):
        _check_duplicates(actor=actor, account=account, exclude_pk=account.pk, confirm_duplicates=confirm_duplicates)
    if tags is not None:
        _set_tags(account, tags)
    after = _account_snapshot(account)
    changes = audit.diff(before, after)
    if not changes:
        return account
    account.version += 1
    account.save()
    if {"name", "name_en", "short_names", "credit_code", "phone"} & set(changes):
        search.index_account(account)
    audit.record(actor=actor, action=AuditAction.UPDATE, target=account, account_id=account.pk, changes=changes)
    return account


@transaction.atomic
def account_archive(*, actor, account: Account, version=None, reason: str = "") -> Account:
    """Archive an account (business records are never deleted)."""
    account = lock(Account, account.pk, version)
    if account.is_archived:
        return account
    if account.branches.filter(is_archived=False).exists():
        raise ValidationError({"parent": _("Archive or move its branches first.")})
    account.is_archived = True
    account.archived_at = timezone.now()
    account.version += 1
    account.save()
    audit.record(
        actor=actor, action=AuditAction.ARCHIVE, target=account, account_id=account.pk,
        changes={"is_archived": [False, True]}, extra={"reason": reason[:500]},
    )  # fmt: skip
    return account


@transaction.atomic
def account_restore(*, actor, account: Account, version=None) -> Account:
    account = lock(Account, account.pk, version)
    if not account.is_archived:
        return account
    account.is_archived = False
    account.archived_at = None
    account.version += 1
    account.save()
    audit.record(actor=actor, action=AuditAction.RESTORE, target=account, account_id=account.pk,
                 changes={"is_archived": [True, False]})  # fmt: skip
    return account


@transaction.atomic
def team_member_set(*, actor, account: Account, user, access: str, duty: str = "") -> AccountTeamMember:
    """Put a colleague on the account's virtual team, or change their access (GOV-1)."""
    if user.pk == account.owner_id:
        raise ValidationError({"user": _("The owner is already responsible for this account.")})
    if not user.is_active:
        raise ValidationError({"user": _("This user is not active.")})
    if access == TeamAccess.WRITE and not user.can_edit_accounts:
        raise ValidationError({"access": _("This colleague's role only reads accounts: give read access.")})
    member, created = AccountTeamMember.objects.get_or_create(
        account=account, user=user, defaults={"access": access, "duty": duty}
    )
    before = {"access": None if created else member.access, "duty": None if created else member.duty}
    member.access, member.duty = access, duty
    _full_clean(member, exclude=["account", "user"])
    member.save()
    audit.record(
        actor=actor, action=AuditAction.UPDATE, target=account, account_id=account.pk,
        changes=audit.diff(before, {"access": access, "duty": duty}), extra={"team_member": user.username},
    )  # fmt: skip
    return member


@transaction.atomic
def team_member_remove(*, actor, account: Account, user) -> None:
    deleted, _count = AccountTeamMember.objects.filter(account=account, user=user).delete()
    if deleted:
        audit.record(actor=actor, action=AuditAction.UPDATE, target=account, account_id=account.pk,
                     changes={"team": [user.username, None]})  # fmt: skip


@transaction.atomic
def account_update_add(*, actor, account: Account, happened_on, content: str) -> AccountUpdate:
    """Add a dated piece of dynamic information (ARC-7); earlier entries stay as they were."""
    entry = AccountUpdate(account=account, happened_on=happened_on, content=(content or "").strip(), author=actor)
    _full_clean(entry, exclude=["account", "author"])
    entry.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=entry, account_id=account.pk,
                 changes={"content": [None, entry.content], "happened_on": [None, str(happened_on)]})  # fmt: skip
    return entry


# Magic numbers of the file types we accept, so a renamed executable is refused.
_SIGNATURES = {
    "pdf": [b"%PDF"],
    "png": [b"\x89PNG"],
    "jpg": [b"\xff\xd8\xff"],
    "jpeg": [b"\xff\xd8\xff"],
    "zip": [b"PK\x03\x04"],
    "docx": [b"PK\x03\x04"],
    "xlsx": [b"PK\x03\x04"],
    "ofd": [b"PK\x03\x04"],
    "doc": [b"\xd0\xcf\x11\xe0"],
    "xls": [b"\xd0\xcf\x11\xe0"],
}
_CONTENT_TYPES = {
    "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "zip": "application/zip", "txt": "text/plain", "csv": "text/csv", "ofd": "application/ofd",
    "doc": "application/msword", "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}  # fmt: skip


@transaction.atomic
def attachment_add(*, actor, account: Account, upload, kind: str = "other", description: str = "") -> Attachment:
    """Keep a file with the account, after checking its type and size."""
    name = Path(upload.name or "").name[:255]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in settings.ATTACHMENT_EXTENSIONS:
        raise ValidationError({"file": _("Files of this type are not accepted. Allowed: %(types)s.")
                               % {"types": ", ".join(settings.ATTACHMENT_EXTENSIONS)}})  # fmt: skip
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            {"file": _("The file is larger than %(mb)d MB.") % {"mb": settings.ATTACHMENT_MAX_BYTES // 2**20}}
        )
    if upload.size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    head = upload.read(8)
    upload.seek(0)
    if ext in _SIGNATURES and not any(head.startswith(sig) for sig in _SIGNATURES[ext]):
        raise ValidationError({"file": _("The file's content does not match its type.")})
    attachment = Attachment(
        account=account, kind=kind, original_name=name, content_type=_CONTENT_TYPES.get(ext, "application/octet-stream"),
        size=upload.size, description=description, uploaded_by=actor,
    )  # fmt: skip
    _full_clean(attachment, exclude=["account", "uploaded_by", "file", "content_type"])
    attachment.file.save(name, upload, save=False)
    attachment.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=attachment, account_id=account.pk,
                 changes={"attachment": [None, name]})  # fmt: skip
    return attachment


def attachment_open(*, actor, attachment: Attachment):
    """Open an attachment's file for download, and log who fetched it."""
    audit.record(actor=actor, action=AuditAction.DOWNLOAD, target=attachment, account_id=attachment.account_id)
    return attachment.file.open("rb")


@transaction.atomic
def attachment_archive(*, actor, attachment: Attachment) -> None:
    attachment.is_archived = True
    attachment.save(update_fields=["is_archived"])
    audit.record(actor=actor, action=AuditAction.ARCHIVE, target=attachment, account_id=attachment.account_id)


# ---------------------------------------------------------------------------------------------
# contacts and positions (ARC-2)


def _apply_contact_fields(contact: Contact, fields: dict) -> None:
    errors = {}
    data = _stripped(fields, ("name", "name_en"))
    for name in ("mobile", "phone"):
        if name in data:
            try:
                data[name] = clean_phone(data[name])
            except ValidationError as e:
                errors[name] = e.messages
    for name, value in data.items():
        if name not in errors:
            setattr(
                contact,
                name,
                value if value is not None or name in ("birthday", "birth_year", "joined_company_on") else "",
            )
    try:
        # full_clean also turns strings into dates and numbers, so the checks below compare values.
        _full_clean(contact, exclude=["created_by", *errors])
    except ValidationError as e:
        for key, messages in e.message_dict.items():
            errors.setdefault(key, messages)
    today = timezone.localdate()
    if "birthday" not in errors and contact.birthday and contact.birthday > today:
        errors["birthday"] = [_("A birthday cannot be in the future.")]
    if "birth_year" not in errors and contact.birth_year and not 1900 <= contact.birth_year <= today.year:
        errors["birth_year"] = [_("Enter a year between 1900 and this year.")]
    if errors:
        raise ValidationError(errors)
    contact.name_sort = sort_key(contact.name)


def _apply_position_fields(position: AccountContact, fields: dict) -> None:
    data = dict(fields)
    errors = {}
    if data.get("reports_to") is not None:
        boss = data["reports_to"]
        if not isinstance(boss, AccountContact):
            # An id is the boss's contact id (as the API documents), never a position id: the two
            # number ranges overlap, and trying both picked the wrong person (or the contact itself).
            boss = AccountContact.objects.filter(contact_id=boss, account_id=position.account_id).first()
        if boss is None or boss.account_id != position.account_id:
            errors["reports_to"] = [_("Pick someone at the same account.")]
        elif position.pk and _reports_cycle(boss, position):
            errors["reports_to"] = [_("This would make a reporting loop.")]
        data["reports_to"] = boss
    for name, value in data.items():
        if name not in errors:
            setattr(position, name, value)
    try:
        _full_clean(position, exclude=["account", "contact", "reports_to", *errors])
    except ValidationError as e:
        for key, messages in e.message_dict.items():
            errors.setdefault(key, messages)
    if not 1 <= int(position.influence or 0) <= 5:
        errors["influence"] = [_("Influence is from 1 to 5.")]
    if errors:
        raise ValidationError(errors)


def _reports_cycle(boss: AccountContact, position: AccountContact) -> bool:
    return any(node.pk == position.pk for node in ancestors(boss, "reports_to"))


@transaction.atomic
def contact_create(*, actor, account: Account, fields: dict, position: dict | None = None) -> Contact:
    """Create a contact with a position at `account` (which the actor must be able to change)."""
    refuse_unknown(fields, CONTACT_FIELDS)
    refuse_unknown(position or {}, POSITION_FIELDS)
    contact = Contact(created_by=actor)
    _apply_contact_fields(contact, fields)
    contact.save()
    pos = AccountContact(account=account, contact=contact)
    _apply_position_fields(pos, position or {})
    pos.save()
    search.index_contact(contact)
    audit.record(
        actor=actor, action=AuditAction.CREATE, target=contact, account_id=account.pk,
        changes=audit.diff({}, {**audit.snapshot(contact, CONTACT_FIELDS), **audit.snapshot(pos, POSITION_FIELDS)}),
    )  # fmt: skip
    return contact


@transaction.atomic
def contact_update(*, actor, contact: Contact, fields: dict, version=None) -> Contact:
    refuse_unknown(fields, CONTACT_FIELDS)
    contact = lock(Contact, contact.pk, version)
    before = audit.snapshot(contact, CONTACT_FIELDS)
    _apply_contact_fields(contact, fields)
    changes = audit.diff(before, audit.snapshot(contact, CONTACT_FIELDS))
    if not changes:
        return contact
    contact.version += 1
    contact.save()
    if {"name", "name_en", "mobile", "phone"} & set(changes):
        search.index_contact(contact)
    first_account = contact.positions.values_list("account_id", flat=True).first()
    audit.record(actor=actor, action=AuditAction.UPDATE, target=contact, account_id=first_account, changes=changes)
    return contact


@transaction.atomic
def contact_archive(*, actor, contact: Contact, version=None) -> Contact:
    first_account = contact.positions.values_list("account_id", flat=True).first()
    return set_archived(Contact, contact, actor=actor, version=version, account_id=first_account)[0]


@transaction.atomic
def position_set(*, actor, account: Account, contact: Contact, fields: dict) -> AccountContact:
    """Give a contact a position at another account, or change it (role, influence, reports-to)."""
    refuse_unknown(fields, POSITION_FIELDS)
    position, created = AccountContact.objects.get_or_create(account=account, contact=contact)
    before = {} if created else audit.snapshot(position, POSITION_FIELDS)
    _apply_position_fields(position, fields)
    position.save()
    audit.record(actor=actor, action=AuditAction.CREATE if created else AuditAction.UPDATE, target=contact,
                 account_id=account.pk, changes=audit.diff(before, audit.snapshot(position, POSITION_FIELDS)))  # fmt: skip
    return position


@transaction.atomic
def position_remove(*, actor, position: AccountContact) -> None:
    if position.contact.positions.count() == 1:
        raise ValidationError({"account": _("A contact needs at least one account; archive the contact instead.")})
    AccountContact.objects.filter(reports_to=position).update(reports_to=None)
    audit.record(actor=actor, action=AuditAction.DELETE, target=position.contact, account_id=position.account_id,
                 changes={"position": [position.title or str(position.account), None]})  # fmt: skip
    position.delete()


def contact_personal_file(*, actor, contact: Contact) -> dict:
    """The contact's personal file (birthday, family, hometown…); every opening is audited."""
    first_account = contact.positions.values_list("account_id", flat=True).first()
    audit.record(actor=actor, action=AuditAction.VIEW_PERSONAL, target=contact, account_id=first_account)
    return {name: getattr(contact, name) for name in PERSONAL_FIELDS}


# ---------------------------------------------------------------------------------------------
# visitor register (ARC-3)


@transaction.atomic
def visitor_create(*, actor, fields: dict) -> Visitor:
    refuse_unknown(fields, VISITOR_FIELDS)
    visitor = Visitor(owner=actor, department_id=actor.department_id)
    _apply_visitor_fields(visitor, fields)
    visitor.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=visitor,
                 changes=audit.diff({}, audit.snapshot(visitor, VISITOR_FIELDS)))  # fmt: skip
    return visitor


def _apply_visitor_fields(visitor: Visitor, fields: dict) -> None:
    errors = {}
    data = _stripped(fields, ("name", "employer"))
    if "phone" in data:
        try:
            data["phone"] = clean_phone(data["phone"])
        except ValidationError as e:
            errors["phone"] = e.messages
    for name, value in data.items():
        if name not in errors:
            setattr(visitor, name, value)
    try:
        _full_clean(visitor, exclude=["owner", "department", "account", "contact", *errors])
    except ValidationError as e:
        for key, messages in e.message_dict.items():
            errors.setdefault(key, messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def visitor_update(*, actor, visitor: Visitor, fields: dict, version=None) -> Visitor:
    refuse_unknown(fields, VISITOR_FIELDS)
    visitor = lock(Visitor, visitor.pk, version)
    before = audit.snapshot(visitor, VISITOR_FIELDS)
    _apply_visitor_fields(visitor, fields)
    changes = audit.diff(before, audit.snapshot(visitor, VISITOR_FIELDS))
    if changes:
        visitor.version += 1
        visitor.save()
        audit.record(actor=actor, action=AuditAction.UPDATE, target=visitor, changes=changes)
    return visitor


@transaction.atomic
def visitor_promote(*, actor, visitor: Visitor, account: Account | None = None, account_fields: dict | None = None,
                    confirm_duplicates: bool = False) -> Contact:  # fmt: skip
    """Turn a visitor into a contact, at an existing account or at a new one made from the visit."""
    visitor = lock(Visitor, visitor.pk, None)
    if visitor.status == VisitorStatus.PROMOTED:
        raise ValidationError({"status": _("This visitor has already been promoted.")})
    if account is None:
        fields = {"name": visitor.employer, "address": visitor.address, "lead_source": "walk_in",
                  "lifecycle": Lifecycle.PROSPECT, **(account_fields or {})}  # fmt: skip
        if not fields.get("name"):
            raise ValidationError({"employer": _("Enter the visitor's employer to create the account.")})
        account = account_create(actor=actor, fields=fields, confirm_duplicates=confirm_duplicates)
    contact = contact_create(
        actor=actor, account=account, fields={"name": visitor.name, "mobile": visitor.phone,
                                              "notes": "\n".join(filter(None, [visitor.features, visitor.intention]))},
    )  # fmt: skip
    visitor.status = VisitorStatus.PROMOTED
    visitor.account, visitor.contact = account, contact
    visitor.version += 1
    visitor.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, target=visitor, account_id=account.pk,
                 changes={"status": [None, VisitorStatus.PROMOTED], "account": [None, account.pk]})  # fmt: skip
    return contact


# ---------------------------------------------------------------------------------------------
# many accounts at once (imports, ARC-8)

_IN_BATCH = 500  # values per IN (…) lookup; SQLite allows 999 parameters per statement


def find_duplicates_many(*, actor, accounts: list[Account]) -> list[list[dict]]:
    """find_duplicates for many validated accounts at once: the same hits, with a few queries."""
    columns = (("credit_code", "credit_code"), ("name", "normalized_name"), ("phone", "phone"))
    found: dict[str, dict[str, list[Account]]] = {}
    for _matched_on, column in columns:
        values = sorted({getattr(a, column) for a in accounts if getattr(a, column)})
        found[column] = {}
        for start in range(0, len(values), _IN_BATCH):
            for other in _by_name(_duplicate_lookup(**{f"{column}__in": values[start : start + _IN_BATCH]})):
                found[column].setdefault(getattr(other, column), []).append(other)
    per_account = []
    for account in accounts:
        hits: dict[int, dict] = {}
        for matched_on, column in columns:
            value = getattr(account, column)
            for other in [o for o in found[column].get(value, []) if o.pk != account.pk][:5] if value else []:
                hits.setdefault(other.pk, {"account": other, "matched_on": []})["matched_on"].append(matched_on)
        per_account.append(hits)
    pks = sorted({pk for hits in per_account for pk in hits})
    visible = set()
    for start in range(0, len(pks), _IN_BATCH):
        chunk = pks[start : start + _IN_BATCH]
        visible.update(
            scopes.visible_accounts(actor, include_archived=True).filter(pk__in=chunk).values_list("pk", flat=True)
        )
    return [_describe_duplicates(hits, visible) for hits in per_account]


@dataclass
class AccountBatch:
    """Many new accounts checked together (account_check_many) and then saved (account_save_many)."""

    results: list  # per row: the unsaved Account, or its ValidationError (a DuplicateError for a duplicate)
    tags: dict[int, list[str]]  # row → its cleaned tag names


def account_check_many(
    *, actor, rows: list[tuple[dict, list | None]], confirm_duplicates: bool = False
) -> AccountBatch:
    """Check many new accounts (imports, ARC-8), each with exactly account_create's checks; write nothing.

    `rows` is a list of (fields, tags). Every row is validated by _apply_account_fields and checked
    for duplicates in the database (ARC-5) as account_create does; rows are not compared with each
    other (the caller does that).
    """
    if not actor.can_edit_accounts:
        raise ValidationError({"owner": _("Your role cannot create accounts.")})
    results: list = []
    tag_names: dict[int, list[str]] = {}
    now = timezone.now()  # one timestamp for the batch (the field default reads the settings per object)
    for index, (fields, tags) in enumerate(rows):
        account = Account(created_at=now)
        errors: dict[str, list] = {}
        try:
            _apply_account_fields(actor=actor, account=account, fields=_new_account_fields(actor=actor, fields=fields))
        except ValidationError as e:
            errors.update(e.message_dict)
        try:
            tag_names[index] = _clean_tag_names(tags)
        except ValidationError as e:
            errors.update(e.message_dict)
        results.append(ValidationError(errors) if errors else account)
    valid = [i for i, r in enumerate(results) if isinstance(r, Account)]
    for index, hits in zip(valid, find_duplicates_many(actor=actor, accounts=[results[i] for i in valid]), strict=True):
        error = _duplicate_error(hits, confirm_duplicates=confirm_duplicates)
        if error is not None:
            results[index] = error
    return AccountBatch(results=results, tags=tag_names)


@transaction.atomic
def account_save_many(*, actor, batch: AccountBatch, audit_extra: dict | None = None, defer: bool = False) -> list:
    """Save the valid accounts of a checked batch (they get their ids) with their tags, audit events
    and search terms, all in bulk.

    With defer=True the search terms (some 36 rows an account) are not written but returned, as
    BulkInserts for the caller to run in this same transaction (an import runs them on its
    write-behind thread while it reads the next batch); otherwise the list is empty.
    """
    created = [(r, batch.tags[i]) for i, r in enumerate(batch.results) if isinstance(r, Account)]
    if not created:
        return []
    insert_objects(Account, [account for account, _tags in created], set_pks=True)
    _add_tags_many(created)
    insert_objects(AuditEvent, [
        AuditEvent(at=account.created_at, actor=actor, action=AuditAction.CREATE,
                   target_type=Account._meta.label_lower, target_id=str(account.pk), target_repr=str(account)[:300],
                   account_id=account.pk, changes=audit.diff({}, _account_snapshot(account, tags=tags)),
                   extra=audit_extra or {})
        for account, tags in created
    ])  # fmt: skip
    jobs = [
        bulk_insert(SearchTerm, ("kind", "object_id", "term"), [
            (SearchTerm.ACCOUNT, account.pk, term)
            for account, _tags in created for term in search.account_terms(account) if term
        ])
    ]  # fmt: skip
    if defer:
        return jobs
    for job in jobs:
        job.run()
    return []


def _add_tags_many(accounts_with_tags: list[tuple[Account, list[str]]]) -> None:
    names = sorted({name for _account, tags in accounts_with_tags for name in tags})
    if not names:
        return
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    ids = {}
    for start in range(0, len(names), _IN_BATCH):
        ids.update(Tag.objects.filter(name__in=names[start : start + _IN_BATCH]).values_list("name", "pk"))
    link = Account.tags.through
    insert_objects(
        link, [link(account_id=account.pk, tag_id=ids[name]) for account, tags in accounts_with_tags for name in tags]
    )

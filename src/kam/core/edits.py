"""What every service that changes a business record shares (used by each app's services.py).

- `lock`: optimistic locking — the row is locked for the transaction, and a caller who read an older
  version gets ConflictError (409 with the current record) instead of silently overwriting.
- `refuse_unknown`: a field the service does not take is a validation error naming it, never ignored.
- `record_created` / `edit`: save a new record with its audit entry; change a versioned record (lock,
  apply, and only if something changed: bump the version and audit old → new).
- `set_archived`: archive or restore a business record (nothing is deleted): lock, flip, bump, audit.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kam.core import audit
from kam.core.errors import ConflictError
from kam.core.models import AuditAction


def lock(model, pk, version):
    """Lock the row; a stale `version` raises ConflictError with the current row, one that is not a
    number a ValidationError naming `version`. No version (None or ""): no check."""
    obj = model.objects.select_for_update().get(pk=pk)
    if version is None or str(version).strip() == "":
        return obj
    try:
        stale = int(version) != obj.version
    except (TypeError, ValueError):
        raise ValidationError({"version": _("Give the version you read.")}) from None
    if stale:
        raise ConflictError(obj)
    return obj


def refuse_unknown(fields: dict, allowed) -> None:
    """Refuse the fields a service does not take, each named."""
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})


def record_created(obj, *, actor, snapshot, account_id=None):
    """Save a new record and audit its fields (from nothing to their values); `snapshot(obj)` -> dict."""
    obj.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=obj, account_id=account_id,
                 changes=audit.diff({}, snapshot(obj)))  # fmt: skip
    return obj


def edit(model, obj, *, actor, fields: dict, version, allowed, apply, snapshot, on_account: bool = True):
    """The one way a versioned record is changed: refuse unknown fields, lock it (a stale `version` is a
    409), `apply(obj, fields)` (sets and validates, raising ValidationError), and only if something changed
    bump the version and audit old → new (on the record's account unless `on_account` is False)."""
    refuse_unknown(fields, allowed)
    obj = lock(model, obj.pk, version)
    before = snapshot(obj)
    apply(obj, fields)
    changes = audit.diff(before, snapshot(obj))
    if changes:
        obj.version += 1
        obj.save()
        audit.record(actor=actor, action=AuditAction.UPDATE, target=obj, changes=changes,
                     account_id=obj.account_id if on_account else None)  # fmt: skip
    return obj


def set_archived(model, obj, *, actor, version, archived: bool = True, reason: str = "", account_id=None):
    """Archive (or restore) a versioned business record: lock it (a stale `version` is a 409), and unless it
    already is so, flip `is_archived`, bump the version and audit it (with the reason, on the record's account
    unless `account_id` is given). Returns (record, whether it changed)."""
    obj = lock(model, obj.pk, version)
    if obj.is_archived == archived:
        return obj, False
    obj.is_archived = archived
    obj.version += 1
    obj.save()
    extra = {"reason": reason[:500]} if archived else {}
    audit.record(actor=actor, action=AuditAction.ARCHIVE if archived else AuditAction.RESTORE, target=obj,
                 account_id=account_id if account_id is not None else getattr(obj, "account_id", None),
                 changes={"is_archived": [not archived, archived]}, extra=extra)  # fmt: skip
    return obj, True

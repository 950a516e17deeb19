"""What every service that changes a business record shares (used by each app's services.py).

- `lock`: optimistic locking — the row is locked for the transaction, and a caller who read an older
  version gets ConflictError (409 with the current record) instead of silently overwriting.
- `refuse_unknown`: a field the service does not take is a validation error naming it, never ignored.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kam.core.errors import ConflictError


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

"""The audit trail: every change and every look at personal details is written here (GOV-7)."""

from datetime import date, datetime
from decimal import Decimal

from django.db import models

from kam.core.models import AuditAction, AuditEvent


def _plain(value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value


def snapshot(instance: models.Model, fields) -> dict:
    """The values of `fields` on `instance`, as JSON-ready values (FKs as ids)."""
    return {name: _plain(getattr(instance, instance._meta.get_field(name).attname)) for name in fields}


def diff(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def record(*, actor, action: AuditAction, target, account_id=None, changes=None, extra=None) -> AuditEvent:
    """Write one audit event for `target` (a model instance, or a (type, id, label) triple)."""
    if isinstance(target, models.Model):
        target_type, target_id, label = target._meta.label_lower, str(target.pk), str(target)
    else:
        target_type, target_id, label = target
    return AuditEvent.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        target_repr=str(label)[:300],
        account_id=account_id,
        changes=changes or {},
        extra=extra or {},
    )

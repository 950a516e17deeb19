"""Writes of the messaging outbox (MSG-1, MSG-2): templates, consent, queueing messages, recording results.

Sending itself is in kam.messaging.jobs: the services here only put rows in the outbox (in the
caller's transaction) and queue the job that sends them.
"""

import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.accounts.models import Account, AccountContact, BuyingRole, Contact, Industry, Lifecycle, Ownership
from kam.accounts.selectors import ACCOUNT_FILTERS
from kam.core import audit, scopes
from kam.core.db import bulk_insert, insert_objects
from kam.core.edits import lock
from kam.core.jobs import enqueue
from kam.core.models import AuditAction
from kam.core.validators import clean_phone
from kam.messaging import selectors
from kam.messaging.models import (
    CHANNEL_KINDS,
    Audience,
    ChannelKind,
    ChannelName,
    Consent,
    ConsentSource,
    DeliveryEvent,
    HolidayGreeting,
    InboundReply,
    Message,
    MessageBatch,
    MessageStatus,
    MessageTemplate,
)
from kam.org.models import Role

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
FIELD_RE = re.compile(r"\{([a-z_]+)\.([a-z_]+)\}")
# The fields a template may use: {object.attribute}.
FIELDS = {
    "contact": {"name", "name_en"},
    "account": {"name"},
    "user": {"name"},
}
TEMPLATE_FIELDS = ("name", "channel", "language", "subject", "body", "provider_template_code", "provider_params")
TEMPLATE_EDITORS = {Role.KA_HEAD, Role.ADMIN}
SEND_JOB = "kam.messaging.jobs.send_messages"
OPT_OUT_WORDS = {"退订", "td", "t", "unsubscribe", "stop", "取消订阅", "退訂"}


def _conf(name: str, default):
    return settings.KAM.get(name, default)


def sms_max_length() -> int:
    return int(_conf("SMS_MAX_LENGTH", 500))


def send_chunk_size() -> int:
    return int(_conf("MESSAGE_JOB_CHUNK", 1000))


# --- templates --------------------------------------------------------------------------------------------


def placeholders_unknown(text: str) -> list[str]:
    """The {object.attribute} placeholders in `text` that are not template fields, and stray braces."""
    unknown = [m.group(0) for m in FIELD_RE.finditer(text) if m.group(2) not in FIELDS.get(m.group(1), ())]
    rest = FIELD_RE.sub("", text)
    unknown += re.findall(r"\{[^{}]*\}", rest)
    return unknown


def _check_text(field: str, text: str, errors: dict) -> None:
    if unknown := placeholders_unknown(text):
        known = ", ".join(f"{{{obj}.{attr}}}" for obj, attrs in FIELDS.items() for attr in sorted(attrs))
        errors.setdefault(field, []).append(
            _("Unknown field %(fields)s; known fields: %(known)s.") % {"fields": ", ".join(unknown), "known": known}
        )


def _check_sms_length(channel: str, body: str, errors: dict, field: str = "body") -> None:
    if CHANNEL_KINDS.get(channel) == ChannelKind.SMS and len(body) > sms_max_length():
        errors.setdefault(field, []).append(
            _("An SMS may have at most %(n)s characters (this one has %(m)s).")
            % {"n": sms_max_length(), "m": len(body)}
        )


def template_validate(template: MessageTemplate) -> None:
    errors: dict[str, list[str]] = {}
    if not (template.name or "").strip():
        errors["name"] = [_("This field is required.")]
    if template.channel not in ChannelName.values:
        errors["channel"] = [_("Choose one of: %(c)s.") % {"c": ", ".join(ChannelName.values)}]
    if not (template.body or "").strip() and not template.provider_template_code:
        errors["body"] = [_("This field is required.")]
    _check_text("subject", template.subject or "", errors)
    _check_text("body", template.body or "", errors)
    _check_sms_length(template.channel, template.body or "", errors)
    params = template.provider_params or {}
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        errors["provider_params"] = [_("Give each provider parameter a text.")]
    else:
        for value in params.values():
            _check_text("provider_params", value, errors)
    if template.channel in (ChannelName.ALIYUN_SMS, ChannelName.TENCENT_SMS) and not template.provider_template_code:
        errors["provider_template_code"] = [_("SMS providers send approved templates only: give the template code.")]
    if errors:
        raise ValidationError(errors)


def _require_template_editor(actor) -> None:
    if actor.role not in TEMPLATE_EDITORS:
        raise PermissionDenied(_("Only the KA head and administrators manage message templates."))


@transaction.atomic
def template_create(*, actor, fields: dict) -> MessageTemplate:
    """A new template (KA head or admin); fields are checked against the known placeholders."""
    _require_template_editor(actor)
    template = MessageTemplate(created_by=actor, **{k: v for k, v in fields.items() if k in TEMPLATE_FIELDS})
    template_validate(template)
    template.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=template,
                 changes=audit.diff({}, audit.snapshot(template, TEMPLATE_FIELDS)))  # fmt: skip
    return template


def _lock_template(pk, version) -> MessageTemplate:
    return lock(MessageTemplate, pk, version)


@transaction.atomic
def template_update(*, actor, template: MessageTemplate, fields: dict, version=None) -> MessageTemplate:
    """Change a template; a stale version raises ConflictError (409)."""
    _require_template_editor(actor)
    template = _lock_template(template.pk, version)
    before = audit.snapshot(template, TEMPLATE_FIELDS)
    for name, value in fields.items():
        if name in TEMPLATE_FIELDS:
            setattr(template, name, value)
    template_validate(template)
    template.version += 1
    template.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, target=template,
                 changes=audit.diff(before, audit.snapshot(template, TEMPLATE_FIELDS)))  # fmt: skip
    return template


@transaction.atomic
def template_archive(*, actor, template: MessageTemplate, version=None) -> MessageTemplate:
    """Retire a template; messages already written keep their text."""
    _require_template_editor(actor)
    template = _lock_template(template.pk, version)
    template.is_archived = True
    template.version += 1
    template.save()
    audit.record(actor=actor, action=AuditAction.ARCHIVE, target=template)
    return template


def render(text: str, *, contact: Contact, account: Account, user) -> str:
    """The text with its fields filled in for one recipient."""
    values = {
        "contact": {"name": contact.name, "name_en": contact.name_en},
        "account": {"name": account.name},
        "user": {"name": user.get_full_name() or getattr(user, "display_name", "") or user.get_username()},
    }
    return FIELD_RE.sub(lambda m: str(values.get(m.group(1), {}).get(m.group(2), m.group(0))), text)


# --- consent ---------------------------------------------------------------------------------------------


def opted_out_contact_ids(contact_ids, kind: str) -> set[int]:
    opted_out = Consent.objects.filter(kind=kind, opted_out_at__isnull=False)
    if len(contact_ids) > 1000:  # a bulk send: all opt-outs of the kind (few) beat an IN of 100,000 ids
        return set(opted_out.values_list("contact_id", flat=True)) & set(contact_ids)
    return set(opted_out.filter(contact_id__in=contact_ids).values_list("contact_id", flat=True))


@transaction.atomic
def consent_set(*, actor, contact: Contact, kind: str, opted_out: bool, source: str = ConsentSource.USER, note=""):
    """Record that a contact opts out of (or back into) one channel kind."""
    if kind not in ChannelKind.values:
        raise ValidationError({"kind": _("Choose one of: %(c)s.") % {"c": ", ".join(ChannelKind.values)}})
    consent, _created = Consent.objects.select_for_update().get_or_create(
        contact=contact, kind=kind, defaults={"source": source}
    )
    consent.opted_out_at = (consent.opted_out_at or timezone.now()) if opted_out else None
    consent.source = source
    consent.note = note[:300]
    consent.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, target=consent,
                 changes={"opted_out": [None, opted_out], "kind": [None, kind], "source": [None, source]})  # fmt: skip
    return consent


# --- quiet hours -----------------------------------------------------------------------------------------


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_hours_end(at: datetime) -> datetime | None:
    """If `at` falls in the quiet hours (KAM["QUIET_HOURS"], local time), the end of them; else None."""
    start_s, end_s = _conf("QUIET_HOURS", ("21:00", "08:00"))
    start, end = _parse_hhmm(start_s), _parse_hhmm(end_s)
    zone = ZoneInfo(_conf("QUIET_HOURS_TIME_ZONE", settings.TIME_ZONE or "Asia/Shanghai"))
    local = at.astimezone(zone)
    now = local.time()
    if start == end:
        return None
    if start < end:  # a window within one day, e.g. 12:00–14:00
        inside, day = start <= now < end, local.date()
    else:  # across midnight, e.g. 21:00–08:00
        inside = now >= start or now < end
        day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


# --- queueing ---------------------------------------------------------------------------------------------


def recipient_address(contact: Contact, channel: str) -> tuple[str, str]:
    """(address, reason it is unusable or "") of a contact for a channel."""
    if CHANNEL_KINDS[channel] == ChannelKind.EMAIL:
        address = (contact.email or "").strip()
        if not address:
            return "", _("The contact has no e-mail address.")
        try:
            validate_email(address)
        except ValidationError:
            return address, _("The e-mail address %(a)s is not valid.") % {"a": address}
        return address, ""
    raw = (contact.mobile or "").strip()
    if not raw:
        return "", _("The contact has no mobile number.")
    if E164.match(raw):  # the form clean_phone stored when the contact was saved: checked then
        return raw, ""
    try:
        return clean_phone(raw), ""
    except ValidationError:
        return raw, _("The mobile number %(n)s is not valid.") % {"n": raw}


def _content(*, template: MessageTemplate | None, text: str, subject: str, channel: str) -> dict:
    """Check what is to be sent once for all recipients; ValidationError names the field."""
    errors: dict[str, list[str]] = {}
    if channel not in ChannelName.values:
        raise ValidationError({"channel": _("Choose one of: %(c)s.") % {"c": ", ".join(ChannelName.values)}})
    if template is not None:
        if template.is_archived:
            raise ValidationError({"template_id": _("This template is archived.")})
        return {"subject": template.subject, "body": template.body, "template": template,
                "code": template.provider_template_code, "params": dict(template.provider_params)}  # fmt: skip
    if not (text or "").strip():
        errors["text"] = [_("Give a template or a text.")]
    if channel in (ChannelName.ALIYUN_SMS, ChannelName.TENCENT_SMS):
        errors.setdefault("template_id", []).append(_("SMS providers send approved templates only: choose a template."))
    _check_text("text", text or "", errors)
    _check_text("subject", subject or "", errors)
    _check_sms_length(channel, text or "", errors, field="text")
    if errors:
        raise ValidationError(errors)
    return {"subject": subject or "", "body": text, "template": None, "code": "", "params": {}}


_UNSET = object()


def _user_name(user) -> str:
    return user.get_full_name() or getattr(user, "display_name", "") or user.get_username()


def _build_message(*, actor, contact, account, channel, content, at, batch, opted_out: set[int],
                   user_name: str | None = None, quiet_end=_UNSET) -> Message:  # fmt: skip
    """One recipient's message, not saved. A bulk send passes what is the same for all recipients
    (`user_name`, `quiet_end` of `at`) so it is worked out once, not 100,000 times."""
    address, problem = recipient_address(contact, channel)
    message = Message(contact_id=contact.pk, account_id=account.pk, channel=channel, template=content["template"],
                      batch_id=batch.pk if batch is not None else None, recipient=address, created_by_id=actor.pk,
                      scheduled_for=at)  # fmt: skip
    values = {
        "contact": {"name": contact.name, "name_en": contact.name_en},
        "account": {"name": account.name},
        "user": {"name": _user_name(actor) if user_name is None else user_name},
    }

    def fill(text: str) -> str:
        if "{" not in text:
            return text
        return FIELD_RE.sub(lambda m: str(values.get(m.group(1), {}).get(m.group(2), m.group(0))), text)

    message.body = fill(content["body"])
    message.subject = fill(content["subject"])
    message.provider_template_code = content["code"]
    message.provider_params = {k: fill(v) for k, v in content["params"].items()}
    kind = CHANNEL_KINDS[channel]
    if contact.pk in opted_out:
        message.status, message.reason = MessageStatus.SKIPPED, _("The contact has opted out of %(k)s.") % {"k": kind}
    elif problem:
        message.status, message.reason = MessageStatus.SKIPPED, problem
    elif kind == ChannelKind.SMS and (end := quiet_hours_end(at) if quiet_end is _UNSET else quiet_end):
        message.scheduled_for = end
        message.reason = _("Moved out of the quiet hours.")
    if message.status == MessageStatus.SKIPPED:
        message.provider_code = "opted_out" if contact.pk in opted_out else "invalid_address"
    return message


def db_time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


EVENT_COLUMNS = ("message", "status", "at", "provider_code", "detail")


def delivery_events_insert(rows: list[tuple]) -> None:
    """DeliveryEvents as plain rows (message id, status, at, code, detail) in one database call."""
    if rows:
        bulk_insert(DeliveryEvent, EVENT_COLUMNS, rows).run()


MESSAGE_COLUMNS = ("id", "contact", "account", "channel", "template", "batch", "recipient", "subject", "body",
                   "provider_template_code", "provider_params", "scheduled_for", "status", "provider_message_id",
                   "provider_code", "reason", "attempts", "created_by", "created_at", "updated_at")  # fmt: skip


def _reserve_ids(count: int) -> list[int]:
    """Ids for `count` new messages, taken before the insert: PostgreSQL's sequence; on SQLite the
    next after the highest ever given (this transaction holds the only write lock from BEGIN on)."""
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        quoted = connection.ops.quote_name(table)
        cursor.execute(f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608 - names from the model
                       f"COALESCE((SELECT MAX(id) FROM {quoted}), 0))", [table])  # fmt: skip
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + count))


def _insert_messages(messages: list[Message], *, at) -> None:
    """Write new messages as plain rows in one database call (json_each on SQLite, COPY on PostgreSQL)
    and give the instances their ids. The generic path (a prepared value per field and row) was most
    of the time of a 100,000-recipient send."""
    if not messages:
        return
    if connection.vendor not in ("sqlite", "postgresql") or not connection.in_atomic_block:
        insert_objects(Message, messages, set_pks=True)
        return
    times: dict[datetime, object] = {}
    rows = []
    for pk, m in zip(_reserve_ids(len(messages)), messages, strict=True):
        m.pk, m._state.adding, m._state.db = pk, False, connection.alias
        scheduled = times.get(m.scheduled_for) or times.setdefault(m.scheduled_for, db_time(m.scheduled_for))
        rows.append((pk, m.contact_id, m.account_id, m.channel, m.template_id, m.batch_id, m.recipient, m.subject,
                     m.body, m.provider_template_code, json.dumps(m.provider_params, ensure_ascii=False), scheduled,
                     m.status, m.provider_message_id, m.provider_code, m.reason, m.attempts, m.created_by_id, at,
                     at))  # fmt: skip
    bulk_insert(Message, MESSAGE_COLUMNS, rows).run()


def _save_and_queue(messages: list[Message]) -> list[Message]:
    """Write the rows in bulk with their first event, and one send job per chunk of due messages.

    Called inside the sending service's transaction: the rows, their events and the jobs commit
    together. The rows go in by executemany (SQLite) or COPY (PostgreSQL) rather than bulk_create,
    which at 100,000 recipients spent most of its time compiling SQL."""
    now = timezone.now()
    at = db_time(now)
    _insert_messages(messages, at=at)
    delivery_events_insert([(m.pk, m.status, at, m.provider_code, m.reason) for m in messages])
    due = [m.pk for m in messages if m.status == MessageStatus.QUEUED and m.scheduled_for <= now]
    size = send_chunk_size()
    for start in range(0, len(due), size):
        enqueue(SEND_JOB, due[start : start + size])
    return messages


def _account_for(actor, contact: Contact, account_id) -> Account:
    """The account the message is sent for: the given one (must be visible and the contact's), else the
    contact's first visible account."""
    positions = AccountContact.objects.filter(contact=contact, account__in=scopes.visible_accounts(actor))
    if account_id is not None:
        positions = positions.filter(account_id=account_id)
    position = positions.select_related("account").order_by("account_id").first()
    if position is None:
        if account_id is not None:
            raise ValidationError({"account_id": _("The contact does not work at this account.")})
        raise ValidationError({"contact_id": _("The contact is at no account you can see.")})
    return position.account


def _when(at) -> datetime:
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise ValidationError({"at": _("Give the time with its time zone.")})
    return at


@transaction.atomic
def message_send(*, actor, contact: Contact, channel: str, template: MessageTemplate | None = None, text: str = "",
                 subject: str = "", at=None, account_id=None) -> Message:  # fmt: skip
    """Queue one message to a contact the actor may see (MSG-1), now or at `at`.

    An opted-out contact or an unusable address gives a `skipped` message, not an error; an SMS due in
    the quiet hours is moved to their end.
    """
    content = _content(template=template, text=text, subject=subject, channel=channel)
    account = _account_for(actor, contact, account_id)
    opted_out = opted_out_contact_ids([contact.pk], CHANNEL_KINDS[channel])
    message = _build_message(actor=actor, contact=contact, account=account, channel=channel, content=content,
                             at=_when(at), batch=None, opted_out=opted_out)  # fmt: skip
    (message,) = _save_and_queue([message])
    audit.record(actor=actor, action=AuditAction.CREATE, target=message, account_id=account.pk,
                 extra={"status": message.status, "channel": channel})  # fmt: skip
    return message


@transaction.atomic
def message_send_bulk(*, actor, channel: str, contact_ids=None, account_ids=None, template=None, text: str = "",
                      subject: str = "", at=None, audience=None) -> MessageBatch:  # fmt: skip
    """Queue one message per recipient (MSG-1): hand-picked contacts, all contacts of chosen accounts, or a
    saved audience, always within the actor's scope; ids outside it are refused as not found (404)."""
    content = _content(template=template, text=text, subject=subject, channel=channel)
    when = _when(at)
    pairs = selectors.recipients(actor, contact_ids=contact_ids or (), account_ids=account_ids or (),
                                 audience=audience, strict=True)  # fmt: skip
    if audience is not None and not pairs:
        raise ValidationError({"audience_id": _("The audience has no contacts you can see.")})
    if not pairs:
        raise ValidationError({"contact_ids": _("Choose at least one contact or account with contacts.")})
    # Only what a message needs: a 100,000-recipient send loads 100,000 contacts.
    contacts = Contact.objects.only("pk", "name", "name_en", "mobile", "email").in_bulk([c for c, _a in pairs])
    accounts = Account.objects.only("pk", "name").in_bulk({a for _c, a in pairs})
    opted_out = opted_out_contact_ids(list(contacts), CHANNEL_KINDS[channel])
    batch = MessageBatch.objects.create(
        created_by=actor,
        selection={
            "contact_ids": sorted(contact_ids or []),
            "account_ids": sorted(account_ids or []),
            "audience_id": audience.pk if audience is not None else None,
        },
    )
    user_name, quiet_end = _user_name(actor), quiet_hours_end(when)
    messages = [
        _build_message(actor=actor, contact=contacts[c], account=accounts[a], channel=channel, content=content,
                       at=when, batch=batch, opted_out=opted_out, user_name=user_name, quiet_end=quiet_end)
        for c, a in pairs
    ]  # fmt: skip
    created = _save_and_queue(messages)
    batch.total = len(created)
    batch.skipped = sum(1 for m in created if m.status == MessageStatus.SKIPPED)
    batch.queued = batch.total - batch.skipped
    batch.save(update_fields=["total", "skipped", "queued"])
    audit.record(actor=actor, action=AuditAction.CREATE, target=batch,
                 extra={"channel": channel, "total": batch.total, "skipped": batch.skipped})  # fmt: skip
    return batch


# --- results (called by the send job and the webhooks) ---------------------------------------------------


def max_attempts() -> int:
    return int(_conf("MESSAGE_MAX_ATTEMPTS", 5))


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base … capped at KAM["MESSAGE_RETRY_MAX_SECONDS"]."""
    base = int(_conf("MESSAGE_RETRY_BASE_SECONDS", 60))
    cap = int(_conf("MESSAGE_RETRY_MAX_SECONDS", 3600))
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


@transaction.atomic
def message_record_result(*, message_id: int, result) -> Message:
    """Record what the channel answered for a message in `sending` (a SendResult)."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.status != MessageStatus.SENDING:  # recovered as unknown meanwhile: keep the first verdict
        return message
    now = timezone.now()
    message.provider_code = result.provider_code[:100]
    message.reason = (result.reason or "")[:500]
    message.sending_since = None
    if result.ok:
        message.status, message.sent_at = MessageStatus.SENT, now
        message.provider_message_id = result.provider_message_id[:100]
        message.next_attempt_at = None
    elif result.temporary and message.attempts < max_attempts():
        message.status = MessageStatus.QUEUED
        message.next_attempt_at = now + retry_delay(message.attempts)
        if CHANNEL_KINDS.get(message.channel) == ChannelKind.SMS and (end := quiet_hours_end(message.next_attempt_at)):
            message.next_attempt_at = end  # a retry does not wake anyone up either
    else:
        message.status = MessageStatus.FAILED
        message.next_attempt_at = None
    message.save()
    detail = message.reason if message.status != MessageStatus.QUEUED else _("temporary failure, retry at %(t)s: %(r)s") % {
        "t": message.next_attempt_at.isoformat(), "r": message.reason}  # fmt: skip
    DeliveryEvent.objects.create(message=message, status=message.status, provider_code=message.provider_code,
                                 detail=detail[:1000])  # fmt: skip
    return message


@transaction.atomic
def messages_record_results(*, results: dict) -> int:
    """Record what the channel answered (a SendResult per message id) for the messages of one provider
    request still in `sending`, in one transaction; returns how many were recorded.

    The same rules as message_record_result, written in bulk: the sent ones by one UPDATE per 500
    joined to a VALUES list of their provider ids, codes and reasons (one rewrite of each row), the
    failures row by row in one bulk update, an event for each."""
    now = timezone.now()
    at = db_time(now)
    sent = [(pk, r.provider_message_id[:100], r.provider_code[:100], (r.reason or "")[:500])
            for pk, r in sorted(results.items()) if r.ok]  # fmt: skip
    recorded = _record_sent(sent, at)
    events = [(pk, MessageStatus.SENT, at, code, reason) for pk, _id, code, reason in sent if pk in recorded]
    failed = sorted(pk for pk, r in results.items() if not r.ok)
    if failed:
        messages = list(Message.objects.select_for_update().filter(pk__in=failed, status=MessageStatus.SENDING)
                        .only("pk", "channel", "attempts"))  # fmt: skip
        for message in messages:
            result = results[message.pk]
            message.provider_code = result.provider_code[:100]
            message.reason = (result.reason or "")[:500]
            message.sending_since, message.updated_at = None, now
            if result.temporary and message.attempts < max_attempts():
                message.status = MessageStatus.QUEUED
                message.next_attempt_at = now + retry_delay(message.attempts)
                if CHANNEL_KINDS.get(message.channel) == ChannelKind.SMS and (
                    end := quiet_hours_end(message.next_attempt_at)
                ):
                    message.next_attempt_at = end  # a retry does not wake anyone up either
                detail = _("temporary failure, retry at %(t)s: %(r)s") % {
                    "t": message.next_attempt_at.isoformat(), "r": message.reason}  # fmt: skip
            else:
                message.status, message.next_attempt_at, detail = MessageStatus.FAILED, None, message.reason
            events.append((message.pk, message.status, at, message.provider_code, detail[:1000]))
        Message.objects.bulk_update(messages, ["status", "provider_code", "reason", "sending_since", "next_attempt_at",
                                               "updated_at"], batch_size=100)  # fmt: skip
        recorded |= {m.pk for m in messages}
    delivery_events_insert(events)
    return len(recorded)


def _record_sent(rows: list[tuple[int, str, str, str]], at) -> set[int]:
    """Mark these (id, provider id, code, reason) sent if still `sending`; the ids marked. SQLite ≥ 3.33
    and PostgreSQL both take UPDATE … FROM (VALUES …) … RETURNING, the list's columns being column1…4."""
    table = connection.ops.quote_name(Message._meta.db_table)
    marked: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET status = %s, sent_at = %s, updated_at = %s, sending_since = NULL, "  # noqa: S608 - no input in the SQL
                "next_attempt_at = NULL, provider_message_id = v.column2, provider_code = v.column3, "
                f"reason = v.column4 FROM (VALUES {values}) AS v WHERE {table}.id = v.column1 AND {table}.status = %s "
                f"RETURNING {table}.id",
                [MessageStatus.SENT, at, at, *(value for row in chunk for value in row), MessageStatus.SENDING],
            )
            marked.update(row[0] for row in cursor.fetchall())
    return marked


@transaction.atomic
def message_record_delivery(
    *, message: Message, delivered: bool, provider_code: str = "", detail: str = "", payload: str = ""
) -> None:
    """A provider's delivery report: the message reached the handset/mailbox, or did not."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    now = timezone.now()
    if delivered:
        message.status, message.delivered_at = MessageStatus.DELIVERED, now
    elif message.status != MessageStatus.DELIVERED:
        message.status = MessageStatus.FAILED
        message.reason = detail[:500]
    message.provider_code = provider_code[:100] or message.provider_code
    message.save()
    text = f"{detail} {payload}".strip() if payload else detail
    DeliveryEvent.objects.create(message=message, status=message.status, provider_code=provider_code[:100],
                                 detail=text[:1000])  # fmt: skip


def is_opt_out(text: str) -> bool:
    return text.strip().strip("。.!！").lower() in OPT_OUT_WORDS


@transaction.atomic
def reply_receive(*, provider: str, sender: str, text: str, at=None) -> InboundReply:
    """Store a contact's reply (MSG-1); "退订" / "TD" / "unsubscribe" opts them out of that channel kind.

    The sender is matched to contacts by mobile (SMS) or e-mail; every contact with that address is
    opted out, the reply is attached to the first of them (and to the account of its last message).
    """
    kind = ChannelKind.EMAIL if "@" in sender else ChannelKind.SMS
    if kind == ChannelKind.EMAIL:
        contacts = list(Contact.objects.filter(email__iexact=sender.strip()).order_by("pk"))
    else:
        try:
            number = clean_phone(sender)
        except ValidationError:
            number = sender.strip()
        contacts = list(Contact.objects.filter(mobile__in={number, sender.strip()}).order_by("pk"))
    opted_out = is_opt_out(text)
    if opted_out:
        for contact in contacts:
            consent_set(actor=None, contact=contact, kind=kind, opted_out=True, source=ConsentSource.REPLY,
                        note=text[:300])  # fmt: skip
    contact = contacts[0] if contacts else None
    account_id = None
    if contact is not None:
        last = Message.objects.filter(contact=contact).order_by("-created_at", "-id").values("account_id").first()
        position = AccountContact.objects.filter(contact=contact).order_by("account_id").values("account_id").first()
        account_id = (last or position or {}).get("account_id")
    return InboundReply.objects.create(provider=provider[:20], sender=sender[:254], text=text[:2000], contact=contact,
                                       account_id=account_id, opted_out=opted_out,
                                       received_at=at or timezone.now())  # fmt: skip


# ---------------------------------------------------------------------------------------------
# webhook items (authenticated by the API before they get here)


def webhook_receive(*, provider: str, items: list) -> tuple[int, int]:
    """Delivery reports and replies from a provider's webhook; (deliveries, replies) recorded.

    An item is a reply when it says so, or has a text and a sender and does not say it is a delivery
    report; otherwise a delivery report of the message it references (our id, or the provider's).
    Alibaba's and Tencent's own field names are understood besides ours. Unknown items are ignored.
    """
    deliveries = replies = 0
    for item in items:
        if not isinstance(item, dict):
            continue
        text = _first(item, "text", "content", "reply")
        sender = _first(item, "from", "phone_number", "mobile", "sender")
        if item.get("type") == "reply" or (text and sender and item.get("type") != "delivery"):
            reply_receive(provider=provider, sender=sender, text=text)
            replies += 1
            continue
        message, delivered = _reported_message(item), _delivered(item)
        if message is not None and delivered is not None:
            payload = json.dumps(item, ensure_ascii=False)[:500]  # an excerpt of the provider's report
            message_record_delivery(message=message, delivered=delivered,
                                    provider_code=_first(item, "code", "err_code", "errmsg"),
                                    detail=_first(item, "description", "err_msg"), payload=payload)  # fmt: skip
            deliveries += 1
    return deliveries, replies


def _first(item: dict, *names) -> str:
    for name in names:
        if item.get(name) not in (None, ""):
            return str(item[name])
    return ""


def _delivered(item: dict) -> bool | None:
    if "success" in item:  # Alibaba Cloud: "success": true/false
        return item["success"] in (True, "true", "True", 1)
    status = _first(item, "status", "report_status").lower()  # Tencent: SUCCESS / FAIL
    if status in ("delivered", "success"):
        return True
    if status in ("failed", "fail"):
        return False
    return None


def _reported_message(item: dict) -> Message | None:
    reference = _first(item, "reference", "out_id", "session_context")
    if reference.isdigit():
        found = Message.objects.filter(pk=int(reference)).first()
        if found is not None:
            return found
    provider_id = _first(item, "message_id", "biz_id", "sid")
    if not provider_id:
        return None
    found = Message.objects.filter(provider_message_id=provider_id)
    # One Alibaba SendBatchSms gives one BizId to all its numbers: the report's number tells them apart.
    if (phone := _first(item, "phone_number", "mobile")) and found[:2].count() > 1:
        try:
            phone = clean_phone(phone)
        except ValidationError:
            phone = phone.strip()
        found = found.filter(recipient=phone)
    return found.order_by("pk").first()


# --- audiences (MSG-1: a saved filter) -------------------------------------------------------------------

AUDIENCE_FILTERS = ACCOUNT_FILTERS  # the account list's filters: an audience is a saved account list
AUDIENCE_FIELDS = ("name", "filters", "buying_roles", "is_shared")
_FILTER_CHOICES = {"industry": Industry, "ownership": Ownership, "lifecycle": Lifecycle}


def audience_clean_filters(filters) -> dict:
    """The account list's filters, checked: known names only, ids for owner and department, known choices;
    empty values dropped. A ValidationError names the field `filters` and the filter at fault."""
    if filters in (None, ""):
        return {}
    if not isinstance(filters, dict):
        raise ValidationError({"filters": _("Give the filters as the account list's filters.")})
    if unknown := sorted(set(filters) - set(AUDIENCE_FILTERS)):
        raise ValidationError({"filters": _("Unknown filter %(names)s; known filters: %(known)s.")
                               % {"names": ", ".join(unknown), "known": ", ".join(AUDIENCE_FILTERS)}})  # fmt: skip
    clean: dict = {}
    for name, value in filters.items():
        if value in (None, ""):
            continue
        if name in ("owner", "department"):
            if isinstance(value, bool) or not str(value).strip().isdigit():
                raise ValidationError({"filters": _("The filter %(name)s takes an id.") % {"name": name}})
            clean[name] = int(str(value).strip())
            continue
        if not isinstance(value, str) or len(value) > 200:
            raise ValidationError({"filters": _("The filter %(name)s takes a text.") % {"name": name}})
        choices = _FILTER_CHOICES.get(name)
        if choices is not None and value not in choices.values:
            raise ValidationError({"filters": _("The filter %(name)s takes one of: %(c)s.")
                                   % {"name": name, "c": ", ".join(choices.values)}})  # fmt: skip
        clean[name] = value.strip()
    return clean


def audience_clean_roles(roles) -> list[str]:
    if roles in (None, ""):
        return []
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
        raise ValidationError({"buying_roles": _("Give a list of buying-centre roles.")})
    if unknown := sorted(set(roles) - set(BuyingRole.values)):
        raise ValidationError({"buying_roles": _("Unknown role %(names)s; known roles: %(known)s.")
                               % {"names": ", ".join(unknown), "known": ", ".join(BuyingRole.values)}})  # fmt: skip
    return [r for r in BuyingRole.values if r in set(roles)]  # the choices' order, each once


def _audience_validate(audience: Audience) -> None:
    audience.name = (audience.name or "").strip()
    if not audience.name:
        raise ValidationError({"name": _("This field is required.")})
    if len(audience.name) > 100:
        raise ValidationError({"name": _("At most %(n)s characters.") % {"n": 100}})
    audience.filters = audience_clean_filters(audience.filters)
    audience.buying_roles = audience_clean_roles(audience.buying_roles)
    audience.is_shared = bool(audience.is_shared)


def _require_audience_editor(actor, audience: Audience) -> None:
    """Whoever saved an audience changes it; so may those who manage templates (a shared one, say)."""
    if audience.created_by_id == actor.pk:
        return
    if actor.role in TEMPLATE_EDITORS:
        return
    raise PermissionDenied(_("Only whoever saved this audience may change it."))


def _lock_audience(pk, version) -> Audience:
    return lock(Audience, pk, version)


@transaction.atomic
def audience_create(*, actor, fields: dict) -> Audience:
    """Save a recipient filter (the account list's filters plus buying-centre roles) under a name."""
    audience = Audience(created_by=actor, **{k: v for k, v in fields.items() if k in AUDIENCE_FIELDS})
    _audience_validate(audience)
    audience.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=audience,
                 changes=audit.diff({}, audit.snapshot(audience, AUDIENCE_FIELDS)))  # fmt: skip
    return audience


@transaction.atomic
def audience_update(*, actor, audience: Audience, fields: dict, version=None) -> Audience:
    """Rename, share or change the filter; a stale version raises ConflictError (409)."""
    _require_audience_editor(actor, audience)
    audience = _lock_audience(audience.pk, version)
    before = audit.snapshot(audience, AUDIENCE_FIELDS)
    for name, value in fields.items():
        if name in AUDIENCE_FIELDS:
            setattr(audience, name, value)
    _audience_validate(audience)
    audience.version += 1
    audience.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, target=audience,
                 changes=audit.diff(before, audit.snapshot(audience, AUDIENCE_FIELDS)))  # fmt: skip
    return audience


@transaction.atomic
def audience_archive(*, actor, audience: Audience, version=None) -> Audience:
    """Retire an audience; batches already sent to it keep their messages."""
    _require_audience_editor(actor, audience)
    audience = _lock_audience(audience.pk, version)
    audience.is_archived = True
    audience.version += 1
    audience.save()
    audit.record(actor=actor, action=AuditAction.ARCHIVE, target=audience)
    return audience


# --- preview of a send (read only) -------------------------------------------------------------------------


def message_preview(*, actor, channel: str, pairs: list[tuple[int, int]], template=None, text: str = "",
                    subject: str = "") -> dict:  # fmt: skip
    """What a send would do, without writing: how many recipients, how many opted out, and the message the
    first recipient would get. A ValidationError names the field, as the send itself would."""
    content = _content(template=template, text=text, subject=subject, channel=channel)
    kind = CHANNEL_KINDS[channel]
    opted_out = selectors.opted_out_among([c for c, _a in pairs], kind)
    first = None
    if pairs:
        contact_id, account_id = pairs[0]
        first = _build_message(actor=actor, contact=Contact.objects.get(pk=contact_id),
                               account=Account.objects.get(pk=account_id), channel=channel, content=content,
                               at=timezone.now(), batch=None, opted_out=opted_out)  # fmt: skip
    return {"recipients": len(pairs), "opted_out": len(opted_out), "first": first}


# --- holiday greetings (ENG-4) -----------------------------------------------------------------------------


def holiday_name(day) -> str | None:
    """The statutory holiday `day` is a day off for, or None (a make-up working day carries a name but is
    no holiday; an ordinary weekend has no name; years the calendar does not know have none)."""
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    return name if is_holiday and name else None


@transaction.atomic
def greetings_prepare(*, today) -> list[HolidayGreeting]:
    """Make a greeting for every statutory holiday whose first day falls between today and
    KAM["GREETING_PREPARE_DAYS"] days ahead (both included); idempotent. Returns the new ones."""
    zone = ZoneInfo(settings.TIME_ZONE or "Asia/Shanghai")
    created = []
    for offset in range(int(settings.KAM["GREETING_PREPARE_DAYS"]) + 1):
        day = today + timedelta(days=offset)
        name = holiday_name(day)
        if name is None or holiday_name(day - timedelta(days=1)) == name:
            continue  # not a holiday, or not its first day
        send_at = datetime.combine(day, time(9, 0), tzinfo=zone)
        greeting, new = HolidayGreeting.objects.get_or_create(holiday=name, day=day, defaults={"send_at": send_at})
        if new:
            audit.record(actor=None, action=AuditAction.CREATE, target=greeting)
            created.append(greeting)
    return created


@transaction.atomic
def greeting_send(*, actor, greeting: HolidayGreeting, template, audience, send_at=None) -> HolidayGreeting:
    """Send a holiday greeting as one bulk message (on the template's channel) to an audience, at `send_at`
    (default: the greeting's time). A greeting is sent once: a second send is refused."""
    greeting = HolidayGreeting.objects.select_for_update().get(pk=greeting.pk)
    if greeting.batch_id is not None:
        raise ValidationError({"greeting": _("This greeting has already been sent.")})
    errors = {}
    if template is None:
        errors["template_id"] = [_("Choose a template.")]
    if audience is None:
        errors["audience_id"] = [_("Choose an audience.")]
    if errors:
        raise ValidationError(errors)
    send_at = _when(send_at or greeting.send_at)
    batch = message_send_bulk(actor=actor, channel=template.channel, template=template, audience=audience, at=send_at)
    greeting.template, greeting.audience, greeting.send_at, greeting.batch = template, audience, send_at, batch
    greeting.save(update_fields=["template", "audience", "send_at", "batch"])
    audit.record(actor=actor, action=AuditAction.UPDATE, target=greeting,
                 extra={"batch": batch.pk, "template": template.pk, "audience": audience.pk})  # fmt: skip
    return greeting

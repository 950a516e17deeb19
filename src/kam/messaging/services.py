"""Writes of the messaging outbox (MSG-1, MSG-2): templates, consent, queueing messages, recording results.

Sending itself is in kam.messaging.jobs: the services here only put rows in the outbox (in the
caller's transaction) and queue the job that sends them.
"""

import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.accounts.models import Account, AccountContact, Contact
from kam.core import audit, scopes
from kam.core.errors import ConflictError
from kam.core.jobs import enqueue
from kam.core.models import AuditAction
from kam.core.validators import clean_phone
from kam.messaging.models import (
    CHANNEL_KINDS,
    ChannelKind,
    ChannelName,
    Consent,
    ConsentSource,
    DeliveryEvent,
    InboundReply,
    Message,
    MessageBatch,
    MessageStatus,
    MessageTemplate,
)
from kam.org.models import Role

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
    return int(_conf("MESSAGE_JOB_CHUNK", 200))


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
    template = MessageTemplate.objects.select_for_update().get(pk=pk)
    if version is not None and int(version) != template.version:
        raise ConflictError(template)
    return template


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
    return set(
        Consent.objects.filter(contact_id__in=contact_ids, kind=kind, opted_out_at__isnull=False).values_list(
            "contact_id", flat=True
        )
    )


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


def _build_message(*, actor, contact, account, channel, content, at, batch, opted_out: set[int]) -> Message:
    address, problem = recipient_address(contact, channel)
    message = Message(contact=contact, account=account, channel=channel, template=content["template"], batch=batch,
                      recipient=address, created_by=actor, scheduled_for=at)  # fmt: skip
    message.body = render(content["body"], contact=contact, account=account, user=actor)
    message.subject = render(content["subject"], contact=contact, account=account, user=actor)
    message.provider_template_code = content["code"]
    message.provider_params = {
        k: render(v, contact=contact, account=account, user=actor) for k, v in content["params"].items()
    }
    kind = CHANNEL_KINDS[channel]
    if contact.pk in opted_out:
        message.status, message.reason = MessageStatus.SKIPPED, _("The contact has opted out of %(k)s.") % {"k": kind}
    elif problem:
        message.status, message.reason = MessageStatus.SKIPPED, problem
    elif kind == ChannelKind.SMS and (end := quiet_hours_end(at)):
        message.scheduled_for = end
        message.reason = _("Moved out of the quiet hours.")
    if message.status == MessageStatus.SKIPPED:
        message.provider_code = "opted_out" if contact.pk in opted_out else "invalid_address"
    return message


def _save_and_queue(messages: list[Message]) -> list[Message]:
    """Write the rows in bulk with their first event, and one send job per chunk of due messages."""
    created = Message.objects.bulk_create(messages)
    if created and created[0].pk is None:  # bulk_create returns keys on SQLite ≥ 3.35 and PostgreSQL
        raise RuntimeError("bulk_create did not return primary keys")
    DeliveryEvent.objects.bulk_create(
        [DeliveryEvent(message=m, status=m.status, provider_code=m.provider_code, detail=m.reason) for m in created]
    )
    now = timezone.now()
    due = [m.pk for m in created if m.status == MessageStatus.QUEUED and m.scheduled_for <= now]
    size = send_chunk_size()
    for start in range(0, len(due), size):
        enqueue(SEND_JOB, due[start : start + size])
    return created


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
                      subject: str = "", at=None) -> MessageBatch:  # fmt: skip
    """Queue one message per recipient (MSG-1): hand-picked contacts or all contacts of chosen accounts,
    always within the actor's scope; ids outside it are refused as not found (404)."""
    content = _content(template=template, text=text, subject=subject, channel=channel)
    when = _when(at)
    visible = scopes.visible_accounts(actor)
    pairs: list[tuple[int, int]] = []  # (contact, account), first visible account of each contact
    if contact_ids:
        wanted = set(contact_ids)
        rows = AccountContact.objects.filter(contact_id__in=wanted, account__in=visible, contact__is_archived=False)
        found = dict(rows.order_by("-account_id").values_list("contact_id", "account_id"))
        if wanted - set(found):
            raise Http404
        pairs += sorted(found.items())
    if account_ids:
        wanted = set(account_ids)
        seen_accounts = set(visible.filter(pk__in=wanted).values_list("pk", flat=True))
        if wanted - seen_accounts:
            raise Http404
        rows = AccountContact.objects.filter(account_id__in=wanted, contact__is_archived=False)
        already = {c for c, _a in pairs}
        for contact_id, account_id in rows.order_by("account_id", "contact_id").values_list("contact_id", "account_id"):
            if contact_id not in already:
                already.add(contact_id)
                pairs.append((contact_id, account_id))
    if not pairs:
        raise ValidationError({"contact_ids": _("Choose at least one contact or account with contacts.")})
    contacts = Contact.objects.in_bulk([c for c, _a in pairs])
    accounts = Account.objects.in_bulk({a for _c, a in pairs})
    opted_out = opted_out_contact_ids(list(contacts), CHANNEL_KINDS[channel])
    batch = MessageBatch.objects.create(
        created_by=actor, selection={"contact_ids": sorted(contact_ids or []), "account_ids": sorted(account_ids or [])}
    )
    messages = [
        _build_message(
            actor=actor,
            contact=contacts[c],
            account=accounts[a],
            channel=channel,
            content=content,
            at=when,
            batch=batch,
            opted_out=opted_out,
        )  # fmt: skip
        for c, a in pairs
    ]
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
    return Message.objects.filter(provider_message_id=provider_id).first() if provider_id else None

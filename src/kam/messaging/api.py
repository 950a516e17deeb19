"""JSON API of messaging (MSG-1, MSG-2): templates, the outbox, and the providers' webhooks."""

import hashlib
import hmac
import json
import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination, paginate

from kam.core import scopes
from kam.core.api import CURRENT_SCHEMAS
from kam.messaging import schemas as s
from kam.messaging import selectors, services
from kam.messaging.models import CHANNEL_KINDS, Audience, ConsentSource, MessageTemplate

router = Router(tags=["messaging"])
CURRENT_SCHEMAS.update({MessageTemplate: s.TemplateOut, Audience: s.AudienceOut})

SIGNATURE_HEADER = "X-KAM-Signature"
PROVIDERS = ("aliyun_sms", "tencent_sms", "email", "log")


# ---------------------------------------------------------------------------------------------
# templates


@router.get("/message-templates", response=list[s.TemplateOut], operation_id="list_message_templates")
@paginate(PageNumberPagination)
def list_message_templates(request, include_archived: bool = False):
    """Message templates (MSG-2), shared by all who send."""
    return selectors.template_list(include_archived=include_archived)


@router.post("/message-templates", response={201: s.TemplateOut}, operation_id="create_message_template")
def create_message_template(request, payload: s.TemplateIn):
    """A new template (KA head, admin). Fields: {contact.name} {contact.name_en} {account.name} {user.name};
    an unknown one is a 422 naming it; an SMS body has at most KAM["SMS_MAX_LENGTH"] (500) characters."""
    return Status(201, services.template_create(actor=request.auth, fields=payload.dict()))


@router.get("/message-templates/{template_id}", response=s.TemplateOut, operation_id="get_message_template")
def get_message_template(request, template_id: int):
    return selectors.get_template(template_id)


@router.patch("/message-templates/{template_id}", response=s.TemplateOut, operation_id="update_message_template")
def update_message_template(request, template_id: int, payload: s.TemplatePatch):
    """Change a template; send the `version` you read — a stale one gets 409 with the current template."""
    data = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None or k == "version"}
    version = data.pop("version")
    template = selectors.get_template(template_id)
    return services.template_update(actor=request.auth, template=template, fields=data, version=version)


@router.post("/message-templates/{template_id}/archive", response=s.TemplateOut,
             operation_id="archive_message_template")  # fmt: skip
def archive_message_template(request, template_id: int, payload: s.VersionIn):
    template = selectors.get_template(template_id)
    return services.template_archive(actor=request.auth, template=template, version=payload.version)


# ---------------------------------------------------------------------------------------------
# the outbox


@router.get("/messages", response=list[s.MessageOut], operation_id="list_messages")
@paginate(PageNumberPagination)
def list_messages(request, filters: Query[s.MessageFilters]):
    """Messages to contacts at accounts in your data scope, newest first; filter by status, contact, account, batch."""
    return selectors.message_list(request.auth, filters=filters.dict())


@router.post("/messages", response={201: s.MessageOut}, operation_id="send_message")
def send_message(request, payload: s.SendIn):
    """Send one message to a contact you can see, now or `at` a time (MSG-1). An opted-out contact or an
    unusable address gives a `skipped` message with its reason; an SMS in the quiet hours is moved."""
    contact = scopes.get_contact_for_user(request.auth, payload.contact_id)
    template = selectors.get_template(payload.template_id, usable=True) if payload.template_id else None
    message = services.message_send(actor=request.auth, contact=contact, channel=payload.channel, template=template,
                                    text=payload.text, subject=payload.subject, at=payload.at,
                                    account_id=payload.account_id)  # fmt: skip
    return Status(201, selectors.message_detail(request.auth, message.pk))


@router.post("/messages/bulk", response={201: s.BatchOut}, operation_id="send_messages_bulk")
def send_messages_bulk(request, payload: s.BulkSendIn):
    """Send to many (MSG-1): hand-picked `contact_ids` and/or all contacts of `account_ids`, all within your
    scope (an id outside it: 404, nothing sent), and/or a saved `audience_id` (its contacts you can see now). One row per recipient; skipped ones are counted."""
    template = selectors.get_template(payload.template_id, usable=True) if payload.template_id else None
    audience = selectors.audience_detail(request.auth, payload.audience_id) if payload.audience_id else None
    batch = services.message_send_bulk(actor=request.auth, channel=payload.channel, contact_ids=payload.contact_ids,
                                       account_ids=payload.account_ids, template=template, text=payload.text,
                                       subject=payload.subject, at=payload.at, audience=audience)  # fmt: skip
    return Status(201, batch)


@router.get("/messages/{message_id}", response=s.MessageDetailOut, operation_id="get_message")
def get_message(request, message_id: int):
    """One message with its delivery events."""
    return selectors.message_detail(request.auth, message_id)


@router.put("/contacts/{contact_id}/message-consents/{kind}", response=s.ConsentOut, operation_id="set_message_consent")
def set_message_consent(request, contact_id: int, kind: str, payload: s.ConsentIn):
    """Record that a contact opts out of (or back into) SMS or e-mail (MSG-2), as told to you; whoever may
    change the contact may record it. Opted-out contacts' messages are skipped."""
    contact = scopes.get_contact_for_user(request.auth, contact_id, write=True)
    return services.consent_set(actor=request.auth, contact=contact, kind=kind, opted_out=payload.opted_out,
                                source=ConsentSource.API, note=payload.note)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# audiences: saved recipient filters (MSG-1)


@router.get("/audiences", response=list[s.AudienceOut], operation_id="list_audiences")
@paginate(PageNumberPagination)
def list_audiences(request):
    """Your saved audiences and those colleagues share (not archived)."""
    return selectors.audience_list(request.auth)


@router.post("/audiences", response={201: s.AudienceOut}, operation_id="create_audience")
def create_audience(request, payload: s.AudienceIn):
    """Save the account list's filters (and buying-centre roles) as an audience; it is resolved when sent,
    within the sender's scope."""
    data = payload.dict()
    return Status(201, services.audience_create(actor=request.auth, fields=data))


@router.get("/audiences/{audience_id}", response=s.AudienceOut, operation_id="get_audience")
def get_audience(request, audience_id: int):
    return selectors.audience_detail(request.auth, audience_id)


@router.patch("/audiences/{audience_id}", response=s.AudienceOut, operation_id="update_audience")
def update_audience(request, audience_id: int, payload: s.AudiencePatch):
    """Rename, share or change an audience you saved; a stale `version` gets 409 with the current one."""
    data = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None or k == "version"}
    version = data.pop("version")
    audience = selectors.audience_detail(request.auth, audience_id)
    return services.audience_update(actor=request.auth, audience=audience, fields=data, version=version)


@router.delete("/audiences/{audience_id}", response=s.AudienceOut, operation_id="archive_audience")
def archive_audience(request, audience_id: int, version: int):
    """Archive an audience you saved (`?version=` the one you read)."""
    audience = selectors.audience_detail(request.auth, audience_id)
    return services.audience_archive(actor=request.auth, audience=audience, version=version)


@router.get("/audiences/{audience_id}/count", response=s.AudienceCountOut, operation_id="count_audience")
def count_audience(request, audience_id: int, channel: str = "log"):
    """How many contacts the audience reaches for you now on `channel`, and how many of them opted out."""
    if channel not in CHANNEL_KINDS:
        raise ValidationError({"channel": _("Choose one of: %(c)s.") % {"c": ", ".join(CHANNEL_KINDS)}})
    audience = selectors.audience_detail(request.auth, audience_id)
    recipients, opted_out = selectors.audience_count(request.auth, audience, CHANNEL_KINDS[channel])
    return {"recipients": recipients, "opted_out": opted_out}


# ---------------------------------------------------------------------------------------------
# webhooks


def webhook_secret() -> str:
    return str(settings.KAM.get("MESSAGING_WEBHOOK_SECRET") or os.environ.get("KAM_MESSAGING_WEBHOOK_SECRET", ""))


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _verify(request) -> None:
    given = request.headers.get(SIGNATURE_HEADER, "").strip().removeprefix("sha256=")
    if not given:
        raise HttpError(401, _("Missing or wrong webhook signature."))
    secret = webhook_secret()
    if not secret:
        raise HttpError(403, _("Webhooks are disabled: KAM_MESSAGING_WEBHOOK_SECRET is not set."))
    if not hmac.compare_digest(given.lower(), sign(request.body, secret)):
        raise HttpError(401, _("Missing or wrong webhook signature."))


@router.post("/messaging/webhooks/{provider}", auth=None, response=s.WebhookOut, operation_id="messaging_webhook")
def messaging_webhook(request, provider: str):
    """Delivery reports and replies from a provider, signed with HMAC-SHA256 of the raw body under the shared
    secret KAM_MESSAGING_WEBHOOK_SECRET, hex in the `X-KAM-Signature` header. One JSON object or a list:
    `{"type": "delivery", "reference" | "message_id", "status": "delivered" | "failed", "code", "description"}`
    or `{"type": "reply", "from", "text"}` (Alibaba's and Tencent's field names are understood too).
    A reply "退订" / "TD" / "unsubscribe" opts the sender out of that channel kind."""
    _verify(request)
    if provider not in PROVIDERS:
        raise HttpError(404, _("Unknown provider."))
    try:
        data = json.loads(request.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, _("The body is not JSON.")) from None
    deliveries, replies = services.webhook_receive(provider=provider, items=data if isinstance(data, list) else [data])
    return {"deliveries": deliveries, "replies": replies}

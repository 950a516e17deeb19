"""Reads on the outbox and templates; messages always start from the caller's data scope."""

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from kam.core import scopes
from kam.messaging.models import DeliveryEvent, Message, MessageStatus, MessageTemplate


def message_list(user, *, filters: dict) -> QuerySet[Message]:
    messages = scopes.visible_messages(user).select_related("contact", "account")
    if status := filters.get("status"):
        if status not in MessageStatus.values:
            raise ValidationError({"status": _("Choose one of: %(c)s.") % {"c": ", ".join(MessageStatus.values)}})
        messages = messages.filter(status=status)
    for name in ("contact", "account", "batch"):
        if (value := filters.get(name)) is not None:
            messages = messages.filter(**{f"{name}_id": value})
    return messages.order_by("-created_at", "-id")


def message_detail(user, pk) -> Message:
    message = (
        scopes.visible_messages(user)
        .select_related("contact", "account")
        .prefetch_related(Prefetch("events", queryset=DeliveryEvent.objects.order_by("at", "id")))
        .filter(pk=pk)
        .first()
    )
    if message is None:
        raise Http404
    return message


def template_list(*, include_archived: bool = False) -> QuerySet[MessageTemplate]:
    """Templates are shared by everyone who sends; they hold no customer data."""
    templates = MessageTemplate.objects.all()
    if not include_archived:
        templates = templates.filter(is_archived=False)
    return templates


def get_template(pk, *, usable: bool = False) -> MessageTemplate:
    template = MessageTemplate.objects.filter(pk=pk).first()
    if template is None:
        raise Http404
    if usable and template.is_archived:
        raise ValidationError({"template_id": _("This template is archived.")})
    return template

"""Reads on the outbox and templates; messages always start from the caller's data scope."""

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.accounts.models import AccountContact
from kam.core import scopes
from kam.messaging.models import (
    Audience,
    ChannelKind,
    Consent,
    DeliveryEvent,
    HolidayGreeting,
    InboundReply,
    Message,
    MessageBatch,
    MessageStatus,
    MessageTemplate,
)


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


# --- audiences, batches, contacts' messages (pages of MSG-1, MSG-2) ---------------------------------------


def _audiences(user) -> QuerySet[Audience]:
    return Audience.objects.filter(Q(created_by=user) | Q(is_shared=True), is_archived=False)


def audience_list(user) -> QuerySet[Audience]:
    """The user's own saved audiences and those colleagues share, not archived."""
    return _audiences(user).select_related("created_by").order_by("name", "id")


def audience_detail(user, pk) -> Audience:
    """An audience the user saved or that is shared; any other is not found."""
    audience = _audiences(user).select_related("created_by").filter(pk=pk).first()
    if audience is None:
        raise Http404
    return audience


def audience_recipients(user, audience: Audience) -> list[tuple[int, int]]:
    """(contact id, account id) of everyone the audience reaches now, within the user's own scope: the
    contacts (not archived) of the accounts its filters select, with one of its buying-centre roles if it
    names any; each contact once, at its first (lowest id) such account."""
    from kam.accounts.selectors import account_list

    accounts = account_list(user, filters=audience.filters).order_by().values("pk")
    rows = AccountContact.objects.filter(account__in=accounts, contact__is_archived=False)
    if audience.buying_roles:
        rows = rows.filter(buying_role__in=audience.buying_roles)
    first: dict[int, int] = {}
    for contact_id, account_id in rows.order_by("account_id", "contact_id").values_list("contact_id", "account_id"):
        first.setdefault(contact_id, account_id)
    return sorted(first.items())


def opted_out_among(contact_ids, kind: str) -> set[int]:
    """The contacts among `contact_ids` opted out of `kind`. Opt-outs are few and an audience may be
    100,000 contacts (more than SQLite takes in one IN list), so the set is intersected here."""
    opted_out = Consent.objects.filter(kind=kind, opted_out_at__isnull=False).values_list("contact_id", flat=True)
    return set(opted_out) & set(contact_ids)


def audience_count(user, audience: Audience, channel_kind: str) -> tuple[int, int]:
    """(recipients, of whom opted out of `channel_kind`) the audience reaches for the user now."""
    if channel_kind not in ChannelKind.values:
        raise ValidationError({"channel": _("Choose one of: %(c)s.") % {"c": ", ".join(ChannelKind.values)}})
    pairs = audience_recipients(user, audience)
    return len(pairs), len(opted_out_among([c for c, _a in pairs], channel_kind))


def recipients(user, *, contact_ids=(), account_ids=(), audience=None, strict: bool = False) -> list[tuple[int, int]]:
    """(contact id, account id) of everyone a send reaches, each contact once: the picked contacts at their
    first (lowest id) visible account, then every contact of the picked accounts, then the audience's.

    Archived contacts are left out. An id the user cannot see is left out of a preview; with `strict`
    (the send itself) it is a 404, as everywhere, and nothing is queued."""
    visible = scopes.visible_accounts(user)
    first: dict[int, int] = {}
    if contact_ids:
        rows = AccountContact.objects.filter(contact_id__in=set(contact_ids), account__in=visible,
                                             contact__is_archived=False)  # fmt: skip
        for contact_id, account_id in rows.order_by("account_id").values_list("contact_id", "account_id"):
            first.setdefault(contact_id, account_id)
        if strict and set(contact_ids) - set(first):
            raise Http404
    ordered = sorted(first.items())
    more: list[tuple[int, int]] = []
    if account_ids:
        if strict and set(account_ids) - set(visible.filter(pk__in=set(account_ids)).values_list("pk", flat=True)):
            raise Http404
        rows = AccountContact.objects.filter(account_id__in=set(account_ids), account__in=visible,
                                             contact__is_archived=False)  # fmt: skip
        more = list(rows.order_by("account_id", "contact_id").values_list("contact_id", "account_id"))
    if audience is not None:
        more += audience_recipients(user, audience)
    for contact_id, account_id in more:
        if contact_id not in first:
            first[contact_id] = account_id
            ordered.append((contact_id, account_id))
    return ordered


def batch_list(user) -> QuerySet[MessageBatch]:
    """Bulk sends the user made, and those with messages to accounts the user may see."""
    return (
        MessageBatch.objects.filter(Q(created_by=user) | Q(pk__in=scopes.visible_messages(user).values("batch_id")))
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def batch_counts(user, batches) -> dict[int, dict[str, int]]:
    """{batch id: {status: number}} of the messages in these batches the user may see (one query)."""
    counts: dict[int, dict[str, int]] = {b.pk: {} for b in batches}
    rows = (
        scopes.visible_messages(user)
        .filter(batch_id__in=list(counts))
        .order_by()
        .values("batch_id", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts[row["batch_id"]][row["status"]] = row["n"]
    return counts


def batch_detail(user, pk) -> MessageBatch:
    batch = batch_list(user).filter(pk=pk).first()
    if batch is None:
        raise Http404
    return batch


def contact_messages(user, contact) -> QuerySet[Message]:
    """Messages to a contact at accounts the user may see, newest first."""
    return (
        scopes.visible_messages(user).filter(contact=contact).select_related("account").order_by("-created_at", "-id")
    )


def contact_replies(user, contact) -> QuerySet[InboundReply]:
    """Replies from a contact (already found visible by the caller): those attached to an account the user
    sees, or to no account."""
    visible = scopes.visible_accounts(user, include_archived=True).values("pk")
    return InboundReply.objects.filter(Q(account__isnull=True) | Q(account__in=visible), contact=contact).order_by(
        "-received_at", "-id"
    )


def contact_consents(contact) -> dict[str, Consent | None]:
    """{channel kind: its consent row or None (never asked: messages go out)}."""
    found = {c.kind: c for c in Consent.objects.filter(contact=contact)}
    return {kind: found.get(kind) for kind in ChannelKind.values}


def greeting_list(*, past: int = 20) -> list[HolidayGreeting]:
    """Holiday greetings (ENG-4): the coming ones first (soonest first), then the last `past` ones. They hold
    no customer data: the audience is resolved in the sender's scope when sent."""
    today = timezone.localdate()
    greetings = HolidayGreeting.objects.select_related("template", "audience", "batch")
    coming = greetings.filter(day__gte=today).order_by("day", "id")
    return [*coming, *greetings.filter(day__lt=today).order_by("-day", "-id")[:past]]

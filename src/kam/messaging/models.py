"""The messaging outbox (MSG-1, MSG-2): templates, consent, messages, delivery events and replies."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kam.core.models import VersionedModel


class ChannelName(models.TextChoices):
    """The customer-facing channels a message can go out on (names of kam.messaging.config.FACTORIES)."""

    ALIYUN_SMS = "aliyun_sms", _("SMS (Alibaba Cloud)")
    TENCENT_SMS = "tencent_sms", _("SMS (Tencent Cloud)")
    EMAIL = "email", _("e-mail")
    LOG = "log", _("log (demo)")


class ChannelKind(models.TextChoices):
    """What consent is given or withdrawn for: every SMS provider counts as one kind."""

    SMS = "sms", _("SMS")
    EMAIL = "email", _("e-mail")


# The demo log channel stands in for SMS: it is addressed to the contact's mobile and honours SMS consent.
CHANNEL_KINDS = {
    ChannelName.ALIYUN_SMS: ChannelKind.SMS,
    ChannelName.TENCENT_SMS: ChannelKind.SMS,
    ChannelName.LOG: ChannelKind.SMS,
    ChannelName.EMAIL: ChannelKind.EMAIL,
}


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    ZH_HANT = "zh-hant", _("Traditional Chinese")
    EN = "en", _("English")


class MessageTemplate(VersionedModel):
    """A reusable message text with fields ({contact.name} …), or an approved SMS provider template."""

    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=20, choices=ChannelName.choices)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"), max_length=5000)
    provider_template_code = models.CharField(_("provider template code"), max_length=100, blank=True)
    # provider variable → text with fields, e.g. {"name": "{contact.name}"}
    provider_params = models.JSONField(_("provider parameters"), default=dict, blank=True)
    is_archived = models.BooleanField(_("archived"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return self.name


class ConsentSource(models.TextChoices):
    REPLY = "reply", _("reply from the contact")
    USER = "user", _("recorded by a user")
    API = "api", _("API")


class Consent(models.Model):
    """Whether a contact accepts messages of one kind (SMS, e-mail); opted out when opted_out_at is set."""

    contact = models.ForeignKey("accounts.Contact", on_delete=models.CASCADE, related_name="message_consents")
    kind = models.CharField(_("channel kind"), max_length=10, choices=ChannelKind.choices)
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=ConsentSource.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "kind"], name="messaging_consent_contact_kind")]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")

    def __str__(self) -> str:
        return f"{self.contact_id} {self.kind} {'out' if self.opted_out_at else 'in'}"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped")


class MessageBatch(models.Model):
    """One bulk send: who sent it, to whom (a filter or a hand-picked list), and the counts."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    selection = models.JSONField(_("recipients chosen by"), default=dict, blank=True)
    total = models.PositiveIntegerField(_("messages"), default=0)
    queued = models.PositiveIntegerField(_("queued"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message batch")
        verbose_name_plural = _("message batches")

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.total})"


class Message(models.Model):
    """One message to one contact in the outbox, from queued to sent, delivered, failed or skipped."""

    contact = models.ForeignKey("accounts.Contact", on_delete=models.PROTECT, related_name="messages")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(_("channel"), max_length=20, choices=ChannelName.choices)
    template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    batch = models.ForeignKey(MessageBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    provider_template_code = models.CharField(max_length=100, blank=True)
    provider_params = models.JSONField(default=dict, blank=True)
    scheduled_for = models.DateTimeField(_("scheduled for"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    provider_message_id = models.CharField(_("provider message id"), max_length=100, blank=True, db_index=True)
    provider_code = models.CharField(_("provider code"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_for"], name="messaging_message_due")]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient or self.contact_id} ({self.status})"


class DeliveryEvent(models.Model):
    """One step in a message's life as it happened: queued, sent, a provider's delivery report, a failure."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    provider_code = models.CharField(_("provider code"), max_length=100, blank=True)
    detail = models.CharField(_("detail"), max_length=1000, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("delivery event")
        verbose_name_plural = _("delivery events")

    def __str__(self) -> str:
        return f"{self.message_id} {self.status}"


class InboundReply(models.Model):
    """A reply a contact sent back (SMS or e-mail), attached to the contact it came from."""

    provider = models.CharField(_("provider"), max_length=20)
    sender = models.CharField(_("from"), max_length=254)
    text = models.TextField(_("text"), max_length=2000)
    contact = models.ForeignKey("accounts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opted_out = models.BooleanField(_("opted out"), default=False)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("reply")
        verbose_name_plural = _("replies")

    def __str__(self) -> str:
        return f"{self.sender}: {self.text[:30]}"


class Audience(VersionedModel):
    """A saved recipient filter (MSG-1): the account list's filters plus buying-centre roles.

    It stores the question, not the answer: sending resolves it at that moment and within the
    sender's own data scope, so a shared audience never reaches accounts its user may not see."""

    name = models.CharField(_("name"), max_length=100)
    # The account list's filters (owner, department, province, city, industry, ownership, lifecycle, tag, q).
    filters = models.JSONField(_("account filters"), default=dict, blank=True)
    # Only contacts holding one of these buying-centre roles at the account; empty: every contact.
    buying_roles = models.JSONField(_("buying-centre roles"), default=list, blank=True)
    is_shared = models.BooleanField(_("shared with colleagues"), default=False)
    is_archived = models.BooleanField(_("archived"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("audience")
        verbose_name_plural = _("audiences")

    def __str__(self) -> str:
        return self.name


class ChannelThrottle(models.Model):
    """The provider's rate limit, shared by every worker: messages claimed on a channel in the current window.

    One row per channel; a claim is one conditional UPDATE (start a new window, or count one more
    while under the limit), so two workers on two machines never exceed the provider's limit."""

    channel = models.CharField(max_length=20, primary_key=True, choices=ChannelName.choices)
    window_start = models.DateTimeField(null=True, blank=True)
    used = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("channel rate limit")
        verbose_name_plural = _("channel rate limits")

    def __str__(self) -> str:
        return f"{self.channel}: {self.used}"


class HolidayGreeting(models.Model):
    """A greeting prepared for a statutory holiday (ENG-4): made ahead from the Chinese holiday calendar,
    completed (template, audience, time) and sent by a user as one bulk message."""

    holiday = models.CharField(_("holiday"), max_length=50)  # chinese-calendar's name, e.g. "Spring Festival"
    day = models.DateField(_("first day of the holiday"))
    send_at = models.DateTimeField(_("send at"))
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("template")
    )
    audience = models.ForeignKey(
        Audience, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("audience")
    )
    batch = models.ForeignKey(
        MessageBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("sent as")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["day", "id"]
        verbose_name = _("holiday greeting")
        verbose_name_plural = _("holiday greetings")
        constraints = [models.UniqueConstraint(fields=["holiday", "day"], name="messaging_greeting_holiday_day")]

    def __str__(self) -> str:
        return f"{self.holiday} {self.day}"

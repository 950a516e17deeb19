"""Shared kernel: base model with optimistic locking, the audit trail, API tokens, job claims."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VersionedModel(models.Model):
    """A business record with timestamps and a version number for optimistic locking."""

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True


class AuditAction(models.TextChoices):
    CREATE = "create", _("created")
    UPDATE = "update", _("updated")
    ARCHIVE = "archive", _("archived")
    RESTORE = "restore", _("restored")
    DELETE = "delete", _("deleted")
    VIEW_PERSONAL = "view_personal", _("viewed personal file")
    EXPORT = "export", _("exported")
    IMPORT = "import", _("imported")
    DOWNLOAD = "download", _("downloaded attachment")


class AuditEvent(models.Model):
    """One entry of the audit trail: who did what to which record, when (UTC), old → new."""

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("actor")
    )
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    target_type = models.CharField(_("record type"), max_length=50)
    target_id = models.CharField(_("record id"), max_length=50, blank=True)
    target_repr = models.CharField(_("record"), max_length=300, blank=True)
    # The account the event belongs to, so an account's history is one indexed lookup.
    account_id = models.BigIntegerField(_("account"), null=True, blank=True, db_index=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    extra = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_repr}"


class ApiToken(models.Model):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.user} until {self.expires_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user) -> str:
        raw = secrets.token_urlsafe(32)
        cls.objects.create(user=user, digest=cls.hash(raw), expires_at=timezone.now() + settings.API_TOKEN_TTL)
        return raw


class JobClaim(models.Model):
    """An effect of a background job that is done: one row per key (a schedule's tick, a message),
    written in the same transaction as the effect, so the effect happens once however often the job
    is delivered (see kam.core.jobs.run_once)."""

    key = models.CharField(_("key"), max_length=200, unique=True)
    claimed_at = models.DateTimeField(_("done at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-claimed_at", "-id"]
        verbose_name = _("job done once")
        verbose_name_plural = _("jobs done once")

    def __str__(self) -> str:
        return self.key

"""Contact with accounts (拜访与跟进): activities recorded right after they happen, and follow-up tasks."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kam.accounts.models import Account, Contact, Lifecycle
from kam.core.models import VersionedModel


class ActivityKind(models.TextChoices):
    VISIT = "visit", _("customer visit")
    CALL = "call", _("phone call")
    MESSAGE = "message", _("message (WeChat, SMS, e-mail)")
    MEETING = "meeting", _("meeting")
    SAMPLE_DELIVERY = "sample_delivery", _("sample delivery")
    EXECUTIVE_VISIT = "executive_visit", _("executive visit")


class Activity(VersionedModel):
    """A visit, call, message or meeting with an account (ENG-1): who took part on both sides, the next step."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="activities", verbose_name=_("account"))
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices, default=ActivityKind.VISIT)
    happened_at = models.DateTimeField(_("when"))
    contacts = models.ManyToManyField(Contact, blank=True, related_name="activities", verbose_name=_("contacts met"))
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="activities", verbose_name=_("our participants")
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), max_length=5000, blank=True)
    outcome = models.TextField(_("outcome"), max_length=2000, blank=True)
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    next_step_due = models.DateTimeField(_("next step due"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    is_archived = models.BooleanField(_("archived"), default=False)

    class Meta:
        ordering = ["-happened_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            # An account's timeline, newest first, paged by (happened_at, id).
            models.Index(fields=["account", "-happened_at", "-id"], name="activity_account_timeline"),
            models.Index(fields=["-happened_at", "-id"], name="activity_newest"),
        ]

    def __str__(self) -> str:
        return self.subject or f"{self.get_kind_display()} · {self.account}"


class TaskStatus(models.TextChoices):
    OPEN = "open", _("open")
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("cancelled")


class TaskKind(models.TextChoices):
    FOLLOW_UP = "follow_up", _("follow-up")
    CALL_BACK = "call_back", _("call back")
    CONTRACT_SIGNING = "contract_signing", _("contract signing")


class Task(VersionedModel):
    """A follow-up someone has to do by a set time (call back, send the quotation…), often an activity's next step."""

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=TaskKind.choices, default=TaskKind.FOLLOW_UP)
    notes = models.TextField(_("notes"), max_length=5000, blank=True)
    # What to bring to a contract signing (license copy, seal, authorisation letter…), shown in its reminder.
    documents = models.JSONField(_("documents to bring"), default=list, blank=True)
    # When to remind the assignee, to the minute (a call-back "at 3 pm"); empty: the morning of the due day.
    remind_at = models.DateTimeField(_("remind at"), null=True, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("account")
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("contact")
    )
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("from activity")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("assignee")
    )
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(_("status"), max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            # A user's open tasks by due time (the home page: today's and overdue).
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_due"),
            models.Index(fields=["account", "status", "due_at"], name="task_account_due"),
            models.Index(fields=["status", "remind_at"], name="task_remind_at"),
        ]

    def __str__(self) -> str:
        return self.title


class ReminderKind(models.TextChoices):
    BIRTHDAY = "birthday", _("birthday")
    TASK_DUE = "task_due", _("call-back / task due")
    CONTRACT = "contract", _("contract date")
    CADENCE = "cadence", _("out of contact cadence")
    DIGEST = "digest", _("summary")


class Reminder(models.Model):
    """An item in a user's in-app inbox (ENG-3): a birthday ahead, a call-back due, an account out of cadence."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("for")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("details"), max_length=5000, blank=True)
    due_at = models.DateTimeField(_("due"))
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("account")
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("contact")
    )
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("task")
    )
    # What the reminder is about, e.g. "birthday:<contact>:<date>:<user>": a daily job never makes one twice.
    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("dismissed at"), null=True, blank=True)
    # Sent through the user's own channel (NotificationSettings), or why that failed.
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    delivery_error = models.CharField(_("delivery error"), max_length=500, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        indexes = [
            models.Index(fields=["user", "dismissed_at", "due_at"], name="reminder_inbox"),
            models.Index(fields=["delivered_at", "created_at"], name="reminder_undelivered"),
        ]

    def __str__(self) -> str:
        return self.title


class CadenceRule(models.Model):
    """How many days an account of a lifecycle stage may go without contact (ENG-2): prospects 7, customers 30."""

    lifecycle = models.CharField(_("lifecycle"), max_length=20, choices=Lifecycle.choices, unique=True)
    max_days = models.PositiveSmallIntegerField(_("days between contacts at most"))
    # Count only working days (statutory holidays and weekends off, make-up working days on).
    skip_holidays = models.BooleanField(_("count working days only"), default=False)

    class Meta:
        ordering = ["lifecycle"]
        verbose_name = _("cadence rule")
        verbose_name_plural = _("cadence rules")
        constraints = [models.CheckConstraint(condition=models.Q(max_days__gte=1), name="cadence_max_days_positive")]

    def __str__(self) -> str:
        return f"{self.get_lifecycle_display()}: {self.max_days}"


class NotifyChannel(models.TextChoices):
    NONE = "", _("in the app only")
    EMAIL = "email", _("e-mail")
    WECOM = "wecom", _("WeCom robot")
    DINGTALK = "dingtalk", _("DingTalk robot")
    FEISHU = "feishu", _("Feishu bot")


class ReviewEvery(models.TextChoices):
    WEEK = "week", _("every week")
    FORTNIGHT = "fortnight", _("every two weeks")


class NotificationSettings(models.Model):
    """How a user wants their reminders (ENG-3): in the app only, or also through a channel of their choice,
    each one as it comes or one daily digest; and how often a supervisor reviews the accounts out of cadence."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings", primary_key=True
    )
    channel = models.CharField(_("also send reminders by"), max_length=20, choices=NotifyChannel.choices, blank=True)
    # E-mail address, or the robot's webhook URL for WeCom, DingTalk and Feishu.
    address = models.CharField(_("address or robot webhook URL"), max_length=500, blank=True)
    # DingTalk and Feishu robots sign their requests with this secret (加签); WeCom has none.
    secret = models.CharField(_("robot signing secret"), max_length=200, blank=True)
    daily_digest = models.BooleanField(_("one daily digest instead of each reminder"), default=False)
    cadence_review = models.CharField(
        _("review accounts out of cadence"), max_length=10, choices=ReviewEvery.choices, default=ReviewEvery.WEEK
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return f"{self.user}: {self.channel or '-'}"

"""Contact with accounts (拜访与跟进): activities recorded right after they happen, and follow-up tasks."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kam.accounts.models import Account, Contact, Lifecycle, ValueTier
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
    WEEKLY_REPORT = "weekly_report", _("weekly report")  # GOV-8 [h4]


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
    # The page the reminder is about when it is not an account, contact or task (e.g. a weekly report): a path.
    link = models.CharField(_("link"), max_length=200, blank=True)
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
    """How many days an account may go without contact (ENG-2): by lifecycle stage (prospects 7, customers
    30), optionally for one value tier only (platinum customers every 14 days); a tier's own rule wins."""

    lifecycle = models.CharField(_("lifecycle"), max_length=20, choices=Lifecycle.choices)
    # Empty: every tier of that lifecycle without a rule of its own.
    tier = models.CharField(_("value tier"), max_length=10, choices=ValueTier.choices, blank=True)
    max_days = models.PositiveSmallIntegerField(_("days between contacts at most"))
    # Count only working days (statutory holidays and weekends off, make-up working days on).
    skip_holidays = models.BooleanField(_("count working days only"), default=False)

    class Meta:
        ordering = ["lifecycle", "tier"]
        verbose_name = _("cadence rule")
        verbose_name_plural = _("cadence rules")
        constraints = [
            models.CheckConstraint(condition=models.Q(max_days__gte=1), name="cadence_max_days_positive"),
            models.UniqueConstraint(fields=["lifecycle", "tier"], name="cadence_rule_lifecycle_tier"),
        ]

    def __str__(self) -> str:
        tier = f" · {self.get_tier_display()}" if self.tier else ""
        return f"{self.get_lifecycle_display()}{tier}: {self.max_days}"


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


# ---------------------------------------------------------------------------------------------
# executive sponsors and top-level plans (ENG-5, ENG-6), events (ENG-6), campaigns (ENG-7)


class SponsorTitle(models.TextChoices):
    PRESIDENT = "president", _("president")
    VICE_PRESIDENT = "vice_president", _("vice president")
    BRANCH_GM = "branch_gm", _("branch general manager")
    OTHER = "other", _("other executive")


class ExecutiveSponsor(VersionedModel):
    """A president, VP or branch general manager named as sponsor of a key account, with duties (ENG-5)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="sponsors", verbose_name=_("account"))
    sponsor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sponsorships", verbose_name=_("sponsor")
    )
    title = models.CharField(_("as"), max_length=20, choices=SponsorTitle.choices, default=SponsorTitle.VICE_PRESIDENT)
    duties = models.TextField(_("duties"), max_length=2000, blank=True)
    since = models.DateField(_("since"))
    until = models.DateField(_("until"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("named by")
    )

    class Meta:
        ordering = ["account_id", "since", "id"]
        verbose_name = _("executive sponsor")
        verbose_name_plural = _("executive sponsors")
        indexes = [models.Index(fields=["sponsor", "until"], name="sponsor_by_user")]

    def __str__(self) -> str:
        return f"{self.sponsor} · {self.account}"


class PlanKind(models.TextChoices):
    EXECUTIVE_VISIT = "executive_visit", _("executive visit")
    MEETING = "meeting", _("top-level meeting")


class ExecutivePlan(VersionedModel):
    """A standing plan for an account (ENG-5, ENG-6): an executive visit or top-level meeting every N months,
    with the sponsor responsible. It is due again N months after the last such activity the sponsor took part in."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="executive_plans", verbose_name=_("account")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=PlanKind.choices, default=PlanKind.EXECUTIVE_VISIT)
    every_months = models.PositiveSmallIntegerField(_("every (months)"))
    sponsor = models.ForeignKey(
        ExecutiveSponsor, on_delete=models.PROTECT, related_name="plans", verbose_name=_("responsible sponsor")
    )
    # Due on this day if nothing of the kind has happened yet.
    starts_on = models.DateField(_("first due on"))
    notes = models.TextField(_("notes"), max_length=2000, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )

    class Meta:
        ordering = ["account_id", "kind", "id"]
        verbose_name = _("executive plan")
        verbose_name_plural = _("executive plans")
        constraints = [
            models.CheckConstraint(condition=models.Q(every_months__gte=1), name="plan_every_months_positive")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.account}"


class EventKind(models.TextChoices):
    FORUM = "forum", _("annual key-account forum")
    TOP_MEETING = "top_meeting", _("top-level meeting")
    OTHER = "other", _("other event")


class Event(VersionedModel):
    """An event key accounts' contacts are invited to (ENG-6): the annual forum, a top-level meeting."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices, default=EventKind.FORUM)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    place = models.CharField(_("place"), max_length=200, blank=True)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_events", verbose_name=_("organiser")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self) -> str:
        return self.name


class InvitationStatus(models.TextChoices):
    INVITED = "invited", _("invited")
    ACCEPTED = "accepted", _("accepted")
    DECLINED = "declined", _("declined")
    ATTENDED = "attended", _("attended")
    NO_SHOW = "no_show", _("did not come")


class Invitation(VersionedModel):
    """One contact of a key account invited to an event (ENG-6): the answer, whether they came, the follow-up."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="invitations", verbose_name=_("event"))
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="invitations", verbose_name=_("account")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="invitations", verbose_name=_("contact")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=InvitationStatus.choices, default=InvitationStatus.INVITED
    )
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    attended = models.BooleanField(_("attended"), null=True, blank=True)
    notes = models.TextField(_("notes"), max_length=2000, blank=True)
    # The invitation message sent through messaging (MSG-1), and its bulk send.
    message = models.ForeignKey(
        "messaging.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("message"),
    )
    batch = models.ForeignKey(
        "messaging.MessageBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("bulk send"),
    )  # fmt: skip
    follow_up_task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("follow-up task")
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("invited by")
    )

    class Meta:
        ordering = ["event_id", "account_id", "id"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [models.UniqueConstraint(fields=["event", "contact"], name="invitation_event_contact")]

    def __str__(self) -> str:
        return f"{self.contact} · {self.event}"


class CampaignKind(models.TextChoices):
    TRIAL = "trial", _("new-product trial")
    JOINT_PROMOTION = "joint_promotion", _("joint promotion")


class Campaign(VersionedModel):
    """A new-product trial or joint promotion run with selected key accounts (ENG-7)."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=CampaignKind.choices, default=CampaignKind.TRIAL)
    product = models.CharField(_("product"), max_length=200, blank=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    goal = models.TextField(_("goal"), max_length=2000, blank=True)
    result_summary = models.TextField(_("result"), max_length=5000, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_campaigns", verbose_name=_("owner")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )

    class Meta:
        ordering = ["-starts_on", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return self.name


class ParticipationStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    RUNNING = "running", _("running")
    COMPLETED = "completed", _("completed")
    WITHDRAWN = "withdrawn", _("withdrawn")


class CampaignParticipant(VersionedModel):
    """A key account taking part in a campaign (ENG-7), with its own status, result and feedback."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="participants", verbose_name=_("campaign")
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="campaign_participations", verbose_name=_("account")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ParticipationStatus.choices, default=ParticipationStatus.PLANNED
    )
    result = models.TextField(_("result"), max_length=2000, blank=True)
    feedback = models.TextField(_("feedback"), max_length=2000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("added by")
    )

    class Meta:
        ordering = ["campaign_id", "account_id", "id"]
        verbose_name = _("campaign participant")
        verbose_name_plural = _("campaign participants")
        constraints = [models.UniqueConstraint(fields=["campaign", "account"], name="campaign_participant_account")]

    def __str__(self) -> str:
        return f"{self.account} · {self.campaign}"

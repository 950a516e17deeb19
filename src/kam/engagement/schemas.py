"""Input and output schemas of the activities and tasks API."""

from datetime import date, datetime

from django.utils import timezone
from ninja import Field, Schema

from kam.accounts.schemas import AccountRef, UserRef
from kam.engagement.models import Activity, Task, TaskStatus

# Kinds and statuses are plain strings checked by the services, so the API and the pages share one
# rule and an unknown value is a 422 naming the field in the user's language.


class ContactRef(Schema):
    id: int
    name: str


class ActivityIn(Schema):
    account_id: int = Field(..., description="The account the activity was with (one you can see)")
    kind: str = Field("visit", description="visit, call, message, meeting, sample_delivery or executive_visit")
    happened_at: datetime | None = Field(
        None, description="When it happened (default: now); without a zone it is local time (Asia/Shanghai)"
    )
    contacts: list[int] = Field(default_factory=list, description="Ids of the account's contacts who took part")
    participants: list[int] | None = Field(None, description="Ids of our colleagues who took part (default: you)")
    subject: str = Field("", max_length=200)
    notes: str = Field("", max_length=5000)
    outcome: str = Field("", max_length=2000)
    next_step: str = Field("", max_length=200, description="Becomes an open task of yours, due at next_step_due")
    next_step_due: datetime | None = Field(None, description="Required with a next step; not before the activity")


class ActivityPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    kind: str | None = None
    happened_at: datetime | None = None
    contacts: list[int] | None = None
    participants: list[int] | None = None
    subject: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=5000)
    outcome: str | None = Field(None, max_length=2000)
    next_step: str | None = Field(None, max_length=200)
    next_step_due: datetime | None = None


class ArchiveIn(Schema):
    version: int
    reason: str = Field("", max_length=500)


class ActivityOut(Schema):
    id: int
    account: AccountRef
    kind: str
    kind_label: str
    happened_at: datetime
    contacts: list[ContactRef]
    participants: list[UserRef]
    subject: str
    notes: str
    outcome: str
    next_step: str
    next_step_due: datetime | None
    created_by: UserRef
    is_archived: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_kind_label(obj: Activity) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_contacts(obj: Activity) -> list:
        return list(obj.contacts.all())

    @staticmethod
    def resolve_participants(obj: Activity) -> list:
        return list(obj.participants.all())


class ActivityFilters(Schema):
    account: int | None = Field(None, description="An account id")
    kind: str | None = None
    date_from: date | None = Field(None, description="From this local day (inclusive)")
    date_to: date | None = Field(None, description="To this local day (inclusive)")
    participant: int | None = Field(None, description="A colleague's user id")
    q: str | None = Field(None, description="Text in subject, notes, outcome or next step")
    include_archived: bool = False


class TimelineEntryOut(Schema):
    type: str = Field(description="activity or update (dynamic information, ARC-7)")
    at: datetime = Field(description="When; an update, dated by day, stands at the start of its local day")
    activity: ActivityOut | None = None
    update_id: int | None = None
    content: str | None = Field(None, description="The update's text")
    author: UserRef | None = None


class TimelineOut(Schema):
    entries: list[TimelineEntryOut]
    next_before: str | None = Field(description="Pass as `before` for the next (older) page; null at the end")


class TaskIn(Schema):
    title: str = Field(..., max_length=200)
    kind: str = Field("follow_up", description="follow_up, call_back (reminded at its due time) or contract_signing")
    notes: str = Field("", max_length=5000)
    documents: list[str] = Field([], description="For a contract signing: the documents to bring (reminded with it)")
    due_at: datetime = Field(..., description="Without a zone it is local time (Asia/Shanghai)")
    remind_at: datetime | None = Field(None, description="Remind the assignee at this minute (no later than due)")
    account_id: int | None = Field(None, description="An account you can see")
    contact_id: int | None = Field(None, description="A contact of that account")
    assignee_id: int | None = Field(None, description="Defaults to you; must be able to see the account")


class TaskPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    title: str | None = Field(None, max_length=200)
    kind: str | None = None
    notes: str | None = Field(None, max_length=5000)
    documents: list[str] | None = None
    due_at: datetime | None = None
    remind_at: datetime | None = None
    account_id: int | None = None
    contact_id: int | None = None
    assignee_id: int | None = None


class TaskActionIn(Schema):
    version: int | None = Field(None, description="The version you read (optional); a stale one gets 409")


class TaskOut(Schema):
    id: int
    title: str
    kind: str
    notes: str
    documents: list[str]
    remind_at: datetime | None
    account: AccountRef | None
    contact: ContactRef | None
    activity_id: int | None
    assignee: UserRef
    due_at: datetime
    status: str
    overdue: bool
    done_at: datetime | None
    created_by: UserRef
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_overdue(obj: Task) -> bool:
        return obj.status == TaskStatus.OPEN and obj.due_at < timezone.now()


class TaskFilters(Schema):
    assignee: str = Field("me", description='"me" (default), "any", or a user id')
    status: str | None = Field(None, description="open, done or cancelled")
    due_before: datetime | None = None
    due_after: datetime | None = None
    account: int | None = None


# ---------------------------------------------------------------------------------------------
# reminders (ENG-3) and cadence (ENG-2)


class NotificationSettingsIn(Schema):
    channel: str = Field("", description='"" (in the app only), email, wecom, dingtalk or feishu')
    address: str = Field("", max_length=500, description="E-mail address, or the robot's webhook URL")
    secret: str | None = Field(None, max_length=200, description="DingTalk / Feishu signing secret; omit to keep")
    daily_digest: bool = Field(False, description="One message a day (07:45) instead of each reminder")
    cadence_review: str = Field("week", description="KA heads: review accounts out of cadence every week or fortnight")


class NotificationSettingsOut(Schema):
    channel: str
    address: str
    has_secret: bool
    daily_digest: bool
    cadence_review: str

    @staticmethod
    def resolve_has_secret(obj) -> bool:
        return bool(obj.secret)


class ReminderFilters(Schema):
    unread: bool | None = Field(None, description="true: only unread; false: only read; default both")
    kind: str | None = Field(None, description="birthday, task_due, contract, cadence or digest")


class ReminderOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    due_at: datetime
    account: AccountRef | None
    contact: ContactRef | None
    task_id: int | None
    created_at: datetime
    read_at: datetime | None
    dismissed_at: datetime | None


class CadenceBreachOut(Schema):
    account: AccountRef
    owner: UserRef
    lifecycle: str
    max_days: int
    skip_holidays: bool
    last_contact: date = Field(..., description="Local day of the last activity (of the account's creation if none)")
    days_since: int = Field(..., description="Days since then up to today; working days if skip_holidays")
    never_contacted: bool


# ---------------------------------------------------------------------------------------------
# executive sponsors and plans (ENG-5, ENG-6), events (ENG-6), campaigns (ENG-7)


class SponsorIn(Schema):
    account_id: int = Field(..., description="An account you may change")
    sponsor_id: int = Field(..., description="The executive (a colleague who can see the account)")
    title: str = Field("vice_president", description="president, vice_president, branch_gm or other")
    duties: str = Field("", max_length=2000)
    since: date | None = Field(None, description="Default: today")
    until: date | None = Field(None, description="Empty: open-ended")


class SponsorPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    sponsor_id: int | None = None
    title: str | None = None
    duties: str | None = Field(None, max_length=2000)
    since: date | None = None
    until: date | None = None


class SponsorOut(Schema):
    id: int
    account: AccountRef
    sponsor: UserRef
    title: str
    title_label: str
    duties: str
    since: date
    until: date | None
    current: bool
    created_by: UserRef
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_title_label(obj) -> str:
        return str(obj.get_title_display())

    @staticmethod
    def resolve_current(obj) -> bool:
        return obj.since <= timezone.localdate() and (obj.until is None or obj.until >= timezone.localdate())


class SponsorFilters(Schema):
    account: int | None = Field(None, description="An account id")
    sponsor: str | None = Field(None, description='"me" (accounts I sponsor) or a user id')
    current: bool | None = Field(None, description="true: running today; false: ended or not started")


class PlanIn(Schema):
    account_id: int = Field(..., description="An account you may change")
    kind: str = Field("executive_visit", description="executive_visit or meeting (top-level meeting)")
    every_months: int = Field(..., description="Every N months (at least 1)")
    sponsor_id: int = Field(..., description="A sponsorship (id from /sponsors) of the same account")
    starts_on: date | None = Field(None, description="First due on this day if none has happened (default today)")
    notes: str = Field("", max_length=2000)


class PlanPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    kind: str | None = None
    every_months: int | None = None
    sponsor_id: int | None = None
    starts_on: date | None = None
    notes: str | None = Field(None, max_length=2000)
    is_active: bool | None = None


class PlanOut(Schema):
    id: int
    account: AccountRef
    kind: str
    every_months: int
    sponsor_id: int
    sponsor: UserRef = Field(description="The responsible executive")
    starts_on: date
    notes: str
    is_active: bool
    last_done: date | None = Field(description="Local day of the last activity of this kind the sponsor took part in")
    next_due: date
    days_overdue: int
    version: int


class PlanFilters(Schema):
    account: int | None = None


class EventIn(Schema):
    name: str = Field(..., max_length=200)
    kind: str = Field("forum", description="forum, top_meeting or other")
    starts_at: datetime = Field(..., description="Without a zone it is local time (Asia/Shanghai)")
    ends_at: datetime
    place: str = Field("", max_length=200)
    description: str = Field("", max_length=5000)
    owner_id: int | None = Field(None, description="The organiser (default: you)")


class EventPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    name: str | None = Field(None, max_length=200)
    kind: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)
    owner_id: int | None = None


class EventOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str
    starts_at: datetime
    ends_at: datetime
    place: str
    description: str
    owner: UserRef
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())


class EventFilters(Schema):
    kind: str | None = None
    upcoming: bool | None = Field(None, description="true: not ended yet; false: ended")


class InviteIn(Schema):
    account_ids: list[int] = Field(..., description="Accounts you may change")
    contact_ids: list[int] | None = Field(None, description="Some of their contacts; default: all not invited yet")


class InvitationOut(Schema):
    id: int
    event_id: int
    account: AccountRef
    contact: ContactRef
    status: str
    responded_at: datetime | None
    attended: bool | None
    notes: str
    message_id: int | None
    batch_id: int | None
    follow_up_task_id: int | None
    version: int


class InvitationFilters(Schema):
    account: int | None = None
    status: str | None = Field(None, description="invited, accepted, declined, attended or no_show")


class SendInvitationsIn(Schema):
    channel: str = Field(..., description="aliyun_sms, tencent_sms, email or log")
    template_id: int | None = None
    text: str = Field("", max_length=5000)
    subject: str = Field("", max_length=200)
    account_ids: list[int] | None = Field(None, description="Only these accounts' invitations (default: all yours)")
    at: datetime | None = Field(None, description="Send at this time (default: now)")


class BatchOut(Schema):
    batch_id: int
    total: int
    queued: int
    skipped: int


class RsvpIn(Schema):
    contact_id: int
    status: str = Field(..., description="accepted or declined")
    notes: str | None = Field(None, max_length=2000)
    version: int | None = Field(None, description="The invitation's version you read (optional); stale → 409")


class AttendanceIn(Schema):
    contact_id: int
    attended: bool
    notes: str | None = Field(None, max_length=2000)
    version: int | None = None


class FollowUpsOut(Schema):
    created: int
    task_ids: list[int]


class CampaignIn(Schema):
    name: str = Field(..., max_length=200)
    kind: str = Field("trial", description="trial (new-product trial) or joint_promotion")
    product: str = Field("", max_length=200)
    starts_on: date
    ends_on: date
    goal: str = Field("", max_length=2000)
    result_summary: str = Field("", max_length=5000)
    owner_id: int | None = Field(None, description="Default: you")


class CampaignPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    name: str | None = Field(None, max_length=200)
    kind: str | None = None
    product: str | None = Field(None, max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None
    goal: str | None = Field(None, max_length=2000)
    result_summary: str | None = Field(None, max_length=5000)
    owner_id: int | None = None


class CampaignOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str
    product: str
    starts_on: date
    ends_on: date
    goal: str
    result_summary: str
    owner: UserRef
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())


class CampaignFilters(Schema):
    kind: str | None = None
    account: int | None = Field(None, description="Campaigns this account takes part in")


class ParticipantIn(Schema):
    account_id: int = Field(..., description="An account you may change")
    status: str = Field("planned", description="planned, running, completed or withdrawn")
    result: str = Field("", max_length=2000)
    feedback: str = Field("", max_length=2000)


class ParticipantPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    status: str | None = None
    result: str | None = Field(None, max_length=2000)
    feedback: str | None = Field(None, max_length=2000)


class ParticipantOut(Schema):
    id: int
    campaign_id: int
    account: AccountRef
    status: str
    result: str
    feedback: str
    version: int

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
    notes: str = Field("", max_length=5000)
    due_at: datetime = Field(..., description="Without a zone it is local time (Asia/Shanghai)")
    account_id: int | None = Field(None, description="An account you can see")
    contact_id: int | None = Field(None, description="A contact of that account")
    assignee_id: int | None = Field(None, description="Defaults to you; must be able to see the account")


class TaskPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    title: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=5000)
    due_at: datetime | None = None
    account_id: int | None = None
    contact_id: int | None = None
    assignee_id: int | None = None


class TaskActionIn(Schema):
    version: int | None = Field(None, description="The version you read (optional); a stale one gets 409")


class TaskOut(Schema):
    id: int
    title: str
    notes: str
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

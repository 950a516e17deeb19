"""Reads on activities and tasks; each starts from the caller's data scope (core.scopes)."""

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.accounts.models import Account, AccountUpdate, Contact
from kam.core import scopes
from kam.engagement.models import (
    Activity,
    CadenceRule,
    Campaign,
    CampaignParticipant,
    Event,
    ExecutivePlan,
    ExecutiveSponsor,
    Invitation,
    Reminder,
    ReminderKind,
    Task,
    TaskStatus,
)
from kam.org.models import Role

ACTIVITY_FILTERS = ("account", "kind", "date_from", "date_to", "participant", "q")
TIMELINE_LIMIT = settings.PAGE_SIZE


def _day_start(day: date) -> datetime:
    """The start of a local calendar day (Asia/Shanghai by default), as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _as_date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _with_links(activities: QuerySet[Activity]) -> QuerySet[Activity]:
    return activities.select_related("account", "created_by").prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.order_by("name_sort", "id")), "participants"
    )


def activity_list(user, *, filters: dict | None = None, include_archived: bool = False) -> QuerySet[Activity]:
    """Visible activities, newest first; filters: account, kind, date_from / date_to (local days,
    inclusive), participant (a user id), q (text in subject, notes, outcome or next step)."""
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    activities = scopes.visible_activities(user, include_archived=include_archived)
    if "account" in filters:
        activities = activities.filter(account_id=filters["account"])
    if "kind" in filters:
        activities = activities.filter(kind=filters["kind"])
    if day := _as_date(filters.get("date_from")):
        activities = activities.filter(happened_at__gte=_day_start(day))
    if day := _as_date(filters.get("date_to")):
        activities = activities.filter(happened_at__lt=_day_start(day + timedelta(days=1)))
    if "participant" in filters:
        activities = activities.filter(participants=filters["participant"])
    if "q" in filters:
        q = str(filters["q"]).strip()
        activities = activities.filter(
            Q(subject__icontains=q) | Q(notes__icontains=q) | Q(outcome__icontains=q) | Q(next_step__icontains=q)
        )
    return _with_links(activities).order_by("-happened_at", "-id")


def activity_detail(user, pk) -> Activity:
    """An activity for reading (archived ones too), with its contacts, participants and tasks."""
    activity = scopes.get_activity_for_user(user, pk, include_archived=True)
    return _with_links(Activity.objects.filter(pk=activity.pk)).prefetch_related("tasks__assignee").get()


# ---------------------------------------------------------------------------------------------
# the account timeline


@dataclass
class TimelineEntry:
    """One line of an account's timeline: an activity, or a piece of dynamic information (ARC-7)."""

    kind: str  # "activity" or "update"
    at: datetime  # an update, dated by day, stands at the start of its day
    item: Activity | AccountUpdate

    @property
    def key(self) -> str:
        return _cursor(self.at, self.kind, self.item.pk)


@dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    next_before: str | None  # pass as `before` for the next (older) page; None at the end


# Entries are ordered newest first by (time, rank, id): at the same instant an activity comes
# before a day's update (an update stands at the very start of its day).
_RANK = {"activity": 1, "update": 0}
_KIND_CODE = {"activity": "a", "update": "u"}
_CODE_KIND = {v: k for k, v in _KIND_CODE.items()}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _cursor(at: datetime, kind: str, pk: int) -> str:
    micros = (at - _EPOCH) // _MICROSECOND  # exact, unlike a float timestamp
    return f"{micros}.{_KIND_CODE[kind]}.{pk}"


def parse_cursor(value: str) -> tuple[datetime, str, int]:
    """(time, kind, id) from a `before` cursor; a malformed one is a ValidationError naming `before`."""
    try:
        micros, code, pk = str(value).split(".")
        at = _EPOCH + int(micros) * _MICROSECOND
        return at, _CODE_KIND[code], int(pk)
    except (ValueError, KeyError, OverflowError, OSError) as e:
        raise ValidationError({"before": _("This is not a position in the timeline.")}) from e


def _older_activities(activities, at: datetime, kind: str, pk: int):
    if kind == "activity":
        return activities.filter(Q(happened_at__lt=at) | Q(happened_at=at, pk__lt=pk))
    return activities.filter(happened_at__lt=at)


def _older_updates(updates, at: datetime, kind: str, pk: int):
    """Updates whose key (start of their local day, rank 0, id) is below the cursor's."""
    day = timezone.localdate(at)
    start = _day_start(day)
    if at > start:
        return updates.filter(happened_on__lte=day)
    # The cursor is exactly the start of `day`: that day's updates are older only by rank / id.
    same_day = Q(happened_on=day) if kind == "activity" else Q(happened_on=day, pk__lt=pk)
    return updates.filter(Q(happened_on__lt=day) | same_day)


def account_timeline(user, account: Account, *, before: str | None = None, limit: int = TIMELINE_LIMIT) -> TimelinePage:
    """The account's activities and dated dynamic information, newest first, `limit` at a time.

    Paged by position (keyset), not by offset: `before` is the `next_before` of the previous page, so
    a page costs two indexed lookups however far back it is, and new entries do not shift the pages.
    """
    if not scopes.visible_accounts(user, include_archived=True).filter(pk=account.pk).exists():
        raise Http404
    activities = Activity.objects.filter(account=account, is_archived=False)
    updates = AccountUpdate.objects.filter(account=account)
    if before:
        at, kind, pk = parse_cursor(before)
        activities = _older_activities(activities, at, kind, pk)
        updates = _older_updates(updates, at, kind, pk)
    found = [
        TimelineEntry("activity", a.happened_at, a)
        for a in _with_links(activities).order_by("-happened_at", "-id")[: limit + 1]
    ]
    found += [
        TimelineEntry("update", _day_start(u.happened_on), u)
        for u in updates.select_related("author").order_by("-happened_on", "-id")[: limit + 1]
    ]
    found.sort(key=lambda e: (e.at, _RANK[e.kind], e.item.pk), reverse=True)
    entries = found[:limit]
    more = len(found) > limit
    return TimelinePage(entries=entries, next_before=entries[-1].key if more and entries else None)


# ---------------------------------------------------------------------------------------------
# tasks


TASK_STATUSES = set(TaskStatus.values)


def task_list(
    user,
    *,
    assignee="me",
    status: str | None = None,
    account: int | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
) -> QuerySet[Task]:
    """Visible tasks, soonest due first. `assignee` is "me" (default), "any", or a user id."""
    tasks = scopes.visible_tasks(user)
    if assignee in (None, "", "me"):
        tasks = tasks.filter(assignee=user)
    elif assignee != "any":
        try:
            tasks = tasks.filter(assignee_id=int(assignee))
        except (TypeError, ValueError) as e:
            raise ValidationError({"assignee": _('Give a user id, "me" or "any".')}) from e
    if status:
        if status not in TASK_STATUSES:
            raise ValidationError({"status": _("Choose one of: %(c)s.") % {"c": ", ".join(TaskStatus.values)}})
        tasks = tasks.filter(status=status)
    if account:
        tasks = tasks.filter(account_id=account)
    if due_before:
        tasks = tasks.filter(due_at__lt=_aware(due_before))
    if due_after:
        tasks = tasks.filter(due_at__gte=_aware(due_after))
    return tasks.select_related("account", "contact", "assignee", "created_by").order_by("due_at", "id")


def _aware(value: datetime) -> datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def my_tasks(user, today: date) -> QuerySet[Task]:
    """The user's open tasks due today (a local day) or earlier, i.e. overdue; soonest first (ENG-3)."""
    return (
        scopes.visible_tasks(user)
        .filter(assignee=user, status=TaskStatus.OPEN, due_at__lt=_day_start(today + timedelta(days=1)))
        .select_related("account", "contact", "assignee")
        .order_by("due_at", "id")
    )


def mark_editable(user, tasks) -> list[Task]:
    """Set `editable` on each task (one query for the lot), so a list offers only the buttons that work."""
    tasks = list(tasks)
    editable = set(scopes.editable_tasks(user).filter(pk__in=[t.pk for t in tasks]).values_list("pk", flat=True))
    for task in tasks:
        task.editable = task.pk in editable
    return tasks


# ---------------------------------------------------------------------------------------------
# the inbox (ENG-3) and contact cadence (ENG-2)


REMINDER_KINDS = set(ReminderKind.values)


def inbox(
    user, *, unread: bool | None = None, kind: str | None = None, today: date | None = None
) -> QuerySet[Reminder]:
    """The user's own reminders due today or earlier and not dismissed: unread first, newest due first.

    `unread=True` keeps the unread ones, `unread=False` the read ones; `kind` one kind (ReminderKind)."""
    today = today or timezone.localdate()
    reminders = scopes.visible_reminders(user).filter(
        dismissed_at__isnull=True, due_at__lt=_day_start(today + timedelta(days=1))
    )
    if kind:
        if kind not in REMINDER_KINDS:
            raise ValidationError({"kind": _("Choose one of: %(c)s.") % {"c": ", ".join(ReminderKind.values)}})
        reminders = reminders.filter(kind=kind)
    if unread is True:
        reminders = reminders.filter(read_at__isnull=True)
    elif unread is False:
        reminders = reminders.filter(read_at__isnull=False)
    unread_first = Case(When(read_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField())
    return reminders.select_related("account", "contact", "task").order_by(unread_first, "-due_at", "-id")


def working_days_after(last: date, today: date) -> int:
    """Working days after `last` up to and including `today`: statutory holidays and weekends are off,
    make-up working days (调休) are on, as chinese_calendar knows them. For years it does not know yet,
    Monday to Friday count."""
    if today <= last:
        return 0
    first = last + timedelta(days=1)
    try:
        return len(chinese_calendar.get_workdays(first, today))
    except NotImplementedError:
        return sum(1 for n in range((today - first).days + 1) if (first + timedelta(days=n)).weekday() < 5)


@dataclass
class CadenceBreach:
    """An account contacted less often than its cadence rule asks (ENG-2): its lifecycle's, or its tier's."""

    account: Account
    rule: CadenceRule
    last_contact: date  # local day of the last activity; of the account's creation if there was none
    days_since: int  # days since then up to today (working days if the rule skips holidays)
    never_contacted: bool


def cadence_breaches_in(accounts: QuerySet[Account], today: date) -> list[CadenceBreach]:
    """The accounts of `accounts` out of cadence on `today`, most overdue first.

    One aggregate query: the last activity per account, filtered in the database by calendar days
    (working days are never more than calendar days); working days are then counted in memory for
    the rules that skip holidays."""
    rules = {(rule.lifecycle, rule.tier): rule for rule in CadenceRule.objects.all()}
    if not rules:
        return []
    overdue = Q()
    for (lifecycle, tier), rule in rules.items():
        cut = Q(lifecycle=lifecycle, last_contact_at__lt=_day_start(today - timedelta(days=rule.max_days)))
        if tier:
            overdue |= cut & Q(value_tier=tier)
        else:  # the lifecycle's rule, for the tiers without one of their own
            overdue |= cut & ~Q(value_tier__in=[t for (lc, t) in rules if lc == lifecycle and t])
    rows = (
        accounts.filter(is_archived=False, lifecycle__in={lifecycle for lifecycle, _t in rules})
        # A correlated lookup of each account's newest activity (the timeline index), not a GROUP BY
        # over all the activities: SQLite sorted 2 million rows for that (10.6 s → 2.9 s).
        .annotate(
            last_activity_at=Subquery(
                Activity.objects.filter(account=OuterRef("pk"), is_archived=False)
                .order_by("-happened_at", "-id")
                .values("happened_at")[:1]
            )
        )
        .annotate(last_contact_at=Coalesce("last_activity_at", "created_at"))
        .filter(overdue)
        .select_related("owner", "department")
        .order_by("last_contact_at", "id")
    )
    breaches = []
    for account in rows:
        rule = rules.get((account.lifecycle, account.value_tier)) or rules[(account.lifecycle, "")]
        last = timezone.localdate(account.last_contact_at)
        days = working_days_after(last, today) if rule.skip_holidays else (today - last).days
        if days > rule.max_days:
            breaches.append(CadenceBreach(account, rule, last, days, account.last_activity_at is None))
    return breaches


def cadence_breaches(user, today: date | None = None) -> list[CadenceBreach]:
    """Accounts out of cadence for the user: a KA manager's own accounts; for a head (and others who
    oversee) those of their data scope, e.g. the department and below."""
    accounts = scopes.visible_accounts(user)
    if user.role == Role.KA_MANAGER:
        accounts = accounts.filter(owner=user)
    return cadence_breaches_in(accounts, today or timezone.localdate())


# ---------------------------------------------------------------------------------------------
# executive sponsors and plans (ENG-5, ENG-6), events (ENG-6), campaigns (ENG-7)


def is_current(sponsorship: ExecutiveSponsor, today: date) -> bool:
    """A sponsorship counts from `since` to `until` (inclusive; open-ended without `until`)."""
    return sponsorship.since <= today and (sponsorship.until is None or sponsorship.until >= today)


def sponsor_list(user, *, account=None, sponsor=None, current: bool | None = None,
                 today: date | None = None) -> QuerySet[ExecutiveSponsor]:  # fmt: skip
    """Sponsorships of accounts the user may see. `sponsor` is "me" or a user id ("accounts I sponsor");
    `current=True` keeps those running today, `False` those ended or not started."""
    rows = scopes.visible_sponsors(user)
    if account:
        rows = rows.filter(account_id=account)
    if sponsor == "me":
        rows = rows.filter(sponsor=user)
    elif sponsor not in (None, ""):
        try:
            rows = rows.filter(sponsor_id=int(sponsor))
        except (TypeError, ValueError) as e:
            raise ValidationError({"sponsor": _('Give a user id or "me".')}) from e
    today = today or timezone.localdate()
    running = Q(since__lte=today) & (Q(until__isnull=True) | Q(until__gte=today))
    if current is True:
        rows = rows.filter(running)
    elif current is False:
        rows = rows.exclude(running)
    return rows.select_related("account", "account__owner", "sponsor", "created_by").order_by(
        "account__name_sort", "since", "id"
    )


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the 31st in a shorter month falls on its last day (Jan 31 + 1 → Feb 28)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


@dataclass
class PlanStatus:
    """Where a plan stands on a day (ENG-6): the last time it was done, when it is due, how late it is."""

    plan: ExecutivePlan
    last_done: date | None  # local day of the last activity of the plan's kind the sponsor took part in
    next_due: date
    days_overdue: int  # 0 when not overdue

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


def plan_statuses_in(plans: QuerySet[ExecutivePlan], today: date) -> list[PlanStatus]:
    """The status of each plan, most overdue first. The last time counts an activity of the plan's kind at
    the plan's account (not archived) with the responsible sponsor among our participants: one correlated
    lookup per plan in a single query."""
    last = (
        Activity.objects.filter(
            account=OuterRef("account"),
            kind=OuterRef("kind"),
            is_archived=False,
            participants=OuterRef("sponsor__sponsor"),
        )  # fmt: skip
        .order_by("-happened_at", "-id")
        .values("happened_at")[:1]
    )
    rows = plans.annotate(last_done_at=Subquery(last)).select_related(
        "account", "account__owner", "sponsor", "sponsor__sponsor"
    )
    statuses = []
    for plan in rows:
        done = timezone.localdate(plan.last_done_at) if plan.last_done_at else None
        due = add_months(done, plan.every_months) if done else plan.starts_on
        statuses.append(PlanStatus(plan, done, due, max(0, (today - due).days)))
    statuses.sort(key=lambda s: (-s.days_overdue, s.next_due, s.plan.pk))
    return statuses


def plan_list(user, *, account=None, overdue: bool | None = None, today: date | None = None) -> list[PlanStatus]:
    """Active plans of accounts the user may see, with their status; `overdue=True` keeps the late ones."""
    plans = scopes.visible_plans(user).filter(is_active=True)
    if account:
        plans = plans.filter(account_id=account)
    statuses = plan_statuses_in(plans, today or timezone.localdate())
    if overdue is True:
        statuses = [s for s in statuses if s.overdue]
    elif overdue is False:
        statuses = [s for s in statuses if not s.overdue]
    return statuses


def plan_status(plan: ExecutivePlan, today: date | None = None) -> PlanStatus:
    [status] = plan_statuses_in(ExecutivePlan.objects.filter(pk=plan.pk), today or timezone.localdate())
    return status


def event_list(user, *, kind: str | None = None, upcoming: bool | None = None) -> QuerySet[Event]:
    """Events, newest first; `upcoming=True` keeps those not yet ended."""
    events = scopes.visible_events(user)
    if kind:
        events = events.filter(kind=kind)
    if upcoming is True:
        events = events.filter(ends_at__gte=timezone.now())
    elif upcoming is False:
        events = events.filter(ends_at__lt=timezone.now())
    return events.select_related("owner").order_by("-starts_at", "-id")


def invitation_list(user, event: Event, *, account=None, status: str | None = None) -> QuerySet[Invitation]:
    """The event's invitations of contacts at accounts the user may see."""
    rows = scopes.visible_invitations(user).filter(event=event)
    if account:
        rows = rows.filter(account_id=account)
    if status:
        rows = rows.filter(status=status)
    return rows.select_related("account", "contact", "message", "follow_up_task").order_by(
        "account__name_sort", "contact__name_sort", "id"
    )


def campaign_list(user, *, kind: str | None = None, account=None) -> QuerySet[Campaign]:
    """Campaigns, newest first; `account` keeps those the (visible) account takes part in."""
    campaigns = scopes.visible_campaigns(user)
    if kind:
        campaigns = campaigns.filter(kind=kind)
    if account:
        taking_part = scopes.visible_campaign_participants(user).filter(account_id=account).values("campaign_id")
        campaigns = campaigns.filter(pk__in=taking_part)
    return campaigns.select_related("owner").order_by("-starts_on", "-id")


def participant_list(user, campaign: Campaign) -> QuerySet[CampaignParticipant]:
    """The campaign's participating accounts the user may see."""
    rows = scopes.visible_campaign_participants(user).filter(campaign=campaign)
    return rows.select_related("account", "account__owner").order_by("account__name_sort", "id")


def account_campaigns(user, account: Account) -> QuerySet[CampaignParticipant]:
    """The account's campaign participations (the account page), newest campaign first."""
    rows = scopes.visible_campaign_participants(user).filter(account=account)
    return rows.select_related("campaign").order_by("-campaign__starts_on", "-id")

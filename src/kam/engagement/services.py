"""Writes on activities and tasks (ENG-1, ENG-3). Every page and API call goes through these.

The caller has already fetched the account, activity or task through core.scopes (reading or
writing, as the operation needs); these functions validate, write in a transaction and audit.
"""

import calendar
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, MaxLengthValidator
from django.db import models, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from lunar_python import LunarMonth, Solar

from kam.accounts.models import Account, AccountContact, Contact
from kam.core import audit, scopes
from kam.core.edits import edit, lock, record_created, refuse_unknown, set_archived
from kam.core.jobs import run_once
from kam.core.models import AuditAction
from kam.engagement import selectors
from kam.engagement.models import (
    Activity,
    Campaign,
    CampaignParticipant,
    Event,
    ExecutivePlan,
    ExecutiveSponsor,
    Invitation,
    InvitationStatus,
    NotificationSettings,
    NotifyChannel,
    Reminder,
    ReminderKind,
    ReviewEvery,
    Task,
    TaskKind,
    TaskStatus,
)
from kam.messaging import services as messaging_services
from kam.messaging.models import Message
from kam.org.models import Role
from kam.org.selectors import nearest_heads

User = get_user_model()

# How far in the future a "just happened" time may be: phones' clocks drift, and a visit is logged
# while it ends. A setting (KAM["ACTIVITY_CLOCK_SKEW_MINUTES"]), not a literal.
CLOCK_SKEW = timedelta(minutes=settings.KAM["ACTIVITY_CLOCK_SKEW_MINUTES"])

ACTIVITY_FIELDS = ["kind", "happened_at", "subject", "notes", "outcome", "next_step", "next_step_due"]
ACTIVITY_LINKS = ["contacts", "participants"]
TASK_FIELDS = ["title", "kind", "notes", "documents", "account", "contact", "assignee", "due_at", "remind_at"]
MAX_DOCUMENTS = 30


# ---------------------------------------------------------------------------------------------
# helpers


def _aware(value):
    """An aware datetime: a time given without a zone is the user's local time (Asia/Shanghai by default)."""
    if isinstance(value, datetime) and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _ids(values) -> list[int]:
    ids = []
    for value in values or []:
        ids.append(value.pk if hasattr(value, "pk") else int(value))
    return sorted(set(ids))


def _day_start(day: date) -> datetime:
    """The start of a local calendar day (Asia/Shanghai by default), as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _full_clean(instance, exclude=()) -> dict:
    """full_clean's errors by field, plus the lengths of long texts (which Django checks only in forms)."""
    errors = {}
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as e:
        errors.update(e.message_dict)
    for field in instance._meta.fields:
        if isinstance(field, models.TextField) and field.max_length and field.name not in errors:
            try:
                MaxLengthValidator(field.max_length)(getattr(instance, field.attname) or "")
            except ValidationError as e:
                errors[field.name] = e.messages
    return errors


# ---------------------------------------------------------------------------------------------
# activities (ENG-1)


def _activity_snapshot(activity: Activity, links: dict | None = None) -> dict:
    values = audit.snapshot(activity, ["account", *ACTIVITY_FIELDS])
    if links is None:
        links = {
            "contacts": _ids(activity.contacts.all()) if activity.pk else [],
            "participants": _ids(activity.participants.all()) if activity.pk else [],
        }
    values.update({name: list(ids) for name, ids in links.items()})
    return values


def _clean_contacts(account: Account, ids: list[int], errors: dict) -> list[int]:
    """The contacts met must hold a position at the activity's account (and not be archived)."""
    if not ids:
        return []
    found = set(
        Contact.objects.filter(pk__in=ids, is_archived=False, positions__account=account).values_list("pk", flat=True)
    )
    if found != set(ids):
        errors["contacts"] = [_("Pick contacts of this account.")]
    return sorted(found)


def _clean_participants(ids: list[int], errors: dict) -> list[int]:
    if not ids:
        return []
    found = set(User.objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True))
    if found != set(ids):
        errors["participants"] = [_("Pick active colleagues.")]
    return sorted(found)


def _apply_activity_fields(activity: Activity, fields: dict, errors: dict) -> None:
    data = dict(fields)
    for name in ("subject", "next_step"):
        if isinstance(data.get(name), str):
            data[name] = data[name].strip()
    for name, value in data.items():
        setattr(activity, name, "" if value is None and name not in ("happened_at", "next_step_due") else value)
    _merge_dict(errors, _full_clean(activity, exclude=["account", "created_by", *errors]))
    for name in ("happened_at", "next_step_due"):
        if name not in errors:  # full_clean has parsed a text into a datetime
            setattr(activity, name, _aware(getattr(activity, name)))
    happened_at = activity.happened_at if "happened_at" not in errors else None
    due = activity.next_step_due if "next_step_due" not in errors else None
    if happened_at and happened_at > timezone.now() + CLOCK_SKEW:
        errors["happened_at"] = [_("An activity is recorded after it happened: this time is in the future.")]
    if activity.next_step and not activity.next_step_due:
        errors.setdefault("next_step_due", [_("Give the next step a due date.")])
    if activity.next_step_due and not activity.next_step:
        errors.setdefault("next_step", [_("Say what the next step is.")])
    if due and happened_at and timezone.localdate(due) < timezone.localdate(happened_at):
        errors.setdefault("next_step_due", [_("The next step cannot be due before the activity happened.")])


def _merge_dict(errors: dict, found: dict) -> None:
    for key, messages in found.items():
        errors.setdefault(key, messages)


def _next_step_task(*, actor, activity: Activity) -> Task:
    """The activity's next step as a task of whoever recorded it (ENG-3: call-backs at the time set)."""
    task = Task.objects.create(
        title=activity.next_step, account=activity.account, activity=activity, assignee=actor,
        due_at=activity.next_step_due, created_by=actor,
    )  # fmt: skip
    audit.record(actor=actor, action=AuditAction.CREATE, target=task, account_id=task.account_id,
                 changes=audit.diff({}, audit.snapshot(task, TASK_FIELDS)), extra={"activity": activity.pk})  # fmt: skip
    return task


@transaction.atomic
def activity_create(*, actor, account: Account, fields: dict) -> Activity:
    """Record an activity at an account the actor may see (ENG-1).

    `fields` holds kind, happened_at (default: now), subject, notes, outcome, next_step and
    next_step_due, and contacts / participants as ids (participants default to the actor). A next
    step becomes an open task assigned to the actor, due when the next step is.
    """
    refuse_unknown(fields, [*ACTIVITY_FIELDS, *ACTIVITY_LINKS])
    fields = dict(fields)
    contact_ids = _ids(fields.pop("contacts", None))
    participant_ids = _ids(fields.pop("participants", None) if "participants" in fields else [actor])
    fields.setdefault("happened_at", timezone.now())
    if account.is_archived:
        raise ValidationError({"account": _("This account is archived.")})
    errors: dict = {}
    activity = Activity(account=account, created_by=actor)
    _apply_activity_fields(activity, fields, errors)
    contact_ids = _clean_contacts(account, contact_ids, errors)
    participant_ids = _clean_participants(participant_ids, errors)
    if errors:
        raise ValidationError(errors)
    activity.save()
    activity.contacts.set(contact_ids)
    activity.participants.set(participant_ids)
    audit.record(
        actor=actor, action=AuditAction.CREATE, target=activity, account_id=account.pk,
        changes=audit.diff({}, _activity_snapshot(activity, {"contacts": contact_ids, "participants": participant_ids})),
    )  # fmt: skip
    if activity.next_step:
        _next_step_task(actor=actor, activity=activity)
    return activity


@transaction.atomic
def activity_update(*, actor, activity: Activity, fields: dict, version=None) -> Activity:
    """Change an activity; a stale `version` raises ConflictError (HTTP 409). The account stays.

    A next step added later becomes a task as on creation; a task made earlier is its own record
    from then on (changed on the task, not through the activity).
    """
    refuse_unknown(fields, [*ACTIVITY_FIELDS, *ACTIVITY_LINKS])
    activity = lock(Activity, activity.pk, version)
    before = _activity_snapshot(activity)
    fields = dict(fields)
    links = {"contacts": before["contacts"], "participants": before["participants"]}
    errors: dict = {}
    _apply_activity_fields(activity, {k: v for k, v in fields.items() if k in ACTIVITY_FIELDS}, errors)
    if "contacts" in fields:
        links["contacts"] = _clean_contacts(activity.account, _ids(fields["contacts"]), errors)
    if "participants" in fields:
        links["participants"] = _clean_participants(_ids(fields["participants"]), errors)
    if errors:
        raise ValidationError(errors)
    changes = audit.diff(before, _activity_snapshot(activity, links))
    if not changes:
        return activity
    activity.version += 1
    activity.save()
    if "contacts" in changes:
        activity.contacts.set(links["contacts"])
    if "participants" in changes:
        activity.participants.set(links["participants"])
    audit.record(actor=actor, action=AuditAction.UPDATE, target=activity, account_id=activity.account_id,
                 changes=changes)  # fmt: skip
    if activity.next_step and not activity.tasks.exists():
        _next_step_task(actor=actor, activity=activity)
    return activity


@transaction.atomic
def activity_archive(*, actor, activity: Activity, version=None, reason: str = "") -> Activity:
    """Archive an activity (recorded by mistake, or on the wrong account): it leaves the lists and the
    timeline but is kept. Tasks made from its next step stay as they are."""
    return set_archived(Activity, activity, actor=actor, version=version, reason=reason)[0]


# ---------------------------------------------------------------------------------------------
# tasks (ENG-3, manual tasks)


def _apply_task_fields(*, actor, task: Task, fields: dict) -> None:
    """Validate and set task fields; raise ValidationError naming each bad field."""
    data = dict(fields)
    errors: dict = {}
    if isinstance(data.get("title"), str):
        data["title"] = data["title"].strip()
    if data.get("account") is not None and not isinstance(data["account"], Account):
        data["account"] = scopes.visible_accounts(actor).filter(pk=data["account"]).first()
        if data["account"] is None:
            errors["account"] = [_("Pick an account you can see.")]
    if "assignee" in data:
        assignee = data["assignee"]
        if assignee is not None and not isinstance(assignee, User):
            assignee = User.objects.filter(pk=assignee).first()
        if assignee is None or not assignee.is_active:
            errors["assignee"] = [_("Pick an active colleague.")]
        data["assignee"] = assignee
    if "documents" in data:
        documents = _clean_documents(data["documents"])
        if isinstance(documents, str):
            errors["documents"] = [documents]
        else:
            data["documents"] = documents
    if data.get("contact") is not None and not isinstance(data["contact"], Contact):
        data["contact"] = Contact.objects.filter(pk=data["contact"]).first()
        if data["contact"] is None:
            errors["contact"] = [_("Pick a contact of the task's account.")]
    for name, value in data.items():
        if name not in errors:
            setattr(task, name, "" if value is None and name in ("title", "notes") else value)
    if task.contact_id and not ({"contact", "account"} & set(errors)):
        at_account = (
            task.account_id
            and AccountContact.objects.filter(
                contact_id=task.contact_id, account_id=task.account_id, contact__is_archived=False
            ).exists()
        )
        if not at_account:
            errors["contact"] = [_("Pick a contact of the task's account.")]
    check_assignee = task.account_id and task.assignee_id and not ({"account", "assignee"} & set(errors))
    # The task names its account: its assignee must be able to see it.
    if check_assignee and not scopes.visible_accounts(task.assignee).filter(pk=task.account_id).exists():
        errors["assignee"] = [_("This colleague cannot see the task's account.")]
    exclude = ["account", "contact", "activity", "assignee", "created_by", "status", "done_at", *errors]
    _merge_dict(errors, _full_clean(task, exclude=exclude))
    if "due_at" not in errors:
        task.due_at = _aware(task.due_at)
    if task.remind_at is not None and "remind_at" not in errors:
        task.remind_at = _aware(task.remind_at)
        if "due_at" not in errors and task.remind_at > task.due_at:
            errors["remind_at"] = [_("Remind no later than the task is due.")]
    if errors:
        raise ValidationError(errors)


def _clean_documents(value) -> list[str] | str:
    """The documents to bring, one per item (a text is split into lines); or the reason it is refused."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        return _("Give the documents as a list of names.")
    documents = [item.strip() for item in value if item.strip()]
    if len(documents) > MAX_DOCUMENTS:
        return _("At most %(n)d documents.") % {"n": MAX_DOCUMENTS}
    if any(len(item) > 200 for item in documents):
        return _("A document name has at most 200 characters.")
    return documents


def _task_snapshot(task: Task) -> dict:
    return audit.snapshot(task, [*TASK_FIELDS, "status", "done_at"])


@transaction.atomic
def task_create(*, actor, fields: dict) -> Task:
    """Create an open task (ENG-3): title and due time required; assignee defaults to the actor; an
    account is one the actor may see (the caller checks), a contact one at that account."""
    refuse_unknown(fields, TASK_FIELDS)
    fields = dict(fields)
    if fields.get("assignee") is None:
        fields["assignee"] = actor
    task = Task(created_by=actor)
    _apply_task_fields(actor=actor, task=task, fields=fields)
    task.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=task, account_id=task.account_id,
                 changes=audit.diff({}, _task_snapshot(task)))  # fmt: skip
    return task


@transaction.atomic
def task_update(*, actor, task: Task, fields: dict, version=None) -> Task:
    """Change a task's title, notes, account, contact, assignee or due time; a stale version is a 409."""
    refuse_unknown(fields, TASK_FIELDS)
    task = lock(Task, task.pk, version)
    before = _task_snapshot(task)
    _apply_task_fields(actor=actor, task=task, fields=fields)
    changes = audit.diff(before, _task_snapshot(task))
    if not changes:
        return task
    task.version += 1
    task.save()
    account_id = task.account_id or before.get("account")
    audit.record(actor=actor, action=AuditAction.UPDATE, target=task, account_id=account_id, changes=changes)
    return task


def _task_set_status(*, actor, task: Task, version, status: str, allowed_from: set, message: str) -> Task:
    task = lock(Task, task.pk, version)
    if task.status == status:
        return task
    if task.status not in allowed_from:
        raise ValidationError({"status": message})
    before = _task_snapshot(task)
    task.status = status
    task.done_at = timezone.now() if status == TaskStatus.DONE else None
    task.version += 1
    task.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, target=task, account_id=task.account_id,
                 changes=audit.diff(before, _task_snapshot(task)))  # fmt: skip
    return task


@transaction.atomic
def task_complete(*, actor, task: Task, version=None) -> Task:
    """Mark an open task done (now); completing a done task changes nothing."""
    return _task_set_status(actor=actor, task=task, version=version, status=TaskStatus.DONE,
                            allowed_from={TaskStatus.OPEN},
                            message=_("A cancelled task cannot be completed; reopen it first."))  # fmt: skip


@transaction.atomic
def task_reopen(*, actor, task: Task, version=None) -> Task:
    """Open a done or cancelled task again."""
    return _task_set_status(actor=actor, task=task, version=version, status=TaskStatus.OPEN,
                            allowed_from={TaskStatus.DONE, TaskStatus.CANCELLED}, message="")  # fmt: skip


@transaction.atomic
def task_cancel(*, actor, task: Task, version=None) -> Task:
    """Cancel an open task (tasks are never deleted)."""
    return _task_set_status(actor=actor, task=task, version=version, status=TaskStatus.CANCELLED,
                            allowed_from={TaskStatus.OPEN},
                            message=_("A done task cannot be cancelled; reopen it first."))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# reminders (ENG-3) and contact cadence (ENG-2)
#
# The daily job makes each user's inbox items for a day; every reminder has a `key` naming what it is
# about, unique in the table, so running the job again (or two workers running it) never makes one
# twice. A contract signing is a task of that kind, with the documents to bring (reminded N days ahead
# and on the day); call-backs and tasks with a reminder time are reminded at their minute.


def birthday_reminder_days() -> int:
    """How many days ahead a birthday is reminded: KAM["BIRTHDAY_REMINDER_DAYS"], 3 by default."""
    return int(settings.KAM.get("BIRTHDAY_REMINDER_DAYS", 3))


def _solar_birthdays_on(day: date, prefix: str = "") -> Q:
    """Solar birthdays falling on `day`; one on 29 February is kept on the 28th in a common year."""
    days = [day.day]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        days.append(29)
    return Q(**{f"{prefix}birthday_is_lunar": False, f"{prefix}birthday__month": day.month,
                f"{prefix}birthday__day__in": days})  # fmt: skip


def _lunar_birthdays_on(day: date, prefix: str = "") -> Q | None:
    """Lunar birthdays (the stored month and day are lunar) falling on the solar `day`.

    A birthday is kept in the ordinary month of its number, so nobody's birthday falls in a leap
    month (闰月) — also for people born in one: the date field cannot say so. A birthday on the 30th
    falls on the 29th when that lunar month is short (小月) that year.
    """
    lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
    month, lunar_day = lunar.getMonth(), lunar.getDay()
    if month < 0:  # lunar_python gives a leap month as a negative number
        return None
    days = [lunar_day]
    if lunar_day == 29 and LunarMonth.fromYm(lunar.getYear(), month).getDayCount() == 29:
        days.append(30)
    return Q(**{f"{prefix}birthday_is_lunar": True, f"{prefix}birthday__month": month,
                f"{prefix}birthday__day__in": days})  # fmt: skip


def _in_language(user):
    return translation.override(user.language or settings.LANGUAGE_CODE)


def _birthday_reminders(day: date) -> list[Reminder]:
    """For the owner of each account a contact holds a position at: the contact's birthday N days ahead."""
    target = day + timedelta(days=birthday_reminder_days())
    condition = _solar_birthdays_on(target, "contact__")
    if (lunar := _lunar_birthdays_on(target, "contact__")) is not None:
        condition |= lunar
    positions = (
        AccountContact.objects.filter(
            condition, contact__is_archived=False, account__is_archived=False, account__owner__is_active=True
        )  # fmt: skip
        .select_related("contact", "account", "account__owner")
        .order_by("contact_id", "account_id")
    )
    reminders = {}
    for position in positions:
        contact, account, owner = position.contact, position.account, position.account.owner
        key = f"birthday:{contact.pk}:{target.isoformat()}:{owner.pk}"
        if key in reminders:
            continue
        with _in_language(owner):
            when = formats.date_format(target, "MONTH_DAY_FORMAT")
            title = _("Birthday of %(name)s (%(account)s) on %(date)s") % {
                "name": contact.name, "account": account.name, "date": when}  # fmt: skip
            body = _("In the lunar calendar.") if contact.birthday_is_lunar else ""
        reminders[key] = Reminder(user=owner, kind=ReminderKind.BIRTHDAY, title=title[:200], body=body,
                                  due_at=_day_start(day), account=account, contact=contact, key=key)  # fmt: skip
    return list(reminders.values())


def contract_reminder_days() -> int:
    """How many days ahead a contract signing is reminded: KAM["CONTRACT_REMINDER_DAYS"], 3 by default."""
    return int(settings.KAM.get("CONTRACT_REMINDER_DAYS", 3))


# Tasks reminded at a set time: a time was set, or a call-back (reminded at its due time).
TIMED = Q(remind_at__isnull=False) | Q(kind=TaskKind.CALL_BACK)


def _task_body(task: Task) -> str:
    """The task's notes, and for a contract signing the documents to bring (in the assignee's language)."""
    parts = [task.notes]
    if task.kind == TaskKind.CONTRACT_SIGNING and task.documents:
        with _in_language(task.assignee):
            parts.append(_("Documents to bring:") + "\n" + "\n".join(f"- {d}" for d in task.documents))
    return "\n\n".join(p for p in parts if p)[:5000]


def _task_reminder(task: Task, *, kind: str, key: str, due_at: datetime, title: str = "") -> Reminder:
    return Reminder(user=task.assignee, kind=kind, title=(title or task.title)[:200], body=_task_body(task),
                    due_at=due_at, account=task.account, contact_id=task.contact_id, task=task, key=key)  # fmt: skip


def _open_tasks():
    return Task.objects.filter(status=TaskStatus.OPEN, assignee__is_active=True).select_related("account", "assignee")


def _task_reminders(day: date) -> list[Reminder]:
    """For each open task due on `day`: a reminder to its assignee in the morning list. Call-backs and
    tasks with a reminder time are left to timed_reminders, at their own minute."""
    start, end = _day_start(day), _day_start(day + timedelta(days=1))
    tasks = _open_tasks().filter(due_at__gte=start, due_at__lt=end).exclude(TIMED)
    # The due time is in the key: a task moved to another day is reminded again then.
    return [_task_reminder(task, kind=ReminderKind.CONTRACT if task.kind == TaskKind.CONTRACT_SIGNING
                           else ReminderKind.TASK_DUE, due_at=task.due_at,
                           key=f"task:{task.pk}:{task.due_at.strftime('%Y%m%dT%H%M')}:{task.assignee_id}")
            for task in tasks]  # fmt: skip


def _contract_reminders(day: date) -> list[Reminder]:
    """Contract signings N days ahead (KAM["CONTRACT_REMINDER_DAYS"]): time to gather the documents to bring."""
    target = day + timedelta(days=contract_reminder_days())
    tasks = _open_tasks().filter(kind=TaskKind.CONTRACT_SIGNING, due_at__gte=_day_start(target),
                                 due_at__lt=_day_start(target + timedelta(days=1)))  # fmt: skip
    reminders = []
    for task in tasks:
        with _in_language(task.assignee):
            when = formats.date_format(timezone.localtime(task.due_at), "MONTH_DAY_FORMAT")
            title = _("Contract signing on %(date)s: %(title)s") % {"date": when, "title": task.title}
        key = f"contract:{task.pk}:{task.due_at.strftime('%Y%m%dT%H%M')}:{task.assignee_id}"
        reminders.append(_task_reminder(task, kind=ReminderKind.CONTRACT, key=key, due_at=_day_start(day),
                                        title=title))  # fmt: skip
    return reminders


def timed_reminders(*, now: datetime) -> int:
    """Reminders at the minute set (ENG-3 "call-backs at the time the manager set"): every open task
    whose reminder time (a call-back's due time when none is set) has come within the last day and
    was not reminded yet. Run every few minutes by the worker; each reminder once (its key)."""
    since = now - timedelta(days=1)
    tasks = (
        _open_tasks()
        .filter(TIMED)
        .filter(
            Q(remind_at__gt=since, remind_at__lte=now) | Q(remind_at__isnull=True, due_at__gt=since, due_at__lte=now)
        )
    )
    reminders = []
    for task in tasks:
        at = task.remind_at or task.due_at
        kind = ReminderKind.CONTRACT if task.kind == TaskKind.CONTRACT_SIGNING else ReminderKind.TASK_DUE
        key = f"remind:{task.pk}:{at.strftime('%Y%m%dT%H%M')}:{task.assignee_id}"
        reminders.append(_task_reminder(task, kind=kind, key=key, due_at=at))
    return _save_new(reminders)


def _cadence_reminders(day: date) -> list[Reminder]:
    """For the owner of each account out of cadence: one reminder per stretch without contact."""
    reminders = []
    for breach in selectors.cadence_breaches_in(Account.objects.filter(owner__is_active=True), day):
        account, owner = breach.account, breach.account.owner
        with _in_language(owner):
            title = _("%(account)s: no contact for %(days)d days (at most %(max)d)") % {
                "account": account.name, "days": breach.days_since, "max": breach.rule.max_days}  # fmt: skip
        key = f"cadence:{account.pk}:{breach.last_contact.isoformat()}:{owner.pk}"
        reminders.append(Reminder(user=owner, kind=ReminderKind.CADENCE, title=title[:200],
                                  due_at=_day_start(day), account=account, key=key))  # fmt: skip
    return reminders


def _save_new(reminders: list[Reminder]) -> int:
    """Insert the reminders whose key is new; the unique key makes a concurrent duplicate a no-op."""
    existing = set(Reminder.objects.filter(key__in=[r.key for r in reminders]).values_list("key", flat=True))
    new = [r for r in reminders if r.key not in existing]
    Reminder.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def reminders_for_day(*, day: date) -> int:
    """Make the day's reminders (birthdays ahead, tasks due, accounts out of cadence); the number made.

    Once per day (a kam.core.jobs.run_once claim), and each reminder once ever (its unique key)."""
    made = [0]

    def effect():
        made[0] = _save_new([*_birthday_reminders(day), *_task_reminders(day), *_contract_reminders(day),
                             *_cadence_reminders(day), *executive_plan_reminders(day)])  # fmt: skip

    run_once(f"engagement.reminders@{day.isoformat()}", effect)
    return made[0]


# Fortnightly reviews fall on the even weeks counted from this Monday: every other week, also across
# the turn of a year (ISO week numbers would give two odd weeks in a row after a 53-week year).
FORTNIGHT_EPOCH = date(2024, 1, 1)


def is_review_week(monday: date, every: str) -> bool:
    """Does a supervisor who reviews `every` week or fortnight get a review in the week of `monday`?"""
    return every != ReviewEvery.FORTNIGHT or (monday - FORTNIGHT_EPOCH).days // 7 % 2 == 0


def cadence_review_for_week(*, day: date) -> int:
    """Weekly or fortnightly (ENG-2 "supervisors check weekly"; each KA head chooses in their notification
    settings): each KA head gets one summary of the accounts out of cadence in their department and below
    (their nearest head only); the number of summaries made."""
    monday = day - timedelta(days=day.weekday())
    made = [0]

    def effect():
        heads = list(User.objects.filter(role=Role.KA_HEAD, is_active=True, department__isnull=False)
                     .select_related("department", "notification_settings"))  # fmt: skip
        by_head: dict = {}
        for breach in selectors.cadence_breaches_in(Account.objects.all(), day):
            for head in nearest_heads(breach.account.department, heads):
                by_head.setdefault(head, []).append(breach)
        reminders = []
        for head, breaches in by_head.items():
            if not is_review_week(monday, notification_settings(head).cadence_review):
                continue
            with _in_language(head):
                title = _("Week of %(monday)s: %(n)d accounts out of contact cadence") % {
                    "monday": formats.date_format(monday, "SHORT_DATE_FORMAT"), "n": len(breaches)}  # fmt: skip
                lines = [_("%(account)s — %(owner)s, %(days)d days without contact") % {
                    "account": b.account.name, "owner": b.account.owner, "days": b.days_since} for b in breaches]  # fmt: skip
            reminders.append(Reminder(user=head, kind=ReminderKind.DIGEST, title=title[:200],
                                      body="\n".join(lines)[:5000], due_at=_day_start(day),
                                      key=f"cadence-review:{monday.isoformat()}:{head.pk}"))  # fmt: skip
        made[0] = _save_new(reminders)

    run_once(f"engagement.cadence_review@{monday.isoformat()}", effect)
    return made[0]


def reminder_mark_read(*, actor, reminder: Reminder) -> Reminder:
    """Mark one of the actor's reminders read (again: no change). The caller fetched it through scopes."""
    if reminder.user_id != actor.pk:
        raise Http404
    Reminder.objects.filter(pk=reminder.pk, read_at__isnull=True).update(read_at=timezone.now())
    reminder.refresh_from_db()
    return reminder


def reminder_dismiss(*, actor, reminder: Reminder) -> Reminder:
    """Take a reminder out of the inbox (it counts as read too)."""
    if reminder.user_id != actor.pk:
        raise Http404
    now = timezone.now()
    with transaction.atomic():
        Reminder.objects.filter(pk=reminder.pk, read_at__isnull=True).update(read_at=now)
        Reminder.objects.filter(pk=reminder.pk, dismissed_at__isnull=True).update(dismissed_at=now)
    reminder.refresh_from_db()
    return reminder


# ---------------------------------------------------------------------------------------------
# reminders through the user's own channel (ENG-3 "receive them through a channel they choose")
#
# Each reminder is sent at most once: it is claimed with one committed UPDATE of `delivered_at`
# before the channel is called, so two workers never both send it; a failure is recorded in
# `delivery_error` (the reminder stays in the app inbox either way). Only reminders made within the
# last day are sent: choosing a channel does not flood it with the past.

NOTIFY_FIELDS = ["channel", "address", "secret", "daily_digest", "cadence_review"]
ROBOT_CHANNELS = {NotifyChannel.WECOM, NotifyChannel.DINGTALK, NotifyChannel.FEISHU}


def notification_settings(user) -> NotificationSettings:
    """The user's settings, or the defaults (in the app only, weekly review) when never saved."""
    try:
        return user.notification_settings
    except NotificationSettings.DoesNotExist:
        return NotificationSettings(user=user)


def robot_url_prefixes(channel: str) -> list[str]:
    """Where a robot webhook may point (KAM["NOTIFY_ROBOT_URLS"]): the provider's own hosts, so that a
    user-entered URL cannot make the server call into the internal network."""
    return list(settings.KAM["NOTIFY_ROBOT_URLS"].get(channel, []))


def _clean_notification_settings(item: NotificationSettings) -> None:
    errors: dict = {}
    item.address = (item.address or "").strip()
    item.secret = (item.secret or "").strip()
    if item.channel == NotifyChannel.EMAIL:
        try:
            EmailValidator()(item.address)
        except ValidationError:
            errors["address"] = [_("Enter a valid e-mail address.")]
    elif item.channel in ROBOT_CHANNELS:
        prefixes = robot_url_prefixes(item.channel)
        if not any(item.address.startswith(prefix) for prefix in prefixes):
            errors["address"] = [_("Enter the robot's webhook URL; it starts with %(prefixes)s.")
                                 % {"prefixes": _(" or ").join(prefixes)}]  # fmt: skip
    elif item.channel == NotifyChannel.NONE:
        item.address, item.secret = "", ""
    if item.channel == NotifyChannel.NONE and item.daily_digest:
        errors["daily_digest"] = [_("Choose a channel to receive the digest by.")]
    _merge_dict(errors, _full_clean(item, exclude=["user", *errors]))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def notification_settings_update(*, actor, fields: dict) -> NotificationSettings:
    """Save the actor's own notification settings (the secret is audited as changed, never its value)."""
    refuse_unknown(fields, NOTIFY_FIELDS)
    item = NotificationSettings.objects.select_for_update().filter(user=actor).first() or NotificationSettings(
        user=actor
    )
    before = audit.snapshot(item, ["channel", "address", "daily_digest", "cadence_review"]) if item.pk else {}
    old_secret = item.secret
    for name, value in fields.items():
        setattr(item, name, value if value is not None else ("" if name in ("channel", "address", "secret") else value))
    _clean_notification_settings(item)
    item.save()
    after = audit.snapshot(item, ["channel", "address", "daily_digest", "cadence_review"])
    changes = audit.diff(before, after)
    if item.secret != old_secret:
        changes["secret"] = ["***", "***"]
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, target=item,
                     changes=changes)  # fmt: skip
    return item


def _notify_channel(item: NotificationSettings):
    """The messaging adapter for the user's channel (kam.messaging.channels), built from their settings."""
    from kam.messaging import config
    from kam.messaging.channels.robots import DingTalkRobotChannel, FeishuRobotChannel, WeComRobotChannel

    if item.channel == NotifyChannel.EMAIL:
        return config.email()
    robot = {NotifyChannel.WECOM: WeComRobotChannel, NotifyChannel.DINGTALK: DingTalkRobotChannel,
             NotifyChannel.FEISHU: FeishuRobotChannel}[item.channel]  # fmt: skip
    if item.channel == NotifyChannel.WECOM:
        return robot(webhook_url=item.address, timeout=config.timeout())
    return robot(webhook_url=item.address, secret=item.secret, timeout=config.timeout())


def _notify(item: NotificationSettings, *, subject: str, text: str) -> str:
    """Send one notification through the user's channel; "" when sent, else the reason it was not."""
    from django.core.exceptions import ImproperlyConfigured

    from kam.messaging.channels.base import OutgoingMessage

    try:
        channel = _notify_channel(item)
    except ImproperlyConfigured as error:
        return str(error)[:500]
    recipient = item.address if item.channel == NotifyChannel.EMAIL else ""
    result = channel.send(OutgoingMessage(recipient=recipient, subject=subject, text=f"{subject}\n{text}".strip()
                                          if recipient == "" else text))  # fmt: skip
    return "" if result.ok else f"{result.provider_code}: {result.reason}"[:500]


def _reminder_text(reminders: list[Reminder]) -> str:
    lines = []
    for reminder in reminders:
        when = formats.date_format(timezone.localtime(reminder.due_at), "SHORT_DATETIME_FORMAT")
        lines.append(f"• {reminder.title} ({when})" + (f"\n  {reminder.body}" if reminder.body else ""))
    return "\n".join(lines)


def _claim(reminder_ids: list[int], now: datetime) -> list[Reminder]:
    """Claim reminders for sending with one committed UPDATE each; the ones this caller won."""
    won = []
    for pk in reminder_ids:
        with transaction.atomic():
            if Reminder.objects.filter(pk=pk, delivered_at__isnull=True).update(delivered_at=now):
                won.append(pk)
    return list(Reminder.objects.filter(pk__in=won).select_related("user").order_by("due_at", "id"))


def _undelivered(user_ids, now: datetime):
    return Reminder.objects.filter(user_id__in=user_ids, delivered_at__isnull=True, dismissed_at__isnull=True,
                                   created_at__gt=now - timedelta(days=1))  # fmt: skip


def reminders_deliver(*, now: datetime) -> int:
    """Send each new reminder of every user who chose a channel and no digest (run every few minutes)."""
    chosen = {s.user_id: s for s in NotificationSettings.objects.exclude(channel="").filter(
        daily_digest=False, user__is_active=True).select_related("user")}  # fmt: skip
    sent = 0
    for reminder in _claim(list(_undelivered(chosen, now).values_list("pk", flat=True)), now):
        item = chosen[reminder.user_id]
        with _in_language(reminder.user):
            error = _notify(item, subject=reminder.title, text=_reminder_text([reminder]))
        if error:
            Reminder.objects.filter(pk=reminder.pk).update(delivery_error=error)
        else:
            sent += 1
    return sent


def reminders_digest(*, now: datetime) -> int:
    """Each digest user's reminders of the last day in one message (run daily after the morning reminders)."""
    chosen = NotificationSettings.objects.exclude(channel="").filter(daily_digest=True, user__is_active=True)
    sent = 0
    for item in chosen.select_related("user"):
        reminders = _claim(list(_undelivered([item.user_id], now).values_list("pk", flat=True)), now)
        if not reminders:
            continue
        with _in_language(item.user):
            subject = _("KAM: %(n)d reminders for %(date)s") % {
                "n": len(reminders), "date": formats.date_format(timezone.localdate(now), "SHORT_DATE_FORMAT")}  # fmt: skip
            error = _notify(item, subject=subject, text=_reminder_text(reminders))
        if error:
            Reminder.objects.filter(pk__in=[r.pk for r in reminders]).update(delivery_error=error)
        else:
            sent += 1
    return sent


def notification_test(*, actor) -> str:
    """Send a test message through the actor's saved channel now; "" when sent, else the reason."""
    item = notification_settings(actor)
    if not item.channel:
        raise ValidationError({"channel": _("Choose a channel first.")})
    with _in_language(actor):
        return _notify(item, subject=_("KAM test notification"),
                       text=_("Your reminders will arrive here."))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# executive sponsors and plans (ENG-5, ENG-6)
#
# The caller fetched the account (or sponsorship, plan) through core.scopes with write=True: whoever may
# change the account names its sponsors and plans. Nothing here is deleted: a sponsorship ends (`until`),
# a plan is switched off (`is_active`).

SPONSOR_FIELDS = ["sponsor", "title", "duties", "since", "until"]
PLAN_FIELDS = ["kind", "every_months", "sponsor", "starts_on", "notes", "is_active"]
EVENT_FIELDS = ["name", "kind", "starts_at", "ends_at", "place", "description", "owner"]
CAMPAIGN_FIELDS = ["name", "kind", "product", "starts_on", "ends_on", "goal", "result_summary", "owner"]
PARTICIPANT_FIELDS = ["status", "result", "feedback"]


def _colleague(value, field: str, errors: dict):
    """An active user from a User or an id; an error on `field` otherwise."""
    user = value
    if user is not None and not isinstance(user, User):
        try:
            user = User.objects.filter(pk=int(user)).first()
        except (TypeError, ValueError):
            user = None
    if user is None or not user.is_active:
        errors[field] = [_("Pick an active colleague.")]
        return None
    return user


def _apply(instance, fields: dict, errors: dict, *, links=(), texts=()) -> None:
    """Set plain fields (texts stripped; None → "" for texts), then check them with full_clean."""
    for name, value in fields.items():
        if name in links or name in errors:
            continue
        if name in texts:
            value = (value or "").strip() if isinstance(value, str) or value is None else value
        setattr(instance, name, value)
    exclude = [f.name for f in instance._meta.fields if f.is_relation] + list(errors)
    _merge_dict(errors, _full_clean(instance, exclude=exclude))


def _sponsor_snapshot(sponsorship: ExecutiveSponsor) -> dict:
    return audit.snapshot(sponsorship, ["account", *SPONSOR_FIELDS])


def _apply_sponsor_fields(sponsorship: ExecutiveSponsor, fields: dict) -> None:
    errors: dict = {}
    if "sponsor" in fields:
        user = _colleague(fields["sponsor"], "sponsor", errors)
        if user is not None:
            sponsorship.sponsor = user
    _apply(sponsorship, fields, errors, links=("sponsor",), texts=("duties",))
    # The sponsor follows the account: they must be able to see it.
    check_sponsor = sponsorship.sponsor_id and "sponsor" not in errors
    if check_sponsor and not scopes.visible_accounts(sponsorship.sponsor).filter(pk=sponsorship.account_id).exists():
        errors["sponsor"] = [_("This colleague cannot see the account.")]
    since, until = sponsorship.since, sponsorship.until
    if "since" not in errors and "until" not in errors and since and until and until < since:
        errors["until"] = [_("The sponsorship cannot end before it starts.")]
    if not errors and sponsorship.sponsor_id:
        others = ExecutiveSponsor.objects.filter(account_id=sponsorship.account_id, sponsor_id=sponsorship.sponsor_id)
        others = others.exclude(pk=sponsorship.pk) if sponsorship.pk else others
        overlap = (Q(until__isnull=True) | Q(until__gte=since)) & (Q(since__lte=until) if until else Q())
        if others.filter(overlap).exists():
            errors["sponsor"] = [_("This colleague already sponsors the account in this period.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def sponsor_create(*, actor, account: Account, fields: dict) -> ExecutiveSponsor:
    """Name a president, VP or branch GM as sponsor of an account, with duties and dates (ENG-5).

    `since` defaults to today. An account may have several sponsors; one colleague sponsors one account
    once in any period."""
    refuse_unknown(fields, SPONSOR_FIELDS)
    if account.is_archived:
        raise ValidationError({"account": _("This account is archived.")})
    fields = {"since": timezone.localdate(), **fields}
    if fields.get("sponsor") is None:
        raise ValidationError({"sponsor": _("Pick an active colleague.")})
    sponsorship = ExecutiveSponsor(account=account, created_by=actor)
    _apply_sponsor_fields(sponsorship, fields)
    return record_created(sponsorship, actor=actor, snapshot=_sponsor_snapshot, account_id=account.pk)


@transaction.atomic
def sponsor_update(*, actor, sponsorship: ExecutiveSponsor, fields: dict, version=None) -> ExecutiveSponsor:
    """Change a sponsorship's sponsor, title, duties or dates (end it with `until`); stale version → 409."""
    return edit(ExecutiveSponsor, sponsorship, actor=actor, fields=fields, version=version, allowed=SPONSOR_FIELDS,
                 apply=_apply_sponsor_fields, snapshot=_sponsor_snapshot)  # fmt: skip


def _plan_snapshot(plan: ExecutivePlan) -> dict:
    return audit.snapshot(plan, ["account", *PLAN_FIELDS])


def _apply_plan_fields(plan: ExecutivePlan, fields: dict) -> None:
    errors: dict = {}
    if "sponsor" in fields:
        value = fields["sponsor"]
        sponsor_id = value.pk if isinstance(value, ExecutiveSponsor) else value
        found = None
        if str(sponsor_id).isdigit():
            found = ExecutiveSponsor.objects.filter(pk=int(sponsor_id), account_id=plan.account_id).first()
        if found is None:
            errors["sponsor"] = [_("Pick a sponsor of this account.")]
        else:
            plan.sponsor = found
    _apply(plan, fields, errors, links=("sponsor",), texts=("notes",))
    if "every_months" not in errors and plan.every_months is not None and plan.every_months < 1:
        errors["every_months"] = [_("Give at least one month.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def plan_create(*, actor, account: Account, fields: dict) -> ExecutivePlan:
    """Plan executive visits or top-level meetings at an account every N months, with the sponsor
    responsible (ENG-5, ENG-6). First due on `starts_on` (default: today) if none has happened yet."""
    refuse_unknown(fields, PLAN_FIELDS)
    if account.is_archived:
        raise ValidationError({"account": _("This account is archived.")})
    fields = {"starts_on": timezone.localdate(), **fields}
    if fields.get("sponsor") is None:
        raise ValidationError({"sponsor": _("Pick a sponsor of this account.")})
    plan = ExecutivePlan(account=account, created_by=actor)
    _apply_plan_fields(plan, fields)
    return record_created(plan, actor=actor, snapshot=_plan_snapshot, account_id=account.pk)


@transaction.atomic
def plan_update(*, actor, plan: ExecutivePlan, fields: dict, version=None) -> ExecutivePlan:
    """Change a plan (kind, every N months, sponsor, first due day, notes, active); stale version → 409."""
    return edit(ExecutivePlan, plan, actor=actor, fields=fields, version=version, allowed=PLAN_FIELDS,
                 apply=_apply_plan_fields, snapshot=_plan_snapshot)  # fmt: skip


def executive_plan_reminders(day: date) -> list[Reminder]:
    """For each active plan overdue on `day` (ENG-6): a reminder to the responsible sponsor and to the
    account's owner, once per overdue stretch (the key holds the day it fell due)."""
    plans = ExecutivePlan.objects.filter(is_active=True, account__is_archived=False)
    reminders = []
    for status in selectors.plan_statuses_in(plans, day):
        if not status.overdue:
            continue
        plan = status.plan
        for user in {plan.sponsor.sponsor, plan.account.owner}:
            if not user.is_active:
                continue
            with _in_language(user):
                title = _("%(kind)s at %(account)s overdue since %(date)s (every %(n)d months)") % {
                    "kind": plan.get_kind_display(), "account": plan.account.name,
                    "date": status.next_due.isoformat(), "n": plan.every_months}  # fmt: skip
                body = _("Responsible sponsor: %(name)s.") % {"name": plan.sponsor.sponsor}
            reminders.append(Reminder(user=user, kind=ReminderKind.CADENCE, title=title[:200], body=body,
                                      due_at=_day_start(day), account=plan.account,
                                      key=f"plan:{plan.pk}:{status.next_due.isoformat()}:{user.pk}"))  # fmt: skip
    return reminders


# ---------------------------------------------------------------------------------------------
# events: the annual key-account forum, top-level meetings (ENG-6)


def _event_snapshot(event: Event) -> dict:
    return audit.snapshot(event, EVENT_FIELDS)


def _apply_event_fields(event: Event, fields: dict) -> None:
    errors: dict = {}
    if "owner" in fields:
        owner = _colleague(fields["owner"], "owner", errors)
        if owner is not None:
            event.owner = owner
    _apply(event, fields, errors, links=("owner",), texts=("name", "place", "description"))
    for name in ("starts_at", "ends_at"):
        if name not in errors:
            setattr(event, name, _aware(getattr(event, name)))
    if not {"starts_at", "ends_at"} & set(errors) and event.ends_at < event.starts_at:
        errors["ends_at"] = [_("The event cannot end before it starts.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def event_create(*, actor, fields: dict) -> Event:
    """Create an event (the annual forum, a top-level meeting); the organiser defaults to the actor."""
    refuse_unknown(fields, EVENT_FIELDS)
    fields = dict(fields)
    if fields.get("owner") is None:
        fields["owner"] = actor
    event = Event(created_by=actor)
    _apply_event_fields(event, fields)
    return record_created(event, actor=actor, snapshot=_event_snapshot)


@transaction.atomic
def event_update(*, actor, event: Event, fields: dict, version=None) -> Event:
    """Change an event; the caller checked the actor may (scopes.get_event_for_user write=True)."""
    return edit(Event, event, actor=actor, fields=fields, version=version, allowed=EVENT_FIELDS,
                 apply=_apply_event_fields, snapshot=_event_snapshot, on_account=False)  # fmt: skip


def _invitation_snapshot(invitation: Invitation) -> dict:
    return audit.snapshot(invitation, ["event", "account", "contact", "status", "responded_at", "attended", "notes"])


@transaction.atomic
def event_invite(*, actor, event: Event, accounts: list[Account], contact_ids=None) -> list[Invitation]:
    """Invite contacts of the accounts (the caller fetched them with write=True): those named in
    `contact_ids` (each must hold a position at one of the accounts), or all the accounts' contacts not
    invited yet. A named contact invited already is refused, naming `contact_ids`."""
    if not accounts:
        raise ValidationError({"account_ids": _("Choose at least one account.")})
    if any(a.is_archived for a in accounts):
        raise ValidationError({"account_ids": _("This account is archived.")})
    positions = AccountContact.objects.filter(account__in=accounts, contact__is_archived=False).order_by(
        "account_id", "contact_id"
    )
    at_account: dict[int, int] = {}  # contact → the first of the accounts it holds a position at
    for contact_id, account_id in positions.values_list("contact_id", "account_id"):
        at_account.setdefault(contact_id, account_id)
    invited = set(Invitation.objects.filter(event=event).values_list("contact_id", flat=True))
    if contact_ids:
        wanted = _ids(contact_ids)
        if set(wanted) - set(at_account):
            raise ValidationError({"contact_ids": _("Pick contacts of the chosen accounts.")})
        if set(wanted) & invited:
            raise ValidationError({"contact_ids": _("This contact is invited already.")})
    else:
        wanted = [c for c in sorted(at_account) if c not in invited]
        if not wanted:
            raise ValidationError({"account_ids": _("Every contact of these accounts is invited already.")})
    made = Invitation.objects.bulk_create(
        [Invitation(event=event, account_id=at_account[c], contact_id=c, invited_by=actor) for c in wanted]
    )
    for invitation in made:
        audit.record(actor=actor, action=AuditAction.CREATE, target=invitation, account_id=invitation.account_id,
                     changes=audit.diff({}, _invitation_snapshot(invitation)))  # fmt: skip
    return made


@transaction.atomic
def event_send_invitations(*, actor, event: Event, channel: str, accounts: list[Account] | None = None,
                           template=None, text: str = "", subject: str = "", at=None):  # fmt: skip
    """Send the invitations not sent yet, through messaging (MSG-1: consent, quiet hours, the outbox):
    those of `accounts` (fetched with write=True), or of every account the actor may change. The bulk send
    and each message are stored on the invitations; the MessageBatch is returned."""
    rows = Invitation.objects.select_for_update().filter(event=event, message__isnull=True, batch__isnull=True,
                                                         status=InvitationStatus.INVITED)  # fmt: skip
    if accounts is not None:
        rows = rows.filter(account__in=accounts)
    else:
        rows = rows.filter(account__in=scopes.editable_accounts(actor).filter(is_archived=False))
    invitations = list(rows)
    if not invitations:
        raise ValidationError({"invitations": _("There are no invitations waiting to be sent.")})
    batch = messaging_services.message_send_bulk(actor=actor, channel=channel, template=template, text=text,
                                                 subject=subject, at=at,
                                                 contact_ids=[i.contact_id for i in invitations])  # fmt: skip
    messages = dict(Message.objects.filter(batch=batch).values_list("contact_id", "pk"))
    for invitation in invitations:
        invitation.batch = batch
        invitation.message_id = messages.get(invitation.contact_id)
        invitation.version += 1
    Invitation.objects.bulk_update(invitations, ["batch", "message", "version", "updated_at"])
    audit.record(actor=actor, action=AuditAction.UPDATE, target=event,
                 extra={"invitations_sent": len(invitations), "batch": batch.pk})  # fmt: skip
    return batch


RSVP_STATUSES = {InvitationStatus.ACCEPTED, InvitationStatus.DECLINED}


def _invitation_change(*, actor, invitation: Invitation, version, apply) -> Invitation:
    invitation = lock(Invitation, invitation.pk, version)
    before = _invitation_snapshot(invitation)
    apply(invitation)
    changes = audit.diff(before, _invitation_snapshot(invitation))
    if not changes:
        return invitation
    invitation.version += 1
    invitation.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, target=invitation, account_id=invitation.account_id,
                 changes=changes)  # fmt: skip
    return invitation


def _notes(value, errors: dict):
    if value is None:
        return None
    value = str(value).strip()
    if len(value) > 2000:
        errors["notes"] = [_("Ensure this value has at most %(n)s characters.") % {"n": 2000}]
    return value


@transaction.atomic
def invitation_respond(*, actor, invitation: Invitation, status: str, notes=None, version=None) -> Invitation:
    """Record a contact's answer (RSVP): accepted or declined, now. The caller checked the actor may
    change the invitation's account."""
    errors: dict = {}
    if status not in RSVP_STATUSES:
        errors["status"] = [_("Choose one of: %(c)s.") % {"c": ", ".join(sorted(RSVP_STATUSES))}]
    notes = _notes(notes, errors)
    if errors:
        raise ValidationError(errors)

    def apply(invitation):
        if invitation.status != status:
            invitation.status = status
            invitation.responded_at = timezone.now()
        if notes is not None:
            invitation.notes = notes

    return _invitation_change(actor=actor, invitation=invitation, version=version, apply=apply)


@transaction.atomic
def invitation_record_attendance(*, actor, invitation: Invitation, attended: bool, notes=None,
                                 version=None) -> Invitation:  # fmt: skip
    """Record whether the contact came (once the event has started): attended or no-show."""
    errors: dict = {}
    if not isinstance(attended, bool):
        errors["attended"] = [_("Enter true or false.")]
    elif invitation.event.starts_at > timezone.now():
        errors["attended"] = [_("Attendance is recorded once the event has started.")]
    notes = _notes(notes, errors)
    if errors:
        raise ValidationError(errors)

    def apply(invitation):
        invitation.attended = attended
        invitation.status = InvitationStatus.ATTENDED if attended else InvitationStatus.NO_SHOW
        if notes is not None:
            invitation.notes = notes

    return _invitation_change(actor=actor, invitation=invitation, version=version, apply=apply)


def event_follow_up_days() -> int:
    """Follow-up tasks after an event are due this many days after it ends: KAM["EVENT_FOLLOW_UP_DAYS"], 3."""
    return int(settings.KAM.get("EVENT_FOLLOW_UP_DAYS", 3))


@transaction.atomic
def event_create_follow_ups(*, actor, event: Event) -> list[Task]:
    """After the event, one open task per attendee for the owner of the attendee's account ("follow up
    after <event>"), for the attendees at accounts the actor may see. Idempotent: an attendee who has a
    follow-up task gets no second one; the new tasks are returned."""
    if event.ends_at > timezone.now():
        raise ValidationError({"event": _("Follow-ups are made after the event has ended.")})
    rows = (
        scopes.visible_invitations(actor)
        .select_for_update(of=("self",))
        .filter(event=event, attended=True, follow_up_task__isnull=True, account__owner__is_active=True)
        .select_related("account", "account__owner", "contact")
        .order_by("account_id", "contact_id", "id")
    )
    invitations = list(rows)
    due = event.ends_at + timedelta(days=event_follow_up_days())
    tasks = []
    for invitation in invitations:
        owner = invitation.account.owner
        with _in_language(owner):
            title = _("Follow up after %(event)s: %(contact)s") % {
                "event": event.name,
                "contact": invitation.contact.name,
            }
        task = Task.objects.create(title=title[:200], account=invitation.account, contact=invitation.contact,
                                   assignee=owner, due_at=due, created_by=actor)  # fmt: skip
        audit.record(actor=actor, action=AuditAction.CREATE, target=task, account_id=task.account_id,
                     changes=audit.diff({}, audit.snapshot(task, TASK_FIELDS)), extra={"event": event.pk})  # fmt: skip
        invitation.follow_up_task = task
        invitation.version += 1
        tasks.append(task)
    Invitation.objects.bulk_update(invitations, ["follow_up_task", "version", "updated_at"])
    return tasks


# ---------------------------------------------------------------------------------------------
# campaigns: new-product trials and joint promotions (ENG-7)


def _campaign_snapshot(campaign: Campaign) -> dict:
    return audit.snapshot(campaign, CAMPAIGN_FIELDS)


def _apply_campaign_fields(campaign: Campaign, fields: dict) -> None:
    errors: dict = {}
    if "owner" in fields:
        owner = _colleague(fields["owner"], "owner", errors)
        if owner is not None:
            campaign.owner = owner
    _apply(campaign, fields, errors, links=("owner",), texts=("name", "product", "goal", "result_summary"))
    if not {"starts_on", "ends_on"} & set(errors) and campaign.ends_on < campaign.starts_on:
        errors["ends_on"] = [_("The campaign cannot end before it starts.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def campaign_create(*, actor, fields: dict) -> Campaign:
    """Create a new-product trial or joint promotion (ENG-7); the owner defaults to the actor."""
    refuse_unknown(fields, CAMPAIGN_FIELDS)
    fields = dict(fields)
    if fields.get("owner") is None:
        fields["owner"] = actor
    campaign = Campaign(created_by=actor)
    _apply_campaign_fields(campaign, fields)
    return record_created(campaign, actor=actor, snapshot=_campaign_snapshot)


@transaction.atomic
def campaign_update(*, actor, campaign: Campaign, fields: dict, version=None) -> Campaign:
    """Change a campaign (its result summary at the end, too); stale version → 409."""
    return edit(Campaign, campaign, actor=actor, fields=fields, version=version, allowed=CAMPAIGN_FIELDS,
                 apply=_apply_campaign_fields, snapshot=_campaign_snapshot, on_account=False)  # fmt: skip


def _participant_snapshot(participant: CampaignParticipant) -> dict:
    return audit.snapshot(participant, ["campaign", "account", *PARTICIPANT_FIELDS])


def _apply_participant_fields(participant: CampaignParticipant, fields: dict) -> None:
    errors: dict = {}
    _apply(participant, fields, errors, texts=("result", "feedback"))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def campaign_participant_add(*, actor, campaign: Campaign, account: Account, fields: dict | None = None):
    """Add an account to a campaign (the caller fetched it with write=True); once per campaign."""
    fields = dict(fields or {})
    refuse_unknown(fields, PARTICIPANT_FIELDS)
    if account.is_archived:
        raise ValidationError({"account": _("This account is archived.")})
    if CampaignParticipant.objects.filter(campaign=campaign, account=account).exists():
        raise ValidationError({"account": _("This account takes part in the campaign already.")})
    participant = CampaignParticipant(campaign=campaign, account=account, created_by=actor)
    _apply_participant_fields(participant, fields)
    return record_created(participant, actor=actor, snapshot=_participant_snapshot, account_id=account.pk)


@transaction.atomic
def campaign_participant_update(*, actor, participant: CampaignParticipant, fields: dict, version=None):
    """Change an account's status, result or feedback in a campaign; stale version → 409."""
    return edit(CampaignParticipant, participant, actor=actor, fields=fields, version=version,
                 allowed=PARTICIPANT_FIELDS, apply=_apply_participant_fields, snapshot=_participant_snapshot)  # fmt: skip

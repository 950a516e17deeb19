"""Writes on activities and tasks (ENG-1, ENG-3). Every page and API call goes through these.

The caller has already fetched the account, activity or task through core.scopes (reading or
writing, as the operation needs); these functions validate, write in a transaction and audit.
"""

import calendar
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from lunar_python import LunarMonth, Solar

from kam.accounts.models import Account, AccountContact, Contact
from kam.core import audit, scopes
from kam.core.errors import ConflictError
from kam.core.jobs import run_once
from kam.core.models import AuditAction
from kam.engagement import selectors
from kam.engagement.models import Activity, Reminder, ReminderKind, Task, TaskStatus
from kam.org.models import Role

User = get_user_model()

# How far in the future a "just happened" time may be: phones' clocks drift, and a visit is logged
# while it ends. A setting (KAM["ACTIVITY_CLOCK_SKEW_MINUTES"]), not a literal.
CLOCK_SKEW = timedelta(minutes=settings.KAM["ACTIVITY_CLOCK_SKEW_MINUTES"])

ACTIVITY_FIELDS = ["kind", "happened_at", "subject", "notes", "outcome", "next_step", "next_step_due"]
ACTIVITY_LINKS = ["contacts", "participants"]
TASK_FIELDS = ["title", "notes", "account", "contact", "assignee", "due_at"]


# ---------------------------------------------------------------------------------------------
# helpers


def _lock(model, pk, version):
    """Lock the row; if the caller's version is stale, raise ConflictError with the current row."""
    obj = model.objects.select_for_update().get(pk=pk)
    if version is not None and int(version) != obj.version:
        raise ConflictError(obj)
    return obj


def _check_unknown(fields: dict, allowed) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})


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
    _check_unknown(fields, [*ACTIVITY_FIELDS, *ACTIVITY_LINKS])
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
    _check_unknown(fields, [*ACTIVITY_FIELDS, *ACTIVITY_LINKS])
    activity = _lock(Activity, activity.pk, version)
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
    activity = _lock(Activity, activity.pk, version)
    if activity.is_archived:
        return activity
    activity.is_archived = True
    activity.version += 1
    activity.save()
    audit.record(actor=actor, action=AuditAction.ARCHIVE, target=activity, account_id=activity.account_id,
                 changes={"is_archived": [False, True]}, extra={"reason": reason[:500]})  # fmt: skip
    return activity


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
    if errors:
        raise ValidationError(errors)


def _task_snapshot(task: Task) -> dict:
    return audit.snapshot(task, [*TASK_FIELDS, "status", "done_at"])


@transaction.atomic
def task_create(*, actor, fields: dict) -> Task:
    """Create an open task (ENG-3): title and due time required; assignee defaults to the actor; an
    account is one the actor may see (the caller checks), a contact one at that account."""
    _check_unknown(fields, TASK_FIELDS)
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
    _check_unknown(fields, TASK_FIELDS)
    task = _lock(Task, task.pk, version)
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
    task = _lock(Task, task.pk, version)
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
# twice. Contract signing dates are not reminded yet: there is no contract model.


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


def _task_reminders(day: date) -> list[Reminder]:
    """For each open task due on `day`: a reminder to its assignee, due at the time set on the task."""
    tasks = Task.objects.filter(
        status=TaskStatus.OPEN, due_at__gte=_day_start(day), due_at__lt=_day_start(day + timedelta(days=1)),
        assignee__is_active=True,
    ).select_related("account", "assignee")  # fmt: skip
    reminders = []
    for task in tasks:
        # The due time is in the key: a task moved to another day is reminded again then.
        key = f"task:{task.pk}:{task.due_at.strftime('%Y%m%dT%H%M')}:{task.assignee_id}"
        reminders.append(Reminder(user=task.assignee, kind=ReminderKind.TASK_DUE, title=task.title,
                                  body=task.notes[:2000], due_at=task.due_at, account=task.account,
                                  contact_id=task.contact_id, task=task, key=key))  # fmt: skip
    return reminders


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
        made[0] = _save_new([*_birthday_reminders(day), *_task_reminders(day), *_cadence_reminders(day)])

    run_once(f"engagement.reminders@{day.isoformat()}", effect)
    return made[0]


def _supervisors(department, heads: list) -> list:
    """The KA heads nearest above (or in) a department: those of the deepest department on its path."""
    if department is None:
        return []
    above = [h for h in heads if department.path.startswith(h.department.path)]
    if not above:
        return []
    deepest = max(len(h.department.path) for h in above)
    return [h for h in above if len(h.department.path) == deepest]


def cadence_review_for_week(*, day: date) -> int:
    """Weekly (ENG-2 "supervisors check weekly"): each KA head gets one summary of the accounts out of
    cadence in their department and below (their nearest head only); the number of summaries made."""
    monday = day - timedelta(days=day.weekday())
    made = [0]

    def effect():
        heads = list(User.objects.filter(role=Role.KA_HEAD, is_active=True, department__isnull=False)
                     .select_related("department"))  # fmt: skip
        by_head: dict = {}
        for breach in selectors.cadence_breaches_in(Account.objects.all(), day):
            for head in _supervisors(breach.account.department, heads):
                by_head.setdefault(head, []).append(breach)
        reminders = []
        for head, breaches in by_head.items():
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

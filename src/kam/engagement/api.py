"""JSON API of engagement: activities (ENG-1), tasks (ENG-3) and the account timeline."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from ninja import Query, Router, Status
from ninja.pagination import PageNumberPagination, paginate

from kam.core import scopes
from kam.core.api import CURRENT_SCHEMAS
from kam.engagement import schemas as s
from kam.engagement import selectors, services
from kam.engagement.models import Activity, Task

router = Router(tags=["engagement"])
CURRENT_SCHEMAS.update({Activity: s.ActivityOut, Task: s.TaskOut})

# The services name model fields; the API's inputs carry ids under these names.
API_NAMES = {"account": "account_id", "contact": "contact_id", "assignee": "assignee_id"}


@contextmanager
def _api_field_names():
    """Errors name the field as the caller sent it (account_id, not account)."""
    try:
        yield
    except ValidationError as e:
        if not hasattr(e, "error_dict"):
            raise
        raise ValidationError({API_NAMES.get(k, k): v for k, v in e.message_dict.items()}) from e


# ---------------------------------------------------------------------------------------------
# activities


@router.get("/activities", response=list[s.ActivityOut], operation_id="list_activities")
@paginate(PageNumberPagination)
def list_activities(request, filters: Query[s.ActivityFilters]):
    """Activities at accounts in your data scope, newest first (ENG-1). Filter by account, kind, local
    days (`date_from`, `date_to`, inclusive), participant (a colleague's id) or text (`q`)."""
    values = filters.dict()
    include_archived = values.pop("include_archived")
    return selectors.activity_list(request.auth, filters=values, include_archived=include_archived)


@router.post("/activities", response={201: s.ActivityOut}, operation_id="create_activity")
def create_activity(request, payload: s.ActivityIn):
    """Record a visit, call, message, meeting, sample delivery or executive visit right after it happened
    (ENG-1), at an account you can see. The contacts must be the account's; `happened_at` may not be in
    the future; a `next_step` with `next_step_due` becomes an open task of yours (ENG-3)."""
    data = payload.dict(exclude_unset=True)
    account = scopes.get_account_for_user(request.auth, data.pop("account_id"))
    if data.get("happened_at") is None:
        data.pop("happened_at", None)
    if data.get("participants") is None:
        data.pop("participants", None)
    with _api_field_names():
        activity = services.activity_create(actor=request.auth, account=account, fields=data)
    return Status(201, selectors.activity_detail(request.auth, activity.pk))


@router.get("/activities/{activity_id}", response=s.ActivityOut, operation_id="get_activity")
def get_activity(request, activity_id: int):
    """One activity (archived ones too, with `is_archived`)."""
    return selectors.activity_detail(request.auth, activity_id)


@router.patch("/activities/{activity_id}", response=s.ActivityOut, operation_id="update_activity")
def update_activity(request, activity_id: int, payload: s.ActivityPatch):
    """Change an activity (its account stays); send the `version` you read — a stale one gets 409 with
    the current record. Who recorded it, and whoever may change the account, may change it."""
    activity = scopes.get_activity_for_user(request.auth, activity_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    with _api_field_names():
        services.activity_update(actor=request.auth, activity=activity, fields=data, version=version)
    return selectors.activity_detail(request.auth, activity_id)


@router.post("/activities/{activity_id}/archive", response=s.ActivityOut, operation_id="archive_activity")
def archive_activity(request, activity_id: int, payload: s.ArchiveIn):
    """Archive an activity recorded by mistake: kept, but out of lists and the timeline. Its tasks stay."""
    activity = scopes.get_activity_for_user(request.auth, activity_id, write=True)
    services.activity_archive(actor=request.auth, activity=activity, version=payload.version, reason=payload.reason)
    return selectors.activity_detail(request.auth, activity_id)


@router.get("/accounts/{account_id}/timeline", response=s.TimelineOut, operation_id="list_account_timeline")
def list_account_timeline(request, account_id: int, before: str | None = None, limit: int = 25):
    """The account's activities and dynamic information (ARC-7) merged, newest first. Paged by position:
    pass the answer's `next_before` as `before` for older entries (`limit` at most 100)."""
    account = scopes.get_account_for_user(request.auth, account_id, include_archived=True)
    page = selectors.account_timeline(request.auth, account, before=before, limit=max(1, min(limit, 100)))
    entries = []
    for entry in page.entries:
        if entry.kind == "activity":
            entries.append({"type": "activity", "at": entry.at, "activity": entry.item})
        else:
            entries.append({"type": "update", "at": entry.at, "update_id": entry.item.pk,
                            "content": entry.item.content, "author": entry.item.author})  # fmt: skip
    return {"entries": entries, "next_before": page.next_before}


# ---------------------------------------------------------------------------------------------
# tasks


def _task_fields(data: dict, request) -> dict:
    """Task fields from the API's ids: an account outside the caller's scope is 404, as everywhere."""
    fields = {}
    for name in ("title", "notes", "due_at"):
        if name in data:
            fields[name] = data[name]
    if "account_id" in data:
        account_id = data["account_id"]
        fields["account"] = None if account_id is None else scopes.get_account_for_user(request.auth, account_id)
    if "contact_id" in data:
        fields["contact"] = data["contact_id"]
    if "assignee_id" in data:
        fields["assignee"] = data["assignee_id"]
    return fields


@router.get("/tasks", response=list[s.TaskOut], operation_id="list_tasks")
@paginate(PageNumberPagination)
def list_tasks(request, filters: Query[s.TaskFilters]):
    """Tasks you may see, soonest due first: by default yours (`assignee=me`); `assignee=any` for all you
    may see (yours, those you created, those at accounts you can see), or a colleague's id."""
    return selectors.task_list(request.auth, **filters.dict())


@router.post("/tasks", response={201: s.TaskOut}, operation_id="create_task")
def create_task(request, payload: s.TaskIn):
    """Create an open task (ENG-3: a call-back at the time you set), for you or a colleague who can see
    its account."""
    data = payload.dict()
    if data.get("assignee_id") is None:
        data.pop("assignee_id")
    fields = _task_fields(data, request)
    with _api_field_names():
        task = services.task_create(actor=request.auth, fields=fields)
    return Status(201, scopes.get_task_for_user(request.auth, task.pk))


@router.get("/tasks/{task_id}", response=s.TaskOut, operation_id="get_task")
def get_task(request, task_id: int):
    """One task you may see (yours, one you created, or one at an account you can see)."""
    return scopes.get_task_for_user(request.auth, task_id)


@router.patch("/tasks/{task_id}", response=s.TaskOut, operation_id="update_task")
def update_task(request, task_id: int, payload: s.TaskPatch):
    """Change title, notes, due time, account, contact or assignee; send the `version` you read (409 if
    stale). The assignee, the creator and whoever may change the account may change a task."""
    task = scopes.get_task_for_user(request.auth, task_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    fields = _task_fields(data, request)
    with _api_field_names():
        services.task_update(actor=request.auth, task=task, fields=fields, version=version)
    return scopes.get_task_for_user(request.auth, task_id)


@router.post("/tasks/{task_id}/complete", response=s.TaskOut, operation_id="complete_task")
def complete_task(request, task_id: int, payload: s.TaskActionIn):
    """Mark the task done (now)."""
    task = scopes.get_task_for_user(request.auth, task_id, write=True)
    services.task_complete(actor=request.auth, task=task, version=payload.version)
    return scopes.get_task_for_user(request.auth, task_id)


@router.post("/tasks/{task_id}/reopen", response=s.TaskOut, operation_id="reopen_task")
def reopen_task(request, task_id: int, payload: s.TaskActionIn):
    """Open a done or cancelled task again."""
    task = scopes.get_task_for_user(request.auth, task_id, write=True)
    services.task_reopen(actor=request.auth, task=task, version=payload.version)
    return scopes.get_task_for_user(request.auth, task_id)


@router.post("/tasks/{task_id}/cancel", response=s.TaskOut, operation_id="cancel_task")
def cancel_task(request, task_id: int, payload: s.TaskActionIn):
    """Cancel an open task (tasks are never deleted)."""
    task = scopes.get_task_for_user(request.auth, task_id, write=True)
    services.task_cancel(actor=request.auth, task=task, version=payload.version)
    return scopes.get_task_for_user(request.auth, task_id)


# ---------------------------------------------------------------------------------------------
# reminders (ENG-3) and contact cadence (ENG-2)


@router.get("/reminders", response=list[s.ReminderOut], operation_id="list_reminders")
@paginate(PageNumberPagination)
def list_reminders(request, filters: Query[s.ReminderFilters]):
    """Your own reminders due today or earlier and not dismissed, unread first (ENG-3): birthdays ahead,
    call-backs due, accounts out of cadence, the weekly summary for heads. Filter by `unread`, `kind`."""
    return selectors.inbox(request.auth, **filters.dict())


@router.post("/reminders/{reminder_id}/read", response=s.ReminderOut, operation_id="read_reminder")
def read_reminder(request, reminder_id: int):
    """Mark one of your reminders read (again: no change). Another user's reminder is 404."""
    reminder = scopes.get_reminder_for_user(request.auth, reminder_id)
    return services.reminder_mark_read(actor=request.auth, reminder=reminder)


@router.post("/reminders/{reminder_id}/dismiss", response=s.ReminderOut, operation_id="dismiss_reminder")
def dismiss_reminder(request, reminder_id: int):
    """Take one of your reminders out of the inbox (it counts as read)."""
    reminder = scopes.get_reminder_for_user(request.auth, reminder_id)
    return services.reminder_dismiss(actor=request.auth, reminder=reminder)


@router.get("/cadence/breaches", response=list[s.CadenceBreachOut], operation_id="list_cadence_breaches")
@paginate(PageNumberPagination)
def list_cadence_breaches(request):
    """Accounts contacted less often than their lifecycle's cadence rule (ENG-2), most overdue first: a KA
    manager's own; for a head those of the department and below (their data scope)."""
    return [
        {"account": b.account, "owner": b.account.owner, "lifecycle": b.account.lifecycle, "max_days": b.rule.max_days,
         "skip_holidays": b.rule.skip_holidays, "last_contact": b.last_contact, "days_since": b.days_since,
         "never_contacted": b.never_contacted}
        for b in selectors.cadence_breaches(request.auth)
    ]  # fmt: skip

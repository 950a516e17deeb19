"""JSON API of engagement: activities (ENG-1), tasks (ENG-3) and the account timeline."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from ninja.pagination import PageNumberPagination, paginate

from kam.core import scopes
from kam.core.api import CURRENT_SCHEMAS
from kam.engagement import schemas as s
from kam.engagement import selectors, services
from kam.engagement.models import (
    Activity,
    Campaign,
    CampaignParticipant,
    Event,
    ExecutiveSponsor,
    Invitation,
    Task,
)
from kam.messaging import selectors as messaging_selectors

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
    for name in ("title", "kind", "notes", "documents", "due_at", "remind_at"):
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


@router.get("/me/notification-settings", response=s.NotificationSettingsOut, operation_id="get_notification_settings")
def get_notification_settings(request):
    """How your reminders reach you besides the in-app inbox: a channel (e-mail, WeCom, DingTalk or Feishu
    robot), each reminder or one daily digest; for KA heads, weekly or fortnightly cadence reviews."""
    return services.notification_settings(request.auth)


@router.put("/me/notification-settings", response=s.NotificationSettingsOut, operation_id="set_notification_settings")
def set_notification_settings(request, payload: s.NotificationSettingsIn):
    """Save your notification settings. A robot's URL must be the provider's webhook address; the secret is
    write-only (omit it to keep the saved one)."""
    fields = payload.dict()
    if fields["secret"] is None:
        fields.pop("secret")
    return services.notification_settings_update(actor=request.auth, fields=fields)


@router.post("/me/notification-settings/test", response={200: dict, 502: dict}, operation_id="test_notification")
def test_notification(request):
    """Send a test message through your saved channel now: 200 when sent, 502 with the provider's reason."""
    error = services.notification_test(actor=request.auth)
    return Status(502, {"detail": error}) if error else {"detail": "sent"}


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


# ---------------------------------------------------------------------------------------------
# executive sponsors and plans (ENG-5, ENG-6), events (ENG-6), campaigns (ENG-7)

CURRENT_SCHEMAS.update({ExecutiveSponsor: s.SponsorOut, Event: s.EventOut, Invitation: s.InvitationOut,
                        Campaign: s.CampaignOut, CampaignParticipant: s.ParticipantOut})  # fmt: skip


def _renamed(data: dict, names: dict) -> dict:
    """API ids (sponsor_id, owner_id) under the services' field names (sponsor, owner)."""
    return {names.get(k, k): v for k, v in data.items()}


@contextmanager
def _named(fields: dict):
    """Errors name the API's fields (sponsor_id, not sponsor)."""
    try:
        yield
    except ValidationError as e:
        if not hasattr(e, "error_dict"):
            raise
        back = {v: k for k, v in fields.items()}
        raise ValidationError({back.get(k, k): v for k, v in e.message_dict.items()}) from e


SPONSOR_NAMES = {"sponsor_id": "sponsor"}
OWNER_NAMES = {"owner_id": "owner"}


@router.get("/sponsors", response=list[s.SponsorOut], operation_id="list_sponsors")
@paginate(PageNumberPagination)
def list_sponsors(request, filters: Query[s.SponsorFilters]):
    """Executive sponsors of the accounts you may see (ENG-5); `sponsor=me` lists the accounts you sponsor."""
    return selectors.sponsor_list(request.auth, **filters.dict())


@router.post("/sponsors", response={201: s.SponsorOut}, operation_id="create_sponsor")
def create_sponsor(request, payload: s.SponsorIn):
    """Name a president, VP or branch GM as sponsor of an account you may change, with duties and dates."""
    data = payload.dict()
    account = scopes.get_account_for_user(request.auth, data.pop("account_id"), write=True)
    if data.get("since") is None:
        data.pop("since")
    with _named(SPONSOR_NAMES):
        sponsorship = services.sponsor_create(actor=request.auth, account=account, fields=_renamed(data, SPONSOR_NAMES))
    return Status(201, scopes.get_sponsor_for_user(request.auth, sponsorship.pk))


@router.get("/sponsors/{sponsor_id}", response=s.SponsorOut, operation_id="get_sponsor")
def get_sponsor(request, sponsor_id: int):
    return scopes.get_sponsor_for_user(request.auth, sponsor_id)


@router.patch("/sponsors/{sponsor_id}", response=s.SponsorOut, operation_id="update_sponsor")
def update_sponsor(request, sponsor_id: int, payload: s.SponsorPatch):
    """Change the sponsor, title, duties or dates (end the sponsorship with `until`); stale version → 409."""
    sponsorship = scopes.get_sponsor_for_user(request.auth, sponsor_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    with _named(SPONSOR_NAMES):
        services.sponsor_update(actor=request.auth, sponsorship=sponsorship, fields=_renamed(data, SPONSOR_NAMES),
                                version=version)  # fmt: skip
    return scopes.get_sponsor_for_user(request.auth, sponsor_id)


def _plan_out(status) -> dict:
    plan = status.plan
    return {"id": plan.pk, "account": plan.account, "kind": plan.kind, "every_months": plan.every_months,
            "sponsor_id": plan.sponsor_id, "sponsor": plan.sponsor.sponsor, "starts_on": plan.starts_on,
            "notes": plan.notes, "is_active": plan.is_active, "last_done": status.last_done,
            "next_due": status.next_due, "days_overdue": status.days_overdue, "version": plan.version}  # fmt: skip


@router.get("/executive-plans", response=list[s.PlanOut], operation_id="list_executive_plans")
@paginate(PageNumberPagination)
def list_executive_plans(request, filters: Query[s.PlanFilters]):
    """Active plans for executive visits and top-level meetings (ENG-6) at accounts you may see, most
    overdue first, with the last time and the next due day."""
    return [_plan_out(status) for status in selectors.plan_list(request.auth, **filters.dict())]


@router.get("/executive-plans/overdue", response=list[s.PlanOut], operation_id="list_overdue_executive_plans")
@paginate(PageNumberPagination)
def list_overdue_executive_plans(request, filters: Query[s.PlanFilters]):
    """The plans whose next due day has passed (due today is not overdue yet), most overdue first."""
    return [_plan_out(status) for status in selectors.plan_list(request.auth, overdue=True, **filters.dict())]


@router.post("/executive-plans", response={201: s.PlanOut}, operation_id="create_executive_plan")
def create_executive_plan(request, payload: s.PlanIn):
    """Plan an executive visit or top-level meeting every N months at an account you may change."""
    data = payload.dict()
    account = scopes.get_account_for_user(request.auth, data.pop("account_id"), write=True)
    if data.get("starts_on") is None:
        data.pop("starts_on")
    with _named(SPONSOR_NAMES):
        plan = services.plan_create(actor=request.auth, account=account, fields=_renamed(data, SPONSOR_NAMES))
    return Status(201, _plan_out(selectors.plan_status(plan)))


@router.get("/executive-plans/{plan_id}", response=s.PlanOut, operation_id="get_executive_plan")
def get_executive_plan(request, plan_id: int):
    return _plan_out(selectors.plan_status(scopes.get_plan_for_user(request.auth, plan_id)))


@router.patch("/executive-plans/{plan_id}", response=s.PlanOut, operation_id="update_executive_plan")
def update_executive_plan(request, plan_id: int, payload: s.PlanPatch):
    """Change a plan; `is_active=false` switches it off. A stale version → 409."""
    plan = scopes.get_plan_for_user(request.auth, plan_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    with _named(SPONSOR_NAMES):
        services.plan_update(actor=request.auth, plan=plan, fields=_renamed(data, SPONSOR_NAMES), version=version)
    return _plan_out(selectors.plan_status(plan))


@router.get("/events", response=list[s.EventOut], operation_id="list_events")
@paginate(PageNumberPagination)
def list_events(request, filters: Query[s.EventFilters]):
    """Events (ENG-6: the annual key-account forum, top-level meetings), newest first."""
    return selectors.event_list(request.auth, **filters.dict())


@router.post("/events", response={201: s.EventOut}, operation_id="create_event")
def create_event(request, payload: s.EventIn):
    """Create an event; you are its organiser unless `owner_id` names another."""
    data = payload.dict()
    with _named(OWNER_NAMES):
        event = services.event_create(actor=request.auth, fields=_renamed(data, OWNER_NAMES))
    return Status(201, event)


@router.get("/events/{event_id}", response=s.EventOut, operation_id="get_event")
def get_event(request, event_id: int):
    return scopes.get_event_for_user(request.auth, event_id)


@router.patch("/events/{event_id}", response=s.EventOut, operation_id="update_event")
def update_event(request, event_id: int, payload: s.EventPatch):
    """Change an event: its organiser, its creator, a KA head or an admin (403 for others)."""
    event = scopes.get_event_for_user(request.auth, event_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    with _named(OWNER_NAMES):
        services.event_update(actor=request.auth, event=event, fields=_renamed(data, OWNER_NAMES), version=version)
    return scopes.get_event_for_user(request.auth, event_id)


@router.get("/events/{event_id}/invitations", response=list[s.InvitationOut], operation_id="list_event_invitations")
@paginate(PageNumberPagination)
def list_event_invitations(request, event_id: int, filters: Query[s.InvitationFilters]):
    """The event's invitations of contacts at accounts you may see."""
    event = scopes.get_event_for_user(request.auth, event_id)
    return selectors.invitation_list(request.auth, event, **filters.dict())


@router.post("/events/{event_id}/invite", response={201: list[s.InvitationOut]}, operation_id="invite_to_event")
def invite_to_event(request, event_id: int, payload: s.InviteIn):
    """Invite contacts of accounts you may change: those in `contact_ids`, or all not invited yet."""
    event = scopes.get_event_for_user(request.auth, event_id)
    accounts = [scopes.get_account_for_user(request.auth, pk, write=True) for pk in sorted(set(payload.account_ids))]
    made = services.event_invite(actor=request.auth, event=event, accounts=accounts, contact_ids=payload.contact_ids)
    return Status(
        201, list(Invitation.objects.filter(pk__in=[i.pk for i in made]).select_related("account", "contact"))
    )


@router.post("/events/{event_id}/invitations/send", response=s.BatchOut, operation_id="send_event_invitations")
def send_event_invitations(request, event_id: int, payload: s.SendInvitationsIn):
    """Send the invitations not sent yet through messaging (MSG-1), on the channel you choose, with a
    template or a text: of `account_ids` (accounts you may change), or of all accounts you may change."""
    event = scopes.get_event_for_user(request.auth, event_id)
    data = payload.dict()
    accounts = None
    if data["account_ids"] is not None:
        accounts = [
            scopes.get_account_for_user(request.auth, pk, write=True) for pk in sorted(set(data["account_ids"]))
        ]
    template = None
    if data["template_id"] is not None:
        template = messaging_selectors.get_template(data["template_id"], usable=True)
    batch = services.event_send_invitations(actor=request.auth, event=event, channel=data["channel"], accounts=accounts,
                                            template=template, text=data["text"], subject=data["subject"],
                                            at=data["at"])  # fmt: skip
    return {"batch_id": batch.pk, "total": batch.total, "queued": batch.queued, "skipped": batch.skipped}


def _invitation(request, event, contact_id: int) -> Invitation:
    invitation = scopes.get_invitation_for_contact(request.auth, event, contact_id, write=True)
    if invitation is None:
        raise ValidationError({"contact_id": _("This contact is not invited to the event.")})
    return invitation


@router.post("/events/{event_id}/rsvp", response=s.InvitationOut, operation_id="record_event_rsvp")
def record_event_rsvp(request, event_id: int, payload: s.RsvpIn):
    """Record an invited contact's answer: accepted or declined (for contacts at accounts you may change)."""
    event = scopes.get_event_for_user(request.auth, event_id)
    invitation = _invitation(request, event, payload.contact_id)
    return services.invitation_respond(actor=request.auth, invitation=invitation, status=payload.status,
                                       notes=payload.notes, version=payload.version)  # fmt: skip


@router.post("/events/{event_id}/attendance", response=s.InvitationOut, operation_id="record_event_attendance")
def record_event_attendance(request, event_id: int, payload: s.AttendanceIn):
    """Record whether an invited contact came (once the event has started): attended or no-show."""
    event = scopes.get_event_for_user(request.auth, event_id)
    invitation = _invitation(request, event, payload.contact_id)
    return services.invitation_record_attendance(actor=request.auth, invitation=invitation, attended=payload.attended,
                                                 notes=payload.notes, version=payload.version)  # fmt: skip


@router.post("/events/{event_id}/follow-ups", response=s.FollowUpsOut, operation_id="create_event_follow_ups")
def create_event_follow_ups(request, event_id: int):
    """After the event: one task per attendee for their account's owner ("follow up after …"), for the
    attendees at accounts you may see. Calling again makes none twice."""
    event = scopes.get_event_for_user(request.auth, event_id)
    tasks = services.event_create_follow_ups(actor=request.auth, event=event)
    return {"created": len(tasks), "task_ids": [t.pk for t in tasks]}


@router.get("/campaigns", response=list[s.CampaignOut], operation_id="list_campaigns")
@paginate(PageNumberPagination)
def list_campaigns(request, filters: Query[s.CampaignFilters]):
    """New-product trials and joint promotions (ENG-7), newest first; `account` keeps an account's."""
    return selectors.campaign_list(request.auth, **filters.dict())


@router.post("/campaigns", response={201: s.CampaignOut}, operation_id="create_campaign")
def create_campaign(request, payload: s.CampaignIn):
    with _named(OWNER_NAMES):
        campaign = services.campaign_create(actor=request.auth, fields=_renamed(payload.dict(), OWNER_NAMES))
    return Status(201, campaign)


@router.get("/campaigns/{campaign_id}", response=s.CampaignOut, operation_id="get_campaign")
def get_campaign(request, campaign_id: int):
    return scopes.get_campaign_for_user(request.auth, campaign_id)


@router.patch("/campaigns/{campaign_id}", response=s.CampaignOut, operation_id="update_campaign")
def update_campaign(request, campaign_id: int, payload: s.CampaignPatch):
    """Change a campaign (its owner, creator, a KA head or an admin); stale version → 409."""
    campaign = scopes.get_campaign_for_user(request.auth, campaign_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    with _named(OWNER_NAMES):
        services.campaign_update(actor=request.auth, campaign=campaign, fields=_renamed(data, OWNER_NAMES),
                                 version=version)  # fmt: skip
    return scopes.get_campaign_for_user(request.auth, campaign_id)


@router.get("/campaigns/{campaign_id}/participants", response=list[s.ParticipantOut],
            operation_id="list_campaign_participants")  # fmt: skip
@paginate(PageNumberPagination)
def list_campaign_participants(request, campaign_id: int):
    """The campaign's participating accounts you may see, with status, result and feedback."""
    campaign = scopes.get_campaign_for_user(request.auth, campaign_id)
    return selectors.participant_list(request.auth, campaign)


@router.post("/campaigns/{campaign_id}/participants", response={201: s.ParticipantOut},
             operation_id="add_campaign_participant")  # fmt: skip
def add_campaign_participant(request, campaign_id: int, payload: s.ParticipantIn):
    """Add an account you may change to the campaign (once)."""
    campaign = scopes.get_campaign_for_user(request.auth, campaign_id)
    data = payload.dict()
    account = scopes.get_account_for_user(request.auth, data.pop("account_id"), write=True)
    with _named({"account_id": "account"}):
        participant = services.campaign_participant_add(actor=request.auth, campaign=campaign, account=account,
                                                        fields=data)  # fmt: skip
    return Status(201, participant)


@router.patch("/campaigns/{campaign_id}/participants/{participant_id}", response=s.ParticipantOut,
              operation_id="update_campaign_participant")  # fmt: skip
def update_campaign_participant(request, campaign_id: int, participant_id: int, payload: s.ParticipantPatch):
    """Change an account's status, result or feedback in the campaign; stale version → 409."""
    campaign = scopes.get_campaign_for_user(request.auth, campaign_id)
    participant = scopes.get_participant_for_user(request.auth, campaign, participant_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    return services.campaign_participant_update(actor=request.auth, participant=participant, fields=data,
                                                version=version)  # fmt: skip

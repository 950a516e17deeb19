"""Pages of engagement: log a visit, activities, tasks, the account timeline. Thin: parse, fetch through
scopes, call a service, render (a partial for htmx, the whole page otherwise)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kam.accounts import search
from kam.core import scopes
from kam.core.errors import ConflictError
from kam.core.forms import add_service_errors
from kam.engagement import selectors, services
from kam.engagement.forms import (
    ActivityForm,
    CampaignForm,
    EventForm,
    InviteForm,
    NotificationSettingsForm,
    ParticipantEditForm,
    ParticipantForm,
    PlanForm,
    SponsorForm,
    TaskForm,
)
from kam.engagement.models import ActivityKind, InvitationStatus, ReminderKind, TaskStatus
from kam.messaging.models import ChannelName, MessageTemplate

ACCOUNT_CHOICES = 8  # accounts offered by the picker before the user types


def _render(request, template: str, partial: str, context: dict):
    """The same view answers htmx with the fragment it asked for, and a browser with the whole page."""
    return render(request, partial if request.htmx else template, context)


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):  # fmt: skip
        return target
    return default


# ---------------------------------------------------------------------------------------------
# the account picker and the contacts of the picked account (htmx fragments)


def _offered_accounts(user, q: str):
    """Accounts for the picker: those matching `q`, or the user's own most recently changed ones."""
    if q:
        return search.search_accounts(user, q, limit=ACCOUNT_CHOICES)
    visible = scopes.visible_accounts(user).only("id", "name", "updated_at").order_by("-updated_at")
    own = list(visible.filter(owner=user)[:ACCOUNT_CHOICES])
    return own or list(visible[:ACCOUNT_CHOICES])


@require_GET
@login_required
def account_options(request):
    """Radio buttons of accounts to pick, for the search box of the activity and task forms."""
    q = request.GET.get("account_q", "").strip()
    accounts = _offered_accounts(request.user, q)
    # The account already picked stays offered (and picked) while the user searches on.
    picked = request.GET.get("account", "")
    selected = scopes.visible_accounts(request.user).filter(pk=picked).first() if picked.isdigit() else None
    if selected is not None and all(a.pk != selected.pk for a in accounts):
        accounts = [selected, *accounts]
    context = {"accounts": accounts, "q": q, "selected": selected, "allow_none": request.GET.get("allow_none") == "1"}
    return render(request, "engagement/account_options.html", context)


@require_GET
@login_required
def contact_options(request):
    """Check boxes of the picked account's contacts (loaded when the account is picked)."""
    account = scopes.get_account_for_user(request.user, request.GET.get("account") or 0)
    form = ActivityForm(user=request.user, initial={"account": account.pk})
    return render(request, "engagement/contact_options.html", {"form": form, "account": account})


# ---------------------------------------------------------------------------------------------
# activities (ENG-1)


@login_required
def activity_list(request):
    filters = {name: request.GET.get(name, "").strip() for name in selectors.ACTIVITY_FILTERS}
    if filters["participant"] == "me":
        filters["participant"] = str(request.user.pk)
    for name in ("account", "participant"):
        if filters[name] and not filters[name].isdigit():
            filters[name] = ""
    activities = selectors.activity_list(request.user, filters=filters)
    page = Paginator(activities, 25).get_page(request.GET.get("page"))
    account = (
        scopes.visible_accounts(request.user).filter(pk=filters["account"]).first() if filters["account"] else None
    )
    context = {"page": page, "filters": filters, "kinds": ActivityKind.choices, "account": account,
               "mine": filters["participant"] == str(request.user.pk)}  # fmt: skip
    return render(request, "engagement/activity_list.html", context)


def _picker_context(request, form) -> dict:
    selected = form.selected_account()
    offered = _offered_accounts(request.user, "")
    if selected is not None and all(a.pk != selected.pk for a in offered):
        offered = [selected, *offered[: ACCOUNT_CHOICES - 1]]
    return {"form": form, "accounts": offered, "selected": selected}


@login_required
def activity_create(request):
    """Log a visit (or call, message, meeting…) in under a minute, on a phone too."""
    initial = {"account": request.GET.get("account"), "participants": [request.user.pk]}
    form = ActivityForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.activity_create(actor=request.user, account=form.cleaned_data["account"],
                                                fields=form.service_fields())  # fmt: skip
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Activity recorded."))
            return redirect("account_detail", pk=activity.account_id)
    return render(request, "engagement/activity_form.html", _picker_context(request, form))


@login_required
def activity_detail(request, pk):
    activity = selectors.activity_detail(request.user, pk)
    context = {"activity": activity, "can_edit": scopes.can_edit_activity(request.user, activity)}
    return render(request, "engagement/activity_detail.html", context)


@login_required
def activity_edit(request, pk):
    activity = scopes.get_activity_for_user(request.user, pk, write=True)
    initial = {
        "kind": activity.kind, "happened_at": timezone.localtime(activity.happened_at), "subject": activity.subject,
        "notes": activity.notes, "outcome": activity.outcome, "next_step": activity.next_step,
        "next_step_due": timezone.localtime(activity.next_step_due) if activity.next_step_due else None,
        "contacts": list(activity.contacts.all()), "participants": list(activity.participants.all()),
    }  # fmt: skip
    form = ActivityForm(request.POST or None, user=request.user, activity=activity, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.activity_update(actor=request.user, activity=activity, fields=form.service_fields(),
                                     version=request.POST.get("version"))  # fmt: skip
        except ConflictError:
            form.add_error(
                None, _("Someone else changed this activity meanwhile. Reload it and make your change again.")
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Activity saved."))
            return redirect("activity_detail", pk=pk)
    return render(request, "engagement/activity_form.html", {"form": form, "activity": activity,
                                                             "selected": activity.account})  # fmt: skip


@require_POST
@login_required
def activity_archive(request, pk):
    activity = scopes.get_activity_for_user(request.user, pk, write=True)
    try:
        services.activity_archive(actor=request.user, activity=activity, version=request.POST.get("version"),
                                  reason=request.POST.get("reason", ""))  # fmt: skip
        messages.success(request, _("Activity archived."))
    except ConflictError:
        messages.error(request, _("Someone else changed this activity meanwhile. Reload it and try again."))
    return redirect("account_detail", pk=activity.account_id)


@require_GET
@login_required
def account_timeline(request, pk):
    """The account's activities and dynamic information, newest first; "older" loads the next page."""
    account = scopes.get_account_for_user(request.user, pk, include_archived=True)
    try:
        timeline = selectors.account_timeline(request.user, account, before=request.GET.get("before") or None)
    except ValidationError:
        timeline = selectors.account_timeline(request.user, account)
    context = {"account": account, "timeline": timeline}
    return _render(request, "engagement/timeline_page.html", "engagement/timeline.html", context)


# ---------------------------------------------------------------------------------------------
# tasks (ENG-3)


@login_required
def task_list(request):
    status = request.GET.get("status", TaskStatus.OPEN)
    status = status if status in TaskStatus.values else ""
    assignee = "any" if request.GET.get("assignee") == "any" else "me"
    tasks = selectors.task_list(request.user, assignee=assignee, status=status or None)
    page = Paginator(tasks, 25).get_page(request.GET.get("page"))
    page.object_list = selectors.mark_editable(request.user, page.object_list)
    context = {"page": page, "status": status, "assignee": assignee, "statuses": TaskStatus.choices,
               "now": timezone.now()}  # fmt: skip
    return render(request, "engagement/task_list.html", context)


@login_required
def task_create(request):
    initial = {"account": request.GET.get("account")}
    form = TaskForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.task_create(actor=request.user, fields=form.service_fields())
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Task saved."))
            return redirect("task_list")
    context = {**_picker_context(request, form), "allow_none": True}
    return render(request, "engagement/task_form.html", context)


@login_required
def task_edit(request, pk):
    task = scopes.get_task_for_user(request.user, pk, write=True)
    initial = {"title": task.title, "kind": task.kind, "due_at": timezone.localtime(task.due_at),
               "remind_at": task.remind_at and timezone.localtime(task.remind_at), "account": task.account_id,
               "assignee": task.assignee_id, "notes": task.notes, "documents": "\n".join(task.documents)}  # fmt: skip
    form = TaskForm(request.POST or None, user=request.user, task=task, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.task_update(actor=request.user, task=task, fields=form.service_fields(),
                                 version=request.POST.get("version"))  # fmt: skip
        except ConflictError:
            form.add_error(None, _("Someone else changed this task meanwhile. Reload it and make your change again."))
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Task saved."))
            return redirect("task_list")
    context = {**_picker_context(request, form), "task": task, "allow_none": True}
    return render(request, "engagement/task_form.html", context)


def _task_action(request, pk, action):
    task = scopes.get_task_for_user(request.user, pk, write=True)
    problem = ""
    try:
        task = action(actor=request.user, task=task, version=request.POST.get("version") or None)
    except ConflictError as e:
        task = e.current
        problem = _("Someone else changed this task meanwhile; here it is as it is now.")
    except ValidationError as e:
        problem = " ".join(e.messages)
    if request.htmx:
        task = scopes.get_task_for_user(request.user, task.pk)
        task.editable = True
        return render(request, "engagement/task_item.html", {"task": task, "problem": problem, "now": timezone.now(),
                                                             "next": _next_url(request, "")})  # fmt: skip
    if problem:
        messages.error(request, problem)
    return redirect(_next_url(request, reverse("task_list")))


@require_POST
@login_required
def task_complete(request, pk):
    return _task_action(request, pk, services.task_complete)


@require_POST
@login_required
def task_reopen(request, pk):
    return _task_action(request, pk, services.task_reopen)


@require_POST
@login_required
def task_cancel(request, pk):
    return _task_action(request, pk, services.task_cancel)


# ---------------------------------------------------------------------------------------------
# the inbox (ENG-3) and accounts out of cadence (ENG-2)


@require_GET
@login_required
def reminder_list(request):
    """The user's inbox: reminders due today or earlier, unread first; filter by kind and unread."""
    kind = request.GET.get("kind", "")
    kind = kind if kind in selectors.REMINDER_KINDS else ""
    unread = request.GET.get("unread") == "1"
    reminders = selectors.inbox(request.user, kind=kind or None, unread=True if unread else None)
    page = Paginator(reminders, 25).get_page(request.GET.get("page"))
    context = {"page": page, "kind": kind, "unread": unread, "kinds": ReminderKind.choices}
    return render(request, "engagement/reminder_list.html", context)


def _reminder_action(request, pk, action):
    reminder = scopes.get_reminder_for_user(request.user, pk)
    reminder = action(actor=request.user, reminder=reminder)
    if request.htmx:
        context = {"reminder": reminder, "next": _next_url(request, "")}
        return render(request, "engagement/reminder_item.html", context)
    return redirect(_next_url(request, reverse("reminder_list")))


@require_POST
@login_required
def reminder_read(request, pk):
    return _reminder_action(request, pk, services.reminder_mark_read)


@require_POST
@login_required
def reminder_dismiss(request, pk):
    return _reminder_action(request, pk, services.reminder_dismiss)


@login_required
def notification_settings(request):
    """The user's own channel for reminders (ENG-3), digest or not, cadence review rhythm; and a test send."""
    item = services.notification_settings(request.user)
    initial = {"channel": item.channel, "address": item.address, "daily_digest": item.daily_digest,
               "cadence_review": item.cadence_review}  # fmt: skip
    form = NotificationSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and request.POST.get("action") == "test":
        try:
            error = services.notification_test(actor=request.user)
        except ValidationError as e:
            error = " ".join(e.messages)
        if error:
            messages.error(request, _("The test message was not sent: %(reason)s") % {"reason": error})
        else:
            messages.success(request, _("Test message sent."))
        return redirect("notification_settings")
    if request.method == "POST" and form.is_valid():
        try:
            services.notification_settings_update(actor=request.user, fields=form.service_fields())
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Notification settings saved."))
            return redirect("notification_settings")
    return render(request, "engagement/notification_settings.html", {"form": form, "saved": item})


@require_GET
@login_required
def cadence_breaches(request):
    """Accounts out of cadence: a manager's own, a head's department and below."""
    breaches = selectors.cadence_breaches(request.user)
    page = Paginator(breaches, 50).get_page(request.GET.get("page"))
    return render(request, "engagement/cadence_breaches.html", {"page": page})


# ---------------------------------------------------------------------------------------------
# executive sponsors and plans (ENG-5, ENG-6), events (ENG-6), campaigns (ENG-7)


def _conflict(form):
    form.add_error(None, _("Someone else changed this record meanwhile. Reload it and make your change again."))


@require_GET
@login_required
def sponsor_list(request):
    """The accounts I sponsor (an executive's own, running today), or every sponsorship in scope (?all=1)."""
    everyone = request.GET.get("all") == "1"
    rows = selectors.sponsor_list(request.user, sponsor=None if everyone else "me", current=None if everyone else True)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "engagement/sponsor_list.html", {"page": page, "everyone": everyone})


@login_required
def sponsor_create(request, pk):
    """Name a sponsor of the account (whoever may change the account)."""
    account = scopes.get_account_for_user(request.user, pk, write=True)
    form = SponsorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.sponsor_create(actor=request.user, account=account, fields=dict(form.cleaned_data))
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Sponsor saved."))
            return redirect(reverse("account_detail", args=[account.pk]) + "#sponsors")
    return render(request, "engagement/sponsor_form.html", {"form": form, "account": account})


@require_GET
@login_required
def account_sponsors_campaigns(request, pk):
    """The account page's section (loaded by htmx): sponsors, executive plans and campaigns."""
    account = scopes.get_account_for_user(request.user, pk, include_archived=True)
    context = {
        "account": account,
        "sponsors": selectors.sponsor_list(request.user, account=account.pk),
        "plans": selectors.plan_list(request.user, account=account.pk),
        "participations": selectors.account_campaigns(request.user, account),
        "can_edit": scopes.can_edit_account(request.user, account),
        "today": timezone.localdate(),
    }
    return render(request, "engagement/sponsor_account_section.html", context)


@require_GET
@login_required
def plan_list(request):
    """Executive visit and top-level meeting plans in scope; ?overdue=1 keeps the late ones (ENG-6)."""
    overdue = request.GET.get("overdue") == "1"
    statuses = selectors.plan_list(request.user, overdue=True if overdue else None)
    page = Paginator(statuses, 50).get_page(request.GET.get("page"))
    return render(request, "engagement/plan_list.html", {"page": page, "overdue": overdue})


@login_required
def plan_create(request, pk):
    account = scopes.get_account_for_user(request.user, pk, write=True)
    form = PlanForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            services.plan_create(actor=request.user, account=account, fields=dict(form.cleaned_data))
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Plan saved."))
            return redirect(reverse("account_detail", args=[account.pk]) + "#sponsors")
    return render(request, "engagement/plan_form.html", {"form": form, "account": account})


@require_GET
@login_required
def event_list(request):
    events = selectors.event_list(request.user)
    page = Paginator(events, 25).get_page(request.GET.get("page"))
    return render(request, "engagement/event_list.html", {"page": page})


@login_required
def event_create(request):
    form = EventForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            event = services.event_create(actor=request.user, fields=dict(form.cleaned_data))
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Event saved."))
            return redirect("event_detail", pk=event.pk)
    return render(request, "engagement/event_form.html", {"form": form})


@login_required
def event_edit(request, pk):
    event = scopes.get_event_for_user(request.user, pk, write=True)
    initial = {"name": event.name, "kind": event.kind, "starts_at": timezone.localtime(event.starts_at),
               "ends_at": timezone.localtime(event.ends_at), "place": event.place, "description": event.description}  # fmt: skip
    form = EventForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.event_update(actor=request.user, event=event, fields=dict(form.cleaned_data),
                                  version=request.POST.get("version"))  # fmt: skip
        except ConflictError:
            _conflict(form)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Event saved."))
            return redirect("event_detail", pk=event.pk)
    return render(request, "engagement/event_form.html", {"form": form, "event": event})


def _event_context(request, event, invite_form=None) -> dict:
    invite_form = invite_form or InviteForm(user=request.user)
    invitations = list(selectors.invitation_list(request.user, event))
    editable = set(scopes.editable_accounts(request.user).filter(pk__in={i.account_id for i in invitations})
                   .values_list("pk", flat=True))  # fmt: skip
    for invitation in invitations:
        invitation.editable = invitation.account_id in editable
    selected = invite_form.selected_account()
    offered = _offered_accounts(request.user, "")
    if selected is not None and all(a.pk != selected.pk for a in offered):
        offered = [selected, *offered[: ACCOUNT_CHOICES - 1]]
    now = timezone.now()
    return {"event": event, "invitations": invitations, "form": invite_form, "accounts": offered,
            "selected": selected, "can_edit": scopes.can_edit_event(request.user, event),
            "started": event.starts_at <= now, "ended": event.ends_at <= now,
            "channels": ChannelName.choices, "templates": MessageTemplate.objects.filter(is_archived=False),
            "unsent": sum(1 for i in invitations if i.editable and i.message_id is None and i.batch_id is None
                          and i.status == InvitationStatus.INVITED)}  # fmt: skip


@require_GET
@login_required
def event_detail(request, pk):
    """The event with its invitations in scope: invite, send, answers, attendance, follow-ups."""
    event = scopes.get_event_for_user(request.user, pk)
    return render(request, "engagement/event_detail.html", _event_context(request, event))


@require_POST
@login_required
def event_invite(request, pk):
    """Invite the picked account's ticked contacts (none ticked: all not invited yet)."""
    event = scopes.get_event_for_user(request.user, pk)
    if request.POST.get("account", "").isdigit():  # an account the user may not change is not found
        scopes.get_account_for_user(request.user, request.POST["account"], write=True)
    form = InviteForm(request.POST, user=request.user)
    if form.is_valid():
        account = form.cleaned_data["account"]
        contact_ids = [c.pk for c in form.cleaned_data["contacts"]]
        try:
            made = services.event_invite(actor=request.user, event=event, accounts=[account], contact_ids=contact_ids)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("%(n)d contacts invited.") % {"n": len(made)})
            return redirect("event_detail", pk=event.pk)
    return render(request, "engagement/event_detail.html", _event_context(request, event, form), status=422)


@require_POST
@login_required
def event_send(request, pk):
    """Send the invitations not sent yet (of accounts the user may change) through messaging."""
    event = scopes.get_event_for_user(request.user, pk)
    template_id = request.POST.get("template", "")
    template = (
        MessageTemplate.objects.filter(pk=template_id, is_archived=False).first() if template_id.isdigit() else None
    )
    try:
        batch = services.event_send_invitations(actor=request.user, event=event, channel=request.POST.get("channel", ""),
                                                template=template, text=request.POST.get("text", ""),
                                                subject=request.POST.get("subject", ""))  # fmt: skip
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(
            request, _("%(n)d invitations queued, %(s)d skipped.") % {"n": batch.queued, "s": batch.skipped}
        )
    return redirect("event_detail", pk=event.pk)


@require_POST
@login_required
def event_answer(request, pk, invitation):
    """Record an answer (accepted, declined) or attendance (attended, no_show) for one invitation."""
    event = scopes.get_event_for_user(request.user, pk)
    found = scopes.get_invitation_for_user(request.user, invitation, write=True)
    if found.event_id != event.pk:
        raise Http404
    status = request.POST.get("status", "")
    version = request.POST.get("version") or None
    try:
        if status in (InvitationStatus.ATTENDED, InvitationStatus.NO_SHOW):
            services.invitation_record_attendance(actor=request.user, invitation=found, version=version,
                                                  attended=status == InvitationStatus.ATTENDED)  # fmt: skip
        else:
            services.invitation_respond(actor=request.user, invitation=found, status=status, version=version)
    except ConflictError:
        messages.error(request, _("Someone else changed this invitation meanwhile; here it is as it is now."))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect(reverse("event_detail", args=[event.pk]) + "#invitations")


@require_POST
@login_required
def event_follow_ups(request, pk):
    """After the event: a follow-up task for each attendee's account owner (none twice)."""
    event = scopes.get_event_for_user(request.user, pk)
    try:
        tasks = services.event_create_follow_ups(actor=request.user, event=event)
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, _("%(n)d follow-up tasks created.") % {"n": len(tasks)})
    return redirect("event_detail", pk=event.pk)


@require_GET
@login_required
def campaign_list(request):
    campaigns = selectors.campaign_list(request.user)
    page = Paginator(campaigns, 25).get_page(request.GET.get("page"))
    return render(request, "engagement/campaign_list.html", {"page": page})


@login_required
def campaign_create(request):
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(actor=request.user, fields=dict(form.cleaned_data))
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaign_detail", pk=campaign.pk)
    return render(request, "engagement/campaign_form.html", {"form": form})


@login_required
def campaign_edit(request, pk):
    campaign = scopes.get_campaign_for_user(request.user, pk, write=True)
    initial = {name: getattr(campaign, name) for name in CampaignForm.base_fields}
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(actor=request.user, campaign=campaign, fields=dict(form.cleaned_data),
                                     version=request.POST.get("version"))  # fmt: skip
        except ConflictError:
            _conflict(form)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaign_detail", pk=campaign.pk)
    return render(request, "engagement/campaign_form.html", {"form": form, "campaign": campaign})


def _campaign_context(request, campaign, form=None) -> dict:
    form = form or ParticipantForm(user=request.user)
    participants = list(selectors.participant_list(request.user, campaign))
    editable = set(scopes.editable_accounts(request.user).filter(pk__in={p.account_id for p in participants})
                   .values_list("pk", flat=True))  # fmt: skip
    for participant in participants:
        participant.editable = participant.account_id in editable
        participant.form = ParticipantEditForm(initial={"status": participant.status, "result": participant.result,
                                                        "feedback": participant.feedback}, prefix=f"p{participant.pk}")  # fmt: skip
    selected = form.selected_account()
    offered = _offered_accounts(request.user, "")
    if selected is not None and all(a.pk != selected.pk for a in offered):
        offered = [selected, *offered[: ACCOUNT_CHOICES - 1]]
    return {"campaign": campaign, "participants": participants, "form": form, "accounts": offered,
            "selected": selected, "can_edit": scopes.can_edit_campaign(request.user, campaign)}  # fmt: skip


@require_GET
@login_required
def campaign_detail(request, pk):
    campaign = scopes.get_campaign_for_user(request.user, pk)
    return render(request, "engagement/campaign_detail.html", _campaign_context(request, campaign))


@require_POST
@login_required
def campaign_participant_add(request, pk):
    campaign = scopes.get_campaign_for_user(request.user, pk)
    if request.POST.get("account", "").isdigit():  # an account the user may not change is not found
        scopes.get_account_for_user(request.user, request.POST["account"], write=True)
    form = ParticipantForm(request.POST, user=request.user)
    if form.is_valid():
        account = form.cleaned_data["account"]
        try:
            services.campaign_participant_add(actor=request.user, campaign=campaign, account=account,
                                              fields={"status": form.cleaned_data["status"]})  # fmt: skip
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Account added to the campaign."))
            return redirect("campaign_detail", pk=campaign.pk)
    return render(request, "engagement/campaign_detail.html", _campaign_context(request, campaign, form), status=422)


@require_POST
@login_required
def campaign_participant_edit(request, pk, participant):
    campaign = scopes.get_campaign_for_user(request.user, pk)
    found = scopes.get_participant_for_user(request.user, campaign, participant, write=True)
    form = ParticipantEditForm(request.POST, prefix=f"p{found.pk}")
    if form.is_valid():
        try:
            services.campaign_participant_update(actor=request.user, participant=found, fields=dict(form.cleaned_data),
                                                 version=request.POST.get("version"))  # fmt: skip
        except ConflictError:
            messages.error(
                request, _("Someone else changed this record meanwhile. Reload it and make your change again.")
            )
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
        else:
            messages.success(request, _("Saved."))
    else:
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
    return redirect(reverse("campaign_detail", args=[campaign.pk]) + "#participants")

"""Pages of engagement: log a visit, activities, tasks, the account timeline. Thin: parse, fetch through
scopes, call a service, render (a partial for htmx, the whole page otherwise)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
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
from kam.engagement.forms import ActivityForm, TaskForm
from kam.engagement.models import ActivityKind, ReminderKind, TaskStatus

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
    initial = {"title": task.title, "due_at": timezone.localtime(task.due_at), "account": task.account_id,
               "assignee": task.assignee_id, "notes": task.notes}  # fmt: skip
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


@require_GET
@login_required
def cadence_breaches(request):
    """Accounts out of cadence: a manager's own, a head's department and below."""
    breaches = selectors.cadence_breaches(request.user)
    page = Paginator(breaches, 50).get_page(request.GET.get("page"))
    return render(request, "engagement/cadence_breaches.html", {"page": page})

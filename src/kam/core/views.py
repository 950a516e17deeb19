"""Pages that belong to no business area: home, language switch, region pickers."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from kam.accounts.selectors import account_list
from kam.core import regions, scopes
from kam.engagement.selectors import inbox, my_tasks
from kam.org.services import user_set_language

HOME_TASKS = 20  # tasks shown on the home page; a manager can have hundreds due (each costs rendering)


@login_required
def home(request):
    accounts = account_list(request.user)
    tasks = my_tasks(request.user, timezone.localdate())
    context = {
        "account_count": accounts.count(),
        "my_count": accounts.filter(owner=request.user).count(),
        "recent": scopes.visible_accounts(request.user).select_related("owner").order_by("-updated_at")[:10],
        "tasks": tasks[:HOME_TASKS],  # ENG-3: today's and overdue, soonest first; the rest on the task list
        "tasks_due_count": tasks.count(),
        "reminders": inbox(request.user, unread=True)[:10],  # ENG-3: today's unread reminders, birthdays
        "now": timezone.now(),
    }
    return render(request, "core/home.html", context)


@require_POST
def set_language(request):
    """Switch the interface language and remember it (cookie, and the user's profile)."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest("language")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = redirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
                        samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)  # fmt: skip
    translation.activate(language)
    if request.user.is_authenticated:
        user_set_language(user=request.user, language=language)
    return response


@require_GET
@login_required
def region_options(request):
    """<option>s of the cities or districts under a region code (for the cascading pickers)."""
    parent = request.GET.get("province") or request.GET.get("city") or request.GET.get("parent", "")
    level = request.GET.get("level", "")
    if level == "district":
        parent = request.GET.get("city", "")
    return render(request, "core/region_options.html", {"options": regions.children(parent) if parent else []})

"""Pages of sales. Thin: parse, fetch through scopes and selectors, call a service, render."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_POST

from kam.core import scopes
from kam.core.errors import ConflictError
from kam.core.forms import add_service_errors
from kam.engagement.models import ActivityKind
from kam.org import selectors as org_selectors
from kam.sales import imports as sales_imports
from kam.sales import selectors, services
from kam.sales.forms import CloseForm, CostForm, OpportunityForm, PositioningForm, SampleForm
from kam.sales.models import AccountPositioning, CostKind, OpportunityStatus, SalesImport, StageKind

# --- pipeline (s1): opportunity list, detail with the gate checklist, forms, account section


def _opportunity_context(request, opportunity, **extra) -> dict:
    """What the detail page and its htmx fragments show: the gate of the current stage, the stages one may
    move to, the history, and whether the user may change it."""
    can_edit = scopes.can_edit_account(request.user, opportunity.account)
    stages = opportunity.pipeline.stages.exclude(kind=StageKind.LOST).exclude(pk=opportunity.stage_id).order_by("order")
    return {
        "opportunity": opportunity,
        "gate": services.gate_status(opportunity, opportunity.stage),
        "stages": stages,
        "history": selectors.opportunity_history(opportunity),
        "is_stuck": services.is_stuck(opportunity),
        "can_edit": can_edit and opportunity.status == OpportunityStatus.OPEN and not opportunity.is_archived,
        "can_change": can_edit,  # archive / restore (ANA-3) [h3]
        "close_form": extra.pop("close_form", None) or CloseForm(),
        **extra,
    }


@require_GET
@login_required
def opportunity_list(request):
    """Opportunities in scope: mine by default (?all=1 for all), filtered by status and stuck."""
    everyone = request.GET.get("all") == "1"
    status = request.GET.get("status", OpportunityStatus.OPEN)
    stuck = True if request.GET.get("stuck") == "1" else None
    try:
        rows = selectors.opportunity_list(request.user, owner=None if everyone else "me", status=status or None,
                                          stuck=stuck, q=request.GET.get("q", "")[:100])  # fmt: skip
    except ValidationError:
        raise Http404 from None
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {"page": page, "everyone": everyone, "status": status, "stuck": stuck,
               "statuses": OpportunityStatus.choices, "now": timezone.now()}  # fmt: skip
    return render(request, "sales/opportunity_list.html", context)


@login_required
def opportunity_create(request, pk):
    """Open an opportunity at an account the user may change; it starts in the first stage."""
    account = scopes.get_account_for_user(request.user, pk, write=True)
    form = OpportunityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            opportunity = services.opportunity_create(actor=request.user, account=account, fields=form.service_fields())
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Opportunity saved."))
            return redirect("opportunity_detail", pk=opportunity.pk)
    return render(request, "sales/opportunity_form.html", {"form": form, "account": account})


@require_GET
@login_required
def opportunity_detail(request, pk):
    opportunity = scopes.get_opportunity_for_user(request.user, pk)
    return render(request, "sales/opportunity_detail.html", _opportunity_context(request, opportunity))


@login_required
def opportunity_edit(request, pk):
    opportunity = scopes.get_opportunity_for_user(request.user, pk, write=True)
    form = OpportunityForm(request.POST or None, initial=OpportunityForm.initial_of(opportunity))
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_update(actor=request.user, opportunity=opportunity, fields=form.service_fields(),
                                        version=request.POST.get("version"))  # fmt: skip
        except ConflictError:
            form.add_error(None, _("Someone else changed this record meanwhile. Reload it and make your change again."))
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Opportunity saved."))
            return redirect("opportunity_detail", pk=pk)
    return render(request, "sales/opportunity_form.html", {"form": form, "account": opportunity.account,
                                                           "opportunity": opportunity})  # fmt: skip


def _detail_or_fragment(request, opportunity, fragment: str, **extra):
    """htmx gets the fragment it swaps in place; a browser without JavaScript the whole page again."""
    opportunity = scopes.get_opportunity_for_user(request.user, opportunity.pk)
    context = _opportunity_context(request, opportunity, **extra)
    return render(request, fragment if request.htmx else "sales/opportunity_detail.html", context)


@require_POST
@login_required
def opportunity_gate_check(request, pk, item):
    """Tick (checked=1) or untick a gate item; answers the gate and advance panel again."""
    opportunity = scopes.get_opportunity_for_user(request.user, pk, write=True)
    errors = []
    try:
        if request.POST.get("checked") == "1":
            note = request.POST.get("note", "")
            services.gate_check(actor=request.user, opportunity=opportunity, item=item, note=note)
        else:
            services.gate_uncheck(actor=request.user, opportunity=opportunity, item=item)
    except ValidationError as e:
        errors = e.messages
    return _detail_or_fragment(request, opportunity, "sales/opportunity_gate.html", gate_errors=errors)


def _refusal(opportunity, error) -> dict:
    if isinstance(error, services.GateError):
        return {"opportunity": opportunity, "missing": error.missing, "errors": [_("The gate does not hold.")]}
    if isinstance(error, ConflictError):
        return {
            "opportunity": opportunity,
            "errors": [_("Someone else changed this record meanwhile. Reload it and make your change again.")],
        }
    return {"opportunity": opportunity, "errors": error.messages}


@require_POST
@login_required
def opportunity_advance(request, pk):
    """Move to the chosen stage through the gate; a refusal is shown in place (on the detail page's gate panel,
    or on the board) with the missing items."""
    try:
        return _advance(request, pk)
    except ConflictError:
        opportunity = scopes.get_opportunity_for_user(request.user, pk)
        errors = [_("Someone else changed this record meanwhile. Reload it and make your change again.")]
        return _detail_or_fragment(request, opportunity, "sales/opportunity_gate.html", gate_errors=errors)
    except ValidationError as e:
        opportunity = scopes.get_opportunity_for_user(request.user, pk)
        return _detail_or_fragment(request, opportunity, "sales/opportunity_gate.html", gate_errors=e.messages)


def _advance(request, pk):
    opportunity = scopes.get_opportunity_for_user(request.user, pk, write=True)
    from_board = request.POST.get("from") == "board" and request.htmx
    try:
        services.opportunity_advance(actor=request.user, opportunity=opportunity, to_stage=request.POST.get("stage"),
                                     version=request.POST.get("version"))  # fmt: skip
    except (services.GateError, ConflictError, ValidationError) as e:
        if from_board:  # the board shows why the card stays where it was
            return render(request, "sales/opportunity_board_refusal.html", _refusal(opportunity, e))
        if isinstance(e, services.GateError):
            return _detail_or_fragment(request, opportunity, "sales/opportunity_gate.html", missing=e.missing,
                                       gate_errors=[_("The gate does not hold.")])  # fmt: skip
        raise
    messages.success(request, _("Stage changed."))
    target = reverse("opportunity_board") if from_board else reverse("opportunity_detail", args=[pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@require_POST
@login_required
def opportunity_close(request, pk):
    """Stop or lose the opportunity with the reason and review (GOV-6)."""
    opportunity = scopes.get_opportunity_for_user(request.user, pk, write=True)
    form = CloseForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        close = services.opportunity_lose if data.pop("outcome") == "lose" else services.opportunity_stop
        try:
            close(actor=request.user, opportunity=opportunity, version=request.POST.get("version"), **data)
        except ConflictError:
            form.add_error(None, _("Someone else changed this record meanwhile. Reload it and make your change again."))
        except ValidationError as e:
            names = {"close_reason": "reason", "review_what_happened": "what_happened", "review_lesson": "lesson"}
            add_service_errors(form, ValidationError({names.get(k, k): v for k, v in e.message_dict.items()}))
        else:
            messages.success(request, _("Opportunity closed."))
            return redirect("opportunity_detail", pk=pk)
    context = _opportunity_context(request, opportunity, close_form=form)
    return render(request, "sales/opportunity_detail.html", context, status=422)


@require_GET
@login_required
def opportunity_board(request):
    """The board (看板): a column per stage, cards dragged to another column move through its gate. Mine by
    default; ?all=1 everything in scope; owner / team filter like the funnel (a bad one is a 422 naming it)."""
    everyone = request.GET.get("all") == "1"
    values = _filter_values(request)
    owner = values["owner"] or (None if everyone or values["team"] else "me")
    errors = {}
    try:
        columns = selectors.opportunity_board(request.user, owner=owner, team=values["team"])
    except ValidationError as e:
        columns, errors = [], e.message_dict
    editable = set(scopes.editable_accounts(request.user).filter(
        pk__in={o.account_id for _stage, cards, _count in columns for o in cards}).values_list("pk", flat=True))  # fmt: skip
    context = {"columns": columns, "everyone": everyone, "editable": editable, "values": values, "errors": errors,
               "error_list": _error_list(errors), "filtered": bool(values["owner"] or values["team"]),
               **selectors.filter_options(request.user)}  # fmt: skip
    return render(request, "sales/opportunity_board.html", context, status=422 if errors else 200)


@require_GET
@login_required
def account_opportunities(request, pk):
    """The account page's section (loaded by htmx): its opportunities."""
    account = scopes.get_account_for_user(request.user, pk, include_archived=True)
    rows = selectors.opportunity_list(request.user, account=account.pk)
    context = {"account": account, "opportunities": rows, "can_edit": scopes.can_edit_account(request.user, account)}
    return render(request, "sales/opportunity_account_section.html", context)


# --- sales records (s2)


@require_GET
@login_required
def account_sales_history(request, pk):
    """The account page's section (loaded by htmx): sales by month, newest first, from SalesMonth only."""
    account, months = selectors.account_sales_history(request.user, pk)
    recent = months[-settings.KAM["SALES_HISTORY_MONTHS"] :][::-1]
    total = {
        "amount": sum((m.amount for m in recent), Decimal(0)),
        "margin": sum((m.gross_margin for m in recent), Decimal(0)),
    }
    oldest_first = recent[::-1]
    chart = {
        "months": [m.month.strftime("%Y-%m") for m in oldest_first],
        "amount": [str(m.amount) for m in oldest_first],
        "margin": [str(m.gross_margin) for m in oldest_first],
        "labels": {"amount": _("amount"), "margin": _("gross margin")},
    }
    context = {"account": account, "months": recent, "total": total, "chart": chart}
    return render(request, "sales/sales_history_section.html", context)


@login_required
def sales_import_page(request):
    """Import sales lines from an ERP export (csv or xlsx): all or nothing, order lines never doubled."""
    context = {"history": SalesImport.objects.filter(created_by=request.user)[:10]}
    if request.method == "POST":
        if not request.user.can_edit_accounts:
            raise PermissionDenied
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ValidationError({"file": _("Choose a file to import.")})
            report = sales_imports.sales_import(actor=request.user, file=upload, filename=upload.name or "")
        except ValidationError as e:
            context["file_error"] = " ".join(e.messages)
        else:
            if report.ok:
                messages.success(request, report.detail())
                return redirect("sales_import")
            context["report"] = report
    return render(request, "sales/sales_import.html", context)


# --- quotas (PIPE-7) [h1]


# --- forecasts (PIPE-4, ANA-1, ANA-2) [h2]

FORECAST_SERIES = ("quota", "actual", "weighted", "commit", "best_case", "statistical")


def _money_text(value) -> str | None:
    return None if value is None else str(value)


@require_GET
@login_required
def sales_forecast(request):
    """The forecast page (PIPE-4, ANA-1, ANA-2): a manager's, a team's or the company's months against quota
    and actuals, the managers' current month, and which forecast has been closest. Bad filters are shown
    next to the form (and the default range used); a manager or team outside the scope is 404."""
    params = {name: request.GET.get(name, "").strip()[:20] for name in ("user", "department", "from", "to")}
    error, overview = "", None
    # The filters as given; else without the months; else without any filter (the error is shown).
    level = {"user": params["user"], "department": params["department"]}
    for filters in ({**level, "first": params["from"], "last": params["to"]}, level, {}):
        try:
            overview = selectors.forecast_overview(request.user, **filters)
            break
        except ValidationError as e:
            error = error or "; ".join(f"{field}: {' '.join(texts)}" for field, texts in e.message_dict.items())
    months = overview["months"]
    chart = {
        "months": [m["month"].strftime("%Y-%m") for m in months],
        **{name: [_money_text(m[name]) for m in months] for name in FORECAST_SERIES},
        "labels": {"quota": _("quota"), "actual": _("actual"), "weighted": _("weighted pipeline"),
                   "commit": _("commit"), "best_case": _("best case"), "statistical": _("statistical forecast")},
    }  # fmt: skip
    teams = list(org_selectors.quota_teams(request.user).order_by("path"))
    team_names = org_selectors.department_path_names(teams)
    context = {
        **overview,
        "params": params,
        "error": error,
        "chart": chart,
        "people_options": org_selectors.quota_people(request.user).order_by("department__path", "username"),
        "team_options": [(t.pk, team_names[t.pk]) for t in teams],
        "kinds": [("weighted", _("weighted pipeline")), ("commit", _("commit")), ("best_case", _("best case")),
                  ("statistical", _("statistical forecast"))],
    }  # fmt: skip
    context["closest_label"] = dict(context["kinds"]).get(overview["accuracy"]["closest"])
    return render(request, "sales/forecast.html", context)


# --- funnel, result review, archive (ANA-3) [h3]
FILTER_NAMES = ("owner", "team", "from", "to")


def _filter_values(request) -> dict:
    """The funnel / review / board filters as typed (the selectors validate them, naming the field)."""
    return {name: request.GET.get(name, "").strip()[:20] for name in FILTER_NAMES}


def _error_list(errors: dict) -> list[tuple[str, str]]:
    """The filter errors as (the field's label, the messages) for the form."""
    labels = {"owner": _("owner"), "team": _("team"), "from": _("from"), "to": _("to"), "pipeline": _("pipeline")}
    return [(labels.get(name, name), " ".join(messages)) for name, messages in errors.items()]


def _figures_page(request, template: str, read, chart_of) -> HttpResponse:
    """A figures page with its filter form: the figures, or the form's errors (422) naming the field."""
    values = _filter_values(request)
    figures, errors = None, {}
    try:
        figures = read(request.user, owner=values["owner"], team=values["team"], date_from=values["from"],
                       date_to=values["to"])  # fmt: skip
    except ValidationError as e:
        errors = e.message_dict
    context = {"figures": figures, "chart": chart_of(figures) if figures else None, "values": values,
               "errors": errors, "error_list": _error_list(errors), **selectors.filter_options(request.user)}  # fmt: skip
    return render(request, template, context, status=422 if errors else 200)


def _funnel_chart(funnel: dict) -> dict:
    return {
        "stages": [str(f["stage"]) for f in funnel["stages"]],
        "reached": [f["reached"] for f in funnel["stages"]],
        "amounts": [str(f["amount"]) for f in funnel["stages"]],
        "conversion": [None if f["conversion"] is None else str(f["conversion"]) for f in funnel["stages"]],
        "labels": {"reached": _("reached"), "amount": _("amount"), "conversion": _("to the next stage")},
    }


@require_GET
@login_required
def sales_funnel(request):
    """The funnel (漏斗, PIPE-1): reached, amount and conversion by stage, and the open pipeline today."""
    return _figures_page(request, "sales/funnel.html", selectors.opportunity_funnel, _funnel_chart)


@require_GET
@login_required
def sales_review(request):
    """The result review (ANA-3): won and lost by reason, competitor, stage and manager; latest lost reviews."""
    return _figures_page(request, "sales/review.html", selectors.result_review, lambda review: None)


def _archive_or_restore(request, pk, change, done: str):
    opportunity = scopes.get_opportunity_for_user(request.user, pk, write=True)
    try:
        change(actor=request.user, opportunity=opportunity, version=request.POST.get("version"))
        messages.success(request, done)
    except ConflictError:
        messages.error(request, _("Someone else changed this record meanwhile. Reload it and make your change again."))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("opportunity_detail", pk=pk)


@require_POST
@login_required
def opportunity_archive(request, pk):
    return _archive_or_restore(request, pk, services.opportunity_archive, _("Opportunity archived."))


@require_POST
@login_required
def opportunity_restore(request, pk):
    return _archive_or_restore(request, pk, services.opportunity_restore, _("Opportunity restored."))


# --- work plans (PIPE-4) and weekly report (GOV-8) [h4]

WORK_PLAN_BLANK_ROWS = 3  # empty rows offered for new items


def _work_plan_rows_posted(post) -> tuple[list[dict], list[int]]:
    """The rows of the plan form (r<n>-account, -kind, -planned, -note), empty rows left out, with the form row
    each item came from (so the service's items.<i>.<field> errors land on the right row)."""
    limit = settings.KAM["WORK_PLAN_MAX_ITEMS"] + WORK_PLAN_BLANK_ROWS
    count = int(post.get("rows")) if str(post.get("rows", "")).isdigit() else 0
    items, origin = [], []
    for n in range(min(count, limit)):
        row = {name: post.get(f"r{n}-{name}", "").strip() for name in ("account", "kind", "planned", "note")}
        if any(row.values()):
            items.append({**row, "account": row["account"] or None})
            origin.append(n)
    return items, origin


@login_required
def work_plan(request):
    """A person's plan for a month (?owner=&month=YYYY-MM; default: mine, this month) with done / planned per row,
    edited in place by whoever may change it; the team's plans at a glance for those who see colleagues."""
    params = request.POST if request.method == "POST" else request.GET
    owner = selectors.get_sales_person_for_user(request.user, params.get("owner") or request.user.pk)
    try:
        month = selectors.parse_month(params["month"]) if params.get("month") else timezone.localdate().replace(day=1)
    except ValidationError:
        raise Http404 from None
    can_edit = services.may_edit_work_plan(request.user, owner)
    row_errors: dict[int, dict] = {}
    form_errors: list[str] = []
    posted = None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        items, origin = _work_plan_rows_posted(request.POST)
        posted = [{**item, "account": item["account"] or ""} for item in items]
        try:
            services.work_plan_set(actor=request.user, owner=owner, month=month, items=items,
                                   note=request.POST.get("note", ""), version=request.POST.get("version"))  # fmt: skip
        except ConflictError:
            form_errors.append(_("Someone else changed this plan meanwhile. Reload it and make your change again."))
        except ValidationError as e:
            for key, messages_ in e.message_dict.items():
                parts = key.split(".")
                if parts[0] == "items" and len(parts) == 3:
                    row_errors.setdefault(int(parts[1]), {})[parts[2]] = " ".join(messages_)
                else:
                    form_errors.extend(messages_)
        else:
            messages.success(request, _("Work plan saved."))
            return redirect(f"{reverse('work_plan')}?owner={owner.pk}&month={month:%Y-%m}")
    progress = selectors.work_plan_progress(owner_ids=[owner.pk], month=month)[owner.pk]
    if posted is not None:
        rows = [{**item, "errors": row_errors.get(i, {})} for i, item in enumerate(posted)]
    else:
        rows = [{"account": r.item.account_id or "", "kind": r.item.kind, "planned": r.item.planned,
                 "note": r.item.note, "errors": {}} for r in progress.rows]  # fmt: skip
    rows += [{"account": "", "kind": "", "planned": "", "note": "", "errors": {}}] * WORK_PLAN_BLANK_ROWS
    accounts = []
    if can_edit:
        used = [r["account"] for r in rows if str(r["account"]).isdigit()]
        accounts = list(scopes.visible_accounts(owner).filter(Q(owner=owner) | Q(pk__in=used))
                        .order_by("name").values_list("pk", "name")[:settings.KAM["WORK_PLAN_ACCOUNT_CHOICES"]])  # fmt: skip
    previous = (month - timedelta(days=1)).replace(day=1)
    labels = dict(ActivityKind.choices)
    context = {
        "owner": owner, "month": month, "progress": progress, "plan": progress.plan, "can_edit": can_edit,
        "rows": rows, "row_count": len(rows), "form_errors": form_errors, "accounts": accounts,
        "kinds": ActivityKind.choices, "max_planned": settings.KAM["WORK_PLAN_MAX_PLANNED"],
        "progress_rows": [(r, labels.get(r.item.kind, r.item.kind)) for r in progress.rows],
        "unplanned": [(labels.get(kind, kind), n) for kind, n in progress.unplanned.items()],
        "note": request.POST.get("note", "") if posted is not None else (progress.plan.note if progress.plan else ""),
        "previous_month": previous, "next_month": (month + timedelta(days=32)).replace(day=1),
        "team": selectors.team_work_plan_overview(request.user, month=month),
    }  # fmt: skip
    return render(request, "sales/work_plan.html", context)


# --- samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]
# The account page loads each section by htmx (positioning, samples, costs, cost and return); the opportunity
# page loads the samples and costs sections filtered by ?opportunity=. Forms go back to `next` (the page they
# were opened from) or the account page.

STALE = _lazy("Someone else changed this record meanwhile. Reload it and make your change again.")


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):  # fmt: skip
        return target
    return default


def _back(request, account, anchor: str) -> str:
    return _next_url(request, reverse("account_detail", args=[account.pk]) + anchor)


def _opportunity_param(request) -> int | None:
    value = request.GET.get("opportunity") or ""
    return int(value) if value.isdigit() else None


@login_required
def account_positioning(request, pk):
    """The customer's positioning (PIPE-3): the account page's section (htmx), or the page with its form for
    who may change the account (read-only for others). Stale version → the form again with a message (409)."""
    if request.method == "POST":
        account = scopes.get_account_for_user(request.user, pk, write=True)
    else:
        account = scopes.get_account_for_user(request.user, pk, include_archived=True)
    positioning = AccountPositioning.objects.filter(account=account).select_related("updated_by").first()
    can_edit = not account.is_archived and scopes.can_edit_account(request.user, account)
    context = {"account": account, "positioning": positioning, "can_edit": can_edit}
    if request.htmx and request.method == "GET":
        return render(request, "sales/positioning_section.html", context)
    form = PositioningForm(request.POST or None, initial=PositioningForm.initial_of(positioning))
    status = 200
    if request.method == "POST":
        # Nothing read ("") but a positioning exists now: someone wrote it meanwhile, a conflict too.
        version = request.POST.get("version", "").strip()
        if form.is_valid():
            try:
                services.positioning_set(actor=request.user, account=account, fields=form.cleaned_data,
                                         version=int(version) if version.isdigit() else 0)  # fmt: skip
            except ConflictError as e:
                form.add_error(None, STALE)
                context["positioning"], status = e.current, 409
            except ValidationError as e:
                add_service_errors(form, e)
            else:
                messages.success(request, _("Positioning saved."))
                return redirect(_back(request, account, "#positioning"))
        if status == 200:
            status = 422
    context["form"] = form
    return render(request, "sales/positioning_form.html", context, status=status)


@require_GET
@login_required
def account_samples(request, pk):
    """The samples section (PIPE-8) of the account page, or of an opportunity's page (?opportunity=)."""
    account = scopes.get_account_for_user(request.user, pk, include_archived=True)
    opportunity = _opportunity_param(request)
    rows = selectors.sample_list(request.user, account=account.pk, opportunity=opportunity)
    rows = rows.select_related("opportunity")
    context = {"account": account, "samples": rows, "opportunity_id": opportunity,
               "can_edit": not account.is_archived and scopes.can_edit_account(request.user, account)}  # fmt: skip
    return render(request, "sales/sample_section.html", context)


def _record_form(request, *, form, template, context, save, anchor):
    """Create or edit a sample or cost through its service: field errors (422) or a stale version (409) show
    on the form again; success goes back."""
    if request.method == "POST" and form.is_valid():
        try:
            save(form.service_fields())
        except ConflictError:
            form.add_error(None, STALE)
            return render(request, template, {**context, "form": form}, status=409)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, _("Saved."))
            return redirect(_back(request, context["account"], anchor))
    status = 422 if request.method == "POST" else 200
    return render(request, template, {**context, "form": form, "next": _next_url(request, "")}, status=status)


@login_required
def sample_create(request, pk):
    """Record a sample sent to the account (PIPE-8)."""
    account = scopes.get_account_for_user(request.user, pk, write=True)
    initial = {"sent_on": timezone.localdate(), "opportunity": _opportunity_param(request)}
    form = SampleForm(request.POST or None, account=account, initial=initial)

    def save(fields):
        services.sample_create(actor=request.user, account=account, fields=fields)

    return _record_form(request, form=form, template="sales/sample_form.html", context={"account": account},
                        save=save, anchor="#samples")  # fmt: skip


@login_required
def sample_edit(request, pk):
    """Change a sample, above all record whether it was accepted against the agreed standard (PIPE-8)."""
    sample = scopes.get_sample_for_user(request.user, pk, write=True)
    form = SampleForm(request.POST or None, account=sample.account, initial=SampleForm.initial_of(sample))

    def save(fields):
        services.sample_update(actor=request.user, sample=sample, fields=fields, version=request.POST.get("version"))

    return _record_form(request, form=form, template="sales/sample_form.html", save=save, anchor="#samples",
                        context={"account": sample.account, "sample": sample})  # fmt: skip


def _archive_view(request, obj, archive, anchor):
    try:
        archive(version=request.POST.get("version"), reason=request.POST.get("reason", ""))
    except ConflictError:
        messages.error(request, STALE)
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, _("Archived."))
    return redirect(_back(request, obj.account, anchor))


@require_POST
@login_required
def sample_archive(request, pk):
    sample = scopes.get_sample_for_user(request.user, pk, write=True)
    return _archive_view(request, sample, lambda **kw: services.sample_archive(actor=request.user, sample=sample,
                                                                              **kw), "#samples")  # fmt: skip


@require_GET
@login_required
def account_costs(request, pk):
    """The development costs section (PIPE-5) of the account page, or of an opportunity's page (?opportunity=)."""
    account = scopes.get_account_for_user(request.user, pk, include_archived=True)
    opportunity = _opportunity_param(request)
    rows = list(selectors.development_cost_list(request.user, account=account.pk, opportunity=opportunity)
                .select_related("opportunity"))  # fmt: skip
    total = sum((c.amount for c in rows if c.currency == "CNY"), Decimal(0))
    context = {"account": account, "costs": rows, "total": total, "opportunity_id": opportunity,
               "can_edit": not account.is_archived and scopes.can_edit_account(request.user, account)}  # fmt: skip
    return render(request, "sales/cost_section.html", context)


@login_required
def cost_create(request, pk):
    """Record a development cost of the account (PIPE-5): an amount, or hours × rate."""
    account = scopes.get_account_for_user(request.user, pk, write=True)
    initial = {"incurred_on": timezone.localdate(), "opportunity": _opportunity_param(request)}
    form = CostForm(request.POST or None, account=account, initial=initial)

    def save(fields):
        services.development_cost_create(actor=request.user, account=account, fields=fields)

    return _record_form(request, form=form, template="sales/cost_form.html", context={"account": account},
                        save=save, anchor="#costs")  # fmt: skip


@login_required
def cost_edit(request, pk):
    cost = scopes.get_development_cost_for_user(request.user, pk, write=True)
    form = CostForm(request.POST or None, account=cost.account, initial=CostForm.initial_of(cost))

    def save(fields):
        services.development_cost_update(actor=request.user, cost=cost, fields=fields,
                                         version=request.POST.get("version"))  # fmt: skip

    return _record_form(request, form=form, template="sales/cost_form.html", save=save, anchor="#costs",
                        context={"account": cost.account, "cost": cost})  # fmt: skip


@require_POST
@login_required
def cost_archive(request, pk):
    cost = scopes.get_development_cost_for_user(request.user, pk, write=True)
    return _archive_view(request, cost, lambda **kw: services.development_cost_archive(actor=request.user, cost=cost,
                                                                                     **kw), "#costs")  # fmt: skip


@require_GET
@login_required
def account_development_return(request, pk):
    """The account page's section (htmx): cost of acquisition and return by year (PIPE-5), with a chart."""
    account, years = selectors.account_development_return(request.user, pk)
    kinds = dict(CostKind.choices)
    for row in years:
        row["kinds"] = [(kinds[k], amount) for k, amount in row["costs_by_kind"].items()]
    chart = {
        "years": [str(r["year"]) for r in years],
        "cost": [str(r["cost"]) for r in years],
        "margin": [str(r["gross_margin"]) for r in years],
        "cumulative": [str(r["cumulative_return"]) for r in years],
        "labels": {"cost": _("development cost"), "margin": _("gross margin"), "cumulative": _("cumulative return")},
    }
    return render(request, "sales/account_return_section.html", {"account": account, "years": years, "chart": chart})

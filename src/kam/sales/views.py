"""Pages of sales. Thin: parse, fetch through scopes and selectors, call a service, render."""

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kam.core import scopes
from kam.core.errors import ConflictError
from kam.core.forms import add_service_errors
from kam.sales import imports as sales_imports
from kam.sales import selectors, services
from kam.sales.forms import CloseForm, OpportunityForm
from kam.sales.models import OpportunityStatus, SalesImport, StageKind

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
        "can_edit": can_edit and opportunity.status == OpportunityStatus.OPEN,
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
    """The board (看板): a column per stage, cards dragged to another column move through its gate."""
    everyone = request.GET.get("all") == "1"
    columns = selectors.opportunity_board(request.user, owner=None if everyone else "me")
    editable = set(scopes.editable_accounts(request.user).filter(
        pk__in={o.account_id for _stage, cards, _count in columns for o in cards}).values_list("pk", flat=True))  # fmt: skip
    return render(request, "sales/opportunity_board.html", {"columns": columns, "everyone": everyone,
                                                            "editable": editable})  # fmt: skip


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


# --- funnel, result review, archive (ANA-3) [h3]


# --- work plans (PIPE-4) and weekly report (GOV-8) [h4]


# --- samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]

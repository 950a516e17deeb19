"""Pages of the organisation: quotas and their completion (定额, 定额完成率; PIPE-7). Thin: parse, read through
the selectors, call a service, render."""

import json
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from kam.core import scopes
from kam.core.errors import ConflictError
from kam.core.templatetags.kam import money
from kam.org import selectors, services
from kam.org.forms import QuotaFilterForm, QuotaImportForm
from kam.org.models import Quota

MONTHS = range(1, 13)


def _grid(actor, year: int) -> list[dict]:
    """The editable grid: a row per manager and team the actor may set, a cell per month with the quota and
    the version read (0: none), in tree order."""
    people = list(selectors.quota_settable_people(actor).select_related("department").order_by("department__path",
                                                                                                "username"))  # fmt: skip
    teams = list(selectors.quota_settable_teams(actor).order_by("path"))
    quotas = Quota.objects.filter(month__year=year).filter(user__in=[p.pk for p in people]) | Quota.objects.filter(
        month__year=year, department__in=[t.pk for t in teams]
    )
    found = {(f"u{q.user_id}" if q.user_id else f"d{q.department_id}", q.month.month): q for q in quotas}
    paths = selectors.department_path_names(teams)
    rows = [{"key": f"u{p.pk}", "label": str(p), "note": p.department.name if p.department else "", "user": p.pk}
            for p in people]  # fmt: skip
    rows += [{"key": f"d{t.pk}", "label": paths[t.pk], "note": t.get_kind_display(), "department": t.pk} for t in teams]
    for row in rows:
        row["cells"] = []
        for m in MONTHS:
            quota = found.get((row["key"], m))
            row["cells"].append({"name": f"c-{row['key']}-{m}", "month": m, "value": money(quota and quota.amount, "auto"),
                                 "version": quota.version if quota else 0})  # fmt: skip
    return rows


def _grid_entries(request, grid: list[dict], year: int) -> tuple[list[dict], list[str]]:
    """The cells changed since the page was read, as quota entries with the version read; and their names."""
    try:
        state = json.loads(request.POST.get("state") or "{}")
    except ValueError:
        state = {}
    if not isinstance(state, dict):
        state = {}
    entries, names = [], []
    for row in grid:
        for cell in row["cells"]:
            if cell["name"] not in request.POST:
                continue
            read = state.get(cell["name"]) if isinstance(state.get(cell["name"]), list) else [0, ""]
            version, before = (read + [0, ""])[:2]
            typed = request.POST[cell["name"]].strip()
            try:
                if services.quota_amount(typed) == services.quota_amount(str(before)):
                    continue
            except ValueError:
                pass  # the service names what is wrong with it
            target = {"user": row["user"]} if "user" in row else {"department": row["department"]}
            entries.append({**target, "month": date(year, cell["month"], 1), "amount": typed, "version": version})
            names.append(cell["name"])
    return entries, names


def _save_grid(request, year: int) -> dict[str, str]:
    """Save the grid in one go (all or nothing); the errors by cell name, empty when saved or refused as stale."""
    grid = _grid(request.user, year)
    entries, names = _grid_entries(request, grid, year)
    if not entries:
        messages.info(request, _("Nothing changed."))
        return {}
    try:
        result = services.quota_bulk_set(actor=request.user, entries=entries)
    except ConflictError:
        messages.error(request, _("Someone changed these quotas meanwhile; nothing was saved. The current quotas "
                                  "are shown: enter your changes again."))  # fmt: skip
        return {}
    except ValidationError as e:
        errors = {}
        for key, text in e.message_dict.items():
            index, _sep, _field = key.partition(".")
            name = names[int(index)] if index.isdigit() and int(index) < len(names) else "grid"
            errors[name] = " ".join(text)
        messages.error(request, _("Some quotas are wrong; nothing was saved."))
        return errors
    messages.success(request, _("Quotas saved: %(created)d new, %(updated)d changed, %(deleted)d removed.")
                     % {"created": result.created, "updated": result.updated, "deleted": result.deleted})  # fmt: skip
    return {}


def _import(request, context: dict) -> bool:
    """Import a quota sheet (all or nothing); True when saved."""
    form = QuotaImportForm(request.POST, request.FILES)
    context["import_form"] = form
    if not form.is_valid():
        return False
    upload = form.cleaned_data["file"]
    try:
        report = services.quota_import(actor=request.user, file=upload, filename=upload.name or "")
    except ValidationError as e:
        form.add_error("file", " ".join(e.messages))
        return False
    if report.ok:
        messages.success(request, report.detail())
        return True
    context["report"] = report
    return False


@login_required
def quota_list(request):
    """Quotas and their completion (PIPE-7): a year's completion table by month, quarter or year for everyone
    the user may see; for KA heads and administrators also the grid of quotas to set, and the import."""
    filter_form = QuotaFilterForm(request.GET, viewer=request.user)
    chosen = filter_form.values()
    year, period = chosen["year"], chosen["period"]
    may_set = scopes.may_set_quotas(request.user)
    context = {"import_form": QuotaImportForm(), "grid_errors": {}}
    if request.method == "POST":
        if not may_set:
            raise PermissionDenied
        here = f"{reverse('quota_list')}?{request.GET.urlencode()}"
        if request.POST.get("action") == "import":
            if _import(request, context):
                return redirect(here)
        else:
            context["grid_errors"] = _save_grid(request, year)
            if not context["grid_errors"]:
                return redirect(here)
    completion = selectors.quota_completion(request.user, year=year, period=period, department=chosen["department"],
                                            user=chosen["user"])  # fmt: skip
    grid = _grid(request.user, year) if may_set else []
    if context["grid_errors"]:  # show what was typed, next to its error
        for row in grid:
            for cell in row["cells"]:
                cell["value"] = request.POST.get(cell["name"], cell["value"])
                cell["error"] = context["grid_errors"].get(cell["name"], "")
    state = {cell["name"]: [cell["version"], cell["value"]] for row in grid for cell in row["cells"] if cell["version"]}
    if context["grid_errors"]:
        state = _posted_state(request, state)
    for row in [*completion["people"], *completion["teams"], *filter(None, [completion["company"]])]:
        for cell in [*row.cells, row.total]:
            rate = cell["rate"]
            cell["percent"] = None if rate is None else (rate * 100).quantize(Decimal("0.1"))
            cell["below"] = rate is not None and rate < 1
    context.update({
        "year": year, "period": period, "filter_form": filter_form, "query": _query(request, period=None),
        "periods": [("month", _("by month")), ("quarter", _("by quarter")), ("year", _("by year"))],
        "completion": completion, "rows": [*completion["people"], *completion["teams"]], "may_set": may_set,
        "grid": grid, "state": json.dumps(state, ensure_ascii=False), "months": [f"{m:02d}" for m in MONTHS],
    })  # fmt: skip
    return render(request, "org/quota_list.html", context)


def _query(request, **changes) -> str:
    """The page's query string with some parameters changed (None: left out)."""
    query = request.GET.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    return query.urlencode()


def _posted_state(request, fallback: dict) -> dict:
    """After refused changes, the state read with the page stays (the versions the user's changes are based on)."""
    try:
        state = json.loads(request.POST.get("state") or "{}")
    except ValueError:
        return fallback
    return state if isinstance(state, dict) else fallback

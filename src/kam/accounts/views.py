"""Pages of the customer archive. Thin: parse, fetch through scopes, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kam.accounts import imports, search, selectors, services
from kam.accounts.forms import (
    AccountForm,
    AccountUpdateForm,
    AttachmentForm,
    ContactForm,
    PositionForm,
    PromoteForm,
    TeamMemberForm,
    VisitorForm,
)
from kam.accounts.models import Industry, Lifecycle, Ownership, ValueTier
from kam.core import regions, scopes
from kam.core.errors import ConflictError, DuplicateError
from kam.core.forms import add_service_errors


@login_required
def account_list(request):
    filters = {name: request.GET.get(name, "").strip() for name in selectors.ACCOUNT_FILTERS}
    accounts = selectors.account_list(request.user, filters=filters)
    page = Paginator(accounts, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "industries": Industry.choices,
        "ownerships": Ownership.choices,
        "lifecycles": Lifecycle.choices,
        "tiers": ValueTier.choices,
        "provinces": regions.provinces(),
        "querystring": request.GET.copy(),
    }
    return render(request, "accounts/account_list.html", context)


def _save_account(request, form, *, account=None):
    """Run the create/update service for a bound form; return the account or None (errors on the form)."""
    try:
        if account is None:
            return services.account_create(actor=request.user, fields=form.service_fields(), tags=form.tag_list(),
                                           confirm_duplicates=form.cleaned_data.get("confirm_duplicates"))  # fmt: skip
        return services.account_update(actor=request.user, account=account, fields=form.service_fields(),
                                       version=request.POST.get("version"), tags=form.tag_list(),
                                       confirm_duplicates=form.cleaned_data.get("confirm_duplicates"))  # fmt: skip
    except DuplicateError as e:
        form.duplicates = e.duplicates
        form.duplicates_confirmable = e.confirmable
        form.add_error(None, e.messages[0])
    except ConflictError:
        form.add_error(None, _("Someone else changed this account meanwhile. Reload it and make your change again."))
    except ValidationError as e:
        add_service_errors(form, e)
    return None


@login_required
def account_create(request):
    if not request.user.can_edit_accounts:
        raise PermissionDenied
    form = AccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        account = _save_account(request, form)
        if account:
            messages.success(request, _("Account saved."))
            return redirect("account_detail", pk=account.pk)
    return render(request, "accounts/account_form.html", {"form": form})


@login_required
def account_edit(request, pk):
    account = scopes.get_account_for_user(request.user, pk, write=True)
    form = AccountForm(request.POST or None, instance=account, user=request.user)
    if request.method == "POST" and form.is_valid() and _save_account(request, form, account=account):
        messages.success(request, _("Account saved."))
        return redirect("account_detail", pk=pk)
    return render(request, "accounts/account_form.html", {"form": form, "account": account})


@login_required
def account_detail(request, pk):
    account = selectors.account_detail(request.user, pk)
    positions = list(selectors.account_positions(account))
    context = {
        "account": account,
        "region": regions.label(account.province, account.city, account.district),
        "positions": positions,
        "org_chart": selectors.org_chart(account),
        "branches": selectors.account_branches(request.user, account),
        "head_offices": selectors.account_head_offices(request.user, account),
        "updates": selectors.account_updates(account)[:50],
        "attachments": selectors.account_attachments(account),
        "team": account.team.select_related("user"),
        "can_edit": scopes.can_edit_account(request.user, account),
        "can_see_history": selectors.can_see_history(request.user, account),
        "update_form": AccountUpdateForm(initial={"happened_on": timezone.localdate()}),
        "attachment_form": AttachmentForm(),
        "team_form": TeamMemberForm(),
    }
    if context["can_see_history"]:
        context["history"] = selectors.account_history_entries(account)
    return render(request, "accounts/account_detail.html", context)


@require_POST
@login_required
def account_archive(request, pk):
    account = scopes.get_account_for_user(request.user, pk, write=True)
    try:
        services.account_archive(actor=request.user, account=account, version=request.POST.get("version"),
                                 reason=request.POST.get("reason", ""))  # fmt: skip
        messages.success(request, _("Account archived."))
    except ConflictError:
        messages.error(request, _("Someone else changed this account meanwhile. Reload it and try again."))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("account_detail", pk=pk)


@require_POST
@login_required
def account_update_add(request, pk):
    account = scopes.get_account_for_user(request.user, pk, write=True)
    form = AccountUpdateForm(request.POST)
    if form.is_valid():
        services.account_update_add(actor=request.user, account=account, **form.cleaned_data)
        messages.success(request, _("Dynamic information added."))
    else:
        messages.error(request, "; ".join(f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items()))
    return redirect("account_detail", pk=pk)


@require_POST
@login_required
def attachment_upload(request, pk):
    account = scopes.get_account_for_user(request.user, pk, write=True)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.attachment_add(actor=request.user, account=account, upload=form.cleaned_data["file"],
                                    kind=form.cleaned_data["kind"], description=form.cleaned_data["description"])  # fmt: skip
            messages.success(request, _("File attached."))
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
    else:
        messages.error(request, "; ".join(" ".join(e) for e in form.errors.values()))
    return redirect("account_detail", pk=pk)


@login_required
def attachment_download(request, pk, attachment_pk):
    account = scopes.get_account_for_user(request.user, pk)
    attachment = selectors.account_attachments(account).filter(pk=attachment_pk).first()
    if attachment is None:
        raise Http404
    handle = services.attachment_open(actor=request.user, attachment=attachment)
    return FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
    )


@require_POST
@login_required
def team_member_set(request, pk):
    account = scopes.get_account_for_user(request.user, pk, write=True)
    form = TeamMemberForm(request.POST)
    if form.is_valid():
        try:
            services.team_member_set(actor=request.user, account=account, **form.cleaned_data)
            messages.success(request, _("Team updated."))
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
    return redirect("account_detail", pk=pk)


@login_required
def contact_create(request, pk):
    account = scopes.get_account_for_user(request.user, pk, write=True)
    form = ContactForm(request.POST or None)
    position_form = PositionForm(request.POST or None, account=account, prefix="pos")
    if request.method == "POST" and form.is_valid() and position_form.is_valid():
        try:
            contact = services.contact_create(actor=request.user, account=account, fields=form.service_fields(),
                                              position=position_form.cleaned_data)  # fmt: skip
            messages.success(request, _("Contact saved."))
            return redirect("contact_detail", pk=contact.pk)
        except ValidationError as e:
            add_service_errors(form, e)
    return render(
        request, "accounts/contact_form.html", {"form": form, "position_form": position_form, "account": account}
    )


@login_required
def contact_detail(request, pk):
    contact = scopes.get_contact_for_user(request.user, pk)
    positions = selectors.contact_positions(request.user, contact)
    editable = scopes.editable_accounts(request.user).filter(is_archived=False)
    context = {
        "contact": contact,
        "positions": positions,
        "can_edit": editable.filter(positions__contact=contact).exists(),
        # Accounts where this contact could also take a position (ARC-2: one person, several accounts).
        "other_accounts": editable.exclude(positions__contact=contact).order_by("name_sort")[:200],
    }
    return render(request, "accounts/contact_detail.html", context)


@login_required
def position_add(request, pk):
    """Send the user from the contact page to the position form at the account they picked."""
    contact = scopes.get_contact_for_user(request.user, pk)
    account = scopes.get_account_for_user(request.user, request.GET.get("account") or 0, write=True)
    return redirect("position_edit", pk=account.pk, contact_pk=contact.pk)


@login_required
def contact_personal_file(request, pk):
    """The personal file, loaded on demand so that each opening is audited."""
    contact = scopes.get_contact_for_user(request.user, pk)
    personal = services.contact_personal_file(actor=request.user, contact=contact)
    return render(request, "accounts/contact_personal.html", {"contact": contact, "personal": personal})


@login_required
def contact_edit(request, pk):
    contact = scopes.get_contact_for_user(request.user, pk, write=True)
    if request.method == "GET":
        # The edit form shows the personal file, so opening it is logged like the file itself (GOV-7).
        services.contact_personal_file(actor=request.user, contact=contact)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(actor=request.user, contact=contact, fields=form.service_fields(),
                                    version=request.POST.get("version"))  # fmt: skip
            messages.success(request, _("Contact saved."))
            return redirect("contact_detail", pk=pk)
        except ConflictError:
            form.add_error(
                None, _("Someone else changed this contact meanwhile. Reload it and make your change again.")
            )
        except ValidationError as e:
            add_service_errors(form, e)
    return render(request, "accounts/contact_form.html", {"form": form, "contact": contact})


@login_required
def position_edit(request, pk, contact_pk):
    account = scopes.get_account_for_user(request.user, pk, write=True)
    contact = scopes.get_contact_for_user(request.user, contact_pk)
    position = account.positions.filter(contact=contact).first()
    form = PositionForm(request.POST or None, instance=position, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            services.position_set(actor=request.user, account=account, contact=contact, fields=form.cleaned_data)
            messages.success(request, _("Position saved."))
            return redirect("account_detail", pk=pk)
        except ValidationError as e:
            add_service_errors(form, e)
    return render(request, "accounts/position_form.html", {"form": form, "account": account, "contact": contact})


@login_required
def visitor_list(request):
    visitors = scopes.visible_visitors(request.user).select_related("owner", "account")
    page = Paginator(visitors, 25).get_page(request.GET.get("page"))
    return render(request, "accounts/visitor_list.html", {"page": page})


@login_required
def visitor_create(request):
    form = VisitorForm(request.POST or None, initial={"visited_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.visitor_create(actor=request.user, fields=form.cleaned_data)
            messages.success(request, _("Visitor recorded."))
            return redirect("visitor_list")
        except ValidationError as e:
            add_service_errors(form, e)
    return render(request, "accounts/visitor_form.html", {"form": form})


@login_required
def visitor_promote(request, pk):
    visitor = scopes.get_visitor_for_user(request.user, pk, write=True)
    form = PromoteForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.visitor_promote(actor=request.user, visitor=visitor, account=form.cleaned_data["account"],
                                               confirm_duplicates=form.cleaned_data["confirm_duplicates"])  # fmt: skip
            messages.success(request, _("Visitor promoted to a contact."))
            return redirect("contact_detail", pk=contact.pk)
        except DuplicateError as e:
            form.duplicates = e.duplicates
            form.add_error(None, e.messages[0])
        except ValidationError as e:
            add_service_errors(form, e)
    return render(request, "accounts/visitor_promote.html", {"form": form, "visitor": visitor})


@login_required
def search_page(request):
    q = request.GET.get("q", "").strip()
    results = search.search(request.user, q) if q else None
    return render(request, "accounts/search.html", {"q": q, "results": results})


# ---------------------------------------------------------------------------------------------
# import and export (ARC-8)

IMPORT_PAGE_ROWS = 200  # failed rows shown on the page; the xlsx report has them all


@login_required
def import_page(request):
    """Import accounts or contacts from xlsx or csv (all or nothing), and export what you can see."""
    entity = request.POST.get("entity", "accounts")
    on_duplicate = request.POST.get("on_duplicate", "stop")
    context = {
        "entities": imports.entity_choices(),
        "entity": entity,
        "on_duplicate": on_duplicate,
        "duplicate_choices": [
            ("stop", _("Stop: report the row as an error")),
            ("skip", _("Skip the row and keep the existing record")),
            ("update", _("Update the existing record with the row's filled-in cells")),
        ],
    }
    if request.method == "POST":
        if not request.user.can_edit_accounts:
            raise PermissionDenied
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ValidationError({"file": _("Choose a file to import.")})
            report = imports.import_records(actor=request.user, entity=entity, file=upload, on_duplicate=on_duplicate,
                                            filename=upload.name or "")  # fmt: skip
        except ValidationError as e:
            context["file_error"] = " ".join(e.messages)
        else:
            if report.ok:
                messages.success(request, report.detail())
                return redirect("import_page")
            messages_by_row = report.row_messages()
            context["report"] = report
            context["report_token"] = imports.save_report(report, user=request.user)
            context["failed_rows"] = [
                {"row": row, "content": " · ".join(c for c in cells if c)[:200], "errors": messages_by_row.get(row, "")}
                for row, cells in report.failed_rows[:IMPORT_PAGE_ROWS]
            ]
            context["more_rows"] = report.failed - len(context["failed_rows"])
    return render(request, "accounts/import.html", context)


@login_required
def import_template(request, entity, fmt):
    if entity not in imports.ENTITIES or fmt not in imports.FORMATS:
        raise Http404
    template = imports.import_template(entity=entity, fmt=fmt)
    return FileResponse(
        template.file, as_attachment=True, filename=template.filename, content_type=template.content_type
    )


@login_required
def import_report(request, token):
    """The failed rows of the user's own import; another user's token finds nothing."""
    handle = imports.open_report(user=request.user, token=token)
    if handle is None:
        raise Http404
    return FileResponse(handle, as_attachment=True, filename=imports.report_filename(), content_type=imports.XLSX_TYPE)


@login_required
def export_download(request, entity):
    """Export what the user can see, filtered as the account list (?format=xlsx|csv); audited."""
    fmt = request.GET.get("format", "xlsx")
    if entity not in imports.ENTITIES or fmt not in imports.FORMATS:
        raise Http404
    filters = {name: request.GET.get(name, "").strip() for name in (*selectors.ACCOUNT_FILTERS, "account")}
    if entity == "accounts":
        filters.pop("account")
    result = imports.export_records(actor=request.user, entity=entity, fmt=fmt, filters=filters)
    return FileResponse(result.file, as_attachment=True, filename=result.filename, content_type=result.content_type)

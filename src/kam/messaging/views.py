"""Pages of the messaging platform (MSG-1, MSG-2, ENG-4): templates, the bulk screen with its live preview,
saved audiences, the outbox, a contact's messages and consent, holiday greetings. Thin: parse, fetch through
scopes and selectors, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kam.accounts import search
from kam.accounts.models import AccountContact, BuyingRole
from kam.accounts.selectors import ACCOUNT_FILTERS, account_list
from kam.core import scopes
from kam.core.errors import ConflictError
from kam.core.forms import add_service_errors
from kam.messaging import selectors, services
from kam.messaging.forms import AudienceEditForm, AudienceForm, GreetingSendForm, SendForm, TemplateForm
from kam.messaging.models import ChannelKind, HolidayGreeting, MessageStatus

PICKER_CHOICES = 8  # accounts and contacts offered by the recipient picker per search
PAGE_SIZE = 25
# The services name ids as the API does; the forms name the objects.
FORM_FIELDS = {"template_id": "template", "audience_id": "audience"}


def _service_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        error = ValidationError({FORM_FIELDS.get(k, k): v for k, v in error.error_dict.items()})
    add_service_errors(form, error)


def _can_edit_templates(user) -> bool:
    return user.role in services.TEMPLATE_EDITORS


# ---------------------------------------------------------------------------------------------
# templates (MSG-2)


@login_required
def template_list(request):
    context = {"templates": selectors.template_list(), "can_edit": _can_edit_templates(request.user)}
    return render(request, "messaging/template_list.html", context)


def _template_form_page(request, form, template=None):
    context = {"form": form, "template": template, "fields": _field_names()}
    return render(request, "messaging/template_form.html", context)


@login_required
def template_create(request):
    if not _can_edit_templates(request.user):
        raise PermissionDenied
    form = TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.template_create(actor=request.user, fields=form.cleaned_data)
        except ValidationError as e:
            _service_errors(form, e)
        else:
            messages.success(request, _("Template saved."))
            return redirect("message_template_list")
    return _template_form_page(request, form)


@login_required
def template_edit(request, pk):
    if not _can_edit_templates(request.user):
        raise PermissionDenied
    template = selectors.get_template(pk)
    form = TemplateForm(request.POST or None, initial=TemplateForm.initial_from(template))
    if request.method == "POST" and form.is_valid():
        try:
            services.template_update(actor=request.user, template=template, fields=form.cleaned_data,
                                     version=request.POST.get("version"))  # fmt: skip
        except ConflictError:
            form.add_error(
                None, _("Someone else changed this template meanwhile. Reload it and make your change again.")
            )
        except ValidationError as e:
            _service_errors(form, e)
        else:
            messages.success(request, _("Template saved."))
            return redirect("message_template_list")
    return _template_form_page(request, form, template)


@require_POST
@login_required
def template_archive(request, pk):
    template = selectors.get_template(pk)
    try:
        services.template_archive(actor=request.user, template=template, version=request.POST.get("version"))
        messages.success(request, _("Template archived."))
    except ConflictError:
        messages.error(request, _("Someone else changed this template meanwhile. Reload it and try again."))
    return redirect("message_template_list")


# ---------------------------------------------------------------------------------------------
# the bulk screen (MSG-1): to a saved audience or hand-picked accounts and contacts, now or later


def _picked(user, contact_ids, account_ids):
    """The visible contacts and accounts among the ids picked (a made-up id shows nothing)."""
    contacts = list(scopes.visible_contacts(user).filter(pk__in=contact_ids).order_by("name_sort", "id"))
    accounts = list(scopes.visible_accounts(user).filter(pk__in=account_ids).order_by("name_sort", "id"))
    return contacts, accounts


def _id_list(values) -> list[int]:
    return [int(v) for v in values if str(v).strip().isdigit()]


@login_required
def send(request):
    """One screen for one contact or many: ?contact=, ?account= (its contacts) or ?audience= preset it."""
    user = request.user
    if request.method == "POST":
        form = SendForm(request.POST, user=user)
        contact_ids, account_ids = (
            _id_list(request.POST.getlist("contact_ids")),
            _id_list(request.POST.getlist("account_ids")),
        )
    else:
        contact_ids, account_ids = _id_list(request.GET.getlist("contact")), []
        if (account := request.GET.get("account", "")).isdigit():
            account = scopes.get_account_for_user(user, account)
            contact_ids += list(
                AccountContact.objects.filter(account=account, contact__is_archived=False)
                .order_by("contact__name_sort")
                .values_list("contact_id", flat=True)
            )
        audience = request.GET.get("audience", "")
        form = SendForm(user=user, initial={"audience": audience if audience.isdigit() else None,
                                            "contact_ids": contact_ids})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            batch = services.message_send_bulk(
                actor=user, channel=data["channel"], contact_ids=data["contact_ids"], account_ids=data["account_ids"],
                template=data["template"], text=data["text"], subject=data["subject"], at=form.send_at(),
                audience=data["audience"],
            )  # fmt: skip
        except ValidationError as e:
            _service_errors(form, e)
        else:
            messages.success(request, _("%(n)s messages queued.") % {"n": batch.queued})
            return redirect("message_batch_detail", pk=batch.pk)
    contacts, accounts = _picked(user, contact_ids, account_ids)
    context = {"form": form, "contacts": contacts, "accounts": accounts, "offered_accounts": [],
               "offered_contacts": [], "fields": _field_names()}  # fmt: skip
    return render(request, "messaging/send.html", context)


def _field_names() -> list[str]:
    return [f"{{{obj}.{attr}}}" for obj, attrs in services.FIELDS.items() for attr in sorted(attrs)]


@require_GET
@login_required
def recipient_options(request):
    """Check boxes for the recipient picker: what is picked stays (ticked), then accounts and contacts
    matching the search (the user's own recent accounts before anything is typed)."""
    user = request.user
    q = request.GET.get("recipient_q", "").strip()
    contacts, accounts = _picked(user, _id_list(request.GET.getlist("contact_ids")),
                                 _id_list(request.GET.getlist("account_ids")))  # fmt: skip
    if q:
        offered_accounts = search.search_accounts(user, q, limit=PICKER_CHOICES)
        offered_contacts = search.search_contacts(user, q, limit=PICKER_CHOICES)
    else:
        visible = scopes.visible_accounts(user).only("id", "name").order_by("-updated_at")
        offered_accounts, offered_contacts = list(visible.filter(owner=user)[:PICKER_CHOICES]), []
    picked = {a.pk for a in accounts}, {c.pk for c in contacts}
    context = {"contacts": contacts, "accounts": accounts, "q": q,
               "offered_accounts": [a for a in offered_accounts if a.pk not in picked[0]],
               "offered_contacts": [c for c in offered_contacts if c.pk not in picked[1]]}  # fmt: skip
    return render(request, "messaging/recipient_options.html", context)


@require_GET
@login_required
def send_preview(request):
    """The live preview of the bulk screen: recipients, opted out, the text the first one gets."""
    user = request.user
    chosen = any(v.strip() for k in ("text", "template", "audience", "account_ids", "contact_ids")
                 for v in request.GET.getlist(k))  # fmt: skip
    if not chosen:  # a fresh screen: nothing to preview, and nothing to complain about yet
        return render(request, "messaging/send_preview.html", {})
    form = SendForm(request.GET, user=user)
    context: dict = {"form": form}
    if form.is_valid():
        data = form.cleaned_data
        pairs = selectors.recipients(user, contact_ids=data["contact_ids"], account_ids=data["account_ids"],
                                     audience=data["audience"])  # fmt: skip
        try:
            context["preview"] = services.message_preview(actor=user, channel=data["channel"], pairs=pairs,
                                                          template=data["template"], text=data["text"],
                                                          subject=data["subject"])  # fmt: skip
        except ValidationError as e:
            _service_errors(form, e)
    context["problems"] = [(form.fields[k].label if k in form.fields else "", message)
                           for k, messages_ in form.errors.items() for message in messages_]  # fmt: skip
    return render(request, "messaging/send_preview.html", context)


# ---------------------------------------------------------------------------------------------
# saved audiences


def _filters_from(query) -> dict:
    return {name: query.get(name, "").strip() for name in ACCOUNT_FILTERS if query.get(name, "").strip()}


@login_required
def audience_list(request):
    audiences = list(selectors.audience_list(request.user))
    for audience in audiences:
        audience.can_edit = audience.created_by_id == request.user.pk or _can_edit_templates(request.user)
        audience.role_names = [BuyingRole(r).label for r in audience.buying_roles if r in BuyingRole.values]
    return render(request, "messaging/audience_list.html", {"audiences": audiences})


@login_required
def audience_create(request):
    """Save the account list's current filters (passed in the address) as an audience."""
    source = request.POST if request.method == "POST" else request.GET
    filters = _filters_from(source)
    form = AudienceForm(request.POST or None)
    try:
        count = account_list(request.user, filters=services.audience_clean_filters(filters)).count()
    except ValidationError as e:
        count, problem = None, e.messages[0]
    else:
        problem = None
    if request.method == "POST" and form.is_valid():
        try:
            services.audience_create(actor=request.user, fields={**form.cleaned_data, "filters": filters})
        except ValidationError as e:
            _service_errors(form, e)
        else:
            messages.success(request, _("Audience saved."))
            return redirect("message_audience_list")
    return render(
        request, "messaging/audience_form.html", {"form": form, "filters": filters, "count": count, "problem": problem}
    )


@require_POST
@login_required
def audience_edit(request, pk):
    audience = selectors.audience_detail(request.user, pk)
    form = AudienceEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the audience a name."))
        return redirect("message_audience_list")
    try:
        services.audience_update(actor=request.user, audience=audience, fields=form.cleaned_data,
                                 version=request.POST.get("version"))  # fmt: skip
        messages.success(request, _("Audience saved."))
    except ConflictError:
        messages.error(request, _("Someone else changed this audience meanwhile. Reload it and try again."))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("message_audience_list")


@require_POST
@login_required
def audience_archive(request, pk):
    audience = selectors.audience_detail(request.user, pk)
    try:
        services.audience_archive(actor=request.user, audience=audience, version=request.POST.get("version"))
        messages.success(request, _("Audience archived."))
    except ConflictError:
        messages.error(request, _("Someone else changed this audience meanwhile. Reload it and try again."))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("message_audience_list")


# ---------------------------------------------------------------------------------------------
# the outbox


@login_required
def batch_list(request):
    page = Paginator(selectors.batch_list(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.batch_counts(request.user, page.object_list)
    rows = [(batch, counts[batch.pk]) for batch in page.object_list]
    return render(request, "messaging/batch_list.html", {"page": page, "rows": rows, "statuses": MessageStatus})


@login_required
def batch_detail(request, pk):
    batch = selectors.batch_detail(request.user, pk)
    counts = selectors.batch_counts(request.user, [batch])[batch.pk]
    messages_ = selectors.message_list(request.user, filters={"batch": batch.pk})
    page = Paginator(messages_, PAGE_SIZE * 2).get_page(request.GET.get("page"))
    audience = None
    if audience_id := batch.selection.get("audience_id"):
        audience = selectors.audience_list(request.user).filter(pk=audience_id).first()
    context = {"batch": batch, "counts": counts, "page": page, "audience": audience, "statuses": MessageStatus}
    return render(request, "messaging/batch_detail.html", context)


@login_required
def message_detail(request, pk):
    return render(request, "messaging/message_detail.html", {"message": selectors.message_detail(request.user, pk)})


# ---------------------------------------------------------------------------------------------
# a contact's messages, replies and consent (loaded into the contact page)


@require_GET
@login_required
def contact_messages(request, pk):
    contact = scopes.get_contact_for_user(request.user, pk)
    can_edit = scopes.editable_accounts(request.user).filter(positions__contact=contact).exists()
    context = {
        "contact": contact,
        "sent": selectors.contact_messages(request.user, contact)[:20],
        "replies": selectors.contact_replies(request.user, contact)[:20],
        "consents": [(ChannelKind(kind), consent) for kind, consent in selectors.contact_consents(contact).items()],
        "can_edit": can_edit,
    }
    return render(request, "messaging/contact_messages.html", context)


@require_POST
@login_required
def contact_consent(request, pk, kind):
    """Record an opt-out (or opt-in) the contact told us about; whoever may change the contact may."""
    contact = scopes.get_contact_for_user(request.user, pk, write=True)
    opted_out = request.POST.get("opted_out") == "1"
    try:
        services.consent_set(actor=request.user, contact=contact, kind=kind, opted_out=opted_out,
                             note=request.POST.get("note", ""))  # fmt: skip
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, _("Opted out.") if opted_out else _("Opted in again."))
    return redirect(reverse("contact_detail", args=[contact.pk]) + "#messages")


# ---------------------------------------------------------------------------------------------
# holiday greetings (ENG-4)


@login_required
def greeting_list(request):
    # The choices are read once for all the greetings' forms (a form per greeting would query per row).
    context = {"rows": selectors.greeting_list(), "templates": list(selectors.template_list()),
               "audiences": list(selectors.audience_list(request.user))}  # fmt: skip
    return render(request, "messaging/greeting_list.html", context)


@require_POST
@login_required
def greeting_send(request, pk):
    greeting = get_object_or_404(HolidayGreeting, pk=pk)  # holidays hold no customer data
    form = GreetingSendForm(request.POST, user=request.user, prefix=f"g{pk}")
    if not form.is_valid():
        messages.error(request, " ".join(f"{form.fields[k].label}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("message_greeting_list")
    data = form.cleaned_data
    try:
        greeting = services.greeting_send(actor=request.user, greeting=greeting, template=data["template"],
                                          audience=data["audience"], send_at=data["send_at"])  # fmt: skip
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("message_greeting_list")
    messages.success(request, _("The greeting is queued: %(n)s messages.") % {"n": greeting.batch.queued})
    return redirect("message_batch_detail", pk=greeting.batch_id)

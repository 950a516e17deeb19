"""JSON API of the customer archive: accounts, contacts, visitors, dynamic information, search."""

from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import PageNumberPagination, paginate

from kam.accounts import imports, search, selectors, services
from kam.accounts import schemas as s
from kam.accounts.models import Account, Contact, Visitor
from kam.core import regions, scopes
from kam.core.api import CURRENT_SCHEMAS

router = Router(tags=["accounts"])
CURRENT_SCHEMAS.update({Account: s.AccountOut, Contact: s.ContactOut, Visitor: s.VisitorOut})
User = get_user_model()


class AccountFilters(Schema):
    owner: int | None = None
    department: int | None = None
    province: str | None = None
    city: str | None = None
    industry: str | None = None
    ownership: str | None = None
    lifecycle: str | None = None
    value_tier: str | None = None
    tag: str | None = None
    q: str | None = None
    include_archived: bool = False


def _account_fields(payload, *, partial: bool) -> tuple[dict, list | None, bool]:
    data = payload.dict(exclude_unset=partial)
    data.pop("version", None)
    tags = data.pop("tags", None)
    confirm = data.pop("confirm_duplicates", False)
    # No owner_id: a new account belongs to the caller, an update keeps its owner.
    if (owner_id := data.pop("owner_id", None)) is not None:
        data["owner"] = User.objects.filter(pk=owner_id, is_active=True).first()
        if data["owner"] is None:
            raise ValidationError({"owner_id": _("No such user.")})
    if "parent_id" in data:
        data["parent"] = data.pop("parent_id")
    return data, tags, confirm


@router.get("/accounts", response=list[s.AccountListOut], operation_id="list_accounts")
@paginate(PageNumberPagination)
def list_accounts(request, filters: Query[AccountFilters]):
    """Accounts in your data scope, in pinyin order; filter by owner, department, region, industry,
    ownership type, lifecycle, tag or a text query."""
    values = filters.dict()
    include_archived = values.pop("include_archived")
    return selectors.account_list(request.auth, filters=values, include_archived=include_archived)


@router.post("/accounts", response={201: s.AccountOut}, operation_id="create_account")
def create_account(request, payload: s.AccountIn):
    """Create an account (ARC-1). A duplicate (same credit code or normalized name) is refused with
    409 and the existing record as far as your scope lets you see it (ARC-5)."""
    fields, tags, confirm = _account_fields(payload, partial=False)
    account = services.account_create(actor=request.auth, fields=fields, tags=tags, confirm_duplicates=confirm)
    return Status(201, selectors.account_detail(request.auth, account.pk))


@router.get("/accounts/duplicates", response=list[s.DuplicateOut], operation_id="check_account_duplicates")
def check_account_duplicates(
    request, name: str = "", credit_code: str = "", phone: str = "", exclude: int | None = None
):
    """Accounts that look like the one you are about to save (ARC-5)."""
    from kam.core.validators import clean_phone

    try:
        phone = clean_phone(phone)
    except ValidationError:
        phone = ""
    return services.find_duplicates(actor=request.auth, name=name, credit_code=credit_code.strip().upper(),
                                    phone=phone, exclude_pk=exclude)  # fmt: skip


@router.get("/accounts/{account_id}", response=s.AccountOut, operation_id="get_account")
def get_account(request, account_id: int):
    return selectors.account_detail(request.auth, account_id)


@router.patch("/accounts/{account_id}", response=s.AccountOut, operation_id="update_account")
def update_account(request, account_id: int, payload: s.AccountPatch):
    """Change fields; send the `version` you read. A stale version gets 409 and the current record."""
    account = scopes.get_account_for_user(request.auth, account_id, write=True)
    fields, tags, confirm = _account_fields(payload, partial=True)
    services.account_update(actor=request.auth, account=account, fields=fields, version=payload.version,
                            tags=tags, confirm_duplicates=confirm)  # fmt: skip
    return selectors.account_detail(request.auth, account_id)


@router.post("/accounts/{account_id}/archive", response=s.AccountOut, operation_id="archive_account")
def archive_account(request, account_id: int, payload: s.VersionIn):
    account = scopes.get_account_for_user(request.auth, account_id, write=True)
    services.account_archive(actor=request.auth, account=account, version=payload.version, reason=payload.reason)
    return selectors.account_detail(request.auth, account_id)


@router.get("/accounts/{account_id}/contacts", response=list[s.PositionOut], operation_id="list_account_contacts")
def list_account_contacts(request, account_id: int):
    """The buying centre: each contact's position, role, influence, attitude and reports-to."""
    account = scopes.get_account_for_user(request.auth, account_id)
    return selectors.account_positions(account)


@router.get("/accounts/{account_id}/org-chart", response=dict, operation_id="get_account_org_chart")
def get_account_org_chart(request, account_id: int):
    account = scopes.get_account_for_user(request.auth, account_id)
    return selectors.org_chart(account)


@router.get("/accounts/{account_id}/branches", response=list[s.AccountListOut], operation_id="list_account_branches")
def list_account_branches(request, account_id: int):
    account = scopes.get_account_for_user(request.auth, account_id)
    return selectors.account_branches(request.auth, account)


@router.get("/accounts/{account_id}/updates", response=list[s.AccountUpdateOut], operation_id="list_account_updates")
def list_account_updates(request, account_id: int):
    """Dynamic information (ARC-7), newest first."""
    account = scopes.get_account_for_user(request.auth, account_id)
    return selectors.account_updates(account)


@router.post("/accounts/{account_id}/updates", response={201: s.AccountUpdateOut}, operation_id="create_account_update")
def create_account_update(request, account_id: int, payload: s.AccountUpdateIn):
    account = scopes.get_account_for_user(request.auth, account_id, write=True)
    entry = services.account_update_add(actor=request.auth, account=account, happened_on=payload.happened_on,
                                        content=payload.content)  # fmt: skip
    return Status(201, entry)


@router.get("/accounts/{account_id}/team", response=list[s.TeamMemberOut], operation_id="list_account_team")
def list_account_team(request, account_id: int):
    account = scopes.get_account_for_user(request.auth, account_id)
    return account.team.select_related("user")


@router.put("/accounts/{account_id}/team/{user_id}", response=s.TeamMemberOut, operation_id="set_account_team_member")
def set_account_team_member(request, account_id: int, user_id: int, payload: s.TeamMemberIn):
    """Put a colleague on the account's virtual team with read or write access (GOV-1)."""
    account = scopes.get_account_for_user(request.auth, account_id, write=True)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationError({"user_id": _("No such user.")})
    return services.team_member_set(
        actor=request.auth, account=account, user=user, access=payload.access, duty=payload.duty
    )


@router.delete("/accounts/{account_id}/team/{user_id}", response={204: None}, operation_id="remove_account_team_member")
def remove_account_team_member(request, account_id: int, user_id: int):
    account = scopes.get_account_for_user(request.auth, account_id, write=True)
    user = get_object_or_404(User, pk=user_id)
    services.team_member_remove(actor=request.auth, account=account, user=user)
    return Status(204, None)


@router.get(
    "/accounts/{account_id}/attachments", response=list[s.AttachmentOut], operation_id="list_account_attachments"
)
def list_account_attachments(request, account_id: int):
    account = scopes.get_account_for_user(request.auth, account_id)
    return selectors.account_attachments(account)


@router.post(
    "/accounts/{account_id}/attachments", response={201: s.AttachmentOut}, operation_id="upload_account_attachment"
)
def upload_account_attachment(request, account_id: int, file: File[UploadedFile], kind: Form[str] = "other",
                              description: Form[str] = ""):  # fmt: skip
    """Attach a file (contract copy, licence…): limited types and size, stored outside the web root."""
    account = scopes.get_account_for_user(request.auth, account_id, write=True)
    return Status(
        201,
        services.attachment_add(actor=request.auth, account=account, upload=file, kind=kind, description=description),
    )


@router.get("/accounts/{account_id}/attachments/{attachment_id}", operation_id="download_account_attachment",
            response={200: None})  # fmt: skip
def download_account_attachment(request, account_id: int, attachment_id: int):
    account = scopes.get_account_for_user(request.auth, account_id)
    attachment = selectors.account_attachments(account).filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    handle = services.attachment_open(actor=request.auth, attachment=attachment)
    return FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
    )


@router.get("/accounts/{account_id}/history", response=list[s.AuditEventOut], operation_id="list_account_history")
@paginate(PageNumberPagination)
def list_account_history(request, account_id: int):
    """Who changed what on this account, and when (UTC): for its owner, heads, admins, executives."""
    account = scopes.get_account_for_user(request.auth, account_id, include_archived=True)
    if not selectors.can_see_history(request.auth, account):
        raise Http404
    return selectors.account_history(account)


@router.get("/contacts", response=list[s.ContactOut], operation_id="list_contacts")
@paginate(PageNumberPagination)
def list_contacts(request, q: str = "", account: int | None = None):
    return selectors.contact_list(request.auth, q=q, account=account)


@router.post("/contacts", response={201: s.ContactOut}, operation_id="create_contact")
def create_contact(request, payload: s.ContactIn):
    """Create a contact with a position at an account you may change (ARC-2)."""
    data = payload.dict()
    account = scopes.get_account_for_user(request.auth, data.pop("account_id"), write=True)
    position = data.pop("position")
    return Status(201, services.contact_create(actor=request.auth, account=account, fields=data, position=position))


@router.get("/contacts/{contact_id}", response=s.ContactOut, operation_id="get_contact")
def get_contact(request, contact_id: int):
    return scopes.get_contact_for_user(request.auth, contact_id)


@router.patch("/contacts/{contact_id}", response=s.ContactOut, operation_id="update_contact")
def update_contact(request, contact_id: int, payload: s.ContactPatch):
    contact = scopes.get_contact_for_user(request.auth, contact_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    return services.contact_update(actor=request.auth, contact=contact, fields=data, version=version)


@router.post("/contacts/{contact_id}/archive", response=s.ContactOut, operation_id="archive_contact")
def archive_contact(request, contact_id: int, payload: s.VersionIn):
    contact = scopes.get_contact_for_user(request.auth, contact_id, write=True)
    return services.contact_archive(actor=request.auth, contact=contact, version=payload.version)


@router.get(
    "/contacts/{contact_id}/personal-file", response=s.PersonalFileOut, operation_id="get_contact_personal_file"
)
def get_contact_personal_file(request, contact_id: int):
    """Birthday, family, hometown…: every opening is written to the audit trail."""
    contact = scopes.get_contact_for_user(request.auth, contact_id)
    data = services.contact_personal_file(actor=request.auth, contact=contact)
    born = data["birthday"].year if data["birthday"] else data["birth_year"]
    data["age"] = date.today().year - born if born else None
    return data


@router.get("/contacts/{contact_id}/positions", response=list[s.PositionOut], operation_id="list_contact_positions")
def list_contact_positions(request, contact_id: int):
    contact = scopes.get_contact_for_user(request.auth, contact_id)
    return selectors.contact_positions(request.auth, contact)


@router.put(
    "/contacts/{contact_id}/positions/{account_id}", response=s.PositionOut, operation_id="set_contact_position"
)
def set_contact_position(request, contact_id: int, account_id: int, payload: s.PositionIn):
    """Give the contact a position at (another) account, or change role, influence, reports-to."""
    contact = scopes.get_contact_for_user(request.auth, contact_id)
    account = scopes.get_account_for_user(request.auth, account_id, write=True)
    return services.position_set(actor=request.auth, account=account, contact=contact, fields=payload.dict())


@router.get("/visitors", response=list[s.VisitorOut], operation_id="list_visitors")
@paginate(PageNumberPagination)
def list_visitors(request, status: str = ""):
    visitors = scopes.visible_visitors(request.auth).select_related("owner")
    return visitors.filter(status=status) if status else visitors


@router.post("/visitors", response={201: s.VisitorOut}, operation_id="create_visitor")
def create_visitor(request, payload: s.VisitorIn):
    """Record a walk-in or first contact in a few fields (ARC-3)."""
    return Status(201, services.visitor_create(actor=request.auth, fields=payload.dict()))


@router.get("/visitors/{visitor_id}", response=s.VisitorOut, operation_id="get_visitor")
def get_visitor(request, visitor_id: int):
    return scopes.get_visitor_for_user(request.auth, visitor_id)


@router.patch("/visitors/{visitor_id}", response=s.VisitorOut, operation_id="update_visitor")
def update_visitor(request, visitor_id: int, payload: s.VisitorPatch):
    visitor = scopes.get_visitor_for_user(request.auth, visitor_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    return services.visitor_update(actor=request.auth, visitor=visitor, fields=data, version=version)


@router.post("/visitors/{visitor_id}/promote", response=s.ContactOut, operation_id="promote_visitor")
def promote_visitor(request, visitor_id: int, payload: s.PromoteIn):
    """Make the visitor a contact, at an existing account or a new one made from the employer."""
    visitor = scopes.get_visitor_for_user(request.auth, visitor_id, write=True)
    account = scopes.get_account_for_user(request.auth, payload.account_id, write=True) if payload.account_id else None
    return services.visitor_promote(actor=request.auth, visitor=visitor, account=account,
                                    confirm_duplicates=payload.confirm_duplicates)  # fmt: skip


@router.get("/search", response=s.SearchOut, operation_id="search")
def search_archive(request, q: str):
    """One search over accounts and contacts: Chinese fragments, short names, full pinyin,
    pinyin initials, English names, credit code, phone (ARC-6). Only what you may see."""
    results = search.search(request.auth, q)
    return {"accounts": results.accounts, "contacts": results.contacts}


@router.get("/regions", response=list[s.RegionOut], operation_id="list_regions", auth=None)
def list_regions(request, parent: str = ""):
    """Provinces, or the cities / districts under a code (GB/T 2260)."""
    items = regions.children(parent) if parent else regions.provinces()
    return [{"code": code, "name": name} for code, name in items]


# ---------------------------------------------------------------------------------------------
# import and export (ARC-8)


class ImportErrorOut(Schema):
    row: int
    field: str | None
    column: str
    message: str


class ImportReportOut(Schema):
    ok: bool
    detail: str
    imported: int
    updated: int
    skipped: int
    failed: int
    errors: list[ImportErrorOut]
    errors_truncated: bool = False
    report_url: str | None = Field(None, description="The failed rows with an error column, as xlsx (yours only)")


class ExportFilters(AccountFilters):
    account: int | None = None


def _check_io_entity(entity: str) -> None:
    if entity not in imports.ENTITIES:
        raise Http404


def _file_error(request, error: imports.ImportFileError):
    from kam.core.api import api

    return api.create_response(
        request, {"detail": error.message_text, "errors": [{"field": "file", "message": error.message_text}]},
        status=error.status,
    )  # fmt: skip


@router.get("/imports/templates/{entity}", response={200: None}, operation_id="download_import_template")
def download_import_template(request, entity: str, format: str = "xlsx"):
    """An empty import file for `accounts` or `contacts` (xlsx or csv): required columns marked *,
    a note on each column with the values it accepts (ARC-8)."""
    _check_io_entity(entity)
    template = imports.import_template(entity=entity, fmt=format)
    return FileResponse(
        template.file, as_attachment=True, filename=template.filename, content_type=template.content_type
    )


@router.post("/imports/{entity}", response={200: ImportReportOut, 422: ImportReportOut}, operation_id="import_records")
def import_records(request, entity: str, file: File[UploadedFile], on_duplicate: Form[str] = "stop"):
    """Import `accounts` or `contacts` from xlsx or csv, all or nothing (ARC-8). Existing records
    (ARC-5: same credit code or name) are skipped, updated or reported, as `on_duplicate` says.
    If any row fails: 422 with each failed row, field and reason, and nothing is saved. A file that
    cannot be read (type, size, too many rows, zip bomb, XML declarations, encoding, columns) gets
    4xx with `detail`."""
    _check_io_entity(entity)
    if not request.auth.can_edit_accounts:
        raise PermissionDenied(_("Your role cannot import accounts or contacts."))
    try:
        report = imports.import_records(actor=request.auth, entity=entity, file=file, on_duplicate=on_duplicate,
                                        filename=file.name or "")  # fmt: skip
    except imports.ImportFileError as e:
        return _file_error(request, e)
    data = report.as_dict()
    if report.ok:
        return Status(200, data)
    token = imports.save_report(report, user=request.auth)
    data["report_url"] = reverse("api:download_import_report", kwargs={"token": token})
    return Status(422, data)


@router.get("/imports/reports/{token}", response={200: None}, operation_id="download_import_report",
            url_name="download_import_report")  # fmt: skip
def download_import_report(request, token: str):
    """The failed rows of one of your imports with an error column (xlsx), kept for a day."""
    handle = imports.open_report(user=request.auth, token=token)
    if handle is None:
        raise Http404
    return FileResponse(handle, as_attachment=True, filename=imports.report_filename(), content_type=imports.XLSX_TYPE)


@router.get("/exports/{entity}", response={200: None}, operation_id="export_records")
def export_records(request, entity: str, filters: Query[ExportFilters], format: str = "xlsx"):
    """Export the `accounts` or `contacts` you can see as xlsx or csv, with the filters of
    list_accounts (for contacts, `q` searches contacts and `account` picks one account). Every
    export is written to the audit trail."""
    _check_io_entity(entity)
    values = filters.dict()
    include_archived = values.pop("include_archived")
    if entity == "accounts":
        values.pop("account")
        result = imports.export_accounts(
            actor=request.auth, fmt=format, filters=values, include_archived=include_archived
        )
    else:
        result = imports.export_contacts(actor=request.auth, fmt=format, filters=values)
    return FileResponse(result.file, as_attachment=True, filename=result.filename, content_type=result.content_type)

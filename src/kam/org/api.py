"""JSON API of the organisation: departments and users (read), quotas (PIPE-7)."""

from typing import Literal

from django.http import Http404
from ninja import File, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import PageNumberPagination, paginate

from kam.accounts.imports import ImportFileError
from kam.core import scopes
from kam.core.api import CURRENT_SCHEMAS, api
from kam.org import schemas as s
from kam.org import selectors, services
from kam.org.models import Quota, User

router = Router(tags=["organisation"])


@router.get("/me", response=s.UserOut, operation_id="get_me")
def get_me(request):
    return request.auth


@router.get("/departments", response=list[s.DepartmentOut], operation_id="list_departments")
def list_departments(request):
    """The department tree (your subtree, or all with scope 'all'), in tree order."""
    return scopes.visible_departments(request.auth)


@router.get("/users", response=list[s.UserOut], operation_id="list_users")
@paginate(PageNumberPagination)
def list_users(request, role: str = "", department: int | None = None):
    """Colleagues in departments you may see."""
    users = User.objects.filter(department__in=scopes.visible_departments(request.auth))
    if role:
        users = users.filter(role=role)
    if department:
        users = users.filter(department_id=department)
    return users.order_by("username")


@router.get("/users/{user_id}", response=s.UserOut, operation_id="get_user")
def get_user(request, user_id: int):
    user = User.objects.filter(pk=user_id, department__in=scopes.visible_departments(request.auth)).first()
    if user is None and user_id != request.auth.pk:
        raise Http404
    return user or request.auth


# --- quotas (PIPE-7) [h1]

CURRENT_SCHEMAS[Quota] = s.QuotaOut


def _visible_user(viewer, user_id: int | None):
    """A person whose quota the viewer may see, or 404 (None when not asked for)."""
    if user_id is None:
        return None
    user = selectors.quota_people(viewer).filter(pk=user_id).first()
    if user is None:
        raise Http404
    return user


def _visible_team(viewer, department_id: int | None):
    """A team whose figures the viewer may see, or 404 (None when not asked for)."""
    if department_id is None:
        return None
    department = selectors.quota_teams(viewer).filter(pk=department_id).first()
    if department is None:
        raise Http404
    return department


@router.get("/quotas", response=list[s.QuotaOut], operation_id="list_quotas")
@paginate(PageNumberPagination)
def list_quotas(request, year: int | None = None, user: int | None = None, department: int | None = None):
    """Monthly quotas (定额, CNY) of the KA managers and teams you may see; filter by year, by a person
    (`user`) or by a team (`department`: its own quotas and those of the people in its subtree)."""
    return selectors.quota_list(request.auth, year=year, user=_visible_user(request.auth, user),
                                department=_visible_team(request.auth, department))  # fmt: skip


@router.put("/quotas", response=s.QuotaBulkOut, operation_id="set_quotas")
def set_quotas(request, payload: list[s.QuotaIn]):
    """Set many quotas at once, all or nothing (KA heads for their scope, administrators): each entry names a
    `user` or a `department`, the `month` and the `amount` (null removes the quota). A bad entry is 422 with
    `errors` naming "<index>.<field>" and nothing saved; a stale `version` is 409 and nothing saved."""
    entries = [item.dict(exclude_unset=True) for item in payload]
    result = services.quota_bulk_set(actor=request.auth, entries=entries)
    return {"created": result.created, "updated": result.updated, "deleted": result.deleted,
            "unchanged": result.unchanged, "items": result.quotas}  # fmt: skip


@router.post("/quotas/import", response={201: s.QuotaImportReportOut, 422: s.QuotaImportReportOut},
             operation_id="import_quotas")  # fmt: skip
def import_quotas(request, file: File[UploadedFile]):
    """Import quotas from a sheet (csv or xlsx; columns 经理/用户名 or 团队, 月份, 定额), all or nothing: 201
    with the counts, or 422 with each failed row, column and reason and nothing saved. A file that cannot be
    read or has wrong columns gets 4xx with `detail`."""
    try:
        report = services.quota_import(actor=request.auth, file=file, filename=file.name or "")
    except ImportFileError as e:
        body = {"detail": e.message_text, "errors": [{"field": "file", "message": e.message_text}]}
        return api.create_response(request, body, status=e.status)
    return Status(201 if report.ok else 422, report.as_dict())


@router.get("/quotas/completion", response=s.CompletionOut, operation_id="get_quota_completion")
def get_quota_completion(request, year: int, period: Literal["month", "quarter", "year"] = "month",
                         department: int | None = None, user: int | None = None):  # fmt: skip
    """Quota completion (定额完成率) of a year by month, quarter or year: per manager, per team (its own
    quota, else its members' added up) and for the company (scope 'all'); actual = sales credited to the
    manager when recorded; rate = actual / quota, null without a quota."""
    return selectors.quota_completion(request.auth, year=year, period=period,
                                      department=_visible_team(request.auth, department),
                                      user=_visible_user(request.auth, user))  # fmt: skip

"""JSON API of the organisation: departments and users (read)."""

from django.http import Http404
from ninja import Router
from ninja.pagination import PageNumberPagination, paginate

from kam.core import scopes
from kam.org import schemas as s
from kam.org.models import User

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

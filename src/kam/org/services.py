"""Writes on the organisation: departments and users, audited."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kam.core import audit
from kam.core.models import AuditAction
from kam.org.models import DEFAULT_SCOPE, DataScope, Department, DepartmentKind, Role, User

USER_FIELDS = [
    "username",
    "display_name",
    "email",
    "role",
    "department",
    "data_scope",
    "phone",
    "is_active",
    "language",
]


@transaction.atomic
def department_create(
    *, actor, name: str, kind: str = DepartmentKind.TEAM, parent: Department | None = None
) -> Department:
    department = Department(name=(name or "").strip(), kind=kind, parent=parent)
    department.full_clean(exclude=["path"], validate_unique=False, validate_constraints=False)
    if Department.objects.filter(parent=parent, name=department.name).exists():
        raise ValidationError({"name": _("A department of this name already exists here.")})
    department.save()
    department.path = f"{parent.path if parent else '/'}{department.pk}/"
    department.save(update_fields=["path"])
    audit.record(actor=actor, action=AuditAction.CREATE, target=department,
                 changes={"name": [None, department.name], "parent": [None, parent.pk if parent else None]})  # fmt: skip
    return department


def department_get_or_create_path(*, actor, names: list[str]) -> Department:
    """The department at the end of a path of names ("总公司/华东分公司/大客户部"), created if missing."""
    kinds = [DepartmentKind.COMPANY, DepartmentKind.BRANCH, DepartmentKind.KA_DEPARTMENT, DepartmentKind.TEAM]
    parent = None
    for depth, name in enumerate(n.strip() for n in names if n.strip()):
        found = Department.objects.filter(parent=parent, name=name).first()
        parent = found or department_create(actor=actor, name=name, kind=kinds[min(depth, 3)], parent=parent)
    if parent is None:
        raise ValidationError({"department": _("Name a department.")})
    return parent


@transaction.atomic
def department_move(*, actor, department: Department, parent: Department | None) -> Department:
    """Move a department (and its subtree) under another parent, keeping the paths right."""
    if parent and parent.path.startswith(department.path):
        raise ValidationError({"parent": _("A department cannot move under itself.")})
    old_path = department.path
    new_path = f"{parent.path if parent else '/'}{department.pk}/"
    before = department.parent_id
    department.parent = parent
    department.save(update_fields=["parent"])
    for node in Department.objects.filter(path__startswith=old_path):
        node.path = new_path + node.path[len(old_path) :]
        node.save(update_fields=["path"])
    audit.record(actor=actor, action=AuditAction.UPDATE, target=department,
                 changes={"parent": [before, parent.pk if parent else None]})  # fmt: skip
    return department


@transaction.atomic
def user_create(*, actor, username: str, password: str | None, role: str, department: Department | None,
                data_scope: str | None = None, display_name: str = "", email: str = "") -> User:  # fmt: skip
    """Create a user with one role and a data scope (defaulting by role)."""
    if role not in Role.values:
        raise ValidationError(
            {"role": _("Unknown role. Choose one of: %(roles)s.") % {"roles": ", ".join(Role.values)}}
        )
    scope = data_scope or DEFAULT_SCOPE[Role(role)]
    if scope not in DataScope.values:
        raise ValidationError(
            {"data_scope": _("Unknown data scope. Choose one of: %(s)s.") % {"s": ", ".join(DataScope.values)}}
        )
    user = User(username=username, role=role, department=department, data_scope=scope,
                display_name=display_name, email=email, is_staff=(role == Role.ADMIN),
                is_superuser=(role == Role.ADMIN))  # fmt: skip
    user.full_clean(exclude=["password"])
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit.record(actor=actor, action=AuditAction.CREATE, target=user,
                 changes=audit.diff({}, audit.snapshot(user, USER_FIELDS)))  # fmt: skip
    return user


def user_record_change(*, actor, user: User, before: dict) -> None:
    """Audit a change made to a user elsewhere (the admin screens), from a snapshot taken before."""
    changes = audit.diff(before, audit.snapshot(user, USER_FIELDS))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, target=user, changes=changes)


@transaction.atomic
def user_update(*, actor, user: User, fields: dict) -> User:
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in unknown})
    before = audit.snapshot(user, USER_FIELDS)
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    user.version += 1
    user.save()
    if "department" in fields:
        # Accounts follow their owner's department, so scopes stay right.
        user.owned_accounts.update(department=user.department)
    user_record_change(actor=actor, user=user, before=before)
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> None:
    User.objects.filter(pk=user.pk).update(language=language)

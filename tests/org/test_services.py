"""Organisation: department tree, users with roles and scopes, all audited (GOV-7)."""

import pytest
from django.core.exceptions import ValidationError

from kam.core.models import AuditAction, AuditEvent
from kam.org import services
from kam.org.models import DataScope, Department, Role


def test_department_tree_paths_and_move(org):
    assert org.team_a.path.startswith(org.east_ka.path) and org.east_ka.path.startswith(org.company.path)
    services.department_move(actor=None, department=org.east_ka, parent=org.south)
    org.team_a.refresh_from_db()
    assert org.team_a.path.startswith(Department.objects.get(pk=org.south.pk).path)
    with pytest.raises(ValidationError):
        services.department_move(actor=None, department=org.south, parent=org.team_a)


def test_department_names_are_unique_under_one_parent(org):
    with pytest.raises(ValidationError):
        services.department_create(actor=None, name="一组", parent=org.east_ka)


def test_every_role_has_a_default_scope(org):
    expected = {Role.KA_MANAGER: DataScope.OWN, Role.KA_HEAD: DataScope.SUBTREE, Role.EXECUTIVE: DataScope.ALL,
                Role.FINANCE: DataScope.ALL, Role.SERVICE: DataScope.SUBTREE, Role.ADMIN: DataScope.ALL}  # fmt: skip
    for role, scope in expected.items():
        user = services.user_create(actor=None, username=f"u_{role}", password=None, role=role, department=org.team_a)
        assert user.data_scope == scope


def test_gov7_user_create_and_update_are_audited(people, org):
    services.user_update(actor=people.admin, user=people.colleague, fields={"data_scope": DataScope.DEPARTMENT})
    event = AuditEvent.objects.filter(
        target_type="org.user", target_id=str(people.colleague.pk), action=AuditAction.UPDATE
    ).get()
    assert event.changes == {"data_scope": ["own", "department"]} and event.actor == people.admin
    assert AuditEvent.objects.filter(target_type="org.user", action=AuditAction.CREATE).count() == 10


def test_unknown_role_or_scope_is_named(org):
    with pytest.raises(ValidationError) as e:
        services.user_create(actor=None, username="x", password=None, role="boss", department=org.team_a)
    assert "role" in e.value.message_dict
    with pytest.raises(ValidationError) as e:
        services.user_create(
            actor=None, username="y", password=None, role="finance", department=org.team_a, data_scope="world"
        )
    assert "data_scope" in e.value.message_dict


def test_passwords_are_argon2(org):
    user = services.user_create(
        actor=None, username="pw", password="Kam-test-pass-2026", role="finance", department=org.team_a
    )
    assert user.password.startswith("argon2$")

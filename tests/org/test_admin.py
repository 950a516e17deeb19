"""An admin manages departments and users in the app; every change is audited (GOV-7)."""

from kam.core.models import AuditAction, AuditEvent
from kam.org.models import Department, Role, User


def test_admin_creates_a_department_under_a_parent(people, org, page_client):
    client = page_client(people.admin)
    response = client.post("/admin/org/department/add/", {"name": "三组", "kind": "team", "parent": org.east_ka.pk})
    assert response.status_code == 302
    team = Department.objects.get(name="三组")
    assert team.path == f"{org.east_ka.path}{team.pk}/"
    assert AuditEvent.objects.filter(
        target_type="org.department", action=AuditAction.CREATE, actor=people.admin
    ).exists()


def test_admin_changes_a_users_role_and_scope_audited(people, org, page_client):
    client = page_client(people.admin)
    user = people.colleague
    data = {
        "username": user.username, "display_name": "王伟", "role": Role.KA_HEAD, "department": org.east_ka.pk,
        "data_scope": "subtree", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "phone": "", "language": "", "first_name": "", "last_name": "", "email": "",
    }  # fmt: skip
    response = client.post(f"/admin/org/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert (user.role, user.data_scope, user.department) == (Role.KA_HEAD, "subtree", org.east_ka)
    event = AuditEvent.objects.filter(target_type="org.user", target_id=str(user.pk), action=AuditAction.UPDATE).get()
    assert event.changes["role"] == ["ka_manager", "ka_head"]


def test_admin_screens_are_closed_to_other_roles(people, page_client):
    for persona in (people.manager, people.head, people.executive):
        assert page_client(persona).get("/admin/org/user/").status_code == 302  # to the admin login


def test_deactivating_a_user_is_audited(people, page_client):
    user = people.outsider
    client = page_client(people.admin)
    data = {"username": user.username, "display_name": user.display_name, "role": user.role,
            "department": user.department_id, "data_scope": user.data_scope, "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00"}  # fmt: skip
    assert client.post(f"/admin/org/user/{user.pk}/change/", data).status_code == 302
    assert not User.objects.get(pk=user.pk).is_active
    event = AuditEvent.objects.filter(target_type="org.user", target_id=str(user.pk), action=AuditAction.UPDATE).get()
    assert event.changes["is_active"] == [True, False]

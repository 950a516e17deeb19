"""Data scopes, the one choke point (GOV-7, GOV-1): who sees and who changes which account."""

import pytest
from django.http import Http404

from kam.accounts import services
from kam.core import scopes


@pytest.fixture
def accounts(people, make_account):
    return {
        "manager": make_account(people.manager, name="李娜的客户"),
        "colleague": make_account(people.colleague, name="王伟的客户"),
        "sibling": make_account(people.sibling, name="二组的客户"),
        "outsider": make_account(people.outsider, name="华南的客户"),
    }


def visible(user):
    return sorted(a.name for a in scopes.visible_accounts(user))


def test_own_scope_sees_only_own_accounts(people, accounts):
    assert visible(people.manager) == ["李娜的客户"]


def test_department_scope_sees_the_department(people, accounts):
    assert visible(people.dept_viewer) == ["李娜的客户", "王伟的客户"]


def test_subtree_scope_sees_department_and_below(people, accounts):
    assert visible(people.head) == ["二组的客户", "李娜的客户", "王伟的客户"]


def test_service_subtree_of_branch(people, accounts):
    assert visible(people.service) == ["二组的客户", "李娜的客户", "王伟的客户"]


@pytest.mark.parametrize("persona", ["executive", "finance", "admin"])
def test_all_scope_sees_everything(people, accounts, persona):
    assert len(visible(getattr(people, persona))) == 4


def test_gov1_team_membership_adds_visibility(people, accounts):
    services.team_member_set(actor=people.outsider, account=accounts["outsider"], user=people.manager, access="read")
    assert visible(people.manager) == ["华南的客户", "李娜的客户"]
    assert not scopes.can_edit_account(people.manager, accounts["outsider"])
    services.team_member_set(actor=people.outsider, account=accounts["outsider"], user=people.manager, access="write")
    assert scopes.can_edit_account(people.manager, accounts["outsider"])


def test_foreign_account_is_not_found(people, accounts):
    with pytest.raises(Http404):
        scopes.get_account_for_user(people.manager, accounts["outsider"].pk)


def test_department_viewer_reads_but_does_not_write_colleagues_accounts(people, accounts):
    assert scopes.get_account_for_user(people.dept_viewer, accounts["colleague"].pk)
    with pytest.raises(Http404):
        scopes.get_account_for_user(people.dept_viewer, accounts["colleague"].pk, write=True)


def test_head_writes_in_her_subtree_only(people, accounts):
    assert scopes.can_edit_account(people.head, accounts["sibling"])
    assert not scopes.can_edit_account(people.head, accounts["outsider"])


@pytest.mark.parametrize("persona", ["executive", "finance", "service"])
def test_read_only_roles_do_not_write(people, accounts, persona):
    assert not scopes.editable_accounts(getattr(people, persona)).exists()


def test_inactive_user_sees_nothing(people, accounts):
    people.executive.is_active = False
    assert visible(people.executive) == []


def test_archived_accounts_are_hidden_from_lists_but_reachable_for_history(people, accounts):
    services.account_archive(actor=people.manager, account=accounts["manager"], version=1)
    assert visible(people.manager) == []
    assert scopes.get_account_for_user(people.manager, accounts["manager"].pk, include_archived=True)


def test_contacts_follow_their_accounts(people, accounts, make_contact):
    make_contact(accounts["manager"], name="甲")
    make_contact(accounts["outsider"], name="乙")
    assert [c.name for c in scopes.visible_contacts(people.manager)] == ["甲"]
    assert sorted(c.name for c in scopes.visible_contacts(people.executive)) == ["乙", "甲"]


def test_moving_a_user_moves_her_accounts_department(people, org, accounts):
    from kam.org.services import user_update

    user_update(actor=people.admin, user=people.manager, fields={"department": org.south_ka})
    accounts["manager"].refresh_from_db()
    assert accounts["manager"].department == org.south_ka
    assert "李娜的客户" not in visible(people.head)


def test_a_foreign_head_office_is_not_named_and_not_lost_on_edit(people, make_account, api, page_client):
    """A branch in scope whose head office is not: the head office is neither shown nor detached (GOV-7)."""
    from kam.accounts.models import Account

    head_office = make_account(people.outsider, name="华南总部有限公司")
    branch = make_account(people.outsider, name="上海分部有限公司", parent=head_office.pk)
    # The branch moves to our manager (transfers come with GOV-3; here the row is simply moved).
    Account.objects.filter(pk=branch.pk).update(owner=people.manager, department=people.manager.department)
    assert api(people.manager).get(f"/accounts/{branch.pk}").json()["parent"] is None
    client = page_client(people.manager)
    assert "华南总部" not in client.get(f"/accounts/{branch.pk}/").content.decode()
    form_page = client.get(f"/accounts/{branch.pk}/edit/").content.decode()
    assert "华南总部" not in form_page
    client.post(f"/accounts/{branch.pk}/edit/", {"name": "上海分部有限公司", "lifecycle": "customer", "version": 1})
    branch.refresh_from_db()
    assert branch.parent_id == head_office.pk and branch.lifecycle == "customer"

"""Who sees and changes activities and tasks (ENG-1, ENG-3, GOV-7): an activity is visible exactly
when its account is; a task to its assignee, its creator and whoever sees its account. What one may
not see is 404 (in lists: absent); what one sees but may not change is 403."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from kam.accounts import services as account_services
from kam.accounts.models import TeamAccess
from kam.core import scopes


@pytest.fixture
def world(people, make_account, make_activity, make_task):
    own = make_account(people.manager, name="本人客户有限公司")
    foreign = make_account(people.outsider, name="外地客户有限公司")
    return {
        "own": own,
        "foreign": foreign,
        "own_activity": make_activity(own, subject="本人拜访"),
        "foreign_activity": make_activity(foreign, subject="外地拜访"),
        "own_task": make_task(people.manager, account=own, title="本人任务"),
        "foreign_task": make_task(people.outsider, account=foreign, title="外地任务"),
    }


@pytest.mark.parametrize(
    "persona, sees_own, sees_foreign",
    [("manager", True, False), ("colleague", False, False), ("dept_viewer", True, False), ("head", True, False),
     ("outsider", False, True), ("executive", True, True), ("service", True, False), ("admin", True, True)],
)  # fmt: skip
def test_eng1_an_activity_is_visible_exactly_when_its_account_is(people, world, persona, sees_own, sees_foreign):
    user = getattr(people, persona)
    visible = set(scopes.visible_activities(user))
    assert (world["own_activity"] in visible, world["foreign_activity"] in visible) == (sees_own, sees_foreign)
    for key, expected in (("own_activity", sees_own), ("foreign_activity", sees_foreign)):
        if expected:
            assert scopes.get_activity_for_user(user, world[key].pk) == world[key]
        else:
            with pytest.raises(Http404):
                scopes.get_activity_for_user(user, world[key].pk)


def test_eng1_whoever_may_change_the_account_may_change_its_activities(people, world):
    activity = world["own_activity"]
    assert scopes.get_activity_for_user(people.head, activity.pk, write=True) == activity
    with pytest.raises(PermissionDenied):  # sees her department, changes nothing she does not own
        scopes.get_activity_for_user(people.dept_viewer, activity.pk, write=True)
    with pytest.raises(Http404):
        scopes.get_activity_for_user(people.outsider, activity.pk, write=True)


def test_eng1_a_read_only_colleague_keeps_the_record_of_her_own_visit(people, world, make_activity):
    """The executive (read-only role) records an executive visit at an account she sees; she may
    correct it, the department viewer may not; the account's owner may."""
    visit = make_activity(world["own"], actor=people.executive, kind="executive_visit")
    assert scopes.can_edit_activity(people.executive, visit)
    assert scopes.get_activity_for_user(people.executive, visit.pk, write=True) == visit
    assert scopes.get_activity_for_user(people.manager, visit.pk, write=True) == visit
    with pytest.raises(PermissionDenied):
        scopes.get_activity_for_user(people.dept_viewer, visit.pk, write=True)


def test_eng1_the_recorder_loses_the_activity_with_the_account(people, world, make_account, make_activity):
    """A read-only team member records a visit, then leaves the team: the activity is gone for her."""
    account = make_account(people.sibling, name="兄弟组客户有限公司")
    account_services.team_member_set(actor=people.sibling, account=account, user=people.manager,
                                     access=TeamAccess.READ)  # fmt: skip
    visit = make_activity(account, actor=people.manager)
    assert scopes.get_activity_for_user(people.manager, visit.pk, write=True) == visit
    account_services.team_member_remove(actor=people.sibling, account=account, user=people.manager)
    with pytest.raises(Http404):
        scopes.get_activity_for_user(people.manager, visit.pk, write=True)


def test_eng1_archived_activities_and_accounts_leave_the_lists(people, world, make_activity):
    from kam.engagement import services

    activity = world["own_activity"]
    services.activity_archive(actor=people.manager, activity=activity, version=1)
    assert activity not in scopes.visible_activities(people.manager)
    assert activity in scopes.visible_activities(people.manager, include_archived=True)
    with pytest.raises(Http404):
        scopes.get_activity_for_user(people.manager, activity.pk)
    assert scopes.get_activity_for_user(people.manager, activity.pk, include_archived=True) == activity


def test_eng3_a_task_is_seen_by_its_assignee_its_creator_and_whoever_sees_its_account(people, world, make_task):
    own_task = world["own_task"]
    for persona in ("manager", "dept_viewer", "head", "executive", "admin"):
        assert own_task in scopes.visible_tasks(getattr(people, persona)), persona
    for persona in ("colleague", "outsider", "sibling"):
        assert own_task not in scopes.visible_tasks(getattr(people, persona)), persona
        with pytest.raises(Http404):
            scopes.get_task_for_user(getattr(people, persona), own_task.pk)
    # A task without an account: only its assignee and its creator, not even an administrator.
    private = make_task(people.manager, title="私人提醒", assignee=people.colleague)
    assert {u for u in people.__dict__.values() if private in scopes.visible_tasks(u)} == {
        people.manager,
        people.colleague,
    }


def test_eng3_a_task_is_changed_by_assignee_creator_and_account_editors(people, world, make_task):
    task = make_task(people.manager, account=world["own"], title="交给主任", assignee=people.head)
    for persona in ("manager", "head"):  # creator (and owner), assignee (and head in scope)
        assert scopes.get_task_for_user(getattr(people, persona), task.pk, write=True) == task
    for persona in ("dept_viewer", "executive", "service"):
        with pytest.raises(PermissionDenied):
            scopes.get_task_for_user(getattr(people, persona), task.pk, write=True)
    assert set(scopes.editable_tasks(people.dept_viewer)) == set()
    assert set(scopes.editable_tasks(people.head)) >= {task, world["own_task"]}


def test_eng3_an_inactive_user_sees_nothing(people, world):
    people.manager.is_active = False
    assert not scopes.visible_tasks(people.manager).exists()
    assert not scopes.visible_activities(people.manager).exists()
    assert not scopes.editable_tasks(people.manager).exists()

"""Activity and task services: recording visits with both sides and the next step (ENG-1), tasks
and their states (ENG-3), versions, archival and the audit trail."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kam.core.errors import ConflictError
from kam.core.models import AuditAction, AuditEvent
from kam.engagement import services
from kam.engagement.models import Activity, Task, TaskStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")


def errors_of(excinfo) -> set[str]:
    return set(excinfo.value.message_dict)


def test_eng1_record_a_visit_with_both_sides_and_audit_it(people, make_account, make_contact):
    account = make_account(people.manager)
    boss, buyer = make_contact(account, name="刘金"), make_contact(account, name="王采购")
    when = timezone.now() - timedelta(hours=2)
    activity = services.activity_create(
        actor=people.manager, account=account,
        fields={"kind": "visit", "happened_at": when, "contacts": [boss.pk, buyer.pk],
                "participants": [people.manager.pk, people.head.pk], "subject": "技术交流",
                "notes": "介绍新产品", "outcome": "同意试用"},
    )  # fmt: skip
    activity.refresh_from_db()
    assert (activity.kind, activity.happened_at, activity.created_by) == ("visit", when, people.manager)
    assert set(activity.contacts.all()) == {boss, buyer}
    assert set(activity.participants.all()) == {people.manager, people.head}
    event = AuditEvent.objects.get(action=AuditAction.CREATE, target_type="engagement.activity")
    assert event.account_id == account.pk and event.actor == people.manager
    assert sorted(event.changes["contacts"][1]) == sorted([boss.pk, buyer.pk])
    assert not Task.objects.exists()


def test_eng1_our_participants_default_to_whoever_records_it(people, make_account, make_activity):
    activity = make_activity(make_account(people.manager))
    assert list(activity.participants.all()) == [people.manager]


def test_eng1_happened_at_defaults_to_now(people, make_account):
    activity = services.activity_create(actor=people.manager, account=make_account(people.manager), fields={})
    assert abs(activity.happened_at - timezone.now()) < timedelta(seconds=5)


def test_eng1_a_contact_of_another_account_is_refused(people, make_account, make_contact):
    account, other = make_account(people.manager), make_account(people.manager)
    stranger = make_contact(other, name="别家的人")
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=account, fields={"contacts": [stranger.pk]})
    assert errors_of(e) == {"contacts"}
    assert not Activity.objects.exists()


def test_eng1_an_archived_contact_is_refused(people, make_account, make_contact):
    from kam.accounts import services as account_services

    account = make_account(people.manager)
    gone = account_services.contact_archive(actor=people.manager, contact=make_contact(account), version=1)
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=account, fields={"contacts": [gone.pk]})
    assert errors_of(e) == {"contacts"}


def test_eng1_an_inactive_participant_is_refused(people, make_account):
    people.colleague.is_active = False
    people.colleague.save()
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=make_account(people.manager),
                                 fields={"participants": [people.colleague.pk]})  # fmt: skip
    assert errors_of(e) == {"participants"}


def test_eng1_a_time_in_the_future_is_refused_but_a_few_minutes_of_clock_drift_is_not(people, make_account):
    account = make_account(people.manager)
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=account,
                                 fields={"happened_at": timezone.now() + timedelta(hours=2)})  # fmt: skip
    assert errors_of(e) == {"happened_at"}
    activity = services.activity_create(actor=people.manager, account=account,
                                        fields={"happened_at": timezone.now() + timedelta(minutes=2)})  # fmt: skip
    assert activity.pk


@pytest.mark.parametrize(
    "field, value",
    [("kind", "lunch"), ("kind", ""), ("subject", "x" * 201), ("happened_at", "not a time"), ("notes", "x" * 5001)],
)
def test_eng1_bad_fields_are_named(people, make_account, field, value):
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=make_account(people.manager), fields={field: value})
    assert field in errors_of(e)


def test_eng1_unknown_fields_are_named(people, make_account):
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=make_account(people.manager), fields={"owner": 1})
    assert errors_of(e) == {"owner"}


def test_eng1_a_time_without_a_zone_is_shanghai_time(people, make_account):
    naive = datetime(2026, 1, 5, 9, 30)
    activity = services.activity_create(actor=people.manager, account=make_account(people.manager),
                                        fields={"happened_at": naive})  # fmt: skip
    activity.refresh_from_db()
    assert activity.happened_at == datetime(2026, 1, 5, 9, 30, tzinfo=SHANGHAI)
    assert activity.happened_at.utcoffset() is not None


def test_eng1_an_archived_account_takes_no_new_activities(people, make_account):
    from kam.accounts import services as account_services

    account = account_services.account_archive(actor=people.manager, account=make_account(people.manager), version=1)
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=account, fields={})
    assert errors_of(e) == {"account"}


def test_eng3_the_next_step_becomes_an_open_task_of_the_recorder(people, make_account, make_activity):
    account = make_account(people.manager)
    due = timezone.now() + timedelta(days=2)
    activity = make_activity(account, next_step="寄送报价单", next_step_due=due)
    task = Task.objects.get()
    assert (task.title, task.due_at, task.status) == ("寄送报价单", due, TaskStatus.OPEN)
    assert (task.assignee, task.created_by, task.account, task.activity) == (
        people.manager,
        people.manager,
        account,
        activity,
    )
    event = AuditEvent.objects.get(action=AuditAction.CREATE, target_type="engagement.task")
    assert event.account_id == account.pk and event.extra == {"activity": activity.pk}


def test_eng3_a_next_step_needs_a_due_time_and_a_due_time_needs_a_next_step(people, make_account):
    account = make_account(people.manager)
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=account, fields={"next_step": "回访"})
    assert errors_of(e) == {"next_step_due"}
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=account,
                                 fields={"next_step_due": timezone.now() + timedelta(days=1)})  # fmt: skip
    assert errors_of(e) == {"next_step"}


def test_eng3_the_next_step_is_not_due_before_the_day_of_the_activity(people, make_account):
    account = make_account(people.manager)
    happened = datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
    with pytest.raises(ValidationError) as e:
        services.activity_create(actor=people.manager, account=account,
                                 fields={"happened_at": happened, "next_step": "回访",
                                         "next_step_due": datetime(2026, 1, 4, 18, 0, tzinfo=SHANGHAI)})  # fmt: skip
    assert errors_of(e) == {"next_step_due"}
    # Earlier the same (local) day is fine: a call-back in the afternoon of a morning visit's day.
    services.activity_create(actor=people.manager, account=account,
                             fields={"happened_at": happened, "next_step": "回访",
                                     "next_step_due": datetime(2026, 1, 5, 8, 0, tzinfo=SHANGHAI)})  # fmt: skip
    assert Task.objects.count() == 1


def test_eng1_update_changes_fields_and_contacts_bumps_the_version_and_is_audited(
    people, make_account, make_contact, make_activity
):
    account = make_account(people.manager)
    contact = make_contact(account)
    activity = make_activity(account, subject="初次拜访")
    services.activity_update(actor=people.manager, activity=activity, version=1,
                             fields={"subject": "初次拜访（补记）", "contacts": [contact.pk], "kind": "meeting"})  # fmt: skip
    activity.refresh_from_db()
    assert (activity.subject, activity.kind, activity.version) == ("初次拜访（补记）", "meeting", 2)
    assert list(activity.contacts.all()) == [contact]
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, target_id=str(activity.pk))
    assert event.account_id == account.pk
    assert set(event.changes) == {"subject", "contacts", "kind"}


def test_eng1_an_update_that_changes_nothing_keeps_the_version(people, make_account, make_activity):
    activity = make_activity(make_account(people.manager), subject="同一件事")
    services.activity_update(actor=people.manager, activity=activity, version=1, fields={"subject": "同一件事"})
    activity.refresh_from_db()
    assert activity.version == 1
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE).exists()


def test_eng1_a_stale_version_is_a_conflict_with_the_current_record(people, make_account, make_activity):
    activity = make_activity(make_account(people.manager), subject="原来的")
    services.activity_update(actor=people.manager, activity=activity, version=1, fields={"subject": "她改的"})
    with pytest.raises(ConflictError) as e:
        services.activity_update(actor=people.head, activity=activity, version=1, fields={"subject": "他改的"})
    assert e.value.current.subject == "她改的" and e.value.current.version == 2
    activity.refresh_from_db()
    assert activity.subject == "她改的"


def test_eng3_a_next_step_added_later_makes_one_task(people, make_account, make_activity):
    activity = make_activity(make_account(people.manager))
    due = timezone.now() + timedelta(days=1)
    services.activity_update(actor=people.manager, activity=activity, version=1,
                             fields={"next_step": "发样品", "next_step_due": due})  # fmt: skip
    services.activity_update(actor=people.manager, activity=activity, version=2, fields={"next_step": "发两份样品"})
    assert list(Task.objects.values_list("title", flat=True)) == ["发样品"]


def test_eng1_archive_keeps_the_activity_and_its_task(people, make_account, make_activity):
    activity = make_activity(make_account(people.manager), next_step="回访", next_step_due=timezone.now())
    services.activity_archive(actor=people.manager, activity=activity, version=1, reason="记错客户")
    activity.refresh_from_db()
    assert activity.is_archived and activity.version == 2
    assert Task.objects.get().status == TaskStatus.OPEN
    event = AuditEvent.objects.get(action=AuditAction.ARCHIVE)
    assert event.extra == {"reason": "记错客户"} and event.account_id == activity.account_id
    with pytest.raises(ConflictError):
        services.activity_archive(actor=people.manager, activity=activity, version=1)


# --- tasks ------------------------------------------------------------------------------------------


def test_eng3_a_task_is_the_creators_by_default_and_audited_on_its_account(people, make_account, make_task):
    account = make_account(people.manager)
    task = make_task(people.manager, account=account, notes="带合同")
    assert (task.assignee, task.created_by, task.status) == (people.manager, people.manager, TaskStatus.OPEN)
    event = AuditEvent.objects.get(target_type="engagement.task")
    assert (event.action, event.account_id) == (AuditAction.CREATE, account.pk)


def test_eng3_a_task_needs_a_title_and_a_due_time(people):
    with pytest.raises(ValidationError) as e:
        services.task_create(actor=people.manager, fields={"title": "  "})
    assert errors_of(e) == {"title", "due_at"}


def test_eng3_a_task_contact_must_be_at_its_account(people, make_account, make_contact, make_task):
    account, other = make_account(people.manager), make_account(people.manager)
    ours, theirs = make_contact(account, name="我方联系人"), make_contact(other, name="他方联系人")
    assert make_task(people.manager, account=account, contact=ours).contact == ours
    with pytest.raises(ValidationError) as e:
        make_task(people.manager, account=account, contact=theirs)
    assert errors_of(e) == {"contact"}
    with pytest.raises(ValidationError) as e:
        make_task(people.manager, contact=ours.pk)  # no account
    assert errors_of(e) == {"contact"}


def test_eng3_the_assignee_must_be_active_and_see_the_account(people, make_account, make_task):
    account = make_account(people.manager)
    with pytest.raises(ValidationError) as e:
        make_task(people.manager, account=account, assignee=people.outsider)
    assert errors_of(e) == {"assignee"}
    assert make_task(people.manager, account=account, assignee=people.head).assignee == people.head
    assert make_task(people.manager, assignee=people.outsider).assignee == people.outsider  # no account named
    people.colleague.is_active = False
    people.colleague.save()
    with pytest.raises(ValidationError) as e:
        make_task(people.manager, assignee=people.colleague)
    assert errors_of(e) == {"assignee"}


def test_eng3_complete_reopen_and_cancel(people, make_task):
    task = make_task(people.manager)
    task = services.task_complete(actor=people.manager, task=task, version=1)
    assert task.status == TaskStatus.DONE and task.done_at is not None and task.version == 2
    assert services.task_complete(actor=people.manager, task=task).version == 2  # done already: nothing changes
    task = services.task_reopen(actor=people.manager, task=task, version=2)
    assert task.status == TaskStatus.OPEN and task.done_at is None
    task = services.task_cancel(actor=people.manager, task=task, version=3)
    assert task.status == TaskStatus.CANCELLED
    with pytest.raises(ValidationError) as e:
        services.task_complete(actor=people.manager, task=task)
    assert errors_of(e) == {"status"}
    statuses = [e.changes["status"][1] for e in AuditEvent.objects.filter(action=AuditAction.UPDATE).order_by("id")]
    assert statuses == ["done", "open", "cancelled"]


def test_eng3_task_update_with_a_stale_version_conflicts(people, make_task):
    task = make_task(people.manager)
    services.task_update(actor=people.manager, task=task, version=1, fields={"title": "改期回访"})
    with pytest.raises(ConflictError) as e:
        services.task_update(actor=people.manager, task=task, version=1, fields={"title": "旧的"})
    assert e.value.current.title == "改期回访"
    with pytest.raises(ConflictError):
        services.task_complete(actor=people.manager, task=task, version=1)


def test_eng3_moving_a_task_to_another_account_checks_its_contact_again(people, make_account, make_contact, make_task):
    account, other = make_account(people.manager), make_account(people.manager)
    task = make_task(people.manager, account=account, contact=make_contact(account))
    with pytest.raises(ValidationError) as e:
        services.task_update(actor=people.manager, task=task, version=1, fields={"account": other})
    assert errors_of(e) == {"contact"}
    services.task_update(actor=people.manager, task=task, version=1, fields={"account": other, "contact": None})
    task.refresh_from_db()
    assert (task.account, task.contact) == (other, None)

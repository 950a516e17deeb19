"""The activities, tasks and timeline API (ENG-1, ENG-3, GOV-7): bad input is a 4xx JSON answer naming
the field; a stale version is 409 with the current record; a foreign record is 404 and never listed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kam.accounts import services as account_services
from kam.core.models import AuditAction, AuditEvent
from kam.engagement.models import Activity, Task

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def iso(value) -> str:
    return value.isoformat()


def assert_error(response, status, field=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["detail"]
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    return body


@pytest.fixture
def setting(people, make_account, make_contact):
    own = make_account(people.manager, name="本人客户有限公司")
    foreign = make_account(people.outsider, name="外地客户有限公司")
    return {"own": own, "foreign": foreign, "boss": make_contact(own, name="刘总经理"),
            "stranger": make_contact(foreign, name="外地联系人")}  # fmt: skip


def test_eng1_log_a_visit_with_next_step_through_the_api(people, setting, api):
    client = api(people.manager)
    due = timezone.now() + timedelta(days=3)
    response = client.post("/activities", {
        "account_id": setting["own"].pk, "kind": "sample_delivery", "contacts": [setting["boss"].pk],
        "subject": "送样", "outcome": "样品合格", "next_step": "确认订单", "next_step_due": iso(due)})  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["account"] == {"id": setting["own"].pk, "name": "本人客户有限公司"}
    assert body["kind"] == "sample_delivery" and body["kind_label"]
    assert [c["name"] for c in body["contacts"]] == ["刘总经理"]
    assert [p["id"] for p in body["participants"]] == [people.manager.pk]
    assert body["version"] == 1
    task = Task.objects.get()
    assert (task.title, task.assignee, task.activity_id) == ("确认订单", people.manager, body["id"])
    assert client.get(f"/activities/{body['id']}").json()["subject"] == "送样"


@pytest.mark.parametrize(
    "change, field",
    [({"kind": "lunch"}, "kind"), ({"happened_at": "tomorrow"}, "happened_at"),
     ({"contacts": ["x"]}, "contacts.0"), ({"subject": "x" * 201}, "subject"), ({"next_step": "回访"}, "next_step_due")],
)  # fmt: skip
def test_eng1_bad_input_is_422_naming_the_field(people, setting, api, change, field):
    response = api(people.manager).post("/activities", {"account_id": setting["own"].pk, **change}, **EN)
    assert_error(response, 422, field)
    assert not Activity.objects.exists()


def test_eng1_contact_of_another_account_and_a_future_time_are_422(people, setting, api):
    client = api(people.manager)
    body = assert_error(client.post("/activities", {"account_id": setting["own"].pk,
                                                    "contacts": [setting["stranger"].pk]}), 422, "contacts")  # fmt: skip
    assert "外地" not in str(body)
    future = iso(timezone.now() + timedelta(days=1))
    assert_error(client.post("/activities", {"account_id": setting["own"].pk, "happened_at": future}), 422,
                 "happened_at")  # fmt: skip


def test_eng1_a_foreign_account_or_activity_is_404_and_not_listed(people, setting, api, make_activity):
    foreign_activity = make_activity(setting["foreign"], subject="外地拜访")
    own_activity = make_activity(setting["own"], subject="本人拜访")
    client = api(people.manager)
    assert_error(client.post("/activities", {"account_id": setting["foreign"].pk}), 404)
    assert_error(client.get(f"/activities/{foreign_activity.pk}"), 404)
    assert_error(client.patch(f"/activities/{foreign_activity.pk}", {"version": 1, "subject": "改"}), 404)
    assert_error(client.post(f"/activities/{foreign_activity.pk}/archive", {"version": 1}), 404)
    listed = client.get("/activities").json()
    assert [a["id"] for a in listed["items"]] == [own_activity.pk] and listed["count"] == 1
    assert client.get("/activities", {"account": setting["foreign"].pk}).json()["count"] == 0
    assert_error(client.get(f"/accounts/{setting['foreign'].pk}/timeline"), 404)
    assert "外地" not in client.get(f"/accounts/{setting['own'].pk}/timeline").content.decode()


def test_eng1_patch_with_a_stale_version_is_409_with_the_current_record(people, setting, api, make_activity):
    activity = make_activity(setting["own"], subject="原来的")
    client = api(people.manager)
    response = client.patch(f"/activities/{activity.pk}", {"version": 1, "subject": "第一次修改",
                                                             "contacts": [setting["boss"].pk]})  # fmt: skip
    assert response.status_code == 200 and response.json()["version"] == 2
    body = assert_error(client.patch(f"/activities/{activity.pk}", {"version": 1, "subject": "晚了"}), 409, "version")
    assert body["current"]["subject"] == "第一次修改" and body["current"]["version"] == 2
    assert_error(client.patch(f"/activities/{activity.pk}", {"subject": "没有版本"}), 422, "version")


def test_eng1_a_visible_activity_one_may_not_change_is_403(people, setting, api, make_activity):
    activity = make_activity(setting["own"])
    assert api(people.dept_viewer).get(f"/activities/{activity.pk}").status_code == 200
    assert_error(api(people.dept_viewer).patch(f"/activities/{activity.pk}", {"version": 1, "subject": "x"}), 403)


def test_eng1_archive_through_the_api(people, setting, api, make_activity):
    activity = make_activity(setting["own"])
    client = api(people.manager)
    response = client.post(f"/activities/{activity.pk}/archive", {"version": 1, "reason": "重复记录"})
    assert response.status_code == 200 and response.json()["is_archived"] is True
    assert client.get("/activities").json()["count"] == 0
    assert client.get("/activities", {"include_archived": True}).json()["count"] == 1
    assert AuditEvent.objects.filter(action=AuditAction.ARCHIVE, account_id=setting["own"].pk).count() == 1


def test_eng1_timeline_through_the_api_pages_by_position(people, setting, api, make_activity):
    for hours in (1, 2, 3):
        make_activity(setting["own"], subject=f"{hours}小时前", happened_at=timezone.now() - timedelta(hours=hours))
    account_services.account_update_add(actor=people.manager, account=setting["own"],
                                        happened_on=timezone.localdate() - timedelta(days=1), content="昨天的动态")  # fmt: skip
    client = api(people.manager)
    first = client.get(f"/accounts/{setting['own'].pk}/timeline", {"limit": 2}).json()
    assert [e["activity"]["subject"] for e in first["entries"]] == ["1小时前", "2小时前"]
    second = client.get(f"/accounts/{setting['own'].pk}/timeline", {"limit": 2, "before": first["next_before"]}).json()
    assert [e["type"] for e in second["entries"]] == ["activity", "update"]
    assert second["entries"][1]["content"] == "昨天的动态" and second["next_before"] is None
    assert_error(client.get(f"/accounts/{setting['own'].pk}/timeline", {"before": "nonsense"}), 422, "before")


def test_eng3_tasks_through_the_api(people, setting, api):
    client = api(people.manager)
    due = iso(timezone.now() + timedelta(hours=3))
    response = client.post("/tasks", {"title": "回电话", "due_at": due, "account_id": setting["own"].pk,
                                      "contact_id": setting["boss"].pk})  # fmt: skip
    assert response.status_code == 201, response.content
    task = response.json()
    assert task["assignee"]["id"] == people.manager.pk and task["status"] == "open" and not task["overdue"]
    assert client.get("/tasks").json()["count"] == 1
    assert api(people.head).get("/tasks").json()["count"] == 0  # not his
    assert api(people.head).get("/tasks", {"assignee": "any"}).json()["count"] == 1  # on an account he sees
    done = client.post(f"/tasks/{task['id']}/complete", {"version": 1}).json()
    assert done["status"] == "done" and done["done_at"] and done["version"] == 2
    assert client.get("/tasks", {"status": "open"}).json()["count"] == 0
    assert client.post(f"/tasks/{task['id']}/reopen", {}).json()["status"] == "open"
    assert client.post(f"/tasks/{task['id']}/cancel", {}).json()["status"] == "cancelled"
    body = assert_error(client.patch(f"/tasks/{task['id']}", {"version": 1, "title": "晚了"}), 409, "version")
    assert body["current"]["status"] == "cancelled"
    assert client.patch(f"/tasks/{task['id']}", {"version": 4, "title": "改个名"}).json()["title"] == "改个名"


@pytest.mark.parametrize(
    "change, field, status",
    [({"assignee_id": 0}, "assignee_id", 422), ({"contact_id": -1}, "contact_id", 422),
     ({"due_at": "soon"}, "due_at", 422), ({"title": ""}, "title", 422), ({"account_id": 0}, None, 404)],
)  # fmt: skip
def test_eng3_bad_task_input_names_the_field(people, setting, api, change, field, status):
    payload = {"title": "回访", "due_at": iso(timezone.now()), "account_id": setting["own"].pk, **change}
    assert_error(api(people.manager).post("/tasks", payload), status, field)
    assert not Task.objects.exists()


def test_eng3_a_task_for_someone_who_cannot_see_the_account_is_refused(people, setting, api):
    payload = {"title": "回访", "due_at": iso(timezone.now()), "account_id": setting["own"].pk,
               "assignee_id": people.outsider.pk}  # fmt: skip
    assert_error(api(people.manager).post("/tasks", payload), 422, "assignee_id")


def test_eng3_a_foreign_task_is_404_and_a_foreign_account_cannot_be_named(people, setting, api, make_task):
    foreign = make_task(people.outsider, account=setting["foreign"], title="外地任务")
    client = api(people.manager)
    for call in (client.get(f"/tasks/{foreign.pk}"), client.post(f"/tasks/{foreign.pk}/complete", {}),
                 client.patch(f"/tasks/{foreign.pk}", {"version": 1, "title": "x"})):  # fmt: skip
        assert_error(call, 404)
    own = make_task(people.manager, account=setting["own"])
    assert_error(client.patch(f"/tasks/{own.pk}", {"version": 1, "account_id": setting["foreign"].pk}), 404)
    assert client.get("/tasks", {"assignee": "any"}).json()["count"] == 1
    assert_error(client.get("/tasks", {"assignee": "someone"}), 422, "assignee")


def test_api_activity_list_queries_do_not_grow_with_rows(
    people, setting, api, make_activity, django_assert_max_num_queries
):
    for i in range(20):
        make_activity(setting["own"], subject=f"拜访{i}", contacts=[setting["boss"].pk])
    client = api(people.manager)
    with django_assert_max_num_queries(8):
        response = client.get("/activities", {"page_size": 20})
    assert response.json()["count"] == 20


def test_api_task_list_queries_do_not_grow_with_rows(people, setting, api, make_task, django_assert_max_num_queries):
    for i in range(20):
        make_task(people.manager, title=f"任务{i}", account=setting["own"], contact=setting["boss"])
    client = api(people.manager)
    with django_assert_max_num_queries(6):
        response = client.get("/tasks", {"page_size": 20})
    assert response.json()["count"] == 20

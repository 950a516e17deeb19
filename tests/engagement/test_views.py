"""The pages: log a visit (account picker, contacts loaded for the picked account), activity list and
detail, the account timeline, tasks with an htmx complete button, today's tasks on the home page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kam.engagement.models import Activity, Task, TaskStatus

HTMX = {"HTTP_HX_REQUEST": "true"}


def local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def setting(people, make_account, make_contact):
    own = make_account(people.manager, name="本人客户有限公司")
    foreign = make_account(people.outsider, name="外地客户有限公司")
    return {"own": own, "foreign": foreign, "boss": make_contact(own, name="刘总经理"),
            "stranger": make_contact(foreign, name="外地联系人")}  # fmt: skip


def test_eng1_log_a_visit_page_records_it_and_lands_on_the_account(people, setting, page_client):
    client = page_client(people.manager)
    page = client.get("/activities/new/", {"account": setting["own"].pk})
    html = page.content.decode()
    assert page.status_code == 200 and "本人客户有限公司" in html and "刘总经理" in html
    due = timezone.now() + timedelta(days=1)
    response = client.post("/activities/new/", {
        "account": setting["own"].pk, "kind": "visit", "happened_at": local(timezone.now() - timedelta(minutes=5)),
        "contacts": [setting["boss"].pk], "participants": [people.manager.pk], "notes": "聊了预算",
        "next_step": "发方案", "next_step_due": local(due)})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == f"/accounts/{setting['own'].pk}/"
    activity = Activity.objects.get()
    assert list(activity.contacts.all()) == [setting["boss"]] and activity.notes == "聊了预算"
    assert Task.objects.get().title == "发方案"


def test_eng1_log_a_visit_errors_are_shown_on_their_fields_and_keep_the_choices(people, setting, page_client):
    client = page_client(people.manager)
    response = client.post("/activities/new/", {
        "account": setting["own"].pk, "kind": "visit", "happened_at": local(timezone.now() + timedelta(days=2)),
        "contacts": [setting["boss"].pk], "notes": "未来的拜访"})  # fmt: skip
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"happened_at"}
    html = response.content.decode()
    assert 'value="{}" checked'.format(setting["own"].pk) in html and "未来的拜访" in html
    assert not Activity.objects.exists()


def test_eng1_a_foreign_account_or_contact_is_refused_by_the_form(people, setting, page_client):
    client = page_client(people.manager)
    html = client.get("/activities/new/", {"account": setting["foreign"].pk}).content.decode()
    assert "外地联系人" not in html and "外地客户有限公司" not in html
    response = client.post("/activities/new/", {"account": setting["foreign"].pk, "kind": "visit",
                                                "happened_at": local(timezone.now())})  # fmt: skip
    assert response.status_code == 200 and "account" in response.context["form"].errors
    assert "外地客户有限公司" not in response.content.decode() and "外地联系人" not in response.content.decode()
    response = client.post("/activities/new/", {"account": setting["own"].pk, "kind": "visit",
                                                "happened_at": local(timezone.now()),
                                                "contacts": [setting["stranger"].pk]})  # fmt: skip
    assert "contacts" in response.context["form"].errors
    assert not Activity.objects.exists()


def test_eng1_the_picker_finds_accounts_and_loads_their_contacts(people, setting, page_client, make_account):
    client = page_client(people.manager)
    html = client.get("/activities/accounts/", {"account_q": "本人"}, **HTMX).content.decode()
    assert "本人客户有限公司" in html and "<html" not in html
    assert "外地" not in client.get("/activities/accounts/", {"account_q": "外地"}, **HTMX).content.decode()
    other = make_account(people.manager, name="另一家客户有限公司")
    html = client.get("/activities/accounts/", {"account_q": "另一家", "account": setting["own"].pk}, **HTMX)
    names = [a.name for a in html.context["accounts"]]
    assert names == ["本人客户有限公司", "另一家客户有限公司"]  # the picked one stays, picked
    assert 'value="{}" checked'.format(setting["own"].pk) in html.content.decode()
    assert other.pk
    html = client.get("/activities/contacts/", {"account": setting["own"].pk}, **HTMX).content.decode()
    assert "刘总经理" in html and 'type="checkbox"' in html
    assert client.get("/activities/contacts/", {"account": setting["foreign"].pk}, **HTMX).status_code == 404


def test_eng1_activity_pages_of_a_foreign_account_are_404(people, setting, page_client, make_activity):
    foreign = make_activity(setting["foreign"], subject="外地拜访")
    make_activity(setting["own"], subject="本人拜访")
    client = page_client(people.manager)
    for url in (f"/activities/{foreign.pk}/", f"/activities/{foreign.pk}/edit/",
                f"/accounts/{setting['foreign'].pk}/timeline/"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert client.post(f"/activities/{foreign.pk}/archive/", {"version": 1}).status_code == 404
    html = client.get("/activities/").content.decode()
    assert "本人拜访" in html and "外地拜访" not in html


def test_eng1_edit_and_archive_pages(people, setting, page_client, make_activity):
    activity = make_activity(setting["own"], subject="初稿")
    client = page_client(people.manager)
    assert client.get(f"/activities/{activity.pk}/edit/").status_code == 200
    response = client.post(f"/activities/{activity.pk}/edit/", {
        "version": 1, "kind": "call", "happened_at": local(activity.happened_at), "subject": "改稿",
        "participants": [people.manager.pk]})  # fmt: skip
    assert response.status_code == 302
    stale = client.post(f"/activities/{activity.pk}/edit/", {"version": 1, "kind": "call", "subject": "晚了",
                                                             "happened_at": local(activity.happened_at)})  # fmt: skip
    assert stale.status_code == 200 and stale.context["form"].non_field_errors()
    client.post(f"/activities/{activity.pk}/archive/", {"version": 2})
    activity.refresh_from_db()
    assert (activity.subject, activity.kind, activity.is_archived) == ("改稿", "call", True)


def test_eng1_the_account_page_loads_its_timeline(people, setting, page_client, make_activity):
    make_activity(setting["own"], subject="时间线上的拜访")
    client = page_client(people.manager)
    html = client.get(f"/accounts/{setting['own'].pk}/").content.decode()
    assert f'hx-get="/accounts/{setting["own"].pk}/timeline/"' in html
    partial = client.get(f"/accounts/{setting['own'].pk}/timeline/", **HTMX).content.decode()
    assert "时间线上的拜访" in partial and "<html" not in partial
    full = client.get(f"/accounts/{setting['own'].pk}/timeline/").content.decode()
    assert "时间线上的拜访" in full and "<html" in full


def test_eng3_complete_a_task_with_htmx_and_without(people, setting, page_client, make_task):
    task = make_task(people.manager, account=setting["own"], title="回访刘总", due_at=timezone.now())
    client = page_client(people.manager)
    assert "回访刘总" in client.get("/tasks/").content.decode()
    response = client.post(f"/tasks/{task.pk}/complete/", {"version": 1}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith("<li") and "done" in html
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    response = client.post(f"/tasks/{task.pk}/reopen/", {"version": 2, "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    response = client.post(f"/tasks/{task.pk}/cancel/", {"version": 3, "next": "https://evil.example/"})
    assert response["Location"] == "/tasks/"
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED


def test_eng3_a_stale_complete_shows_the_task_as_it_is(people, setting, page_client, make_task):
    task = make_task(people.manager, account=setting["own"], title="改过的任务")
    client = page_client(people.manager)
    client.post(f"/tasks/{task.pk}/edit/", {"version": 1, "title": "改过的任务（新）", "due_at": local(task.due_at),
                                            "account": setting["own"].pk})  # fmt: skip
    html = client.post(f"/tasks/{task.pk}/complete/", {"version": 1}, **HTMX).content.decode()
    assert "改过的任务（新）" in html and 'role="alert"' in html
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_eng3_new_task_page(people, setting, page_client):
    client = page_client(people.manager)
    assert client.get("/tasks/new/").status_code == 200
    response = client.post("/tasks/new/", {"title": "准备合同", "due_at": local(timezone.now() + timedelta(days=1)),
                                           "account": setting["own"].pk})  # fmt: skip
    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.title, task.account, task.assignee) == ("准备合同", setting["own"], people.manager)
    response = client.post("/tasks/new/", {"title": "", "due_at": "", "account": setting["foreign"].pk})
    assert {"title", "due_at", "account"} <= set(response.context["form"].errors)


def test_eng3_home_shows_todays_and_overdue_tasks(people, setting, page_client, make_task):
    make_task(people.manager, title="昨天就该做", due_at=timezone.now() - timedelta(days=1), account=setting["own"])
    make_task(people.manager, title="下周再说", due_at=timezone.now() + timedelta(days=7))
    html = page_client(people.manager).get("/").content.decode()
    assert "昨天就该做" in html and "下周再说" not in html
    assert "overdue" in html


def test_eng3_others_tasks_are_404_and_visible_ones_not_mine_are_403(people, setting, page_client, make_task):
    task = make_task(people.manager, account=setting["own"], title="她的任务")
    assert page_client(people.outsider).post(f"/tasks/{task.pk}/complete/").status_code == 404
    assert page_client(people.outsider).get(f"/tasks/{task.pk}/edit/").status_code == 404
    assert page_client(people.dept_viewer).post(f"/tasks/{task.pk}/complete/").status_code == 403
    html = page_client(people.dept_viewer).get("/tasks/", {"assignee": "any"}).content.decode()
    assert "她的任务" in html and f"/tasks/{task.pk}/complete/" not in html


def test_activity_list_page_queries_do_not_grow_with_rows(
    people, setting, page_client, make_activity, django_assert_max_num_queries
):
    for i in range(20):
        make_activity(setting["own"], subject=f"拜访{i}", contacts=[setting["boss"].pk])
    client = page_client(people.manager)
    with django_assert_max_num_queries(12):
        response = client.get("/activities/")
    assert "拜访19" in response.content.decode()


def test_task_list_and_home_queries_do_not_grow_with_rows(
    people, setting, page_client, make_task, django_assert_max_num_queries
):
    for i in range(20):
        make_task(people.manager, title=f"任务{i}", account=setting["own"], due_at=timezone.now())
    client = page_client(people.manager)
    with django_assert_max_num_queries(12):
        assert client.get("/tasks/").status_code == 200
    with django_assert_max_num_queries(14):
        assert "任务19" in client.get("/").content.decode()


def test_timeline_queries_do_not_grow_with_rows(
    people, setting, page_client, make_activity, django_assert_max_num_queries
):
    from kam.accounts import services as account_services

    for i in range(30):
        make_activity(setting["own"], subject=f"拜访{i}", contacts=[setting["boss"].pk])
        account_services.account_update_add(actor=people.manager, account=setting["own"],
                                            happened_on=timezone.localdate(), content=f"动态{i}")  # fmt: skip
    client = page_client(people.manager)
    with django_assert_max_num_queries(12):
        html = client.get(f"/accounts/{setting['own'].pk}/timeline/", **HTMX).content.decode()
    assert html.count('class="activity"') + html.count('class="update"') == 25 and "?before=" in html

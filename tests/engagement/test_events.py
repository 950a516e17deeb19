"""ENG-6: the annual key-account forum as an event — invitations to key accounts' contacts sent through
messaging (MSG-1), RSVPs, attendance and follow-up tasks after the event. GOV-7: invitations of a foreign
account are 404 and never listed; read-only roles record nothing (403)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from kam.engagement import services
from kam.engagement.models import Invitation, InvitationStatus, Task, TaskStatus
from kam.messaging import services as messaging_services
from kam.messaging.models import Message, MessageStatus

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour=10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI)


FORUM_STARTS = at(date(2026, 4, 20), 9)
FORUM_ENDS = at(date(2026, 4, 20), 17)


@pytest.fixture
def world(people, make_account, make_contact, time_machine):
    time_machine.move_to(at(date(2026, 4, 1)))
    own = make_account(people.manager, name="苏州精密机械有限公司")
    colleague_account = make_account(people.colleague, name="无锡纺织集团有限公司")
    foreign = make_account(people.outsider, name="广州外地客户有限公司")
    forum = services.event_create(actor=people.head, fields={
        "name": "2026年度大客户论坛", "kind": "forum", "starts_at": FORUM_STARTS, "ends_at": FORUM_ENDS,
        "place": "苏州金鸡湖国际会议中心"})  # fmt: skip
    return {
        "own": own, "colleague_account": colleague_account, "foreign": foreign, "forum": forum,
        "chairman": make_contact(own, name="陈董事长", mobile="13912345678"),
        "engineer": make_contact(own, name="李总工", mobile="13912345679"),
        "weaver": make_contact(colleague_account, name="王厂长", mobile="13812345678"),
        "stranger": make_contact(foreign, name="外地联系人", mobile="13712345678"),
    }  # fmt: skip


def test_eng6_event_with_ends_before_starts_is_refused(people, api):
    response = api(people.head).post("/events", {"name": "高层座谈", "starts_at": "2026-05-01T10:00:00+08:00",
                                                 "ends_at": "2026-05-01T09:00:00+08:00"})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "ends_at"
    response = api(people.head).post("/events", {"name": "高层座谈", "kind": "party",
                                                 "starts_at": "2026-05-01T10:00:00+08:00", "ends_at": "2026-05-01T12:00:00+08:00"})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "kind"


def test_eng6_invite_all_contacts_of_an_account_and_never_one_twice(people, world, api):
    client = api(people.manager)
    forum = world["forum"]
    response = client.post(f"/events/{forum.pk}/invite", {"account_ids": [world["own"].pk]})
    assert response.status_code == 201, response.content
    assert sorted(i["contact"]["name"] for i in response.json()) == ["李总工", "陈董事长"]
    assert {i["status"] for i in response.json()} == {"invited"}
    response = client.post(f"/events/{forum.pk}/invite", {"account_ids": [world["own"].pk],
                                                          "contact_ids": [world["chairman"].pk]})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "contact_ids"
    response = client.post(f"/events/{forum.pk}/invite", {"account_ids": [world["own"].pk]})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "account_ids"
    # Another account's contact cannot be slipped in through her own account.
    response = client.post(f"/events/{forum.pk}/invite", {"account_ids": [world["own"].pk],
                                                          "contact_ids": [world["weaver"].pk]})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "contact_ids"
    assert client.post(f"/events/{forum.pk}/invite", {"account_ids": [world["foreign"].pk]}).status_code == 404
    assert Invitation.objects.count() == 2


def test_eng6_invitations_are_sent_through_messaging_and_stored_on_the_invitation(people, world, api):
    """MSG-1: one bulk send for the invitations not sent yet; opted-out contacts are skipped, not lost."""
    forum = world["forum"]
    services.event_invite(actor=people.manager, event=forum, accounts=[world["own"]])
    messaging_services.consent_set(actor=people.manager, contact=world["engineer"], kind="sms", opted_out=True)
    client = api(people.manager)
    response = client.post(f"/events/{forum.pk}/invitations/send", {
        "channel": "log", "text": "{contact.name}您好，诚邀您参加2026年度大客户论坛。"})  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json() | {"batch_id": 0} == {"batch_id": 0, "total": 2, "queued": 1, "skipped": 1}
    invitations = {i.contact.name: i for i in Invitation.objects.select_related("contact", "message")}
    chairman, engineer = invitations["陈董事长"], invitations["李总工"]
    assert chairman.batch_id == engineer.batch_id == response.json()["batch_id"]
    assert chairman.message.body == "陈董事长您好，诚邀您参加2026年度大客户论坛。"
    assert chairman.message.status == MessageStatus.QUEUED and engineer.message.status == MessageStatus.SKIPPED
    again = client.post(f"/events/{forum.pk}/invitations/send", {"channel": "log", "text": "再发一次"})
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "invitations"
    assert Message.objects.count() == 2
    response = client.post(f"/events/{forum.pk}/invitations/send", {"channel": "fax", "text": "x",
                                                                    "account_ids": [world["own"].pk]})  # fmt: skip
    assert response.status_code in (404, 422)


def test_eng6_rsvp_attendance_and_their_rules(people, world, api, time_machine):
    forum = world["forum"]
    services.event_invite(actor=people.manager, event=forum, accounts=[world["own"]])
    client = api(people.manager)
    chairman = world["chairman"]
    response = client.post(f"/events/{forum.pk}/rsvp", {"contact_id": chairman.pk, "status": "accepted"})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["responded_at"][:10]) == ("accepted", "2026-04-01")
    # A contact she sees but who is not invited; a foreign contact; a bad status; a stale version.
    services.event_invite(actor=people.colleague, event=forum, accounts=[world["colleague_account"]])
    extra = client.post("/contacts", {"account_id": world["own"].pk, "name": "未邀请的人"}).json()
    response = client.post(f"/events/{forum.pk}/rsvp", {"contact_id": extra["id"], "status": "accepted"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "contact_id"
    assert (
        client.post(f"/events/{forum.pk}/rsvp", {"contact_id": world["weaver"].pk, "status": "accepted"}).status_code
        == 404
    )
    response = client.post(f"/events/{forum.pk}/rsvp", {"contact_id": chairman.pk, "status": "maybe"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "status"
    response = client.post(f"/events/{forum.pk}/rsvp", {"contact_id": chairman.pk, "status": "declined", "version": 1})
    assert response.status_code == 409 and response.json()["current"]["status"] == "accepted"
    # 刘总 (executive) sees the account but records nothing for it.
    response = api(people.executive).post(f"/events/{forum.pk}/rsvp", {"contact_id": chairman.pk, "status": "declined"})
    assert response.status_code == 403
    # Attendance only once the event has started.
    response = client.post(f"/events/{forum.pk}/attendance", {"contact_id": chairman.pk, "attended": True})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "attended"
    time_machine.move_to(FORUM_STARTS + timedelta(hours=1))
    client = api(people.manager)  # a token lasts a limited time: a new one after the clock moved
    assert client.post(f"/events/{forum.pk}/attendance", {"contact_id": chairman.pk, "attended": True}).json()[
        "status"] == "attended"  # fmt: skip
    body = client.post(f"/events/{forum.pk}/attendance", {"contact_id": world["engineer"].pk, "attended": False}).json()
    assert (body["status"], body["attended"]) == ("no_show", False)


def test_eng6_follow_ups_after_the_event_one_task_per_attendee_for_the_account_owner(people, world, api, time_machine):
    forum = world["forum"]
    services.event_invite(actor=people.manager, event=forum, accounts=[world["own"]])
    services.event_invite(actor=people.colleague, event=forum, accounts=[world["colleague_account"]])
    head = api(people.head)
    assert head.post(f"/events/{forum.pk}/follow-ups").status_code == 422  # not over yet
    time_machine.move_to(FORUM_STARTS + timedelta(hours=2))
    for contact in ("chairman", "weaver"):
        invitation = Invitation.objects.get(contact=world[contact])
        services.invitation_record_attendance(actor=people.head, invitation=invitation, attended=True)
    services.invitation_record_attendance(actor=people.manager, invitation=Invitation.objects.get(
        contact=world["engineer"]), attended=False)  # fmt: skip
    time_machine.move_to(FORUM_ENDS + timedelta(hours=1))
    head = api(people.head)
    # 李娜 sees only her own account: only her attendee gets a follow-up from her click.
    body = api(people.manager).post(f"/events/{forum.pk}/follow-ups").json()
    assert body["created"] == 1
    body = head.post(f"/events/{forum.pk}/follow-ups").json()
    assert body["created"] == 1  # 王伟's attendee; 李娜's has one already
    assert head.post(f"/events/{forum.pk}/follow-ups").json() == {"created": 0, "task_ids": []}
    tasks = Task.objects.order_by("assignee__username")
    assert [(t.assignee, t.contact.name, t.status, t.due_at) for t in tasks] == [
        (people.manager, "陈董事长", TaskStatus.OPEN, FORUM_ENDS + timedelta(days=3)),
        (people.colleague, "王厂长", TaskStatus.OPEN, FORUM_ENDS + timedelta(days=3))]  # fmt: skip
    assert all("2026年度大客户论坛" in t.title for t in tasks)
    assert Invitation.objects.get(contact=world["chairman"]).follow_up_task == tasks[0]


def test_eng6_invitations_list_only_the_callers_scope(people, world, api):
    forum = world["forum"]
    services.event_invite(actor=people.manager, event=forum, accounts=[world["own"]])
    services.event_invite(actor=people.outsider, event=forum, accounts=[world["foreign"]])
    names = {i["contact"]["name"] for i in api(people.manager).get(f"/events/{forum.pk}/invitations").json()["items"]}
    assert names == {"陈董事长", "李总工"}
    body = api(people.outsider).get(f"/events/{forum.pk}/invitations").json()
    assert [i["contact"]["name"] for i in body["items"]] == ["外地联系人"]
    assert api(people.admin).get(f"/events/{forum.pk}/invitations").json()["count"] == 3


def test_eng6_only_the_organiser_head_or_admin_changes_the_event(people, world, api):
    forum = world["forum"]
    response = api(people.manager).patch(f"/events/{forum.pk}", {"version": 1, "place": "上海"})
    assert response.status_code == 403
    response = api(people.head).patch(f"/events/{forum.pk}", {"version": 1, "place": "上海国际会议中心"})
    assert response.status_code == 200 and response.json()["place"] == "上海国际会议中心"
    assert api(people.head).patch(f"/events/{forum.pk}", {"version": 1, "place": "x"}).status_code == 409
    with pytest.raises(ValidationError) as e:
        services.event_update(actor=people.head, event=forum, fields={"ends_at": FORUM_STARTS - timedelta(hours=1)})
    assert "ends_at" in e.value.message_dict


def test_eng6_event_page_invite_and_answer(people, world, page_client, time_machine):
    forum = world["forum"]
    client = page_client(people.manager)
    response = client.post(f"/events/{forum.pk}/invite/", {"account": world["own"].pk,
                                                           "contacts": [world["chairman"].pk]})  # fmt: skip
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.contact == world["chairman"]
    client.post(f"/events/{forum.pk}/invitations/{invitation.pk}/", {"status": "declined"})
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.DECLINED
    page = client.get(f"/events/{forum.pk}/")
    assert [i.pk for i in page.context["invitations"]] == [invitation.pk]
    other = page_client(people.outsider).get(f"/events/{forum.pk}/")
    assert other.context["invitations"] == [] and "陈董事长" not in other.content.decode()
    assert page_client(people.outsider).post(f"/events/{forum.pk}/invitations/{invitation.pk}/",
                                             {"status": "accepted"}).status_code == 404  # fmt: skip

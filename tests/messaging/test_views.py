"""The messaging pages (MSG-1 send to one or many, now or later, replies; MSG-2 templates, consent, greetings;
ENG-4 holiday greetings): thin views over the services, within the data scope."""

import re
from datetime import UTC, date, datetime

import pytest
import time_machine

from kam.messaging import services
from kam.messaging.models import Audience, Consent, InboundReply, Message, MessageBatch, MessageStatus, MessageTemplate

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}  # the assertions below read English messages
DAYTIME = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, outside the quiet hours


@pytest.fixture
def world(people, make_account, make_contact):
    own = make_account(people.manager, name="上海甲有限公司", lifecycle="customer")
    foreign = make_account(people.outsider, name="广州乙有限公司", lifecycle="customer")
    zhang = make_contact(own, name="张三", mobile="13812345678", position={"buying_role": "decision_maker"})
    li = make_contact(own, name="李四", mobile="13912345678")
    stranger = make_contact(foreign, name="赵六", mobile="13712345678")
    template = services.template_create(actor=people.head, fields={"name": "问候", "channel": "log",
                                                                   "body": "{contact.name}您好，我是{user.name}"})  # fmt: skip
    return type("World", (), {"own": own, "foreign": foreign, "zhang": zhang, "li": li, "stranger": stranger,
                              "template": template, **vars(people)})  # fmt: skip


@pytest.fixture
def as_manager(world, page_client):
    return page_client(world.manager)


# --- templates (MSG-2) --------------------------------------------------------------------------------------


def test_msg2_template_page_refuses_an_unknown_field_naming_it(world, page_client):
    client = page_client(world.head)
    page = client.get("/messages/templates/new/")
    assert "{contact.name}" in page.content.decode()  # the available fields are shown
    response = client.post("/messages/templates/new/", {"name": "坏", "channel": "log", "language": "zh-hans",
                                                         "body": "{contact.salary}您好"})  # fmt: skip
    assert response.status_code == 200
    assert "{contact.salary}" in response.context["form"].errors["body"][0]
    assert not MessageTemplate.objects.filter(name="坏").exists()


def test_msg2_template_page_creates_and_edits_with_version(world, page_client):
    client = page_client(world.head)
    response = client.post("/messages/templates/new/", {"name": "节日", "channel": "email", "language": "zh-hans",
                                                         "subject": "{account.name}", "body": "{contact.name}节日快乐"})  # fmt: skip
    assert response.status_code == 302
    template = MessageTemplate.objects.get(name="节日")
    fields = {"name": "节日2", "channel": "email", "language": "zh-hans", "body": "你好", "version": 1}
    assert client.post(f"/messages/templates/{template.pk}/edit/", fields).status_code == 302
    stale = client.post(f"/messages/templates/{template.pk}/edit/", {**fields, "name": "节日3"}, **EN)
    assert stale.status_code == 200
    assert "changed this template meanwhile" in str(stale.context["form"].non_field_errors())
    assert MessageTemplate.objects.get(pk=template.pk).name == "节日2"
    assert client.post(f"/messages/templates/{template.pk}/archive/", {"version": 2}).status_code == 302
    assert MessageTemplate.objects.get(pk=template.pk).is_archived


def test_msg2_only_the_head_and_admins_manage_templates_on_pages(world, as_manager):
    assert as_manager.get("/messages/templates/").status_code == 200
    assert as_manager.get("/messages/templates/new/").status_code == 403
    assert as_manager.get(f"/messages/templates/{world.template.pk}/edit/").status_code == 403
    assert as_manager.post(f"/messages/templates/{world.template.pk}/archive/", {"version": 1}).status_code == 403


# --- the bulk screen (MSG-1) ------------------------------------------------------------------------------


def test_msg1_send_from_the_account_page_presets_its_contacts(world, as_manager):
    detail = as_manager.get(f"/accounts/{world.own.pk}/").content.decode()
    assert f"/messages/send/?account={world.own.pk}" in detail
    page = as_manager.get(f"/messages/send/?account={world.own.pk}")
    assert [c.name for c in page.context["contacts"]] == ["李四", "张三"]  # pinyin order: li, zhang
    assert as_manager.get(f"/messages/send/?account={world.foreign.pk}").status_code == 404


def test_msg1_send_from_the_contact_page_presets_that_contact(world, as_manager):
    page = as_manager.get(f"/messages/send/?contact={world.zhang.pk}&contact={world.stranger.pk}")
    assert [c.name for c in page.context["contacts"]] == ["张三"]  # a contact out of scope is not offered


def test_msg1_bulk_screen_sends_and_lands_on_the_batch(world, as_manager):
    with time_machine.travel(DAYTIME, tick=False):
        response = as_manager.post("/messages/send/", {"channel": "log", "template": world.template.pk,
                                                       "contact_ids": [world.zhang.pk, world.li.pk], "when": "now"})  # fmt: skip
    batch = MessageBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/messages/outbox/{batch.pk}/"
    page = as_manager.get(response["Location"])
    assert sorted(m.body for m in page.context["page"]) == ["张三您好，我是李娜", "李四您好，我是李娜"]
    assert page.context["counts"] == {"queued": 2}


def test_msg1_bulk_screen_schedules_at_a_set_time(world, as_manager):
    with time_machine.travel(DAYTIME, tick=False):
        later = as_manager.post("/messages/send/", {"channel": "log", "text": "你好", "account_ids": [world.own.pk],
                                                    "when": "later"})  # fmt: skip
        assert later.status_code == 200
        assert later.context["form"].errors["at"]
        as_manager.post("/messages/send/", {"channel": "log", "text": "你好", "account_ids": [world.own.pk],
                                            "when": "later", "at": "2026-03-03T10:30"})  # fmt: skip
    assert set(Message.objects.values_list("scheduled_for", flat=True)) == {datetime(2026, 3, 3, 2, 30, tzinfo=UTC)}


def test_msg1_bulk_screen_refuses_bad_input_naming_the_field(world, as_manager):
    empty = as_manager.post("/messages/send/", {"channel": "log", "text": "你好", "when": "now"})
    assert empty.status_code == 200 and empty.context["form"].errors["contact_ids"]
    unknown = as_manager.post("/messages/send/", {"channel": "log", "text": "{contact.age}", "when": "now",
                                                  "contact_ids": [world.zhang.pk]})  # fmt: skip
    assert "{contact.age}" in unknown.context["form"].errors["text"][0]
    bad_id = as_manager.post("/messages/send/", {"channel": "log", "text": "hi", "when": "now", "contact_ids": ["x"]})
    assert bad_id.context["form"].errors["contact_ids"]
    foreign = as_manager.post("/messages/send/", {"channel": "log", "text": "hi", "when": "now",
                                                  "contact_ids": [world.stranger.pk]})  # fmt: skip
    assert foreign.status_code == 404
    assert Message.objects.count() == 0


def test_msg1_preview_counts_recipients_and_opt_outs_and_renders_the_first(world, as_manager):
    services.consent_set(actor=world.manager, contact=world.zhang, kind="sms", opted_out=True)
    audience = services.audience_create(
        actor=world.manager, fields={"name": "客户", "filters": {"lifecycle": "customer"}}
    )
    response = as_manager.get("/messages/send/preview/", {"channel": "log", "template": world.template.pk,
                                                          "audience": audience.pk, "when": "now"})  # fmt: skip
    preview = response.context["preview"]
    assert (preview["recipients"], preview["opted_out"]) == (2, 1)
    assert preview["first"].body == "张三您好，我是李娜"  # the lower contact id comes first
    assert re.search(r'id="preview-count">2\D', response.content.decode())
    email = as_manager.get("/messages/send/preview/", {"channel": "email", "text": "hi", "audience": audience.pk,
                                                       "when": "now"})  # fmt: skip
    assert email.context["preview"]["opted_out"] == 0  # consent is per channel kind


def test_msg1_preview_names_an_unknown_field(world, as_manager):
    response = as_manager.get("/messages/send/preview/", {"channel": "log", "text": "{account.owner}",
                                                          "contact_ids": [world.zhang.pk], "when": "now"})  # fmt: skip
    assert "preview" not in response.context
    assert "{account.owner}" in response.content.decode()


def test_msg1_recipient_picker_offers_only_what_the_user_sees(world, as_manager):
    response = as_manager.get("/messages/send/recipients/", {"recipient_q": "有限公司", "contact_ids": [world.li.pk]})
    assert [c.name for c in response.context["contacts"]] == ["李四"]
    assert [a.name for a in response.context["offered_accounts"]] == ["上海甲有限公司"]
    assert "广州乙" not in response.content.decode()


def test_msg1_bulk_screen_sends_to_a_saved_audience(world, as_manager):
    audience = services.audience_create(
        actor=world.manager, fields={"name": "决策人", "buying_roles": ["decision_maker"]}
    )
    with time_machine.travel(DAYTIME, tick=False):
        as_manager.post("/messages/send/", {"channel": "log", "text": "您好", "audience": audience.pk, "when": "now"})
    batch = MessageBatch.objects.get()
    assert batch.selection["audience_id"] == audience.pk
    assert list(Message.objects.values_list("contact__name", flat=True)) == ["张三"]


# --- audiences --------------------------------------------------------------------------------------------


def test_msg1_account_list_filters_are_saved_as_an_audience(world, as_manager):
    listing = as_manager.get("/accounts/?lifecycle=customer").content.decode()
    assert "/messages/audiences/new/?lifecycle=customer" in listing
    form = as_manager.get("/messages/audiences/new/?lifecycle=customer&page=2")
    assert form.context["filters"] == {"lifecycle": "customer"}
    assert form.context["count"] == 1
    response = as_manager.post("/messages/audiences/new/", {"lifecycle": "customer", "name": "上海客户",
                                                            "buying_roles": ["decision_maker"], "is_shared": "on"})  # fmt: skip
    assert response.status_code == 302
    audience = Audience.objects.get()
    assert (audience.filters, audience.buying_roles, audience.is_shared) == (
        {"lifecycle": "customer"}, ["decision_maker"], True)  # fmt: skip


def test_msg1_bad_filter_in_the_address_is_refused_not_a_500(world, as_manager):
    response = as_manager.get("/messages/audiences/new/?owner=lina")
    assert response.status_code == 200
    assert "owner" in response.content.decode()
    assert as_manager.post("/messages/audiences/new/", {"owner": "lina", "name": "坏"}).status_code == 200
    assert not Audience.objects.exists()


def test_msg1_audiences_are_renamed_shared_and_archived_on_their_page(world, as_manager, page_client):
    audience = services.audience_create(actor=world.manager, fields={"name": "客户"})
    as_manager.post(f"/messages/audiences/{audience.pk}/edit/", {"name": "老客户", "is_shared": "on", "version": 1})
    audience.refresh_from_db()
    assert (audience.name, audience.is_shared, audience.version) == ("老客户", True, 2)
    stale = as_manager.post(f"/messages/audiences/{audience.pk}/edit/", {"name": "新", "version": 1}, follow=True, **EN)
    assert "changed this audience meanwhile" in stale.content.decode()
    colleague = page_client(world.colleague)
    assert [a.name for a in colleague.get("/messages/audiences/").context["audiences"]] == ["老客户"]
    assert colleague.post(f"/messages/audiences/{audience.pk}/archive/", {"version": 2}).status_code == 403
    as_manager.post(f"/messages/audiences/{audience.pk}/archive/", {"version": 2})
    assert Audience.objects.get().is_archived
    assert colleague.post(f"/messages/audiences/{audience.pk}/edit/", {"name": "x", "version": 3}).status_code == 404


# --- the outbox ------------------------------------------------------------------------------------------


def _sent(world):
    with time_machine.travel(DAYTIME, tick=False):
        batch = services.message_send_bulk(actor=world.manager, channel="log", text="你好", account_ids=[world.own.pk])
    message = Message.objects.get(batch=batch, contact=world.zhang)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING)  # as the send job claims it
    services.message_record_result(message_id=message.pk, result=_Failed())
    return batch, message


class _Failed:
    ok, temporary, provider_code, reason, provider_message_id = (
        False,
        False,
        "isv.MOBILE_NUMBER_ILLEGAL",
        "号码无效",
        "",
    )


def test_msg1_outbox_lists_batches_with_counts_within_scope(world, as_manager, page_client):
    batch, _message = _sent(world)
    page = as_manager.get("/messages/outbox/")
    assert [(b.pk, c) for b, c in page.context["rows"]] == [(batch.pk, {"failed": 1, "queued": 1})]
    outsider = page_client(world.outsider)
    assert outsider.get("/messages/outbox/").context["rows"] == []
    assert outsider.get(f"/messages/outbox/{batch.pk}/").status_code == 404
    head = page_client(world.head)  # department and below: sees the batch and its messages
    assert [b.pk for b, _c in head.get("/messages/outbox/").context["rows"]] == [batch.pk]


def test_msg1_message_page_shows_its_delivery_events(world, as_manager, page_client):
    _batch, message = _sent(world)
    page = as_manager.get(f"/messages/{message.pk}/")
    events = [(e.status, e.provider_code, e.detail) for e in page.context["message"].events.all()]
    assert events == [("queued", "", ""), ("failed", "isv.MOBILE_NUMBER_ILLEGAL", "号码无效")]
    assert "isv.MOBILE_NUMBER_ILLEGAL" in page.content.decode()
    assert page_client(world.outsider).get(f"/messages/{message.pk}/").status_code == 404


def test_msg1_batch_list_query_count_does_not_grow_with_batches(world, as_manager, django_assert_max_num_queries):
    for _ in range(2):
        _sent(world)
    with django_assert_max_num_queries(12) as first:
        as_manager.get("/messages/outbox/")
    for _ in range(4):
        _sent(world)
    with django_assert_max_num_queries(len(first.captured_queries)):
        as_manager.get("/messages/outbox/")


# --- the contact page: messages, replies, consent ---------------------------------------------------------


def test_msg1_contact_page_shows_messages_replies_and_consent(world, as_manager, page_client):
    _sent(world)
    services.reply_receive(provider="log", sender="13812345678", text="收到，谢谢")
    detail = as_manager.get(f"/contacts/{world.zhang.pk}/").content.decode()
    assert f"/contacts/{world.zhang.pk}/messages/" in detail
    fragment = as_manager.get(f"/contacts/{world.zhang.pk}/messages/")
    assert [m.body for m in fragment.context["sent"]] == ["你好"]
    assert [r.text for r in fragment.context["replies"]] == ["收到，谢谢"]
    assert [(k.value, c) for k, c in fragment.context["consents"]] == [("sms", None), ("email", None)]
    assert page_client(world.outsider).get(f"/contacts/{world.zhang.pk}/messages/").status_code == 404
    assert InboundReply.objects.count() == 1


def test_msg2_opt_out_and_back_in_from_the_contact_page(world, as_manager, page_client):
    url = f"/contacts/{world.zhang.pk}/message-consents/sms/"
    assert as_manager.post(url, {"opted_out": "1"}).status_code == 302
    assert Consent.objects.get(contact=world.zhang, kind="sms").opted_out_at is not None
    as_manager.post(url, {"opted_out": "0"})
    assert Consent.objects.get(contact=world.zhang, kind="sms").opted_out_at is None
    assert page_client(world.executive).post(url, {"opted_out": "1"}).status_code == 404  # sees, may not change
    as_manager.post(f"/contacts/{world.zhang.pk}/message-consents/fax/", {"opted_out": "1"})
    assert Consent.objects.count() == 1


# --- holiday greetings (ENG-4) ----------------------------------------------------------------------------


def test_eng4_greetings_page_sends_a_greeting_once(world, as_manager):
    (greeting,) = services.greetings_prepare(today=date(2026, 9, 26))
    audience = services.audience_create(actor=world.manager, fields={"name": "客户"})
    page = as_manager.get("/messages/greetings/")
    assert [g.holiday for g in page.context["rows"]] == ["National Day"]
    assert 'value="2026-10-01T09:00"' in page.content.decode()  # the default time, local
    data = {f"g{greeting.pk}-template": world.template.pk, f"g{greeting.pk}-audience": audience.pk,
            f"g{greeting.pk}-send_at": "2026-10-01T08:00"}  # fmt: skip
    response = as_manager.post(f"/messages/greetings/{greeting.pk}/send/", data)
    greeting.refresh_from_db()
    assert response["Location"] == f"/messages/outbox/{greeting.batch_id}/"
    assert set(Message.objects.values_list("scheduled_for", flat=True)) == {datetime(2026, 10, 1, 0, 0, tzinfo=UTC)}
    again = as_manager.post(f"/messages/greetings/{greeting.pk}/send/", data, follow=True, **EN)
    assert "already been sent" in again.content.decode()
    assert Message.objects.count() == 2


def test_eng4_greeting_without_template_is_refused_naming_it(world, as_manager):
    (greeting,) = services.greetings_prepare(today=date(2026, 9, 26))
    response = as_manager.post(f"/messages/greetings/{greeting.pk}/send/", {}, follow=True, **EN)
    assert "Choose a template" in response.content.decode()
    assert not MessageBatch.objects.exists()

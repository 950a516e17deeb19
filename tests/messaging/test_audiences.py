"""Saved audiences (MSG-1 "send to a saved filter"): the account list's filters plus buying-centre roles,
resolved when sent and always within the sender's own data scope."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from kam.accounts import services as account_services
from kam.core.errors import ConflictError
from kam.core.models import AuditAction, AuditEvent
from kam.messaging import selectors, services
from kam.messaging.models import Audience, Message, MessageStatus

DAYTIME = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, outside the quiet hours


@pytest.fixture
def world(people, make_account, make_contact):
    """李娜 has two customers in 上海 and one prospect; 赵强 (other branch) has a customer too."""
    customer = make_account(people.manager, name="上海甲有限公司", lifecycle="customer")
    customer2 = make_account(people.manager, name="上海丙有限公司", lifecycle="customer")
    prospect = make_account(people.manager, name="上海乙有限公司", lifecycle="prospect")
    foreign = make_account(people.outsider, name="广州丁有限公司", lifecycle="customer")
    boss = make_contact(customer, name="张总", mobile="13812345678", position={"buying_role": "decision_maker"})
    buyer = make_contact(customer, name="李采购", mobile="13912345678", position={"buying_role": "purchaser"})
    # 张总 also sits on the board of the second customer: he is counted once, at the first account.
    account_services.position_set(actor=people.manager, account=customer2, contact=boss, fields={"title": "董事"})
    other = make_contact(customer2, name="王工", mobile="13712345678", position={"buying_role": "technical"})
    make_contact(prospect, name="赵经理", mobile="13612345678", position={"buying_role": "decision_maker"})
    stranger = make_contact(foreign, name="钱总", mobile="13512345678", position={"buying_role": "decision_maker"})
    return type("World", (), {"customer": customer, "customer2": customer2, "prospect": prospect, "foreign": foreign,
                              "boss": boss, "buyer": buyer, "other": other, "stranger": stranger,
                              **vars(people)})  # fmt: skip


def _audience(actor, **fields):
    return services.audience_create(actor=actor, fields={"name": "上海客户", "filters": {"lifecycle": "customer"},
                                                         **fields})  # fmt: skip


def test_msg1_audience_reaches_contacts_of_filtered_accounts_once_each(world):
    audience = _audience(world.manager)
    assert selectors.audience_recipients(world.manager, audience) == sorted(
        [(world.boss.pk, world.customer.pk), (world.buyer.pk, world.customer.pk), (world.other.pk, world.customer2.pk)]
    )


def test_msg1_audience_with_buying_roles_reaches_only_those_roles(world):
    audience = _audience(world.manager, buying_roles=["decision_maker", "technical"])
    assert selectors.audience_recipients(world.manager, audience) == sorted(
        [(world.boss.pk, world.customer.pk), (world.other.pk, world.customer2.pk)]
    )


def test_msg1_shared_audience_resolves_in_each_senders_own_scope(world):
    audience = _audience(world.manager, is_shared=True)
    # 赵强 sees the shared audience, but it reaches only his own customer's contact.
    assert selectors.audience_detail(world.outsider, audience.pk) == audience
    assert selectors.audience_recipients(world.outsider, audience) == [(world.stranger.pk, world.foreign.pk)]


def test_msg1_unshared_audience_is_not_found_for_others(world):
    audience = _audience(world.manager)
    assert list(selectors.audience_list(world.colleague)) == []
    with pytest.raises(Exception) as caught:
        selectors.audience_detail(world.colleague, audience.pk)
    assert caught.type.__name__ == "Http404"


def test_msg1_archived_contact_is_not_reached(world):
    account_services.contact_archive(actor=world.manager, contact=world.buyer)
    audience = _audience(world.manager)
    assert world.buyer.pk not in {c for c, _a in selectors.audience_recipients(world.manager, audience)}


def test_msg1_audience_count_tells_recipients_and_opted_out(world):
    services.consent_set(actor=world.manager, contact=world.buyer, kind="sms", opted_out=True)
    audience = _audience(world.manager)
    assert selectors.audience_count(world.manager, audience, "sms") == (3, 1)
    assert selectors.audience_count(world.manager, audience, "email") == (3, 0)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": " "}, "name"),
        ({"filters": {"salary": "1"}}, "filters"),
        ({"filters": {"lifecycle": "friend"}}, "filters"),
        ({"filters": {"owner": "lina"}}, "filters"),
        ({"buying_roles": ["boss"]}, "buying_roles"),
    ],
)
def test_msg1_bad_audience_is_refused_naming_the_field(world, fields, field):
    with pytest.raises(ValidationError) as caught:
        _audience(world.manager, **fields)
    assert list(caught.value.message_dict) == [field]


def test_msg1_only_its_creator_or_the_head_changes_an_audience(world):
    audience = _audience(world.manager, is_shared=True)
    with pytest.raises(PermissionDenied):
        services.audience_update(actor=world.colleague, audience=audience, fields={"name": "改"}, version=1)
    renamed = services.audience_update(actor=world.head, audience=audience, fields={"name": "华东客户"}, version=1)
    assert (renamed.name, renamed.version) == ("华东客户", 2)
    event = AuditEvent.objects.filter(target_type="messaging.audience", action=AuditAction.UPDATE).get()
    assert event.changes == {"name": ["上海客户", "华东客户"]}


def test_msg1_stale_audience_version_is_a_conflict(world):
    audience = _audience(world.manager)
    services.audience_update(actor=world.manager, audience=audience, fields={"is_shared": True}, version=1)
    with pytest.raises(ConflictError):
        services.audience_archive(actor=world.manager, audience=audience, version=1)
    services.audience_archive(actor=world.manager, audience=audience, version=2)
    assert list(selectors.audience_list(world.manager)) == []


def test_msg1_bulk_send_to_an_audience_queues_one_message_per_contact(world):
    audience = _audience(world.manager)
    services.consent_set(actor=world.manager, contact=world.buyer, kind="sms", opted_out=True)
    with time_machine.travel(DAYTIME, tick=False):
        batch = services.message_send_bulk(actor=world.manager, channel="log", text="{contact.name}您好",
                                           audience=audience)  # fmt: skip
    assert (batch.total, batch.queued, batch.skipped) == (3, 2, 1)
    assert batch.selection == {"contact_ids": [], "account_ids": [], "audience_id": audience.pk}
    bodies = dict(Message.objects.filter(batch=batch).values_list("contact__name", "body"))
    assert bodies == {"张总": "张总您好", "李采购": "李采购您好", "王工": "王工您好"}
    assert Message.objects.get(batch=batch, contact=world.buyer).status == MessageStatus.SKIPPED


def test_msg1_audience_reaching_nobody_is_refused_naming_it(world):
    audience = _audience(world.outsider, filters={"lifecycle": "prospect"})
    with pytest.raises(ValidationError) as caught:
        services.message_send_bulk(actor=world.outsider, channel="log", text="您好", audience=audience)
    assert list(caught.value.message_dict) == ["audience_id"]


# --- API --------------------------------------------------------------------------------------------------


def test_msg1_audience_api_create_list_count_and_send(world, api):
    client = api(world.manager)
    response = client.post("/audiences", {"name": "决策人", "filters": {"lifecycle": "customer"},
                                          "buying_roles": ["decision_maker"], "is_shared": True})  # fmt: skip
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["filters"] == {"lifecycle": "customer"}
    assert created["created_by"] == world.manager.pk
    assert [a["name"] for a in api(world.outsider).get("/audiences").json()["items"]] == ["决策人"]
    count = client.get(f"/audiences/{created['id']}/count", {"channel": "email"}).json()
    assert count == {"recipients": 1, "opted_out": 0}
    assert client.get(f"/audiences/{created['id']}/count", {"channel": "fax"}).status_code == 422
    with time_machine.travel(DAYTIME, tick=False):
        sent = client.post("/messages/bulk", {"channel": "log", "text": "您好", "audience_id": created["id"]})
    assert sent.status_code == 201, sent.content
    assert sent.json()["total"] == 1


def test_msg1_audience_api_refuses_bad_input_and_stale_versions(world, api):
    client = api(world.manager)
    bad = client.post("/audiences", {"name": "坏", "filters": {"lifecycle": "friend"}})
    assert bad.status_code == 422
    assert "filters" in bad.content.decode()
    assert client.post("/audiences", {"name": "坏", "buying_roles": ["boss"]}).status_code == 422
    audience = _audience(world.manager)
    assert client.patch(f"/audiences/{audience.pk}", {"version": 1, "name": "新名"}).json()["version"] == 2
    stale = client.patch(f"/audiences/{audience.pk}", {"version": 1, "name": "再改"})
    assert stale.status_code == 409
    assert stale.json()["current"]["name"] == "新名"
    assert api(world.colleague).get(f"/audiences/{audience.pk}").status_code == 404
    assert client.delete(f"/audiences/{audience.pk}?version=2").json()["is_archived"] is True
    assert Audience.objects.get(pk=audience.pk).is_archived

"""ENG-7: new-product trials and joint promotions run with key accounts — the campaign, its participating
accounts with their own status, result and feedback, and the account page showing its campaigns.
GOV-7: a foreign account's participation is 404 and never listed."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from kam.core.models import AuditAction, AuditEvent
from kam.engagement import services
from kam.engagement.models import CampaignParticipant

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial(people):
    return services.campaign_create(actor=people.head, fields={
        "name": "新型伺服电机试用", "kind": "trial", "product": "SV-200伺服电机", "starts_on": date(2026, 3, 1),
        "ends_on": date(2026, 5, 31), "goal": "三家重点客户试用并反馈"})  # fmt: skip


@pytest.fixture
def accounts(people, make_account):
    return {"own": make_account(people.manager, name="苏州精密机械有限公司"),
            "foreign": make_account(people.outsider, name="广州外地客户有限公司")}  # fmt: skip


def test_eng7_a_trial_with_participating_accounts_and_their_results(people, trial, accounts, api):
    client = api(people.manager)
    response = client.post(f"/campaigns/{trial.pk}/participants", {"account_id": accounts["own"].pk})
    assert response.status_code == 201, response.content
    participant = response.json()
    assert (participant["status"], participant["account"]["name"]) == ("planned", "苏州精密机械有限公司")
    response = client.patch(f"/campaigns/{trial.pk}/participants/{participant['id']}", {
        "version": 1, "status": "completed", "result": "试用3台，良品率提升2%", "feedback": "噪音偏大"})  # fmt: skip
    assert response.status_code == 200 and response.json()["version"] == 2
    stored = CampaignParticipant.objects.get()
    assert (stored.status, stored.result, stored.feedback) == ("completed", "试用3台，良品率提升2%", "噪音偏大")
    assert (
        AuditEvent.objects.filter(target_type="engagement.campaignparticipant", action=AuditAction.UPDATE).count() == 1
    )
    stale = client.patch(f"/campaigns/{trial.pk}/participants/{participant['id']}", {"version": 1, "status": "running"})
    assert stale.status_code == 409 and stale.json()["current"]["status"] == "completed"
    # The head records the campaign's overall result.
    response = api(people.head).patch(f"/campaigns/{trial.pk}", {"version": 1, "result_summary": "两家转为订单"})
    assert response.status_code == 200 and response.json()["result_summary"] == "两家转为订单"


def test_eng7_bad_campaigns_and_participations_are_refused_naming_the_field(people, trial, accounts, api):
    client = api(people.manager)
    response = client.post("/campaigns", {"name": "联合促销", "kind": "joint_promotion", "starts_on": "2026-06-30",
                                          "ends_on": "2026-06-01"})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "ends_on"
    response = client.post("/campaigns", {"name": "联合促销", "kind": "lottery", "starts_on": "2026-06-01",
                                          "ends_on": "2026-06-30"})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "kind"
    assert client.post(f"/campaigns/{trial.pk}/participants", {"account_id": accounts["own"].pk}).status_code == 201
    twice = client.post(f"/campaigns/{trial.pk}/participants", {"account_id": accounts["own"].pk})
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "account_id"
    bad = client.patch(f"/campaigns/{trial.pk}/participants/{CampaignParticipant.objects.get().pk}",
                       {"version": 1, "status": "exploded"})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    assert client.post(f"/campaigns/{trial.pk}/participants", {"account_id": accounts["foreign"].pk}).status_code == 404
    # Only the owner, creator, a head or an admin changes the campaign itself.
    assert client.patch(f"/campaigns/{trial.pk}", {"version": 1, "goal": "x"}).status_code == 403
    with pytest.raises(ValidationError) as e:
        services.campaign_update(actor=people.head, campaign=trial, fields={"starts_on": date(2026, 6, 1)})
    assert "ends_on" in e.value.message_dict


def test_eng7_participations_stay_within_the_data_scope(people, trial, accounts, api):
    services.campaign_participant_add(actor=people.manager, campaign=trial, account=accounts["own"])
    foreign = services.campaign_participant_add(actor=people.outsider, campaign=trial, account=accounts["foreign"])
    body = api(people.manager).get(f"/campaigns/{trial.pk}/participants").json()
    assert [p["account"]["name"] for p in body["items"]] == ["苏州精密机械有限公司"]
    response = api(people.manager).patch(
        f"/campaigns/{trial.pk}/participants/{foreign.pk}", {"version": 1, "result": "x"}
    )
    assert response.status_code == 404
    assert api(people.admin).get(f"/campaigns/{trial.pk}/participants").json()["count"] == 2
    mine = api(people.manager).get("/campaigns", {"account": accounts["own"].pk}).json()
    assert [c["name"] for c in mine["items"]] == ["新型伺服电机试用"]
    assert api(people.manager).get("/campaigns", {"account": accounts["foreign"].pk}).json()["count"] == 0


def test_eng7_the_account_page_shows_its_campaigns(people, trial, accounts, page_client):
    services.campaign_participant_add(actor=people.manager, campaign=trial, account=accounts["own"],
                                      fields={"status": "running", "result": "首批样机已装机"})  # fmt: skip
    client = page_client(people.manager)
    account_page = client.get(f"/accounts/{accounts['own'].pk}/").content.decode()
    assert f"/accounts/{accounts['own'].pk}/sponsors-campaigns/" in account_page
    section = client.get(f"/accounts/{accounts['own'].pk}/sponsors-campaigns/")
    assert [p.campaign.name for p in section.context["participations"]] == ["新型伺服电机试用"]
    assert "首批样机已装机" in section.content.decode()
    assert client.get(f"/accounts/{accounts['foreign'].pk}/sponsors-campaigns/").status_code == 404


def test_eng7_campaign_pages_create_and_add_an_account(people, accounts, page_client):
    client = page_client(people.manager)
    response = client.post("/campaigns/new/", {"name": "夏季联合促销", "kind": "joint_promotion", "product": "润滑油",
                                               "starts_on": "2026-06-01", "ends_on": "2026-05-01"})  # fmt: skip
    assert response.status_code == 200 and "ends_on" in response.context["form"].errors
    response = client.post("/campaigns/new/", {"name": "夏季联合促销", "kind": "joint_promotion", "product": "润滑油",
                                               "starts_on": "2026-06-01", "ends_on": "2026-08-31"})  # fmt: skip
    assert response.status_code == 302
    campaign_url = response["Location"]
    assert (
        client.post(campaign_url + "participants/", {"account": accounts["own"].pk, "status": "planned"}).status_code
        == 302
    )
    page = client.get(campaign_url)
    assert [p.account.name for p in page.context["participants"]] == ["苏州精密机械有限公司"]
    participant = page.context["participants"][0]
    client.post(campaign_url + f"participants/{participant.pk}/", {"version": 1, f"p{participant.pk}-status": "running",
                                                                   f"p{participant.pk}-feedback": "门店反馈良好"})  # fmt: skip
    participant.refresh_from_db()
    assert (participant.status, participant.feedback) == ("running", "门店反馈良好")

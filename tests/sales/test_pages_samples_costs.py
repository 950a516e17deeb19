"""Pages of samples (PIPE-8), development costs and their return by year (PIPE-5) and the customer's
positioning (PIPE-3): create / edit / archive through the pages, errors on the fields, stale versions, the
gate's automatic "sample accepted" item, the figures of cost and return by hand, and the data scope."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kam.core.models import AuditAction, AuditEvent
from kam.sales import selectors, services
from kam.sales.models import AccountPositioning, DevelopmentCost, GateItem, SalesMonth, Sample, Stage
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HTMX = {"HTTP_HX_REQUEST": "true", **EN}


@pytest.fixture(autouse=True)
def default_pipeline(db):
    ensure_default_pipeline()


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, name="常州精密轴承有限公司")


@pytest.fixture
def deal(people, account):
    return services.opportunity_create(actor=people.manager, account=account, fields={"name": "轴承年度供货"})


def _sample_form(**fields):
    return {"product": "深沟球轴承 6204", "quantity": "20", "unit": "件", "sent_on": str(timezone.localdate()),
            "agreed_standard": "GB/T 307.1 P5", "accepted": "pending", **fields}  # fmt: skip


def test_a_sample_is_recorded_on_the_page_and_listed_on_account_and_opportunity(page_client, people, account, deal,
                                                                                make_contact):  # fmt: skip
    """PIPE-8: what was sent, how much, when, to whom (a contact of the account), for which opportunity."""
    contact = make_contact(account, name="质检部刘工")
    client = page_client(people.manager)
    page = client.get(f"/accounts/{account.pk}/samples/new/?opportunity={deal.pk}")
    assert page.status_code == 200 and page.context["form"]["opportunity"].value() == deal.pk
    response = client.post(f"/accounts/{account.pk}/samples/new/",
                           _sample_form(contact=contact.pk, opportunity=deal.pk))  # fmt: skip
    assert response.status_code == 302 and response["Location"] == f"/accounts/{account.pk}/#samples"
    sample = Sample.objects.get(account=account)
    assert (sample.product, sample.quantity, sample.contact, sample.opportunity) == ("深沟球轴承 6204", Decimal(20),
                                                                                     contact, deal)  # fmt: skip
    account_page = client.get(f"/accounts/{account.pk}/").content.decode()
    for section in ("positioning", "samples", "costs", "development-return"):
        assert f'hx-get="/accounts/{account.pk}/{section}/"' in account_page
    on_account = client.get(f"/accounts/{account.pk}/samples/", **HTMX)
    assert list(on_account.context["samples"]) == [sample] and "质检部刘工" in on_account.content.decode()
    on_deal = client.get(f"/accounts/{account.pk}/samples/?opportunity={deal.pk + 1}", **HTMX)
    assert list(on_deal.context["samples"]) == []


def test_bad_sample_input_is_shown_on_its_fields(page_client, people, account, make_account, make_contact):
    """PIPE-8: no quantity of zero, no day in the future, no contact of another account — 422, never 500."""
    stranger = make_contact(make_account(people.manager, name="别家客户"), name="别家联系人")
    tomorrow = str(timezone.localdate() + timedelta(days=1))
    response = page_client(people.manager).post(f"/accounts/{account.pk}/samples/new/",
                                                _sample_form(quantity="0", sent_on=tomorrow), **EN)  # fmt: skip
    assert response.status_code == 422
    assert response.context["form"].errors == {
        "quantity": ["Give a quantity above zero."],
        "sent_on": ["A sample is recorded after it was sent: this day is in the future."],
    }
    response = page_client(people.manager).post(f"/accounts/{account.pk}/samples/new/",
                                                _sample_form(contact=stranger.pk), **EN)  # fmt: skip
    assert response.status_code == 422 and list(response.context["form"].errors) == ["contact"]
    assert not Sample.objects.filter(account=account).exists()


def _to_intention(people, deal):
    for item in GateItem.objects.filter(stage__pipeline=deal.pipeline, stage__code="potential"):
        services.gate_check(actor=people.manager, opportunity=deal, item=item)
    return services.opportunity_advance(actor=people.manager, opportunity=deal,
                                        to_stage=Stage.objects.get(pipeline=deal.pipeline, code="intention"))  # fmt: skip


def _sample_holds(response) -> bool:
    return next(holds for item, holds in response.context["gate"] if item.auto_check == "sample_accepted")


def test_a_sample_accepted_on_the_page_makes_the_gate_item_hold(page_client, people, account, deal):
    """PIPE-8, PIPE-2: the intention stage's "sample accepted" item is checked by KAM: it holds once a sample is
    marked accepted on the edit page, and no longer once that sample is archived."""
    deal = _to_intention(people, deal)
    sample = services.sample_create(actor=people.manager, account=account, fields={"product": "样品"})
    client = page_client(people.manager)
    assert _sample_holds(client.get(f"/opportunities/{deal.pk}/")) is False
    edit = client.get(f"/samples/{sample.pk}/edit/?next=/opportunities/{deal.pk}/")
    assert edit.status_code == 200 and edit.context["next"] == f"/opportunities/{deal.pk}/"
    response = client.post(f"/samples/{sample.pk}/edit/", _sample_form(
        product="样品", accepted="yes", result_note="尺寸公差合格", version=sample.version,
        next=f"/opportunities/{deal.pk}/"))  # fmt: skip
    assert response.status_code == 302 and response["Location"] == f"/opportunities/{deal.pk}/"
    assert _sample_holds(client.get(f"/opportunities/{deal.pk}/")) is True
    sample.refresh_from_db()
    response = client.post(f"/samples/{sample.pk}/archive/", {"version": sample.version})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.ARCHIVE, account_id=account.pk).count() == 1
    assert _sample_holds(client.get(f"/opportunities/{deal.pk}/")) is False
    assert client.get(f"/samples/{sample.pk}/edit/").status_code == 404  # archived: gone from the pages


def test_a_stale_sample_edit_or_archive_says_so_and_changes_nothing(page_client, people, account):
    """PIPE-8: a version someone else changed meanwhile → the form again with a message (409); archive → message."""
    sample = services.sample_create(actor=people.manager, account=account, fields={"product": "样品"})
    services.sample_update(actor=people.manager, sample=sample, fields={"unit": "盒"})
    client = page_client(people.manager)
    response = client.post(f"/samples/{sample.pk}/edit/", _sample_form(accepted="no", version=1), **EN)
    assert response.status_code == 409
    assert "Someone else changed this record meanwhile" in response.content.decode()
    response = client.post(f"/samples/{sample.pk}/archive/", {"version": 1}, follow=True, **EN)
    assert "Someone else changed this record meanwhile" in response.content.decode()
    sample.refresh_from_db()
    assert (sample.accepted, sample.is_archived, sample.version) == ("pending", False, 2)


def test_costs_are_recorded_as_amount_or_hours_times_rate_edited_and_archived(
    page_client, people, account, deal, django_assert_num_queries
):
    """PIPE-5: presales hours × rate is computed by the service; neither amount nor hours is refused on the
    amount field; an archived cost leaves the list and its total."""
    client = page_client(people.manager)
    today = str(timezone.localdate())
    response = client.post(f"/accounts/{account.pk}/costs/new/", {"kind": "presales", "hours": "6", "rate": "250",
                                                                   "incurred_on": today, "opportunity": deal.pk})  # fmt: skip
    assert response.status_code == 302
    presales = DevelopmentCost.objects.get(account=account)
    assert (presales.amount, presales.opportunity) == (Decimal("1500.00"), deal)
    response = client.post(f"/accounts/{account.pk}/costs/new/", {"kind": "travel", "incurred_on": today}, **EN)
    assert response.status_code == 422
    assert response.context["form"].errors == {"amount": ["Give the amount, or hours and the rate per hour."]}
    client.post(f"/accounts/{account.pk}/costs/new/", {"kind": "travel", "amount": "800", "incurred_on": today})
    travel = DevelopmentCost.objects.get(account=account, kind="travel")
    response = client.post(f"/costs/{travel.pk}/edit/", {"kind": "entertainment", "amount": "900", "incurred_on": today,
                                                         "version": travel.version})  # fmt: skip
    assert response.status_code == 302
    with django_assert_num_queries(7):  # session, user, account, rights, team, the costs: as many for any number
        section = client.get(f"/accounts/{account.pk}/costs/", **HTMX)
    assert section.context["total"] == Decimal("2400.00")
    assert list(client.get(f"/accounts/{account.pk}/costs/?opportunity={deal.pk}", **HTMX).context["costs"]) == [
        presales
    ]
    travel.refresh_from_db()
    assert client.post(f"/costs/{travel.pk}/archive/", {"version": travel.version}).status_code == 302
    assert client.get(f"/accounts/{account.pk}/costs/", **HTMX).context["total"] == Decimal("1500.00")


def test_cost_and_return_by_year_by_hand(api, page_client, people, account):
    """PIPE-5: per year, development cost (by kind; archived and non-CNY costs left out), sales and gross margin
    from the monthly aggregates, return = margin − cost, and the cumulative return.

    2024: travel 1,000 + presales 4 h × 150 = 1,600; margin 2,000 + 500 = 2,500 → return 900, cumulative 900.
    2025: entertainment 3,000 + travel 200 (+ an archived travel 500, a USD 99) = 3,200; margin 1,200
    → return −2,000, cumulative −1,100.
    """

    def cost(**fields):
        return services.development_cost_create(actor=people.manager, account=account, fields=fields)

    cost(kind="travel", amount="1000", incurred_on=date(2024, 4, 2))
    cost(kind="presales", hours="4", rate="150", incurred_on=date(2024, 9, 30))
    cost(kind="entertainment", amount="3000", incurred_on=date(2025, 1, 15))
    cost(kind="travel", amount="200", incurred_on=date(2025, 12, 31))
    cost(kind="travel", amount="99", currency="USD", incurred_on=date(2025, 3, 1))
    archived = cost(kind="travel", amount="500", incurred_on=date(2025, 5, 5))
    services.development_cost_archive(actor=people.manager, cost=archived, version=archived.version)
    # The monthly aggregates alone (no lines behind them): the figures must come from SalesMonth.
    for month, amount, margin in ((date(2024, 3, 1), "10000", "2000"), (date(2024, 11, 1), "5000", "500"),
                                  (date(2025, 6, 1), "8000", "1200")):  # fmt: skip
        SalesMonth.objects.create(account=account, month=month, amount=amount, gross_margin=margin, lines=1)

    _account, years = selectors.account_development_return(people.manager, account.pk)
    assert [(y["year"], y["cost"], y["costs_by_kind"], y["sales_amount"], y["gross_margin"], y["net_return"],
             y["cumulative_return"]) for y in years] == [
        (2024, Decimal(1600), {"travel": Decimal(1000), "presales": Decimal(600)}, Decimal(15000), Decimal(2500),
         Decimal(900), Decimal(900)),
        (2025, Decimal(3200), {"travel": Decimal(200), "entertainment": Decimal(3000)}, Decimal(8000), Decimal(1200),
         Decimal(-2000), Decimal(-1100)),
    ]  # fmt: skip
    data = api(people.manager).get(f"/accounts/{account.pk}/development-return").json()
    assert data["currency"] == "CNY"
    assert [(y["year"], Decimal(str(y["net_return"])), Decimal(str(y["cumulative_return"])),
             {k: Decimal(str(v)) for k, v in y["costs_by_kind"].items()}) for y in data["years"]] == [
        (2024, Decimal(900), Decimal(900), {"travel": Decimal(1000), "presales": Decimal(600)}),
        (2025, Decimal(-2000), Decimal(-1100), {"travel": Decimal(200), "entertainment": Decimal(3000)}),
    ]  # fmt: skip
    section = page_client(people.manager).get(f"/accounts/{account.pk}/development-return/", **HTMX)
    assert [Decimal(v) for v in section.context["chart"]["cumulative"]] == [Decimal(900), Decimal(-1100)]
    assert 'id="development-return-data"' in section.content.decode()


def test_positioning_is_edited_by_who_may_change_the_account_and_read_by_others(page_client, people, account):
    """PIPE-3: the form for the owner; a stale version is a message (409), a bad choice a field error (422); a
    colleague who only sees the account reads it without a form and cannot post."""
    client = page_client(people.manager)
    assert client.get(f"/accounts/{account.pk}/positioning/").context["can_edit"] is True
    fields = {"growth_type": "high_growth", "difficulty": "medium", "risk_assessment": "回款周期长",
              "background_check": "无失信记录", "needs_survey": "年需求 20 万套", "version": ""}  # fmt: skip
    response = client.post(f"/accounts/{account.pk}/positioning/", fields)
    assert response.status_code == 302 and response["Location"] == f"/accounts/{account.pk}/#positioning"
    positioning = AccountPositioning.objects.get(account=account)
    assert (positioning.growth_type, positioning.needs_survey, positioning.version) == ("high_growth",
                                                                                        "年需求 20 万套", 1)  # fmt: skip
    stale = client.post(f"/accounts/{account.pk}/positioning/", {**fields, "difficulty": "high"}, **EN)  # read none
    assert stale.status_code == 409 and "Someone else changed this record meanwhile" in stale.content.decode()
    bad = client.post(f"/accounts/{account.pk}/positioning/", {**fields, "growth_type": "huge", "version": "1"})
    assert bad.status_code == 422 and list(bad.context["form"].errors) == ["growth_type"]
    ok = client.post(f"/accounts/{account.pk}/positioning/", {**fields, "difficulty": "high", "version": "1"})
    assert ok.status_code == 302
    positioning.refresh_from_db()
    assert (positioning.difficulty, positioning.version) == ("high", 2)

    viewer = page_client(people.dept_viewer)
    section = viewer.get(f"/accounts/{account.pk}/positioning/", **HTMX)
    assert section.context["can_edit"] is False and "年需求 20 万套" in section.content.decode()
    page = viewer.get(f"/accounts/{account.pk}/positioning/")
    assert page.status_code == 200 and '<form method="post" class="card form"' not in page.content.decode()
    assert viewer.post(f"/accounts/{account.pk}/positioning/", fields).status_code == 404


def test_foreign_account_pages_and_records_are_not_found(api, page_client, people, account):
    """GOV-7: someone outside the account's scope finds none of its sections, forms, records or figures."""
    sample = services.sample_create(actor=people.manager, account=account, fields={"product": "样品"})
    cost = services.development_cost_create(actor=people.manager, account=account, fields={"amount": "10"})
    client = page_client(people.outsider)
    for url in (f"/accounts/{account.pk}/positioning/", f"/accounts/{account.pk}/samples/",
                f"/accounts/{account.pk}/samples/new/", f"/samples/{sample.pk}/edit/",
                f"/accounts/{account.pk}/costs/", f"/accounts/{account.pk}/costs/new/", f"/costs/{cost.pk}/edit/",
                f"/accounts/{account.pk}/development-return/"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert client.post(f"/samples/{sample.pk}/archive/", {"version": sample.version}).status_code == 404
    assert api(people.outsider).get(f"/accounts/{account.pk}/development-return").status_code == 404


def test_archive_through_the_api_needs_the_current_version(api, people, account):
    """PIPE-5, PIPE-8: archive answers the record; a stale version is 409 and archives nothing."""
    sample = services.sample_create(actor=people.manager, account=account, fields={"product": "样品"})
    cost = services.development_cost_create(actor=people.manager, account=account, fields={"amount": "10"})
    client = api(people.manager)
    assert client.post(f"/samples/{sample.pk}/archive", {"version": 9}).status_code == 409
    assert client.post(f"/samples/{sample.pk}/archive", {"version": 1, "reason": "录错"}).status_code == 200
    assert client.post(f"/development-costs/{cost.pk}/archive", {"version": 1}).status_code == 200
    assert client.get(f"/samples/{sample.pk}").status_code == 404
    assert selectors.development_cost_total(people.manager, account=account.pk) == Decimal(0)
    events = AuditEvent.objects.filter(action=AuditAction.ARCHIVE, account_id=account.pk)
    assert sorted(e.extra["reason"] for e in events) == ["", "录错"]

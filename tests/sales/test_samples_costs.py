"""Samples (PIPE-8), development costs (PIPE-5) and the customer's positioning (PIPE-3)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kam.core.errors import ConflictError
from kam.sales import selectors, services
from kam.sales.models import AccountPositioning, SampleAcceptance
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_pipeline(db):
    ensure_default_pipeline()


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, name="无锡新材料有限公司")


def test_a_sample_records_what_when_to_whom_and_the_result(people, account, make_contact):
    """PIPE-8: product, quantity, day sent, the contact who received it, the agreed standard, accepted or not."""
    contact = make_contact(account, name="质检刘工")
    deal = services.opportunity_create(actor=people.manager, account=account, fields={"name": "新材料试用"})
    sample = services.sample_create(actor=people.manager, account=account, fields={
        "product": "耐磨涂层样板", "quantity": "12.5", "unit": "kg", "sent_on": timezone.localdate() - timedelta(days=3),
        "contact": contact.pk, "opportunity": deal.pk, "agreed_standard": "磨损≤0.1mm/千小时"})  # fmt: skip
    assert (sample.accepted, sample.quantity, sample.contact, sample.opportunity) == (
        SampleAcceptance.PENDING,
        Decimal("12.5"),
        contact,
        deal,
    )
    updated = services.sample_update(actor=people.manager, sample=sample, version=sample.version,
                                     fields={"accepted": "no", "result_note": "磨损0.3mm"})  # fmt: skip
    assert (updated.accepted, updated.version) == ("no", 2)
    with pytest.raises(ConflictError):
        services.sample_update(actor=people.manager, sample=sample, version=1, fields={"accepted": "yes"})


def test_sample_bad_input_names_the_field(people, account, make_account, make_contact):
    other = make_account(people.manager)
    stranger = make_contact(other, name="别家联系人")
    other_deal = services.opportunity_create(actor=people.manager, account=other, fields={"name": "别家商机"})
    bad = [({"product": ""}, "product"), ({"product": "x", "quantity": "0"}, "quantity"),
           ({"product": "x", "quantity": "-2"}, "quantity"), ({"product": "x", "accepted": "maybe"}, "accepted"),
           ({"product": "x", "contact": stranger.pk}, "contact"), ({"product": "x", "opportunity": other_deal.pk}, "opportunity"),
           ({"product": "x", "sent_on": timezone.localdate() + timedelta(days=1)}, "sent_on")]  # fmt: skip
    for fields, field in bad:
        with pytest.raises(ValidationError) as refused:
            services.sample_create(actor=people.manager, account=account, fields=fields)
        assert field in refused.value.message_dict, fields


def test_presales_hours_are_costed_as_hours_times_rate(people, account):
    """PIPE-5: 12.5 hours × 480.00 = 6,000.00; an amount is taken as given; the account's total adds them up."""
    hours = services.development_cost_create(actor=people.manager, account=account, fields={
        "kind": "presales", "hours": "12.5", "rate": "480"})  # fmt: skip
    assert hours.amount == Decimal("6000.00")
    travel = services.development_cost_create(actor=people.manager, account=account, fields={
        "kind": "travel", "amount": "1830.40", "incurred_on": timezone.localdate() - timedelta(days=40)})  # fmt: skip
    assert travel.amount == Decimal("1830.40")
    assert selectors.development_cost_total(people.manager, account=account.pk) == Decimal("7830.40")
    corrected = services.development_cost_update(actor=people.manager, cost=hours, version=hours.version,
                                                 fields={"amount": "5000"})  # fmt: skip
    assert (corrected.amount, corrected.hours, corrected.rate) == (Decimal("5000"), None, None)
    assert selectors.development_cost_total(people.manager, account=account.pk) == Decimal("6830.40")
    assert selectors.development_cost_total(people.outsider, account=account.pk) == Decimal(0)


def test_cost_bad_input_names_the_field(people, account):
    bad = [({"kind": "travel"}, "amount"), ({"amount": "-5"}, "amount"), ({"amount": "1e12"}, "amount"),
           ({"hours": "3"}, "rate"), ({"rate": "100"}, "hours"), ({"amount": "1", "kind": "bribe"}, "kind"),
           ({"amount": "1", "incurred_on": timezone.localdate() + timedelta(days=2)}, "incurred_on"),
           ({"amount": "1", "currency": "¥"}, "currency")]  # fmt: skip
    for fields, field in bad:
        with pytest.raises(ValidationError) as refused:
            services.development_cost_create(actor=people.manager, account=account, fields=fields)
        assert field in refused.value.message_dict, fields


def test_positioning_is_written_once_then_updated_with_its_version(people, account):
    """PIPE-3: stable or high-growth type, risk assessment, background check, needs survey, difficulty."""
    first = services.positioning_set(actor=people.manager, account=account, fields={
        "growth_type": "high_growth", "risk_assessment": "现金流紧", "difficulty": "high"})  # fmt: skip
    assert (first.version, first.growth_type) == (1, "high_growth")
    second = services.positioning_set(actor=people.manager, account=account, version=1,
                                      fields={"growth_type": "stable", "needs_survey": "需要年度框架"})  # fmt: skip
    assert (second.version, second.growth_type, second.risk_assessment) == (2, "stable", "现金流紧")
    assert AccountPositioning.objects.filter(account=account).count() == 1
    with pytest.raises(ConflictError):
        services.positioning_set(actor=people.manager, account=account, version=1, fields={"difficulty": "low"})
    with pytest.raises(ValidationError) as refused:
        services.positioning_set(actor=people.manager, account=account, fields={"growth_type": "fast"})
    assert list(refused.value.message_dict) == ["growth_type"]

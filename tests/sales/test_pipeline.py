"""The staged development process: opportunities, gates, stage moves and their history (PIPE-1, PIPE-2,
PIPE-6), stopping and losing with the lost review (GOV-6), and bad input."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import override_settings
from django.utils import timezone, translation

from kam.core import scopes
from kam.core.errors import ConflictError
from kam.core.models import AuditEvent
from kam.sales import selectors, services
from kam.sales.models import GateItem, Opportunity, OpportunityStatus, Pipeline, Stage, StageChange
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_pipeline(db):
    ensure_default_pipeline()


POTENTIAL_GATE = ["potential need found", "first contact made", "go decision taken (or stop)"]
INTENTION_GATE = ["insider identified", "sample delivered and accepted to the agreed standard",
                  "information complete", "need confirmed"]  # fmt: skip
PROPOSAL_GATE = ["chance of winning assessed", "obstacles known", "expected cost estimated", "plan made"]
NEGOTIATION_GATE = ["relationship with the key decision makers", "executive talks held",
                    "site / factory inspection done", "system support arranged"]  # fmt: skip


@pytest.fixture(autouse=True)
def english():
    """Labels are compared in English (the msgids), whatever the translations say."""
    with translation.override("en"):
        yield


def stage(code: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, code=code)


def tick(opportunity, actor, *codes):
    for code in codes:
        item = GateItem.objects.get(stage__pipeline=opportunity.pipeline, code=code)
        services.gate_check(actor=actor, opportunity=opportunity, item=item)


def advance(opportunity, actor, code):
    opportunity.refresh_from_db()
    return services.opportunity_advance(actor=actor, opportunity=opportunity, to_stage=stage(code),
                                        version=opportunity.version)  # fmt: skip


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, name="苏州精密机械有限公司")


@pytest.fixture
def deal(people, account):
    return services.opportunity_create(actor=people.manager, account=account, fields={
        "name": "2027年度框架采购", "amount": "1200000.50", "expected_close": timezone.localdate() + timedelta(days=60),
        "product_lines": ["轴承", "导轨"], "competitors": ["SKF"], "source": "展会"})  # fmt: skip


def test_the_default_pipeline_has_the_five_funnel_stages_with_their_probabilities_plus_lost():
    """PIPE-1: potential 10 %, intention 30 %, proposal 50 %, negotiation 70 %, won 100 %, and lost 0 %."""
    pipeline = Pipeline.objects.get(is_default=True)
    stages = [(s.code, str(s.display_name), s.probability, s.kind) for s in pipeline.stages.order_by("order")]
    assert stages == [
        ("potential", "potential", Decimal("10.00"), "open"),
        ("intention", "intention", Decimal("30.00"), "open"),
        ("proposal", "proposal", Decimal("50.00"), "open"),
        ("negotiation", "negotiation", Decimal("70.00"), "open"),
        ("won", "won", Decimal("100.00"), "won"),
        ("lost", "lost", Decimal("0.00"), "lost"),
    ]


def test_a_new_opportunity_starts_in_the_first_stage_with_its_first_stage_change(people, deal):
    """PIPE-1 / PIPE-2: it starts in 'potential'; the start is the first entry of its history."""
    assert deal.stage == stage("potential")
    assert deal.status == OpportunityStatus.OPEN
    assert deal.amount == Decimal("1200000.50")
    assert deal.currency == "CNY"
    assert deal.owner == people.manager
    assert deal.product_lines == ["轴承", "导轨"]
    [change] = StageChange.objects.filter(opportunity=deal)
    assert (change.from_stage, change.to_stage, change.by) == (None, stage("potential"), people.manager)
    assert AuditEvent.objects.filter(target_type="sales.opportunity", target_id=str(deal.pk), action="create").exists()


def test_each_gate_names_exactly_its_missing_items(people, account, deal, make_contact):
    """PIPE-2: gate_missing is the one rule; each stage's checklist, item by item, hand-written."""
    assert services.gate_missing(deal, stage("potential")) == POTENTIAL_GATE
    assert services.gate_missing(deal, stage("intention")) == INTENTION_GATE
    assert services.gate_missing(deal, stage("proposal")) == PROPOSAL_GATE
    assert services.gate_missing(deal, stage("negotiation")) == NEGOTIATION_GATE
    assert services.gate_missing(deal, stage("won")) == []
    tick(deal, people.manager, "first_contact")
    assert services.gate_missing(deal, stage("potential")) == ["potential need found", "go decision taken (or stop)"]
    # Items KAM checks itself: an internal champion, an accepted sample, a supportive decision maker.
    make_contact(account, name="王内线", position={"buying_role": "champion"})
    assert services.gate_missing(deal, stage("intention")) == INTENTION_GATE[1:]
    sample = services.sample_create(actor=people.manager, account=account, fields={"product": "轴承样品"})
    assert services.gate_missing(deal, stage("intention")) == INTENTION_GATE[1:]  # pending is not accepted
    services.sample_update(actor=people.manager, sample=sample, fields={"accepted": "yes"}, version=sample.version)
    assert services.gate_missing(deal, stage("intention")) == INTENTION_GATE[2:]
    make_contact(account, name="李总", position={"buying_role": "decision_maker", "attitude": "neutral"})
    assert services.gate_missing(deal, stage("negotiation")) == NEGOTIATION_GATE  # neutral is no relationship
    make_contact(account, name="赵董", position={"buying_role": "decision_maker", "attitude": "supportive"})
    assert services.gate_missing(deal, stage("negotiation")) == NEGOTIATION_GATE[1:]


def test_advancing_is_refused_with_the_missing_items_named(people, deal):
    """PIPE-2: a gate that does not hold is refused (code "gate") naming the missing items; nothing moves."""
    tick(deal, people.manager, "potential_need")
    with pytest.raises(services.GateError) as refused:
        advance(deal, people.manager, "intention")
    assert refused.value.missing == ["first contact made", "go decision taken (or stop)"]
    assert refused.value.error_dict["stage"][0].code == "gate"
    assert "first contact made" in refused.value.message_dict["stage"][0]
    deal.refresh_from_db()
    assert deal.stage == stage("potential")
    assert StageChange.objects.filter(opportunity=deal).count() == 1


def test_skipping_stages_needs_the_gate_of_every_stage_left(people, deal):
    """PIPE-2: potential → proposal leaves potential and intention: both gates are checked, in order."""
    tick(deal, people.manager, "potential_need", "first_contact", "go_decision", "information_complete")
    with pytest.raises(services.GateError) as refused:
        advance(deal, people.manager, "proposal")
    assert refused.value.missing == ["insider identified", "sample delivered and accepted to the agreed standard",
                                     "need confirmed"]  # fmt: skip


def test_a_full_run_to_won_keeps_every_stage_change(people, account, deal, make_contact):
    """PIPE-2: through every gate to won; the history holds each move in order; won closes the deal."""
    tick(deal, people.manager, "potential_need", "first_contact", "go_decision")
    advance(deal, people.manager, "intention")
    make_contact(account, name="王内线", position={"buying_role": "champion"})
    services.sample_create(actor=people.manager, account=account, fields={"product": "样品", "accepted": "yes"})
    tick(deal, people.manager, "information_complete", "need_confirmed")
    advance(deal, people.manager, "proposal")
    tick(deal, people.manager, "chance_assessed", "obstacles_known", "expected_cost", "plan_made")
    advance(deal, people.manager, "negotiation")
    make_contact(account, name="赵董", position={"buying_role": "decision_maker", "attitude": "champion"})
    tick(deal, people.manager, "executive_talks", "site_inspection", "system_support")
    won = advance(deal, people.manager, "won")
    assert won.status == OpportunityStatus.WON
    assert won.closed_at is not None
    history = selectors.opportunity_history(won)
    assert [(c.from_stage and c.from_stage.code, c.to_stage.code) for c in history] == [
        (None, "potential"), ("potential", "intention"), ("intention", "proposal"), ("proposal", "negotiation"),
        ("negotiation", "won"),
    ]  # fmt: skip
    with pytest.raises(ValidationError) as closed:
        advance(won, people.manager, "negotiation")
    assert "status" in closed.value.message_dict


def test_moving_back_needs_no_gate_and_is_kept(people, deal):
    """PIPE-2: back to an earlier stage is allowed without a gate, and recorded."""
    tick(deal, people.manager, "potential_need", "first_contact", "go_decision")
    advance(deal, people.manager, "intention")
    back = advance(deal, people.manager, "potential")
    assert back.stage == stage("potential")
    assert StageChange.objects.filter(opportunity=deal).count() == 3


def test_a_switched_off_gate_item_no_longer_blocks(people, deal):
    """PIPE-2: an administrator configures the gate; an inactive item is not required."""
    item = GateItem.objects.get(stage=stage("potential"), code="go_decision")
    services.gate_item_update(actor=people.admin, item=item, fields={"is_active": False}, version=item.version)
    added = services.gate_item_create(actor=people.admin, stage=stage("potential"), fields={"label": "客户资信初查"})
    tick(deal, people.manager, "potential_need", "first_contact")
    assert services.gate_missing(deal, stage("potential")) == ["客户资信初查"]
    services.gate_check(actor=people.manager, opportunity=deal, item=added)
    assert advance(deal, people.manager, "intention").stage == stage("intention")


def test_only_an_administrator_configures_gate_items(people):
    """PIPE-2: a KA head may not change the process."""
    with pytest.raises(PermissionDenied):
        services.gate_item_create(actor=people.head, stage=stage("potential"), fields={"label": "x"})


def test_items_kam_checks_itself_cannot_be_ticked(people, deal):
    """PIPE-2: 'insider identified' holds only when the account has a champion, not by a tick."""
    item = GateItem.objects.get(stage=stage("intention"), code="insider")
    with pytest.raises(ValidationError) as refused:
        services.gate_check(actor=people.manager, opportunity=deal, item=item)
    assert "item" in refused.value.message_dict


def test_a_gate_item_of_another_pipeline_is_refused(people, deal):
    other = Pipeline.objects.create(name="渠道流程")
    other_stage = Stage.objects.create(pipeline=other, code="", name="初步", order=1, probability=10)
    item = GateItem.objects.create(stage=other_stage, label="别的")
    with pytest.raises(ValidationError) as refused:
        services.gate_check(actor=people.manager, opportunity=deal, item=item)
    assert "item" in refused.value.message_dict


def test_unchecking_takes_the_tick_back(people, deal):
    tick(deal, people.manager, "potential_need")
    item = GateItem.objects.get(stage=stage("potential"), code="potential_need")
    services.gate_uncheck(actor=people.manager, opportunity=deal, item=item)
    assert services.gate_missing(deal, stage("potential")) == POTENTIAL_GATE


def test_unknown_stage_and_stage_of_another_pipeline_are_refused(people, deal):
    """Bad input: an unknown stage id, or a stage of another pipeline, names the stage field."""
    other = Pipeline.objects.create(name="渠道流程")
    foreign_stage = Stage.objects.create(pipeline=other, name="初步", order=1, probability=10)
    for target in (999999, foreign_stage):
        with pytest.raises(ValidationError) as refused:
            services.opportunity_advance(actor=people.manager, opportunity=deal, to_stage=target)
        assert list(refused.value.message_dict) == ["stage"]
    with pytest.raises(ValidationError) as same:
        services.opportunity_advance(actor=people.manager, opportunity=deal, to_stage=stage("potential"))
    assert list(same.value.message_dict) == ["stage"]


def test_losing_is_not_a_move_but_needs_the_review(people, deal):
    with pytest.raises(ValidationError):
        services.opportunity_advance(actor=people.manager, opportunity=deal, to_stage=stage("lost"))


def test_stopping_requires_a_reason_and_the_review(people, deal):
    """PIPE-2 (无则终止) / GOV-6: reason, what happened and lesson are required; the stage stays."""
    with pytest.raises(ValidationError) as refused:
        services.opportunity_stop(actor=people.manager, opportunity=deal, version=deal.version, reason=" ")
    assert sorted(refused.value.message_dict) == ["close_reason", "review_lesson", "review_what_happened"]
    stopped = services.opportunity_stop(actor=people.manager, opportunity=deal, version=deal.version,
                                        reason="客户取消项目", what_happened="预算冻结", lesson="提前确认预算")  # fmt: skip
    assert stopped.status == OpportunityStatus.STOPPED
    assert stopped.stage == stage("potential")
    assert stopped.close_reason == "客户取消项目"
    assert stopped.closed_at is not None
    with pytest.raises(ValidationError):
        services.opportunity_stop(actor=people.manager, opportunity=stopped, reason="a", what_happened="b", lesson="c")


def test_losing_moves_to_lost_and_keeps_the_stage_it_was_lost_in(people, deal):
    """GOV-6: the lost review (what happened, competitor, lesson) is kept; history shows where it was lost."""
    tick(deal, people.manager, "potential_need", "first_contact", "go_decision")
    advance(deal, people.manager, "intention")
    deal.refresh_from_db()
    lost = services.opportunity_lose(actor=people.manager, opportunity=deal, version=deal.version, reason="价格",
                                     what_happened="对手报价低15%", competitor="SKF", lesson="早谈价值")  # fmt: skip
    assert (lost.status, lost.stage, lost.review_competitor) == (OpportunityStatus.LOST, stage("lost"), "SKF")
    last = StageChange.objects.filter(opportunity=deal).order_by("-at", "-id").first()
    assert (last.from_stage, last.to_stage, last.note) == (stage("intention"), stage("lost"), "价格")


def test_a_stale_version_is_a_conflict(people, deal):
    """Optimistic locking: update and advance with an old version raise ConflictError (409)."""
    old = deal.version
    services.opportunity_update(actor=people.manager, opportunity=deal, fields={"next_step": "约技术交流"}, version=old)
    with pytest.raises(ConflictError):
        services.opportunity_update(actor=people.manager, opportunity=deal, fields={"name": "x"}, version=old)
    with pytest.raises(ConflictError):
        services.opportunity_advance(actor=people.manager, opportunity=deal, to_stage=stage("intention"), version=old)


@pytest.mark.parametrize(("amount", "ok"), [("-1", False), ("10000000000.01", False), ("1.005", False),
                                             ("abc", False), ("NaN", False), ("0", True), ("10000000000", True)])  # fmt: skip
def test_negative_or_absurd_amounts_are_refused(people, account, amount, ok):
    """Bad input: amounts below zero, above KAM["MAX_DEAL_AMOUNT"] (10,000,000,000), or with cents' fractions."""
    fields = {"name": "测试商机", "amount": amount}
    if ok:
        assert services.opportunity_create(actor=people.manager, account=account, fields=fields).amount == Decimal(
            amount
        )
    else:
        with pytest.raises(ValidationError) as refused:
            services.opportunity_create(actor=people.manager, account=account, fields=fields)
        assert list(refused.value.message_dict) == ["amount"]


@override_settings(KAM={**__import__("django.conf").conf.settings.KAM, "MAX_DEAL_AMOUNT": "5000"})
def test_the_amount_cap_is_a_setting(people, account):
    with pytest.raises(ValidationError):
        services.opportunity_create(actor=people.manager, account=account, fields={"name": "x", "amount": "5000.01"})


def test_an_expected_close_more_than_a_year_ago_is_refused_for_an_open_opportunity(people, account):
    """Bad input: 366 days before today is refused (KAM["OPPORTUNITY_CLOSE_PAST_DAYS"] = 365); 365 is accepted."""
    today = timezone.localdate()
    with pytest.raises(ValidationError) as refused:
        services.opportunity_create(actor=people.manager, account=account,
                                    fields={"name": "旧商机", "expected_close": today - timedelta(days=366)})  # fmt: skip
    assert list(refused.value.message_dict) == ["expected_close"]
    ok = services.opportunity_create(actor=people.manager, account=account,
                                     fields={"name": "旧商机", "expected_close": today - timedelta(days=365)})  # fmt: skip
    assert ok.expected_close == today - timedelta(days=365)


def test_other_bad_input_names_the_field(people, account):
    bad = [({"name": ""}, "name"), ({"name": "x", "currency": "RMB1"}, "currency"),
           ({"name": "x", "forecast_category": "maybe"}, "forecast_category"),
           ({"name": "x", "competitors": "SKF"}, "competitors"), ({"name": "x", "owner": people.outsider}, "owner"),
           ({"name": "x", "stage": 1}, "stage")]  # fmt: skip
    for fields, field in bad:
        with pytest.raises(ValidationError) as refused:
            services.opportunity_create(actor=people.manager, account=account, fields=fields)
        assert field in refused.value.message_dict, fields


def test_spin_notes_and_forecast_category_are_kept(people, deal):
    """PIPE-6: SPIN discovery notes on the opportunity."""
    updated = services.opportunity_update(actor=people.manager, opportunity=deal, version=deal.version, fields={
        "spin_situation": "三条产线", "spin_problem": "停机多", "spin_implication": "交期延误",
        "spin_need_payoff": "寿命翻倍", "forecast_category": "commit"})  # fmt: skip
    assert (updated.spin_problem, updated.forecast_category, updated.version) == ("停机多", "commit", deal.version + 1)


def test_an_opportunity_long_in_its_stage_is_flagged_stuck(people, deal):
    """PIPE-2: open and in its stage longer than KAM["OPPORTUNITY_STUCK_DAYS"] (30) or the stage's own days."""
    now = timezone.now()
    Opportunity.objects.filter(pk=deal.pk).update(stage_entered_at=now - timedelta(days=31))
    deal.refresh_from_db()
    assert services.is_stuck(deal, now=now)
    assert list(selectors.opportunity_list(people.manager, stuck=True)) == [deal]
    Stage.objects.filter(pk=deal.stage_id).update(stuck_after_days=40)
    deal.refresh_from_db()
    assert not services.is_stuck(deal, now=now)
    assert list(selectors.opportunity_list(people.manager, stuck=True)) == []
    assert list(selectors.opportunity_list(people.manager, stuck=False)) == [deal]


def test_opportunities_follow_their_account_scope(people, deal):
    """Data scope: a colleague in another branch gets 404; a viewer without write access gets 403 on writes."""
    assert list(scopes.visible_opportunities(people.outsider)) == []
    with pytest.raises(Http404):
        scopes.get_opportunity_for_user(people.outsider, deal.pk)
    assert scopes.get_opportunity_for_user(people.dept_viewer, deal.pk) == deal
    with pytest.raises(PermissionDenied):
        scopes.get_opportunity_for_user(people.dept_viewer, deal.pk, write=True)
    assert scopes.get_opportunity_for_user(people.head, deal.pk, write=True) == deal


def test_list_filters(people, account, deal, make_account):
    other = services.opportunity_create(actor=people.manager, account=make_account(people.manager), fields={
        "name": "备件", "expected_close": timezone.localdate() + timedelta(days=10)})  # fmt: skip
    assert list(selectors.opportunity_list(people.manager)) == [other, deal]  # by expected close
    assert list(selectors.opportunity_list(people.manager, account=account.pk)) == [deal]
    close_to = timezone.localdate() + timedelta(days=30)
    assert list(selectors.opportunity_list(people.manager, close_to=close_to)) == [other]
    assert list(selectors.opportunity_list(people.manager, owner="me", status="open")) == [other, deal]
    assert list(selectors.opportunity_list(people.head, owner=str(people.colleague.pk))) == []
    with pytest.raises(ValidationError):
        selectors.opportunity_list(people.manager, status="maybe")

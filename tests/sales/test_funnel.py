"""The funnel (issue 3 item 7, PIPE-1), the board's filters and totals, and archiving opportunities (GOV-6:
nothing is deleted). Figures are worked out by hand below."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kam.core.models import AuditAction, AuditEvent
from kam.sales import selectors, services
from kam.sales.models import FunnelCell, Opportunity, PipelineCell, Stage
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_pipeline(db):
    ensure_default_pipeline()


def stage(code):
    return Stage.objects.get(pipeline__is_default=True, code=code)


def make(owner, account, *, amount, reached, now_in, status="open", created_days_ago=10, **fields):
    """An opportunity that reached the stage `reached` and is now in `now_in` with `status`."""
    o = services.opportunity_create(actor=owner, account=account, fields={"name": f"商机{amount}", "amount": amount})
    Opportunity.objects.filter(pk=o.pk).update(
        reached_order=stage(reached).order, stage=stage(now_in), status=status,
        created_at=timezone.now() - timedelta(days=created_days_ago), **fields)  # fmt: skip
    services.opportunity_cells_recompute()  # written around the services: the cells are rebuilt, as after a bulk load
    return Opportunity.objects.get(pk=o.pk)


@pytest.fixture
def world(people, make_account):
    """李娜's five deals of the last year, one older open one and an archived won one; 王伟 (same team) one."""
    mine = make_account(people.manager, name="常州电机有限公司")
    theirs = make_account(people.colleague, name="无锡轴承有限公司")
    m = people.manager
    make(m, mine, amount="100", reached="potential", now_in="potential")
    make(m, mine, amount="200", reached="intention", now_in="intention")
    make(m, mine, amount="300", reached="proposal", now_in="lost", status="lost", closed_in_stage=stage("proposal"))
    make(m, mine, amount="400", reached="negotiation", now_in="negotiation")
    make(m, mine, amount="1000", reached="won", now_in="won", status="won")
    make(m, mine, amount="50", reached="intention", now_in="intention", created_days_ago=800)
    make(m, mine, amount="9999", reached="won", now_in="won", status="won", is_archived=True)
    make(people.colleague, theirs, amount="7000", reached="proposal", now_in="proposal")
    return {"mine": mine, "theirs": theirs}


def pipeline_cells():
    rows = PipelineCell.objects.exclude(count=0)
    return sorted(rows.values_list("owner_id", "month", "forecast_category", "stage_id", "count", "amount"))


def cells():
    return sorted(
        FunnelCell.objects.exclude(count=0).values_list(
            "pipeline_id", "owner_id", "month", "reached_order", "stage_id", "is_open", "count", "amount"
        )
    )


def test_the_services_keep_the_funnel_cells_as_a_recompute_would(people, make_account, org):
    """PIPE-1, PIPE-4: every write of an opportunity moves it between the funnel's and the forecast's cells in
    its transaction; after creates, edits of amount, owner, currency, close date and forecast category,
    advances, a loss, a stop, an archive and a restore, the cells are exactly what rebuilding them from the
    opportunities gives."""
    m, colleague = people.manager, people.head  # the head sees the account and may own the opportunity
    account = make_account(m, name="苏州精工有限公司")
    close = timezone.localdate() + timedelta(days=40)
    a = services.opportunity_create(actor=m, account=account, fields={"name": "甲", "amount": "100",
                                                                      "expected_close": close})  # fmt: skip
    b = services.opportunity_create(actor=m, account=account, fields={"name": "乙", "amount": "250.50"})
    c = services.opportunity_create(actor=m, account=account, fields={"name": "丙", "amount": "80"})
    d = services.opportunity_create(actor=m, account=account, fields={"name": "丁", "amount": "60",
                                                                      "expected_close": close})  # fmt: skip
    a = services.opportunity_update(actor=m, opportunity=a, fields={"amount": "120", "owner": colleague})
    a = services.opportunity_update(actor=colleague, opportunity=a, fields={"forecast_category": "commit",
                                                                            "expected_close": close + timedelta(31)})  # fmt: skip
    b = services.opportunity_update(actor=m, opportunity=b, fields={"currency": "USD"})
    Opportunity.objects.filter(pk=c.pk).update(stage=stage("proposal"), reached_order=stage("proposal").order)
    services.opportunity_cells_recompute()
    c = services.opportunity_advance(actor=m, opportunity=Opportunity.objects.get(pk=c.pk), to_stage=stage("intention"))
    review = {"reason": "价格", "what_happened": "对手降价", "lesson": "早报价"}
    c = services.opportunity_lose(actor=m, opportunity=c, **review)
    d = services.opportunity_stop(actor=m, opportunity=d, **review)
    services.opportunity_archive(actor=m, opportunity=a)
    services.opportunity_restore(actor=m, opportunity=Opportunity.objects.get(pk=a.pk))
    services.opportunity_archive(actor=m, opportunity=Opportunity.objects.get(pk=b.pk))
    kept, pipeline_kept = cells(), pipeline_cells()
    assert sum(row[6] for row in kept) == 3  # b archived
    later = (close + timedelta(31)).replace(day=1)
    assert pipeline_kept == [(colleague.pk, later, "commit", stage("potential").pk, 1, Decimal("120.00"))]  # d stopped
    services.opportunity_cells_recompute()
    assert cells() == kept and pipeline_cells() == pipeline_kept
    month = timezone.localdate().replace(day=1)
    assert (stage("potential").pipeline_id, colleague.pk, month, stage("potential").order, stage("potential").pk,
            True, 1, Decimal("120.00")) in kept  # fmt: skip


def figures(funnel):
    return [(f["stage"].code, f["reached"], f["amount"], f["conversion"]) for f in funnel["stages"]]


def test_the_funnel_counts_every_stage_reached_with_amounts_and_conversion(people, world):
    """PIPE-1: reached = opportunities created in the period whose furthest stage is at least this one
    (the lost one counts up to proposal); conversion = reached next / reached; win rate 1 of 5; the older
    open one is only in today's pipeline; the archived one nowhere."""
    funnel = selectors.opportunity_funnel(people.manager)
    assert figures(funnel) == [
        ("potential", 5, Decimal("2000"), Decimal("80.0")),
        ("intention", 4, Decimal("1900"), Decimal("75.0")),
        ("proposal", 3, Decimal("1700"), Decimal("66.7")),
        ("negotiation", 2, Decimal("1400"), Decimal("50.0")),
        ("won", 1, Decimal("1000"), None),
    ]
    assert funnel["win_rate"] == Decimal("20.0")
    assert [(o["stage"].code, o["count"], o["amount"], o["weighted"]) for o in funnel["open"]] == [
        ("potential", 1, Decimal("100"), Decimal("10.00")),
        ("intention", 2, Decimal("250"), Decimal("75.00")),  # 250 × 30 %
        ("proposal", 0, Decimal("0"), Decimal("0.00")),
        ("negotiation", 1, Decimal("400"), Decimal("280.00")),
    ]
    assert funnel["open_total"] == {"count": 4, "amount": Decimal("750"), "weighted": Decimal("365.00")}


def test_the_funnel_keeps_to_scope_owner_team_and_period(people, world, org):
    """PIPE-1, GOV-7: 王伟's deal is not in 李娜's funnel; the head sees both, and filters by owner and team;
    a period before everything is empty."""
    head = people.head
    assert selectors.opportunity_funnel(head)["stages"][0]["reached"] == 6
    assert selectors.opportunity_funnel(head, owner=str(people.colleague.pk))["stages"][2]["reached"] == 1
    assert selectors.opportunity_funnel(head, team=str(org.team_a.pk))["stages"][0]["reached"] == 6
    assert selectors.opportunity_funnel(head, team=str(org.team_b.pk))["stages"][0]["reached"] == 0
    old = selectors.opportunity_funnel(people.manager, date_from="2020-01-01", date_to="2020-12-31")
    assert old["stages"][0]["reached"] == 0 and old["win_rate"] is None
    assert old["open_total"]["count"] == 4  # today's pipeline whatever the creation period


@pytest.mark.parametrize(("filters", "field"), [
    ({"date_from": "2026-13-01"}, "from"), ({"date_to": "morgen"}, "to"),
    ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "to"), ({"owner": "999999"}, "owner"),
    ({"team": "x"}, "team"), ({"pipeline": "999999"}, "pipeline"),
])  # fmt: skip
def test_bad_funnel_filters_name_the_field(people, filters, field):
    with pytest.raises(ValidationError) as e:
        selectors.opportunity_funnel(people.manager, **filters)
    assert list(e.value.message_dict) == [field]


def test_a_team_outside_the_scope_is_refused(people, org):
    with pytest.raises(ValidationError) as e:
        selectors.opportunity_funnel(people.manager, team=str(org.south_ka.pk))
    assert list(e.value.message_dict) == ["team"]


def test_the_funnel_api_answers_the_figures_and_names_a_bad_field(api, people, world):
    """PIPE-1 API: the same figures as the page; a bad date or an unknown owner is a 422 naming it."""
    client = api(people.manager)
    response = client.get("/opportunities/funnel")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(s["stage"]["id"], s["reached"], s["amount"], s["conversion"]) for s in body["stages"]][:2] == [
        (stage("potential").pk, 5, "2000.00", "80.0"), (stage("intention").pk, 4, "1900.00", "75.0")]  # fmt: skip
    assert (body["win_rate"], body["open_total"]["weighted"]) == ("20.0", "365.00")
    assert (
        client.get("/opportunities/funnel", {"owner": "me", "from": "2020-01-01"}).json()["stages"][0]["reached"] == 6
    )
    for params, field in (({"from": "2026-02-30"}, "from"), ({"owner": "999999"}, "owner")):
        bad = client.get("/opportunities/funnel", params)
        assert bad.status_code == 422
        assert [e["field"] for e in bad.json()["errors"]] == [field]


def test_the_funnel_page_shows_the_table_with_grouped_amounts(page_client, people, world):
    """Issue 3 item 7: the page draws the chart from JSON and shows the table with thousand separators and
    percentages; a bad date is shown on the form (422)."""
    client = page_client(people.manager)
    response = client.get("/sales/funnel/")
    text = response.content.decode()
    assert response.status_code == 200
    assert 'id="funnel-chart"' in text and 'id="funnel-data"' in text
    assert "2,000.00" in text and "66.7%" in text and "20.0%" in text
    bad = client.get("/sales/funnel/", {"from": "2026-99-01"})
    assert bad.status_code == 422 and bad.context["errors"].keys() == {"from"}
    assert 'id="filter-errors"' in bad.content.decode()


def test_the_board_filters_by_owner_and_team_and_totals_each_stage(page_client, people, world, org):
    """Issue 3 item 7: owner / team filters like the funnel; each column totals its amount (grouped)."""
    client = page_client(people.head)
    columns = client.get("/opportunities/board/", {"team": org.team_a.pk}).context["columns"]
    assert [(s.code, count, s.total_amount) for s, _cards, count in columns] == [
        ("potential", 1, Decimal("100")), ("intention", 2, Decimal("250")), ("proposal", 1, Decimal("7000")),
        ("negotiation", 1, Decimal("400")), ("won", 1, Decimal("1000"))]  # fmt: skip
    mine = client.get("/opportunities/board/", {"owner": people.manager.pk})
    assert [count for _s, _c, count in mine.context["columns"]] == [1, 2, 0, 1, 1]
    assert "7,000.00" in client.get("/opportunities/board/", {"all": "1"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert client.get("/opportunities/board/", {"owner": "x"}).status_code == 422


def test_archiving_keeps_the_opportunity_out_of_lists_and_figures_and_restore_brings_it_back(api, people, world):
    """GOV-6 / DESIGN (deletes are archival): archive and restore are versioned (stale → 409) and audited; an
    archived opportunity leaves the list, board and funnel but is found by its id with its flag, and is not
    changed (edit, advance) until it is restored."""
    client = api(people.manager)
    deal = Opportunity.objects.get(amount=400)
    response = client.post(f"/opportunities/{deal.pk}/archive", {"version": deal.version})
    assert response.status_code == 200 and response.json()["is_archived"] is True
    assert client.post(f"/opportunities/{deal.pk}/restore", {"version": deal.version}).status_code == 409
    assert deal.pk not in {o["id"] for o in client.get("/opportunities?page_size=100").json()["items"]}
    assert selectors.opportunity_funnel(people.manager)["stages"][0]["reached"] == 4
    assert client.get(f"/opportunities/{deal.pk}").json()["is_archived"] is True
    archived = {"version": deal.version + 1}
    for response in (client.patch(f"/opportunities/{deal.pk}", {**archived, "next_step": "改"}),
                     client.post(f"/opportunities/{deal.pk}/advance", {**archived, "stage_id": stage("won").pk})):  # fmt: skip
        assert response.status_code == 422 and "is_archived" in response.content.decode()  # restore it first
    restored = client.post(f"/opportunities/{deal.pk}/restore", {"version": deal.version + 1})
    assert restored.status_code == 200 and restored.json()["is_archived"] is False
    actions = list(AuditEvent.objects.filter(target_id=str(deal.pk), action__in=[AuditAction.ARCHIVE,
                   AuditAction.RESTORE]).order_by("id").values_list("action", flat=True))  # fmt: skip
    assert actions == [AuditAction.ARCHIVE, AuditAction.RESTORE]


def test_only_who_may_change_the_account_archives(api, people, world):
    """GOV-1, GOV-7: a department viewer sees but may not archive (403); an outsider gets 404."""
    deal = Opportunity.objects.get(amount=400)
    assert (
        api(people.dept_viewer).post(f"/opportunities/{deal.pk}/archive", {"version": deal.version}).status_code == 403
    )
    assert api(people.outsider).post(f"/opportunities/{deal.pk}/archive", {"version": deal.version}).status_code == 404


def test_the_detail_page_archives_and_shows_the_badge_and_restore_button(page_client, people, world):
    """The detail page's archive button (POST, CSRF) and, once archived, the badge and the restore button."""
    deal = Opportunity.objects.get(amount=400)
    client = page_client(people.manager)
    assert 'id="archive-opportunity"' in client.get(f"/opportunities/{deal.pk}/").content.decode()
    response = client.post(f"/opportunities/{deal.pk}/archive/", {"version": deal.version})
    assert response.status_code == 302
    text = client.get(f"/opportunities/{deal.pk}/").content.decode()
    assert 'id="archived-badge"' in text and 'id="restore-opportunity"' in text

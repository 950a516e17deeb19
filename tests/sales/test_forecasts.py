"""Forecasts per manager, team and company (PIPE-4, ANA-1, ANA-2): snapshots, the monthly figures against
quota and actuals, which forecast was closest, the scope, the API and the page. Numbers are worked by hand."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from kam.org.models import Quota
from kam.sales import selectors, services
from kam.sales.models import ForecastSnapshot, OwnerForecastMonth
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db

# Opportunities may not be expected to close long before the real today, so the months follow the clock.
TODAY = timezone.localdate()
CURRENT = TODAY.replace(day=1)
PREVIOUS = (CURRENT - timedelta(days=1)).replace(day=1)
NEXT = (CURRENT + timedelta(days=32)).replace(day=1)


def _deal(owner, account, amount, category):
    services.opportunity_create(actor=owner, account=account, fields={
        "name": f"{category} {amount}", "amount": amount, "expected_close": CURRENT, "forecast_category": category})  # fmt: skip


def _sale(owner, account, day, amount, number):
    services.sales_record_create(actor=owner, account=account, fields={
        "order_number": number, "date": day, "product_line": "阀门", "quantity": "1", "amount": amount,
        "gross_margin": "0"})  # fmt: skip


@pytest.fixture
def month_of_李娜(people, make_account):
    """This month 李娜 (first stage, 10 %) has 1000 pipeline, 2000 best case, 3000 commit and 500 omitted open,
    400 sold today, a quota of 10,000 and a statistical forecast of 4,321."""
    ensure_default_pipeline()
    m = people.manager
    account = make_account(m)
    for amount, category in (("1000", "pipeline"), ("2000", "best_case"), ("3000", "commit"), ("500", "omitted")):
        _deal(m, account, amount, category)
    _sale(m, account, TODAY, "400", "F-1")
    Quota.objects.create(user=m, month=CURRENT, amount=Decimal("10000"))
    OwnerForecastMonth.objects.create(owner=m, month=CURRENT, statistical=Decimal("4321.00"))
    return account


def test_snapshot_keeps_each_forecast_of_the_month_and_a_second_run_does_nothing(people, month_of_李娜):
    """PIPE-4: weighted = 400 + 10 % × (1000 + 2000 + 3000) = 1000; commit = 400 + 3000 = 3400; best case =
    400 + 2000 + 3000 = 5400; pipeline = 6000 (omitted left out). Six active KA managers and heads × this
    month and the next two = 18 snapshots; the same day again: none."""
    assert services.forecast_snapshots_take(today=TODAY) == 18
    s = ForecastSnapshot.objects.get(owner=people.manager, month=CURRENT)
    assert (s.weighted, s.commit, s.best_case, s.pipeline, s.statistical, s.quota, s.taken_on) == (
        Decimal("1000.00"), Decimal("3400.00"), Decimal("5400.00"), Decimal("6000.00"), Decimal("4321.00"),
        Decimal("10000.00"), TODAY)  # fmt: skip
    later = ForecastSnapshot.objects.get(owner=people.manager, month=NEXT)
    assert (later.weighted, later.quota) == (Decimal(0), None)
    assert services.forecast_snapshots_take(today=TODAY) == 0
    assert ForecastSnapshot.objects.count() == 18


@pytest.fixture
def team_a_history(people, org, month_of_李娜, make_account):
    """Last month: 李娜 sold 800, 王伟 200 (team actual 1000). Snapshots taken on the 1st: 李娜 weighted 1000,
    commit 700, best case 1200, statistical 900; 王伟 200, 100, 300, 0 (a later snapshot of the month is
    ignored). Back-test: 90 against 100 and 10 against 20. Team A's own quota this month: 5000."""
    m, c = people.manager, people.colleague
    _sale(m, month_of_李娜, PREVIOUS + timedelta(days=9), "800", "F-2")
    _sale(c, make_account(c), PREVIOUS + timedelta(days=3), "200", "F-3")
    Quota.objects.create(user=m, month=PREVIOUS, amount=Decimal("1000"))
    Quota.objects.create(department=org.team_a, month=CURRENT, amount=Decimal("5000"))
    for owner, figures in ((m, ("1000", "700", "1200", "900")), (c, ("200", "100", "300", "0"))):
        weighted, commit, best_case, statistical = (Decimal(v) for v in figures)
        ForecastSnapshot.objects.create(owner=owner, month=PREVIOUS, taken_on=PREVIOUS, weighted=weighted,
                                        commit=commit, best_case=best_case, statistical=statistical)  # fmt: skip
    ForecastSnapshot.objects.create(owner=m, month=PREVIOUS, taken_on=PREVIOUS + timedelta(days=4),
                                    weighted=Decimal("99999"))  # fmt: skip
    OwnerForecastMonth.objects.create(owner=m, month=PREVIOUS, statistical=Decimal(90), actual=Decimal(100),
                                      is_backtest=True)  # fmt: skip
    OwnerForecastMonth.objects.create(owner=c, month=PREVIOUS, statistical=Decimal(10), actual=Decimal(20),
                                      is_backtest=True)  # fmt: skip


def test_team_forecast_by_month_per_manager_and_which_forecast_was_closest(people, org, team_a_history):
    """ANA-1, ANA-2 for team A seen by the head. Last month: quota 1000 (李娜's; 王伟 has none), actual 1000,
    weighted 1200 (error 20 %), commit 800 (20 %), best case 1500 (50 %), statistical 900 (10 %: closest);
    back-test 100 against 120: error and WAPE 16.7 %. This month: quota 5000 (the team's own, not 10,000),
    actual 400, attainment 8 %, weighted 1000, commit 3400, best case 5400; per manager 李娜 against her own
    10,000 (4 %)."""
    overview = selectors.forecast_overview(people.head, department=org.team_a.pk, first=PREVIOUS.strftime("%Y-%m"),
                                           last=CURRENT.strftime("%Y-%m"), today=TODAY)  # fmt: skip
    before, now = overview["months"]
    assert (before["quota"], before["actual"], before["weighted"], before["commit"], before["best_case"],
            before["statistical"], before["attainment"]) == (Decimal(1000), Decimal(1000), Decimal(1200),
                                                              Decimal(800), Decimal(1500), Decimal(100),
                                                              Decimal("100.0"))  # fmt: skip
    assert (now["quota"], now["actual"], now["attainment"], now["weighted"], now["commit"], now["best_case"],
            now["statistical"]) == (Decimal(5000), Decimal(400), Decimal("8.0"), Decimal(1000), Decimal(3400),
                                    Decimal(5400), Decimal(4321))  # fmt: skip
    lina = next(r for r in overview["people"] if r["user"] == people.manager)
    assert (lina["quota"], lina["attainment"], lina["commit"]) == (Decimal(10000), Decimal("4.0"), Decimal(3400))
    accuracy = overview["accuracy"]
    [month] = accuracy["months"]
    assert month["errors"] == {"weighted": Decimal("20.0"), "commit": Decimal("20.0"), "best_case": Decimal("50.0"),
                               "statistical": Decimal("10.0")}  # fmt: skip
    assert accuracy["wape"]["statistical"] == Decimal("10.0")
    assert accuracy["closest"] == "statistical"
    assert [(b["forecast"], b["actual"], b["error"]) for b in accuracy["backtest"]] == [
        (Decimal(100), Decimal(120), Decimal("16.7"))
    ]
    assert accuracy["backtest_wape"] == Decimal("16.7")


def test_a_manager_sees_only_herself_and_the_head_his_department(people, org, team_a_history):
    """PIPE-4 scope (GOV-7): 李娜's company is herself; the head's is the east KA department; a manager or team
    outside the scope is 404; bad parameters name their field."""
    mine = selectors.forecast_overview(people.manager, today=TODAY)
    assert [r["user"] for r in mine["people"]] == [people.manager]
    heads = selectors.forecast_overview(people.head, today=TODAY)
    assert {r["user"].username for r in heads["people"]} == {"lina", "wangwei", "zhoumin", "sunli", "chen"}
    with pytest.raises(Http404):
        selectors.forecast_overview(people.head, user=people.outsider.pk, today=TODAY)
    with pytest.raises(Http404):
        selectors.forecast_overview(people.manager, department=org.team_a.pk, today=TODAY)
    for kwargs, field in (({"first": "2026-13"}, "from"), ({"first": "2026-05", "last": "2026-04"}, "to"),
                          ({"first": "2020-01", "last": "2026-01"}, "to"), ({"user": "abc"}, "user")):  # fmt: skip
        with pytest.raises(ValidationError) as error:
            selectors.forecast_overview(people.head, today=TODAY, **kwargs)
        assert field in error.value.message_dict


def test_forecast_api_snapshots_and_recompute(people, org, team_a_history, api, django_assert_max_num_queries):
    """PIPE-4, ANA-2 API: the same figures with money as strings; a bad month is a 422 naming `from`, a foreign
    manager 404; snapshots only of people in scope; only an administrator recomputes (403 for others)."""
    head = api(people.head)
    with django_assert_max_num_queries(11):  # the token, then aggregates only: a fixed number of queries
        answer = head.get("/forecasts", {"department": org.team_a.pk, "from": PREVIOUS.strftime("%Y-%m"),
                                         "to": CURRENT.strftime("%Y-%m")})  # fmt: skip
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["level"] == {"kind": "team", "id": org.team_a.pk, "name": "一组"}
    assert (data["months"][1]["commit"], data["accuracy"]["closest"]) == ("3400.00", "statistical")
    bad = head.get("/forecasts", {"from": "2026-13"})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "from")
    assert head.get("/forecasts", {"user": people.outsider.pk}).status_code == 404
    snapshots = api(people.colleague).get("/forecasts/snapshots").json()
    assert {s["owner"]["username"] for s in snapshots["items"]} == {"wangwei"}
    assert api(people.manager).post("/forecasts/recompute").status_code == 403
    recomputed = api(people.admin).post("/forecasts/recompute")
    assert recomputed.status_code == 200, recomputed.content
    assert recomputed.json()["accounts"] == 2  # the two accounts that sold last month (this month is not complete)


def test_forecast_page(people, org, team_a_history, page_client):
    """PIPE-4 page: the chart's data, the months, managers and accuracy tables; a bad month is shown next to
    the filters; a manager outside the scope is 404."""
    client = page_client(people.head)
    page = client.get("/sales/forecast/", {"department": org.team_a.pk, "from": PREVIOUS.strftime("%Y-%m")},
                      HTTP_ACCEPT_LANGUAGE="en")  # fmt: skip
    assert page.status_code == 200
    text = page.content.decode()
    for marker in ('id="forecast-chart"', 'id="forecast-data"', 'id="forecast-months"', 'id="forecast-people"',
                   'id="forecast-accuracy"', 'id="forecast-closest"', "5,400.00"):  # fmt: skip
        assert marker in text, marker
    bad = client.get("/sales/forecast/", {"from": "13-2026"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 200 and "from: Give a month as YYYY-MM" in bad.content.decode()
    assert (
        "user: Give a user id."
        in client.get("/sales/forecast/", {"user": "x"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    assert client.get("/sales/forecast/", {"user": people.outsider.pk}).status_code == 404


def test_the_jobs_are_scheduled_and_each_tick_runs_once(people):
    """PIPE-4: snapshots on the 1st at 06:00, the statistical forecast nightly at 02:30; a tick delivered twice
    snapshots once (6 KA managers and heads × 3 months), on the tick's day."""
    from kam.core.jobs import SCHEDULES
    from kam.sales import jobs

    assert (SCHEDULES["sales.forecast_snapshots"].cron, SCHEDULES["sales.statistical_forecasts"].cron) == (
        "0 6 1 * *", "30 2 * * *")  # fmt: skip
    tick = timezone.localtime().replace(day=1, hour=6, minute=0, second=0, microsecond=0).isoformat()
    assert jobs.forecast_snapshots(tick=tick) is True
    assert jobs.forecast_snapshots(tick=tick) is False
    assert ForecastSnapshot.objects.filter(taken_on=CURRENT).count() == 18

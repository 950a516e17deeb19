"""The statistical forecast (ANA-2): regression with trend and season, its back-test, and the recompute that
stores it per account and per manager. Expected numbers are worked out by hand in each docstring."""

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from kam.accounts import services as account_services
from kam.sales import forecasting, services
from kam.sales.models import AccountForecast, OwnerForecastMonth, SalesMonth

START = forecasting.month_index(date(2023, 11, 1))  # a 36-month window 2023-11 … 2026-10
SEASON = np.array([10, -5, 0, 3, 7, -2, 4, 1, -8, 6, 2, 9], dtype=float)  # by calendar month, January first


def _run(rows, horizon=3, backtest=2):
    values = np.array(rows, dtype=float)
    return forecasting.statistical_forecasts(values, values != 0, window_start=START, horizon=horizon,
                                             backtest_months=backtest)  # fmt: skip


def test_a_linear_series_continues_its_line():
    """ANA-2: 100 + 5t over 36 months (trend and season fitted, the season comes out zero): the next three
    months are 100 + 5 × 36, × 37, × 38 = 280, 285, 290; with only the last 12 months (trend alone) too."""
    t = np.arange(36)
    line = 100 + 5 * t
    recent = np.where(t >= 24, line, 0)
    result = _run([line, recent])
    assert result.future_months == [forecasting.month_index(date(2026, m, 1)) for m in (11, 12)] + [
        forecasting.month_index(date(2027, 1, 1))
    ]
    np.testing.assert_allclose(result.future, [[280, 285, 290], [280, 285, 290]])


def test_an_exact_season_on_a_trend_is_reproduced():
    """ANA-2: 200 + 3t + season(calendar month) over 36 months from 2023-11: November 2026 (t = 36) is
    200 + 108 + 2 = 310, December 200 + 111 + 9 = 320, January 2027 200 + 114 + 10 = 324."""
    t = np.arange(36)
    series = 200 + 3 * t + SEASON[(START + t) % 12]
    result = _run([series])
    np.testing.assert_allclose(result.future, [[310, 320, 324]])


def test_short_histories_use_the_trend_or_the_mean_and_ignore_months_before_the_first_sale():
    """ANA-2: 10 months 10, 12, … 28 (trend only: 30, 32, 34); 3 months 3, 6, 12 (mean: 7); a falling line
    is clipped at 0; no sale at all: no forecast."""
    short = np.zeros(36)
    short[-10:] = 10 + 2 * np.arange(10)
    tiny = np.zeros(36)
    tiny[-3:] = [3, 6, 12]
    falling = np.zeros(36)
    falling[-6:] = [50, 40, 30, 20, 10, 5]  # trend ≈ −9.43 per month: next months below zero
    result = _run([short, tiny, falling, np.zeros(36)])
    np.testing.assert_allclose(result.future[:3], [[30, 32, 34], [7, 7, 7], [0, 0, 0]], atol=1e-9)
    assert np.isnan(result.future[3]).all()


def test_backtest_forecasts_each_month_from_the_months_before_it_and_its_wape():
    """ANA-2: sales 3, 6, 12 in the last three months. Back-test of the last two: the month with 6 is
    forecast from [3] → 3, the month with 12 from [3, 6] → 4.5. WAPE = (|6 − 3| + |12 − 4.5|) / (6 + 12)
    = 10.5 / 18 = 0.58333."""
    tiny = np.zeros(36)
    tiny[-3:] = [3, 6, 12]
    result = _run([tiny])
    np.testing.assert_allclose(result.backtest, [[3, 4.5]])
    np.testing.assert_allclose(result.actual, [[6, 12]])
    assert forecasting.wape(result.actual, result.backtest) == pytest.approx(10.5 / 18)
    assert forecasting.wape([0, 0], [1, 2]) is None


@pytest.mark.django_db
def test_recompute_stores_account_and_manager_forecasts_in_cents(people, make_account):
    """ANA-2 with the database, today 2026-11-23 (window 2023-11 … 2026-10, back-test 2026-05 … 2026-10):
    account A sells 100 + 10t (t = 0 in 2023-11): forecast November 2026 = 460, back-test October = 450
    (exact). Account B sells 30, 60, 90 in August to October: forecast 60 (mean); back-test September 30
    (from [30]), October 45; August has none (no history before it). Their owner 李娜: November 460 + 60 =
    520; October 450 + 45 = 495 against 450 + 90 = 540; August 430 against 430 (B not counted). An archived
    account is left out; the colleague's account counts for him."""
    m = people.manager
    a, b, gone = make_account(m), make_account(m), make_account(m)
    other = make_account(people.colleague)
    for t in range(36):
        month = forecasting.month_of_index(START + t)
        SalesMonth.objects.create(account=a, month=month, amount=Decimal(100 + 10 * t))
        SalesMonth.objects.create(account=gone, month=month, amount=Decimal(1000))
    for month, amount in ((8, "30"), (9, "60"), (10, "90")):
        SalesMonth.objects.create(account=b, month=date(2026, month, 1), amount=Decimal(amount))
    SalesMonth.objects.create(account=other, month=date(2026, 10, 1), amount=Decimal("7.5"))
    account_services.account_archive(actor=m, account=gone, version=gone.version)

    summary = services.statistical_forecasts_recompute(today=date(2026, 11, 23))

    assert (summary["accounts"], summary["account_forecasts"]) == (3, (6 + 6) + (6 + 2) + 6)
    forecast = {(f.account_id, f.month, f.is_backtest): f.amount for f in AccountForecast.objects.all()}
    assert forecast[(a.pk, date(2026, 11, 1), False)] == Decimal("460.00")
    assert forecast[(a.pk, date(2027, 4, 1), False)] == Decimal("510.00")
    assert forecast[(a.pk, date(2026, 10, 1), True)] == Decimal("450.00")
    assert forecast[(b.pk, date(2026, 11, 1), False)] == Decimal("60.00")
    assert forecast[(b.pk, date(2026, 10, 1), True)] == Decimal("45.00")
    assert (b.pk, date(2026, 8, 1), True) not in forecast
    assert gone.pk not in {key[0] for key in forecast}
    owner = {(o.owner_id, o.month): (o.statistical, o.actual, o.is_backtest) for o in OwnerForecastMonth.objects.all()}
    assert owner[(m.pk, date(2026, 11, 1))] == (Decimal("520.00"), None, False)
    assert owner[(m.pk, date(2026, 10, 1))] == (Decimal("495.00"), Decimal("540.00"), True)
    assert owner[(m.pk, date(2026, 8, 1))] == (Decimal("430.00"), Decimal("430.00"), True)
    assert owner[(people.colleague.pk, date(2026, 11, 1))] == (Decimal("7.50"), None, False)
    # A second run replaces, never adds.
    services.statistical_forecasts_recompute(today=date(2026, 11, 23))
    assert AccountForecast.objects.count() == summary["account_forecasts"]

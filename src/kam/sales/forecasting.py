"""The statistical sales forecast (ANA-2): each account's monthly sales continued by regression.

The method, per account, on the complete months before the forecast month (at most
KAM["FORECAST_HISTORY_MONTHS"]); months before the account's first sale are "not yet a customer" and left
out of its fit, months after it without a sale count as zero:

- 24 months of history or more: ordinary least squares on a linear trend plus 11 monthly dummies
  (January is the base month), i.e. trend and seasonality;
- 6 to 23 months: ordinary least squares on a linear trend alone (too few years to tell a season);
- 1 to 5 months: the mean of those months;
- no sale in the window: no forecast.
Forecasts below zero are clipped to zero.

Accounts with the same history length share the same design matrix, so each group is solved at once
(pseudo-inverse of the shared design matrix times the matrix of the group's series): no Python loop per
account, which matters at 100,000 accounts. The back-test forecasts each of the last
KAM["FORECAST_BACKTEST_MONTHS"] complete months one step ahead from the data before it, and its error
against the actual month tells how far the method can be trusted.

Months are counted as integers (year × 12 + month − 1) inside this module. The first half is pure numpy
(tested without a database); the second half loads SalesMonth into the matrix and writes the results.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
from django.db import OperationalError, connections, router, transaction
from django.utils import timezone

from kam.accounts.models import Account
from kam.core.db import bulk_insert
from kam.sales.models import AccountForecast, OwnerForecastMonth, SalesMonth

SEASONAL_MIN_MONTHS = 24  # two of each calendar month: the monthly dummies can be told apart
TREND_MIN_MONTHS = 6


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def month_of_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


# --- the method (pure numpy) -------------------------------------------------------------------------


def _design(start: int, length: int, seasonal: bool) -> np.ndarray:
    """Rows for months start … start+length-1 (month indexes): intercept, trend, and with `seasonal` one
    dummy for each calendar month but January. The trend counts from `start`."""
    months = np.arange(start, start + length)
    columns = [np.ones(length), (months - months[0]).astype(float)]
    if seasonal:
        calendar = months % 12
        columns += [(calendar == m).astype(float) for m in range(1, 12)]
    return np.column_stack(columns)


def fit_and_forecast(series: np.ndarray, start: int, horizon: int) -> np.ndarray:
    """Forecasts for the `horizon` months after a block of series of equal length.

    `series` is (accounts × n months), its first column the month index `start`; every row is one account's
    history from its first sale. Returns (accounts × horizon), clipped at zero.
    """
    accounts, n = series.shape
    if accounts == 0 or n == 0:
        return np.zeros((accounts, horizon))
    if n < TREND_MIN_MONTHS:
        return np.clip(np.repeat(series.mean(axis=1, keepdims=True), horizon, axis=1), 0, None)
    seasonal = n >= SEASONAL_MIN_MONTHS
    design = _design(start, n + horizon, seasonal)
    past, ahead = design[:n], design[n:]
    # One least-squares solution for the whole block: coefficients = Y · pinv(X)ᵀ.
    coefficients = series @ np.linalg.pinv(past).T
    return np.clip(coefficients @ ahead.T, 0, None)


def forecast_from(values: np.ndarray, first: np.ndarray, end: int, horizon: int, window_start: int) -> np.ndarray:
    """Each account's forecast for months end … end+horizon-1 (column positions in `values`) from its data
    in columns first … end-1. `values` is (accounts × months) with column 0 the month `window_start`;
    `first` the column of each account's first sale. Accounts with no sale before `end` get NaN."""
    result = np.full((values.shape[0], horizon), np.nan)
    lengths = end - first
    for length in np.unique(lengths[lengths > 0]):
        rows = np.flatnonzero(lengths == length)
        block = values[rows, end - length : end]
        result[rows] = fit_and_forecast(block, window_start + end - length, horizon)
    return result


@dataclass
class Forecasts:
    """What one run computes, in months (indexes) and account rows of the input matrix."""

    future_months: list[int]
    future: np.ndarray  # accounts × future months, NaN where an account has no history
    backtest_months: list[int]
    backtest: np.ndarray  # accounts × back-test months (one step ahead each), NaN where no history before it
    actual: np.ndarray  # accounts × back-test months: the actual sales


def statistical_forecasts(values: np.ndarray, present: np.ndarray, *, window_start: int, horizon: int,
                          backtest_months: int) -> Forecasts:  # fmt: skip
    """The future forecasts (the `horizon` months after the window) and the one-step back-test of its last
    `backtest_months` months. `present` marks the (account, month) cells that have a SalesMonth row."""
    months = values.shape[1]
    has_any = present.any(axis=1)
    first = np.where(has_any, present.argmax(axis=1), months)
    future = forecast_from(values, first, months, horizon, window_start)
    backtest_count = max(0, min(backtest_months, months - 1))
    tests = list(range(months - backtest_count, months))
    backtest = np.full((values.shape[0], len(tests)), np.nan)
    for column, end in enumerate(tests):
        backtest[:, column] = forecast_from(values, first, end, 1, window_start)[:, 0]
    return Forecasts(
        future_months=[window_start + months + h for h in range(horizon)],
        future=future,
        backtest_months=[window_start + end for end in tests],
        backtest=backtest,
        actual=values[:, tests] if tests else np.zeros((values.shape[0], 0)),
    )


def wape(actual, forecast) -> float | None:
    """Weighted absolute percentage error: Σ|actual − forecast| / Σ actual; None without actual sales."""
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    total = actual.sum()
    if total <= 0:
        return None
    return float(np.abs(actual - forecast).sum() / total)


# --- loading and storing ----------------------------------------------------------------------------

CHUNK = 100_000


def load_sales_matrix(*, first_month: date, end_month: date):
    """SalesMonth of the non-archived accounts for months first_month … before end_month as a dense matrix:
    (account ids, owner ids (0: none), values accounts × months, present accounts × months)."""
    connection = connections[router.db_for_read(SalesMonth)]
    quote = connection.ops.quote_name
    months_table, accounts_table = quote(SalesMonth._meta.db_table), quote(Account._meta.db_table)
    width = month_index(end_month) - month_index(first_month)
    if connection.vendor == "postgresql":
        number = "CAST(EXTRACT(YEAR FROM m.month) AS INTEGER) * 12 + CAST(EXTRACT(MONTH FROM m.month) AS INTEGER)"
        amount = "CAST(m.amount AS DOUBLE PRECISION)"
    else:
        number = "CAST(strftime('%Y', m.month) AS INTEGER) * 12 + CAST(strftime('%m', m.month) AS INTEGER)"
        amount = "CAST(m.amount AS REAL)"
    sql = (
        f"SELECT m.account_id, {number} - 1, {amount}, COALESCE(a.owner_id, 0) FROM {months_table} m "  # noqa: S608
        f"JOIN {accounts_table} a ON a.id = m.account_id "
        "WHERE m.month >= %s AND m.month < %s AND a.is_archived = %s"
    )
    ids, columns, amounts, owners = [], [], [], []
    with connection.cursor() as cursor:
        cursor.execute(sql, [first_month, end_month, False])
        while rows := cursor.fetchmany(CHUNK):
            block = np.array(rows, dtype=float)
            ids.append(block[:, 0].astype(np.int64))
            columns.append(block[:, 1].astype(np.int64) - month_index(first_month))
            amounts.append(block[:, 2])
            owners.append(block[:, 3].astype(np.int64))
    if not ids:
        empty = np.zeros((0, width))
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), empty, empty.astype(bool)
    all_ids = np.concatenate(ids)
    account_ids, rows_of = np.unique(all_ids, return_inverse=True)
    owner_ids = np.zeros(len(account_ids), dtype=np.int64)
    owner_ids[rows_of] = np.concatenate(owners)
    values = np.zeros((len(account_ids), width))
    present = np.zeros((len(account_ids), width), dtype=bool)
    cols = np.concatenate(columns)
    np.add.at(values, (rows_of, cols), np.concatenate(amounts))
    present[rows_of, cols] = True
    return account_ids, owner_ids, values, present


def _cents(values: np.ndarray) -> np.ndarray:
    return np.round(values, 2)


def _text(value: float) -> str:
    return f"{value:.2f}"


def _empty(connection, cursor, table: str) -> None:
    """Empty a table: PostgreSQL's TRUNCATE leaves no million dead rows behind, but refuses a table with rows
    of this transaction whose deferred foreign-key checks are pending (a second run in one transaction);
    then, and on SQLite, DELETE."""
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute(f"TRUNCATE {table}")
            return
        except OperationalError:
            pass
    cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a model's table name


def store(*, account_ids, owner_ids, forecasts: Forecasts) -> dict:
    """Replace every AccountForecast and OwnerForecastMonth row with this run's (in the caller's transaction)."""
    connection = connections[router.db_for_write(AccountForecast)]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in (AccountForecast, OwnerForecastMonth):
            table = quote(model._meta.db_table)
            _empty(connection, cursor, table)
    account_rows = 0
    blocks = [(forecasts.backtest_months, _cents(forecasts.backtest), True),
              (forecasts.future_months, _cents(forecasts.future), False)]  # fmt: skip
    for months, matrix, is_backtest in blocks:
        for column, month in enumerate(months):
            day = month_of_index(month).isoformat()
            values = matrix[:, column]
            keep = np.flatnonzero(~np.isnan(values))
            for start in range(0, len(keep), CHUNK):
                part = keep[start : start + CHUNK]
                rows = [
                    (int(a), day, _text(v), is_backtest) for a, v in zip(account_ids[part], values[part], strict=True)
                ]
                bulk_insert(AccountForecast, ["account", "month", "amount", "is_backtest"], rows).run()
                account_rows += len(rows)
    owner_rows = _store_owner_months(owner_ids, blocks, forecasts, connection)
    return {"account_forecasts": account_rows, "owner_months": owner_rows}


def _store_owner_months(owner_ids, blocks, forecasts: Forecasts, connection) -> int:
    """Sums per current owner: the statistical forecast, and for back-test months the actual sales of the
    same accounts (those that had a forecast)."""
    owners, owner_of = np.unique(owner_ids, return_inverse=True)
    now = str(connection.ops.adapt_datetimefield_value(timezone.now()))
    rows = []
    for months, matrix, is_backtest in blocks:
        for column, month in enumerate(months):
            values = matrix[:, column]
            known = ~np.isnan(values)
            forecast = np.bincount(owner_of[known], weights=values[known], minlength=len(owners))
            counted = np.bincount(owner_of[known], minlength=len(owners)) > 0
            actual = None
            if is_backtest:
                actual_values = _cents(forecasts.actual[:, column])
                actual = np.bincount(owner_of[known], weights=actual_values[known], minlength=len(owners))
            for i, owner in enumerate(owners):
                if owner == 0 or not counted[i]:
                    continue
                rows.append((int(owner), month_of_index(month).isoformat(), _text(forecast[i]),
                             _text(actual[i]) if actual is not None else None, is_backtest, now))  # fmt: skip
    bulk_insert(OwnerForecastMonth, ["owner", "month", "statistical", "actual", "is_backtest", "computed_at"],
                rows).run()  # fmt: skip
    return len(rows)

"""Figures per manager and month that quotas, forecasts and the weekly report share (PIPE-4, PIPE-7)."""

from datetime import date
from decimal import Decimal

import pytest

from kam.core import scopes
from kam.sales import selectors, services
from tests.sales.seed import ensure_default_pipeline


@pytest.mark.django_db
def test_pipeline_by_month_and_credited_sales_by_hand(people, make_account):
    """PIPE-4: weighted = 1000 × 10 % + 333.33 × 10 %; PIPE-7: a line is credited to the account's owner and
    the recompute gives the same credit."""
    ensure_default_pipeline()
    m = people.manager
    a = make_account(m)
    services.opportunity_create(
        actor=m, account=a, fields={"name": "x", "amount": "1000.00", "expected_close": date(2026, 12, 15)}
    )
    services.opportunity_create(
        actor=m,
        account=a,
        fields={"name": "y", "amount": "333.33", "expected_close": date(2026, 12, 1), "forecast_category": "commit"},
    )
    f = selectors.pipeline_by_month(owner_ids=[m.pk], first_month=date(2026, 12, 1), last_month=date(2026, 12, 1))
    assert f[(m.pk, date(2026, 12, 1))] == {
        "weighted": Decimal("133.33"),
        "pipeline": Decimal("1333.33"),
        "best_case": Decimal("333.33"),
        "commit": Decimal("333.33"),
    }
    services.sales_record_create(
        actor=m,
        account=a,
        fields={
            "order_number": "A1",
            "date": date(2026, 11, 3),
            "product_line": "p",
            "quantity": "1",
            "amount": "50",
            "gross_margin": "10",
        },
    )
    assert selectors.credited_sales(owner_ids=[m.pk], first_month=date(2026, 1, 1), last_month=date(2026, 12, 1)) == {
        (m.pk, date(2026, 11, 1)): (Decimal("50.00"), Decimal("10.00"))
    }
    assert list(scopes.visible_sales_people(m)) == [m]
    assert services.sales_months_recompute() == 1
    assert selectors.credited_sales(owner_ids=[m.pk], first_month=date(2026, 1, 1), last_month=date(2026, 12, 1)) == {
        (m.pk, date(2026, 11, 1)): (Decimal("50.00"), Decimal("10.00"))
    }

"""Sales records by API and service (issue 3 item 6): validation, monthly aggregates, data scope, history."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kam.core.errors import DuplicateError
from kam.core.models import AuditAction, AuditEvent
from kam.sales import services
from kam.sales.models import SalesMonth, SalesRecord

pytestmark = pytest.mark.django_db


def line(**fields):
    base = {"order_number": "SO-1", "line_number": 1, "date": date(2025, 1, 5), "product_line": "工业阀门",
            "product": "DN50 球阀", "quantity": "10", "amount": "1000.00", "gross_margin": "200.00"}  # fmt: skip
    return {**base, **fields}


def months(account) -> list[tuple]:
    return [
        (m.month, m.amount, m.gross_margin, m.quantity, m.lines)
        for m in SalesMonth.objects.filter(account=account).order_by("month")
    ]


@pytest.fixture
def account(people, make_account):
    return make_account(people.manager, "杭州恒达机械有限公司")


def test_monthly_aggregates_follow_every_line_written(people, account):
    """Issue 3 item 6 (PIPE-7, ANA-1 input): SalesMonth is the sum of the lines, kept in the same write.
    Jan: 1000.00 + 500.50 = 1500.50, margin 200.00 + 100.25 = 300.25, qty 10 + 5, 2 lines;
    Feb: 300.00 − 100.00 (a return) = 200.00, margin −20.00 − 30.00 = −50.00, qty 3 − 1 = 2, 2 lines."""
    create = services.sales_record_create
    create(actor=people.manager, account=account, fields=line())
    create(actor=people.manager, account=account, fields=line(line_number=2, date=date(2025, 1, 20), quantity="5",
                                                              amount="500.50", gross_margin="100.25"))  # fmt: skip
    create(actor=people.manager, account=account, fields=line(order_number="SO-2", date=date(2025, 2, 3), quantity="3",
                                                              amount="300", gross_margin="-20"))  # fmt: skip
    create(actor=people.manager, account=account, fields=line(order_number="SO-3", date=date(2025, 2, 10), quantity="-1",
                                                              amount="-100", gross_margin="-30", is_return=True))  # fmt: skip
    assert months(account) == [
        (date(2025, 1, 1), Decimal("1500.50"), Decimal("300.25"), Decimal("15"), 2),
        (date(2025, 2, 1), Decimal("200.00"), Decimal("-50.00"), Decimal("2"), 2),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, target_type="sales.salesrecord").count() == 4


def test_recompute_rebuilds_the_same_aggregates_from_the_lines(people, account, make_account):
    """Issue 3 item 6: sales_months_recompute repairs damaged aggregates from the lines."""
    other = make_account(people.manager, "宁波远洋贸易有限公司")
    services.sales_record_create(actor=people.manager, account=account, fields=line())
    services.sales_record_create(actor=people.manager, account=account,
                                 fields=line(order_number="SO-9", date=date(2025, 1, 31), amount="0.50", quantity="1",
                                             gross_margin="0.10"))  # fmt: skip
    services.sales_record_create(
        actor=people.manager, account=other, fields=line(order_number="SO-5", date=date(2024, 12, 1))
    )
    expected = months(account), months(other)
    SalesMonth.objects.filter(account=account).update(amount=Decimal("1"), lines=99)
    SalesMonth.objects.create(account=other, month=date(2020, 1, 1), amount=5, gross_margin=1, quantity=1, lines=1)
    assert services.sales_months_recompute() == 2
    assert (months(account), months(other)) == expected
    assert months(account) == [(date(2025, 1, 1), Decimal("1000.50"), Decimal("200.10"), Decimal("11"), 2)]


def test_the_same_order_line_twice_is_refused_and_never_doubles_revenue(people, account):
    """Issue 3 item 6: (order number, line number) is unique; the second write is a duplicate."""
    services.sales_record_create(actor=people.manager, account=account, fields=line())
    with pytest.raises(DuplicateError):
        services.sales_record_create(actor=people.manager, account=account, fields=line(amount="999"))
    assert SalesRecord.objects.count() == 1
    assert months(account) == [(date(2025, 1, 1), Decimal("1000.00"), Decimal("200.00"), Decimal("10"), 1)]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"amount": "-5"}, "amount"),  # negative without the return flag
        ({"quantity": "-1"}, "quantity"),
        ({"amount": "5", "is_return": True, "quantity": "-1"}, "amount"),  # a return is negative
        ({"amount": "1000000000.01"}, "amount"),  # over KAM["MAX_SALES_LINE_AMOUNT"]
        ({"gross_margin": "-1000000000.01"}, "gross_margin"),
        ({"gross_margin": "1000.01"}, "gross_margin"),  # more margin than amount
        ({"amount": "10.001"}, "amount"),  # fractions of a fen
        ({"amount": "NaN"}, "amount"),
        ({"date": date(1999, 12, 31)}, "date"),
        ({"order_number": " "}, "order_number"),
        ({"order_number": "X" * 65}, "order_number"),
        ({"line_number": 0}, "line_number"),
        ({"product_line": ""}, "product_line"),
        ({"currency": "USD"}, "currency"),
    ],
)
def test_bad_lines_are_refused_naming_the_field(people, account, fields, field):
    """Issue 3 (bad input): negative or absurd amounts, dates before 2000, missing order data."""
    with pytest.raises(ValidationError) as caught:
        services.sales_record_create(actor=people.manager, account=account, fields=line(**fields))
    assert field in caught.value.message_dict
    assert not SalesRecord.objects.exists() and not SalesMonth.objects.exists()


def test_a_date_more_than_a_day_ahead_is_refused_but_tomorrow_is_accepted(people, account):
    """Issue 3 item 6: an ERP a time zone ahead may date a line tomorrow; later is a typing error."""
    today = timezone.localdate()
    services.sales_record_create(actor=people.manager, account=account, fields=line(date=today + timedelta(days=1)))
    with pytest.raises(ValidationError) as caught:
        services.sales_record_create(actor=people.manager, account=account,
                                     fields=line(order_number="SO-2", date=today + timedelta(days=2)))  # fmt: skip
    assert "date" in caught.value.message_dict


# --- the API


def test_api_creates_a_line_and_answers_the_history_by_month(api, people, account):
    """Issue 3 item 13: POST /sales-records, GET /accounts/{id}/sales-history from SalesMonth."""
    client = api(people.manager)
    body = {**line(date="2025-03-02"), "account_id": account.pk, "amount": 1234.5, "gross_margin": "234.50"}
    response = client.post("/sales-records", body)
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "1234.50" or Decimal(str(response.json()["amount"])) == Decimal("1234.50")
    response = client.post("/sales-records", {**body, "line_number": 2, "date": "2025-03-30", "amount": "765.50",
                                             "gross_margin": "65.50", "quantity": "2.5"})  # fmt: skip
    assert response.status_code == 201, response.content
    again = client.post("/sales-records", body)
    assert again.status_code == 409
    history = client.get(f"/accounts/{account.pk}/sales-history")
    assert history.status_code == 200
    data = history.json()
    assert data["currency"] == "CNY"
    assert [(m["month"], Decimal(str(m["amount"])), Decimal(str(m["gross_margin"])), Decimal(str(m["quantity"])), m["lines"])
            for m in data["months"]] == [("2025-03-01", Decimal("2000.00"), Decimal("300.00"), Decimal("12.5"), 2)]  # fmt: skip
    assert client.get(f"/accounts/{account.pk}/sales-history", {"since": "2025-04-01"}).json()["months"] == []


def test_api_refuses_bad_input_with_422_naming_the_field(api, people, account):
    """Issue 3 (bad input): never a 500; the error names the field."""
    client = api(people.manager)
    base = {**line(date="2025-03-02"), "account_id": account.pk}
    for change, field in (({"amount": "-1"}, "amount"), ({"date": "2025-13-01"}, "date"),
                          ({"amount": "abc"}, "amount"), ({"date": "1990-01-01"}, "date")):  # fmt: skip
        response = client.post("/sales-records", {**base, **change})
        assert response.status_code == 422, (change, response.content)
        assert field in str(response.json()["errors"]), response.json()
    assert not SalesRecord.objects.exists()


def test_lines_of_a_foreign_account_are_not_listed_and_are_404(api, people, account, make_account):
    """GOV-7: a sales line belongs to its account; outside the caller's scope it does not exist."""
    foreign = make_account(people.outsider, "广州南方电子有限公司")
    mine = services.sales_record_create(actor=people.manager, account=account, fields=line())
    theirs = services.sales_record_create(actor=people.outsider, account=foreign, fields=line(order_number="GZ-1"))
    client = api(people.manager)
    listed = client.get("/sales-records").json()
    assert [item["id"] for item in listed["items"]] == [mine.pk]
    assert client.get(f"/sales-records/{theirs.pk}").status_code == 404
    assert client.get(f"/accounts/{foreign.pk}/sales-history").status_code == 404
    response = client.post("/sales-records", {**line(order_number="X-1", date="2025-01-01"), "account_id": foreign.pk})
    assert response.status_code == 404
    assert api(people.head).get(f"/sales-records/{mine.pk}").status_code == 200  # head of the department


def test_list_filters_by_account_date_product_line_and_order(
    api, people, account, make_account, django_assert_max_num_queries
):
    """Issue 3 item 13: the list's filters; its query count does not grow with the lines (no N+1)."""
    other = make_account(people.manager, "苏州精工电子有限公司")
    a = services.sales_record_create(actor=people.manager, account=account, fields=line())
    b = services.sales_record_create(actor=people.manager, account=account,
                                     fields=line(order_number="SO-2", date=date(2025, 2, 1), product_line="仪表"))  # fmt: skip
    c = services.sales_record_create(
        actor=people.manager, account=other, fields=line(order_number="SO-3", date=date(2025, 3, 1))
    )
    client = api(people.manager)

    def ids(**query):
        return [item["id"] for item in client.get("/sales-records", query).json()["items"]]

    assert ids() == [c.pk, b.pk, a.pk]
    assert ids(account=account.pk) == [b.pk, a.pk]
    assert ids(date_from="2025-02-01", date_to="2025-02-28") == [b.pk]
    assert ids(product_line="仪表") == [b.pk]
    assert ids(order_number="SO-3") == [c.pk]
    with django_assert_max_num_queries(8):
        client.get("/sales-records")

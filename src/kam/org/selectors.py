"""Reads of the organisation: quotas (PIPE-7). Callers pass people already limited by
kam.core.scopes.visible_sales_people."""

from datetime import date
from decimal import Decimal

from kam.org.models import Quota


def quota_amounts(*, user_ids, first_month: date, last_month: date) -> dict[tuple[int, date], Decimal]:
    """(user id, month) → the manager's own quota, for months first_month … last_month (first days)."""
    rows = Quota.objects.filter(user_id__in=list(user_ids), month__gte=first_month, month__lte=last_month)
    return {(user_id, month): amount for user_id, month, amount in rows.values_list("user_id", "month", "amount")}


def team_quota_amounts(*, department_ids, first_month: date, last_month: date) -> dict[tuple[int, date], Decimal]:
    """(department id, month) → the quota entered for the team itself (not the sum of its members')."""
    rows = Quota.objects.filter(department_id__in=list(department_ids), month__gte=first_month, month__lte=last_month)
    return {(dep, month): amount for dep, month, amount in rows.values_list("department_id", "month", "amount")}

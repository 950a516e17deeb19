"""Reads of the organisation: quotas (PIPE-7). Callers pass people already limited by
kam.core.scopes.visible_sales_people."""

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.core import scopes
from kam.org.models import DataScope, Department, Quota, Role, User

RATE_PLACES = Decimal("0.0001")  # completion rates to a hundredth of a percent


def quota_amounts(*, user_ids, first_month: date, last_month: date) -> dict[tuple[int, date], Decimal]:
    """(user id, month) → the manager's own quota, for months first_month … last_month (first days)."""
    rows = Quota.objects.filter(user_id__in=list(user_ids), month__gte=first_month, month__lte=last_month)
    return {(user_id, month): amount for user_id, month, amount in rows.values_list("user_id", "month", "amount")}


def team_quota_amounts(*, department_ids, first_month: date, last_month: date) -> dict[tuple[int, date], Decimal]:
    """(department id, month) → the quota entered for the team itself (not the sum of its members')."""
    rows = Quota.objects.filter(department_id__in=list(department_ids), month__gte=first_month, month__lte=last_month)
    return {(dep, month): amount for dep, month, amount in rows.values_list("department_id", "month", "amount")}


# --- quotas (PIPE-7) [h1]: who carries a quota, who sets it, and completion (定额完成率)

QUOTA_ROLES = (Role.KA_MANAGER, Role.KA_HEAD)
PERIODS = ("month", "quarter", "year")


def quota_people(viewer) -> QuerySet[User]:
    """People whose quota and completion the viewer may see: KA managers and heads in the viewer's scope
    (kam.core.scopes.visible_sales_people), inactive ones included (their past figures count)."""
    return scopes.visible_sales_people(viewer).filter(role__in=QUOTA_ROLES)


def quota_teams(viewer) -> QuerySet[Department]:
    """Teams (departments) whose quota and completion the viewer may see: a team's figures add up its
    members', so only a viewer who sees the members sees the team — all with scope 'all', the subtree with
    'department and below', the own department with 'department', none with 'own'."""
    if not (viewer and viewer.is_authenticated and viewer.is_active):
        return Department.objects.none()
    if viewer.data_scope == DataScope.ALL or viewer.role == Role.ADMIN:
        return Department.objects.all()
    if viewer.data_scope == DataScope.SUBTREE and viewer.department_id:
        return Department.objects.filter(path__startswith=viewer.department.path)
    if viewer.data_scope == DataScope.DEPARTMENT and viewer.department_id:
        return Department.objects.filter(pk=viewer.department_id)
    return Department.objects.none()


def quota_settable_people(actor) -> QuerySet[User]:
    """KA managers and heads whose quota the actor may set (none unless scopes.may_set_quotas)."""
    if not scopes.may_set_quotas(actor):
        return User.objects.none()
    return quota_people(actor)


def quota_settable_teams(actor) -> QuerySet[Department]:
    """Teams whose own quota the actor may set: the departments the actor sees (scopes.visible_departments)."""
    if not scopes.may_set_quotas(actor):
        return Department.objects.none()
    return scopes.visible_departments(actor)


def quota_list(viewer, *, year: int | None = None, user=None, department=None) -> QuerySet[Quota]:
    """Quotas entered for the people and teams the viewer may see, by month; filter by year, by one person
    (`user`) or by a team and its subtree (`department`: the team's own quotas and its members')."""
    rows = Quota.objects.filter(
        Q(user__in=quota_people(viewer).values("pk")) | Q(department__in=quota_teams(viewer).values("pk"))
    )
    if year:
        rows = rows.filter(month__year=year)
    if user is not None:
        rows = rows.filter(user=user)
    if department is not None:
        rows = rows.filter(
            Q(department__path__startswith=department.path) | Q(user__department__path__startswith=department.path)
        )
    return rows.select_related("user", "department").order_by("month", "department__path", "user__username", "id")


def department_path_names(departments) -> dict[int, str]:
    """department id → "华东分公司/华东大客户部/一组" (names from the root), from the departments given."""
    by_id = {d.pk: d for d in departments}
    missing = {int(p) for d in by_id.values() for p in d.path.strip("/").split("/") if p} - set(by_id)
    by_id.update({d.pk: d for d in Department.objects.filter(pk__in=missing)})
    return {d.pk: "/".join(by_id[int(p)].name for p in d.path.strip("/").split("/") if p and int(p) in by_id)
            for d in departments}  # fmt: skip


@dataclass
class CompletionRow:
    """One row of the completion table: a manager, a team or the company, with a cell per period."""

    kind: str  # "user", "team", "company"
    user: User | None = None
    department: Department | None = None
    label: str = ""
    cells: list[dict] = field(default_factory=list)  # {"period", "quota", "actual", "rate", "own_quota"}
    total: dict = field(default_factory=dict)  # the whole year, as a cell


def _rate(actual: Decimal, quota: Decimal | None) -> Decimal | None:
    if not quota:
        return None
    return (actual / quota).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def _period_labels(year: int, period: str) -> list[tuple[str, list[date]]]:
    months = [date(year, m, 1) for m in range(1, 13)]
    if period == "month":
        return [(f"{year}-{m.month:02d}", [m]) for m in months]
    if period == "quarter":
        return [(f"{year}-Q{q + 1}", months[3 * q : 3 * q + 3]) for q in range(4)]
    return [(str(year), months)]


def _cells(periods, quota_by_month: dict, actual_by_month: dict, own_months=frozenset()) -> list[dict]:
    cells = []
    for label, months in periods:
        quotas = [quota_by_month[m] for m in months if quota_by_month.get(m) is not None]
        quota = sum(quotas, Decimal(0)) if quotas else None
        actual = sum((actual_by_month.get(m, Decimal(0)) for m in months), Decimal(0))
        cells.append({"period": label, "quota": quota, "actual": actual, "rate": _rate(actual, quota),
                      "own_quota": any(m in own_months for m in months)})  # fmt: skip
    return cells


def _row(kind, periods, year, q, a, own=frozenset(), **fields) -> CompletionRow:
    whole = [(str(year), [date(year, m, 1) for m in range(1, 13)])]
    return CompletionRow(kind=kind, cells=_cells(periods, q, a, own), total=_cells(whole, q, a, own)[0], **fields)


def quota_completion(viewer, *, year: int, period: str = "month", department=None, user=None) -> dict:
    """Quota completion (定额完成率, PIPE-7) of a year, by month, quarter or year, for what the viewer may see.

    - each manager: quota (the months' quotas added up; None if none entered), actual = sales credited to
      them (sales.SalesCredit through kam.sales.selectors.credited_sales), rate = actual / quota (None
      without a quota or with quota 0);
    - each team the viewer may see (quota_teams): per month its own quota if entered, else the sum of its
      members' quotas; actual = the sum of its members' credited sales, members being the people shown
      whose department is in the team's subtree;
    - the company (viewers with scope 'all', no filter): every person's quotas and sales added up.
    `department` (a Department) keeps people and teams of its subtree; `user` (a User) keeps that person only.
    The caller checks that `department` and `user` are visible (quota_teams / quota_people).
    """
    from kam.sales.selectors import credited_sales

    if period not in PERIODS:
        raise ValidationError({"period": _("Choose one of: %(c)s.") % {"c": ", ".join(PERIODS)}})
    first_year = int(settings.KAM["SALES_EARLIEST_DATE"][:4])
    last_year = timezone.localdate().year + settings.KAM["QUOTA_YEARS_AHEAD"]
    if not first_year <= year <= last_year:
        raise ValidationError({"year": _("Enter a year from %(first)d to %(last)d.") % {"first": first_year,
                                                                                      "last": last_year}})  # fmt: skip
    periods = _period_labels(year, period)
    first, last = date(year, 1, 1), date(year, 12, 1)
    people_qs = quota_people(viewer).select_related("department")
    teams_qs = quota_teams(viewer)
    if department is not None:
        people_qs = people_qs.filter(department__path__startswith=department.path)
        teams_qs = teams_qs.filter(path__startswith=department.path)
    if user is not None:
        people_qs = people_qs.filter(pk=user.pk)
        teams_qs = teams_qs.none()
    people = list(people_qs.order_by("department__path", "username"))
    teams = list(teams_qs.order_by("path"))
    ids = [p.pk for p in people]
    quotas = quota_amounts(user_ids=ids, first_month=first, last_month=last)
    actuals = {key: amount for key, (amount, _margin) in
               credited_sales(owner_ids=ids, first_month=first, last_month=last).items()}  # fmt: skip
    team_quotas = team_quota_amounts(department_ids=[t.pk for t in teams], first_month=first, last_month=last)
    months = [date(year, m, 1) for m in range(1, 13)]

    rows = []
    by_person = {}
    for person in people:
        q = {m: quotas.get((person.pk, m)) for m in months}
        a = {m: actuals.get((person.pk, m), Decimal(0)) for m in months}
        by_person[person.pk] = (person, q, a)
        rows.append(_row("user", periods, year, q, a, user=person, label=str(person)))
    team_rows = []
    paths = department_path_names(teams)
    for team in teams:
        members = [by_person[p.pk] for p in people if p.department_id and p.department.path.startswith(team.path)]
        own = {m for m in months if team_quotas.get((team.pk, m)) is not None}
        if not members and not own:
            continue
        q, a = {}, {}
        for m in months:
            entered = [mq[m] for _p, mq, _a in members if mq[m] is not None]
            q[m] = team_quotas[(team.pk, m)] if m in own else (sum(entered, Decimal(0)) if entered else None)
            a[m] = sum((ma[m] for _p, _q, ma in members), Decimal(0))
        team_rows.append(_row("team", periods, year, q, a, own, department=team, label=paths[team.pk]))
    company = None
    if viewer.data_scope == DataScope.ALL and department is None and user is None:
        q, a = {}, {}
        for m in months:
            entered = [mq[m] for _p, mq, _a in by_person.values() if mq[m] is not None]
            q[m] = sum(entered, Decimal(0)) if entered else None
            a[m] = sum((ma[m] for _p, _q, ma in by_person.values()), Decimal(0))
        company = _row("company", periods, year, q, a, label=_("company total"))
    return {"year": year, "period": period, "periods": [label for label, _months in periods], "people": rows,
            "teams": team_rows, "company": company, "currency": "CNY"}  # fmt: skip


def nearest_heads(department, heads: list) -> list:
    """The supervisors of a department: of the given active KA heads, those of the department itself or, if it
    has none, of its nearest ancestor that has one (the deepest department on its path). Used by the weekly
    cadence review and the weekly sales report."""
    if department is None:
        return []
    above = [h for h in heads if department.path.startswith(h.department.path)]
    if not above:
        return []
    deepest = max(len(h.department.path) for h in above)
    return [h for h in above if len(h.department.path) == deepest]

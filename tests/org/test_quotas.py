"""Quotas (定额) and their completion (定额完成率), PIPE-7: set one, many or a sheet, all or nothing, within scope;
completion by month, quarter and year from the credited sales, computed here by hand."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from kam.core.errors import ConflictError
from kam.core.models import AuditAction, AuditEvent
from kam.org import selectors, services
from kam.org.models import Quota
from kam.sales.models import SalesCredit

pytestmark = pytest.mark.django_db

JAN, FEB, MAR, APR = (date(2026, m, 1) for m in (1, 2, 3, 4))


def amounts() -> dict:
    return {(q.user_id or f"d{q.department_id}", q.month): q.amount for q in Quota.objects.all()}


def sheet(*lines, header="经理,团队,月份,定额"):
    return SimpleUploadedFile("定额.csv", ("\n".join([header, *lines]) + "\n").encode("utf-8"), content_type="text/csv")


# --- setting quotas ---------------------------------------------------------------------------------


def test_a_head_sets_quotas_in_scope_and_every_change_is_audited(people, org):
    """PIPE-7: 陈主任 sets 李娜's and team 一组's quotas (create, update, remove), each audited; months read as
    2026-01, 2026/2, 2026年3月; amounts with separators; an unchanged amount keeps the version."""
    head, lina = people.head, people.manager
    quota = services.quota_set(actor=head, user=lina, month="2026-01", amount="100,000")
    assert (quota.month, quota.amount, quota.version, quota.currency) == (JAN, Decimal("100000.00"), 1, "CNY")
    quota = services.quota_set(actor=head, user=lina.pk, month="2026年1月", amount="120000.5", version=1)
    assert (quota.amount, quota.version) == (Decimal("120000.50"), 2)
    assert services.quota_set(actor=head, user=lina, month=JAN, amount=Decimal("120000.50"), version=2).version == 2
    services.quota_set(actor=head, department=org.team_a, month="2026/2", amount=0)
    assert amounts() == {(lina.pk, JAN): Decimal("120000.50"), (f"d{org.team_a.pk}", FEB): Decimal("0.00")}
    assert services.quota_set(actor=head, user=lina, month="2026-01", amount="", version=2) is None
    assert amounts() == {(f"d{org.team_a.pk}", FEB): Decimal("0.00")}
    trail = list(AuditEvent.objects.filter(target_type="org.quota").order_by("id").values_list("action", "changes"))
    assert [a for a, _c in trail] == [AuditAction.CREATE, AuditAction.UPDATE, AuditAction.CREATE, AuditAction.DELETE]
    assert trail[1][1] == {"amount": ["100000.00", "120000.50"]}
    assert trail[3][1]["amount"] == ["120000.50", None]


def test_only_heads_and_admins_set_quotas_and_only_for_whom_they_see(people, org):
    """PIPE-7: a manager may not set quotas (403); a person or team outside the head's scope does not exist
    (the error names the field); a finance user or executive sets none either."""
    for actor in (people.manager, people.executive, people.finance):
        with pytest.raises(PermissionDenied):
            services.quota_set(actor=actor, user=people.manager, month="2026-01", amount=1)
    with pytest.raises(ValidationError) as e:
        services.quota_set(actor=people.head, user=people.outsider, month="2026-01", amount=1)
    assert set(e.value.message_dict) == {"user"}
    with pytest.raises(ValidationError) as e:
        services.quota_set(actor=people.head, department=org.south_ka, month="2026-01", amount=1)
    assert set(e.value.message_dict) == {"department"}
    with pytest.raises(ValidationError) as e:  # an executive carries no quota
        services.quota_set(actor=people.admin, user=people.executive, month="2026-01", amount=1)
    assert set(e.value.message_dict) == {"user"}
    assert services.quota_set(actor=people.admin, department=org.south_ka, month="2026-01", amount=1).amount == 1
    assert not Quota.objects.filter(user__isnull=False).exists()


@pytest.mark.parametrize("fields, field", [
    ({"department": "team_a"}, "department"),  # a person XOR a team
    ({"user": None}, "user"),
    ({"amount": "-1"}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "1000000.01"}, "amount"),  # above KAM["QUOTA_MAX_AMOUNT"] (set to 1,000,000 here)
    ({"amount": "1.234"}, "amount"),
    ({"month": "2026-13"}, "month"),
    ({"month": date(2026, 1, 15)}, "month"),
    ({"month": "1999-12"}, "month"),  # before KAM["SALES_EARLIEST_DATE"]
    ({"month": "下个月"}, "month"),
    ({"version": "x"}, "version"),
])  # fmt: skip
def test_bad_entries_are_refused_naming_the_field(people, org, settings, fields, field):
    """PIPE-7: bad input is a validation error naming the field, nothing saved."""
    settings.KAM = {**settings.KAM, "QUOTA_MAX_AMOUNT": "1000000"}
    entry = {"user": people.manager, "month": "2026-01", "amount": "1000", **fields}
    if entry.get("department") == "team_a":
        entry["department"] = org.team_a
    with pytest.raises(ValidationError) as e:
        services.quota_set(actor=people.head, **entry)
    assert field in e.value.message_dict
    assert not Quota.objects.exists()


def test_a_stale_version_is_a_conflict_and_nothing_is_saved(people):
    """PIPE-7: the version read must be the current one (409); version 0 says "there was none"; a quota removed
    since it was read is a 409 too, not silently created again."""
    head, lina = people.head, people.manager
    services.quota_set(actor=head, user=lina, month="2026-01", amount=100)
    services.quota_set(actor=head, user=lina, month="2026-01", amount=200, version=1)
    for version in (1, 0):
        with pytest.raises(ConflictError) as e:
            services.quota_bulk_set(actor=head, entries=[
                {"user": people.colleague.pk, "month": "2026-01", "amount": "5", "version": 0},
                {"user": lina.pk, "month": "2026-01", "amount": "300", "version": version},
            ])  # fmt: skip
        assert e.value.current.version == 2
    with pytest.raises(ConflictError):
        services.quota_set(actor=head, user=lina, month="2026-01", amount="", version=1)
    assert amounts() == {(lina.pk, JAN): Decimal("200.00")}
    services.quota_set(actor=head, user=lina, month="2026-01", amount="", version=2)  # removed by someone
    with pytest.raises(ConflictError) as e:  # a save from a page read while it was there is refused
        services.quota_set(actor=head, user=lina, month="2026-01", amount=250, version=2)
    assert e.value.current is None and amounts() == {}


def test_a_bulk_set_is_all_or_nothing_and_names_entry_and_field(people, org):
    """PIPE-7: one bad entry (index 2, amount; index 3 given twice) and nothing of the four is saved; corrected,
    all are."""
    head = people.head
    entries = [
        {"user": people.manager.pk, "month": "2026-01", "amount": "1000"},
        {"department": org.team_a.pk, "month": "2026-01", "amount": "5000"},
        {"user": people.sibling.pk, "month": "2026-01", "amount": "-5"},
        {"user": people.manager.pk, "month": "2026/1", "amount": "1"},
    ]
    with pytest.raises(ValidationError) as e:
        services.quota_bulk_set(actor=head, entries=entries)
    assert set(e.value.message_dict) == {"2.amount", "3.month"}
    assert not Quota.objects.exists()
    result = services.quota_bulk_set(actor=head, entries=[*entries[:2], {**entries[2], "amount": "800"}])
    assert (result.created, result.updated, result.deleted) == (3, 0, 0)
    assert amounts() == {(people.manager.pk, JAN): Decimal("1000.00"), (f"d{org.team_a.pk}", JAN): Decimal("5000.00"),
                         (people.sibling.pk, JAN): Decimal("800.00")}  # fmt: skip


def test_an_import_reports_each_bad_row_and_saves_nothing_until_all_are_right(people, org):
    """PIPE-7: rows 5 (a manager outside the scope), 6 (month 13) and 7 (no amount) fail: nothing is saved;
    without them the sheet saves 李娜 Jan 100,000 and Feb 120,000 (by display name), team 一组 Mar 50,000."""
    good = ("lina,,2026-01,100000", '李娜,,2026/2,"120,000"', ",一组,2026年3月,50000")
    report = services.quota_import(actor=people.head, file=sheet(*good, "zhaoqiang,,2026-01,1", "lina,,2026-13,5",
                                                                 "wangwei,,2026-04,"), filename="定额.csv")  # fmt: skip
    assert (report.ok, report.rows, report.failed) == (False, 6, 3)
    assert [(e["row"], e["field"]) for e in report.errors] == [(5, "user"), (6, "month"), (7, "amount")]
    assert not Quota.objects.exists()
    report = services.quota_import(actor=people.head, file=sheet(*good), filename="定额.csv")
    assert (report.ok, report.rows, report.created) == (True, 3, 3)
    assert amounts() == {(people.manager.pk, JAN): Decimal("100000.00"), (people.manager.pk, FEB): Decimal("120000.00"),
                         (f"d{org.team_a.pk}", MAR): Decimal("50000.00")}  # fmt: skip
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, target_type="org.quota").count() == 1
    with pytest.raises(PermissionDenied):
        services.quota_import(actor=people.manager, file=sheet(*good))


# --- completion -------------------------------------------------------------------------------------


@pytest.fixture
def figures(people, org):
    """2026 quotas and credited sales (the sales SalesCredit holds; tests/sales/test_credits.py keeps it):
    李娜 quota Jan 1000, Feb 1000, Mar 2000, Apr 0; sales Jan 800, Feb 1500, Mar 1000, Apr 300.
    王伟 quota Jan 500, Mar 500; sales Jan 600. 孙丽 quota Jan 800; sales Feb 400.
    Team 一组's own quota: Feb 5000. 赵强 (south) sales Jan 999, no quota."""
    head = people.head
    lina, wang, sun = people.manager, people.colleague, people.sibling
    services.quota_bulk_set(actor=head, entries=[
        {"user": lina.pk, "month": "2026-01", "amount": "1000"}, {"user": lina.pk, "month": "2026-02", "amount": "1000"},
        {"user": lina.pk, "month": "2026-03", "amount": "2000"}, {"user": lina.pk, "month": "2026-04", "amount": "0"},
        {"user": wang.pk, "month": "2026-01", "amount": "500"}, {"user": wang.pk, "month": "2026-03", "amount": "500"},
        {"user": sun.pk, "month": "2026-01", "amount": "800"},
        {"department": org.team_a.pk, "month": "2026-02", "amount": "5000"},
    ])  # fmt: skip
    for owner, month, amount in [(lina, JAN, 800), (lina, FEB, 1500), (lina, MAR, 1000), (lina, APR, 300),
                                 (wang, JAN, 600), (sun, FEB, 400), (people.outsider, JAN, 999)]:  # fmt: skip
        SalesCredit.objects.create(owner=owner, month=month, amount=Decimal(amount), lines=1)


def cells(row) -> list[tuple]:
    return [(c["quota"], c["actual"], c["rate"]) for c in row.cells]


def row_of(table, label):
    return next(r for r in [*table["people"], *table["teams"]] if r.label == label or r.label.endswith("/" + label))


def test_completion_by_month_quarter_and_year_by_hand(people, org, figures):
    """PIPE-7: rate = actual / quota, None without a quota or with quota 0; a team takes its own quota where
    entered (一组 Feb 5000) and its members' sum elsewhere; actual is its members' credited sales."""
    head, D = people.head, Decimal
    month = selectors.quota_completion(head, year=2026, period="month")
    assert cells(row_of(month, "李娜"))[:5] == [
        (D(1000), D(800), D("0.8000")), (D(1000), D(1500), D("1.5000")), (D(2000), D(1000), D("0.5000")),
        (D(0), D(300), None), (None, D(0), None)]  # fmt: skip
    team_a = row_of(month, "一组")
    assert cells(team_a)[:4] == [(D(1500), D(1400), D("0.9333")), (D(5000), D(1500), D("0.3000")),
                                 (D(2500), D(1000), D("0.4000")), (D(0), D(300), None)]  # fmt: skip
    assert [c["own_quota"] for c in team_a.cells[:3]] == [False, True, False]
    quarter = selectors.quota_completion(head, year=2026, period="quarter")
    assert quarter["periods"] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert cells(row_of(quarter, "李娜"))[:2] == [(D(4000), D(3300), D("0.8250")), (D(0), D(300), None)]
    assert cells(row_of(quarter, "一组"))[0] == (D(9000), D(3900), D("0.4333"))
    year = selectors.quota_completion(head, year=2026, period="year")
    assert cells(row_of(year, "李娜")) == [(D(4000), D(3600), D("0.9000"))]
    assert cells(row_of(year, "王伟")) == [(D(1000), D(600), D("0.6000"))]
    assert cells(row_of(year, "一组")) == [(D(9000), D(4200), D("0.4667"))]
    # The KA department above has no own quota: its members' 4000 + 1000 + 800; sales 3600 + 600 + 400.
    assert cells(row_of(year, "华东大客户部")) == [(D(5800), D(4600), D("0.7931"))]
    assert year["company"] is None  # scope 'department and below'
    assert "赵强" not in {r.label for r in year["people"]}
    assert row_of(month, "李娜").total == {"period": "2026", "quota": D(4000), "actual": D(3600), "rate": D("0.9000"),
                                          "own_quota": False}  # fmt: skip


def test_completion_follows_the_viewers_scope_and_filters(people, org, figures):
    """PIPE-7: a manager sees her own row only; the company total (scope 'all') adds everyone: quotas
    4000 + 1000 + 800 = 5800, sales 3600 + 600 + 400 + 999 = 5599; filters by team and by person."""
    mine = selectors.quota_completion(people.manager, year=2026, period="year")
    assert ([r.label for r in mine["people"]], mine["teams"], mine["company"]) == (["李娜"], [], None)
    company = selectors.quota_completion(people.executive, year=2026, period="year")["company"]
    assert cells(company) == [(Decimal(5800), Decimal(5599), Decimal("0.9653"))]
    team_b = selectors.quota_completion(people.head, year=2026, period="year", department=org.team_b)
    assert ([r.label for r in team_b["people"]], [r.department for r in team_b["teams"]]) == (["孙丽"], [org.team_b])
    one = selectors.quota_completion(people.head, year=2026, period="year", user=people.colleague)
    assert ([r.label for r in one["people"]], one["teams"]) == (["王伟"], [])


# --- API and page -----------------------------------------------------------------------------------


def test_the_quota_api(people, org, figures, api, django_assert_max_num_queries):
    """PIPE-7: list in scope, bulk set (422 naming "<index>.<field>", 409 stale, 403 for a manager), import,
    completion with rates as decimal strings, a foreign person is 404."""
    head = api(people.head)
    listed = head.get("/quotas", {"year": 2026, "user": people.manager.pk}).json()
    assert (listed["count"], listed["items"][0]["month"], listed["items"][0]["amount"]) == (4, "2026-01", "1000.00")
    assert api(people.manager).get("/quotas", {"year": 2026}).json()["count"] == 4  # her own
    assert head.get("/quotas", {"user": people.outsider.pk}).status_code == 404
    jan = Quota.objects.get(user=people.manager, month=JAN)
    bad = head.put("/quotas", [{"user": people.manager.pk, "month": "2026-01", "amount": "1100", "version": 1},
                               {"user": people.outsider.pk, "month": "2026-01", "amount": "5"}])  # fmt: skip
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["1.user"]
    ok = head.put("/quotas", [{"user": people.manager.pk, "month": "2026-01", "amount": "1100", "version": 1},
                              {"user": people.manager.pk, "month": "2026-02", "amount": None}])  # fmt: skip
    assert ok.status_code == 200, ok.content
    assert (ok.json()["updated"], ok.json()["deleted"], ok.json()["items"][0]["version"]) == (1, 1, 2)
    stale = head.put("/quotas", [{"user": people.manager.pk, "month": "2026-01", "amount": "1", "version": 1}])
    assert stale.status_code == 409 and stale.json()["current"]["id"] == jan.pk
    gone = head.put("/quotas", [{"user": people.manager.pk, "month": "2026-02", "amount": "9", "version": 1}])
    assert gone.status_code == 409 and gone.json()["current"] is None  # February was removed just above
    assert api(people.manager).put("/quotas", [{"user": people.manager.pk, "month": "2026-05",
                                                "amount": "1"}]).status_code == 403  # fmt: skip
    imported = head.client.post("/api/v1/quotas/import", {"file": sheet("wangwei,,2026-06,700")}, **head.headers)
    assert imported.status_code == 201 and imported.json()["created"] == 1
    refused = head.client.post("/api/v1/quotas/import", {"file": sheet("wangwei,,2026-06,x")}, **head.headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["row"] == 2
    with django_assert_max_num_queries(12):  # the same few queries however many people and teams
        everyone = api(people.executive).get("/quotas/completion", {"year": 2026})
    # By now: quotas 李娜 1,100 + 2,000 + 0, 王伟 1,000 + 700, 孙丽 800 = 5,600; sales 5,599.
    assert len(everyone.json()["people"]) == 6 and everyone.json()["company"]["total"]["rate"] == "0.9998"
    completion = head.get("/quotas/completion", {"year": 2026, "period": "quarter", "user": people.manager.pk})
    row = completion.json()["people"][0]
    first = row["cells"][0]
    assert [Decimal(first[k]) for k in ("quota", "actual", "rate")] == [Decimal(3100), Decimal(3300), Decimal("1.0645")]
    assert head.get("/quotas/completion", {"year": 2026, "user": people.outsider.pk}).status_code == 404
    assert head.get("/quotas/completion", {"year": 2026, "period": "week"}).status_code == 422


def test_the_quota_page(people, org, figures, page_client):
    """PIPE-7: the head's grid saves changed cells in one POST (a stale one is a message, not an error page);
    a manager sees her own completion read-only, with thousand separators and under 100 % highlighted."""
    client = page_client(people.head)
    page = client.get("/quotas/?year=2026")
    assert page.status_code == 200 and 'id="quota-grid"' in page.content.decode()
    state = page.context["state"]
    lina = f"u{people.manager.pk}"
    saved = client.post("/quotas/?year=2026", {"action": "save", "state": state, f"c-{lina}-1": "1,000",
                                               f"c-{lina}-5": "2,500", f"c-{lina}-2": ""})  # fmt: skip
    assert saved.status_code == 302
    assert amounts()[(people.manager.pk, date(2026, 5, 1))] == Decimal("2500.00")
    assert (people.manager.pk, FEB) not in amounts()
    # May was empty when the page was read: saving it again from that page is stale.
    stale = client.post("/quotas/?year=2026", {"action": "save", "state": state, f"c-{lina}-5": "3000"}, follow=True)
    assert stale.status_code == 200 and amounts()[(people.manager.pk, date(2026, 5, 1))] == Decimal("2500.00")
    assert any(m.level_tag == "error" for m in stale.context["messages"])
    wrong = client.post("/quotas/?year=2026", {"action": "save", "state": json.dumps({}), f"c-{lina}-7": "-1"})
    assert wrong.status_code == 200 and wrong.context["grid_errors"].keys() == {f"c-{lina}-7"}

    team_b = client.get(f"/quotas/?year=2026&department={org.team_b.pk}&user={people.outsider.pk}")
    assert [r.label for r in team_b.context["rows"]] == ["孙丽", "总公司/华东分公司/华东大客户部/二组"]

    mine = page_client(people.manager).get("/quotas/?year=2026&period=year")
    text = mine.content.decode()
    assert mine.status_code == 200 and 'id="quota-grid"' not in text
    assert [r.label for r in mine.context["rows"]] == ["李娜"]
    assert "3,600 / 5,500" in text and 'class="num below"' in text  # 3,600 of 5,500 (after the head's changes)
    assert page_client(people.manager).post("/quotas/", {"action": "save"}).status_code == 403

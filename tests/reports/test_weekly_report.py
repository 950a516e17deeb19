"""The weekly sales statistics report (GOV-8): every figure by hand, the supervisor's inbox, idempotence,
scope, the xlsx file and "generate now".

The week is Monday 2026-11-16 … Sunday 2026-11-22 (Asia/Shanghai); the report is made on Monday 2026-11-23.
"""

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine

from kam.engagement import services as engagement_services
from kam.engagement.models import Reminder, ReminderKind
from kam.org.models import Quota
from kam.reports import services
from kam.reports.models import WeeklyReport
from kam.sales import services as sales_services
from kam.sales.models import GateItem, Stage
from tests.sales.seed import ensure_default_pipeline

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
WEEK = date(2026, 11, 16)
BEFORE_WEEK = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
IN_WEEK = datetime(2026, 11, 17, 10, 0, tzinfo=SH)
REPORT_DAY = datetime(2026, 11, 23, 7, 0, tzinfo=SH)
REVIEW = {"reason": "价格", "what_happened": "对手降价", "lesson": "早报价"}


def _line(actor, account, number, day, amount, margin="0"):
    return sales_services.sales_record_create(actor=actor, account=account, fields={
        "order_number": number, "date": day, "product_line": "阀门", "quantity": "1", "amount": amount,
        "gross_margin": margin})  # fmt: skip


def _activity(actor, account, kind, when, **extra):
    return engagement_services.activity_create(actor=actor, account=account,
                                               fields={"kind": kind, "happened_at": when, **extra})  # fmt: skip


@pytest.fixture
def week(people, make_account):
    """李娜's week: sales, opportunities opened, moved, won and lost, quotas, a work plan, activities, and two
    earlier reports; 王伟 sold one line."""
    ensure_default_pipeline()
    GateItem.objects.update(is_active=False)  # gates are PIPE-2's business; here every move is allowed
    lina, wang = people.manager, people.colleague
    a = make_account(lina, "周报甲有限公司")
    b = make_account(wang, "周报乙有限公司")
    stage = {s.code: s for s in Stage.objects.filter(pipeline__is_default=True)}

    def opportunity(name, amount, close):
        return sales_services.opportunity_create(actor=lina, account=a, fields={
            "name": name, "amount": amount, "expected_close": close})  # fmt: skip

    with time_machine.travel(BEFORE_WEEK, tick=False):
        won = opportunity("赢单", "5000", date(2026, 11, 20))
        lost = opportunity("输单", "7000", date(2026, 11, 25))
        opportunity("老商机", "1000", date(2026, 11, 28))  # open, potential (10 %), closes in November
    with time_machine.travel(IN_WEEK, tick=False):
        opportunity("新商机一", "10000", date(2026, 11, 30))  # potential: 10 %
        second = opportunity("新商机二", "20000", date(2026, 12, 15))
        sales_services.opportunity_advance(actor=lina, opportunity=second, to_stage=stage["intention"])  # 30 %
        sales_services.opportunity_advance(actor=lina, opportunity=won, to_stage=stage["won"])
        sales_services.opportunity_lose(actor=lina, opportunity=lost, **REVIEW)
    with time_machine.travel(REPORT_DAY, tick=False):
        _line(lina, a, "W-1", date(2026, 11, 16), "1000.00", "200.00")  # in the week
        _line(lina, a, "W-2", date(2026, 11, 22), "500.50", "100.00")  # in the week (Sunday)
        _line(lina, a, "W-3", date(2026, 11, 15), "200.00")  # the Sunday before
        _line(lina, a, "W-4", date(2026, 11, 23), "300.00")  # the Monday after
        _line(lina, a, "W-5", date(2026, 10, 5), "4000.00")  # this quarter
        _line(lina, a, "W-6", date(2026, 3, 10), "10000.00")  # this year
        _line(wang, b, "W-7", date(2026, 11, 18), "2345.67", "345.67")
        for month, amount in ((3, "2000"), (10, "3000"), (11, "8000"), (12, "5000")):
            Quota.objects.create(user=lina, month=date(2026, month, 1), amount=Decimal(amount))
        sales_services.work_plan_set(actor=lina, owner=lina, month=date(2026, 11, 1), items=[
            {"account": a.pk, "kind": "visit", "planned": 3}, {"kind": "call", "planned": 2}])  # fmt: skip
        _activity(lina, a, "visit", datetime(2026, 11, 5, 9, tzinfo=SH))
        _activity(lina, a, "visit", datetime(2026, 11, 18, 9, tzinfo=SH))
        _activity(lina, a, "call", datetime(2026, 11, 3, 9, tzinfo=SH))
        _activity(lina, a, "call", datetime(2026, 11, 16, 0, 30, tzinfo=SH))  # Monday just after midnight
        _activity(lina, a, "call", datetime(2026, 11, 22, 23, 30, tzinfo=SH))  # Sunday night
        _activity(lina, a, "meeting", datetime(2026, 11, 19, 15, tzinfo=SH))  # not in the plan
        _activity(lina, a, "visit", datetime(2026, 11, 15, 23, 30, tzinfo=SH))  # the Sunday before
        archived = _activity(lina, a, "visit", datetime(2026, 11, 20, 9, tzinfo=SH))
        engagement_services.activity_archive(actor=lina, activity=archived)
        _activity(wang, b, "visit", datetime(2026, 11, 17, 9, tzinfo=SH))  # 王伟's, not hers
        for week_start, nov, dec in (
            (date(2026, 11, 2), "9999.00", "9999.00"),
            (date(2026, 11, 9), "1500.00", "4000.00"),
        ):
            WeeklyReport.objects.create(manager=lina, week_start=week_start, data={"forecast": [
                {"month": "2026-11", "weighted": nov, "change": None},
                {"month": "2026-12", "weighted": dec, "change": None}]})  # fmt: skip
    return a


def _generate(**kwargs):
    with time_machine.travel(REPORT_DAY, tick=False):
        return services.weekly_reports_generate(week_start=WEEK, **kwargs)


def test_every_figure_of_the_report_by_hand(people, week):
    """GOV-8: the week's sales credited to her (1000 + 500.50), month / quarter / year to date, quota progress,
    new opportunities, stage moves with won and lost, the forecast change since her last report, the work plan
    and the week's activities; PIPE-4: the plan's progress."""
    reports = {r.manager_id: r for r in _generate()}
    assert set(reports) == {p.pk for p in (people.manager, people.colleague, people.dept_viewer, people.sibling,
                                           people.outsider)}  # active KA managers; heads get none  # fmt: skip
    data = reports[people.manager.pk].data
    intention, won, lost = (Stage.objects.get(pipeline__is_default=True, code=c) for c in ("intention", "won", "lost"))
    previous = WeeklyReport.objects.get(manager=people.manager, week_start=date(2026, 11, 9))
    assert data == {
        "week_start": "2026-11-16",
        "week_end": "2026-11-22",
        "month": "2026-11",
        "sales": {
            "week": {"amount": "1500.50", "gross_margin": "300.00", "lines": 2},
            "month_to_date": "2000.50",  # 1000 + 500.50 + 200 + 300
            "quarter_to_date": "6000.50",  # + October's 4000
            "year_to_date": "16000.50",  # + March's 10000
        },
        "quota": {
            "month": {"quota": "8000.00", "sales": "2000.50", "rate": "25.0"},  # 2000.50 / 8000
            "quarter": {"quota": "16000.00", "sales": "6000.50", "rate": "37.5"},  # / (3000 + 8000 + 5000)
            "year": {"quota": "18000.00", "sales": "16000.50", "rate": "88.9"},  # / (2000 + 16000)
        },
        "opportunities": {"new_count": 2, "new_amount": "30000.00"},
        "stage_moves": {
            "by_stage": [
                {"stage_id": intention.pk, "code": "intention", "name": "", "kind": "open", "count": 1},
                {"stage_id": won.pk, "code": "won", "name": "", "kind": "won", "count": 1},
                {"stage_id": lost.pk, "code": "lost", "name": "", "kind": "lost", "count": 1},
            ],
            "total": 3,
            "won": {"count": 1, "amount": "5000.00"},
            "lost": {"count": 1, "amount": "7000.00"},
        },
        "forecast": [
            # November: (10000 + 1000) × 10 % = 1100, was 1500; December: 20000 × 30 % = 6000, was 4000.
            {"month": "2026-11", "weighted": "1100.00", "change": "-400.00"},
            {"month": "2026-12", "weighted": "6000.00", "change": "2000.00"},
        ],
        "previous_report": previous.pk,
        # visits at 甲 in November: 3 of 3 (the archived one left out); calls anywhere: 3 of 2, counted as 2
        # for the rate (5 / 5, not 6 / 5)
        "work_plan": {"planned": 5, "done": 6, "rate": "100.0"},
        "activities": {"call": 2, "meeting": 1, "visit": 1},
        "activities_total": 4,
    }
    colleague = reports[people.colleague.pk].data
    assert colleague["sales"]["week"] == {"amount": "2345.67", "gross_margin": "345.67", "lines": 1}
    assert colleague["quota"]["month"] == {"quota": None, "sales": "2345.67", "rate": None}
    assert [f["change"] for f in colleague["forecast"]] == [None, None]  # a first report: no change


def test_supervisors_get_it_in_their_inbox_once_and_regenerating_duplicates_nothing(people, week):
    """GOV-8: 陈主任 heads the KA department above both teams, so the four reports of the east reach his inbox,
    once; 赵强's department and its ancestors have no head. A week reported after it ended is kept as it was."""
    first = {r.manager_id: r for r in _generate()}
    head = people.head
    inbox = Reminder.objects.filter(user=head, kind=ReminderKind.WEEKLY_REPORT)
    assert inbox.count() == 4
    assert first[people.manager.pk].sent_to == [head.pk]
    assert first[people.outsider.pk].sent_to == []
    mine = inbox.get(key=f"weekly-report:2026-11-16:{people.manager.pk}:{head.pk}")
    assert "李娜" in mine.title and f"/reports/weekly/{first[people.manager.pk].pk}/" in mine.body
    assert mine.link == f"/reports/weekly/{first[people.manager.pk].pk}/"  # the inbox item opens the report
    _line(people.manager, week, "W-8", date(2026, 11, 17), "999.00")
    again = {r.manager_id: r for r in _generate()}
    assert {k: r.pk for k, r in again.items()} == {k: r.pk for k, r in first.items()}
    assert WeeklyReport.objects.filter(week_start=WEEK).count() == 5
    assert inbox.count() == 4
    assert WeeklyReport.objects.get(pk=first[people.manager.pk].pk).data["sales"]["week"]["amount"] == "1500.50"


def test_a_report_of_the_running_week_is_refreshed(people, make_account):
    """GOV-8: generated while its week is still running, a report is provisional: generating it again refreshes
    its figures (same report, no second reminder)."""
    a = make_account(people.manager)
    monday = date(2026, 11, 23)
    with time_machine.travel(datetime(2026, 11, 24, 9, tzinfo=SH), tick=False):
        _line(people.manager, a, "R-1", monday, "100.00")
        [first] = [r for r in services.weekly_reports_generate(week_start=monday) if r.manager_id == people.manager.pk]
        _line(people.manager, a, "R-2", monday + timedelta(days=1), "50.00")
        [again] = [r for r in services.weekly_reports_generate(week_start=monday) if r.manager_id == people.manager.pk]
    assert again.pk == first.pk and again.data["sales"]["week"]["amount"] == "150.00"
    assert Reminder.objects.filter(user=people.head, key__startswith="weekly-report:2026-11-23:").count() == 4


def test_scheduled_job_reports_last_week(people, week):
    """GOV-8: the Monday 06:30 job reports the week that just ended."""
    from kam.core.jobs import SCHEDULES
    from kam.reports import jobs

    assert SCHEDULES["reports.weekly_reports"].cron == "30 6 * * 1"
    with time_machine.travel(REPORT_DAY, tick=False):
        assert jobs.weekly_reports(tick=REPORT_DAY.isoformat()) is True
    assert WeeklyReport.objects.filter(week_start=WEEK).count() == 5


def test_list_and_detail_stay_within_scope(people, week, api):
    """GOV-8, GOV-7: a manager sees her own reports, the head his department's, an executive all; a report
    outside one's scope is 404."""
    reports = {r.manager_id: r for r in _generate()}
    lina = api(people.manager)
    own = lina.get("/reports/weekly", {"week": "2026-11-18"}).json()
    assert [r["id"] for r in own["items"]] == [reports[people.manager.pk].pk]
    assert lina.get(f"/reports/weekly/{reports[people.outsider.pk].pk}").status_code == 404
    detail = lina.get(f"/reports/weekly/{reports[people.manager.pk].pk}").json()
    assert detail["data"]["sales"]["week"]["amount"] == "1500.50"
    east = {
        r["manager"]["username"]
        for r in api(people.head).get("/reports/weekly", {"week": "2026-11-16"}).json()["items"]
    }
    assert east == {"lina", "wangwei", "zhoumin", "sunli"}
    assert api(people.executive).get("/reports/weekly", {"week": "2026-11-16"}).json()["count"] == 5
    assert api(people.head).get(f"/reports/weekly/{reports[people.outsider.pk].pk}").status_code == 404


def test_xlsx_opens_and_has_the_figures(people, week, api, page_client):
    """GOV-8: the spreadsheet opens with openpyxl, carries the figures as numbers and a Chinese file name."""
    report = {r.manager_id: r for r in _generate()}[people.manager.pk]
    response = api(people.manager).get(f"/reports/weekly/{report.pk}/xlsx", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "filename*=utf-8''" in response["Content-Disposition"].lower()
    assert "%E6%9D%8E%E5%A8%9C" in response["Content-Disposition"]  # 李娜
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert values["Sales this week"] == pytest.approx(1500.50)
    assert values["Year to date"] == pytest.approx(16000.50)
    assert values["New opportunities"] == 2
    page = page_client(people.colleague).get(f"/reports/weekly/{report.pk}/xlsx/")
    assert page.status_code == 404


def test_report_page_reads_as_a_report(people, week, page_client):
    """GOV-8: the page shows the figures with thousand separators, the head's list offers "generate now"."""
    report = {r.manager_id: r for r in _generate()}[people.manager.pk]
    client = page_client(people.head)
    page = client.get(f"/reports/weekly/{report.pk}/").content.decode()
    assert "16,000.50" in page and "1,500.50" in page
    listing = client.get("/reports/weekly/?week=2026-11-16").content.decode()
    assert f"/reports/weekly/{report.pk}/" in listing and 'id="generate-form"' in listing


def test_generate_now_is_for_heads_and_checks_the_week(people, api, page_client):
    """GOV-8: heads and administrators generate a chosen week for the managers in their scope; the week must
    be a Monday not in the future (422 naming week_start); a manager may not (403)."""
    with time_machine.travel(REPORT_DAY, tick=False):
        assert api(people.manager).post("/reports/weekly/generate", {"week_start": "2026-11-16"}).status_code == 403
        head = api(people.head)
        for bad in ("2026-11-17", "2026-11-30", "next week"):
            response = head.post("/reports/weekly/generate", {"week_start": bad})
            assert response.status_code == 422
            assert response.json()["errors"][0]["field"] == "week_start"
        made = head.post("/reports/weekly/generate", {"week_start": "2026-11-16"}).json()
        assert {r["manager"]["username"] for r in made["reports"]} == {"lina", "wangwei", "zhoumin", "sunli"}
        page = page_client(people.admin).post("/reports/weekly/generate/", {"week_start": "2026-11-09"})
        assert page.status_code == 302
        assert (
            page_client(people.manager).post("/reports/weekly/generate/", {"week_start": "2026-11-09"}).status_code
            == 403
        )
    assert WeeklyReport.objects.filter(week_start=date(2026, 11, 9)).count() == 5


def test_generation_and_the_list_take_a_fixed_number_of_queries(people, week, api, django_assert_max_num_queries):
    """GOV-8: one grouped query per figure for all managers, not a round per manager; the list likewise."""
    with django_assert_max_num_queries(25):
        assert len(_generate()) == 5
    client = api(people.executive)
    with django_assert_max_num_queries(4):
        assert client.get("/reports/weekly", {"page_size": 100}).json()["count"] == 7

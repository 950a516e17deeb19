"""The demo data (`kam demo`): a believable archive, loaded once, never over existing data.

Loading takes a few seconds, so it is loaded once for this module, inside a transaction that is
rolled back when the module is done; each test runs in a savepoint inside it.
"""

import io

import pytest
from django.db import transaction
from django.db.models import Count
from stdnum.cn import uscc

from kam.accounts.models import Account, AccountContact, AccountTeamMember, AccountUpdate, Contact, Ownership, Visitor
from kam.accounts.search import search
from kam.core.models import AuditAction, AuditEvent
from kam.demo import DEMO_PASSWORD, load_demo
from kam.org.models import Role, User
from tests.sales.seed import ensure_default_pipeline


@pytest.fixture(scope="module")
def demo_output(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        ensure_default_pipeline()  # a browser test run before may have flushed the migration's seed
        out = io.StringIO()
        assert load_demo(stdout=out) == 0
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def admin(demo_output, db):
    return User.objects.get(username="admin")


def test_demo_has_hundreds_of_accounts_and_a_thousand_contacts(admin):
    assert Account.objects.count() >= 300
    assert Contact.objects.count() >= 1000
    assert AccountUpdate.objects.exists() and AccountTeamMember.objects.exists() and Visitor.objects.exists()


def test_demo_has_users_in_every_role_who_can_log_in(admin):
    assert User.objects.count() >= 8
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert User.objects.get(username="lina").check_password(DEMO_PASSWORD)


def test_demo_prints_the_logins(demo_output):
    assert "lina" in demo_output and "ka_head" in demo_output and DEMO_PASSWORD in demo_output


def test_demo_covers_every_ownership_type_and_has_head_offices_with_branches(admin):
    assert set(Account.objects.values_list("ownership", flat=True)) == set(Ownership.values)
    heads = Account.objects.annotate(n=Count("branches")).filter(n__gte=2)
    assert heads.count() >= 3
    assert Account.objects.filter(
        name="中国建设银行股份有限公司上海市分行", parent__name="中国建设银行股份有限公司"
    ).exists()


def test_demo_credit_codes_are_valid_and_unique(admin):
    codes = list(Account.objects.exclude(credit_code="").values_list("credit_code", flat=True))
    assert len(codes) == Account.objects.count()
    assert len(set(codes)) == len(codes)
    for code in codes:
        uscc.validate(code)


def test_demo_buying_centres_are_trees_with_a_decision_maker_on_top(admin):
    account = Account.objects.get(name="中国建设银行股份有限公司")
    positions = list(AccountContact.objects.filter(account=account))
    tops = [p for p in positions if p.reports_to_id is None]
    assert len(tops) == 1 and tops[0].buying_role == "decision_maker"
    assert Contact.objects.annotate(n=Count("positions")).filter(n__gte=2).exists()


def test_demo_is_found_by_chinese_fragment_short_name_and_pinyin_initials(admin):
    assert any(a.name == "中国建设银行股份有限公司" for a in search(admin, "银行").accounts)
    assert any(a.name == "中国建设银行股份有限公司" for a in search(admin, "建行").accounts)
    assert any(a.name == "中国建设银行股份有限公司" for a in search(admin, "zgjsyh").accounts)


def test_demo_writes_the_audit_trail(admin):
    account = Account.objects.get(name="华为技术有限公司")
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, account_id=account.pk, actor=account.owner).exists()


def test_demo_leaves_a_database_with_data_alone(admin):
    before = (Account.objects.count(), Contact.objects.count(), User.objects.count(), AuditEvent.objects.count())
    out = io.StringIO()
    assert load_demo(stdout=out) == 0
    assert "already has data" in out.getvalue()
    assert (
        Account.objects.count(),
        Contact.objects.count(),
        User.objects.count(),
        AuditEvent.objects.count(),
    ) == before


def test_demo_has_activities_tasks_reminders_and_templates(admin):
    """ENG-1, ENG-3, MSG-2: the demo shows a history of visits, today's call-backs, a contract signing
    with its documents, the morning's reminders and message templates — without waiting for the worker."""
    from kam.engagement.models import Activity, Reminder, Task, TaskKind
    from kam.messaging.models import MessageTemplate

    assert Activity.objects.count() >= 300
    assert Task.objects.filter(kind=TaskKind.CALL_BACK).count() >= 5
    signing = Task.objects.get(kind=TaskKind.CONTRACT_SIGNING)
    assert len(signing.documents) == 4
    assert Reminder.objects.exists()
    assert MessageTemplate.objects.filter(channel="log").count() >= 2


def test_demo_has_sponsors_a_forum_with_answers_and_a_trial(admin):
    """ENG-5, ENG-6, ENG-7 in the demo: the VP sponsors big accounts with quarterly visit plans (some
    overdue), next month's forum has invitations and answers, a new-product trial has participants."""
    from kam.engagement import selectors
    from kam.engagement.models import Campaign, Event, ExecutivePlan, ExecutiveSponsor, Invitation

    vp = User.objects.get(username="liuzong")
    assert ExecutiveSponsor.objects.filter(sponsor=vp).count() == 6
    assert ExecutivePlan.objects.count() == 6
    forum = Event.objects.get()
    assert Invitation.objects.filter(event=forum, status="accepted").count() == 5
    assert Campaign.objects.get().participants.count() == 4
    assert len(selectors.plan_list(User.objects.get(username="chenjianguo"), overdue=True)) == 3


def test_demo_has_sales_history_and_opportunities_in_the_funnel(admin):
    """Issue 3 in the demo: two years of sales lines for customers with their monthly aggregates, and
    opportunities moved forward only as far as their gates hold (PIPE-1, PIPE-2)."""
    from django.db.models import Sum

    from kam.sales.models import Opportunity, SalesMonth, SalesRecord

    assert SalesRecord.objects.count() > 1000
    assert SalesMonth.objects.aggregate(s=Sum("amount"))["s"] == SalesRecord.objects.aggregate(s=Sum("amount"))["s"]
    assert Opportunity.objects.count() == 30
    assert Opportunity.objects.values("stage").distinct().count() >= 2

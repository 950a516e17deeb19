"""The authorization matrix: every API operation and page × every persona × own / team / foreign record.

GOV-7 (data rules): what a user may see is their data scope (own, department, department and
below, all) plus the virtual teams they are on; what they may not see does not exist for them (404,
never 403), on pages and in the API alike. GOV-1 (owner and virtual team): an account is changed by
its owner, a read-write team member, or a KA head / admin within scope; read-only roles (executive,
finance, service) never change accounts, not even as write members of a team. ARC-6: search and
lists show only what is in scope, and their counts agree. ARC-5: duplicate hints never name a
record outside the caller's scope.

The tables API_MATRIX and PAGE_MATRIX below hold one row per operation id / page URL name;
`test_every_endpoint_has_a_matrix_row` fails when an endpoint exists without a row (or a row names
an endpoint that is gone). The expected outcomes come from the explicit tables SEES, CHANGES, … —
written out by hand, not computed by the code under test.

The world (organisation, personas, six accounts each with a contact, an attachment, a piece of
dynamic information and a visitor) is built once for the module inside a transaction; every test
runs in a savepoint that is rolled back, so writes in one case never leak into the next.
"""

import csv
import io
import json
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver
from django.utils import timezone

import kam.urls
from kam.accounts import imports
from kam.accounts import services as account_services
from kam.accounts.models import (
    Account,
    AccountContact,
    AccountTeamMember,
    AccountUpdate,
    Attachment,
    Contact,
    TeamAccess,
    Visitor,
)
from kam.core.api import api
from kam.core.models import ApiToken, AuditAction, AuditEvent
from kam.engagement import services as engagement_services
from kam.engagement.models import (
    Activity,
    Campaign,
    CampaignParticipant,
    Event,
    ExecutivePlan,
    ExecutiveSponsor,
    Invitation,
    Reminder,
    ReminderKind,
    Task,
)
from kam.messaging import services as messaging_services
from kam.messaging.models import Audience, HolidayGreeting, Message, MessageBatch, MessageTemplate
from kam.org import services as org_services
from kam.org.models import DataScope, DepartmentKind, Role
from kam.sales import services as sales_services  # PIPE (s1)
from kam.sales.models import (  # PIPE (s1), sales records (s2)
    DevelopmentCost,
    GateItem,
    Opportunity,
    SalesMonth,
    SalesRecord,
    Sample,
    Stage,
)
from tests.sales.seed import ensure_default_pipeline  # PIPE (s1)

pytestmark = pytest.mark.django_db

PERSONAS = (
    "manager",
    "colleague",
    "dept_viewer",
    "sibling",
    "outsider",
    "head",
    "executive",
    "finance",
    "service",
    "admin",
)
RECORDS = ("own", "team_read", "team_write", "same_dept", "sibling_team", "foreign")
ALL = frozenset(RECORDS)

# Who owns each record (and recorded its visitor). The relation names are seen from 李娜 (manager):
# her own account; one of 孙丽's (sibling team) where she is a read-only team member; one of 赵强's
# (other branch) where she is a read-write team member (客服 the service user is a write member too);
# her colleague's; another of 孙丽's; another of 赵强's.
OWNERS = {
    "own": "manager",
    "team_read": "sibling",
    "team_write": "outsider",
    "same_dept": "colleague",
    "sibling_team": "sibling",
    "foreign": "outsider",
}
LABELS = {"own": "本人", "team_read": "团队只读", "team_write": "团队读写", "same_dept": "同组", "sibling_team": "兄弟组",
          "foreign": "外地"}  # fmt: skip

# --- expected outcomes, by hand -----------------------------------------------------------------

# Accounts (and their contacts, attachments, dynamic information) each persona may see:
# scope ∪ team membership.
SEES = {
    "manager": {"own", "team_read", "team_write"},  # own scope + two teams
    "colleague": {"same_dept"},  # own scope
    "dept_viewer": {"own", "same_dept"},  # department scope: team A
    "sibling": {"team_read", "sibling_team"},  # own scope, team B
    "outsider": {"team_write", "foreign"},  # own scope, south branch
    "head": {"own", "team_read", "same_dept", "sibling_team"},  # subtree of the east KA department
    "executive": ALL,
    "finance": ALL,
    "service": {"own", "team_read", "same_dept", "sibling_team", "team_write"},  # east subtree + team
    "admin": ALL,
}
# Accounts each persona may change: owner, read-write team member (editing roles only), head/admin in scope.
CHANGES = {
    "manager": {"own", "team_write"},
    "colleague": {"same_dept"},
    "dept_viewer": set(),  # sees her department, changes nothing she does not own
    "sibling": {"team_read", "sibling_team"},
    "outsider": {"team_write", "foreign"},
    "head": {"own", "team_read", "same_dept", "sibling_team"},
    "executive": set(),
    "finance": set(),
    "service": set(),  # read-only role, even as a write member of team_write's virtual team
    "admin": ALL,
}
# An account's change history: visible, and owner or KA head / admin / executive.
HISTORY = {
    "manager": {"own"},
    "colleague": {"same_dept"},
    "dept_viewer": set(),
    "sibling": {"team_read", "sibling_team"},
    "outsider": {"team_write", "foreign"},
    "head": {"own", "team_read", "same_dept", "sibling_team"},
    "executive": ALL,
    "finance": set(),
    "service": set(),
    "admin": ALL,
}
# Visitor-register entries (recorded by the record's owner): data scope only, no teams.
VISITOR_SEES = {
    "manager": {"own"},
    "colleague": {"same_dept"},
    "dept_viewer": {"own", "same_dept"},
    "sibling": {"team_read", "sibling_team"},
    "outsider": {"team_write", "foreign"},
    "head": {"own", "team_read", "same_dept", "sibling_team"},
    "executive": ALL,
    "finance": ALL,
    "service": {"own", "team_read", "same_dept", "sibling_team"},
    "admin": ALL,
}
# Visitor entries each persona may change: the one who recorded it, or a KA head / admin in scope.
VISITOR_CHANGES = {
    "manager": {"own"},
    "colleague": {"same_dept"},
    "dept_viewer": set(),
    "sibling": {"team_read", "sibling_team"},
    "outsider": {"team_write", "foreign"},
    "head": {"own", "team_read", "same_dept", "sibling_team"},
    "executive": set(),
    "finance": set(),
    "service": set(),
    "admin": ALL,
}
# Departments whose people each persona may list (org API): own subtree, or all with scope 'all'.
DEPARTMENTS = {
    "manager": {"team_a"},
    "colleague": {"team_a"},
    "dept_viewer": {"team_a"},
    "sibling": {"team_b"},
    "outsider": {"south_ka"},
    "head": {"east_ka", "team_a", "team_b"},
    "executive": {"company", "east", "east_ka", "team_a", "team_b", "south", "south_ka"},
    "finance": {"company", "east", "east_ka", "team_a", "team_b", "south", "south_ka"},
    "service": {"east", "east_ka", "team_a", "team_b"},
    "admin": {"company", "east", "east_ka", "team_a", "team_b", "south", "south_ka"},
}
ACCOUNT_EDITING_ROLES = {"manager", "colleague", "dept_viewer", "sibling", "outsider", "head", "admin"}
# ENG-1 / ENG-3: each record's activity and tasks were made by its account's owner (the tasks assigned to
# the owner). An activity is seen exactly by those who see its account and changed by those who may
# change the account (or by its recorder — the owner here, who may change it anyway); a task is seen by
# its assignee, its creator and those who see its account, changed by assignee, creator and account
# editors. With the owner as recorder, assignee and creator, both come down to the account tables.
ACTIVITY_SEES = SEES
ACTIVITY_CHANGES = CHANGES


def contacts_seen(persona: str) -> set[str]:
    """Contact keys visible to a persona: each record's contact, plus the one shared by own and foreign."""
    seen = set(SEES[persona])
    if {"own", "foreign"} & SEES[persona]:
        seen.add("shared")
    return seen


# --- the world ----------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n% matrix test file\n"


def _pdf(name="合同.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def _csv(rows, name="客户.csv"):
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return SimpleUploadedFile(name, text.getvalue().encode("utf-8-sig"), content_type="text/csv")


def _csv_rows(response) -> list[list[str]]:
    data = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(data)))


def _build_world() -> types.SimpleNamespace:
    mk = org_services.department_create
    company = mk(actor=None, name="总公司", kind=DepartmentKind.COMPANY)
    east = mk(actor=None, name="华东分公司", kind=DepartmentKind.BRANCH, parent=company)
    east_ka = mk(actor=None, name="华东大客户部", kind=DepartmentKind.KA_DEPARTMENT, parent=east)
    team_a = mk(actor=None, name="一组", kind=DepartmentKind.TEAM, parent=east_ka)
    team_b = mk(actor=None, name="二组", kind=DepartmentKind.TEAM, parent=east_ka)
    south = mk(actor=None, name="华南分公司", kind=DepartmentKind.BRANCH, parent=company)
    south_ka = mk(actor=None, name="华南大客户部", kind=DepartmentKind.KA_DEPARTMENT, parent=south)
    departments = {"company": company, "east": east, "east_ka": east_ka, "team_a": team_a, "team_b": team_b,
                   "south": south, "south_ka": south_ka}  # fmt: skip

    def user(username, role, department, scope=None, name=""):
        return org_services.user_create(actor=None, username=username, password=None, role=role, department=department,
                                        data_scope=scope, display_name=name)  # fmt: skip

    users = {
        "manager": user("lina", Role.KA_MANAGER, team_a, name="李娜"),
        "colleague": user("wangwei", Role.KA_MANAGER, team_a, name="王伟"),
        "dept_viewer": user("zhoumin", Role.KA_MANAGER, team_a, DataScope.DEPARTMENT, name="周敏"),
        "sibling": user("sunli", Role.KA_MANAGER, team_b, name="孙丽"),
        "outsider": user("zhaoqiang", Role.KA_MANAGER, south_ka, name="赵强"),
        "head": user("chen", Role.KA_HEAD, east_ka, name="陈主任"),
        "executive": user("boss", Role.EXECUTIVE, company, name="刘总"),
        "finance": user("caiwu", Role.FINANCE, company, name="财务"),
        "service": user("kefu", Role.SERVICE, east, name="客服"),
        "admin": user("admin", Role.ADMIN, company, name="管理员"),
    }
    # Not a persona: a colleague on every account's team, the target of the team-management cases.
    teammate = user("tongshi", Role.KA_MANAGER, team_b, name="同事")
    accounts, contacts, visitors, attachments = {}, {}, {}, {}
    activities, tasks, done_tasks = {}, {}, {}
    messages = {}  # MSG-1: one outbox message per account, to its contact
    batches = {}  # MSG-1: each of those messages as a bulk send of its owner's
    for record in RECORDS:
        owner = users[OWNERS[record]]
        account = account_services.account_create(
            actor=owner, fields={"name": f"矩阵{LABELS[record]}有限公司", "owner": owner}
        )
        accounts[record] = account
        contacts[record] = account_services.contact_create(
            actor=owner,
            account=account,
            fields={"name": f"矩阵联系人{LABELS[record]}", "hometown": "苏州"},
            position={},
        )
        attachments[record] = account_services.attachment_add(
            actor=owner, account=account, upload=_pdf(), kind="contract"
        )
        account_services.account_update_add(
            actor=owner, account=account, happened_on=date(2026, 1, 5), content="矩阵动态"
        )
        account_services.team_member_set(actor=owner, account=account, user=teammate, access=TeamAccess.READ)
        visitors[record] = account_services.visitor_create(
            actor=owner, fields={"name": f"矩阵访客{LABELS[record]}", "visited_on": date(2026, 1, 5),
                                 "employer": f"矩阵来访单位{LABELS[record]}"},
        )  # fmt: skip
        # ENG-1 / ENG-3: a visit with the account's contact, an open task and a done one, all the owner's.
        activities[record] = engagement_services.activity_create(
            actor=owner, account=account, fields={"subject": f"矩阵拜访{LABELS[record]}", "contacts": [contacts[record].pk],
                                                  "happened_at": timezone.now() - timedelta(hours=1)},
        )  # fmt: skip
        tasks[record] = engagement_services.task_create(
            actor=owner, fields={"title": f"矩阵任务{LABELS[record]}", "account": account,
                                 "due_at": timezone.now() - timedelta(minutes=1)},
        )  # fmt: skip
        done_tasks[record] = engagement_services.task_complete(actor=owner, task=engagement_services.task_create(
            actor=owner, fields={"title": f"矩阵已办{LABELS[record]}", "account": account, "due_at": timezone.now()},
        ))  # fmt: skip
        messages[record] = messaging_services.message_send(actor=owner, contact=contacts[record], channel="log",
                                                           text=f"矩阵短信{LABELS[record]}")  # fmt: skip
        batches[record] = MessageBatch.objects.create(created_by=owner, total=1, queued=1)
        Message.objects.filter(pk=messages[record].pk).update(batch=batches[record])
    sibling, outsider = users["sibling"], users["outsider"]
    account_services.team_member_set(
        actor=sibling, account=accounts["team_read"], user=users["manager"], access=TeamAccess.READ
    )
    account_services.team_member_set(
        actor=outsider, account=accounts["team_write"], user=users["manager"], access=TeamAccess.WRITE
    )
    # 客服 was put on the team with write access while still a KA manager, then moved to service:
    # the service refuses that now, so the row is written directly.
    AccountTeamMember.objects.create(account=accounts["team_write"], user=users["service"], access=TeamAccess.WRITE)
    # A contact who works at two accounts: the manager's and the foreign one.
    shared = account_services.contact_create(actor=users["manager"], account=accounts["own"],
                                             fields={"name": "矩阵共享联系人"}, position={"title": "顾问"})  # fmt: skip
    account_services.position_set(actor=outsider, account=accounts["foreign"], contact=shared, fields={"title": "董事"})
    contacts["shared"] = shared
    # A failed import of 赵强's leaves an error report only he may download.
    failed = imports.import_records(
        actor=outsider, entity="accounts", file=_csv([["客户名称*", "电话"], ["矩阵导入失败有限公司", "12"]])
    )
    report_token = imports.save_report(failed, user=outsider)
    # ENG-3: each record's owner has a reminder about the record's account in their inbox.
    reminders = {record: Reminder.objects.create(user=users[OWNERS[record]], kind=ReminderKind.TASK_DUE,
                                                 title=f"矩阵提醒{LABELS[record]}", account=accounts[record],
                                                 due_at=timezone.now() - timedelta(minutes=1), key=f"matrix:{record}")
                 for record in RECORDS}  # fmt: skip
    message_template = messaging_services.template_create(actor=users["admin"], fields={"name": "矩阵模板", "channel": "log",
                                                                                        "body": "{contact.name}您好"})  # fmt: skip
    # MSG-1: an audience of every account, shared by 李娜; ENG-4: a holiday greeting prepared for all.
    audience = messaging_services.audience_create(
        actor=users["manager"], fields={"name": "矩阵受众", "is_shared": True}
    )
    greeting = HolidayGreeting.objects.create(holiday="National Day", day=date(2026, 10, 1),
                                              send_at=timezone.now() + timedelta(days=1))  # fmt: skip
    eng567 = _build_sponsors_events_campaigns(users, accounts, contacts)  # ENG-5, ENG-6, ENG-7
    pipe = _build_pipeline(users, accounts)  # PIPE-1 … PIPE-8 (s1)
    sales = _build_sales_records(users, accounts)  # sales records (s2)
    tokens = {persona: ApiToken.issue(u) for persona, u in users.items()}
    # One client for the module: a new one loads the middleware again (whitenoise scans static files).
    client = Client(HTTP_HOST="localhost")
    sessions = {}
    for persona, u in users.items():
        client.force_login(u)
        sessions[persona] = client.cookies[settings.SESSION_COOKIE_NAME].value
        client.cookies.clear()
    return types.SimpleNamespace(departments=departments, users=users, teammate=teammate, accounts=accounts, messages=messages, message_template=message_template,
                                 batches=batches, audience=audience, greeting=greeting,
                                 activities=activities, tasks=tasks, done_tasks=done_tasks, reminders=reminders,
                                 contacts=contacts, visitors=visitors, attachments=attachments, tokens=tokens,
                                 client=client, sessions=sessions, report_token=report_token, **eng567, **pipe,
                                 **sales)  # fmt: skip


def _build_sponsors_events_campaigns(users, accounts, contacts) -> dict:
    """ENG-5, ENG-6, ENG-7: for each record, 刘总 (executive) sponsors its account with a plan long overdue; its
    contact is invited to a past forum (attended) and to an upcoming meeting (invited, not sent); the account
    takes part in a trial. A third event and a second campaign have nobody yet (for invite / add rows)."""
    now = timezone.now()
    head = users["head"]
    forum = engagement_services.event_create(actor=head, fields={
        "name": "矩阵论坛", "starts_at": now - timedelta(days=2), "ends_at": now - timedelta(days=1)})  # fmt: skip
    meeting = engagement_services.event_create(actor=head, fields={
        "name": "矩阵座谈", "starts_at": now + timedelta(days=10), "ends_at": now + timedelta(days=10, hours=2)})  # fmt: skip
    empty_event = engagement_services.event_create(actor=head, fields={
        "name": "矩阵空会", "starts_at": now + timedelta(days=20), "ends_at": now + timedelta(days=20, hours=2)})  # fmt: skip
    campaign = engagement_services.campaign_create(actor=head, fields={
        "name": "矩阵试用", "starts_on": date(2026, 1, 1), "ends_on": date(2026, 12, 31)})  # fmt: skip
    empty_campaign = engagement_services.campaign_create(actor=head, fields={
        "name": "矩阵促销", "starts_on": date(2026, 1, 1), "ends_on": date(2026, 12, 31)})  # fmt: skip
    sponsors, plans, invitations, open_invitations, participants = {}, {}, {}, {}, {}
    for record in RECORDS:
        owner, account, contact = users[OWNERS[record]], accounts[record], contacts[record]
        sponsors[record] = engagement_services.sponsor_create(actor=owner, account=account, fields={
            "sponsor": users["executive"], "duties": f"矩阵职责{LABELS[record]}", "since": date(2026, 1, 1)})  # fmt: skip
        plans[record] = engagement_services.plan_create(actor=owner, account=account, fields={
            "every_months": 3, "sponsor": sponsors[record], "starts_on": date(2026, 1, 1)})  # fmt: skip
        [invitation] = engagement_services.event_invite(actor=owner, event=forum, accounts=[account],
                                                        contact_ids=[contact.pk])  # fmt: skip
        invitations[record] = engagement_services.invitation_record_attendance(actor=owner, invitation=invitation,
                                                                               attended=True)  # fmt: skip
        [open_invitations[record]] = engagement_services.event_invite(actor=owner, event=meeting, accounts=[account],
                                                                      contact_ids=[contact.pk])  # fmt: skip
        participants[record] = engagement_services.campaign_participant_add(actor=owner, campaign=campaign,
                                                                            account=account)  # fmt: skip
    return {"forum": forum, "meeting": meeting, "empty_event": empty_event, "campaign": campaign,
            "empty_campaign": empty_campaign, "sponsors": sponsors, "plans": plans, "invitations": invitations,
            "open_invitations": open_invitations, "participants": participants}  # fmt: skip


def _build_pipeline(users, accounts) -> dict:
    """PIPE (s1): for each record, an opportunity of its owner with the first stage's gate ticked (so it may
    advance), a sample and a development cost."""
    ensure_default_pipeline()  # a browser test earlier in the run may have flushed the seeded pipeline
    opportunities, samples, costs = {}, {}, {}
    for record in RECORDS:
        owner, account = users[OWNERS[record]], accounts[record]
        opportunity = sales_services.opportunity_create(actor=owner, account=account,
                                                        fields={"name": f"矩阵商机{LABELS[record]}"})  # fmt: skip
        for item in GateItem.objects.filter(stage=opportunity.stage):
            sales_services.gate_check(actor=owner, opportunity=opportunity, item=item)
        opportunities[record] = opportunity
        samples[record] = sales_services.sample_create(actor=owner, account=account,
                                                       fields={"product": f"矩阵样品{LABELS[record]}"})  # fmt: skip
        costs[record] = sales_services.development_cost_create(actor=owner, account=account, fields={"amount": "100"})
    potential = Stage.objects.get(pipeline__is_default=True, code="potential")
    return {"opportunities": opportunities, "samples": samples, "costs": costs, "potential_stage": potential,
            "gate_item": potential.gate_items.order_by("order", "id").first(),
            "need_item": GateItem.objects.get(stage__pipeline__is_default=True, code="need_confirmed")}  # fmt: skip


def _build_sales_records(users, accounts) -> dict:
    """Sales records (s2): one order line at each record's account, recorded by its owner."""
    lines = {}
    for record in RECORDS:
        fields = {"order_number": f"MX-{record}", "date": date(2025, 6, 1), "product_line": "矩阵产品线",
                  "quantity": "1", "amount": "100", "gross_margin": "10"}  # fmt: skip
        lines[record] = sales_services.sales_record_create(actor=users[OWNERS[record]], account=accounts[record],
                                                           fields=fields)  # fmt: skip
    return {"sales_records": lines}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The organisation and its records, built once for the module and rolled back at its end."""
    files = tmp_path_factory.mktemp("authz-files")
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(files)}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, DATA_DIR=files), django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _flag(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


# What writes change, as (table, aggregate, condition): summed up in one query on both databases.
FINGERPRINT = [
    (SalesRecord, "COUNT(*)", ""),  # sales records (s2) and their monthly aggregates
    (SalesMonth, "SUM(lines)", ""),
    (Account, "COUNT(*)", ""),
    (Account, "SUM(version)", ""),  # every change of an account's fields bumps its version
    (Account, _flag("is_archived"), ""),
    (AccountUpdate, "COUNT(*)", ""),
    (Attachment, _flag("NOT is_archived"), ""),
    (AccountTeamMember, "COUNT(*)", ""),
    (AccountTeamMember, _flag(f"access = '{TeamAccess.WRITE.value}'"), ""),
    (AccountContact, "COUNT(*)", ""),
    (AccountContact, "SUM(LENGTH(title))", ""),
    (Contact, "COUNT(*)", ""),
    (Contact, "SUM(version)", ""),
    (Visitor, "COUNT(*)", ""),
    (Visitor, "SUM(version)", ""),
    (Activity, "COUNT(*)", ""),
    (Activity, "SUM(version)", ""),  # updates and archival bump the version
    (Task, "COUNT(*)", ""),
    (Task, "SUM(version)", ""),  # every change of a task, its state included, bumps its version
    (Reminder, _flag("read_at IS NOT NULL"), ""),  # ENG-3: read and dismissed reminders
    (Reminder, _flag("dismissed_at IS NOT NULL"), ""),
    (Message, "COUNT(*)", ""),
    (MessageTemplate, "SUM(version)", ""),
    (ExecutiveSponsor, "COUNT(*)", ""),  # ENG-5, ENG-6, ENG-7
    (ExecutiveSponsor, "SUM(version)", ""),
    (ExecutivePlan, "COUNT(*)", ""),
    (ExecutivePlan, "SUM(version)", ""),
    (Event, "SUM(version)", ""),
    (Invitation, "COUNT(*)", ""),
    (Invitation, "SUM(version)", ""),
    (Campaign, "SUM(version)", ""),
    (CampaignParticipant, "COUNT(*)", ""),
    (CampaignParticipant, "SUM(version)", ""),
    (AuditEvent, "COUNT(*)", f"action NOT IN ('{AuditAction.VIEW_PERSONAL.value}', '{AuditAction.DOWNLOAD.value}')"),
]


def fingerprint() -> tuple:
    """Everything a write could change; a refused write must leave it as it was."""
    # Constant SQL built from the table above, no input in it.
    parts = [f"(SELECT {aggregate} FROM {model._meta.db_table}{f' WHERE {where}' if where else ''})"  # noqa: S608
             for model, aggregate, where in FINGERPRINT]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        return tuple(cursor.fetchone())


# --- the tables ---------------------------------------------------------------------------------

# Rules for rows acting on one record (parametrized persona × record).
SEE_ACCOUNT = "see account"
CHANGE_ACCOUNT = "change account"
SEE_HISTORY = "see account history"
SEE_CONTACT = "see contact"
CHANGE_CONTACT = "change contact"
CHANGE_POSITION = "see contact, change account"
SEE_VISITOR = "see visitor"
CHANGE_VISITOR = "change visitor"
PROMOTE = "change visitor, change account"
SEE_USER = "see the record owner's user"
DUPLICATE_HINT = "duplicate hint"
DUPLICATE_ON_CREATE = "duplicate refused on create"
IMPORT_DUPLICATE = "import updates a duplicate"
SEE_ACTIVITY = "see activity"
CHANGE_ACTIVITY = "change activity"
SEE_TASK = "see task"
CHANGE_TASK = "change task"
RECORD_RULES = {SEE_ACTIVITY, CHANGE_ACTIVITY, SEE_TASK, CHANGE_TASK,
                SEE_ACCOUNT, CHANGE_ACCOUNT, SEE_HISTORY, SEE_CONTACT, CHANGE_CONTACT, CHANGE_POSITION, SEE_VISITOR,
                CHANGE_VISITOR, PROMOTE, SEE_USER, DUPLICATE_HINT, DUPLICATE_ON_CREATE, IMPORT_DUPLICATE}  # fmt: skip
SPECIAL_RULES = {SEE_USER, DUPLICATE_HINT, DUPLICATE_ON_CREATE, IMPORT_DUPLICATE}  # each has its own test below
OWN_REMINDER = "own reminder"  # ENG-3: a reminder is its user's alone, whatever their data scope
RECORD_RULES = RECORD_RULES | {OWN_REMINDER}
# Rows not about one record (parametrized by persona) carry their own check.
PERSONA = "per persona"


@dataclass(frozen=True)
class Row:
    """How to call one endpoint and which rule decides the expected outcome."""

    method: str
    path: str  # placeholders: {account} {contact} {visitor} {attachment} {teammate} {owner} {name} {activity} {task} {done_task}
    # {message} {template} (MSG)
    rule: str
    ok: int = 200  # status when allowed
    body: Callable | None = None  # (world, record) -> dict
    multipart: bool = False
    check: Callable | None = None  # PERSONA rows: (world, persona, response) -> None
    audits: str | None = None  # an audit action a successful call must write (views of personal data)
    anonymous: int | None = None  # status for a caller who is not signed in (default: 401 API, login redirect page)

    @property
    def writes(self) -> bool:
        return self.method != "GET"


def _version(model, pk) -> int:
    return model.objects.filter(pk=pk).values_list("version", flat=True).get()


def _ids(response, key="items") -> set[int]:
    data = response.json()
    return {item["id"] for item in (data[key] if key else data)}


def _names_absent(world, response, records) -> None:
    """No name of a record outside the persona's scope appears anywhere in the response."""
    text = response.content.decode()
    for record in records:
        assert world.accounts[record].name not in text, f"{record} account leaked"
        assert world.contacts[record].name not in text, f"{record} contact leaked"


def check_list_accounts(world, persona, response):
    assert response.status_code == 200
    assert response.json()["count"] == len(SEES[persona])
    assert _ids(response) == {world.accounts[r].pk for r in SEES[persona]}
    _names_absent(world, response, ALL - SEES[persona])


def check_list_contacts(world, persona, response):
    assert response.status_code == 200
    expected = {world.contacts[c].pk for c in contacts_seen(persona)}
    assert response.json()["count"] == len(expected)
    assert _ids(response) == expected
    _names_absent(world, response, ALL - SEES[persona])


def check_list_visitors(world, persona, response):
    assert response.status_code == 200
    expected = {world.visitors[r].pk for r in VISITOR_SEES[persona]}
    assert response.json()["count"] == len(expected)
    assert _ids(response) == expected


def check_search(world, persona, response):
    assert response.status_code == 200
    assert _ids(response, "accounts") == {world.accounts[r].pk for r in SEES[persona]}
    assert _ids(response, "contacts") == {world.contacts[c].pk for c in contacts_seen(persona)}
    _names_absent(world, response, ALL - SEES[persona])


def check_account_export(world, persona, response):
    assert response.status_code == 200
    names = {row[0] for row in _csv_rows(response)[1:]}
    assert names == {world.accounts[r].name for r in SEES[persona]}


def check_own_import_report(world, persona, response):
    assert response.status_code == (200 if persona == "outsider" else 404)


def check_created(world, persona, response):
    assert response.status_code == 201, response.content


def check_me(world, persona, response):
    assert response.status_code == 200
    assert response.json()["id"] == world.users[persona].pk


def check_departments(world, persona, response):
    assert response.status_code == 200
    expected = {world.departments[d].pk for d in DEPARTMENTS[persona]}
    assert {d["id"] for d in response.json()} == expected


def check_users(world, persona, response):
    assert response.status_code == 200
    departments = {world.departments[d].pk for d in DEPARTMENTS[persona]}
    everyone = [*world.users.values(), world.teammate]
    expected = {u.pk for u in everyone if u.department_id in departments}
    assert response.json()["count"] == len(expected)
    assert _ids(response) == expected


def _activity_names_absent(world, response, records) -> None:
    text = response.content.decode()
    for record in records:
        assert world.activities[record].subject not in text, f"{record} activity leaked"
        assert world.tasks[record].title not in text, f"{record} task leaked"


def check_list_activities(world, persona, response):
    assert response.status_code == 200
    expected = {world.activities[r].pk for r in ACTIVITY_SEES[persona]}
    assert response.json()["count"] == len(expected)
    assert _ids(response) == expected
    _names_absent(world, response, ALL - SEES[persona])
    _activity_names_absent(world, response, ALL - ACTIVITY_SEES[persona])


def check_list_tasks(world, persona, response):
    assert response.status_code == 200
    expected = {t[r].pk for t in (world.tasks, world.done_tasks) for r in ACTIVITY_SEES[persona]}
    assert response.json()["count"] == len(expected)
    assert _ids(response) == expected
    _names_absent(world, response, ALL - SEES[persona])
    _activity_names_absent(world, response, ALL - ACTIVITY_SEES[persona])


def check_list_messages(world, persona, response):
    assert response.status_code == 200
    expected = {world.messages[r].pk for r in SEES[persona]}
    assert _ids(response) == expected
    assert response.json()["count"] == len(expected)


MESSAGE_TEMPLATE_EDITORS = {"head", "admin"}


def template_editor_status(ok):
    """MSG-2: message templates are written by the KA head and administrators only (403 for others)."""

    def check(world, persona, response):
        expected = ok if persona in MESSAGE_TEMPLATE_EDITORS else 403
        assert response.status_code == expected, response.content[:300]

    return check


def _template_version(world, record):
    return {"version": _version(MessageTemplate, world.message_template.pk)}


AUDIENCE_EDITORS = {"manager", "head", "admin"}  # who saved it, and those who manage templates


def audience_editor_status(ok):
    """MSG-1: a shared audience is changed by whoever saved it, the KA head and administrators (403 others)."""

    def check(world, persona, response):
        assert response.status_code == (ok if persona in AUDIENCE_EDITORS else 403), response.content[:300]

    return check


def _audience_version(world, record):
    return {"version": _version(Audience, world.audience.pk)}


def check_list_audiences(world, persona, response):
    assert response.status_code == 200
    assert _ids(response) == {world.audience.pk}


def check_count_audience(world, persona, response):
    # The shared audience has no filter: every contact the persona sees, none opted out.
    assert response.status_code == 200
    assert response.json() == {"recipients": len(contacts_seen(persona)), "opted_out": 0}


def check_send_preview_page(world, persona, response):
    assert response.status_code == 200
    assert response.context["preview"]["recipients"] == len(contacts_seen(persona))
    _names_absent(world, response, ALL - SEES[persona])


def check_recipient_options_page(world, persona, response):
    assert response.status_code == 200
    assert {a.pk for a in response.context["offered_accounts"]} == {world.accounts[r].pk for r in SEES[persona]}
    assert {c.pk for c in response.context["offered_contacts"]} <= {
        world.contacts[c].pk for c in contacts_seen(persona)
    }
    _names_absent(world, response, ALL - SEES[persona])


def check_batch_list_page(world, persona, response):
    assert response.status_code == 200
    assert {b.pk for b, _counts in response.context["rows"]} == {world.batches[r].pk for r in SEES[persona]}


def check_audience_list_page(world, persona, response):
    assert response.status_code == 200
    assert [a.pk for a in response.context["audiences"]] == [world.audience.pk]


def check_audience_create_page(world, persona, response):
    assert response.status_code == 200
    assert response.context["count"] == len(SEES[persona])


def check_greeting_send(world, persona, response):
    # Sent to the shared audience within the persona's own scope (nobody visible: refused, nothing sent).
    assert response.status_code == 302
    sent = Message.objects.filter(batch__in=MessageBatch.objects.filter(created_by=world.users[persona]))
    assert set(sent.values_list("account_id", flat=True)) == {world.accounts[r].pk for r in SEES[persona]}


def _greeting_body(world, record):
    g = f"g{world.greeting.pk}"
    return {
        f"{g}-template": world.message_template.pk,
        f"{g}-audience": world.audience.pk,
        f"{g}-send_at": "2026-10-01T09:00",
    }


def status_is(expected):
    def check(world, persona, response):
        assert response.status_code == expected, response.content

    return check


def _account_body(world, record):
    return {"version": _version(Account, world.accounts[record].pk), "description": "矩阵修改"}


def _archive_body(world, record):
    return {"version": _version(Account, world.accounts[record].pk)}


def _activity_version(world, record):
    return {"version": _version(Activity, world.activities[record].pk)}


def _task_version(world, record):
    return {"version": _version(Task, world.tasks[record].pk)}


def _new_activity_body(world, record):
    return {"account_id": world.accounts[record].pk, "contacts": [world.contacts[record].pk], "subject": "矩阵新拜访"}


def _new_task_body(world, record):
    return {"title": "矩阵新任务", "due_at": "2026-01-06T10:00:00+08:00", "account_id": world.accounts[record].pk}


def _own_reminders(world, persona) -> set[int]:
    return {world.reminders[r].pk for r in RECORDS if OWNERS[r] == persona}


def check_list_reminders(world, persona, response):
    assert response.status_code == 200
    assert _ids(response) == _own_reminders(world, persona)


def check_cadence_breaches(world, persona, response):
    # ENG-2: only accounts in scope; the world's accounts were all visited an hour ago, so none is out.
    assert response.status_code == 200
    assert _ids_of_accounts(response) <= {world.accounts[r].pk for r in SEES[persona]}


def _ids_of_accounts(response) -> set[int]:
    return {item["account"]["id"] for item in response.json()["items"]}


# --- ENG-5, ENG-6, ENG-7: sponsors, plans, events, campaigns ---------------------------------------------
# Sponsorships, plans, invitations and participations follow their account (SEES / CHANGES); events and
# campaigns carry no customer data: all see them, their organiser (the head) and admins change them.
EVENT_EDITORS = {"head", "admin"}


def check_per_record_ids(attribute, key="items"):
    def check(world, persona, response):
        assert response.status_code == 200, response.content[:300]
        expected = {getattr(world, attribute)[r].pk for r in SEES[persona]}
        assert _ids(response, key) == expected
        _names_absent(world, response, ALL - SEES[persona])

    return check


def event_editor_status(ok):
    def check(world, persona, response):
        assert response.status_code == (ok if persona in EVENT_EDITORS else 403), response.content[:300]

    return check


def check_follow_ups(world, persona, response):
    assert response.status_code == 200, response.content[:300]
    assert response.json()["created"] == len(SEES[persona])


def _sponsor_version(world, record):
    return {"version": _version(ExecutiveSponsor, world.sponsors[record].pk)}


def _plan_version(world, record):
    return {"version": _version(ExecutivePlan, world.plans[record].pk)}


ENG567_API_ROWS = {
    "list_sponsors": Row("GET", "/sponsors?page_size=100", PERSONA, check=check_per_record_ids("sponsors")),
    "create_sponsor": Row("POST", "/sponsors", CHANGE_ACCOUNT, ok=201,
                          body=lambda w, r: {"account_id": w.accounts[r].pk, "sponsor_id": w.users["admin"].pk}),
    "get_sponsor": Row("GET", "/sponsors/{sponsor}", SEE_ACCOUNT),
    "update_sponsor": Row("PATCH", "/sponsors/{sponsor}", CHANGE_ACCOUNT,
                          body=lambda w, r: {**_sponsor_version(w, r), "duties": "矩阵新职责"}),
    "list_executive_plans": Row("GET", "/executive-plans?page_size=100", PERSONA, check=check_per_record_ids("plans")),
    "list_overdue_executive_plans": Row("GET", "/executive-plans/overdue?page_size=100", PERSONA,
                                        check=check_per_record_ids("plans")),
    "create_executive_plan": Row("POST", "/executive-plans", CHANGE_ACCOUNT, ok=201,
                                 body=lambda w, r: {"account_id": w.accounts[r].pk, "every_months": 6,
                                                    "sponsor_id": w.sponsors[r].pk, "kind": "meeting"}),
    "get_executive_plan": Row("GET", "/executive-plans/{plan}", SEE_ACCOUNT),
    "update_executive_plan": Row("PATCH", "/executive-plans/{plan}", CHANGE_ACCOUNT,
                                 body=lambda w, r: {**_plan_version(w, r), "notes": "矩阵计划"}),
    "list_events": Row("GET", "/events", PERSONA, check=status_is(200)),
    "create_event": Row("POST", "/events", PERSONA, check=check_created,
                        body=lambda w, r: {"name": "矩阵新会", "starts_at": "2026-09-01T09:00:00+08:00",
                                           "ends_at": "2026-09-01T17:00:00+08:00"}),
    "get_event": Row("GET", "/events/{forum}", PERSONA, check=status_is(200)),
    "update_event": Row("PATCH", "/events/{forum}", PERSONA, check=event_editor_status(200),
                        body=lambda w, r: {"version": _version(Event, w.forum.pk), "place": "矩阵会场"}),
    "list_event_invitations": Row("GET", "/events/{forum}/invitations?page_size=100", PERSONA,
                                  check=check_per_record_ids("invitations")),
    "invite_to_event": Row("POST", "/events/{empty_event}/invite", CHANGE_ACCOUNT, ok=201,
                           body=lambda w, r: {"account_ids": [w.accounts[r].pk]}),
    "send_event_invitations": Row("POST", "/events/{meeting}/invitations/send", CHANGE_ACCOUNT,
                                  body=lambda w, r: {"channel": "log", "text": "矩阵邀请",
                                                     "account_ids": [w.accounts[r].pk]}),
    "record_event_rsvp": Row("POST", "/events/{meeting}/rsvp", CHANGE_ACCOUNT,
                             body=lambda w, r: {"contact_id": w.contacts[r].pk, "status": "accepted"}),
    "record_event_attendance": Row("POST", "/events/{forum}/attendance", CHANGE_ACCOUNT,
                                   body=lambda w, r: {"contact_id": w.contacts[r].pk, "attended": False}),
    "create_event_follow_ups": Row("POST", "/events/{forum}/follow-ups", PERSONA, check=check_follow_ups),
    "list_campaigns": Row("GET", "/campaigns", PERSONA, check=status_is(200)),
    "create_campaign": Row("POST", "/campaigns", PERSONA, check=check_created,
                           body=lambda w, r: {"name": "矩阵新活动", "starts_on": "2026-06-01", "ends_on": "2026-06-30"}),
    "get_campaign": Row("GET", "/campaigns/{campaign}", PERSONA, check=status_is(200)),
    "update_campaign": Row("PATCH", "/campaigns/{campaign}", PERSONA, check=event_editor_status(200),
                           body=lambda w, r: {"version": _version(Campaign, w.campaign.pk), "goal": "矩阵目标"}),
    "list_campaign_participants": Row("GET", "/campaigns/{campaign}/participants?page_size=100", PERSONA,
                                      check=check_per_record_ids("participants")),
    "add_campaign_participant": Row("POST", "/campaigns/{empty_campaign}/participants", CHANGE_ACCOUNT, ok=201,
                                    body=lambda w, r: {"account_id": w.accounts[r].pk}),
    "update_campaign_participant": Row("PATCH", "/campaigns/{campaign}/participants/{participant}", CHANGE_ACCOUNT,
                                       body=lambda w, r: {"version": _version(CampaignParticipant, w.participants[r].pk),
                                                          "result": "矩阵结果"}),
}  # fmt: skip


def check_page_ids(attribute, context_name, via=None):
    def check(world, persona, response):
        assert response.status_code == 200
        rows = response.context[context_name]
        rows = rows.object_list if hasattr(rows, "object_list") else rows
        found = {(getattr(x, via) if via else x).pk for x in rows}
        assert found == {getattr(world, attribute)[r].pk for r in SEES[persona]}
        _names_absent(world, response, ALL - SEES[persona])

    return check


ENG567_PAGE_ROWS = {
    "sponsor_list": Row("GET", "/sponsors/?all=1", PERSONA, check=check_page_ids("sponsors", "page")),
    "sponsor_create": Row("GET", "/accounts/{account}/sponsors/new/", CHANGE_ACCOUNT),
    "account_sponsors_campaigns": Row("GET", "/accounts/{account}/sponsors-campaigns/", SEE_ACCOUNT),
    "plan_list": Row("GET", "/executive-plans/?overdue=1", PERSONA, check=check_page_ids("plans", "page", via="plan")),
    "plan_create": Row("GET", "/accounts/{account}/executive-plans/new/", CHANGE_ACCOUNT),
    "event_list": Row("GET", "/events/", PERSONA, check=status_is(200)),
    "event_create": Row("GET", "/events/new/", PERSONA, check=status_is(200)),
    "event_detail": Row("GET", "/events/{forum}/", PERSONA, check=check_page_ids("invitations", "invitations")),
    "event_edit": Row("GET", "/events/{forum}/edit/", PERSONA, check=event_editor_status(200)),
    "event_invite": Row("POST", "/events/{empty_event}/invite/", CHANGE_ACCOUNT, ok=302,
                        body=lambda w, r: {"account": w.accounts[r].pk}),
    "event_send": Row("POST", "/events/{meeting}/send/", PERSONA, check=status_is(302),
                      body=lambda w, r: {"channel": "log", "text": "矩阵邀请"}),
    "event_answer": Row("POST", "/events/{meeting}/invitations/{open_invitation}/", CHANGE_ACCOUNT, ok=302,
                        body=lambda w, r: {"status": "declined"}),
    "event_follow_ups": Row("POST", "/events/{forum}/follow-ups/", PERSONA, check=status_is(302)),
    "campaign_list": Row("GET", "/campaigns/", PERSONA, check=status_is(200)),
    "campaign_create": Row("GET", "/campaigns/new/", PERSONA, check=status_is(200)),
    "campaign_detail": Row("GET", "/campaigns/{campaign}/", PERSONA, check=check_page_ids("participants", "participants")),
    "campaign_edit": Row("GET", "/campaigns/{campaign}/edit/", PERSONA, check=event_editor_status(200)),
    "campaign_participant_add": Row("POST", "/campaigns/{empty_campaign}/participants/", CHANGE_ACCOUNT, ok=302,
                                    body=lambda w, r: {"account": w.accounts[r].pk, "status": "planned"}),
    "campaign_participant_edit": Row("POST", "/campaigns/{campaign}/participants/{participant}/", CHANGE_ACCOUNT,
                                     ok=302, body=lambda w, r: {
                                         "version": _version(CampaignParticipant, w.participants[r].pk),
                                         f"p{w.participants[r].pk}-status": "completed"}),
}  # fmt: skip

# --- PIPE-1 … PIPE-8 (s1): opportunities, samples, costs and positioning follow their account (SEES /
# CHANGES); pipelines are configuration every user reads and only administrators change.


def _opportunity_version(world, record):
    return {"version": _version(Opportunity, world.opportunities[record].pk)}


def _default_stage(code):
    return Stage.objects.get(pipeline__is_default=True, code=code).pk


def admin_status(ok):
    def check(world, persona, response):
        assert response.status_code == (ok if persona == "admin" else 403), response.content[:300]

    return check


PIPE_REVIEW = {"reason": "矩阵原因", "what_happened": "矩阵经过", "lesson": "矩阵教训"}
PIPE_API_ROWS = {
    "list_pipelines": Row("GET", "/pipelines", PERSONA, check=status_is(200)),
    "create_gate_item": Row("POST", "/pipelines/{pipeline}/stages/{stage}/gate-items", PERSONA,
                            check=admin_status(201), body=lambda w, r: {"label": "矩阵关卡"}),
    "update_gate_item": Row("PATCH", "/pipelines/{pipeline}/stages/{stage}/gate-items/{gate_item}", PERSONA,
                            check=admin_status(200),
                            body=lambda w, r: {"version": _version(GateItem, w.gate_item.pk), "label": "矩阵关卡"}),
    "list_opportunities": Row("GET", "/opportunities?page_size=100", PERSONA,
                              check=check_per_record_ids("opportunities")),
    "create_opportunity": Row("POST", "/opportunities", CHANGE_ACCOUNT, ok=201,
                              body=lambda w, r: {"account_id": w.accounts[r].pk, "name": "矩阵新商机"}),
    "get_opportunity": Row("GET", "/opportunities/{opportunity}", SEE_ACCOUNT),
    "update_opportunity": Row("PATCH", "/opportunities/{opportunity}", CHANGE_ACCOUNT,
                              body=lambda w, r: {**_opportunity_version(w, r), "next_step": "矩阵下一步"}),
    "advance_opportunity": Row("POST", "/opportunities/{opportunity}/advance", CHANGE_ACCOUNT,
                               body=lambda w, r: {**_opportunity_version(w, r), "stage_id": _default_stage("intention")}),
    "check_gate_item": Row("POST", "/opportunities/{opportunity}/gate-checks", CHANGE_ACCOUNT,
                           body=lambda w, r: {"item_id": w.need_item.pk}),
    "stop_opportunity": Row("POST", "/opportunities/{opportunity}/stop", CHANGE_ACCOUNT,
                            body=lambda w, r: {**_opportunity_version(w, r), **PIPE_REVIEW}),
    "lose_opportunity": Row("POST", "/opportunities/{opportunity}/lose", CHANGE_ACCOUNT,
                            body=lambda w, r: {**_opportunity_version(w, r), **PIPE_REVIEW, "competitor": "矩阵对手"}),
    "list_opportunity_history": Row("GET", "/opportunities/{opportunity}/history", SEE_ACCOUNT),
    "list_samples": Row("GET", "/samples?page_size=100", PERSONA, check=check_per_record_ids("samples")),
    "create_sample": Row("POST", "/samples", CHANGE_ACCOUNT, ok=201,
                         body=lambda w, r: {"account_id": w.accounts[r].pk, "product": "矩阵新样品"}),
    "get_sample": Row("GET", "/samples/{sample}", SEE_ACCOUNT),
    "update_sample": Row("PATCH", "/samples/{sample}", CHANGE_ACCOUNT,
                         body=lambda w, r: {"version": _version(Sample, w.samples[r].pk), "accepted": "yes"}),
    "list_development_costs": Row("GET", "/development-costs?page_size=100", PERSONA,
                                  check=check_per_record_ids("costs")),
    "create_development_cost": Row("POST", "/development-costs", CHANGE_ACCOUNT, ok=201,
                                   body=lambda w, r: {"account_id": w.accounts[r].pk, "amount": "50"}),
    "get_development_cost": Row("GET", "/development-costs/{cost}", SEE_ACCOUNT),
    "update_development_cost": Row("PATCH", "/development-costs/{cost}", CHANGE_ACCOUNT,
                                   body=lambda w, r: {"version": _version(DevelopmentCost, w.costs[r].pk),
                                                      "note": "矩阵备注"}),
    "get_account_positioning": Row("GET", "/accounts/{account}/positioning", SEE_ACCOUNT),
    "set_account_positioning": Row("PUT", "/accounts/{account}/positioning", CHANGE_ACCOUNT,
                                   body=lambda w, r: {"growth_type": "stable"}),
}  # fmt: skip


# --- sales records (s2): a sales line follows its account (SEES / CHANGES). The import of one file with a
# line for each of the six accounts saves all (201) only for who may change all six; for anyone else it is
# refused (422) naming exactly the rows of the accounts they may not change; read-only roles get 403.
SALES_HEADER = ["客户", "订单号", "行号", "日期", "产品线", "数量", "金额", "毛利"]


def _sales_import_body(world, record):
    rows = [[world.accounts[r].pk, f"MI-{r}", 1, "2025-07-01", "矩阵", "1", "10", "1"] for r in RECORDS]
    return {"file": _csv([SALES_HEADER, *rows], name="销售.csv")}


def check_sales_import(world, persona, response):
    before = {world.sales_records[r].pk for r in RECORDS}
    if persona in ("executive", "finance", "service"):
        assert response.status_code == 403, response.content[:300]
    elif CHANGES[persona] == ALL:
        assert response.status_code == 201, response.content[:300]
        assert SalesRecord.objects.exclude(pk__in=before).count() == len(RECORDS)
        return
    else:
        assert response.status_code == 422, response.content[:300]
        failed = {e["row"] for e in response.json()["errors"]}
        assert failed == {i + 2 for i, r in enumerate(RECORDS) if r not in CHANGES[persona]}
    assert set(SalesRecord.objects.values_list("pk", flat=True)) == before


SALES_API_ROWS = {
    "list_sales_records": Row("GET", "/sales-records?page_size=100", PERSONA,
                              check=check_per_record_ids("sales_records")),
    "create_sales_record": Row("POST", "/sales-records", CHANGE_ACCOUNT, ok=201,
                               body=lambda w, r: {"account_id": w.accounts[r].pk, "order_number": "MX-NEW",
                                                  "date": "2025-07-01", "product_line": "矩阵", "quantity": "2",
                                                  "amount": "20", "gross_margin": "2"}),
    "get_sales_record": Row("GET", "/sales-records/{sales_record}", SEE_ACCOUNT),
    "import_sales_records": Row("POST", "/sales-records/import", PERSONA, multipart=True, body=_sales_import_body,
                                check=check_sales_import),
    "get_account_sales_history": Row("GET", "/accounts/{account}/sales-history", SEE_ACCOUNT),
}  # fmt: skip


# --- quotas (PIPE-7) [h1]: whose quota and completion each persona sees (KA managers and heads in the data
# scope; teams only when the scope covers their members), who sets them (KA heads in scope, administrators).
QUOTA_PEOPLE = {
    "manager": {"manager"},
    "colleague": {"colleague"},
    "dept_viewer": {"manager", "colleague", "dept_viewer"},  # department scope: team A
    "sibling": {"sibling"},
    "outsider": {"outsider"},
    "head": {"manager", "colleague", "dept_viewer", "sibling", "head", "teammate"},
    "executive": {"manager", "colleague", "dept_viewer", "sibling", "outsider", "head", "teammate"},
    "finance": {"manager", "colleague", "dept_viewer", "sibling", "outsider", "head", "teammate"},
    "service": {"manager", "colleague", "dept_viewer", "sibling", "head", "teammate"},  # east subtree
    "admin": {"manager", "colleague", "dept_viewer", "sibling", "outsider", "head", "teammate"},
}
QUOTA_TEAMS = {
    "manager": set(), "colleague": set(), "sibling": set(), "outsider": set(),
    "dept_viewer": {"team_a"},
    "head": {"east_ka", "team_a", "team_b"},
    "service": {"east", "east_ka", "team_a", "team_b"},
    "executive": set(DEPARTMENTS["executive"]), "finance": set(DEPARTMENTS["finance"]), "admin": set(DEPARTMENTS["admin"]),
}  # fmt: skip


def _quota_user(world, name):
    return world.teammate if name == "teammate" else world.users[name]


def _seed_quotas(world, record=None):
    """June 2025 quotas of 1,000 for every KA person and team (a GET row's body runs before the call: this
    seeds the quotas inside the case's savepoint)."""
    from kam.org import services as quota_services

    people = [*QUOTA_PEOPLE["admin"]]
    entries = [{"user": _quota_user(world, p).pk, "month": "2025-06", "amount": "1000"} for p in people]
    entries += [{"department": d.pk, "month": "2025-06", "amount": "1000"} for d in world.departments.values()]
    quota_services.quota_bulk_set(actor=world.users["admin"], entries=entries)


def check_list_quotas(world, persona, response):
    assert response.status_code == 200, response.content[:300]
    items = response.json()["items"]
    assert {i["user_id"] for i in items if i["user_id"]} == {_quota_user(world, p).pk for p in QUOTA_PEOPLE[persona]}
    assert {i["department_id"] for i in items if i["department_id"]} == {world.departments[d].pk
                                                                         for d in QUOTA_TEAMS[persona]}  # fmt: skip


def check_quota_completion(world, persona, response):
    """People and teams by the tables; 李娜's June: quota 1,000, her one line of 100 → 10 %; company total only
    with scope 'all'."""
    from decimal import Decimal

    assert response.status_code == 200, response.content[:300]
    data = response.json()
    assert {r["user_id"] for r in data["people"]} == {_quota_user(world, p).pk for p in QUOTA_PEOPLE[persona]}
    assert {r["department_id"] for r in data["teams"]} == {world.departments[d].pk for d in QUOTA_TEAMS[persona]}
    assert (data["company"] is not None) == (persona in ("executive", "finance", "admin"))
    if "manager" in QUOTA_PEOPLE[persona]:
        lina = next(r for r in data["people"] if r["user_id"] == world.users["manager"].pk)
        june = lina["cells"][5]
        figures = (june["period"], Decimal(june["quota"]), Decimal(june["actual"]), june["rate"])
        assert figures == ("2025-06", Decimal(1000), Decimal(100), "0.1000")


def _quota_body(world, record=None):
    """李娜's and 赵强's July quotas: an administrator sets both; 陈主任 does not see 赵强 (entry 1 refused)."""
    return [{"user": world.users["manager"].pk, "month": "2025-07", "amount": "1"},
            {"user": world.users["outsider"].pk, "month": "2025-07", "amount": "1"}]  # fmt: skip


def check_set_quotas(world, persona, response):
    from kam.org.models import Quota

    if persona == "admin":
        assert response.status_code == 200, response.content[:300]
        assert Quota.objects.filter(month=date(2025, 7, 1)).count() == 2
        return
    if persona == "head":
        assert response.status_code == 422, response.content[:300]
        assert [e["field"] for e in response.json()["errors"]] == ["1.user"]
    else:
        assert response.status_code == 403, response.content[:300]
    assert not Quota.objects.filter(month=date(2025, 7, 1)).exists()


def _quota_import_body(world, record=None):
    rows = [["经理", "月份", "定额"], ["lina", "2025-07", "1"], ["zhaoqiang", "2025-07", "1"]]
    return {"file": _csv(rows, name="定额.csv")}


def check_import_quotas(world, persona, response):
    from kam.org.models import Quota

    if persona == "admin":
        assert response.status_code == 201, response.content[:300]
        assert Quota.objects.filter(month=date(2025, 7, 1)).count() == 2
        return
    if persona == "head":
        assert response.status_code == 422, response.content[:300]
        assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(3, "user")]
    else:
        assert response.status_code == 403, response.content[:300]
    assert not Quota.objects.filter(month=date(2025, 7, 1)).exists()


def check_quota_page(world, persona, response):
    assert response.status_code == 200
    shown = {r.user.pk for r in response.context["rows"] if r.user}
    assert shown == {_quota_user(world, p).pk for p in QUOTA_PEOPLE[persona]}
    teams = {r.department.pk for r in response.context["rows"] if r.department}
    assert teams == {world.departments[d].pk for d in QUOTA_TEAMS[persona]}
    assert bool(response.context["grid"]) == (persona in ("head", "admin"))


H1_API_ROWS: dict = {  # quotas (PIPE-7) [h1]
    "list_quotas": Row("GET", "/quotas?year=2025&page_size=100", PERSONA, body=_seed_quotas, check=check_list_quotas),
    "set_quotas": Row("PUT", "/quotas", PERSONA, body=_quota_body, check=check_set_quotas),
    "import_quotas": Row("POST", "/quotas/import", PERSONA, multipart=True, body=_quota_import_body,
                         check=check_import_quotas),
    "get_quota_completion": Row("GET", "/quotas/completion?year=2025", PERSONA, body=_seed_quotas,
                                check=check_quota_completion),
}  # fmt: skip
H1_PAGE_ROWS: dict = {  # quotas (PIPE-7) [h1]
    "quota_list": Row("GET", "/quotas/?year=2025", PERSONA, body=_seed_quotas, check=check_quota_page),
}  # fmt: skip

# Forecasts (PIPE-4) [h2]: the KA managers and heads whose forecast each persona sees (their data scope applied
# to people; 同事 is the KA manager in team B who is no persona).
EVERY_SELLER = {"lina", "wangwei", "zhoumin", "sunli", "zhaoqiang", "chen", "tongshi"}
EAST_SELLERS = EVERY_SELLER - {"zhaoqiang"}
FORECAST_PEOPLE = {"manager": {"lina"}, "colleague": {"wangwei"}, "dept_viewer": {"lina", "wangwei", "zhoumin"},
                   "sibling": {"sunli"}, "outsider": {"zhaoqiang"}, "head": EAST_SELLERS, "executive": EVERY_SELLER,
                   "finance": EVERY_SELLER, "service": EAST_SELLERS, "admin": EVERY_SELLER}  # fmt: skip


def check_forecast(world, persona, response):
    assert response.status_code == 200, response.content[:300]
    assert {p["user"]["username"] for p in response.json()["people"]} == FORECAST_PEOPLE[persona]


def check_forecast_page(world, persona, response):
    assert response.status_code == 200
    assert {p["user"].username for p in response.context["people"]} == FORECAST_PEOPLE[persona]


H2_API_ROWS: dict = {  # forecasts (PIPE-4, ANA-1, ANA-2) [h2]
    "get_forecast": Row("GET", "/forecasts", PERSONA, check=check_forecast),
    "list_forecast_snapshots": Row("GET", "/forecasts/snapshots", PERSONA, check=status_is(200)),
    "recompute_forecasts": Row("POST", "/forecasts/recompute", PERSONA, check=admin_status(200)),
}  # fmt: skip
H2_PAGE_ROWS: dict = {  # forecasts (PIPE-4, ANA-1, ANA-2) [h2]
    "sales_forecast": Row("GET", "/sales/forecast/", PERSONA, check=check_forecast_page),
}  # fmt: skip


def check_funnel(world, persona, response):
    """PIPE-1: every world opportunity was created today in the first stage by its account's owner: the funnel's
    first stage counts exactly those owned by the people whose figures the persona sees (QUOTA_PEOPLE: the
    figures pages apply the data scope to people, not to accounts)."""
    assert response.status_code == 200, response.content[:300]
    data = response.json() if response["Content-Type"].startswith("application/json") else None
    stages = data["stages"] if data else response.context["figures"]["stages"]
    assert stages[0]["reached"] == sum(1 for record in RECORDS if OWNERS[record] in QUOTA_PEOPLE[persona])


def check_review(world, persona, response):
    assert response.status_code == 200, response.content[:300]
    _names_absent(world, response, ALL - SEES[persona])


def _archived_opportunity_version(world, record):
    """Restore needs an archived opportunity: archived here without an audit entry, so the fingerprint
    only moves if the restore itself is allowed."""
    Opportunity.objects.filter(pk=world.opportunities[record].pk).update(is_archived=True)
    return _opportunity_version(world, record)


H3_API_ROWS: dict = {  # funnel, result review, archive (ANA-3) [h3]
    "get_opportunity_funnel": Row("GET", "/opportunities/funnel", PERSONA, check=check_funnel),
    "get_opportunity_review": Row("GET", "/opportunities/review", PERSONA, check=check_review),
    "archive_opportunity": Row("POST", "/opportunities/{opportunity}/archive", CHANGE_ACCOUNT,
                               body=_opportunity_version),
    "restore_opportunity": Row("POST", "/opportunities/{opportunity}/restore", CHANGE_ACCOUNT,
                               body=_archived_opportunity_version),
}  # fmt: skip
H3_PAGE_ROWS: dict = {  # funnel, result review, archive (ANA-3) [h3]
    "sales_funnel": Row("GET", "/sales/funnel/", PERSONA, check=check_funnel),
    "sales_review": Row("GET", "/sales/review/", PERSONA, check=check_review),
    "opportunity_archive": Row("POST", "/opportunities/{opportunity}/archive/", CHANGE_ACCOUNT, ok=302,
                               body=_opportunity_version),
    "opportunity_restore": Row("POST", "/opportunities/{opportunity}/restore/", CHANGE_ACCOUNT, ok=302,
                               body=_archived_opportunity_version),
}  # fmt: skip

# --- work plans (PIPE-4) and weekly reports (GOV-8) [h4]: a person's plan and reports are seen by whoever may see
# their figures (core.scopes.visible_sales_people: own, department, department and below, all); a plan is written
# by its owner or a KA head / admin in scope; only heads and admins generate reports. The world has neither, so
# the paths below make them on first use, inside the test's rolled-back savepoint: 李娜's plan for 2026-11 and
# the weekly reports of the week of 2026-01-05 for every active KA manager.
H4_WEEK = "2026-01-05"
H4_SEES_LINA = {"manager", "dept_viewer", "head", "executive", "finance", "service", "admin"}
H4_REPORTS_SEEN = {
    "manager": {"lina"},
    "colleague": {"wangwei"},
    "dept_viewer": {"lina", "wangwei", "zhoumin"},  # department scope: team A
    "sibling": {"sunli"},
    "outsider": {"zhaoqiang"},
    "head": {"lina", "wangwei", "zhoumin", "sunli", "tongshi"},  # the east KA department and below
    "service": {"lina", "wangwei", "zhoumin", "sunli", "tongshi"},  # the east branch and below
    "executive": {"lina", "wangwei", "zhoumin", "sunli", "zhaoqiang", "tongshi"},
    "finance": {"lina", "wangwei", "zhoumin", "sunli", "zhaoqiang", "tongshi"},
    "admin": {"lina", "wangwei", "zhoumin", "sunli", "zhaoqiang", "tongshi"},
}


def _h4_records() -> dict:
    from kam.org.models import User
    from kam.reports import services as report_services
    from kam.reports.models import WeeklyReport
    from kam.sales.models import WorkPlan

    lina = User.objects.get(username="lina")
    plan = WorkPlan.objects.filter(owner=lina, month=date(2026, 11, 1)).first() or sales_services.work_plan_set(
        actor=lina, owner=lina, month=date(2026, 11, 1), items=[{"kind": "visit", "planned": 3}])  # fmt: skip
    if not WeeklyReport.objects.filter(week_start=H4_WEEK).exists():
        report_services.weekly_reports_generate(week_start=date.fromisoformat(H4_WEEK))
    report = WeeklyReport.objects.get(manager=lina, week_start=H4_WEEK)
    return {"h4_lina": lina.pk, "h4_plan": plan.pk, "h4_plan_version": plan.version, "h4_report": report.pk}


class _H4Path(str):
    """A path whose {h4_…} ids are made when the row is called (see above)."""

    def format(self, *args, **kwargs):
        return str.format(self, *args, **kwargs, **_h4_records())


def h4_sees_lina(ok=200):
    def check(world, persona, response):
        assert response.status_code == (ok if persona in H4_SEES_LINA else 404), response.content[:300]

    return check


def h4_check_plans(world, persona, response):
    assert response.status_code == 200
    assert response.json()["count"] == (1 if persona in H4_SEES_LINA else 0)


def h4_check_reports(world, persona, response):
    assert response.status_code == 200
    assert {r["manager"]["username"] for r in response.json()["items"]} == H4_REPORTS_SEEN[persona]


def h4_check_report_page(world, persona, response):
    assert response.status_code == 200
    assert {r.manager.username for r in response.context["page"]} == H4_REPORTS_SEEN[persona]


def h4_check_set_plan(world, persona, response):
    if persona in {"manager", "head", "admin"}:
        assert response.status_code == 200, response.content[:300]
    else:
        assert response.status_code == (403 if persona in H4_SEES_LINA else 404), response.content[:300]


def h4_generator_status(ok):
    def check(world, persona, response):
        assert response.status_code == (ok if persona in {"head", "admin"} else 403), response.content[:300]

    return check


def _h4_plan_body(world, record):
    return {"version": _h4_records()["h4_plan_version"], "items": [{"kind": "call", "planned": 2}]}


H4_API_ROWS: dict = {  # work plans (PIPE-4) and weekly report (GOV-8) [h4]
    "list_work_plans": Row("GET", _H4Path("/work-plans?page_size=100&month=2026-11&x={h4_plan}"), PERSONA,
                           check=h4_check_plans),
    "get_work_plan": Row("GET", _H4Path("/work-plans/{h4_plan}"), PERSONA, check=h4_sees_lina()),
    "set_work_plan": Row("PUT", _H4Path("/work-plans/{h4_lina}/2026-11"), PERSONA, check=h4_check_set_plan,
                         body=_h4_plan_body),
    "list_weekly_reports": Row("GET", _H4Path("/reports/weekly?page_size=100&week=2026-01-07&x={h4_report}"),
                               PERSONA, check=h4_check_reports),
    "get_weekly_report": Row("GET", _H4Path("/reports/weekly/{h4_report}"), PERSONA, check=h4_sees_lina()),
    "export_weekly_report": Row("GET", _H4Path("/reports/weekly/{h4_report}/xlsx"), PERSONA, check=h4_sees_lina()),
    "generate_weekly_reports": Row("POST", "/reports/weekly/generate", PERSONA, check=h4_generator_status(200),
                                   body=lambda w, r: {"week_start": "2026-01-12"}),
}  # fmt: skip
H4_PAGE_ROWS: dict = {  # work plans (PIPE-4) and weekly report (GOV-8) [h4]
    "work_plan": Row("GET", _H4Path("/sales/plans/?owner={h4_lina}&month=2026-11"), PERSONA, check=h4_sees_lina()),
    "weekly_report_list": Row("GET", _H4Path("/reports/weekly/?week=2026-01-05&x={h4_report}"), PERSONA,
                              check=h4_check_report_page),
    "weekly_report_detail": Row("GET", _H4Path("/reports/weekly/{h4_report}/"), PERSONA, check=h4_sees_lina()),
    "weekly_report_xlsx": Row("GET", _H4Path("/reports/weekly/{h4_report}/xlsx/"), PERSONA, check=h4_sees_lina()),
    "weekly_report_generate": Row("POST", "/reports/weekly/generate/", PERSONA, check=h4_generator_status(302),
                                  body=lambda w, r: {"week_start": "2026-01-12"}),
}  # fmt: skip

H5_API_ROWS: dict = {  # samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]
    "archive_sample": Row("POST", "/samples/{sample}/archive", CHANGE_ACCOUNT,
                          body=lambda w, r: {"version": _version(Sample, w.samples[r].pk)}),
    "archive_development_cost": Row("POST", "/development-costs/{cost}/archive", CHANGE_ACCOUNT,
                                    body=lambda w, r: {"version": _version(DevelopmentCost, w.costs[r].pk)}),
    "get_account_development_return": Row("GET", "/accounts/{account}/development-return", SEE_ACCOUNT),
}  # fmt: skip
H5_PAGE_ROWS: dict = {  # samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]
    "account_positioning": Row("POST", "/accounts/{account}/positioning/", CHANGE_ACCOUNT, ok=302,
                               body=lambda w, r: {"growth_type": "stable", "difficulty": "low"}),
    "account_samples": Row("GET", "/accounts/{account}/samples/", SEE_ACCOUNT),
    "sample_create": Row("GET", "/accounts/{account}/samples/new/", CHANGE_ACCOUNT),
    "sample_edit": Row("GET", "/samples/{sample}/edit/", CHANGE_ACCOUNT),
    "sample_archive": Row("POST", "/samples/{sample}/archive/", CHANGE_ACCOUNT, ok=302,
                          body=lambda w, r: {"version": _version(Sample, w.samples[r].pk)}),
    "account_costs": Row("GET", "/accounts/{account}/costs/", SEE_ACCOUNT),
    "cost_create": Row("GET", "/accounts/{account}/costs/new/", CHANGE_ACCOUNT),
    "cost_edit": Row("GET", "/costs/{cost}/edit/", CHANGE_ACCOUNT),
    "cost_archive": Row("POST", "/costs/{cost}/archive/", CHANGE_ACCOUNT, ok=302,
                        body=lambda w, r: {"version": _version(DevelopmentCost, w.costs[r].pk)}),
    "account_development_return": Row("GET", "/accounts/{account}/development-return/", SEE_ACCOUNT),
}  # fmt: skip


API_MATRIX: dict[str, Row] = {
    **ENG567_API_ROWS,
    **PIPE_API_ROWS,
    **SALES_API_ROWS,
    **H1_API_ROWS,
    **H2_API_ROWS,
    **H3_API_ROWS,
    **H4_API_ROWS,
    **H5_API_ROWS,
    # Open to all; a wrong password (401, lockout 429) is in tests/accounts/test_api.py — here the
    # password is missing, so no slow password hashing runs for each persona.
    "create_token": Row("POST", "/auth/token", PERSONA, check=status_is(422), anonymous=422,
                        body=lambda w, r: {"username": "lina"}),
    "list_regions": Row("GET", "/regions", PERSONA, check=status_is(200), anonymous=200),
    "get_me": Row("GET", "/me", PERSONA, check=check_me),
    "list_departments": Row("GET", "/departments", PERSONA, check=check_departments),
    "list_users": Row("GET", "/users?page_size=100", PERSONA, check=check_users),
    "get_user": Row("GET", "/users/{owner}", SEE_USER),
    "list_accounts": Row("GET", "/accounts?page_size=100", PERSONA, check=check_list_accounts),
    "create_account": Row("POST", "/accounts", DUPLICATE_ON_CREATE, body=lambda w, r: {"name": w.accounts[r].name}),
    "check_account_duplicates": Row("GET", "/accounts/duplicates?name={name}", DUPLICATE_HINT),
    "get_account": Row("GET", "/accounts/{account}", SEE_ACCOUNT),
    "update_account": Row("PATCH", "/accounts/{account}", CHANGE_ACCOUNT, body=_account_body),
    "archive_account": Row("POST", "/accounts/{account}/archive", CHANGE_ACCOUNT, body=_archive_body),
    "list_account_contacts": Row("GET", "/accounts/{account}/contacts", SEE_ACCOUNT),
    "get_account_org_chart": Row("GET", "/accounts/{account}/org-chart", SEE_ACCOUNT),
    "list_account_branches": Row("GET", "/accounts/{account}/branches", SEE_ACCOUNT),
    "list_account_updates": Row("GET", "/accounts/{account}/updates", SEE_ACCOUNT),
    "create_account_update": Row("POST", "/accounts/{account}/updates", CHANGE_ACCOUNT, ok=201,
                                 body=lambda w, r: {"happened_on": "2026-01-06", "content": "矩阵新动态"}),
    "list_account_team": Row("GET", "/accounts/{account}/team", SEE_ACCOUNT),
    "set_account_team_member": Row("PUT", "/accounts/{account}/team/{teammate}", CHANGE_ACCOUNT,
                                   body=lambda w, r: {"access": "write"}),
    "remove_account_team_member": Row("DELETE", "/accounts/{account}/team/{teammate}", CHANGE_ACCOUNT, ok=204),
    "list_account_attachments": Row("GET", "/accounts/{account}/attachments", SEE_ACCOUNT),
    "upload_account_attachment": Row("POST", "/accounts/{account}/attachments", CHANGE_ACCOUNT, ok=201, multipart=True,
                                     body=lambda w, r: {"file": _pdf("新合同.pdf"), "kind": "contract"}),
    "download_account_attachment": Row("GET", "/accounts/{account}/attachments/{attachment}", SEE_ACCOUNT,
                                       audits=AuditAction.DOWNLOAD),
    "list_account_history": Row("GET", "/accounts/{account}/history", SEE_HISTORY),
    "list_contacts": Row("GET", "/contacts?page_size=100", PERSONA, check=check_list_contacts),
    "create_contact": Row("POST", "/contacts", CHANGE_ACCOUNT, ok=201,
                          body=lambda w, r: {"account_id": w.accounts[r].pk, "name": "矩阵新联系人"}),
    "get_contact": Row("GET", "/contacts/{contact}", SEE_CONTACT),
    "update_contact": Row("PATCH", "/contacts/{contact}", CHANGE_CONTACT,
                          body=lambda w, r: {"version": _version(Contact, w.contacts[r].pk), "notes": "矩阵备注"}),
    "archive_contact": Row("POST", "/contacts/{contact}/archive", CHANGE_CONTACT,
                           body=lambda w, r: {"version": _version(Contact, w.contacts[r].pk)}),
    "get_contact_personal_file": Row("GET", "/contacts/{contact}/personal-file", SEE_CONTACT,
                                     audits=AuditAction.VIEW_PERSONAL),
    "list_contact_positions": Row("GET", "/contacts/{contact}/positions", SEE_CONTACT),
    "set_contact_position": Row("PUT", "/contacts/{contact}/positions/{account}", CHANGE_POSITION,
                                body=lambda w, r: {"title": "矩阵总监"}),
    "list_visitors": Row("GET", "/visitors?page_size=100", PERSONA, check=check_list_visitors),
    "create_visitor": Row("POST", "/visitors", PERSONA, check=check_created,
                          body=lambda w, r: {"name": "矩阵新访客", "visited_on": "2026-01-06"}),
    "get_visitor": Row("GET", "/visitors/{visitor}", SEE_VISITOR),
    "update_visitor": Row("PATCH", "/visitors/{visitor}", CHANGE_VISITOR,
                          body=lambda w, r: {"version": _version(Visitor, w.visitors[r].pk), "intention": "矩阵意向"}),
    "promote_visitor": Row("POST", "/visitors/{visitor}/promote", PROMOTE,
                           body=lambda w, r: {"account_id": w.accounts[r].pk}),
    "search": Row("GET", "/search?q=矩阵", PERSONA, check=check_search),
    "download_import_template": Row("GET", "/imports/templates/accounts?format=csv", PERSONA, check=status_is(200)),
    "import_records": Row("POST", "/imports/accounts", IMPORT_DUPLICATE, multipart=True,
                          body=lambda w, r: {"file": _csv([["客户名称*", "电话"], [w.accounts[r].name, "010-66596688"]]),
                                             "on_duplicate": "update"}),
    "download_import_report": Row("GET", "/imports/reports/{report}", PERSONA, check=check_own_import_report),
    "export_records": Row("GET", "/exports/accounts?format=csv", PERSONA, check=check_account_export),
    # ENG-1 activities and the timeline, ENG-3 tasks
    "list_activities": Row("GET", "/activities?page_size=100", PERSONA, check=check_list_activities),
    "create_activity": Row("POST", "/activities", SEE_ACCOUNT, ok=201, body=_new_activity_body),
    "get_activity": Row("GET", "/activities/{activity}", SEE_ACTIVITY),
    "update_activity": Row("PATCH", "/activities/{activity}", CHANGE_ACTIVITY,
                           body=lambda w, r: {**_activity_version(w, r), "outcome": "矩阵结果"}),
    "archive_activity": Row("POST", "/activities/{activity}/archive", CHANGE_ACTIVITY, body=_activity_version),
    "list_account_timeline": Row("GET", "/accounts/{account}/timeline", SEE_ACCOUNT),
    "list_tasks": Row("GET", "/tasks?assignee=any&page_size=100", PERSONA, check=check_list_tasks),
    "create_task": Row("POST", "/tasks", SEE_ACCOUNT, ok=201, body=_new_task_body),
    "get_task": Row("GET", "/tasks/{task}", SEE_TASK),
    "update_task": Row("PATCH", "/tasks/{task}", CHANGE_TASK, body=lambda w, r: {**_task_version(w, r), "notes": "矩阵"}),
    "complete_task": Row("POST", "/tasks/{task}/complete", CHANGE_TASK, body=_task_version),
    "cancel_task": Row("POST", "/tasks/{task}/cancel", CHANGE_TASK, body=_task_version),
    "reopen_task": Row("POST", "/tasks/{done_task}/reopen", CHANGE_TASK, body=lambda w, r: {}),
    # MSG-1 the outbox, MSG-2 templates; a message is visible iff its account is
    "list_message_templates": Row("GET", "/message-templates", PERSONA, check=status_is(200)),
    "create_message_template": Row("POST", "/message-templates", PERSONA, check=template_editor_status(201),
                                   body=lambda w, r: {"name": "矩阵新模板", "channel": "log", "body": "您好"}),
    "get_message_template": Row("GET", "/message-templates/{template}", PERSONA, check=status_is(200)),
    "update_message_template": Row("PATCH", "/message-templates/{template}", PERSONA, check=template_editor_status(200),
                                   body=lambda w, r: {**_template_version(w, r), "body": "{contact.name}好"}),
    "archive_message_template": Row("POST", "/message-templates/{template}/archive", PERSONA,
                                    check=template_editor_status(200), body=_template_version),
    "list_messages": Row("GET", "/messages?page_size=100", PERSONA, check=check_list_messages),
    "send_message": Row("POST", "/messages", SEE_CONTACT, ok=201,
                        body=lambda w, r: {"contact_id": w.contacts[r].pk, "channel": "log", "text": "矩阵新短信"}),
    "send_messages_bulk": Row("POST", "/messages/bulk", SEE_ACCOUNT, ok=201,
                              body=lambda w, r: {"account_ids": [w.accounts[r].pk], "channel": "log", "text": "矩阵群发"}),
    "get_message": Row("GET", "/messages/{message}", SEE_ACCOUNT),
    "set_message_consent": Row("PUT", "/contacts/{contact}/message-consents/sms", CHANGE_CONTACT,
                               body=lambda w, r: {"opted_out": True, "note": "矩阵退订"}),
    # Unsigned: refused for everyone (signatures are tested in tests/messaging/test_outbox.py).
    "messaging_webhook": Row("POST", "/messaging/webhooks/log", PERSONA, check=status_is(401), anonymous=401),
    # MSG-1 saved audiences: own and shared ones; resolved within the caller's scope
    "list_audiences": Row("GET", "/audiences", PERSONA, check=check_list_audiences),
    "create_audience": Row("POST", "/audiences", PERSONA, check=status_is(201),
                           body=lambda w, r: {"name": "矩阵新受众", "filters": {"lifecycle": "customer"}}),
    "get_audience": Row("GET", "/audiences/{audience}", PERSONA, check=status_is(200)),
    "update_audience": Row("PATCH", "/audiences/{audience}", PERSONA, check=audience_editor_status(200),
                           body=lambda w, r: {**_audience_version(w, r), "name": "矩阵受众改"}),
    "archive_audience": Row("DELETE", "/audiences/{audience}?version=1", PERSONA, check=audience_editor_status(200)),
    "count_audience": Row("GET", "/audiences/{audience}/count?channel=log", PERSONA, check=check_count_audience),
    # ENG-3 reminders (the caller's own), ENG-2 cadence
    "list_reminders": Row("GET", "/reminders?page_size=100", PERSONA, check=check_list_reminders),
    "read_reminder": Row("POST", "/reminders/{reminder}/read", OWN_REMINDER),
    "dismiss_reminder": Row("POST", "/reminders/{reminder}/dismiss", OWN_REMINDER),
    "list_cadence_breaches": Row("GET", "/cadence/breaches?page_size=100", PERSONA, check=check_cadence_breaches),
    # ENG-3: one's own notification settings only (there is no way to name another user's)
    "get_notification_settings": Row("GET", "/me/notification-settings", PERSONA, check=status_is(200)),
    "set_notification_settings": Row("PUT", "/me/notification-settings", PERSONA, check=status_is(200),
                                     body=lambda w, r: {"channel": "", "cadence_review": "fortnight"}),
    "test_notification": Row("POST", "/me/notification-settings/test", PERSONA, check=status_is(422),
                             body=lambda w, r: {}),  # no channel chosen yet: refused naming `channel`
}  # fmt: skip


def check_home_page(world, persona, response):
    assert response.status_code == 200
    assert response.context["account_count"] == len(SEES[persona])
    owned = {r for r in SEES[persona] if OWNERS[r] == persona}
    assert response.context["my_count"] == len(owned)
    assert {a.pk for a in response.context["recent"]} <= {world.accounts[r].pk for r in SEES[persona]}
    # ENG-3: today's and overdue tasks are the persona's own open ones.
    owned = {r for r in RECORDS if OWNERS[r] == persona}
    assert {t.pk for t in response.context["tasks"]} == {world.tasks[r].pk for r in owned}
    assert {x.pk for x in response.context["reminders"]} == _own_reminders(world, persona)  # ENG-3: one's own
    _names_absent(world, response, ALL - SEES[persona])
    _activity_names_absent(world, response, ALL - SEES[persona])


def check_account_list_page(world, persona, response):
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == len(SEES[persona])
    assert {a.pk for a in page.object_list} == {world.accounts[r].pk for r in SEES[persona]}
    _names_absent(world, response, ALL - SEES[persona])


def check_search_page(world, persona, response):
    assert response.status_code == 200
    results = response.context["results"]
    assert {a.pk for a in results.accounts} == {world.accounts[r].pk for r in SEES[persona]}
    assert {c.pk for c in results.contacts} == {world.contacts[c].pk for c in contacts_seen(persona)}
    _names_absent(world, response, ALL - SEES[persona])


def check_visitor_list_page(world, persona, response):
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == len(VISITOR_SEES[persona])
    assert {v.pk for v in page.object_list} == {world.visitors[r].pk for r in VISITOR_SEES[persona]}
    text = response.content.decode()
    for record in ALL - VISITOR_SEES[persona]:
        assert world.visitors[record].name not in text


def check_activity_list_page(world, persona, response):
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == len(ACTIVITY_SEES[persona])
    assert {a.pk for a in page.object_list} == {world.activities[r].pk for r in ACTIVITY_SEES[persona]}
    _names_absent(world, response, ALL - SEES[persona])
    _activity_names_absent(world, response, ALL - ACTIVITY_SEES[persona])


def check_task_list_page(world, persona, response):
    assert response.status_code == 200
    page = response.context["page"]
    expected = {t[r].pk for t in (world.tasks, world.done_tasks) for r in ACTIVITY_SEES[persona]}
    assert page.paginator.count == len(expected)
    assert {t.pk for t in page.object_list} == expected
    _names_absent(world, response, ALL - SEES[persona])
    _activity_names_absent(world, response, ALL - ACTIVITY_SEES[persona])


def check_reminder_list_page(world, persona, response):
    assert response.status_code == 200
    assert {x.pk for x in response.context["page"].object_list} == _own_reminders(world, persona)


def check_cadence_page(world, persona, response):
    assert response.status_code == 200
    assert {b.account.pk for b in response.context["page"].object_list} <= {world.accounts[r].pk for r in SEES[persona]}


def check_account_options(world, persona, response):
    assert response.status_code == 200
    assert {a.pk for a in response.context["accounts"]} == {world.accounts[r].pk for r in SEES[persona]}
    _names_absent(world, response, ALL - SEES[persona])


def check_account_create_page(world, persona, response):
    assert response.status_code == (200 if persona in ACCOUNT_EDITING_ROLES else 403)


def check_board(world, persona, response):
    assert response.status_code == 200
    found = {card.pk for _stage, cards, _count in response.context["columns"] for card in cards}
    assert found == {world.opportunities[r].pk for r in SEES[persona]}
    _names_absent(world, response, ALL - SEES[persona])


PIPE_PAGE_ROWS = {
    "opportunity_board": Row("GET", "/opportunities/board/?all=1", PERSONA, check=check_board),
    "opportunity_list": Row("GET", "/opportunities/?all=1", PERSONA, check=check_page_ids("opportunities", "page")),
    "opportunity_create": Row("GET", "/accounts/{account}/opportunities/new/", CHANGE_ACCOUNT),
    "account_opportunities": Row("GET", "/accounts/{account}/opportunities/", SEE_ACCOUNT),
    "opportunity_detail": Row("GET", "/opportunities/{opportunity}/", SEE_ACCOUNT),
    "opportunity_edit": Row("GET", "/opportunities/{opportunity}/edit/", CHANGE_ACCOUNT),
    "opportunity_gate_check": Row("POST", "/opportunities/{opportunity}/gate/{need_item}/", CHANGE_ACCOUNT,
                                  body=lambda w, r: {"checked": "1"}),
    "opportunity_advance": Row("POST", "/opportunities/{opportunity}/advance/", CHANGE_ACCOUNT, ok=302,
                               body=lambda w, r: {**_opportunity_version(w, r), "stage": _default_stage("intention")}),
    "opportunity_close": Row("POST", "/opportunities/{opportunity}/close/", CHANGE_ACCOUNT, ok=302,
                             body=lambda w, r: {**_opportunity_version(w, r), **PIPE_REVIEW, "outcome": "stop"}),
}  # fmt: skip


SALES_PAGE_ROWS = {  # sales records (s2)
    "sales_import": Row("GET", "/sales/import/", PERSONA, check=status_is(200)),
    "account_sales_history": Row("GET", "/accounts/{account}/sales-history/", SEE_ACCOUNT),
}

PAGE_MATRIX: dict[str, Row] = {
    **ENG567_PAGE_ROWS,
    **PIPE_PAGE_ROWS,
    **SALES_PAGE_ROWS,
    **H1_PAGE_ROWS,
    **H2_PAGE_ROWS,
    **H3_PAGE_ROWS,
    **H4_PAGE_ROWS,
    **H5_PAGE_ROWS,
    "home": Row("GET", "/", PERSONA, check=check_home_page),
    "login": Row("GET", "/login/", PERSONA, check=status_is(302), anonymous=200),
    "logout": Row("POST", "/logout/", PERSONA, check=status_is(302), anonymous=302),
    "set_language": Row("POST", "/language/", PERSONA, check=status_is(302), anonymous=302,
                        body=lambda w, r: {"language": "en", "next": "/"}),
    "region_options": Row("GET", "/regions/options/?province=11", PERSONA, check=status_is(200)),
    "account_list": Row("GET", "/accounts/", PERSONA, check=check_account_list_page),
    "account_create": Row("GET", "/accounts/new/", PERSONA, check=check_account_create_page),
    "account_detail": Row("GET", "/accounts/{account}/", SEE_ACCOUNT),
    "account_edit": Row("GET", "/accounts/{account}/edit/", CHANGE_ACCOUNT),
    "account_archive": Row("POST", "/accounts/{account}/archive/", CHANGE_ACCOUNT, ok=302, body=_archive_body),
    "account_update_add": Row("POST", "/accounts/{account}/updates/", CHANGE_ACCOUNT, ok=302,
                              body=lambda w, r: {"happened_on": "2026-01-06", "content": "矩阵新动态"}),
    "attachment_upload": Row("POST", "/accounts/{account}/attachments/", CHANGE_ACCOUNT, ok=302, multipart=True,
                             body=lambda w, r: {"file": _pdf("新合同.pdf"), "kind": "contract"}),
    "attachment_download": Row("GET", "/accounts/{account}/attachments/{attachment}/", SEE_ACCOUNT,
                               audits=AuditAction.DOWNLOAD),
    "team_member_set": Row("POST", "/accounts/{account}/team/", CHANGE_ACCOUNT, ok=302,
                           body=lambda w, r: {"user": w.teammate.pk, "access": "write"}),
    "contact_create": Row("GET", "/accounts/{account}/contacts/new/", CHANGE_ACCOUNT),
    "position_edit": Row("GET", "/accounts/{account}/contacts/{contact}/position/", CHANGE_POSITION),
    "position_add": Row("GET", "/contacts/{contact}/positions/new/?account={account}", CHANGE_POSITION, ok=302),
    "contact_detail": Row("GET", "/contacts/{contact}/", SEE_CONTACT),
    "contact_edit": Row("GET", "/contacts/{contact}/edit/", CHANGE_CONTACT),
    "contact_personal_file": Row("GET", "/contacts/{contact}/personal/", SEE_CONTACT, audits=AuditAction.VIEW_PERSONAL),
    "visitor_list": Row("GET", "/visitors/", PERSONA, check=check_visitor_list_page),
    "visitor_create": Row("GET", "/visitors/new/", PERSONA, check=status_is(200)),
    "visitor_promote": Row("GET", "/visitors/{visitor}/promote/", CHANGE_VISITOR),
    "search": Row("GET", "/search/?q=矩阵", PERSONA, check=check_search_page),
    "import_page": Row("GET", "/io/", PERSONA, check=status_is(200)),
    "import_template": Row("GET", "/io/templates/accounts/csv/", PERSONA, check=status_is(200)),
    "import_report": Row("GET", "/io/reports/{report}/", PERSONA, check=check_own_import_report),
    "export_download": Row("GET", "/io/export/accounts/?format=csv", PERSONA, check=check_account_export),
    "activity_list": Row("GET", "/activities/", PERSONA, check=check_activity_list_page),
    "activity_create": Row("GET", "/activities/new/", PERSONA, check=status_is(200)),
    "activity_account_options": Row("GET", "/activities/accounts/?account_q=矩阵", PERSONA,
                                    check=check_account_options),
    "activity_contact_options": Row("GET", "/activities/contacts/?account={account}", SEE_ACCOUNT),
    "activity_detail": Row("GET", "/activities/{activity}/", SEE_ACTIVITY),
    "activity_edit": Row("GET", "/activities/{activity}/edit/", CHANGE_ACTIVITY),
    "activity_archive": Row("POST", "/activities/{activity}/archive/", CHANGE_ACTIVITY, ok=302, body=_activity_version),
    "account_timeline": Row("GET", "/accounts/{account}/timeline/", SEE_ACCOUNT),
    "task_list": Row("GET", "/tasks/?assignee=any&status=all", PERSONA, check=check_task_list_page),
    "task_create": Row("GET", "/tasks/new/", PERSONA, check=status_is(200)),
    "task_edit": Row("GET", "/tasks/{task}/edit/", CHANGE_TASK),
    "task_complete": Row("POST", "/tasks/{task}/complete/", CHANGE_TASK, ok=302, body=_task_version),
    "task_cancel": Row("POST", "/tasks/{task}/cancel/", CHANGE_TASK, ok=302, body=_task_version),
    "task_reopen": Row("POST", "/tasks/{done_task}/reopen/", CHANGE_TASK, ok=302, body=lambda w, r: {}),
    "reminder_list": Row("GET", "/reminders/", PERSONA, check=check_reminder_list_page),
    "reminder_read": Row("POST", "/reminders/{reminder}/read/", OWN_REMINDER, ok=302, body=lambda w, r: {}),
    "reminder_dismiss": Row("POST", "/reminders/{reminder}/dismiss/", OWN_REMINDER, ok=302, body=lambda w, r: {}),
    "cadence_breaches": Row("GET", "/cadence/", PERSONA, check=check_cadence_page),
    # MSG-1, MSG-2, ENG-4: the messaging pages
    "message_send": Row("GET", "/messages/send/", PERSONA, check=status_is(200)),
    "message_recipient_options": Row("GET", "/messages/send/recipients/?recipient_q=矩阵", PERSONA,
                                     check=check_recipient_options_page),
    "message_send_preview": Row("GET", "/messages/send/preview/?channel=log&text=hi&when=now&audience={audience}",
                                PERSONA, check=check_send_preview_page),
    "message_batch_list": Row("GET", "/messages/outbox/", PERSONA, check=check_batch_list_page),
    "message_batch_detail": Row("GET", "/messages/outbox/{batch}/", SEE_ACCOUNT),
    "message_detail": Row("GET", "/messages/{message}/", SEE_ACCOUNT),
    "message_template_list": Row("GET", "/messages/templates/", PERSONA, check=status_is(200)),
    "message_template_create": Row("GET", "/messages/templates/new/", PERSONA, check=template_editor_status(200)),
    "message_template_edit": Row("GET", "/messages/templates/{template}/edit/", PERSONA,
                                 check=template_editor_status(200)),
    "message_template_archive": Row("POST", "/messages/templates/{template}/archive/", PERSONA,
                                    check=template_editor_status(302), body=_template_version),
    "message_audience_list": Row("GET", "/messages/audiences/", PERSONA, check=check_audience_list_page),
    "message_audience_create": Row("GET", "/messages/audiences/new/", PERSONA, check=check_audience_create_page),
    "message_audience_edit": Row("POST", "/messages/audiences/{audience}/edit/", PERSONA,
                                 check=audience_editor_status(302),
                                 body=lambda w, r: {**_audience_version(w, r), "name": "矩阵受众改"}),
    "message_audience_archive": Row("POST", "/messages/audiences/{audience}/archive/", PERSONA,
                                    check=audience_editor_status(302), body=_audience_version),
    "message_greeting_list": Row("GET", "/messages/greetings/", PERSONA, check=status_is(200)),
    "message_greeting_send": Row("POST", "/messages/greetings/{greeting}/send/", PERSONA, check=check_greeting_send,
                                 body=_greeting_body),
    "contact_messages": Row("GET", "/contacts/{contact}/messages/", SEE_CONTACT),
    "contact_message_consent": Row("POST", "/contacts/{contact}/message-consents/sms/", CHANGE_CONTACT, ok=302,
                                   body=lambda w, r: {"opted_out": "1"}),
    "notification_settings": Row("GET", "/me/notifications/", PERSONA, check=status_is(200)),
}  # fmt: skip


def expectation(rule: str, persona: str, record: str) -> tuple[bool, bool]:
    """(allowed, exists for the persona) for a rule on a record."""
    if rule == SEE_ACCOUNT:
        return record in SEES[persona], record in SEES[persona]
    if rule == CHANGE_ACCOUNT:
        return record in CHANGES[persona], record in SEES[persona]
    if rule == SEE_HISTORY:
        return record in HISTORY[persona], record in HISTORY[persona]
    if rule == SEE_CONTACT:
        return record in SEES[persona], record in SEES[persona]
    if rule in (CHANGE_CONTACT, CHANGE_POSITION):
        return record in CHANGES[persona], record in SEES[persona]
    if rule == SEE_VISITOR:
        return record in VISITOR_SEES[persona], record in VISITOR_SEES[persona]
    if rule == CHANGE_VISITOR:
        return record in VISITOR_CHANGES[persona], record in VISITOR_SEES[persona]
    if rule in (SEE_ACTIVITY, SEE_TASK):
        return record in ACTIVITY_SEES[persona], record in ACTIVITY_SEES[persona]
    if rule in (CHANGE_ACTIVITY, CHANGE_TASK):
        return record in ACTIVITY_CHANGES[persona], record in ACTIVITY_SEES[persona]
    if rule == OWN_REMINDER:
        mine = OWNERS[record] == persona
        return mine, mine
    if rule == PROMOTE:
        allowed = record in VISITOR_CHANGES[persona] and record in CHANGES[persona]
        return allowed, record in VISITOR_SEES[persona] and record in SEES[persona]
    raise AssertionError(rule)


# --- calling --------------------------------------------------------------------------------------


def _placeholders(world, record) -> dict:
    record = record or "foreign"
    account = world.accounts[record]
    return {
        "account": account.pk,
        "contact": world.contacts[record].pk,
        "visitor": world.visitors[record].pk,
        "attachment": world.attachments[record].pk,
        "teammate": world.teammate.pk,
        "owner": world.users[OWNERS[record]].pk,
        "name": quote(account.name),
        "report": world.report_token,
        "activity": world.activities[record].pk,
        "task": world.tasks[record].pk,
        "done_task": world.done_tasks[record].pk,
        "message": world.messages[record].pk,
        "template": world.message_template.pk,
        "batch": world.batches[record].pk,
        "audience": world.audience.pk,
        "greeting": world.greeting.pk,
        "reminder": world.reminders[record].pk,
        "sponsor": world.sponsors[record].pk,
        "plan": world.plans[record].pk,
        "forum": world.forum.pk,
        "meeting": world.meeting.pk,
        "empty_event": world.empty_event.pk,
        "open_invitation": world.open_invitations[record].pk,
        "campaign": world.campaign.pk,
        "empty_campaign": world.empty_campaign.pk,
        "participant": world.participants[record].pk,
        "pipeline": world.potential_stage.pipeline_id,  # PIPE (s1)
        "stage": world.potential_stage.pk,
        "gate_item": world.gate_item.pk,
        "need_item": world.need_item.pk,
        "opportunity": world.opportunities[record].pk,
        "sample": world.samples[record].pk,
        "cost": world.costs[record].pk,
        "sales_record": world.sales_records[record].pk,  # sales records (s2)
    }


def _request(client, row, url, body, headers):
    method = row.method.lower()
    if row.method == "GET" or row.method == "DELETE" and body is None:
        return getattr(client, method)(url, **headers)
    if row.multipart:
        return client.post(url, body, **headers)
    if url.startswith("/api/"):
        return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json", **headers)
    return client.post(url, body or {}, **headers)


def call_api(world, persona, row, record=None):
    client = world.client
    client.cookies.clear()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world.tokens[persona]}"} if persona else {}
    url = "/api/v1" + row.path.format(**_placeholders(world, record))
    return _request(client, row, url, row.body(world, record) if row.body else None, headers)


def call_page(world, persona, row, record=None):
    client = world.client
    client.cookies.clear()
    if persona:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[persona]
    url = row.path.format(**_placeholders(world, record))
    return _request(client, row, url, row.body(world, record) if row.body else None, {})


def _audit_count(action) -> int:
    return AuditEvent.objects.filter(action=action).count() if action else 0


def assert_record_case(world, row, persona, record, call, *, api_call: bool):
    """Call a row for one persona and record and check the outcome against the tables."""
    allowed, exists = expectation(row.rule, persona, record)
    before, audits_before = fingerprint(), _audit_count(row.audits)
    response = call(world, persona, row, record)
    status = response.status_code
    if allowed:
        assert status == row.ok, f"expected {row.ok}, got {status}: {response.content[:300]!r}"
    elif not exists:
        assert status == 404, f"a record outside the scope must be 404, got {status}: {response.content[:300]!r}"
    else:
        assert status in (403, 404), f"expected 403 or 404, got {status}: {response.content[:300]!r}"
    if api_call and status >= 400:
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        assert "detail" in response.json()
    if row.writes:
        changed = fingerprint() != before
        assert changed == allowed, (
            "an allowed write must change the record" if allowed else "a refused write changed data"
        )
    if row.audits:
        assert _audit_count(row.audits) == audits_before + (1 if allowed else 0)


def _record_cases(matrix):
    return [pytest.param(name, persona, record, id=f"{name}-{persona}-{record}")
            for name, row in matrix.items() if row.rule in RECORD_RULES - SPECIAL_RULES
            for persona in PERSONAS for record in RECORDS]  # fmt: skip


def _rule_cases(matrix, rule):
    return [pytest.param(name, persona, record, id=f"{name}-{persona}-{record}")
            for name, row in matrix.items() if row.rule == rule for persona in PERSONAS for record in RECORDS]  # fmt: skip


def _persona_cases(matrix):
    return [pytest.param(name, persona, id=f"{name}-{persona}")
            for name, row in matrix.items() if row.rule == PERSONA for persona in PERSONAS]  # fmt: skip


# --- the tests ------------------------------------------------------------------------------------


def _page_names(patterns, prefix="") -> set[str]:
    """Named page URL patterns, outside the admin, the API include and static files."""
    names = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if route.startswith(("admin/", "api/", "static/")):
            continue
        if isinstance(pattern, URLResolver):
            names |= _page_names(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            names.add(pattern.name or route)
    return names


def test_every_endpoint_has_a_matrix_row():
    """GOV-7: an endpoint or page without a row in the authorization matrix fails the suite."""
    schema = api.get_openapi_schema()
    operations = {op["operationId"]: method.upper() for ops in schema["paths"].values() for method, op in ops.items()}
    assert sorted(set(operations) - set(API_MATRIX)) == [], "API operations without a row in API_MATRIX"
    assert sorted(set(API_MATRIX) - set(operations)) == [], "API_MATRIX rows for operations that no longer exist"
    assert {name: row.method for name, row in API_MATRIX.items()} == operations
    pages = _page_names(kam.urls.urlpatterns)
    assert sorted(pages - set(PAGE_MATRIX)) == [], "pages without a row in PAGE_MATRIX"
    assert sorted(set(PAGE_MATRIX) - pages) == [], "PAGE_MATRIX rows for pages that no longer exist"


@pytest.mark.parametrize("operation, persona, record", _record_cases(API_MATRIX))
def test_api_operation_on_a_record(world, operation, persona, record):
    """GOV-7, GOV-1: own / team / foreign record through every API operation, for every persona."""
    assert_record_case(world, API_MATRIX[operation], persona, record, call_api, api_call=True)


@pytest.mark.parametrize("page, persona, record", _record_cases(PAGE_MATRIX))
def test_page_on_a_record(world, page, persona, record):
    """GOV-7, GOV-1: the pages follow the same rules as the API (404 outside scope, never 403)."""
    assert_record_case(world, PAGE_MATRIX[page], persona, record, call_page, api_call=False)


@pytest.mark.parametrize("operation, persona", _persona_cases(API_MATRIX))
def test_api_operation_per_persona(world, operation, persona):
    """GOV-7, ARC-6: lists, search and counts hold exactly what the persona may see."""
    row = API_MATRIX[operation]
    row.check(world, persona, call_api(world, persona, row))


@pytest.mark.parametrize("page, persona", _persona_cases(PAGE_MATRIX))
def test_page_per_persona(world, page, persona):
    """GOV-7, ARC-6: list pages, search page and home counts hold exactly what the persona may see."""
    row = PAGE_MATRIX[page]
    row.check(world, persona, call_page(world, persona, row))


@pytest.mark.parametrize("operation, persona, record", _rule_cases(API_MATRIX, SEE_USER))
def test_api_user_lookup(world, operation, persona, record):
    """GOV-7: a colleague outside the departments one may see is not found."""
    owner = world.users[OWNERS[record]]
    expected = owner == world.users[persona] or any(
        owner.department_id == world.departments[d].pk for d in DEPARTMENTS[persona]
    )
    response = call_api(world, persona, API_MATRIX[operation], record)
    assert response.status_code == (200 if expected else 404)


@pytest.mark.parametrize("operation, persona, record", _rule_cases(API_MATRIX, DUPLICATE_HINT))
def test_api_duplicate_hint_names_only_visible_records(world, operation, persona, record):
    """ARC-5: the duplicate check finds every duplicate, but names only those in the caller's scope."""
    account = world.accounts[record]
    response = call_api(world, persona, API_MATRIX[operation], record)
    assert response.status_code == 200
    [hit] = response.json()
    assert hit["matched_on"] == ["name"]
    if record in SEES[persona]:
        assert hit == {"id": account.pk, "name": account.name, "owner": str(world.users[OWNERS[record]]),
                       "archived": False, "matched_on": ["name"], "visible": True}  # fmt: skip
    else:
        assert hit == {
            "id": None,
            "name": None,
            "owner": None,
            "archived": None,
            "matched_on": ["name"],
            "visible": False,
        }
        assert str(world.users[OWNERS[record]]) not in response.content.decode()


@pytest.mark.parametrize("operation, persona, record", _rule_cases(API_MATRIX, DUPLICATE_ON_CREATE))
def test_api_create_duplicate_is_refused_without_naming_foreign_records(world, operation, persona, record):
    """ARC-5, GOV-7: creating a duplicate is refused (409); the answer names only visible records."""
    account = world.accounts[record]
    row = API_MATRIX[operation]
    if persona == "admin":  # an administrator names the owner (a KA manager or head)
        row = replace(row, body=lambda w, r: {"name": w.accounts[r].name, "owner_id": w.users["head"].pk})
    before = fingerprint()
    response = call_api(world, persona, row, record)
    assert fingerprint() == before
    body = response.json()
    owner_name = str(world.users[OWNERS[record]])
    if persona not in ACCOUNT_EDITING_ROLES:
        assert response.status_code in (403, 422), response.content
        assert "duplicates" not in body
        assert owner_name not in response.content.decode()
        return
    assert response.status_code == 409, response.content
    [hit] = body["duplicates"]
    if record in SEES[persona]:
        assert (hit["id"], hit["name"], hit["owner"], hit["visible"]) == (account.pk, account.name, owner_name, True)
    else:
        assert (hit["id"], hit["name"], hit["owner"], hit["visible"]) == (None, None, None, False)
        assert owner_name not in response.content.decode()


def _anonymous_cases():
    cases = [pytest.param("api", name, id=f"api-{name}") for name in API_MATRIX]
    return cases + [pytest.param("page", name, id=f"page-{name}") for name in PAGE_MATRIX]


@pytest.mark.parametrize("kind, name", _anonymous_cases())
def test_anonymous_caller(world, kind, name):
    """GOV-7: without signing in, the API answers 401 JSON and pages send to the login page."""
    if kind == "api":
        row = API_MATRIX[name]
        response = call_api(world, None, row, "foreign")
        assert response.status_code == (row.anonymous or 401)
        if response.status_code == 401:
            assert response["Content-Type"].startswith("application/json")
    else:
        row = PAGE_MATRIX[name]
        response = call_page(world, None, row, "foreign")
        if row.anonymous:
            assert response.status_code == row.anonymous
        else:
            assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- ids from one record smuggled into a request about another --------------------------------------


def test_foreign_attachment_is_not_found_through_own_account(world):
    """GOV-7: an attachment id is looked up within the account, so another account's file stays hidden."""
    own, foreign = world.accounts["own"], world.attachments["foreign"]
    response = call_api(world, "manager", Row("GET", f"/accounts/{own.pk}/attachments/{foreign.pk}", SEE_ACCOUNT))
    assert response.status_code == 404
    response = call_page(world, "manager", Row("GET", f"/accounts/{own.pk}/attachments/{foreign.pk}/", SEE_ACCOUNT))
    assert response.status_code == 404


def test_foreign_contact_cannot_be_given_a_position_at_own_account(world):
    """GOV-7: a contact one cannot see cannot be attached to one's own account."""
    row = Row("PUT", f"/contacts/{world.contacts['foreign'].pk}/positions/{world.accounts['own'].pk}", CHANGE_POSITION,
              body=lambda w, r: {"title": "间谍"})  # fmt: skip
    before = fingerprint()
    assert call_api(world, "manager", row).status_code == 404
    assert fingerprint() == before


def test_own_visitor_cannot_be_promoted_into_a_foreign_account(world):
    """GOV-7: promoting into an account one cannot see is 404 and changes nothing."""
    row = Row("POST", f"/visitors/{world.visitors['own'].pk}/promote", PROMOTE,
              body=lambda w, r: {"account_id": w.accounts["foreign"].pk})  # fmt: skip
    before = fingerprint()
    assert call_api(world, "manager", row).status_code == 404
    assert fingerprint() == before


def test_foreign_account_cannot_become_a_head_office(world):
    """GOV-7: a head office must be visible; naming a foreign one is refused without confirming it."""
    own = world.accounts["own"]
    row = Row("PATCH", f"/accounts/{own.pk}", CHANGE_ACCOUNT,
              body=lambda w, r: {"version": _version(Account, own.pk), "parent_id": w.accounts["foreign"].pk})  # fmt: skip
    before = fingerprint()
    response = call_api(world, "manager", row)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "parent"
    assert world.accounts["foreign"].name not in response.content.decode()
    assert fingerprint() == before


def test_filters_never_widen_the_scope(world):
    """ARC-6, GOV-7: filtering by a foreign owner, department or account finds only what is visible."""
    outsider, south_ka = world.users["outsider"], world.departments["south_ka"]
    team_write = {world.accounts["team_write"].pk}  # 赵强's account she is on the team of; not his other one
    for path, expected in ((f"/accounts?owner={outsider.pk}", team_write),
                           (f"/accounts?department={south_ka.pk}", team_write),
                           (f"/accounts?owner={world.users['sibling'].pk}", {world.accounts["team_read"].pk}),
                           ("/accounts?q=外地", set()),
                           (f"/contacts?account={world.accounts['foreign'].pk}", set()),
                           ("/contacts?q=外地", set())):  # fmt: skip
        response = call_api(world, "manager", Row("GET", path + "&page_size=100", PERSONA))
        assert response.json()["count"] == len(expected), path
        assert _ids(response) == expected, path


def test_contact_positions_show_only_visible_accounts(world):
    """GOV-7: a contact at the manager's and a foreign account shows each side only its own position."""
    shared = world.contacts["shared"]
    row = Row("GET", f"/contacts/{shared.pk}/positions", SEE_CONTACT)
    assert [p["account"]["id"] for p in call_api(world, "manager", row).json()] == [world.accounts["own"].pk]
    assert [p["account"]["id"] for p in call_api(world, "outsider", row).json()] == [world.accounts["foreign"].pk]
    assert len(call_api(world, "admin", row).json()) == 2
    assert call_api(world, "colleague", row).status_code == 404


def test_branches_of_a_visible_account_do_not_include_foreign_branches(world):
    """GOV-7: the branch list of the manager's account leaves out a branch she cannot see."""
    branch = account_services.account_create(
        actor=world.users["admin"], fields={"name": "矩阵外地分公司", "owner": world.users["outsider"],
                                            "parent": world.accounts["own"]},
    )  # fmt: skip
    row = Row("GET", f"/accounts/{world.accounts['own'].pk}/branches", SEE_ACCOUNT)
    assert call_api(world, "manager", row).json() == []
    assert [a["id"] for a in call_api(world, "admin", row).json()] == [branch.pk]
    page = call_page(world, "manager", Row("GET", f"/accounts/{world.accounts['own'].pk}/", SEE_ACCOUNT))
    assert "矩阵外地分公司" not in page.content.decode()


def test_archived_account_stays_hidden_from_lists_but_duplicates_still_count_it(world):
    """ARC-5, GOV-7: an archived foreign account is still a duplicate, reported without its name."""
    foreign = world.accounts["foreign"]
    account_services.account_archive(
        actor=world.users["outsider"], account=foreign, version=_version(Account, foreign.pk)
    )
    row = Row("GET", f"/accounts/duplicates?name={quote(foreign.name)}", DUPLICATE_HINT)
    [hit] = call_api(world, "manager", row).json()
    assert hit["visible"] is False and hit["id"] is None
    [hit] = call_api(world, "outsider", row).json()
    assert hit["visible"] is True and hit["archived"] is True
    listed = call_api(world, "admin", Row("GET", "/accounts?page_size=100", PERSONA))
    assert foreign.pk not in _ids(listed)


@pytest.mark.parametrize("operation, persona, record", _rule_cases(API_MATRIX, IMPORT_DUPLICATE))
def test_api_import_updates_only_changeable_duplicates(world, operation, persona, record):
    """ARC-5, GOV-1, GOV-7: an import row matching an existing account updates it only if the importer
    may change it; otherwise the row fails, and the failure names the account only if it is visible."""
    row = API_MATRIX[operation]
    if persona == "admin":  # an administrator owns no accounts: the file names the owner (负责人)
        owner = world.users[OWNERS[record]].username
        header_and_row = [["客户名称*", "电话", "负责人"], [world.accounts[record].name, "010-66596688", owner]]
        row = replace(row, body=lambda w, r: {"file": _csv(header_and_row), "on_duplicate": "update"})
    before = fingerprint()
    response = call_api(world, persona, row, record)
    text = response.content.decode()
    owner_name = str(world.users[OWNERS[record]])
    if persona not in ACCOUNT_EDITING_ROLES:
        assert response.status_code == 403, text
    elif record in CHANGES[persona]:
        assert response.status_code == 200, text
        assert response.json()["updated"] == 1
        assert _version(Account, world.accounts[record].pk) == 2
        return
    else:
        assert response.status_code == 422, text
        assert response.json()["failed"] == 1
    assert fingerprint() == before
    if record not in SEES[persona]:
        assert owner_name not in text


@pytest.mark.parametrize("persona", PERSONAS)
def test_contact_export_holds_only_visible_positions(world, persona):
    """GOV-7: the contact export has one row per position at an account the persona may see."""
    response = call_api(world, persona, Row("GET", "/exports/contacts?format=csv", PERSONA))
    assert response.status_code == 200
    rows = _csv_rows(response)
    name_column = next(i for i, label in enumerate(rows[0]) if label.startswith(("姓名", "Name", "name")))
    exported = sorted(row[name_column] for row in rows[1:])
    expected = sorted([world.contacts[r].name for r in SEES[persona]]
                      + ["矩阵共享联系人" for r in ("own", "foreign") if r in SEES[persona]])  # fmt: skip
    assert exported == expected

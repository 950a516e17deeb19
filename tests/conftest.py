"""Shared fixtures: an organisation with personas whose names tell their role, and factories.

The organisation:
    总公司 (company)
    ├── 华东分公司 (east branch)
    │   └── 华东大客户部 (east KA department)  ← head: 陈主任 (scope: department and below)
    │       ├── 一组 (team A)  ← 李娜 (manager), 王伟 (her colleague), 周敏 (department scope)
    │       └── 二组 (team B)  ← 孙丽 (manager in a sibling team)
    └── 华南分公司 (south branch)
        └── 华南大客户部 (south KA department) ← 赵强 (outsider in another branch)
Executive, finance, service and admin users sit at the company level.
"""

import types

import pytest
from django.test import Client

from kam.accounts import services as account_services
from kam.core.models import ApiToken
from kam.org import services as org_services
from kam.org.models import DataScope, DepartmentKind, Role

PASSWORD = "Kam-test-pass-2026"


@pytest.fixture
def org(db):
    mk = org_services.department_create
    company = mk(actor=None, name="总公司", kind=DepartmentKind.COMPANY)
    east = mk(actor=None, name="华东分公司", kind=DepartmentKind.BRANCH, parent=company)
    east_ka = mk(actor=None, name="华东大客户部", kind=DepartmentKind.KA_DEPARTMENT, parent=east)
    team_a = mk(actor=None, name="一组", kind=DepartmentKind.TEAM, parent=east_ka)
    team_b = mk(actor=None, name="二组", kind=DepartmentKind.TEAM, parent=east_ka)
    south = mk(actor=None, name="华南分公司", kind=DepartmentKind.BRANCH, parent=company)
    south_ka = mk(actor=None, name="华南大客户部", kind=DepartmentKind.KA_DEPARTMENT, parent=south)
    return types.SimpleNamespace(**locals())


def _user(username, role, department, scope=None, name=""):
    user = org_services.user_create(actor=None, username=username, password=None, role=role, department=department,
                                    data_scope=scope, display_name=name)  # fmt: skip
    return user


@pytest.fixture
def people(org):
    """The personas. Passwords are unusable (fast); tests that log in through the form set one."""
    return types.SimpleNamespace(
        manager=_user("lina", Role.KA_MANAGER, org.team_a, name="李娜"),
        colleague=_user("wangwei", Role.KA_MANAGER, org.team_a, name="王伟"),
        dept_viewer=_user("zhoumin", Role.KA_MANAGER, org.team_a, DataScope.DEPARTMENT, name="周敏"),
        sibling=_user("sunli", Role.KA_MANAGER, org.team_b, name="孙丽"),
        outsider=_user("zhaoqiang", Role.KA_MANAGER, org.south_ka, name="赵强"),
        head=_user("chen", Role.KA_HEAD, org.east_ka, name="陈主任"),
        executive=_user("boss", Role.EXECUTIVE, org.company, name="刘总"),
        finance=_user("caiwu", Role.FINANCE, org.company, name="财务"),
        service=_user("kefu", Role.SERVICE, org.east, name="客服"),
        admin=_user("admin", Role.ADMIN, org.company, name="管理员"),
    )


@pytest.fixture
def make_account():
    counter = {"n": 0}

    def make(owner, name=None, **fields):
        counter["n"] += 1
        fields.setdefault("name", name or f"测试客户{counter['n']:03d}有限公司")
        return account_services.account_create(actor=owner, fields={**fields, "owner": owner})

    return make


@pytest.fixture
def make_contact():
    def make(account, actor=None, name="张三", position=None, **fields):
        return account_services.contact_create(
            actor=actor or account.owner, account=account, fields={"name": name, **fields}, position=position or {}
        )

    return make


class ApiClient:
    """A JSON client for /api/v1 authenticated with a bearer token."""

    def __init__(self, user):
        self.client = Client(HTTP_HOST="localhost")
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user)}"} if user else {}

    def _call(self, method, path, data=None, **extra):
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        kwargs = {**self.headers, **extra}
        if method in ("get", "delete"):
            return getattr(self.client, method)(url, data or {}, **kwargs)
        return getattr(self.client, method)(
            url, data if data is not None else {}, content_type="application/json", **kwargs
        )

    def get(self, path, data=None, **extra):
        return self._call("get", path, data, **extra)

    def post(self, path, data=None, **extra):
        return self._call("post", path, data, **extra)

    def patch(self, path, data=None, **extra):
        return self._call("patch", path, data, **extra)

    def put(self, path, data=None, **extra):
        return self._call("put", path, data, **extra)

    def delete(self, path, data=None, **extra):
        return self._call("delete", path, data, **extra)


@pytest.fixture
def api():
    return ApiClient


@pytest.fixture
def page_client():
    """A logged-in page client for a user."""

    def make(user):
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    return make

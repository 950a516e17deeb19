"""The customer-archive API: authentication, bad input, lists and filters, contacts, attachments,
visitors, teams and history (ARC-1, ARC-2, ARC-3, ARC-5, ARC-7, GOV-1, GOV-7).

Bad input always gets a 4xx JSON answer that names the field, in the caller's language; never a 500.
"""

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kam.accounts import services
from kam.accounts.models import Account, AccountContact, AccountTeamMember, Contact, Visitor, VisitorStatus
from kam.core.models import ApiToken, AuditAction, AuditEvent
from tests.conftest import PASSWORD

VALID_CODE = "911000001000013428"  # 中国银行股份有限公司
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"


@pytest.fixture(autouse=True)
def private_files(settings, tmp_path):
    """Attachments go to a directory of this test, not the shared data directory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def fields_named(response) -> set:
    return {e["field"] for e in response.json()["errors"]}


def assert_error(response, status, field=None):
    """A 4xx answer with a JSON body (`detail`, `errors`) that names the field."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["detail"]
    if field is not None:
        assert field in fields_named(response), body
    return body


def with_password(user):
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


# --- authentication ---------------------------------------------------------------------------------


def test_token_for_the_right_password_opens_the_api(people):
    with_password(people.manager)
    client = Client()
    response = client.post(
        "/api/v1/auth/token", {"username": "lina", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.json()["username"] == "lina"


def test_wrong_password_is_401_json_in_the_users_language(people):
    with_password(people.manager)
    response = Client().post("/api/v1/auth/token", {"username": "lina", "password": "wrong-password"},
                             content_type="application/json", **EN)  # fmt: skip
    body = assert_error(response, 401)
    assert body["detail"] == "Wrong username or password."
    assert "token" not in body


def test_repeated_failures_lock_the_token_endpoint_even_for_the_right_password(people):
    """GOV-7: django-axes locks the username after AXES_FAILURE_LIMIT failures; 429 while locked."""
    with_password(people.manager)
    client = Client()
    statuses = [
        client.post(
            "/api/v1/auth/token", {"username": "lina", "password": f"wrong-{i}"}, content_type="application/json"
        ).status_code
        for i in range(django_settings.AXES_FAILURE_LIMIT)
    ]
    assert set(statuses) <= {401, 429} and statuses[0] == 401
    response = client.post("/api/v1/auth/token", {"username": "lina", "password": PASSWORD},
                           content_type="application/json", **EN)  # fmt: skip
    body = assert_error(response, 429)
    assert "locked" in body["detail"]
    assert not ApiToken.objects.filter(user=people.manager).exists()


def test_repeated_failures_lock_the_login_page_too(people):
    with_password(people.manager)
    client = Client()
    for i in range(django_settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "lina", "password": f"wrong-{i}"})
    response = client.post("/login/", {"username": "lina", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # The lock is per username, on the page and the API alike.
    api_answer = Client(REMOTE_ADDR="10.0.0.9").post("/api/v1/auth/token", {"username": "lina", "password": PASSWORD},
                                                     content_type="application/json")  # fmt: skip
    assert api_answer.status_code == 429


def test_login_page_signs_in_with_the_right_password(people):
    with_password(people.manager)
    client = Client()
    response = client.post("/login/", {"username": "lina", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(people.manager.pk)


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic bGluYTpwdw==", "Bearer "])
def test_unauthenticated_calls_get_401_json(people, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/api/v1/accounts", **extra, **EN)
    body = assert_error(response, 401)
    assert body["detail"] == "Authentication required."


def test_expired_token_and_inactive_user_are_refused(people, api):
    expired = api(people.manager)
    ApiToken.objects.filter(user=people.manager).update(expires_at="2000-01-01T00:00:00Z")
    assert expired.get("/me").status_code == 401
    inactive = api(people.colleague)
    people.colleague.is_active = False
    people.colleague.save(update_fields=["is_active"])
    assert inactive.get("/me").status_code == 401


def test_session_auth_needs_the_csrf_token_on_writes(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.manager)
    assert client.get("/api/v1/accounts").status_code == 200
    refused = client.post("/api/v1/accounts", {"name": "会话公司"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("application/json")
    assert not Account.objects.filter(name="会话公司").exists()
    client.get("/accounts/new/")  # a page with a form sets the CSRF cookie
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    accepted = client.post(
        "/api/v1/accounts", {"name": "会话公司"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 201, accepted.content


# --- accounts: bad input (ARC-1, ARC-5) ---------------------------------------------------------------


def test_arc1_create_account_returns_the_record(people, api):
    response = api(people.manager).post("/accounts", {
        "name": "中国银行股份有限公司", "short_names": ["中行"], "credit_code": VALID_CODE.lower(), "industry": "finance",
        "ownership": "listed", "employees": 300000, "annual_revenue": "600000000000.00", "province": "11",
        "city": "1101", "phone": "010-66596688", "lifecycle": "customer", "tags": ["世界500强"],
    })  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credit_code"] == VALID_CODE and body["phone"] == "+861066596688"
    assert body["owner"]["id"] == people.manager.pk and body["version"] == 1
    assert body["annual_revenue"] == "600000000000.00" and body["tags"] == ["世界500强"]
    assert body["region"]


def test_arc1_invalid_credit_code_is_422_naming_the_field(people, api):
    response = api(people.manager).post("/accounts", {"name": "甲公司", "credit_code": "12345"}, **EN)
    body = assert_error(response, 422, "credit_code")
    assert "18 characters" in body["detail"]
    wrong_check = VALID_CODE[:-1] + "9"
    response = api(people.manager).post("/accounts", {"name": "甲公司", "credit_code": wrong_check}, **EN)
    assert "check character" in assert_error(response, 422, "credit_code")["detail"]
    confirmed = api(people.manager).post("/accounts", {"name": "甲公司", "credit_code": wrong_check,
                                                       "credit_code_exception": True})  # fmt: skip
    assert confirmed.status_code == 201


def test_arc1_errors_come_in_chinese_by_default(people, api):
    """The message text is translated later (.po); here: 4xx JSON naming the field."""
    response = api(people.manager).post("/accounts", {"name": "甲公司", "credit_code": "12345"}, **ZH)
    assert_error(response, 422, "credit_code")
    response = api(people.manager).post("/accounts", {"name": "x" * 201}, **ZH)
    assert_error(response, 422, "name")


def test_arc5_duplicate_company_is_409_with_the_duplicates(people, api, make_account):
    existing = make_account(people.manager, name="中国银行股份有限公司", credit_code=VALID_CODE)
    response = api(people.manager).post("/accounts", {"name": "中国银行有限责任公司"}, **EN)
    body = assert_error(response, 409, "name")
    assert body["detail"] == "This company is already in KAM."
    assert body["duplicates"] == [{"id": existing.pk, "name": existing.name, "owner": "李娜", "archived": False,
                                   "matched_on": ["name"], "visible": True}]  # fmt: skip
    by_code = api(people.colleague).post("/accounts", {"name": "另一个名字", "credit_code": VALID_CODE})
    assert by_code.status_code == 409
    assert by_code.json()["duplicates"] == [{"id": None, "name": None, "owner": None, "archived": None,
                                             "matched_on": ["credit_code"], "visible": False}]  # fmt: skip
    assert Account.objects.count() == 1


def test_arc5_same_phone_needs_a_confirmation(people, api, make_account):
    make_account(people.manager, name="甲公司", phone="010-66596688")
    client = api(people.manager)
    response = client.post("/accounts", {"name": "乙公司", "phone": "01066596688"})
    body = assert_error(response, 409)
    assert body["confirmable"] is True and body["duplicates"][0]["matched_on"] == ["phone"]
    assert (
        client.post("/accounts", {"name": "乙公司", "phone": "01066596688", "confirm_duplicates": True}).status_code
        == 201
    )


def test_arc5_duplicate_check_endpoint(people, api, make_account):
    mine = make_account(people.manager, name="中国银行股份有限公司", phone="010-66596688")
    make_account(people.outsider, name="招商银行股份有限公司", credit_code=VALID_CODE)
    client = api(people.manager)
    [hit] = client.get("/accounts/duplicates", {"name": "中国银行"}).json()
    assert hit["id"] == mine.pk and hit["visible"] is True
    [hit] = client.get("/accounts/duplicates", {"credit_code": VALID_CODE.lower()}).json()
    assert hit == {
        "id": None,
        "name": None,
        "owner": None,
        "archived": None,
        "matched_on": ["credit_code"],
        "visible": False,
    }
    [hit] = client.get("/accounts/duplicates", {"phone": "010 6659 6688"}).json()
    assert hit["matched_on"] == ["phone"]
    assert client.get("/accounts/duplicates", {"name": "中国银行", "exclude": mine.pk}).json() == []
    assert client.get("/accounts/duplicates", {"phone": "not a phone"}).json() == []


def test_arc1_stale_version_is_409_with_the_current_record(people, api, make_account):
    account = make_account(people.manager, name="甲公司")
    client = api(people.manager)
    first = client.patch(f"/accounts/{account.pk}", {"version": 1, "address": "一号路"})
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = client.patch(f"/accounts/{account.pk}", {"version": 1, "address": "二号路"}, **EN)
    body = assert_error(stale, 409, "version")
    assert body["current"]["version"] == 2 and body["current"]["address"] == "一号路"
    assert Account.objects.get(pk=account.pk).address == "一号路"
    archive = client.post(f"/accounts/{account.pk}/archive", {"version": 1})
    assert_error(archive, 409, "version")


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "x" * 201}, "name"),
        ({"name": "甲公司", "description": "长" * 5001}, "description"),
        ({"name": "甲公司", "address": "路" * 301}, "address"),
        ({"name": "甲公司", "employees": "abc"}, "employees"),
        ({"name": "甲公司", "employees": -1}, "employees"),
        ({"name": "甲公司", "employees": 1.5}, "employees"),
        ({"name": "甲公司", "annual_revenue": "lots"}, "annual_revenue"),
        ({"name": "甲公司", "annual_revenue": "-5"}, "annual_revenue"),
        ({"name": "甲公司", "annual_revenue": "1.234"}, "annual_revenue"),
        ({"name": "甲公司", "lifecycle": "friend"}, "lifecycle"),
        ({"name": "甲公司", "industry": "piracy"}, "industry"),
        ({"name": "甲公司", "ownership": "secret"}, "ownership"),
        ({"name": "甲公司", "procurement_mode": "random"}, "procurement_mode"),
        ({"name": "甲公司", "province": "99"}, "province"),
        ({"name": "甲公司", "province": "11", "city": "4403"}, "city"),
        ({"name": "甲公司", "phone": "12"}, "phone"),
        ({"name": "甲公司", "website": "not a url"}, "website"),
        ({"name": "甲公司", "short_names": "中行"}, "short_names"),
        ({"name": "甲公司", "short_names": ["名" * 51]}, "short_names"),
        ({"name": "甲公司", "tags": ["标" * 41]}, "tags"),
        ({"name": "甲公司", "parent_id": 999999}, "parent"),
        ({"name": "甲公司", "owner_id": 999999}, "owner_id"),
        ({"name": "甲公司", "credit_code_exception": "maybe"}, "credit_code_exception"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({}, "name"),
        ({"name": None}, "name"),
        ({"name": ["甲公司"]}, "name"),
    ],
)  # fmt: skip
def test_arc1_bad_account_input_is_422_naming_the_field(people, api, payload, field):
    response = api(people.manager).post("/accounts", payload, **EN)
    assert_error(response, 422, field)
    assert not Account.objects.exists()


def test_arc1_error_messages_are_in_english_when_asked(people, api):
    client = api(people.manager)
    body = assert_error(client.post("/accounts", {"name": "x" * 201}, **EN), 422, "name")
    assert body["errors"][0]["message"] == "Ensure this value has at most 200 characters."
    body = assert_error(client.post("/accounts", {"name": "甲公司", "employees": "abc"}, **EN), 422, "employees")
    assert body["errors"][0]["message"] == "Enter a number."
    body = assert_error(client.post("/accounts", {"name": "甲公司", "lifecycle": "friend"}, **EN), 422, "lifecycle")
    assert "is not a valid choice" in body["errors"][0]["message"]


@pytest.mark.parametrize("field, value", [("name", "x" * 201), ("employees", "abc"), ("lifecycle", "friend"),
                                          ("employees", -3), ("owner_id", "somebody")])  # fmt: skip
def test_arc1_bad_patch_is_422_and_changes_nothing(people, api, make_account, field, value):
    account = make_account(people.manager, name="甲公司")
    response = api(people.manager).patch(f"/accounts/{account.pk}", {"version": 1, field: value})
    assert_error(response, 422, field)
    account.refresh_from_db()
    assert account.version == 1 and account.name == "甲公司"


def test_patch_without_version_is_422(people, api, make_account):
    account = make_account(people.manager)
    assert_error(api(people.manager).patch(f"/accounts/{account.pk}", {"name": "新名字"}), 422, "version")


def test_gov1_manager_cannot_give_her_account_away(people, api, make_account):
    account = make_account(people.manager)
    response = api(people.manager).patch(f"/accounts/{account.pk}", {"version": 1, "owner_id": people.colleague.pk})
    assert_error(response, 422, "owner")
    head = api(people.head).patch(f"/accounts/{account.pk}", {"version": 1, "owner_id": people.colleague.pk})
    assert head.status_code == 200 and head.json()["owner"]["id"] == people.colleague.pk


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2]", b'"just a string"', b"null", b'{"name": "\xff\xfe"}', b"{" * 1000],
    ids=["broken", "empty", "list", "string", "null", "bad-utf8", "deep"],
)
def test_malformed_json_body_is_4xx_json_not_500(people, api, body):
    client = api(people.manager)
    response = client.client.post("/api/v1/accounts", body, content_type="application/json", **client.headers)
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    ["/accounts/abc", "/accounts/99999999999999999999999", "/accounts?page=0", "/accounts?page=abc",
     "/accounts?page_size=-1", "/accounts?owner=abc", "/accounts?include_archived=perhaps", "/contacts/1.5",
     "/visitors/abc", "/search", "/accounts/duplicates?exclude=abc"],
)  # fmt: skip
def test_bad_path_and_query_values_are_4xx_json(people, api, path):
    response = api(people.manager).get(path)
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")


def test_unknown_record_is_404_json(people, api):
    body = assert_error(api(people.manager).get("/accounts/424242", **EN), 404)
    assert body["detail"] == "Not found."


# --- lists, pagination and filters --------------------------------------------------------------------


def test_list_pagination_reports_count_and_pages(people, api, make_account):
    for i in range(5):
        make_account(people.manager, name=f"分页客户{i}有限公司")
    make_account(people.outsider, name="外地客户有限公司")
    client = api(people.manager)
    first = client.get("/accounts", {"page_size": 2}).json()
    assert first["count"] == 5 and len(first["items"]) == 2
    third = client.get("/accounts", {"page_size": 2, "page": 3}).json()
    assert third["count"] == 5 and len(third["items"]) == 1
    beyond = client.get("/accounts", {"page_size": 2, "page": 9}).json()
    assert beyond == {"items": [], "count": 5}
    names = [
        a["name"] for page in (1, 2, 3) for a in client.get("/accounts", {"page_size": 2, "page": page}).json()["items"]
    ]
    assert names == [f"分页客户{i}有限公司" for i in range(5)]  # pinyin order, no repeats across pages
    capped = client.get("/accounts", {"page_size": 10_000}).json()
    assert capped["count"] == 5


@pytest.fixture
def filter_world(people, make_account):
    """Two accounts of the manager and one of her sibling-team colleague, differing in every filter."""
    return {
        "bank": make_account(people.manager, name="中国银行股份有限公司", province="11", city="1101", industry="finance",
                             ownership="listed", lifecycle="customer"),
        "soft": make_account(people.manager, name="深圳软件有限公司", province="44", city="4403", industry="it",
                             ownership="private", lifecycle="prospect"),
        "steel": make_account(people.sibling, name="上海钢铁有限公司", province="31", industry="manufacturing",
                              ownership="state_owned", lifecycle="dormant"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, {"bank", "soft", "steel"}),
        ({"owner": "manager"}, {"bank", "soft"}),
        ({"owner": "sibling"}, {"steel"}),
        ({"department": "team_b"}, {"steel"}),
        ({"department": "team_a"}, {"bank", "soft"}),
        ({"province": "11"}, {"bank"}),
        ({"city": "4403"}, {"soft"}),
        ({"industry": "it"}, {"soft"}),
        ({"ownership": "state_owned"}, {"steel"}),
        ({"lifecycle": "customer"}, {"bank"}),
        ({"q": "中行"}, set()),  # no short name given: fragments must be in the name
        ({"q": "银行"}, {"bank"}),
        ({"q": "zhongguo"}, {"bank"}),
        ({"q": "shgt"}, {"steel"}),
        ({"lifecycle": "lost"}, set()),
        ({"industry": "finance", "province": "44"}, set()),
    ],
)  # fmt: skip
def test_arc6_each_list_filter(people, org, api, filter_world, params, expected):
    """The head sees team A and team B; every filter narrows the list and its count."""
    lookup = {
        "manager": people.manager.pk,
        "sibling": people.sibling.pk,
        "team_a": org.team_a.pk,
        "team_b": org.team_b.pk,
    }
    query = {k: lookup.get(v, v) for k, v in params.items()}
    body = api(people.head).get("/accounts", query).json()
    assert {a["id"] for a in body["items"]} == {filter_world[k].pk for k in expected}
    assert body["count"] == len(expected)


def test_arc6_list_filters_stay_within_scope(people, api, filter_world):
    body = api(people.manager).get("/accounts", {"owner": people.sibling.pk}).json()
    assert body == {"items": [], "count": 0}
    body = api(people.manager).get("/accounts", {"q": "钢铁"}).json()
    assert body["count"] == 0


def test_arc1_archived_accounts_are_listed_only_when_asked(people, api, make_account):
    account = make_account(people.manager, name="甲公司")
    client = api(people.manager)
    assert (
        client.post(f"/accounts/{account.pk}/archive", {"version": 1, "reason": "合并"}).json()["is_archived"] is True
    )
    assert client.get("/accounts").json()["count"] == 0
    assert client.get("/accounts", {"include_archived": True}).json()["count"] == 1
    assert client.get(f"/accounts/{account.pk}").json()["is_archived"] is True  # still reachable directly


# --- contacts and positions (ARC-2) ---------------------------------------------------------------------


def test_arc2_contact_with_positions_at_two_accounts(people, api, make_account):
    bank, branch = make_account(people.manager, name="甲银行"), make_account(people.manager, name="乙银行")
    client = api(people.manager)
    created = client.post("/contacts", {"account_id": bank.pk, "name": "张三", "mobile": "138 0013 8000",
                                        "position": {"title": "行长", "buying_role": "decision_maker", "influence": 5}})  # fmt: skip
    assert created.status_code == 201, created.content
    contact = created.json()
    assert contact["mobile"] == "+8613800138000"
    second = client.put(f"/contacts/{contact['id']}/positions/{branch.pk}", {"title": "董事", "influence": 4})
    assert second.status_code == 200, second.content
    positions = client.get(f"/contacts/{contact['id']}/positions").json()
    assert {(p["account"]["id"], p["title"]) for p in positions} == {(bank.pk, "行长"), (branch.pk, "董事")}
    assert [c["id"] for c in client.get("/contacts", {"account": branch.pk}).json()["items"]] == [contact["id"]]
    assert client.get("/contacts").json()["count"] == 1  # one contact, not one row per position
    [position] = client.get(f"/accounts/{bank.pk}/contacts").json()
    assert position["buying_role"] == "decision_maker" and position["influence"] == 5


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "x" * 51}, "name"),
        ({"name": "张三", "birthday": "yesterday"}, "birthday"),
        ({"name": "张三", "birthday": "2999-01-01"}, "birthday"),
        ({"name": "张三", "birth_year": 1800}, "birth_year"),
        ({"name": "张三", "email": "not-an-email"}, "email"),
        ({"name": "张三", "mobile": "12345"}, "mobile"),
        ({"name": "张三", "gender": "robot"}, "gender"),
        ({"name": "张三", "personality": "grumpy"}, "personality"),
        ({"name": "张三", "notes": "长" * 5001}, "notes"),
        ({"name": "张三", "position": {"influence": 9}}, "position.influence"),
        ({"name": "张三", "position": {"influence": 0}}, "position.influence"),
        ({"name": "张三", "position": {"buying_role": "spy"}}, "buying_role"),
        ({"name": "张三", "position": {"attitude": "hostile"}}, "attitude"),
        ({"name": "张三", "position": {"reports_to": 999999}}, "reports_to"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
    ],
)  # fmt: skip
def test_arc2_bad_contact_input_is_422_naming_the_field(people, api, make_account, payload, field):
    account = make_account(people.manager)
    response = api(people.manager).post("/contacts", {"account_id": account.pk, **payload}, **EN)
    assert_error(response, 422, field)
    assert not Contact.objects.exists()


def test_arc2_bad_position_and_contact_updates_are_422(people, api, make_account, make_contact):
    account = make_account(people.manager)
    contact = make_contact(account)
    client = api(people.manager)
    assert_error(client.put(f"/contacts/{contact.pk}/positions/{account.pk}", {"influence": 9}), 422, "influence")
    assert_error(client.put(f"/contacts/{contact.pk}/positions/{account.pk}", {"influence": "high"}), 422, "influence")
    assert_error(client.patch(f"/contacts/{contact.pk}", {"version": 1, "birthday": "yesterday"}), 422, "birthday")
    stale = client.patch(f"/contacts/{contact.pk}", {"version": 7, "notes": "新备注"})
    assert assert_error(stale, 409, "version")["current"]["version"] == 1


def test_arc2_reports_to_builds_the_org_chart_and_refuses_a_loop(people, api, make_account, make_contact):
    account = make_account(people.manager)
    boss, deputy = make_contact(account, name="王总"), make_contact(account, name="李副总")
    client = api(people.manager)
    assert client.put(f"/contacts/{deputy.pk}/positions/{account.pk}", {"reports_to": boss.pk}).status_code == 200
    chart = client.get(f"/accounts/{account.pk}/org-chart").json()
    assert [n["name"] for n in chart["children"]] == ["王总"]
    assert [n["name"] for n in chart["children"][0]["children"]] == ["李副总"]
    assert_error(
        client.put(f"/contacts/{boss.pk}/positions/{account.pk}", {"reports_to": deputy.pk}), 422, "reports_to"
    )


def test_arc2_reports_to_is_a_contact_id_even_where_a_position_has_that_number(people, api, make_account):
    """The boss is named by contact id; a position id of the same number must not be taken instead
    (that made the contact report to itself: a "loop" on PostgreSQL, where the numbers differ)."""
    account = make_account(people.manager)
    boss = Contact.objects.create(pk=900_001, name="王总", created_by=people.manager)
    AccountContact.objects.create(account=account, contact=boss)
    deputy = Contact.objects.create(name="李副总", created_by=people.manager)
    AccountContact.objects.create(pk=900_001, account=account, contact=deputy)
    response = api(people.manager).put(f"/contacts/{deputy.pk}/positions/{account.pk}", {"reports_to": boss.pk})
    assert response.status_code == 200, response.content
    assert response.json()["reports_to_contact_id"] == boss.pk


def test_arc2_personal_file_opening_is_audited(people, api, make_account, make_contact):
    account = make_account(people.manager)
    contact = make_contact(account, birthday="1980-05-01", hometown="苏州", family_notes="女儿在读大学")
    response = api(people.manager).get(f"/contacts/{contact.pk}/personal-file")
    assert response.status_code == 200
    body = response.json()
    assert body["hometown"] == "苏州" and body["birthday"] == "1980-05-01" and body["age"] >= 45
    event = AuditEvent.objects.get(action=AuditAction.VIEW_PERSONAL)
    assert event.actor == people.manager and event.target_id == str(contact.pk) and event.account_id == account.pk
    plain = api(people.manager).get(f"/contacts/{contact.pk}").json()
    assert "birthday" not in plain and "family_notes" not in plain  # only through the audited endpoint
    assert AuditEvent.objects.filter(action=AuditAction.VIEW_PERSONAL).count() == 1


def test_gov7_personal_file_of_a_foreign_contact_is_404_and_not_audited(people, api, make_account, make_contact):
    contact = make_contact(make_account(people.outsider))
    assert api(people.manager).get(f"/contacts/{contact.pk}/personal-file").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW_PERSONAL).exists()


# --- attachments ----------------------------------------------------------------------------------------


def upload(client, account, name, content, **data):
    return client.client.post(f"/api/v1/accounts/{account.pk}/attachments",
                              {"file": SimpleUploadedFile(name, content), **data}, **client.headers, **EN)  # fmt: skip


def test_attachment_pdf_upload_and_audited_download(people, api, make_account):
    account = make_account(people.manager)
    client = api(people.manager)
    response = upload(client, account, "营业执照.pdf", PDF, kind="licence", description="2026年版")
    assert response.status_code == 201, response.content
    attachment = response.json()
    assert attachment["content_type"] == "application/pdf" and attachment["size"] == len(PDF)
    assert attachment["original_name"] == "营业执照.pdf" and attachment["kind"] == "licence"
    assert [a["id"] for a in client.get(f"/accounts/{account.pk}/attachments").json()] == [attachment["id"]]
    download = client.get(f"/accounts/{account.pk}/attachments/{attachment['id']}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert "filename*=utf-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.pdf" in download["Content-Disposition"]
    event = AuditEvent.objects.get(action=AuditAction.DOWNLOAD)
    assert event.actor == people.manager and event.account_id == account.pk


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("setup.exe", EXE, "Files of this type are not accepted"),
        ("合同.pdf", EXE, "does not match its type"),
        ("photo.png", PDF, "does not match its type"),
        ("noextension", PDF, "Files of this type are not accepted"),
        ("empty.pdf", b"", "empty"),
    ],
)  # fmt: skip
def test_attachment_of_a_refused_type_is_422(people, api, make_account, name, content, message):
    account = make_account(people.manager)
    body = assert_error(upload(api(people.manager), account, name, content), 422, "file")
    assert message in body["detail"]
    assert not account.attachments.exists()


def test_attachment_too_large_is_refused(people, api, make_account, settings):
    settings.ATTACHMENT_MAX_BYTES = 16
    account = make_account(people.manager)
    body = assert_error(upload(api(people.manager), account, "big.pdf", PDF + b"x" * 64), 422, "file")
    assert "larger than" in body["detail"]
    assert not account.attachments.exists()


def test_attachment_without_a_file_or_with_a_bad_kind_is_422(people, api, make_account):
    account = make_account(people.manager)
    client = api(people.manager)
    missing = client.client.post(f"/api/v1/accounts/{account.pk}/attachments", {"kind": "other"}, **client.headers)
    assert_error(missing, 422, "file")
    assert_error(upload(client, account, "a.pdf", PDF, kind="secret"), 422, "kind")


def test_gov7_attachment_download_by_someone_who_cannot_see_the_account_is_404(people, api, make_account):
    account = make_account(people.manager)
    attachment = services.attachment_add(actor=people.manager, account=account,
                                         upload=SimpleUploadedFile("合同.pdf", PDF))  # fmt: skip
    for persona in (people.outsider, people.colleague, people.sibling):
        response = api(persona).get(f"/accounts/{account.pk}/attachments/{attachment.pk}")
        assert_error(response, 404)
    assert not AuditEvent.objects.filter(action=AuditAction.DOWNLOAD).exists()
    assert api(people.head).get(f"/accounts/{account.pk}/attachments/{attachment.pk}").status_code == 200


# --- dynamic information (ARC-7) -------------------------------------------------------------------------


def test_arc7_dynamic_information_is_added_newest_first_and_validated(people, api, make_account):
    account = make_account(people.manager)
    client = api(people.manager)
    for day, text in (("2026-01-02", "换了采购负责人"), ("2026-03-01", "新厂区开工")):
        assert client.post(f"/accounts/{account.pk}/updates", {"happened_on": day, "content": text}).status_code == 201
    assert [u["content"] for u in client.get(f"/accounts/{account.pk}/updates").json()] == [
        "新厂区开工",
        "换了采购负责人",
    ]
    assert_error(client.post(f"/accounts/{account.pk}/updates", {"happened_on": "2026-01-02", "content": "长" * 5001}),
                 422, "content")  # fmt: skip
    assert_error(
        client.post(f"/accounts/{account.pk}/updates", {"happened_on": "soon", "content": "x"}), 422, "happened_on"
    )
    assert_error(
        client.post(f"/accounts/{account.pk}/updates", {"happened_on": "2026-01-02", "content": ""}), 422, "content"
    )
    assert_error(client.post(f"/accounts/{account.pk}/updates", {"content": "x"}), 422, "happened_on")


# --- visitors (ARC-3) --------------------------------------------------------------------------------------


def test_arc3_visitor_is_recorded_and_promoted_to_a_new_account(people, api):
    client = api(people.manager)
    created = client.post("/visitors", {"name": "钱先生", "visited_on": "2026-02-01", "phone": "13800138000",
                                        "employer": "钱氏贸易有限公司", "intention": "采购打印机"})  # fmt: skip
    assert created.status_code == 201, created.content
    visitor = created.json()
    assert visitor["owner"]["id"] == people.manager.pk and visitor["status"] == "new"
    promoted = client.post(f"/visitors/{visitor['id']}/promote", {})
    assert promoted.status_code == 200, promoted.content
    contact = promoted.json()
    assert contact["name"] == "钱先生" and contact["mobile"] == "+8613800138000"
    stored = Visitor.objects.get(pk=visitor["id"])
    assert stored.status == VisitorStatus.PROMOTED and stored.account.name == "钱氏贸易有限公司"
    assert stored.account.owner == people.manager and stored.account.lead_source == "walk_in"
    again = client.post(f"/visitors/{visitor['id']}/promote", {})
    assert_error(again, 422, "status")


def test_arc3_visitor_is_promoted_to_an_existing_account(people, api, make_account):
    account = make_account(people.manager, name="钱氏贸易有限公司")
    client = api(people.manager)
    visitor = client.post("/visitors", {"name": "钱先生", "visited_on": "2026-02-01"}).json()
    contact = client.post(f"/visitors/{visitor['id']}/promote", {"account_id": account.pk}).json()
    assert [p["account"]["id"] for p in client.get(f"/contacts/{contact['id']}/positions").json()] == [account.pk]
    assert Account.objects.count() == 1


def test_arc3_promoting_a_visitor_whose_employer_exists_is_409(people, api, make_account):
    make_account(people.outsider, name="钱氏贸易有限公司")
    client = api(people.manager)
    visitor = client.post(
        "/visitors", {"name": "钱先生", "visited_on": "2026-02-01", "employer": "钱氏贸易有限公司"}
    ).json()
    body = assert_error(client.post(f"/visitors/{visitor['id']}/promote", {}), 409)
    assert body["duplicates"][0]["visible"] is False and body["duplicates"][0]["owner"] is None
    assert Visitor.objects.get(pk=visitor["id"]).status == VisitorStatus.NEW
    no_employer = client.post("/visitors", {"name": "孙女士", "visited_on": "2026-02-01"}).json()
    assert_error(client.post(f"/visitors/{no_employer['id']}/promote", {}), 422, "employer")


@pytest.mark.parametrize(
    "payload, field",
    [({"name": "钱先生"}, "visited_on"), ({"name": "钱先生", "visited_on": "next week"}, "visited_on"),
     ({"name": "钱先生", "visited_on": "2026-02-01", "phone": "12"}, "phone"),
     ({"name": "钱先生", "visited_on": "2026-02-01", "status": "vip"}, "status"),
     ({"name": "x" * 51, "visited_on": "2026-02-01"}, "name"), ({"visited_on": "2026-02-01"}, "name"),
     ({"name": "  ", "visited_on": "2026-02-01"}, "name")],
)  # fmt: skip
def test_arc3_bad_visitor_input_is_422(people, api, payload, field):
    assert_error(api(people.manager).post("/visitors", payload, **EN), 422, field)
    assert not Visitor.objects.exists()


def test_arc3_visitor_update_uses_versions(people, api):
    client = api(people.manager)
    visitor = client.post("/visitors", {"name": "钱先生", "visited_on": "2026-02-01"}).json()
    assert client.patch(f"/visitors/{visitor['id']}", {"version": 1, "status": "following"}).json()["version"] == 2
    assert_error(client.patch(f"/visitors/{visitor['id']}", {"version": 1, "status": "closed"}), 409, "version")


def test_gov7_visitor_of_another_manager_is_404_and_a_reader_cannot_change_it(people, api):
    visitor = api(people.manager).post("/visitors", {"name": "钱先生", "visited_on": "2026-02-01"}).json()
    assert api(people.colleague).get(f"/visitors/{visitor['id']}").status_code == 404
    assert api(people.dept_viewer).get(f"/visitors/{visitor['id']}").status_code == 200
    refused = api(people.dept_viewer).patch(f"/visitors/{visitor['id']}", {"version": 1, "status": "closed"})
    assert refused.status_code in (403, 404)
    assert api(people.head).patch(f"/visitors/{visitor['id']}", {"version": 1, "status": "closed"}).status_code == 200


# --- virtual team (GOV-1) --------------------------------------------------------------------------------


def test_gov1_team_member_set_and_removed(people, api, make_account):
    account = make_account(people.manager)
    owner, colleague = api(people.manager), api(people.colleague)
    assert colleague.get(f"/accounts/{account.pk}").status_code == 404
    member = owner.put(f"/accounts/{account.pk}/team/{people.colleague.pk}", {"access": "read", "duty": "技术支持"})
    assert member.status_code == 200 and member.json()["access"] == "read"
    assert colleague.get(f"/accounts/{account.pk}").status_code == 200
    assert colleague.patch(f"/accounts/{account.pk}", {"version": 1, "address": "一号路"}).status_code in (403, 404)
    owner.put(f"/accounts/{account.pk}/team/{people.colleague.pk}", {"access": "write"})
    assert colleague.patch(f"/accounts/{account.pk}", {"version": 1, "address": "一号路"}).status_code == 200
    assert [m["user"]["id"] for m in owner.get(f"/accounts/{account.pk}/team").json()] == [people.colleague.pk]
    assert owner.delete(f"/accounts/{account.pk}/team/{people.colleague.pk}").status_code == 204
    assert colleague.get(f"/accounts/{account.pk}").status_code == 404
    assert not AccountTeamMember.objects.exists()
    changes = AuditEvent.objects.filter(account_id=account.pk, action=AuditAction.UPDATE).count()
    assert changes >= 3  # set, change, remove are in the history


@pytest.mark.parametrize(
    "target, payload, field",
    [("owner", {"access": "read"}, "user"), ("nobody", {"access": "read"}, "user_id"),
     ("colleague", {"access": "admin"}, "access"), ("finance", {"access": "write"}, "access"),
     ("colleague", {"access": "read", "duty": "职" * 101}, "duty")],
)  # fmt: skip
def test_gov1_bad_team_member_is_422(people, api, make_account, target, payload, field):
    account = make_account(people.manager)
    user_id = {"owner": people.manager.pk, "nobody": 999999, "colleague": people.colleague.pk,
               "finance": people.finance.pk}[target]  # fmt: skip
    assert_error(api(people.manager).put(f"/accounts/{account.pk}/team/{user_id}", payload, **EN), 422, field)
    assert not AccountTeamMember.objects.exists()


def test_gov1_read_only_role_on_a_team_reads_but_does_not_write(people, api, make_account):
    account = make_account(people.outsider)
    owner = api(people.outsider)
    assert owner.put(f"/accounts/{account.pk}/team/{people.finance.pk}", {"access": "read"}).status_code == 200
    AccountTeamMember.objects.filter(user=people.finance).update(access="write")  # e.g. granted before a role change
    finance = api(people.finance)
    assert finance.get(f"/accounts/{account.pk}").status_code == 200
    assert finance.patch(f"/accounts/{account.pk}", {"version": 1, "address": "一号路"}).status_code in (403, 404)
    assert Account.objects.get(pk=account.pk).version == 1


# --- history ------------------------------------------------------------------------------------------------


def test_account_history_is_for_owner_heads_admins_and_executives(people, api, make_account, make_contact):
    account = make_account(people.manager)
    client = api(people.manager)
    client.patch(f"/accounts/{account.pk}", {"version": 1, "address": "一号路"})
    client.put(f"/accounts/{account.pk}/team/{people.colleague.pk}", {"access": "read"})
    contact = make_contact(account)
    client.get(f"/contacts/{contact.pk}/personal-file")
    history = client.get(f"/accounts/{account.pk}/history").json()
    actions = [e["action"] for e in history["items"]]
    assert history["count"] == len(actions) and "view_personal" not in actions
    assert actions.count("create") == 2 and actions.count("update") == 2
    assert any(
        c["field"] == "address" and (c["old"], c["new"]) == ("—", "一号路")
        for e in history["items"]
        for c in e["changes"]
    )
    for persona, status in ((people.head, 200), (people.admin, 200), (people.executive, 200), (people.colleague, 404),
                            (people.finance, 404), (people.service, 404), (people.outsider, 404)):  # fmt: skip
        assert api(persona).get(f"/accounts/{account.pk}/history").status_code == status, persona


def test_seg3_value_tier_is_set_filtered_and_validated(people, api):
    """SEG-3 value tier (set by hand until segmentation grades accounts), used by ENG-2's cadence rules."""
    client = api(people.manager)
    response = client.post("/accounts", {"name": "铂金客户有限公司", "lifecycle": "customer", "value_tier": "platinum"})
    assert response.status_code == 201 and response.json()["value_tier"] == "platinum"
    client.post("/accounts", {"name": "普通客户有限公司", "lifecycle": "customer"})
    listed = client.get("/accounts?value_tier=platinum").json()["items"]
    assert [a["name"] for a in listed] == ["铂金客户有限公司"]
    assert_error(
        client.post("/accounts", {"name": "钻石客户有限公司", "value_tier": "diamond"}, **EN), 422, "value_tier"
    )

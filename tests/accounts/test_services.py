"""Account services: create, update with versions, archive, duplicates (ARC-1, ARC-5, ARC-7)."""

import pytest
from django.core.exceptions import ValidationError

from kam.accounts import services
from kam.accounts.models import Account, AccountUpdate
from kam.core.errors import ConflictError, DuplicateError
from kam.core.models import AuditAction, AuditEvent

VALID_CODE = "911000001000013428"  # 中国银行股份有限公司


def test_arc1_create_account_with_all_fields_and_audit(people):
    account = services.account_create(
        actor=people.manager,
        fields={
            "name": "中国银行股份有限公司", "name_en": "Bank of China", "short_names": "中行, BOC",
            "credit_code": VALID_CODE.lower(), "industry": "finance", "ownership": "listed", "employees": 300000,
            "annual_revenue": "600000000000.00", "province": "11", "city": "1101", "district": "110102",
            "address": "复兴门内大街1号", "phone": "010-66596688", "website": "https://www.boc.cn",
            "procurement_mode": "centralized", "purchase_pattern": "continuous", "lead_source": "tender",
            "lifecycle": "customer",
        },
        tags=["世界500强"],
    )  # fmt: skip
    account.refresh_from_db()
    assert account.credit_code == VALID_CODE
    assert account.short_names == ["中行", "BOC"]
    assert account.phone == "+861066596688"
    assert account.owner == people.manager and account.department == people.manager.department
    assert [t.name for t in account.tags.all()] == ["世界500强"]
    event = AuditEvent.objects.get(action=AuditAction.CREATE, account_id=account.pk)
    assert event.actor == people.manager
    assert event.changes["name"] == [None, "中国银行股份有限公司"]


def test_arc1_credit_code_with_wrong_check_character_is_refused_unless_confirmed(people):
    bad = VALID_CODE[:-1] + "9"
    with pytest.raises(ValidationError) as e:
        services.account_create(actor=people.manager, fields={"name": "甲公司", "credit_code": bad})
    assert "credit_code" in e.value.message_dict
    account = services.account_create(
        actor=people.manager, fields={"name": "甲公司", "credit_code": bad, "credit_code_exception": True}
    )
    assert account.credit_code == bad and account.credit_code_exception


@pytest.mark.parametrize(
    "field, value",
    [("credit_code", "12345"), ("phone", "12"), ("province", "99"), ("city", "4403"), ("website", "not a url"),
     ("lifecycle", "friend"), ("name", "x" * 201)],
)  # fmt: skip
def test_arc1_bad_fields_are_named(people, field, value):
    with pytest.raises(ValidationError) as e:
        services.account_create(actor=people.manager, fields={"name": "乙公司", field: value})
    assert field in e.value.message_dict


@pytest.mark.parametrize(
    "second_name",
    [
        "中国银行股份有限公司",
        "中国银行有限责任公司",
        "中国银行（股份）有限公司",
        " 中国 银行 有限公司",
        "ＣＨＩＮＡ银行",
    ],
)
def test_arc5_same_normalized_name_is_a_duplicate(people, make_account, second_name):
    make_account(people.manager, name="中国银行股份有限公司")
    if second_name == "ＣＨＩＮＡ银行":
        make_account(people.manager, name="china银行")
    with pytest.raises(DuplicateError) as e:
        services.account_create(actor=people.manager, fields={"name": second_name})
    assert e.value.duplicates[0]["visible"] is True
    assert e.value.duplicates[0]["owner"] == "李娜"


def test_arc5_same_credit_code_is_a_duplicate(people, make_account):
    make_account(people.manager, name="中国银行股份有限公司", credit_code=VALID_CODE)
    with pytest.raises(DuplicateError) as e:
        services.account_create(actor=people.colleague, fields={"name": "另一个名字", "credit_code": VALID_CODE})
    assert e.value.duplicates[0]["matched_on"] == ["credit_code"]


def test_arc5_duplicate_outside_scope_is_caught_without_naming_it(people, make_account):
    make_account(people.outsider, name="广州某某有限公司")
    with pytest.raises(DuplicateError) as e:
        services.account_create(actor=people.manager, fields={"name": "广州某某有限公司"})
    [hit] = e.value.duplicates
    assert hit == {"id": None, "name": None, "owner": None, "archived": None, "matched_on": ["name"], "visible": False}


def test_arc5_same_phone_asks_for_confirmation(people, make_account):
    make_account(people.manager, name="丙公司", phone="021-12345678")
    with pytest.raises(DuplicateError) as e:
        services.account_create(actor=people.manager, fields={"name": "丁公司", "phone": "02112345678"})
    assert e.value.confirmable
    account = services.account_create(actor=people.manager, fields={"name": "丁公司", "phone": "02112345678"},
                                      confirm_duplicates=True)  # fmt: skip
    assert account.pk


def test_arc5_duplicate_check_on_edit(people, make_account):
    make_account(people.manager, name="戊公司")
    other = make_account(people.manager, name="己公司")
    with pytest.raises(DuplicateError):
        services.account_update(actor=people.manager, account=other, fields={"name": "戊有限公司"}, version=1)


def test_update_with_stale_version_conflicts_and_changes_nothing(people, make_account):
    account = make_account(people.manager, name="庚公司")
    services.account_update(actor=people.manager, account=account, fields={"address": "一号"}, version=1)
    with pytest.raises(ConflictError) as e:
        services.account_update(actor=people.manager, account=account, fields={"address": "二号"}, version=1)
    assert e.value.current.address == "一号"
    assert Account.objects.get(pk=account.pk).version == 2


def test_update_is_audited_with_old_and_new_values(people, make_account):
    account = make_account(people.manager, name="辛公司")
    services.account_update(actor=people.manager, account=account, fields={"lifecycle": "customer"}, version=1)
    event = AuditEvent.objects.filter(account_id=account.pk, action=AuditAction.UPDATE).get()
    assert event.changes == {"lifecycle": ["prospect", "customer"]}


def test_archive_keeps_the_record_and_audits(people, make_account):
    account = make_account(people.manager, name="壬公司")
    services.account_archive(actor=people.manager, account=account, version=1, reason="客户注销")
    account.refresh_from_db()
    assert account.is_archived
    assert AuditEvent.objects.filter(account_id=account.pk, action=AuditAction.ARCHIVE).exists()


def test_arc1_group_hierarchy_refuses_loops(people, make_account):
    head = make_account(people.manager, name="总行")
    branch = make_account(people.manager, name="分行", parent=head.pk)
    assert branch.parent == head
    with pytest.raises(ValidationError) as e:
        services.account_update(actor=people.manager, account=head, fields={"parent": branch.pk}, version=head.version)
    assert "parent" in e.value.message_dict


def test_arc7_dynamic_information_is_added_never_overwritten(people, make_account):
    account = make_account(people.manager)
    services.account_update_add(
        actor=people.manager, account=account, happened_on="2026-01-05", content="客户换了采购负责人"
    )
    services.account_update_add(actor=people.manager, account=account, happened_on="2026-02-01", content="新项目立项")
    assert list(AccountUpdate.objects.filter(account=account).values_list("content", flat=True)) == [
        "新项目立项",
        "客户换了采购负责人",
    ]


def test_ka_manager_cannot_create_for_someone_else(people):
    with pytest.raises(ValidationError) as e:
        services.account_create(actor=people.manager, fields={"name": "癸公司", "owner": people.colleague})
    assert "owner" in e.value.message_dict


def test_finance_cannot_create_accounts(people):
    with pytest.raises(ValidationError):
        services.account_create(actor=people.finance, fields={"name": "子公司"})

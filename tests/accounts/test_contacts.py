"""Contacts, the buying centre and the personal file (ARC-2, SEG-9), visitors (ARC-3)."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from kam.accounts import selectors, services
from kam.accounts.models import AccountContact, Personality, Visitor, VisitorStatus
from kam.core.models import AuditAction, AuditEvent


def test_arc2_contact_with_position_and_personal_file(people, make_account):
    account = make_account(people.manager)
    contact = services.contact_create(
        actor=people.manager, account=account,
        fields={"name": "王建国", "mobile": "138 1234 5678", "birthday": "1975-03-08", "birthday_is_lunar": True,
                "hometown": "湖南长沙", "interests": "钓鱼", "personality": "doubtful", "family_notes": "女儿读高三"},
        position={"title": "采购总监", "buying_role": "decision_maker", "influence": 5, "attitude": "supportive"},
    )  # fmt: skip
    assert contact.mobile == "+8613812345678"
    position = AccountContact.objects.get(contact=contact)
    assert (position.title, position.buying_role, position.influence) == ("采购总监", "decision_maker", 5)


def test_seg9_personality_comes_with_handling_advice(people, make_account, make_contact):
    contact = make_contact(make_account(people.manager), personality=Personality.SELF_RIGHTEOUS)
    with translation.override("en"):
        assert "argue" in str(contact.personality_advice)
    assert len(Personality.choices) == 8


def test_arc2_opening_the_personal_file_is_audited(people, make_account, make_contact):
    contact = make_contact(make_account(people.manager), hometown="苏州")
    personal = services.contact_personal_file(actor=people.head, contact=contact)
    assert personal["hometown"] == "苏州"
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW_PERSONAL, actor=people.head, target_id=str(contact.pk)
    ).exists()


def test_arc2_org_chart_follows_reports_to(people, make_account, make_contact):
    account = make_account(people.manager)
    boss = make_contact(account, name="总经理甲", position={"influence": 5, "attitude": "champion"})
    make_contact(account, name="采购乙", position={"reports_to": boss.pk, "influence": 3, "attitude": "opposed"})
    chart = selectors.org_chart(account)
    [root] = chart["children"]
    assert root["name"] == "总经理甲" and root["attitude"] == "champion" and root["influence"] == 5
    assert [c["name"] for c in root["children"]] == ["采购乙"]


def test_arc2_reports_to_must_be_at_the_same_account_and_not_loop(people, make_account, make_contact):
    a, b = make_account(people.manager), make_account(people.manager)
    elsewhere = make_contact(b, name="外人")
    with pytest.raises(ValidationError) as e:
        make_contact(a, name="甲", position={"reports_to": elsewhere.pk})
    assert "reports_to" in e.value.message_dict
    boss = make_contact(a, name="老板")
    worker = make_contact(a, name="员工", position={"reports_to": boss.pk})
    with pytest.raises(ValidationError):
        services.position_set(actor=people.manager, account=a, contact=boss, fields={"reports_to": worker.pk})


def test_arc2_contact_can_hold_positions_at_two_accounts(people, make_account, make_contact):
    a, b = make_account(people.manager), make_account(people.manager)
    contact = make_contact(a, name="兼职董事")
    services.position_set(
        actor=people.manager, account=b, contact=contact, fields={"title": "独立董事", "buying_role": "other"}
    )
    assert sorted(p.account_id for p in contact.positions.all()) == sorted([a.pk, b.pk])


@pytest.mark.parametrize(
    "fields, field", [({"mobile": "123"}, "mobile"), ({"birthday": "2999-01-01"}, "birthday"), ({"email": "nope"}, "email"),
                      ({"personality": "grumpy"}, "personality"), ({"birth_year": 1800}, "birth_year")],
)  # fmt: skip
def test_arc2_bad_contact_fields_are_named(people, make_account, fields, field):
    with pytest.raises(ValidationError) as e:
        services.contact_create(
            actor=people.manager, account=make_account(people.manager), fields={"name": "某人", **fields}
        )
    assert field in e.value.message_dict


def test_contact_update_audits_and_checks_version(people, make_account, make_contact):
    from kam.core.errors import ConflictError

    contact = make_contact(make_account(people.manager), name="李四")
    services.contact_update(actor=people.manager, contact=contact, fields={"wechat": "lisi"}, version=1)
    with pytest.raises(ConflictError):
        services.contact_update(actor=people.manager, contact=contact, fields={"wechat": "x"}, version=1)
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, target_id=str(contact.pk)).get().changes == {
        "wechat": ["", "lisi"]
    }


def test_arc3_visitor_is_recorded_and_promoted_to_a_new_account(people):
    visitor = services.visitor_create(actor=people.manager, fields={
        "name": "刘先生", "visited_on": "2026-11-20", "phone": "13900001111", "features": "戴眼镜，开黑色奥迪",
        "employer": "苏州新材料科技有限公司", "intention": "询问工业胶水报价"})  # fmt: skip
    contact = services.visitor_promote(actor=people.manager, visitor=visitor)
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.PROMOTED
    assert visitor.account.name == "苏州新材料科技有限公司" and visitor.account.lead_source == "walk_in"
    assert contact.name == "刘先生" and contact.mobile == "+8613900001111"
    assert "奥迪" in contact.notes


def test_arc3_visitor_promoted_to_an_existing_account_once(people, make_account):
    account = make_account(people.manager)
    visitor = services.visitor_create(actor=people.manager, fields={"name": "钱女士", "visited_on": "2026-11-21"})
    services.visitor_promote(actor=people.manager, visitor=visitor, account=account)
    assert account.positions.get().contact.name == "钱女士"
    with pytest.raises(ValidationError):
        services.visitor_promote(actor=people.manager, visitor=Visitor.objects.get(pk=visitor.pk), account=account)


def test_arc3_promote_without_employer_asks_for_it(people):
    visitor = services.visitor_create(actor=people.manager, fields={"name": "无名", "visited_on": "2026-11-21"})
    with pytest.raises(ValidationError) as e:
        services.visitor_promote(actor=people.manager, visitor=visitor)
    assert "employer" in e.value.message_dict

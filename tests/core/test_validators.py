"""Chinese identifiers and names: credit code, phone, regions, name normalization (ARC-1, ARC-5)."""

import pytest
from django.core.exceptions import ValidationError

from kam.accounts.names import normalize_company_name, sort_key
from kam.core import regions
from kam.core.validators import clean_credit_code, clean_phone


@pytest.mark.parametrize("raw", ["911000001000013428", " 91100000 1000013428 ", "911000001000013428".lower()])
def test_arc1_valid_credit_code_is_normalized(raw):
    assert clean_credit_code(raw) == "911000001000013428"


@pytest.mark.parametrize(
    "raw", ["91100000100001342", "9110000010000134281", "91100000100001342I", "ABCDEFGHIJKLMNOPQR"]
)
def test_arc1_malformed_credit_code_is_refused(raw):
    with pytest.raises(ValidationError) as e:
        clean_credit_code(raw)
    assert e.value.code == "credit_code_format"


def test_arc1_checksum_failure_can_be_confirmed_as_exception():
    with pytest.raises(ValidationError) as e:
        clean_credit_code("911000001000013429")
    assert e.value.code == "credit_code_checksum"
    assert clean_credit_code("911000001000013429", checksum_exception=True) == "911000001000013429"


@pytest.mark.parametrize(
    "raw, e164",
    [("13812345678", "+8613812345678"), ("138-1234-5678", "+8613812345678"), ("+86 138 1234 5678", "+8613812345678"),
     ("010-66596688", "+861066596688"), ("(021) 6888 8888", "+862168888888"), ("+852 2123 4567", "+85221234567")],
)  # fmt: skip
def test_phone_numbers_are_stored_in_e164(raw, e164):
    assert clean_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "abc", "1381234567", "+86 999"])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        clean_phone(raw)


def test_regions_form_a_consistent_tree():
    assert ("44", "广东省") in regions.provinces()
    assert ("4403", "深圳市") in regions.children("44")
    assert ("440305", "南山区") in regions.children("4403")
    assert regions.label("44", "4403", "440305") == "广东省 深圳市 南山区"
    assert regions.label("11", "1101", "110108") == "北京市 海淀区"
    regions.validate("44", "4403", "440305")
    with pytest.raises(ValidationError) as e:
        regions.validate("44", "1101", "")
    assert "city" in e.value.message_dict
    with pytest.raises(ValidationError) as e:
        regions.validate("", "", "440305")
    assert "district" in e.value.message_dict


@pytest.mark.parametrize(
    "a, b",
    [("华为技术有限公司", "华为技术有限责任公司"), ("华为技术（深圳）有限公司", "华为技术(深圳)有限公司"),
     ("华为 技术 有限公司", "华为技术"), ("ＡＢＣ科技股份有限公司", "abc科技"), ("Acme Co., Ltd.", "ACME Limited")],
)  # fmt: skip
def test_arc5_name_normalization_treats_variants_as_one(a, b):
    assert normalize_company_name(a) == normalize_company_name(b)


def test_arc5_normalization_keeps_the_distinguishing_part():
    assert normalize_company_name("华为技术有限公司") != normalize_company_name("华为终端有限公司")
    assert normalize_company_name("公司") == "公司"


def test_arc6_pinyin_sort_key_orders_chinese_names():
    names = ["中国银行", "安徽银行", "北京银行", "Apple"]
    assert sorted(names, key=sort_key) == ["安徽银行", "Apple", "北京银行", "中国银行"]

"""Search across accounts and contacts (ARC-6): fragments, short names, pinyin, initials, English."""

import pytest

from kam.accounts import search, selectors, services


@pytest.fixture
def bank(people, make_account):
    return make_account(people.manager, name="中国银行股份有限公司", name_en="Bank of China Limited",
                        short_names=["中行"], credit_code="911000001000013428", phone="010-66596688")  # fmt: skip


def names(results):
    return [a.name for a in results]


@pytest.mark.parametrize("query", ["银行", "中国银行", "国银", "股份有限", "中行"])
def test_arc6_chinese_fragment_or_short_name_finds_the_account(people, bank, query):
    assert names(search.search_accounts(people.manager, query)) == ["中国银行股份有限公司"]


@pytest.mark.parametrize(
    "query", ["zgyh", "ZGYH", "zhongguoyinhang", "zhongguo", "yinhang", "yh", "zh", "bank", "bank of china", "china",
              "911000001000013428", "861066596688"],
)  # fmt: skip
def test_arc6_pinyin_initials_english_code_and_phone_find_the_account(people, bank, query):
    assert names(search.search_accounts(people.manager, query)) == ["中国银行股份有限公司"]


@pytest.mark.parametrize("query", ["银河", "中银", "zgjh", "apple", "x", ""])
def test_arc6_non_matching_queries_find_nothing(people, bank, query):
    assert search.search_accounts(people.manager, query) == []


def test_arc6_fragment_must_be_contiguous(people, make_account):
    make_account(people.manager, name="国行中")  # has the bigrams 国行 and 行中, but not 中国行
    make_account(people.manager, name="中国行")
    assert names(search.search_accounts(people.manager, "中国行")) == ["中国行"]


def test_arc6_results_are_limited_to_the_scope(people, make_account):
    make_account(people.manager, name="上海银行股份有限公司")
    make_account(people.outsider, name="广州银行股份有限公司")
    assert names(search.search_accounts(people.manager, "银行")) == ["上海银行股份有限公司"]
    assert names(search.search_accounts(people.outsider, "银行")) == ["广州银行股份有限公司"]
    assert sorted(names(search.search_accounts(people.executive, "银行"))) == [
        "上海银行股份有限公司",
        "广州银行股份有限公司",
    ]


def test_arc6_chinese_names_sort_in_pinyin_order(people, make_account):
    for name in ["招商银行", "北京银行", "中国银行", "安徽银行"]:
        make_account(people.manager, name=name)
    assert names(search.search_accounts(people.manager, "银行")) == ["安徽银行", "北京银行", "招商银行", "中国银行"]
    assert names(selectors.account_list(people.manager)) == ["安徽银行", "北京银行", "招商银行", "中国银行"]


def test_arc6_exact_short_name_comes_first(people, make_account):
    make_account(people.manager, name="中行物业管理有限公司")
    make_account(people.manager, name="中国银行股份有限公司", short_names=["中行"])
    assert names(search.search_accounts(people.manager, "中行"))[0] == "中国银行股份有限公司"


def test_arc6_renaming_reindexes(people, bank):
    services.account_update(actor=people.manager, account=bank, fields={"name": "中国建设银行股份有限公司", "short_names": ["建行"]},
                            version=bank.version)  # fmt: skip
    assert search.search_accounts(people.manager, "中行") == []
    assert names(search.search_accounts(people.manager, "建行")) == ["中国建设银行股份有限公司"]
    assert names(search.search_accounts(people.manager, "zgjsyh")) == ["中国建设银行股份有限公司"]


def test_arc6_contacts_by_name_pinyin_and_mobile(people, bank, make_contact):
    make_contact(bank, name="欧阳娜娜", mobile="13812345678")
    make_contact(bank, name="张伟")
    for query in ["欧阳", "阳娜", "oyn", "ouyang", "nana", "8613812345678"]:
        assert [c.name for c in search.search_contacts(people.manager, query)] == ["欧阳娜娜"], query
    assert [c.name for c in search.search_contacts(people.outsider, "欧阳")] == []


def test_arc6_list_filter_q_uses_the_same_search(people, bank, make_account):
    make_account(people.manager, name="华为技术有限公司")
    assert names(selectors.account_list(people.manager, filters={"q": "hwjs"})) == ["华为技术有限公司"]
    assert names(selectors.account_list(people.manager, filters={"q": "银行"})) == ["中国银行股份有限公司"]


@pytest.mark.parametrize(
    "name", ["重庆银行", "长沙市行长办公室", "乐乐音乐有限公司", "绿色会计", "ABC 测试 公司", "朝阳区朝气"]
)
def test_arc6_memoized_pinyin_reads_polyphones_as_pypinyin_does(name):
    """names.pinyin_syllables remembers pypinyin's per-character style conversion; the readings of
    polyphonic characters (行 hang/xing, 长 chang/zhang, 乐 le/yue) still come from the phrases."""
    from pypinyin import Style, lazy_pinyin

    from kam.accounts.names import pinyin_syllables

    expected = tuple(s.lower() for s in lazy_pinyin(name, style=Style.NORMAL) if s.strip())
    assert pinyin_syllables(name) == pinyin_syllables(name) == expected

"""Translations: complete and compiled catalogues, placeholders kept, pages and API errors in the chosen language."""

import ast
import gettext
import re
from collections import Counter
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

import kam
from kam.accounts.models import BuyingRole, Personality

LOCALE = Path(kam.__file__).resolve().parent / "locale"
CHINESE = ["zh_Hans", "zh_Hant"]
ALL = [*CHINESE, "en"]
HAN = re.compile(r"[\u3400-\u9fff]")


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file: {"flags", "msgctxt", "msgid", "msgid_plural", "msgstr": {key: text}}.

    Obsolete entries (#~) are skipped; the header (empty msgid) is kept as an ordinary entry.
    """
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        lines = [line for line in block.strip().splitlines() if line and not line.startswith("#~")]
        if not any(not line.startswith("#") for line in lines):
            continue
        entry = {"flags": set(), "msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}}
        key = None
        for line in lines:
            if line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                _append(entry, key, ast.literal_eval(line))
            else:
                key, _, quoted = line.partition(" ")
                _append(entry, key, ast.literal_eval(quoted), start=True)
        entries.append(entry)
    return entries


def _append(entry, key, text, start=False):
    if key.startswith("msgstr"):
        entry["msgstr"][key] = ("" if start else entry["msgstr"][key]) + text
    else:
        entry[key] = ("" if start else entry[key]) + text


def messages(lang: str) -> list[dict]:
    return [e for e in read_po(LOCALE / lang / "LC_MESSAGES" / "django.po") if e["msgid"]]


PRINTF = re.compile(r"%(?:\(\w+\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrs%]")
BRACES = re.compile(r"\{\{?\s*[\w.]*\s*\}?\}")


def placeholders(text: str, python_format: bool) -> Counter:
    found = Counter(BRACES.findall(text))
    if python_format:
        found.update(p for p in PRINTF.findall(text) if p != "%%")
    return found


@pytest.mark.parametrize("lang", ALL)
def test_catalogue_exists_compiles_and_has_a_clean_header(lang):
    po = LOCALE / lang / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    assert po.exists() and mo.exists(), f"{lang}: run makemessages and compilemessages"
    header = next(e for e in read_po(po) if e["msgid"] == "")
    assert "fuzzy" not in header["flags"]
    assert "charset=UTF-8" in header["msgstr"]["msgstr"]
    if lang in CHINESE:
        assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"]["msgstr"]


@pytest.mark.parametrize("lang", CHINESE)
def test_every_message_is_translated_and_none_is_fuzzy(lang):
    entries = messages(lang)
    assert len(entries) > 300
    untranslated = [e["msgid"] for e in entries if not all(s.strip() for s in e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated, f"{lang}: untranslated: {untranslated}"
    assert not fuzzy, f"{lang}: fuzzy: {fuzzy}"
    # Chinese has one plural form.
    assert all(list(e["msgstr"]) == ["msgstr[0]"] for e in entries if e["msgid_plural"] is not None)


@pytest.mark.parametrize("lang", CHINESE)
def test_chinese_translations_are_chinese(lang):
    # Every translation carries Chinese, apart from names and codes that read the same in any language.
    same_everywhere = {"KAM", "%(column)s: %(message)s"}
    english = [e["msgid"] for e in messages(lang) if e["msgid"] not in same_everywhere
               and not HAN.search("".join(e["msgstr"].values()))]  # fmt: skip
    assert not english, english


@pytest.mark.parametrize("lang", ALL)
def test_placeholders_are_kept(lang):
    wrong = []
    for e in messages(lang):
        python_format = "python-format" in e["flags"]
        for key, text in e["msgstr"].items():
            if not text:
                continue  # English falls back to the source
            source = e["msgid_plural"] if key == "msgstr[1]" else e["msgid"]
            if placeholders(text, python_format) != placeholders(source, python_format):
                wrong.append((e["msgid"], text))
    assert not wrong, wrong


def test_english_catalogue_translates_only_the_chinese_in_its_sources():
    for e in messages("en"):
        text = "".join(e["msgstr"].values())
        if text:
            assert HAN.search(e["msgid"]), f"English needs no translation of {e['msgid']!r}"
            assert "fuzzy" not in e["flags"]
    with translation.override("en"):
        assert str(Personality.SELF_RIGHTEOUS.label) == "Self-righteous (opinionated)"
        assert str(BuyingRole.CHAMPION.label) == "internal champion"
        assert not any(HAN.search(str(label)) for label in Personality.labels)


@pytest.mark.parametrize("lang", ALL)
def test_compiled_catalogue_matches_the_po_file(lang):
    """The committed .mo is current: compilemessages was run after the last change to the .po."""
    po = LOCALE / lang / "LC_MESSAGES" / "django.po"
    with open(po.with_suffix(".mo"), "rb") as f:
        catalogue = gettext.GNUTranslations(f)
    stale = []
    for e in messages(lang):
        if e["msgctxt"] is not None:
            continue
        if e["msgid_plural"] is None:
            expected = e["msgstr"]["msgstr"] or e["msgid"]
            if catalogue.gettext(e["msgid"]) != expected:
                stale.append(e["msgid"])
        elif (
            e["msgstr"].get("msgstr[0]")
            and catalogue.ngettext(e["msgid"], e["msgid_plural"], 1) != e["msgstr"]["msgstr[0]"]
        ):
            stale.append(e["msgid"])
    assert not stale, f"{lang}: run compilemessages; stale: {stale}"


def test_chinese_labels_of_the_business_vocabulary():
    with translation.override("zh-hans"):
        assert str(Personality.SELF_RIGHTEOUS.label) == "自以为是型（固执己见）"
        assert str(BuyingRole.CHAMPION.label) == "内线"
    with translation.override("zh-hant"):
        assert str(Personality.OPEN_MINDED.label) == "兼收並蓄型（來者是客）"


def test_login_page_is_simplified_chinese_by_default_and_follows_the_language_switch(db):
    client = Client(HTTP_HOST="localhost")
    page = client.get("/login/").content.decode()
    assert "登录" in page and "用户名" in page and "Log in" not in page

    client.post("/language/", {"language": "zh-hant", "next": "/login/"})
    page = client.get("/login/").content.decode()
    assert "登入" in page and "使用者名稱" in page and "登录" not in page

    client.post("/language/", {"language": "en", "next": "/login/"})
    page = client.get("/login/").content.decode()
    assert "Log in" in page and "Username" in page and not HAN.search(page.split("<main>")[1])


def test_api_validation_errors_follow_accept_language(people, api):
    client = api(people.manager)
    payload = {"name": "测试银行股份有限公司", "credit_code": "12345"}

    response = client.post("/accounts", payload)
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert "统一社会信用代码" in errors["credit_code"] and "18" in errors["credit_code"]
    assert response.json()["detail"] == errors["credit_code"]

    response = client.post("/accounts", payload, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    message = {e["field"]: e["message"] for e in response.json()["errors"]}["credit_code"]
    assert message.startswith("A unified social credit code has 18 characters")
    assert not HAN.search(message)

    response = client.post("/accounts", payload, HTTP_ACCEPT_LANGUAGE="zh-TW")
    message = {e["field"]: e["message"] for e in response.json()["errors"]}["credit_code"]
    assert "統一社會信用代碼" in message

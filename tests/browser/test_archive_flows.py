"""The customer archive as a user drives it in Chromium: log in, languages, accounts, contacts,
the org chart, search, import, visitors, stored scripts shown as text, a phone-sized screen."""

import re

import openpyxl
import pytest
from django.utils import translation
from playwright.sync_api import expect

from kam.accounts import services
from kam.accounts.models import Account, Contact, Visitor
from kam.core.models import AuditAction, AuditEvent
from kam.org.models import User

pytestmark = pytest.mark.browser

BOC = "中国银行股份有限公司"
BOC_CODE = "911000001000013428"
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
ACCOUNT_URL = re.compile(r"/accounts/(\d+)/$")
CONTACT_URL = re.compile(r"/contacts/(\d+)/$")


def html_lang(page):
    return page.locator("html")


def submit(page):
    """Press the page's main (primary) submit button."""
    page.locator("main form button.primary[type=submit]").click()


def field(page, name, prefix=""):
    """The wrapper of one form field: its label, input, help text and errors."""
    return page.locator(".field", has=page.locator(f"#id_{prefix}{name}"))


def test_log_in_switch_language_and_keep_it(page, people, log_in):
    """Log in through the form; Simplified Chinese by default; English and Traditional Chinese from
    the header; the choice survives a reload, logging out and in, and a new browser (the profile)."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(html_lang(page)).to_have_attribute("lang", "zh-hans")

    log_in(people.manager)
    expect(html_lang(page)).to_have_attribute("lang", "zh-hans")
    expect(page.locator("header .me")).to_contain_text("李娜")
    expect(page.locator("form.lang button[value=zh-hans]")).to_have_attribute("aria-pressed", "true")

    page.locator("form.lang button[value=en]").click()
    expect(html_lang(page)).to_have_attribute("lang", "en")
    expect(page.locator("form.lang button[value=en]")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(html_lang(page)).to_have_attribute("lang", "en")

    page.locator("form.lang button[value=zh-hant]").click()
    expect(html_lang(page)).to_have_attribute("lang", "zh-hant")
    page.reload()
    expect(html_lang(page)).to_have_attribute("lang", "zh-hant")
    assert User.objects.get(pk=people.manager.pk).language == "zh-hant"

    page.locator("header form.logout button").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    log_in(people.manager)
    expect(html_lang(page)).to_have_attribute("lang", "zh-hant")

    # Another browser (no language cookie): the login page is in the default language, and
    # the user's saved choice comes back with the login.
    page.locator("header form.logout button").click()
    page.context.clear_cookies()
    page.goto("/login/")
    expect(html_lang(page)).to_have_attribute("lang", "zh-hans")
    log_in(people.manager)
    expect(html_lang(page)).to_have_attribute("lang", "zh-hant")


def test_create_account_picking_the_region_from_cascading_lists(page, people, log_in):
    """ARC-1: a Chinese legal name, a credit code checked by its check character (a wrong one is
    named next to the field), province → city → district loaded by htmx; lands on the archive."""
    log_in(people.manager)
    page.locator("main a[href='/accounts/new/']").first.click()
    expect(page).to_have_url(re.compile(r"/accounts/new/$"))

    page.locator("#id_name").fill(BOC)
    page.locator("#id_credit_code").fill(BOC_CODE[:-1] + "9")  # wrong check character
    page.locator("#id_industry").select_option("finance")
    page.locator("#id_ownership").select_option("state_owned")
    page.locator("#id_province").select_option(label="广东省")
    expect(page.locator("#id_city option", has_text="深圳市")).to_have_count(1)
    page.locator("#id_city").select_option(label="深圳市")
    expect(page.locator("#id_district option", has_text="南山区")).to_have_count(1)
    page.locator("#id_district").select_option(label="南山区")
    submit(page)

    expect(field(page, "credit_code").locator(".error")).to_be_visible()
    assert not Account.objects.exists()
    # What the user picked is still there: no re-typing after an error.
    expect(page.locator("#id_name")).to_have_value(BOC)
    expect(page.locator("#id_district option:checked")).to_have_text("南山区")

    page.locator("#id_credit_code").fill(BOC_CODE)
    submit(page)
    page.wait_for_url(ACCOUNT_URL)
    expect(page.locator("h1")).to_contain_text(BOC)
    expect(page.locator("#card")).to_contain_text("广东省 深圳市 南山区")
    expect(page.locator("#card")).to_contain_text(BOC_CODE)
    account = Account.objects.get()
    assert (account.name, account.credit_code, account.owner) == (BOC, BOC_CODE, people.manager)
    assert (account.province, account.city, account.district) == ("44", "4403", "440305")


def test_confirm_a_failed_credit_code_and_be_warned_of_a_duplicate(page, people, log_in):
    """ARC-1: a code that fails its check can be confirmed as an exception; ARC-5: entering the same
    company again is caught before saving, with a link to the one that exists."""
    log_in(people.manager)
    page.goto("/accounts/new/")
    expect(page.locator("#id_credit_code_exception")).to_have_count(0)  # offered only when needed
    page.locator("#id_name").fill("北京老字号食品有限公司")
    page.locator("#id_credit_code").fill("91110000MA00ABCD1X")
    submit(page)
    expect(field(page, "credit_code").locator(".error")).to_be_visible()
    page.locator("#id_credit_code_exception").check()
    submit(page)
    page.wait_for_url(ACCOUNT_URL)
    expect(page.locator("#card .warning")).to_be_visible()
    first = Account.objects.get()
    assert first.credit_code_exception

    page.goto("/accounts/new/")
    page.locator("#id_name").fill("北京老字号食品有限公司")
    submit(page)
    duplicates = page.locator("#duplicates")
    expect(duplicates).to_be_visible()
    expect(duplicates.locator(f"a[href='/accounts/{first.pk}/']")).to_have_text("北京老字号食品有限公司")
    assert Account.objects.count() == 1


def test_add_contacts_and_see_the_org_chart(page, people, log_in, screenshot):
    """ARC-2: two contacts, the second reporting to the first; the buying centre is drawn as an org
    chart (ECharts, coloured by attitude, sized by influence) above the table."""
    account = services.account_create(actor=people.manager, fields={"name": BOC, "credit_code": BOC_CODE})
    log_in(people.manager)
    page.goto(f"/accounts/{account.pk}/")
    expect(page.locator("#buying-centre")).to_contain_text("—")  # nobody yet

    page.locator(f"main a[href='/accounts/{account.pk}/contacts/new/']").click()
    page.locator("#id_name").fill("刘金")
    page.locator("#id_mobile").fill("13800138000")
    page.locator("#id_pos-title").fill("行长")
    page.locator("#id_pos-buying_role").select_option("decision_maker")
    page.locator("#id_pos-influence").fill("5")
    page.locator("#id_pos-attitude").select_option("neutral")
    submit(page)
    page.wait_for_url(CONTACT_URL)
    expect(page.locator("h1")).to_contain_text("刘金")

    page.goto(f"/accounts/{account.pk}/contacts/new/")
    page.locator("#id_name").fill("王晓东")
    page.locator("#id_pos-title").fill("首席信息官")
    page.locator("#id_pos-buying_role").select_option("technical")
    page.locator("#id_pos-influence").fill("4")
    page.locator("#id_pos-attitude").select_option("champion")
    page.locator("#id_pos-reports_to").select_option(label="刘金 行长")
    submit(page)
    page.wait_for_url(CONTACT_URL)

    page.goto(f"/accounts/{account.pk}/")
    chart = page.locator("#org-chart")
    expect(chart).to_have_attribute("data-rendered", "true")
    expect(chart.locator("canvas")).to_be_visible()
    tree = page.evaluate(
        "() => { const s = echarts.getInstanceByDom(document.getElementById('org-chart')).getOption().series[0];"
        " const walk = (n) => ({name: n.name, colour: n.itemStyle && n.itemStyle.color, size: n.symbolSize,"
        " children: (n.children || []).map(walk)}); return walk(s.data[0]); }"
    )
    assert tree["name"] == BOC
    [boss] = tree["children"]
    [cio] = boss["children"]
    assert (boss["name"], cio["name"]) == ("刘金", "王晓东")
    assert boss["colour"] != cio["colour"]  # neutral and champion differ
    assert boss["size"] > cio["size"]  # influence 5 is drawn larger than 4
    row = page.locator("#buying-centre tbody tr", has_text="王晓东")
    expect(row.locator("td").nth(5)).to_have_text("刘金")
    screenshot("kam-orgchart.png", locator=page.locator("#buying-centre"))


def test_search_by_chinese_fragment_and_pinyin_initials(page, people, log_in):
    """ARC-6: the header search box finds 中国银行股份有限公司 by 银行 and by zgyh, and a contact
    by the initials of her name."""
    account = services.account_create(actor=people.manager, fields={"name": BOC, "short_names": ["中行"]})
    services.account_create(actor=people.manager, fields={"name": "华为技术有限公司"})
    services.contact_create(actor=people.manager, account=account, fields={"name": "王晓东"}, position={})
    log_in(people.manager)

    box = page.locator("header form.search input[name=q]")
    for query in ("银行", "zgyh", "中行"):
        box.fill(query)
        box.press("Enter")
        page.wait_for_url(re.compile(r"/search/\?q="))
        results = page.locator("#account-results")
        expect(results.locator(f"a[href='/accounts/{account.pk}/']")).to_have_text(BOC)
        expect(results).not_to_contain_text("华为")
        box = page.locator("header form.search input[name=q]")
        expect(box).to_have_value(query)

    box.fill("wxd")
    box.press("Enter")
    expect(page.locator("#contact-results")).to_contain_text("王晓东")


def test_import_with_bad_rows_imports_nothing_and_reports_each_row(page, people, log_in, tmp_path, screenshot):
    """ARC-8: an xlsx (headers as customers name them) with a bad credit code and a missing name is
    refused as a whole; the page lists the failed rows with the reason, and the downloadable report
    has them with an error column."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["客户名称", "统一社会信用代码", "省份", "城市"])
    sheet.append([BOC, BOC_CODE, "北京市", ""])  # row 2: good
    sheet.append(["招商银行股份有限公司", "91440300MA5F000007", "广东省", "深圳市"])  # row 3: good
    sheet.append(["", "91310000MA1K000019", "上海市", ""])  # row 4: no name
    sheet.append(["华为技术有限公司", "91440300MA5F000001", "广东省", "深圳市"])  # row 5: wrong check character
    path = tmp_path / "客户导入.xlsx"
    workbook.save(path)

    log_in(people.manager)
    page.locator("header nav.groups a[href='/accounts/']").click()  # the customers group, then its page
    page.locator("header nav.pages a[href='/io/']").click()
    page.locator("#id_entity").select_option("accounts")
    page.locator("#id_file").set_input_files(path)
    submit(page)

    rows = page.locator("table.report tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").first).to_have_text("4")
    expect(rows.nth(0).locator("td.error")).not_to_be_empty()
    expect(rows.nth(1).locator("td").first).to_have_text("5")
    expect(rows.nth(1)).to_contain_text("华为技术有限公司")
    with translation.override("zh-hans"):  # the page's language; the reason names the column
        credit_code_label = str(Account._meta.get_field("credit_code").verbose_name)
    expect(rows.nth(1).locator("td.error")).to_contain_text(credit_code_label)
    expect(page.locator("table.report")).not_to_contain_text("招商银行")
    assert not Account.objects.exists()

    screenshot("kam-import-report.png")
    with page.expect_download() as download_info:
        page.locator("a[href^='/io/reports/']").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    download.save_as(tmp_path / download.suggested_filename)
    report = openpyxl.load_workbook(tmp_path / download.suggested_filename).active
    values = list(report.iter_rows(values_only=True))
    assert [row[0] for row in values[1:]] == [4, 5]
    assert all(row[-1] for row in values[1:])  # the error column is filled for every failed row


def test_personal_file_is_opened_on_demand_and_logged(page, people, log_in):
    """ARC-2, GOV-7: the contact's personal file is loaded only when asked for, and each opening is
    written to the audit trail."""
    account = services.account_create(actor=people.manager, fields={"name": BOC})
    contact = services.contact_create(
        actor=people.manager, account=account, fields={"name": "刘金", "hometown": "湖南长沙", "interests": "围棋"}
    )
    log_in(people.manager)
    page.goto(f"/contacts/{contact.pk}/")
    expect(page.locator("main")).not_to_contain_text("湖南长沙")
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW_PERSONAL).exists()

    page.locator("#personal button").click()
    expect(page.locator("#personal-file")).to_contain_text("湖南长沙")
    expect(page.locator("#personal-file")).to_contain_text("围棋")
    event = AuditEvent.objects.get(action=AuditAction.VIEW_PERSONAL)
    assert event.actor == people.manager


def test_record_a_visitor_and_promote_to_contact_and_account(page, people, log_in):
    """ARC-3: a walk-in is recorded at once, then promoted to a contact at a new account made from
    the employer."""
    log_in(people.manager)
    page.goto("/visitors/")
    page.locator("main a[href='/visitors/new/']").click()
    page.locator("#id_name").fill("孙小姐")
    page.locator("#id_phone").fill("13700137000")
    page.locator("#id_employer").fill("上海浦东发展银行股份有限公司")
    page.locator("#id_intention").fill("了解产品")
    submit(page)
    page.wait_for_url(re.compile(r"/visitors/$"))
    row = page.locator("main table tbody tr", has_text="孙小姐")
    expect(row).to_contain_text("上海浦东发展银行股份有限公司")

    row.locator("a[href$='/promote/']").click()
    submit(page)
    page.wait_for_url(CONTACT_URL)
    expect(page.locator("h1")).to_contain_text("孙小姐")
    account = Account.objects.get(name="上海浦东发展银行股份有限公司")
    expect(page.locator(f"main section a[href='/accounts/{account.pk}/']")).to_be_visible()
    assert Visitor.objects.get().contact == Contact.objects.get(name="孙小姐")


def test_stored_script_is_shown_as_text(page, people, log_in):
    """Stored input is never run as code: names, notes, a contact and dynamic information holding
    script and image-handler payloads (ARC-1, ARC-2, ARC-7) show literally on the archive, the
    search results and the list; and every page carries a Content-Security-Policy."""
    log_in(people.manager)
    page.goto("/accounts/new/")
    page.locator("#id_name").fill(f"{XSS_SCRIPT}测试公司")
    page.locator("#id_description").fill(XSS_IMG)
    submit(page)
    page.wait_for_url(ACCOUNT_URL)
    account_id = ACCOUNT_URL.search(page.url).group(1)

    page.goto(f"/accounts/{account_id}/contacts/new/")
    page.locator("#id_name").fill(XSS_IMG)
    page.locator("#id_pos-title").fill(XSS_SCRIPT)
    submit(page)
    page.wait_for_url(CONTACT_URL)
    expect(page.locator("h1")).to_contain_text(XSS_IMG)

    response = page.goto(f"/accounts/{account_id}/")
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "object-src 'none'" in csp
    page.locator("#updates textarea[name=content]").fill(f"{XSS_SCRIPT} {XSS_IMG}")
    page.locator("#updates button[type=submit]").click()
    expect(page.locator("#updates .timeline")).to_contain_text(f"{XSS_SCRIPT} {XSS_IMG}")
    expect(page.locator("h1")).to_contain_text(XSS_SCRIPT)
    expect(page.locator("#card")).to_contain_text(XSS_IMG)
    expect(page.locator("#buying-centre tbody")).to_contain_text(XSS_IMG)
    expect(page.locator("#org-chart")).to_have_attribute("data-rendered", "true")
    # The org chart draws names and its tooltip on the canvas: no stored text enters the DOM there.
    page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('org-chart'))"
        ".dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 2})"
    )
    expect(page.locator("#org-chart")).to_have_text("")
    assert page.evaluate("window.__xss") is None

    page.goto("/search/?q=script")
    expect(page.locator("#account-results")).to_contain_text(XSS_SCRIPT)
    page.goto("/search/?q=onerror")
    expect(page.locator("#contact-results")).to_contain_text(XSS_IMG)
    assert page.evaluate("window.__xss") is None

    response = page.goto("/accounts/")
    assert "script-src 'self'" in response.headers.get("content-security-policy", "")
    expect(page.locator("main table")).to_contain_text(XSS_SCRIPT)
    assert page.evaluate("window.__xss") is None


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
def test_pages_fit_a_phone_screen(page, people, log_in, screenshot, viewport):
    """A manager records from a phone (390 px wide): the account form and the archive (with its org
    chart and tables) fit the screen without scrolling sideways."""
    account = services.account_create(
        actor=people.manager,
        fields={"name": BOC, "credit_code": BOC_CODE, "province": "11", "city": "1101", "district": "110102",
                "address": "复兴门内大街1号", "website": "https://www.boc.cn/a/very/long/path/that/should/wrap/"},
    )  # fmt: skip
    boss = services.contact_create(
        actor=people.manager, account=account, fields={"name": "刘金"},
        position={"title": "行长", "buying_role": "decision_maker", "influence": 5, "attitude": "neutral"},
    )  # fmt: skip
    boss_position = account.positions.get(contact=boss)
    for name, attitude in (("王晓东", "champion"), ("张伟", "sceptical"), ("李娟", "opposed")):
        services.contact_create(
            actor=people.manager, account=account, fields={"name": name},
            position={"title": "总监", "influence": 3, "attitude": attitude, "reports_to": boss_position},
        )  # fmt: skip
    services.account_update_add(actor=people.manager, account=account, happened_on="2026-11-01", content="招标启动")
    log_in(people.manager)

    def width():
        return page.evaluate("document.documentElement.scrollWidth")

    page.goto("/accounts/new/")
    assert width() <= viewport["width"] + 2
    screenshot("kam-phone-account-form.png")

    page.goto(f"/accounts/{account.pk}/")
    expect(page.locator("#org-chart")).to_have_attribute("data-rendered", "true")
    assert width() <= viewport["width"] + 2
    screenshot("kam-phone-account.png")

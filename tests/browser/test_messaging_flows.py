"""The messaging platform in Chromium (MSG-1, MSG-2): a bulk send from the bulk screen with its live preview,
and a template refused for an unknown field."""

import re

import pytest
from playwright.sync_api import expect

from kam.accounts import services as account_services
from kam.messaging import services
from kam.messaging.models import Consent, Message, MessageBatch, MessageStatus, MessageTemplate

pytestmark = pytest.mark.browser

ACCOUNT = "杭州西湖精密机械有限公司"


def test_msg1_bulk_send_to_picked_accounts_with_a_preview(page, people, log_in, screenshot):
    account = account_services.account_create(actor=people.manager, fields={"name": ACCOUNT})
    account_services.contact_create(actor=people.manager, account=account,
                                    fields={"name": "陈厂长", "mobile": "13812345678"}, position={})  # fmt: skip
    account_services.contact_create(actor=people.manager, account=account,
                                    fields={"name": "李工", "mobile": "13912345678"}, position={})  # fmt: skip
    other = account_services.account_create(actor=people.manager, fields={"name": "宁波港口物流有限公司"})
    account_services.contact_create(actor=people.manager, account=other, fields={"name": "别家联系人"}, position={})
    lost = account_services.contact_create(actor=people.manager, account=account,
                                           fields={"name": "王经理", "mobile": "13712345678"}, position={})  # fmt: skip
    services.consent_set(actor=people.manager, contact=lost, kind="sms", opted_out=True)
    log_in(people.manager)

    page.locator("header nav.groups a[href='/activities/']").click()  # the engagement group, then its page
    page.locator("header nav.pages a[href='/messages/send/']").click()
    expect(page).to_have_url(re.compile(r"/messages/send/$"))
    page.locator("#id_text").fill("{contact.name}您好，{account.name}的朋友")
    page.locator("#recipients input[type=search]").fill("西湖")
    option = page.locator("#recipient-options label.option", has_text=ACCOUNT)
    expect(option).to_have_count(1)
    expect(page.locator("#recipient-options")).not_to_contain_text("宁波港口物流有限公司")
    option.locator("input").check()

    # The live preview: three contacts, one of them opted out, and the first one's text.
    expect(page.locator("#preview-count")).to_contain_text("3")
    expect(page.locator("#preview-opted-out")).to_contain_text("1")
    expect(page.locator("#preview-text")).to_have_text(f"陈厂长您好，{ACCOUNT}的朋友")
    screenshot("kam-bulk-send-preview.png")
    page.locator("main form button.primary[type=submit]").click()

    page.wait_for_url(re.compile(r"/messages/outbox/(\d+)/$"))
    batch = MessageBatch.objects.get()
    assert page.url.endswith(f"/messages/outbox/{batch.pk}/")
    rows = page.locator("#batch-messages tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#count-queued")).to_have_text("2")
    expect(page.locator("#count-skipped")).to_have_text("1")
    assert sorted(Message.objects.values_list("contact__name", "status")) == [
        ("李工", MessageStatus.QUEUED), ("王经理", MessageStatus.SKIPPED), ("陈厂长", MessageStatus.QUEUED)
    ]  # fmt: skip

    # The contact page shows the contact's messages and lets her record that he accepts SMS again.
    page.goto(f"/contacts/{lost.pk}/")
    expect(page.locator("#contact-sent")).to_contain_text("王经理您好")
    page.locator("#consents li").first.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/contacts/{lost.pk}/"))
    expect(page.locator("#consents li").first.locator("button[type=submit]")).to_be_visible()
    assert Consent.objects.get(contact=lost, kind="sms").opted_out_at is None


def test_msg1_bulk_send_to_an_audience_saved_from_the_account_list(page, people, log_in):
    account = account_services.account_create(actor=people.manager, fields={"name": ACCOUNT, "lifecycle": "customer"})
    account_services.contact_create(actor=people.manager, account=account,
                                    fields={"name": "陈厂长", "mobile": "13812345678"}, position={})  # fmt: skip
    prospect = account_services.account_create(actor=people.manager, fields={"name": "宁波港口物流有限公司"})
    account_services.contact_create(actor=people.manager, account=prospect,
                                    fields={"name": "别家联系人", "mobile": "13912345678"}, position={})  # fmt: skip
    log_in(people.manager)

    page.goto("/accounts/?lifecycle=customer")
    page.locator("#save-audience a").click()
    page.locator("#id_name").fill("老客户")
    page.locator("main form button.primary[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/messages/audiences/$"))
    page.locator("#audiences a.button.primary").click()
    expect(page).to_have_url(re.compile(r"/messages/send/\?audience=\d+$"))
    page.locator("#id_text").fill("{contact.name}您好")
    expect(page.locator("#preview-count")).to_contain_text("1")
    expect(page.locator("#preview-text")).to_have_text("陈厂长您好")
    page.locator("main form button.primary[type=submit]").click()
    page.wait_for_url(re.compile(r"/messages/outbox/\d+/$"))
    expect(page.locator("#batch-messages tbody tr")).to_have_count(1)
    expect(page.locator("#batch-messages")).to_contain_text("陈厂长")


def test_msg2_template_with_an_unknown_field_is_refused_naming_it(page, people, log_in):
    log_in(people.head)
    page.goto("/messages/templates/")
    page.locator("main a[href='/messages/templates/new/']").click()
    expect(page.locator("#available-fields")).to_contain_text("{contact.name}")
    page.locator("#id_name").fill("中秋问候")
    page.locator("#id_channel").select_option("email")
    page.locator("#id_subject").fill("{account.name}：中秋快乐")
    page.locator("#id_body").fill("{contact.name}，{contact.salary}中秋快乐")
    page.locator("main form button.primary[type=submit]").click()
    body = page.locator(".field.invalid", has=page.locator("#id_body"))
    expect(body.locator("small.error")).to_contain_text("{contact.salary}")
    assert not MessageTemplate.objects.exists()
    page.locator("#id_body").fill("{contact.name}，中秋快乐")
    page.locator("main form button.primary[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/messages/templates/$"))
    expect(page.locator("#templates")).to_contain_text("中秋问候")

"""The annual key-account forum in Chromium (ENG-6): a KA manager creates the event, invites an account's
contacts picked through the account search, sends the invitations through messaging, records an answer
(RSVP) and, once the forum has begun, who attended."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from kam.accounts import services as account_services
from kam.engagement import services
from kam.engagement.models import Event, Invitation, InvitationStatus
from kam.messaging.models import Message

pytestmark = pytest.mark.browser

ACCOUNT = "杭州西湖精密机械有限公司"


def label(choice) -> str:
    with translation.override("zh-hans"):
        return str(choice.label)


def test_eng6_create_a_forum_invite_contacts_record_rsvp_and_attendance(page, people, log_in, screenshot):
    account = account_services.account_create(actor=people.manager, fields={"name": ACCOUNT})
    account_services.contact_create(actor=people.manager, account=account, fields={"name": "陈厂长",
                                    "mobile": "13912345678"}, position={"title": "厂长"})  # fmt: skip
    account_services.contact_create(actor=people.manager, account=account, fields={"name": "李工"},
                                    position={"title": "工程师"})  # fmt: skip
    log_in(people.manager)

    # Create the forum, a week ahead.
    page.goto("/events/new/")
    starts = timezone.localtime(timezone.now() + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    page.locator("#id_name").fill("2026年度大客户论坛")
    page.locator("#id_starts_at").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_ends_at").fill((starts + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_place").fill("杭州国际博览中心")
    page.locator("main form button.primary[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/events/(\d+)/$"))
    event = Event.objects.get()
    assert (event.name, event.owner, event.starts_at) == ("2026年度大客户论坛", people.manager, starts)

    # Invite the account's 陈厂长: pick the account by typing, then tick the contact.
    page.locator("#account-picker input[type=search]").fill("西湖")
    option = page.locator("#account-options label.option", has_text=ACCOUNT)
    expect(option).to_have_count(1)
    option.click()
    contacts = page.locator("#activity-contacts")
    expect(contacts.locator("label.option", has_text="陈厂长")).to_be_visible()
    contacts.locator("label.option", has_text="陈厂长").click()
    page.locator("#invite-submit").click()
    row = page.locator("#invitations tbody tr", has_text="陈厂长")
    expect(row).to_have_count(1)
    expect(page.locator("#invitations tbody")).not_to_contain_text("李工")
    invitation = Invitation.objects.get()
    assert (invitation.contact.name, invitation.account, invitation.status) == ("陈厂长", account, "invited")

    # Send it through messaging (the demo log channel), with a text that names the contact.
    page.locator("#send-channel").select_option("log")
    page.locator("#send-text").fill("{contact.name}您好，诚邀您出席2026年度大客户论坛。")
    page.locator("#send button.primary[type=submit]").click()
    expect(page.locator("#send")).to_have_count(0)  # nothing left to send
    message = Message.objects.get()
    assert message.body == "陈厂长您好，诚邀您出席2026年度大客户论坛。"
    invitation.refresh_from_db()
    assert invitation.message == message and invitation.batch_id == message.batch_id

    # 陈厂长 answers: accepted.
    row.locator("button[value=accepted]").click()
    expect(page.locator("#invitations tbody tr", has_text="陈厂长").locator("td.status")).to_have_text(
        label(InvitationStatus.ACCEPTED)
    )
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED and invitation.responded_at is not None
    screenshot("kam-event-invitations.png")

    # The forum begins (moved to now): attendance replaces the answer buttons.
    services.event_update(actor=people.manager, event=event, fields={
        "starts_at": timezone.now() - timedelta(minutes=5), "ends_at": timezone.now() + timedelta(hours=3)})  # fmt: skip
    page.reload()
    page.locator("#invitations tbody tr", has_text="陈厂长").locator("button[value=attended]").click()
    expect(page.locator("#invitations tbody tr", has_text="陈厂长").locator("td.status")).to_have_text(
        label(InvitationStatus.ATTENDED)
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.attended) == (InvitationStatus.ATTENDED, True)


def test_eng5_eng7_the_account_page_loads_its_sponsors_and_campaigns(page, people, log_in):
    account = account_services.account_create(actor=people.manager, fields={"name": ACCOUNT})
    services.sponsor_create(actor=people.manager, account=account,
                            fields={"sponsor": people.executive, "duties": "每年走访董事长"})  # fmt: skip
    trial = services.campaign_create(actor=people.manager, fields={
        "name": "新型伺服电机试用", "starts_on": timezone.localdate(), "ends_on": timezone.localdate()})  # fmt: skip
    services.campaign_participant_add(actor=people.manager, campaign=trial, account=account)
    log_in(people.manager)
    page.goto(f"/accounts/{account.pk}/")
    expect(page.locator("#account-sponsors")).to_contain_text("每年走访董事长")
    page.locator("#account-campaigns a", has_text="新型伺服电机试用").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{trial.pk}/$"))
    expect(page.locator("#participants")).to_contain_text(ACCOUNT)

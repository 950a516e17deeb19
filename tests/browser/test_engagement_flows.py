"""Engagement as a KA manager drives it on her phone in Chromium: log a visit right after it happened,
see it on the account's timeline, and the next step as today's task on the home page (ENG-1, ENG-3)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kam.accounts import services
from kam.engagement.models import Activity, Task, TaskStatus

pytestmark = pytest.mark.browser

ACCOUNT = "杭州西湖精密机械有限公司"
ACCOUNT_URL = re.compile(r"/accounts/(\d+)/$")


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
def test_eng1_log_a_visit_on_a_phone_and_see_it_on_the_timeline_and_home(page, people, log_in, screenshot, viewport):
    account = services.account_create(actor=people.manager, fields={"name": ACCOUNT, "short_names": ["西湖精机"]})
    services.contact_create(actor=people.manager, account=account, fields={"name": "陈厂长"},
                            position={"title": "厂长", "buying_role": "decision_maker"})  # fmt: skip
    services.contact_create(
        actor=people.manager, account=account, fields={"name": "李工"}, position={"title": "工程师"}
    )
    other = services.account_create(actor=people.manager, fields={"name": "宁波港口物流有限公司"})
    services.contact_create(actor=people.manager, account=other, fields={"name": "别家联系人"})
    log_in(people.manager)

    def width():
        return page.evaluate("document.documentElement.scrollWidth")

    # From the home page: "log a visit"; pick the account by typing part of its name (htmx search).
    page.locator("main a[href='/activities/new/']").first.click()
    expect(page).to_have_url(re.compile(r"/activities/new/$"))
    page.locator("#account-picker input[type=search]").fill("西湖")
    option = page.locator("#account-options label.option", has_text=ACCOUNT)
    expect(option).to_have_count(1)
    expect(page.locator("#account-options")).not_to_contain_text("宁波港口物流有限公司")
    option.click()

    # The account's contacts load as check boxes once it is picked; another account's never do.
    contacts = page.locator("#activity-contacts")
    expect(contacts.locator("label.option", has_text="陈厂长")).to_be_visible()
    expect(contacts).not_to_contain_text("别家联系人")
    contacts.locator("label.option", has_text="陈厂长").click()
    page.locator("#kind label.chip").nth(0).click()  # customer visit (default, tapped anyway)
    expect(page.locator("#id_happened_at")).not_to_have_value("")  # defaults to now
    page.locator("#id_notes").fill("参观车间，谈二期设备改造")
    page.locator("#id_outcome").fill("同意下周技术交流")
    page.locator("#id_next_step").fill("发送技术方案")
    due = timezone.localtime(timezone.now() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    if due[:10] != timezone.localdate().isoformat():  # just before midnight: due now, still today
        due = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    page.locator("#id_next_step_due").fill(due)
    assert width() <= viewport["width"] + 2
    screenshot("kam-phone-log-visit.png")
    page.locator("main form button.primary[type=submit]").click()

    # Back on the account: the visit is on its timeline (loaded by htmx) with the contact met.
    page.wait_for_url(ACCOUNT_URL)
    assert page.url.endswith(f"/accounts/{account.pk}/")
    entry = page.locator("#timeline li.activity").first
    expect(entry).to_contain_text("参观车间")
    expect(entry).to_contain_text("陈厂长")
    expect(entry).to_contain_text("发送技术方案")
    assert width() <= viewport["width"] + 2
    screenshot("kam-phone-timeline.png", locator=page.locator("#timeline"))
    activity = Activity.objects.get()
    assert [c.name for c in activity.contacts.all()] == ["陈厂长"]
    assert list(activity.participants.all()) == [people.manager]

    # Home: the next step is today's task; "done" completes it in place (htmx), no page reload.
    page.goto("/")
    task_item = page.locator("#my-tasks li.task", has_text="发送技术方案")
    expect(task_item).to_contain_text(ACCOUNT)
    assert width() <= viewport["width"] + 2
    screenshot("kam-phone-home-tasks.png")
    task_item.locator("button[type=submit]").click()
    expect(page.locator("#my-tasks li.task.done", has_text="发送技术方案")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))
    assert Task.objects.get().status == TaskStatus.DONE

"""Browser tests: Debian's Chromium, driven by Playwright's sync API, against pytest-django's live server.

One Chromium for the whole session, a fresh context (cookies, storage) for every test. Every page
fails its test on a JavaScript error or a console error, so a Content-Security-Policy violation
(an inline script or style slipped into a template) cannot pass unnoticed.
"""

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import PASSWORD

# Playwright's sync API keeps an asyncio event loop in this thread; the ORM calls a test makes
# between browser steps are ordinary synchronous calls, so Django's async-safety guard stands aside.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("KAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000
SCREENSHOTS = Path(os.environ.get("KAM_SCREENSHOT_DIR") or tempfile.gettempdir())  # /tmp here


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def viewport():
    """The window size; a test overrides it (e.g. a phone) by parametrizing or redefining it."""
    return {"width": 1280, "height": 900}


@pytest.fixture
def context(browser, live_server, viewport):
    """A fresh browser profile, as a user in mainland China would have it (zh-CN, Asia/Shanghai)."""
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai", viewport=viewport
    )
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    yield page
    assert not problems, f"the browser reported errors: {problems}"


@pytest.fixture
def log_in(page):
    """Log a user in through the login form (giving the user a real password first)."""

    def log_in(user):
        if not user.has_usable_password():
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        page.goto("/login/")
        page.locator("input[name=username]").fill(user.username)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/$"))
        return page

    return log_in


@pytest.fixture
def screenshot(page):
    """Save a screenshot for a human to look at (in KAM_SCREENSHOT_DIR, by default the temp directory)."""

    def screenshot(name: str, *, locator=None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        if locator is None:
            page.screenshot(path=str(path), full_page=True)
        else:
            locator.screenshot(path=str(path))
        print(f"screenshot: {path}")
        return path

    return screenshot

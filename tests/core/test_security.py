"""Security by default: deploy checks, CSP, language choice remembered, login lockout on the page."""

import subprocess
import sys

from django.test import Client


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {"KAM_HTTPS": "true", "KAM_SECRET_KEY": "x" * 64 + "-production-secret-key-for-the-check", "KAM_DATA_DIR": str(tmp_path),
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "kam.manage", "check", "--deploy", "--fail-level", "WARNING"],
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_send_csp_and_other_security_headers(people, page_client):
    response = page_client(people.manager).get("/accounts/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_simplified_chinese_is_the_default_and_the_choice_is_remembered(people):
    client = Client(HTTP_HOST="localhost")
    assert '<html lang="zh-hans">' in client.get("/login/").content.decode()
    client.force_login(people.manager)
    client.post("/language/", {"language": "en", "next": "/accounts/"})
    people.manager.refresh_from_db()
    assert people.manager.language == "en"
    # A new browser (no cookie) gets the saved language after login.
    fresh = Client(HTTP_HOST="localhost")
    fresh.force_login(people.manager)
    assert '<html lang="en">' in fresh.get("/accounts/").content.decode()


def test_language_switch_refuses_unknown_languages_and_foreign_redirects(people):
    client = Client(HTTP_HOST="localhost")
    assert client.post("/language/", {"language": "fr"}).status_code == 400
    response = client.post("/language/", {"language": "zh-hant", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_login_page_locks_after_repeated_failures(people, settings):
    settings.AXES_FAILURE_LIMIT = 3
    people.manager.set_password("Kam-test-pass-2026")
    people.manager.save()
    client = Client(HTTP_HOST="localhost")
    for _ in range(3):
        client.post("/login/", {"username": "lina", "password": "wrong"})
    response = client.post("/login/", {"username": "lina", "password": "Kam-test-pass-2026"})
    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session


def test_login_works_with_the_right_password(people):
    people.manager.set_password("Kam-test-pass-2026")
    people.manager.save()
    client = Client(HTTP_HOST="localhost")
    response = client.post("/login/", {"username": "lina", "password": "Kam-test-pass-2026"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200

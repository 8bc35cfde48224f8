"""Chromium logs in to the example site through its own forms ("Log in here").

The site's server calls the emulator's LoginRocket API; the browser never leaves the site and
never holds a token or a LoginRocket session id. In order: a wrong password and its error, a
login and a logout that ends the LoginRocket session (``DELETE session``), Grace's second
factor, an org switch without leaving the site, a signup, and a forgotten password reset from
the emailed link. Screenshots go to build/e2e-screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from django_authrocket.testing import AuthRocketEmulator
from django_authrocket.testing.demo import DEMO_PASSWORDS

from .conftest import ExampleSite
from .test_browser import shoot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def log_in_here(page: Any, site: str, login: str, password: str) -> None:
    """From the home page: "Log in here", then the form."""
    page.goto(f"{site}/")
    page.locator("#login-here").click()
    page.wait_for_url(re.compile(re.escape(f"{site}/form/login/") + r".*"))
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()


def log_out(page: Any, site: str) -> None:
    page.goto(f"{site}/dashboard/")
    page.locator(".actions").get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{site}/")


def test_in_site_login_wrong_password_and_logout_ending_the_loginrocket_session(
    page: Any, demo_emulator: AuthRocketEmulator, example_site: ExampleSite
) -> None:
    from playwright.sync_api import expect

    site, emulator = example_site.url, demo_emulator
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))

    log_in_here(page, site, "alan@example.com", "not-his-password")
    expect(page.locator("#field-login, form .errors").first).to_be_visible()
    expect(page.locator("form")).to_contain_text("Login failed")
    assert page.locator("input[name=password]").input_value() == ""  # never echoed
    shoot(page, "10-form-wrong-password")

    page.fill("input[name=password]", DEMO_PASSWORDS["alan@example.com"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alan Turing")
    session_id = page.locator("#session-id").inner_text().strip()
    assert session_id.startswith("kss_")
    shoot(page, "11-form-logged-in")

    # The browser only ever talked to the site: LoginRocket was called by the site's server.
    assert all(url.startswith(site) for url in seen), [u for u in seen if not u.startswith(site)]
    assert "token=" not in " ".join(seen)

    deletes = emulator.count_requests("/v2/session", method="DELETE")
    log_out(page, site)
    assert emulator.count_requests("/v2/session", method="DELETE") == deletes + 1
    ended = [
        e
        for e in emulator.events
        if e["event_type"] == "session.deleted" and session_id in str(e.get("data", e))
    ]
    assert ended, "LoginRocket's session did not end"
    page.goto(f"{site}/dashboard/")
    page.wait_for_url(re.compile(re.escape(f"{emulator.loginrocket_url}/login?") + ".*"))


def test_the_second_factor_in_chromium(
    page: Any, demo_emulator: AuthRocketEmulator, example_site: ExampleSite
) -> None:
    from playwright.sync_api import expect

    site, emulator = example_site.url, demo_emulator
    grace = emulator.get_user("grace@example.com")

    log_in_here(page, site, "grace@example.com", DEMO_PASSWORDS["grace@example.com"])
    page.wait_for_url(f"{site}/form/login/verify/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your verification code")
    page.fill("input[name=code]", "000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#field-code .error")).to_contain_text("Verification code is invalid")
    shoot(page, "12-form-second-factor")

    page.fill("input[name=code]", emulator.totp_code(grace["id"]))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{site}/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Grace Hopper")
    log_out(page, site)


def test_an_org_switch_without_leaving_the_site(
    page: Any, demo_emulator: AuthRocketEmulator, example_site: ExampleSite
) -> None:
    from playwright.sync_api import expect

    site = example_site.url
    log_in_here(page, site, "ada", DEMO_PASSWORDS["ada@example.com"])
    page.wait_for_url(f"{site}/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada Lovelace")
    expect(page.locator(".card.wide")).to_contain_text("Analytical Engines")
    session_id = page.locator("#session-id").inner_text().strip()

    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.locator("#orgs-here").click()
    page.wait_for_url(re.compile(re.escape(f"{site}/form/orgs/") + ".*"))
    page.get_by_label("Difference Ltd").check()
    shoot(page, "13-form-org-picker")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{site}/dashboard/")

    expect(page.locator(".card.wide")).to_contain_text("Difference Ltd")
    assert page.locator("#session-id").inner_text().strip() == session_id  # same session
    assert all(url.startswith(site) for url in seen), seen
    log_out(page, site)


def test_signup_in_chromium(
    page: Any, demo_emulator: AuthRocketEmulator, example_site: ExampleSite
) -> None:
    from playwright.sync_api import expect

    from tests.log_capture import TEST_PASSWORDS

    site = example_site.url
    password = TEST_PASSWORDS[2]
    page.goto(f"{site}/")
    page.locator("#signup-here").click()
    page.wait_for_url(re.compile(re.escape(f"{site}/form/signup/") + ".*"))
    page.fill("input[name=first_name]", "Katherine")
    page.fill("input[name=last_name]", "Johnson")
    page.fill("input[name=email]", "katherine@example.com")
    page.fill("input[name=password]", "short")
    page.fill("input[name=password_confirmation]", "short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#field-password .error")).to_contain_text("too short")

    page.fill("input[name=password]", password)
    page.fill("input[name=password_confirmation]", password)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{site}/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Katherine Johnson")
    shoot(page, "14-form-signed-up")
    log_out(page, site)


def test_forgot_and_reset_password_in_chromium(
    page: Any, demo_emulator: AuthRocketEmulator, example_site: ExampleSite
) -> None:
    from playwright.sync_api import expect

    from tests.log_capture import TEST_PASSWORDS

    site, emulator = example_site.url, demo_emulator
    new_password = TEST_PASSWORDS[1]
    alan = emulator.get_user("alan@example.com")
    try:
        page.goto(f"{site}/form/login/")
        page.get_by_role("link", name="Forgot your password?").click()
        page.wait_for_url(f"{site}/form/password/forgot/")
        page.fill("input[name=email]", "alan@example.com")
        page.get_by_role("button", name="Send the link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

        token = emulator.emailed_token("password_reset", to="alan@example.com")
        page.goto(f"{site}/form/password/reset/{token}/")
        page.wait_for_url(f"{site}/form/password/reset/")  # the token left the address bar
        page.fill("input[name=password]", new_password)
        page.fill("input[name=password_confirmation]", new_password)
        shoot(page, "15-form-reset-password")
        page.get_by_role("button", name="Save the new password").click()
        page.wait_for_url(re.compile(re.escape(site) + r"/(dashboard/)?$"))
        page.goto(f"{site}/dashboard/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alan Turing")
        log_out(page, site)

        log_in_here(page, site, "alan@example.com", new_password)
        page.wait_for_url(f"{site}/dashboard/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alan Turing")
    finally:
        # The module shares one emulator: give Alan his demo password back for the other tests.
        emulator.set_password(alan["id"], DEMO_PASSWORDS["alan@example.com"])

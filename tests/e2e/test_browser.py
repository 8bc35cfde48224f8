"""A real browser logs in to the example site through the emulator's LoginRocket pages.

Chromium (Debian's, driven by Playwright) goes through what a person does: an expired login
link lands on the failure page at a URL with no token; the dashboard sends it to LoginRocket,
it picks a user, comes back logged in with no token in the address bar, is refused the
admin-only page, logs out, logs in again, and is sent back to LoginRocket as soon as its
session is ended at AuthRocket. A staff member logs in to the Django admin with "Log in with
AuthRocket", sees the mirror there, and logs out of the admin and of LoginRocket. Screenshots of the main pages go to
build/e2e-screenshots/ (CI keeps them as artifacts); with AUTHROCKET_UPDATE_SCREENSHOT=1 the
dashboard's also replaces docs/_static/dashboard.png, the picture in the README and the docs.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests

from django_authrocket.testing import AuthRocketEmulator

from .conftest import ROOT, SCREENSHOTS, ExampleSite

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOCS_SCREENSHOT = ROOT / "docs" / "_static" / "dashboard.png"


def shoot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_log_in_refuse_log_out_and_end_the_session_in_chromium(
    page: Any, demo_emulator: AuthRocketEmulator, example_site: ExampleSite
) -> None:
    from playwright.sync_api import expect

    site, emulator = example_site.url, demo_emulator
    login_page = re.compile(re.escape(f"{emulator.loginrocket_url}/login?") + ".*")
    alan = emulator.get_user("alan@example.com")  # no organization: not an admin anywhere
    ada = emulator.get_user("ada@example.com")  # owner and admin of Analytical Engines
    try:
        page.goto(f"{site}/")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Log in to Django with AuthRocket"
        )
        shoot(page, "01-home")

        # A refused login token (an expired link): the failure page is shown at a clean URL,
        # the token gone from the address bar, with a way to log in again.
        expired = emulator.mint_token(alan["id"], issued_at=1_700_000_000, ttl=60)
        failed = page.goto(f"{site}/login/?token={expired}&next=%2Fdashboard%2F")
        assert failed is not None and failed.status == 401
        assert page.url == f"{site}/login/failed/?reason=expired&next=%2Fdashboard%2F"
        assert "token" not in page.url and expired.split(".")[2] not in page.url
        expect(page.get_by_role("heading", level=1)).to_have_text("We could not log you in")
        expect(page.locator("main")).to_contain_text("This login link has expired.")
        expect(page.get_by_role("link", name="Log in again")).to_have_attribute(
            "href", "/login/?next=%2Fdashboard%2F"
        )
        shoot(page, "01b-login-refused")

        # A private page sends the browser to LoginRocket, which lists the demo people.
        page.goto(f"{site}/dashboard/")
        page.wait_for_url(login_page)
        alan_button = page.locator(f'button.user[value="{alan["id"]}"]')
        expect(alan_button).to_contain_text("Alan Turing")
        shoot(page, "02-emulator-login")

        alan_button.click()
        page.wait_for_url(f"{site}/dashboard/")
        assert "token=" not in page.url
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alan Turing")
        expect(page.locator("#session-id")).to_have_text(re.compile(r"^kss_"))
        shoot(page, "03-dashboard-non-admin")

        page.reload()
        assert page.url == f"{site}/dashboard/"
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alan Turing")

        # The admin-only page: a friendly 403 for someone without ar:admin.
        with page.expect_response(f"{site}/admin-area/") as refused:
            page.locator("#try").get_by_role("link", name="Admin area").click()
        assert refused.value.status == 403
        page.wait_for_url(f"{site}/admin-area/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Not for you, sorry")
        expect(page.locator("main")).to_contain_text("You have no organization selected.")
        shoot(page, "04-admin-area-refused")

        # The browser's session also works for the JSON API.
        me = page.request.get(f"{site}/api/me/")
        assert me.status == 200, me.text()
        assert me.json()["authrocket"]["user_id"] == alan["id"]

        # Log out (here and at LoginRocket): the public page, then the dashboard is refused.
        page.goto(f"{site}/dashboard/")
        page.locator(".actions").get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{site}/")
        expect(page.locator(".who")).to_contain_text("Log in")
        page.goto(f"{site}/dashboard/")
        page.wait_for_url(login_page)

        # Log in again, as an admin this time; the admin area lets her in.
        ada_button = page.locator(f'button.user[value="{ada["id"]}"]')
        ada_button.click()
        page.wait_for_url(f"{site}/dashboard/")
        assert "token=" not in page.url
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada Lovelace")
        expect(page.locator(".card.wide")).to_contain_text("Analytical Engines")
        dashboard = shoot(page, "05-dashboard")
        if os.environ.get("AUTHROCKET_UPDATE_SCREENSHOT", "") not in ("", "0"):
            DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dashboard, DOCS_SCREENSHOT)
        session_id = page.locator("#session-id").inner_text().strip()

        allowed = page.goto(f"{site}/admin-area/")
        assert allowed is not None and allowed.status == 200
        expect(page.get_by_role("heading", level=1)).to_have_text("Admin area")
        shoot(page, "06-admin-area")

        # The JSON API with a Bearer token, as an API client (no cookies) sends it.
        _, token = emulator.login(ada["id"])
        with requests.Session() as client:
            client.trust_env = False
            answer = client.get(
                f"{site}/api/me/", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["authenticated_by"] == "bearer"
            assert answer.json()["authrocket"]["org"]["name"] == "Analytical Engines"
            assert client.get(f"{site}/api/me/", timeout=10).status_code == 401

        # The session ends at AuthRocket: the next navigation is back at LoginRocket's login.
        assert emulator.end_session(session_id)
        page.goto(f"{site}/dashboard/")
        page.wait_for_url(login_page)
        expect(page.locator(f'button.user[value="{ada["id"]}"]')).to_be_visible()
    except BaseException:
        if not page.is_closed():
            shoot(page, "failure")
        raise
    assert not emulator.server_errors


def test_staff_log_in_to_the_admin_with_authrocket_in_chromium(
    page: Any, demo_emulator: AuthRocketEmulator, example_site: ExampleSite
) -> None:
    from playwright.sync_api import expect

    site, emulator = example_site.url, demo_emulator
    login_page = re.compile(re.escape(f"{emulator.loginrocket_url}/login?") + ".*")
    ada = emulator.get_user("ada@example.com")  # admin of the demo's staff org: staff here
    try:
        # The admin's login page offers AuthRocket, and keeps its password form.
        page.goto(f"{site}/admin/")
        page.wait_for_url(f"{site}/admin/login/?next=/admin/")
        button = page.get_by_role("link", name="Log in with AuthRocket")
        expect(button).to_have_attribute("href", "/login/?next=%2Fadmin%2F")
        expect(page.locator("#login-form")).to_be_visible()
        shoot(page, "07-admin-login")

        button.click()
        page.wait_for_url(login_page)
        page.locator(f'button.user[value="{ada["id"]}"]').click()
        page.wait_for_url(f"{site}/admin/")
        assert "token=" not in page.url

        # In the staff group: the mirrored users, orgs and memberships, to look at.
        main = page.locator("#content-main")
        expect(main).not_to_contain_text("permission to view or edit anything")
        for name in ("AuthRocket users", "AuthRocket orgs", "AuthRocket memberships"):
            expect(main.get_by_role("link", name=name, exact=True)).to_be_visible()
        shoot(page, "08-admin-index")
        main.get_by_role("link", name="AuthRocket orgs", exact=True).click()
        expect(page.locator("#result_list")).to_contain_text("Site Staff")

        # The admin's "Log out" ends LoginRocket's login too: the next "Log in with
        # AuthRocket" asks who is there instead of logging Ada straight back in.
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{site}/")
        expect(page.locator(".who")).to_contain_text("Log in")
        page.goto(f"{site}/admin/login/?next=/admin/")
        page.get_by_role("link", name="Log in with AuthRocket").click()
        page.wait_for_url(login_page)
        expect(page.locator(f'button.user[value="{ada["id"]}"]')).to_be_visible()
    except BaseException:
        if not page.is_closed():
            shoot(page, "failure-admin")
        raise
    assert not emulator.server_errors


def lose_the_django_session(page: Any, site: str) -> None:
    """Drop the browser's session cookie, as a lost Django session would, and see the site
    treat the browser as a visitor.

    The site rechecks the session at every request (interval 0), so every answer to a
    logged-in request sets the session cookie again, the favicon's too: a request still in
    flight when the cookie is cleared would bring it back. So the page's requests finish
    first, and the cookie must stay gone once the next page's have finished too."""
    from playwright.sync_api import expect

    page.wait_for_load_state("networkidle")
    page.context.clear_cookies(name="sessionid")
    page.goto(f"{site}/")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".who")).to_contain_text("Log in")
    assert "sessionid" not in {cookie["name"] for cookie in page.context.cookies()}


def test_a_lost_django_session_logs_in_again_on_loginrocket_s_cached_session(
    page: Any, demo_emulator: AuthRocketEmulator, example_site: ExampleSite
) -> None:
    """LoginRocket may send the same token again for the session it has cached (a third-party
    report; the realm option ``cached_login_token="same"``): the browser that spent it, back
    through the site's own login start, is logged in again, not refused as "already used"."""
    from playwright.sync_api import expect

    site, emulator = example_site.url, demo_emulator
    login_page = re.compile(re.escape(f"{emulator.loginrocket_url}/login?") + ".*")
    alan = emulator.get_user("alan@example.com")
    tokens: list[str] = []
    page.on(
        "request",
        lambda request: tokens.extend(re.findall(r"[?&]token=([\w.-]+)", request.url)),
    )
    emulator.configure(cached_login_token="same")
    try:
        page.goto(f"{site}/dashboard/")
        page.wait_for_url(login_page)
        page.locator(f'button.user[value="{alan["id"]}"]').click()
        page.wait_for_url(f"{site}/dashboard/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alan Turing")

        # The Django session is lost (its cookie gone); LoginRocket's session lives on.
        lose_the_django_session(page, site)

        # Back through the site's login start: LoginRocket logs straight in with the same
        # token, and the site accepts it from this browser.
        page.goto(f"{site}/dashboard/")
        page.wait_for_url(f"{site}/dashboard/")
        assert "token=" not in page.url
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alan Turing")
        assert len(tokens) == 2 and tokens[0] == tokens[1], "LoginRocket re-issued the token"

        # The same token from anywhere else (no login start, another browser) stays refused.
        other = page.context.browser.new_context()
        try:
            stranger = other.new_page()
            refused = stranger.goto(f"{site}/login/?token={tokens[0]}")
            assert refused is not None and refused.status == 401
            expect(stranger.locator("main")).to_contain_text("This login link was already used.")
        finally:
            other.close()
    except BaseException:
        if not page.is_closed():
            shoot(page, "failure-reissued-token")
        raise
    finally:
        emulator.configure(cached_login_token="new")
    assert not emulator.server_errors

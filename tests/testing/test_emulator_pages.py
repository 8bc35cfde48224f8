"""The emulator's hosted pages behave like LoginRocket's: the profile edits names and email,
the account switcher marks the current org, refusals and logouts say what happened and offer a
way on, and a failed login speaks the browser's language."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from django_authrocket.testing import AuthRocketEmulator

APP = "https://app.example/login/"


@pytest.fixture(scope="module")
def login_urls() -> tuple[str, ...]:
    return ("https://app.example/",)


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # the emulator is on loopback: no proxy
        session.headers["User-Agent"] = "TestBrowser/1.0"
        yield session


def log_in(
    emu: AuthRocketEmulator, browser: requests.Session, user_id: str, **form: str
) -> dict[str, object]:
    """Log in on the hosted page (the browser keeps LoginRocket's cookie); the token's claims."""
    response = browser.post(
        emu.url + "/login",
        data={"redirect_uri": APP, "user_id": user_id, **form},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    token = parse_qs(urlsplit(response.headers["Location"]).query)["token"][0]
    return jwt.decode(token, options={"verify_signature": False})


def next_token_claims(emu: AuthRocketEmulator, browser: requests.Session) -> dict[str, object]:
    """The token LoginRocket hands out next (a cached login on its cookie)."""
    again = browser.get(emu.url + "/login", params={"redirect_uri": APP}, allow_redirects=False)
    assert again.status_code == 302, again.text
    token = parse_qs(urlsplit(again.headers["Location"]).query)["token"][0]
    return jwt.decode(token, options={"verify_signature": False})


# -- the profile page -------------------------------------------------------------------------


def test_the_profile_page_shows_an_editable_form(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    ada = emu.create_user("ada@example.com", first_name="Ada", last_name="Lovelace")
    log_in(emu, browser, ada["id"])

    page = browser.get(emu.url + "/profile", params={"redirect_uri": "https://app.example/"})

    assert page.status_code == 200
    assert '<form method=post action="/profile">' in page.text
    assert 'name=first_name type=text value="Ada"' in page.text
    assert 'name=email type=email value="ada@example.com"' in page.text
    assert 'href="https://app.example/"' in page.text


def test_a_name_edited_on_the_profile_reaches_the_store_the_events_and_the_next_token(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    ada = emu.create_user("ada@example.com", first_name="Ada", last_name="Lovelace")
    log_in(emu, browser, ada["id"])

    saved = browser.post(
        emu.url + "/profile",
        data={"first_name": "Augusta Ada", "last_name": "King", "email": "ada@example.com"},
    )

    assert saved.status_code == 200
    assert "Saved." in saved.text
    assert emu.get_user(ada["id"])["name"] == "Augusta Ada King"
    assert emu.events[-1]["event_type"] == "user.profile.updated"
    assert emu.events[-1]["user_id"] == ada["id"]
    claims = next_token_claims(emu, browser)
    assert (claims["given_name"], claims["family_name"]) == ("Augusta Ada", "King")


def test_a_new_email_waits_for_verification_by_default(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    ada = emu.create_user("ada@example.com", first_name="Ada")
    log_in(emu, browser, ada["id"])

    saved = browser.post(
        emu.url + "/profile", data={"first_name": "Ada", "email": "Ada@Engines.example"}
    )

    assert "once you verify it" in saved.text
    assert "Waiting for verification: ada@engines.example" in saved.text
    assert emu.get_user(ada["id"])["email"] == "ada@example.com"
    assert emu.events[-1]["event_type"] == "user.email.updating"
    assert next_token_claims(emu, browser)["email"] == "ada@example.com"

    emu.verify_email(ada["id"])

    assert emu.events[-1]["event_type"] == "user.email.verified"
    claims = next_token_claims(emu, browser)
    assert (claims["email"], claims["email_verified"]) == ("ada@engines.example", True)


def test_a_new_email_changes_at_once_under_profile_email_change_immediate(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    emu.configure(profile_email_change="immediate")
    ada = emu.create_user("ada@example.com", first_name="Ada")
    log_in(emu, browser, ada["id"])

    browser.post(emu.url + "/profile", data={"first_name": "Ada", "email": "ada@engines.example"})

    user = emu.get_user(ada["id"])
    assert (user["email"], user["email_verification"]) == ("ada@engines.example", "requested")
    assert emu.events[-1]["event_type"] == "user.profile.updated"
    claims = next_token_claims(emu, browser)
    assert (claims["email"], claims["email_verified"]) == ("ada@engines.example", False)


def test_a_profile_edit_refuses_a_taken_email_and_changes_nothing(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    emu.create_user("grace@example.com")
    ada = emu.create_user("ada@example.com", first_name="Ada")
    log_in(emu, browser, ada["id"])
    events = len(emu.events)

    refused = browser.post(
        emu.url + "/profile", data={"first_name": "Eve", "email": "grace@example.com"}
    )

    assert refused.status_code == 422
    assert "Email has already been taken" in refused.text
    assert emu.get_user(ada["id"])["first_name"] == "Ada"
    assert len(emu.events) == events


def test_a_profile_post_without_a_session_changes_nothing(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    ada = emu.create_user("ada@example.com", first_name="Ada")

    response = browser.post(emu.url + "/profile", data={"first_name": "Eve"})

    assert "Not logged in" in response.text
    assert emu.get_user(ada["id"])["first_name"] == "Ada"


# -- accounts, refusals, logout ---------------------------------------------------------------


def test_the_accounts_page_marks_the_current_org(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    ada = emu.create_user("ada@example.com")
    engines = emu.create_org("Engines")
    other = emu.create_org("Difference")
    emu.create_membership(ada["id"], engines["id"], selected=True)
    emu.create_membership(ada["id"], other["id"])
    log_in(emu, browser, ada["id"], account=other["id"])

    page = browser.get(emu.url + "/accounts", params={"redirect_uri": APP}).text

    current = page[page.index("<li class=current") :].split("</li>")[0]
    assert "Difference" in current
    assert "(current)" in current
    assert page.count("(current)") == 1


def test_the_inactive_page_offers_a_way_back(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    isaac = emu.create_user("isaac@example.com", state="inactive")

    page = browser.post(emu.url + "/login", data={"redirect_uri": APP, "user_id": isaac["id"]})

    assert page.status_code == 403
    assert "Account inactive" in page.text
    assert 'href="/login?prompt=login&amp;redirect_uri=https%3A%2F%2Fapp.example%2Flogin%2F"' in (
        page.text
    )
    assert f'href="{APP}"' in page.text


def test_a_logout_without_redirect_uri_says_you_are_logged_out(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    ada = emu.create_user("ada@example.com")
    log_in(emu, browser, ada["id"])

    page = browser.get(emu.url + "/logout")

    assert page.status_code == 200
    assert "You are logged out." in page.text
    assert browser.get(emu.url + "/profile").text.count("Not logged in") == 1


def test_buttons_and_inputs_use_the_page_font(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    page = browser.get(emu.url + "/login").text

    assert "button,input,select,textarea{font:inherit}" in page


def test_a_failed_login_speaks_the_browser_language(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    spanish = browser.post(
        emu.url + "/login",
        data={"redirect_uri": APP, "user_id": "usr_nobody"},
        headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"},
    )
    english = browser.post(emu.url + "/login", data={"redirect_uri": APP, "user_id": "usr_nobody"})

    assert spanish.status_code == english.status_code == 422
    assert "Error al iniciar sesión" in spanish.text
    assert "<html lang=es>" in spanish.text
    assert "Login failed" in english.text


def test_a_hosted_login_records_the_browser_in_the_session_request(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    ada = emu.create_user("ada@example.com")
    claims = log_in(emu, browser, ada["id"])

    answer = browser.get(
        f"{emu.api_url()}/sessions/{claims['sid']}",
        headers={"Authrocket-Api-Key": emu.api_key, "Accept": "application/json"},
    ).json()

    assert answer["request"] == {"client": "TestBrowser/1.0"}


# -- Login URLs (authrocket.com/docs/loginrocket_urls, "Redirecting back to your app") -----------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/login/",
        "https://app.example:8443/login/",
        "http://app.example/login/",
        "https://app.example.evil.example/",
    ],
)
def test_an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
    emu: AuthRocketEmulator, browser: requests.Session, redirect_uri: str
) -> None:
    ada = emu.create_user("ada@example.com")

    shown = browser.get(emu.url + "/login", params={"redirect_uri": redirect_uri})
    posted = browser.post(
        emu.url + "/login",
        data={"redirect_uri": redirect_uri, "user_id": ada["id"]},
        allow_redirects=False,
    )

    for response in (shown, posted):
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert "is not a Login URL of this app" in response.text
    assert emu.end_user_sessions(ada["id"]) == []  # no session was started


def test_a_redirect_uri_below_a_login_url_is_allowed_and_a_sibling_is_not(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    emu.add_login_url("https://other.example/login")
    ada = emu.create_user("ada@example.com")

    def status(redirect_uri: str) -> int:
        return browser.post(
            emu.url + "/login",
            data={"redirect_uri": redirect_uri, "user_id": ada["id"]},
            allow_redirects=False,
        ).status_code

    assert status("https://other.example/login") == 302
    assert status("https://other.example/login/?next=%2Fx") == 302
    assert status("https://other.example/login?next=%2Fx") == 302
    assert status("https://OTHER.example:443/login/") == 302
    assert status("https://other.example/logins") == 400
    assert status("https://other.example/") == 400


def test_a_login_without_redirect_uri_goes_to_the_default_login_url(
    emu: AuthRocketEmulator, browser: requests.Session
) -> None:
    ada = emu.create_user("ada@example.com")

    response = browser.post(emu.url + "/login", data={"user_id": ada["id"]}, allow_redirects=False)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://app.example/?token=")


def test_login_urls_are_registered_until_reset(emu: AuthRocketEmulator) -> None:
    emu.add_login_url("https://other.example/")
    assert emu.login_urls == ["https://app.example/", "https://other.example/"]

    emu.reset()

    assert emu.login_urls == ["https://app.example/"]
    with pytest.raises(ValueError, match="absolute http"):
        emu.add_login_url("/relative")


def test_an_emulator_without_login_urls_sends_nobody_back(browser: requests.Session) -> None:
    with AuthRocketEmulator() as bare:
        user = bare.create_user()
        response = browser.post(
            bare.url + "/login",
            data={"redirect_uri": APP, "user_id": user["id"]},
            allow_redirects=False,
        )

    assert response.status_code == 400

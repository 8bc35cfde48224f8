"""Login CSRF (issue 12, finding 6) and tokens LoginRocket sends again (issue 13, point 5).

A token that arrives without the site's login marker, or that would switch a logged-in person
to another AuthRocket user, waits on a confirmation page naming the account, completed once by a
POST with Django's CSRF token. A token that already logged in logs in again only in the browser
that spent it, after a new login start there.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.core.signing import TimestampSigner, b62_encode
from django.test import Client

from django_authrocket import login_marker
from django_authrocket.conf import app_settings
from django_authrocket.testing import (
    authrocket_session_id,
    confirm_login,
    log_in_through_site,
    start_login,
)
from django_authrocket.verification import used_at
from tests.helpers import arrive_with, bearer_auth, is_logged_in, login_with

pytestmark = pytest.mark.django_db

CONFIRM = "/login/confirm/"


@pytest.fixture
def mallory(emulator) -> dict[str, Any]:
    return emulator.create_user("mallory@example.com", first_name="Mallory", last_name="Malice")


def who(client: Client) -> str | None:
    """The username logged in on ``client``, or None."""
    response = client.get("/private/")
    return response.json()["username"] if response.status_code == 200 else None


def assert_confirmation_asked(response: Any, token: str) -> None:
    """A 303 to the confirmation page, whose URL carries nothing of the token."""
    assert response.status_code == 303, getattr(response, "content", b"")[:300]
    assert response["Location"] == CONFIRM
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert token.rsplit(".", 1)[1] not in response["Location"]


# --- finding 6: the confirmation --------------------------------------------------------------


def test_a_token_without_the_marker_waits_on_a_page_naming_the_account(emulator, mallory) -> None:
    token = emulator.mint_token(mallory["id"])
    victim = Client()
    response = arrive_with(victim, token, next="/private/")
    assert_confirmation_asked(response, token)
    assert used_at(token) is None  # not spent yet
    assert who(victim) is None

    page = victim.get(CONFIRM)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Mallory Malice" in html and "mallory@example.com" in html
    assert token not in html and token.rsplit(".", 1)[1] not in html
    assert "no-store" in page["Cache-Control"]
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["X-Frame-Options"] == "DENY"
    assert re.search(r'<form method="post" action="/login/confirm/"', html)


def test_a_logged_in_person_is_not_switched_silently_to_another_user(emulator, ada, mallory):
    alice = Client()
    assert login_with(alice, emulator.mint_token(ada["id"])).status_code == 302
    # Even through the site's own login start: another person is always asked first.
    token = emulator.mint_token(mallory["id"])
    response = login_with(alice, token)
    assert_confirmation_asked(response, token)
    assert who(alice) == "ada"
    page = alice.get(CONFIRM).content.decode()
    assert "Mallory Malice" in page and "You are logged in as ada" in page


def test_a_silent_switch_is_refused_on_any_page_with_token_anywhere(
    settings, emulator, ada, mallory
) -> None:
    settings.AUTHROCKET_TOKEN_ANYWHERE = True
    alice = Client()
    login_with(alice, emulator.mint_token(ada["id"]))
    token = emulator.mint_token(mallory["id"])
    response = alice.get("/public/", {"token": token, "tab": "2"})
    assert_confirmation_asked(response, token)
    assert who(alice) == "ada"
    answer = confirm_login(alice, response)
    assert answer["Location"] == "/public/?tab=2"
    assert who(alice) not in (None, "ada")


def test_the_confirmation_post_logs_in_and_spends_the_token(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    browser = Client(enforce_csrf_checks=True)
    answer = confirm_login(browser, arrive_with(browser, token, next="/private/"))
    assert answer.status_code == 302
    assert answer["Location"] == "/private/"
    assert who(browser) == "ada"
    assert authrocket_session_id(browser) is not None
    assert used_at(token) is not None


def test_a_confirmation_without_the_csrf_token_is_refused(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    browser = Client(enforce_csrf_checks=True)
    arrive_with(browser, token)
    html = browser.get(CONFIRM).content.decode()
    nonce = re.search(r'name="confirmation" value="([^"]+)"', html)[1]
    response = browser.post(CONFIRM, {"confirmation": nonce})
    assert response.status_code == 403
    assert who(browser) is None
    assert used_at(token) is None


def test_a_confirmation_completes_once(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    browser = Client()
    arrive_with(browser, token)
    html = browser.get(CONFIRM).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    assert browser.post(CONFIRM, fields).status_code == 302
    browser.post("/logout/")

    again = browser.post(CONFIRM, fields)
    assert again.status_code == 303
    assert again["Location"].startswith("/login/failed/?reason=unconfirmed")
    assert who(browser) is None


def test_another_browser_cannot_complete_the_confirmation(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    victim = Client()
    arrive_with(victim, token)
    html = victim.get(CONFIRM).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    stranger = Client()
    assert stranger.post(CONFIRM, fields)["Location"].startswith("/login/failed/")
    assert who(stranger) is None


def test_the_confirmation_page_without_a_pending_login_is_the_failure_page() -> None:
    response = Client().get(CONFIRM)
    assert response.status_code == 303
    assert response["Location"] == "/login/failed/?reason=unconfirmed"


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_a_bad_token_gets_the_failure_page_not_a_confirmation(token) -> None:
    page = arrive_with(Client(), token)
    assert page.status_code == 401
    assert page.refusal["Location"].startswith("/login/failed/?reason=malformed")


def test_an_expired_token_gets_the_failure_page_not_a_confirmation(emulator, ada) -> None:
    expired = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)
    page = arrive_with(Client(), expired)
    assert page.status_code == 401
    assert b"expired" in page.content


def test_turning_the_confirmation_off_logs_in_directly(settings, emulator, ada, mallory) -> None:
    settings.AUTHROCKET_LOGIN_CONFIRMATION = False
    assert app_settings.LOGIN_CONFIRMATION is False
    browser = Client()
    response = arrive_with(browser, emulator.mint_token(ada["id"]))
    assert response.status_code == 302
    assert who(browser) == "ada"
    assert arrive_with(browser, emulator.mint_token(mallory["id"])).status_code == 302
    assert who(browser) != "ada"


def _old_marker() -> str:
    """A marker cookie signed as the site signs it, but older than its lifetime."""

    class Old(TimestampSigner):
        def timestamp(self) -> str:
            return b62_encode(int(time.time()) - login_marker.MAX_AGE - 60)

    signer = Old(key=django_settings.SECRET_KEY, salt=login_marker.COOKIE_NAME + login_marker.SALT)
    return signer.sign(f"nonce:{time.time() - login_marker.MAX_AGE - 60:.6f}")


@pytest.mark.parametrize("marker", ["forged", "expired", "other salt"])
def test_a_forged_or_expired_marker_counts_as_none(emulator, ada, marker) -> None:
    browser = Client()
    if marker == "forged":
        value = f"nonce:{time.time():.6f}:forged-signature"
    elif marker == "expired":
        value = _old_marker()
    else:  # a value the site signed for another purpose
        signer = TimestampSigner(key=django_settings.SECRET_KEY, salt="elsewhere")
        value = signer.sign(f"nonce:{time.time():.6f}")
    browser.cookies[login_marker.COOKIE_NAME] = value
    token = emulator.mint_token(ada["id"])
    assert_confirmation_asked(browser.get("/login/", {"token": token}), token)


def test_the_login_start_leaves_a_signed_marker_and_the_login_consumes_it(emulator, ada) -> None:
    browser = Client()
    return_to = start_login(browser, secure=True)
    morsel = browser.cookies[login_marker.COOKIE_NAME]
    assert morsel["httponly"] and morsel["secure"]
    assert morsel["samesite"] == "Lax"
    assert int(morsel["max-age"]) == login_marker.MAX_AGE
    response = browser.get(return_to, {"token": emulator.mint_token(ada["id"])}, secure=True)
    assert response.status_code == 302
    assert response.cookies[login_marker.COOKIE_NAME].value == ""  # deleted


@pytest.mark.parametrize("view", ["/signup/", "/profile/", "/accounts/", "/accounts/org_1/"])
def test_every_journey_to_loginrocket_leaves_the_marker(view) -> None:
    response = Client().get(view)
    assert response.status_code == 302
    assert response.cookies[login_marker.COOKIE_NAME].value


@pytest.mark.parametrize("view", ["/login/", "/signup/", "/profile/", "/accounts/"])
@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site"])
def test_a_start_another_site_caused_leaves_no_marker(emulator, mallory, view, fetch_site):
    """An attacker's page opens one of the site's starts in a window (a top-level navigation:
    a Lax cookie set then would be kept), then sends the browser to /login/ with its own token.
    The start leaves no marker, so that token waits for the confirmation."""
    victim = Client()
    response = victim.get(view, HTTP_SEC_FETCH_SITE=fetch_site, HTTP_SEC_FETCH_MODE="navigate")
    assert response.status_code == 302
    assert login_marker.COOKIE_NAME not in response.cookies
    token = emulator.mint_token(mallory["id"])
    assert_confirmation_asked(arrive_with(victim, token, next="/private/"), token)
    assert who(victim) is None


@pytest.mark.parametrize("fetch_site", ["same-origin", "none"])
def test_a_start_from_the_sites_own_page_or_typed_leaves_the_marker(emulator, ada, fetch_site):
    browser = Client()
    response = browser.get("/login/", HTTP_SEC_FETCH_SITE=fetch_site)
    assert response.cookies[login_marker.COOKIE_NAME].value
    response = browser.get("/login/", {"token": emulator.mint_token(ada["id"])})
    assert response.status_code == 302 and who(browser) == "ada"


# --- issue 13, point 5: LoginRocket sends the same token again --------------------------------


def _loginrocket(http: requests.Session, url: str, **data: str) -> str:
    """What LoginRocket answers a browser: the token it sends back to the site."""
    if data:
        answer = http.post(url, data=data, allow_redirects=False, timeout=5)
    else:
        answer = http.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text[:300]
    back = urlsplit(answer.headers["Location"])
    return parse_qs(back.query)["token"][0]


def _start(client: Client) -> str:
    """The site's login start, as the browser follows it: the LoginRocket URL."""
    return client.get("/login/", {"next": "/private/"})["Location"]


def test_a_reissued_token_logs_in_again_through_the_sites_start(emulator, ada) -> None:
    emulator.configure(cached_login_token="same")
    browser, loginrocket = Client(), requests.Session()  # one browser, two sites' cookies
    first_url = _start(browser)
    redirect_uri = parse_qs(urlsplit(first_url).query)["redirect_uri"][0]
    token = _loginrocket(
        loginrocket,
        f"{emulator.loginrocket_url}/login",
        redirect_uri=redirect_uri,
        user_id=ada["id"],
    )
    assert browser.get("/login/", {"next": "/private/", "token": token}).status_code == 302
    assert who(browser) == "ada"

    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)  # the Django session is lost
    assert who(browser) is None

    again = _loginrocket(loginrocket, _start(browser))  # LoginRocket's cached session
    assert again == token  # the same token, re-issued
    response = browser.get("/login/", {"next": "/private/", "token": again})
    assert response.status_code == 302 and response["Location"] == "/private/"
    assert who(browser) == "ada"


def test_a_reissued_token_without_the_marker_is_refused(settings, emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    browser = Client()
    assert login_with(browser, token).status_code == 302
    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)
    page = arrive_with(browser, token)  # no new login start: no marker
    assert page.status_code == 401 and b"already used" in page.content
    settings.AUTHROCKET_LOGIN_CONFIRMATION = False
    page = arrive_with(browser, token)
    assert page.status_code == 401 and b"already used" in page.content


def test_a_used_token_stays_refused_in_another_browser_that_started_a_login(emulator, ada):
    token = emulator.mint_token(ada["id"])
    assert login_with(Client(), token).status_code == 302
    thief = Client()
    page = login_with(thief, token)  # a marker of its own, but not the browser that spent it
    assert page.status_code == 401 and b"already used" in page.content
    assert who(thief) is None


def test_a_marker_older_than_the_tokens_use_does_not_let_it_in_again(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    browser = Client()
    return_to = start_login(browser)
    old_marker = browser.cookies[login_marker.COOKIE_NAME].value
    assert browser.get(return_to, {"token": token}).status_code == 302
    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)
    browser.cookies[login_marker.COOKIE_NAME] = old_marker  # set before the token was spent
    page = arrive_with(browser, token)
    assert page.status_code == 401 and b"already used" in page.content


def test_a_reissued_token_logs_in_once_per_login_start(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    browser = Client()
    assert login_with(browser, token).status_code == 302
    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)
    return_to = start_login(browser)
    marker = browser.cookies[login_marker.COOKIE_NAME].value
    assert browser.get(return_to, {"token": token}).status_code == 302  # once
    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)
    browser.cookies[login_marker.COOKIE_NAME] = marker  # the same start, kept past its login
    page = arrive_with(browser, token)
    assert page.status_code == 401 and b"already used" in page.content


def test_a_reissued_token_stays_refused_as_bearer(settings, emulator, ada) -> None:
    settings.AUTHROCKET_BEARER_URLS = [r"^private/"]
    token = emulator.mint_token(ada["id"])
    browser = Client()
    login_with(browser, token)
    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)
    assert login_with(browser, token).status_code == 302  # re-issued, through the start
    assert Client().get("/private/", **bearer_auth(token)).status_code == 401


def test_a_reissued_token_logs_in_again_in_api_mode(api_mode, emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    browser = Client()
    assert login_with(browser, token).status_code == 302
    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)
    assert login_with(browser, token).status_code == 302
    assert is_logged_in(browser)
    emulator.end_session(authrocket_session_id(browser))  # AuthRocket is asked again
    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)
    page = login_with(browser, token)
    assert page.status_code == 401


def test_log_in_through_site_is_a_login_the_site_started(emulator, ada) -> None:
    browser = Client()
    response = log_in_through_site(browser, emulator.mint_token(ada["id"]), next="/private/")
    assert response.status_code == 302 and response["Location"] == "/private/"


class Browser(Client):
    """A test client that sends a cookie only below its path, as a browser does (Django's
    test client sends every cookie to every path)."""

    def request(self, **request: Any) -> Any:
        path = request.get("PATH_INFO", "/")
        request["HTTP_COOKIE"] = "; ".join(
            f"{morsel.key}={morsel.coded_value}"
            for morsel in self.cookies.values()
            if path.startswith(morsel["path"] or "/")
        )
        return super().request(**request)


@pytest.mark.urls("tests.extra_urls")  # ShopLoginView, a site's own login view at /shop/login/
@pytest.mark.parametrize(("where", "lands"), [("/login/", "/private/"), ("/shop/login/", None)])
def test_a_reissued_token_logs_in_again_at_the_login_view_it_came_to(emulator, ada, where, lands):
    """The browser id goes only where tokens arrive, and a token LoginRocket sends again comes
    to the same login view, whichever path the site gave it: the browser sends the id there."""
    emulator.configure(cached_login_token="same")
    browser, loginrocket = Browser(), requests.Session()
    start = browser.get(where, {"next": "/private/"})["Location"]
    redirect_uri = parse_qs(urlsplit(start).query)["redirect_uri"][0]
    assert urlsplit(redirect_uri).path == where
    token = _loginrocket(
        loginrocket,
        f"{emulator.loginrocket_url}/login",
        redirect_uri=redirect_uri,
        user_id=ada["id"],
    )
    first = browser.get(where, {"next": "/private/", "token": token})
    assert first.status_code == 302
    assert first.cookies[login_marker.BROWSER_COOKIE]["path"] == where
    assert login_marker.BROWSER_COOKIE not in browser.get("/private/").wsgi_request.COOKIES

    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)  # the Django session is lost
    again = _loginrocket(loginrocket, browser.get(where, {"next": "/private/"})["Location"])
    assert again == token
    response = browser.get(where, {"next": "/private/", "token": again})
    assert response.status_code == 302
    assert response["Location"] == (lands or "/shop/welcome/")
    assert who(browser) == "ada"


@pytest.mark.urls("tests.i18n_urls")  # the login view at /en/login/ and /fr/login/
def test_a_reissued_token_logs_in_again_under_another_language_prefix(settings, emulator, ada):
    """Under i18n_patterns the browser id goes to the whole site: a token LoginRocket sends
    again may come back to the login view under another language's prefix, and the browser
    must send its id there too."""
    settings.USE_I18N = True
    settings.LANGUAGE_CODE = "en"
    settings.LANGUAGES = [("en", "English"), ("fr", "French")]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(1, "django.middleware.locale.LocaleMiddleware")  # after the session's
    settings.MIDDLEWARE = middleware
    emulator.configure(cached_login_token="same")
    browser, loginrocket = Browser(), requests.Session()
    start = browser.get("/en/login/", {"next": "/private/"})["Location"]
    redirect_uri = parse_qs(urlsplit(start).query)["redirect_uri"][0]
    assert urlsplit(redirect_uri).path == "/en/login/"
    token = _loginrocket(
        loginrocket,
        f"{emulator.loginrocket_url}/login",
        redirect_uri=redirect_uri,
        user_id=ada["id"],
    )
    first = browser.get("/en/login/", {"next": "/private/", "token": token})
    assert first.status_code == 302
    assert first.cookies[login_marker.BROWSER_COOKIE]["path"] == "/"

    browser.cookies.pop(django_settings.SESSION_COOKIE_NAME)  # the Django session is lost
    again_url = browser.get("/fr/login/", {"next": "/private/"})["Location"]
    assert urlsplit(parse_qs(urlsplit(again_url).query)["redirect_uri"][0]).path == "/fr/login/"
    again = _loginrocket(loginrocket, again_url)
    assert again == token
    response = browser.get("/fr/login/", {"next": "/private/", "token": again})
    assert response.status_code == 302
    assert response["Location"] == "/private/"
    assert who(browser) == "ada"


def test_with_token_anywhere_the_browser_id_goes_everywhere(settings, emulator, ada) -> None:
    settings.AUTHROCKET_TOKEN_ANYWHERE = True
    response = login_with(Client(), emulator.mint_token(ada["id"]))
    assert response.status_code == 302
    assert response.cookies[login_marker.BROWSER_COOKIE]["path"] == "/"


def test_a_confirmed_login_gives_the_browser_id_the_path_the_token_came_to(emulator, ada):
    browser = Browser()
    page = arrive_with(browser, emulator.mint_token(ada["id"]))  # no marker: the page asks
    assert page.status_code == 303
    html = browser.get(CONFIRM).content.decode()
    nonce = re.search(r'name="confirmation" value="([^"]+)"', html)
    assert nonce is not None
    done = browser.post(CONFIRM, {"confirmation": nonce.group(1)})
    assert done.status_code == 302
    assert done.cookies[login_marker.BROWSER_COOKIE]["path"] == "/login/"

"""Evidence for docs/security.md's OWASP ASVS section that no other test gives.

Session renewal on every login (ASVS 7.2.4), sessions of a user deleted at AuthRocket (7.4.2),
the hardened cookie settings the page recommends (3.3.x), CSRF for cookie requests but not for
Bearer requests (3.5.1), tokens in query strings (14.2.1), and ``Referrer-Policy`` on every
answer to a URL that carries a token (3.4.5).
"""

from __future__ import annotations

import json
from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.test import Client

from django_authrocket.testing import log_in_through_site, start_login
from tests.helpers import follow_refusal

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec-review-3f9a7c1e5d2b4a60"


def session_exists(key: str) -> bool:
    return import_module(django_settings.SESSION_ENGINE).SessionStore().exists(key)


def is_logged_in(client: Client, **extra: object) -> bool:
    return client.get("/private/", **extra).status_code == 200


# --- 7.2.4: a new session on every authentication ---------------------------------------------


@pytest.mark.parametrize("where", ["login view", "token anywhere"])
def test_logging_in_again_as_the_same_person_renews_the_session(settings, emulator, ada, where):
    settings.AUTHROCKET_TOKEN_ANYWHERE = where == "token anywhere"
    path = "/login/" if where == "login view" else "/public/"
    looms = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    session, first = emulator.login(ada["id"])
    # An account switch at LoginRocket: a new token for the same person and session.
    switched = emulator.mint_token(ada["id"], session_id=session["id"], org_id=looms["id"])
    client = Client()
    start_login(client)  # each login started here, as a browser does
    assert client.get(path, {"token": first}).status_code == 302
    before = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    start_login(client)
    assert client.get(path, {"token": switched}).status_code == 302

    after = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not session_exists(before)  # the old session is gone, not just left behind
    assert is_logged_in(client)
    assert client.get("/private/").json()["org"] == looms["id"]


def test_a_login_rotates_the_csrf_token(client, emulator, ada) -> None:
    client.cookies[django_settings.CSRF_COOKIE_NAME] = "a" * 32

    response = log_in_through_site(client, emulator.mint_token(ada["id"]))

    assert response.status_code == 302
    assert response.cookies[django_settings.CSRF_COOKIE_NAME].value not in ("", "a" * 32)


# --- 7.4.2: a user deleted at AuthRocket -------------------------------------------------------


def test_a_user_deleted_at_authrocket_loses_every_session_and_bearer_token(
    settings, emulator, ada
) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = WEBHOOK_SECRET
    browser = Client()
    assert log_in_through_site(browser, emulator.mint_token(ada["id"])).status_code == 302
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {emulator.mint_token(ada['id'])}"}
    assert Client().get("/api/me/", **bearer).status_code == 200

    emulator.delete_user(ada["id"])
    deleted = [e for e in emulator.events if e["event_type"] == "user.deleted"][-1]
    response = Client().post(
        f"/webhook/{WEBHOOK_SECRET}/", json.dumps(deleted), content_type="application/json"
    )
    assert response.status_code == 200, response.content

    # Only user.deleted was delivered (no session.deleted): the local user is deactivated, and
    # Django refuses an inactive user's session at its next request; tokens still within
    # their expiry are refused too.
    assert browser.get("/private/").status_code == 302
    answer = Client().get("/api/me/", **bearer)
    assert answer.status_code == 401 and answer.json()["error"] == "inactive_user"


# --- 3.3.x: hardened cookies work with the login flow ------------------------------------------


def test_host_prefixed_secure_cookies_work_through_the_login(settings, emulator, ada) -> None:
    settings.SESSION_COOKIE_NAME = "__Host-sessionid"
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_NAME = "__Host-csrftoken"
    settings.CSRF_COOKIE_SECURE = True
    client = Client()

    response = log_in_through_site(client, emulator.mint_token(ada["id"]), secure=True)

    assert response.status_code == 302
    cookie = response.cookies["__Host-sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["path"] == "/"
    assert not cookie["domain"]  # a __Host- cookie must not name a domain
    assert cookie["samesite"] == "Lax"  # sent on LoginRocket's top-level redirect back
    assert response.cookies["__Host-csrftoken"]["secure"]
    assert is_logged_in(client, secure=True)


# --- 3.5.1: CSRF applies to cookie requests, not to Bearer requests ----------------------------


def test_bearer_posts_need_no_csrf_token_but_cookie_posts_do(emulator, ada) -> None:
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {emulator.mint_token(ada['id'])}"}
    assert Client(enforce_csrf_checks=True).post("/api/me/", **bearer).status_code == 200

    browser = Client(enforce_csrf_checks=True)
    assert log_in_through_site(browser, emulator.mint_token(ada["id"])).status_code == 302
    assert browser.post("/api/me/").status_code == 403


# --- 14.2.1: a token authenticates an API request only in the Authorization header ------------


@pytest.mark.token_in_site_url
def test_a_token_in_the_query_string_never_authenticates_an_api_request(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    for name in ("access_token", "token", "bearer", "authorization"):
        response = Client().get("/api/me/", {name: token})
        assert response.status_code == 401, name
        assert response.json() == {"error": "anonymous"}
    response = Client().post("/api/me/", {"access_token": token})
    assert response.status_code in (401, 403)


# --- 3.4.5: no Referer leaves a page whose URL holds a token -----------------------------------


@pytest.mark.parametrize("where", ["/login/", "/public/"])
@pytest.mark.parametrize("outcome", ["accepted", "refused"])
def test_every_answer_to_a_token_url_sets_referrer_policy_no_referrer(
    settings, emulator, ada, where, outcome
) -> None:
    settings.AUTHROCKET_TOKEN_ANYWHERE = True
    token = emulator.mint_token(ada["id"])
    if outcome == "refused":
        token = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)

    client = Client()
    start_login(client)  # the login started here: no confirmation asked
    response = client.get(where, {"token": token})

    assert response.status_code == (302 if outcome == "accepted" else 303)
    assert response["Referrer-Policy"] == "no-referrer"
    if outcome == "refused":
        page = follow_refusal(client, response)  # the failure page, at a URL with no token
        assert page.status_code == 401
        assert page["Referrer-Policy"] == "no-referrer"
        assert b'<meta name="referrer" content="no-referrer">' in page.content

"""What AuthRocketMiddleware leaves alone and what it takes up: exempt URLs, sessions of other
backends and of ``force_login``, and ``?token=`` on any page (``AUTHROCKET_TOKEN_ANYWHERE``)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_authrocket.models import AuthRocketLogin
from django_authrocket.testing import authrocket_session_id, recheck_at_next_request, start_login
from tests.helpers import is_logged_in, logged_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rule", ["/health/", "/status/", "^status/", "status_live"])
def test_exempt_urls_are_left_alone(settings, emulator, ada, rule) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    client = logged_in(emulator, ada)
    emulator.end_session(authrocket_session_id(client))  # a recheck would end it...
    recheck_at_next_request(client)
    settings.AUTHROCKET_EXEMPT_URLS = [rule]
    target = "/health/" if rule == "/health/" else "/status/live/"
    emulator.clear_requests()
    assert client.get(target).status_code == 200
    assert "_auth_user_id" in client.session  # ...but an exempt URL rechecks nothing
    assert emulator.requests == []


@pytest.mark.parametrize("rule", ["/health/", "^status/", "status_live"])
def test_exempt_urls_still_end_an_expired_login_without_a_network_call(
    settings, emulator, ended, rule
) -> None:
    """The token's expiry is a clock comparison: exempt URLs apply it too (issue 12)."""
    settings.AUTHROCKET_VERIFY = "api"  # even in api mode: no call for an expiry
    settings.AUTHROCKET_EXEMPT_URLS = [rule]
    target = "/health/" if rule == "/health/" else "/status/live/"
    emulator.clear_requests()
    response = ended.get(target)
    assert response.status_code == 200  # the view answers, for an anonymous visitor
    assert "_auth_user_id" not in ended.session
    assert not AuthRocketLogin.objects.exists()
    assert emulator.requests == []
    assert ended.get("/private/").status_code == 302  # logged out for good


def test_a_session_logged_in_by_another_backend_is_not_touched(emulator) -> None:
    get_user_model().objects.create_user("local", password="pw-123456")
    client = Client()
    assert client.login(username="local", password="pw-123456")
    emulator.clear_requests()
    assert client.get("/private/").status_code == 200
    assert emulator.requests == []


@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_force_login_with_this_backend_is_a_plain_login_in_either_mode(
    settings, emulator, verify
) -> None:
    settings.AUTHROCKET_VERIFY = verify
    client = Client()
    client.force_login(get_user_model().objects.create_user("tester"))  # AuthRocketBackend
    assert client.session["_auth_user_backend"].endswith("AuthRocketBackend")
    emulator.clear_requests()
    for _ in range(2):
        response = client.get("/private/")
        assert response.status_code == 200
        assert response.json()["authrocket_session"] is None
    assert emulator.requests == []


# --- ?token= anywhere ---------------------------------------------------------------------------


def test_token_anywhere_logs_in_and_strips_loginrocket_params(settings, emulator, ada) -> None:
    settings.AUTHROCKET_TOKEN_ANYWHERE = True
    client = Client()
    start_login(client)  # the site's own login start: no question asked
    token = emulator.mint_token(ada["id"])
    response = client.get(
        "/public/", {"token": token, "account": "org_1", "session": "x", "tab": "2"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/public/?tab=2"
    assert is_logged_in(client)


def test_token_anywhere_is_off_by_default(emulator, ada) -> None:
    client = Client()
    assert client.get("/public/", {"token": emulator.mint_token(ada["id"])}).status_code == 200
    assert not is_logged_in(client)


@pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/", "///evil.example/x"])
def test_token_anywhere_cannot_be_turned_into_an_open_redirect(
    settings, emulator, ada, path
) -> None:
    settings.AUTHROCKET_TOKEN_ANYWHERE = True
    client = Client()
    start_login(client)  # the login started here: the token logs in
    response = client.get(path, {"token": emulator.mint_token(ada["id"])})
    location = response["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))


def test_a_setting_changed_while_the_site_runs_applies_at_the_next_request(
    settings, emulator, ada
) -> None:
    """One client keeps one middleware instance: it must not keep the settings it read."""
    settings.AUTHROCKET_VERIFY = "api"
    client = logged_in(emulator, ada)
    assert client.get("/private/").status_code == 200
    emulator.end_session(authrocket_session_id(client))
    recheck_at_next_request(client)
    settings.AUTHROCKET_EXEMPT_URLS = ["/private/"]
    emulator.clear_requests()
    assert client.get("/private/").status_code == 200  # exempt now: nothing asked
    assert emulator.requests == []
    settings.AUTHROCKET_EXEMPT_URLS = []
    assert client.get("/private/").status_code == 302  # the recheck finds the session ended
    assert not is_logged_in(client)

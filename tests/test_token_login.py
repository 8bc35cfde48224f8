"""token_login.py: a browser logged in with LoginRocket's ``?token=``, or told why not."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_login_failed
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, RequestFactory
from django.urls import reverse

from django_authrocket import token_login
from django_authrocket.exceptions import (
    APIUnavailable,
    ExpiredToken,
    InvalidToken,
    KeysUnavailable,
    ReplayedToken,
)
from django_authrocket.logins import LoginEntry
from django_authrocket.models import AuthRocketLogin
from django_authrocket.testing import confirm_login
from tests.helpers import logged_in, login_with, query_of

pytestmark = pytest.mark.django_db


def request_with_session(path: str = "/login/"):  # type: ignore[no-untyped-def]
    request = RequestFactory().get(path)
    SessionMiddleware(lambda request: None).process_request(request)
    return request


def test_log_in_with_token_logs_the_request_in_and_records_the_login(emulator, ada) -> None:
    request = request_with_session()
    user, session = token_login.log_in_with_token(request, emulator.mint_token(ada["id"]))
    assert user.get_username() == "ada" and session.user.id == ada["id"]
    assert request.session[SESSION_KEY] == str(user.pk)
    entry = LoginEntry.of(request.session)
    assert AuthRocketLogin.objects.get().ref == entry.ref


def test_log_in_with_token_raises_the_typed_refusal(emulator, ada) -> None:
    request = request_with_session()
    token = emulator.mint_token(ada["id"])
    token_login.log_in_with_token(request, token)
    with pytest.raises(ReplayedToken):
        token_login.log_in_with_token(request_with_session(), token)


@pytest.mark.parametrize("second", ["same person", "account switch"])
def test_a_second_login_in_the_same_browser_replaces_the_first_row(emulator, ada, second) -> None:
    client = logged_in(emulator, ada)
    other = ada if second == "same person" else emulator.create_user("grace@example.com")
    response = login_with(client, emulator.mint_token(other["id"]))
    if second == "account switch":  # another person: asked first
        response = confirm_login(client, response)
    assert response.status_code == 302
    row = AuthRocketLogin.objects.get()  # one, not two
    assert row.session_key == client.session.session_key
    client.post("/logout/")
    assert not AuthRocketLogin.objects.exists()


def test_a_failed_login_sends_user_login_failed_with_the_token_masked(
    client, emulator, ada
) -> None:
    token = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)
    received: list[dict[str, object]] = []

    def on_failure(sender, credentials, request, **kwargs):  # type: ignore[no-untyped-def]
        received.append({"credentials": credentials, "path": request.path})

    user_login_failed.connect(on_failure)
    try:
        assert login_with(client, token).status_code == 401
    finally:
        user_login_failed.disconnect(on_failure)
    [failure] = received
    assert failure["path"] == "/login/"
    credentials = failure["credentials"]
    assert set(credentials) == {"authrocket_token"}  # type: ignore[arg-type]
    masked = credentials["authrocket_token"]  # type: ignore[index]
    assert set(masked) == {"*"}
    assert token not in str(received) and token.split(".")[2] not in str(received)


# --- the failure page ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        (ExpiredToken("exp is past"), 401, "This login link has expired."),
        (ReplayedToken("seen"), 401, "This login link was already used."),
        (InvalidToken("bad", reason="inactive_user"), 401, "This account is disabled"),
        (InvalidToken("bad signature"), 401, "This login link is not valid."),
        (KeysUnavailable("jwks down"), 503, "could not be reached"),
        (APIUnavailable("timeout"), 503, "could not be reached"),
    ],
    ids=["expired", "replayed", "inactive", "other", "keys-down", "api-down"],
)
def test_the_failure_page_says_why_and_offers_a_way_back(error, status, text) -> None:
    redirect = token_login.failure_redirect(RequestFactory().get("/login/"), error, "/private/")
    assert redirect.status_code == 303
    assert redirect["Referrer-Policy"] == "no-referrer"
    assert "no-store" in redirect["Cache-Control"]

    response = Client().get(redirect["Location"])  # a first visit: no session

    body = response.content.decode()
    assert response.status_code == status
    assert text in body
    assert 'href="/login/?next=%2Fprivate%2F"' in body
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert str(error) not in body  # the reason code, not the internal message


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ExpiredToken("exp"), "expired"),
        (InvalidToken("sig", reason="bad_signature"), "bad_signature"),
        (InvalidToken("hook", reason="refused"), "refused"),
        (KeysUnavailable("down"), "keys_unavailable"),
        (APIUnavailable("down"), "api_error"),
        (InvalidToken("a site's own", reason="not_ours"), "invalid"),
    ],
)
def test_the_failure_url_carries_a_known_reason_and_the_next_only(error, reason) -> None:
    request = RequestFactory().get("/login/", {"token": "eyJ.secret.sig"})
    location = token_login.failure_redirect(request, error, "/private/?a=1")["Location"]
    assert location.startswith(reverse("authrocket:login_failed") + "?")
    assert query_of(location) == {"reason": [reason], "next": ["/private/?a=1"]}
    assert "eyJ" not in location


@pytest.mark.parametrize(
    ("query", "status", "text", "retry"),
    [
        ({"reason": "You won a prize"}, 401, "This login link is not valid.", "/login/"),
        ({"reason": "replayed", "next": "//evil.example/"}, 401, "already used", "/login/"),
        ({"reason": "keys_unavailable"}, 503, "could not be reached", "/login/"),
        ({}, 401, "This login link is not valid.", "/login/"),
        ({"reason": "expired", "next": "/a/"}, 401, "has expired", "/login/?next=%2Fa%2F"),
    ],
    ids=["unknown-reason", "unsafe-next", "outage", "bare", "next-kept"],
)
def test_the_failure_page_shows_only_known_reasons_and_a_safe_next(
    query, status, text, retry
) -> None:
    """The page's URL is public: a crafted link shows nothing of its own, nor links away."""
    response = Client().get(reverse("authrocket:login_failed"), query)
    body = response.content.decode()
    assert response.status_code == status
    assert text in body
    assert f'href="{retry}"' in body
    assert "prize" not in body and "evil" not in body


def test_the_login_request_itself_sees_its_authrocket_session(emulator, ada) -> None:
    from django.contrib.auth.signals import user_logged_in
    from django.test import Client

    from django_authrocket.logins import current_session
    from tests.helpers import login_with

    seen = []

    def receiver(sender, request, user, **kwargs) -> None:
        seen.append(request)

    user_logged_in.connect(receiver)
    try:
        client = Client()
        assert login_with(client, emulator.mint_token(ada["id"])).status_code == 302
    finally:
        user_logged_in.disconnect(receiver)
    # user_logged_in runs inside auth.login(), before the record exists; the request object is
    # the same one the view goes on with, so once the login is recorded it answers.
    assert current_session(seen[0]).user.id == ada["id"]

"""api mode cannot be turned against the site (issue 12, finding 2).

* A token is verified here (its signature against LoginRocket's key set or the configured key)
  before Get Session is asked: a forged or garbage token costs no Core API call, at the login
  view or as a Bearer token, so anonymous traffic cannot spend the site's rate limit.
* One web request (a login, a recheck, a Bearer check) sleeps on retries for at most
  ``AUTHROCKET_HTTP_TIMEOUT`` in all: a ``Retry-After`` longer than what is left is not waited
  for, and the request counts AuthRocket as unreachable.
* A 429 or an outage at a recheck is "unreachable", under ``AUTHROCKET_RECHECK_GRACE``; only a
  definite answer (the session is gone) ends a session.

The Core API calls are counted at the emulator, which records every request it answers.
"""

from __future__ import annotations

import os
import time

import pytest
from django.test import Client

from django_authrocket.testing import authrocket_session_id, recheck_at_next_request
from tests.helpers import bearer_auth, is_logged_in, logged_in, login_with, session_calls
from tests.jwt_factory import b64url, rsa_key

pytestmark = pytest.mark.django_db

#: How many bad tokens each test sends.
FLOOD = 40


def core_api_calls(emulator) -> int:  # type: ignore[no-untyped-def]
    """Every Core API request the emulator answered (Get Session, users, memberships...)."""
    return int(emulator.count_requests("/api/*"))


def bad_tokens(emulator, user: dict, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` distinct well-shaped tokens that LoginRocket never signed: the right ``kid``
    and claims naming a live session of ``user``, with a foreign key's signature or random
    bytes as the signature."""
    attacker = rsa_key("attacker").private_key
    tokens = []
    for number in range(count):
        if number % 2:
            tokens.append(emulator.mint_token(user["id"], key=attacker))
        else:
            genuine = emulator.mint_token(user["id"])
            signing_input = genuine.rsplit(".", 1)[0]
            tokens.append(f"{signing_input}.{b64url(os.urandom(256))}")
    return tokens


# --- local verification first -------------------------------------------------------------------


def test_a_forged_token_costs_no_core_api_call_at_the_login_view(api_mode, emulator, ada) -> None:
    tokens = bad_tokens(emulator, ada, 4)
    emulator.clear_requests()

    for token in tokens:
        client = Client()
        response = login_with(client, token)
        assert response.status_code == 401
        assert "_auth_user_id" not in client.session

    assert core_api_calls(emulator) == 0


def test_a_forged_bearer_token_costs_no_core_api_call(api_mode, emulator, ada) -> None:
    tokens = bad_tokens(emulator, ada, 4)
    emulator.clear_requests()

    for token in tokens:
        response = Client().get("/api/me/", **bearer_auth(token))
        assert response.status_code == 401
        assert response.json()["error"] == "bad_signature"

    assert core_api_calls(emulator) == 0


def test_bad_tokens_cannot_spend_the_sites_rate_limit(api_mode, emulator, ada) -> None:
    tokens = bad_tokens(emulator, ada, FLOOD)
    emulator.clear_requests()

    for token in tokens:
        login_with(Client(), token)
        Client().get("/api/me/", **bearer_auth(token))

    assert core_api_calls(emulator) == 0
    # A genuine token still asks AuthRocket, once: api mode's own check is kept.
    client = logged_in(emulator, ada)
    assert session_calls(emulator) == 1
    assert is_logged_in(client)


def test_api_mode_still_asks_authrocket_about_a_genuine_token_of_an_ended_session(
    api_mode, emulator, ada
) -> None:
    session, token = emulator.login(ada["id"])
    emulator.end_session(session["id"])
    emulator.clear_requests()

    assert login_with(Client(), token).status_code == 401
    assert Client().get("/api/me/", **bearer_auth(token)).status_code == 401
    assert session_calls(emulator) == 2


# --- a web request's retry pauses add up to AUTHROCKET_HTTP_TIMEOUT at most ---------------------


@pytest.fixture
def rate_limited(api_mode, emulator):  # type: ignore[no-untyped-def]
    """The site's API key is rate-limited: every Get Session is a 429 with ``Retry-After: 1``.

    With a 1.5 s budget and three retries allowed, the first pause (1 s) fits, the second does
    not: two calls, then the request gives up. Without the budget all four calls are made.
    """
    api_mode.AUTHROCKET_HTTP_TIMEOUT = 1.5
    api_mode.AUTHROCKET_HTTP_RETRIES = 3

    def start() -> None:
        emulator.clear_requests()
        emulator.inject_fault("/api/v2/sessions/*", status=429, retry_after=1, times=None)

    return start


def test_a_login_gives_up_when_retry_after_exceeds_what_is_left_of_its_budget(
    rate_limited, emulator, ada
) -> None:
    token = emulator.mint_token(ada["id"])
    rate_limited()

    response = login_with(Client(), token)

    assert response.status_code == 503
    assert session_calls(emulator) == 2
    emulator.clear_faults()
    assert login_with(Client(), token).status_code == 302  # the token was not spent


def test_a_bearer_check_gives_up_when_retry_after_exceeds_what_is_left_of_its_budget(
    rate_limited, emulator, ada
) -> None:
    token = emulator.mint_token(ada["id"])
    rate_limited()

    response = Client().get("/api/me/", **bearer_auth(token))

    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert session_calls(emulator) == 2


def test_a_recheck_gives_up_when_retry_after_exceeds_what_is_left_of_its_budget(
    rate_limited, api_mode, emulator, ada
) -> None:
    api_mode.AUTHROCKET_RECHECK_GRACE = 60
    client = logged_in(emulator, ada)
    recheck_at_next_request(client)
    rate_limited()

    assert client.get("/private/").status_code == 200  # unreachable, within its grace

    assert session_calls(emulator) == 2


def test_a_retry_after_beyond_the_whole_budget_is_not_waited_for_at_all(
    api_mode, emulator, ada
) -> None:
    api_mode.AUTHROCKET_HTTP_TIMEOUT = 1
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()
    emulator.inject_fault("/api/v2/sessions/*", status=429, retry_after=5, times=None)

    assert login_with(Client(), token).status_code == 503
    assert Client().get("/api/me/", **bearer_auth(token)).status_code == 503

    assert session_calls(emulator) == 2  # one each, no retry


# --- a 429 or an outage is "unreachable", never "ended" -----------------------------------------


def test_a_rate_limited_recheck_keeps_the_session_and_only_a_definite_answer_ends_it(
    api_mode, emulator, ada
) -> None:
    api_mode.AUTHROCKET_RECHECK_GRACE = 60
    client = logged_in(emulator, ada)
    recheck_at_next_request(client)
    emulator.clear_requests()
    emulator.inject_fault("/api/v2/sessions/*", status=429, retry_after=30, times=None)

    assert client.get("/private/").status_code == 200
    assert session_calls(emulator) == 1  # the 429 was not waited out, and not taken as an end

    emulator.clear_faults()
    emulator.end_session(authrocket_session_id(client))
    time.sleep(1.05)  # the shared "unreachable" answer holds for at most one interval
    recheck_at_next_request(client)
    response = client.get("/private/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_rate_limited_recheck_without_grace_ends_as_unreachable_not_as_ended(
    api_mode, emulator, ada
) -> None:
    client = logged_in(emulator, ada)
    recheck_at_next_request(client)
    emulator.clear_requests()
    emulator.inject_fault("/api/v2/sessions/*", status=429, retry_after=30, times=None)

    response = client.get("/api/me/", HTTP_ACCEPT="application/json")

    assert response.status_code == 401
    assert response.json()["error"] == "unreachable"
    assert session_calls(emulator) == 1

"""verification.py: one policy for a LoginRocket token, by signature (jwt) or Get Session (api).

Real tokens from the emulator; in api mode the emulator's Core API answers. Where a rule needs an
answer the emulator would not give (a session that started an hour ago, or that AuthRocket still
serves past its expiry), the real answer is fetched, changed in that one field and served back.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from django_authrocket.client import AuthRocketClient
from django_authrocket.exceptions import (
    ExpiredToken,
    InvalidClaims,
    InvalidToken,
    MalformedToken,
    ReplayedToken,
    TokenTooOld,
    WrongRealm,
)
from django_authrocket.identity import AuthRocketSession
from django_authrocket.verification import verify_bearer_token, verify_login_token
from tests.helpers import session_calls

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["jwt", "api"])
def mode(request, settings, emulator) -> str:
    """Each test runs in both verification modes."""
    settings.AUTHROCKET_VERIFY = request.param
    return str(request.param)


def serve_changed_answer(emulator, session_id: str, **changes: Any) -> None:
    """From now on Get Session answers with this session's real answer, ``changes`` applied
    (``user`` changes are merged into the user, which the answer then embeds)."""
    user_changes = changes.pop("user", None)
    if user_changes is not None:
        emulator.configure(session_answer="embedded_user")
    answer = AuthRocketClient.from_settings().get_session(session_id)
    if user_changes is not None:
        answer["user"].update(user_changes)
    body = json.dumps({**answer, **changes}).encode()
    emulator.inject_fault("/api/v2/sessions/*", kind="body", status=200, body=body, times=None)


# --- both modes ---------------------------------------------------------------------------------


def test_a_login_token_is_verified_the_configured_way(mode, emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()
    session = verify_login_token(token)
    assert session.user.id == ada["id"] and session.id.startswith("kss_")
    assert session.source == ("api" if mode == "api" else "token")
    assert session_calls(emulator) == (1 if mode == "api" else 0)


def test_single_use_refuses_the_second_use(mode, emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    verify_login_token(token, single_use=True)
    with pytest.raises(ReplayedToken) as caught:
        verify_login_token(token, single_use=True)
    assert caught.value.reason == "replayed"
    verify_login_token(token)  # only single-use callers (the login) mind the mark


def test_a_second_token_for_the_same_session_is_not_a_replay(mode, emulator, ada) -> None:
    # An account switch at LoginRocket issues a new token for the same session, possibly in
    # the same second: it is a new login.
    looms = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    session, first = emulator.login(ada["id"])
    second = emulator.mint_token(ada["id"], session_id=session["id"], org_id=looms["id"])
    assert verify_login_token(first, single_use=True).id == session["id"]
    assert verify_login_token(second, single_use=True).id == session["id"]


def test_replay_protection_can_be_turned_off(mode, settings, emulator, ada) -> None:
    settings.AUTHROCKET_PREVENT_TOKEN_REPLAY = False
    token = emulator.mint_token(ada["id"])
    verify_login_token(token, single_use=True)
    verify_login_token(token, single_use=True)


@pytest.mark.parametrize(
    "garbage", ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30", "x" * 20_000, "é.é.é"]
)
def test_garbage_never_reaches_the_core_api(api_mode, emulator, garbage) -> None:
    emulator.clear_requests()
    with pytest.raises(MalformedToken):
        verify_login_token(garbage, single_use=True)
    with pytest.raises(MalformedToken):
        verify_bearer_token(garbage)
    assert emulator.requests == []


# --- one policy: the api mode applies the jwt mode's rules -------------------------------------


def test_max_age_refuses_an_old_login(mode, emulator, ada) -> None:
    hour_ago = int(time.time()) - 3600
    if mode == "api":
        session, token = emulator.login(ada["id"])
        serve_changed_answer(emulator, session["id"], created_at=hour_ago)
    else:
        token = emulator.mint_token(ada["id"], issued_at=hour_ago, ttl=7200)
    with pytest.raises(TokenTooOld) as caught:
        verify_login_token(token, max_age=60)
    assert caught.value.reason == "too_old"
    assert verify_login_token(token, max_age=7200).user.id == ada["id"]


def test_a_session_of_another_realm_is_refused(mode, emulator, ada) -> None:
    # AUTHROCKET_REALM is the emulator's realm; the token (or the answer, as an API key that
    # reaches several realms would get it) is another realm's.
    if mode == "api":
        session, token = emulator.login(ada["id"])
        serve_changed_answer(emulator, session["id"], user={"realm_id": "rlm_someone_else"})
    else:
        token = emulator.mint_token(ada["id"], claims={"rid": "rlm_someone_else"})
    with pytest.raises(WrongRealm) as caught:
        verify_login_token(token)
    assert caught.value.reason == "wrong_realm"


def test_an_expired_session_is_refused(mode, settings, emulator, ada) -> None:
    settings.AUTHROCKET_JWT_LEEWAY = 30
    long_ago = int(time.time()) - 600
    if mode == "api":
        # AuthRocket still answers for it (its clock, or a cached answer, lags ours).
        session, token = emulator.login(ada["id"])
        serve_changed_answer(emulator, session["id"], expires_at=long_ago)
    else:
        token = emulator.mint_token(ada["id"], issued_at=long_ago - 60, ttl=60)
    with pytest.raises(ExpiredToken) as caught:
        verify_login_token(token)
    assert caught.value.reason == "expired"


def test_a_session_that_ended_at_authrocket_is_refused_in_api_mode(api_mode, emulator, ada) -> None:
    session, token = emulator.login(ada["id"])
    emulator.end_session(session["id"])
    with pytest.raises(InvalidToken) as caught:
        verify_login_token(token)
    assert caught.value.reason == "session_not_found"


# --- Bearer tokens ------------------------------------------------------------------------------


def test_a_bearer_token_costs_one_get_session_per_interval_in_api_mode(
    api_mode, emulator, ada
) -> None:
    api_mode.AUTHROCKET_RECHECK_INTERVAL = 60
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()
    sessions = [verify_bearer_token(token) for _ in range(5)]
    assert {session.user.id for session in sessions} == {ada["id"]}
    assert session_calls(emulator) == 1
    # Another token is checked on its own, never on the first one's answer.
    verify_bearer_token(emulator.mint_token(ada["id"]))
    assert session_calls(emulator) == 2


def test_a_bearer_token_is_checked_by_signature_in_jwt_mode(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()
    assert verify_bearer_token(token).user.id == ada["id"]
    assert session_calls(emulator) == 0


def test_an_empty_bearer_token_is_malformed(mode) -> None:
    with pytest.raises(InvalidToken) as caught:
        verify_bearer_token("")
    assert caught.value.reason == "malformed"


# --- api mode: AuthRocket 2's Get Session answer names its user, it does not embed them ----------
# authrocket.com/docs/api/sessions ("Fields"): id, client_app_id, created_at, expires_at, token,
# user_id, request. Each shape the real answer may take is a realm option of the emulator.

SESSION_ANSWERS = ["documented", "without_token", "embedded_user"]


def user_reads(emulator) -> int:
    """How many user and membership reads the emulator answered."""
    return int(
        emulator.count_requests("/api/*/users/*", method="GET")
        + emulator.count_requests("/api/*/memberships", method="GET")
    )


@pytest.mark.parametrize("session_answer", SESSION_ANSWERS)
def test_api_mode_logs_in_from_every_get_session_answer(
    api_mode, emulator, ada, session_answer
) -> None:
    emulator.configure(session_answer=session_answer)
    looms = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()

    session = verify_login_token(token, single_use=True)

    assert (session.source, session.user.id, session.user.first_name) == ("api", ada["id"], "Ada")
    assert session.id.startswith("kss_")
    assert session.selected_org is not None
    assert session.selected_org.name == "Analytical Engines"
    assert session.has_perm("billing:invoices")
    assert session_calls(emulator) == 1
    # Reads only where neither the answer nor its token tells who the user is.
    assert user_reads(emulator) == (2 if session_answer == "without_token" else 0)


def test_api_mode_reads_the_user_and_their_memberships_without_a_token(
    api_mode, emulator, ada
) -> None:
    emulator.configure(session_answer="without_token")
    looms = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    emulator.clear_requests()

    session = verify_login_token(emulator.mint_token(ada["id"]))

    assert emulator.count_requests(f"/api/v2/users/{ada['id']}", method="GET") == 1
    assert [r.query for r in emulator.requests if r.path == "/api/v2/memberships"] == [
        {"user_id": [ada["id"]], "max_results": ["100"]}
    ]
    assert sorted(m.org.name for m in session.memberships) == ["Analytical Engines", "Looms"]
    assert session.user.email_verification == "verified"  # the API's exact word


def test_the_builder_takes_the_user_and_memberships_read_separately(
    api_mode, emulator, ada
) -> None:
    emulator.configure(session_answer="without_token")
    session, _ = emulator.login(ada["id"])
    client = AuthRocketClient.from_settings()
    answer = client.get_session(session["id"])
    user = client.get_user(ada["id"])
    memberships = list(client.iter_memberships(user_id=ada["id"]))

    built = AuthRocketSession.from_api(answer, user=user, memberships=memberships)

    assert (built.id, built.user.email, built.source) == (session["id"], ada["email"], "api")
    assert built.selected_org is not None and built.selected_org.name == "Analytical Engines"
    # What a login stores and rebuilds: the answer with the user embedded.
    assert AuthRocketSession.from_api(built.claims) == built
    with pytest.raises(InvalidClaims):  # the answer names another user
        AuthRocketSession.from_api(answer, user={**user, "id": "usr_someone_else"})


@pytest.mark.parametrize(
    "person",
    [
        {"username": "grace", "reference": "g-1", "custom": {"team": "navy", "n": 3}},
        {"username": None, "email_verification": "requested"},
        {"first_name": "Émilie", "last_name": "du Châtelet", "custom": {"x": {"y": [1, "z"]}}},
    ],
)
def test_a_login_builds_from_its_verified_token_what_reading_the_answer_back_builds(
    api_mode, emulator, person
) -> None:
    # When Get Session answers with the very token that verified, the login takes the user and
    # memberships from that token's session instead of reading its own answer back: the result
    # must be the same in every field (custom attributes included, which == leaves out).
    user = emulator.create_user("someone@example.com", **person)
    for name, selected in (("Engines", True), ("Looms", False)):
        org = emulator.create_org(name, reference=f"{name}-ref", custom={"plan": name})
        emulator.create_membership(user["id"], org["id"], permissions=["a", "b"], selected=selected)
    token = emulator.mint_token(user["id"])

    session = verify_login_token(token)
    read_back = AuthRocketSession.from_api(session.claims)

    assert session.source == read_back.source == "api"
    assert session.memberships  # the token carries org data: the path under test
    assert dataclasses.asdict(session) == dataclasses.asdict(read_back)
    assert session.claims == read_back.claims and "token" not in session.claims


def test_a_nul_in_the_rest_of_an_answer_built_from_its_token_is_refused(
    api_mode, emulator, ada
) -> None:
    token = emulator.mint_token(ada["id"])
    answer = AuthRocketClient.from_settings().get_session(token)  # it carries this token
    assert answer["token"] == token
    body = json.dumps({**answer, "client_app_id": "app\x00"}).encode()
    emulator.inject_fault("/api/v2/sessions/*", kind="body", status=200, body=body, times=None)

    with pytest.raises(InvalidToken):
        verify_login_token(token)


@pytest.mark.parametrize("spoiled", ["foreign_key", "other_session", "expired"])
def test_a_get_session_token_that_cannot_be_trusted_is_not_read(
    api_mode, emulator, ada, spoiled
) -> None:
    # The answer's token is decoded only when it verifies and names this session and user;
    # otherwise the user is read, as if the answer had no token.
    session, token = emulator.login(ada["id"])
    answer = AuthRocketClient.from_settings().get_session(session["id"])
    answer["token"] = {
        "foreign_key": emulator.mint_token(
            session_id=session["id"], key=rsa.generate_private_key(65537, 2048)
        ),
        "other_session": emulator.mint_token(ada["id"]),
        "expired": emulator.mint_token(
            session_id=session["id"], issued_at=int(time.time()) - 120, ttl=60
        ),
    }[spoiled]
    body = json.dumps(answer).encode()
    emulator.inject_fault("/api/v2/sessions/*", kind="body", status=200, body=body, times=None)
    emulator.clear_requests()

    assert verify_login_token(token).user.id == ada["id"]
    assert user_reads(emulator) == 2


def test_a_user_read_from_another_realm_is_refused(api_mode, emulator, ada) -> None:
    emulator.configure(session_answer="without_token")
    user = AuthRocketClient.from_settings().get_user(ada["id"])
    body = json.dumps({**user, "realm_id": "rlm_someone_else"}).encode()
    emulator.inject_fault("/api/v2/users/*", kind="body", status=200, body=body, times=None)

    with pytest.raises(WrongRealm):
        verify_login_token(emulator.mint_token(ada["id"]))


def test_a_session_whose_user_is_gone_is_refused(api_mode, emulator, ada) -> None:
    emulator.configure(session_answer="without_token")
    token = emulator.mint_token(ada["id"])
    emulator.inject_fault("/api/v2/users/*", status=404, times=None)

    with pytest.raises(InvalidToken) as caught:
        verify_login_token(token)
    assert caught.value.reason == "session_not_found"


@pytest.mark.parametrize("session_answer", SESSION_ANSWERS)
def test_a_bearer_token_costs_one_completed_answer_per_interval(
    api_mode, emulator, ada, session_answer
) -> None:
    # The reads that complete an answer are cached with it (recheck.py), not repeated.
    api_mode.AUTHROCKET_RECHECK_INTERVAL = 60
    emulator.configure(session_answer=session_answer)
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()

    sessions = [verify_bearer_token(token) for _ in range(5)]

    assert {s.selected_org.name for s in sessions if s.selected_org} == {"Analytical Engines"}
    assert session_calls(emulator) == 1
    assert user_reads(emulator) == (2 if session_answer == "without_token" else 0)


def test_api_mode_works_against_the_authrocket_1_api(api_mode, emulator, ada) -> None:
    api_mode.AUTHROCKET_URL = emulator.api_url(1)  # its Get Session embeds the user
    api_mode.AUTHROCKET_JWT_KEY = emulator.jwt_secret  # AR1 tokens are HS256, verified here too
    emulator.clear_requests()

    session = verify_login_token(emulator.mint_token(ada["id"], generation=1))

    assert (session.generation, session.user.id) == (1, ada["id"])
    assert session.selected_org is not None and user_reads(emulator) == 0


# --- api mode checks the token's own exp ------------------------------------------------------


@pytest.mark.parametrize("session_answer", SESSION_ANSWERS)
def test_api_mode_refuses_an_expired_token_that_get_session_still_answers_for(
    api_mode, emulator, ada, session_answer
) -> None:
    # Whether AuthRocket answers Get Session for a token past its exp (while the session
    # lives on) is not documented: the emulator can do either, and the token is refused here
    # before AuthRocket is asked.
    emulator.configure(session_answer=session_answer, expired_token_lookup="session")
    session, _ = emulator.login(ada["id"])
    expired = emulator.mint_token(
        session_id=session["id"], issued_at=int(time.time()) - 120, ttl=60
    )
    emulator.clear_requests()

    with pytest.raises(ExpiredToken) as login:
        verify_login_token(expired)
    with pytest.raises(ExpiredToken) as bearer:
        verify_bearer_token(expired)

    assert login.value.reason == bearer.value.reason == "expired"
    assert session_calls(emulator) == 0  # refused without asking


def test_api_mode_refuses_a_bearer_token_past_its_exp_even_with_a_cached_answer(
    api_mode, emulator, ada
) -> None:
    api_mode.AUTHROCKET_RECHECK_INTERVAL = 60
    api_mode.AUTHROCKET_JWT_LEEWAY = 0
    token = emulator.mint_token(ada["id"], ttl=2)
    assert verify_bearer_token(token).user.id == ada["id"]  # the answer is now cached
    time.sleep(2.1)
    with pytest.raises(ExpiredToken):
        verify_bearer_token(token)

"""AuthRocketMiddleware in ``"api"`` mode: one Get Session per interval, outages and their grace.

The tests where orgs matter run under the three token shapes (``token_orgs``).
"""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from django_authrocket import logins
from django_authrocket.shared_cache import shared_cache
from django_authrocket.testing import authrocket_session_id, recheck_at_next_request
from tests.helpers import (
    is_logged_in,
    logged_in,
    memberships_of,
    mirror_memberships_from_api,
    session_calls,
)

pytestmark = pytest.mark.django_db

#: Each shape AuthRocket's Get Session answer may take (realm option ``session_answer``), and
#: each token shape where it matters: only the documented answer reads its user and orgs from
#: the session's token (the others read or embed the user).
ANSWERS_AND_TOKENS = pytest.mark.parametrize(
    ("session_answer", "token_orgs"),
    [
        *(("documented", shape) for shape in ("selected", "all", "none")),
        ("without_token", "selected"),
        ("embedded_user", "selected"),
    ],
    indirect=["token_orgs"],
)


def test_api_mode_a_session_ended_at_authrocket_ends_within_one_interval(
    api_mode, emulator, ada
) -> None:
    client = logged_in(emulator, ada)
    sid = authrocket_session_id(client)
    emulator.end_session(sid)
    emulator.clear_requests()
    assert is_logged_in(client)  # inside the interval: no call, still logged in
    assert session_calls(emulator) == 0
    time.sleep(1.05)
    response = client.get("/private/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert session_calls(emulator) == 1


def test_api_mode_one_call_per_interval_not_per_request(api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    time.sleep(1.05)
    emulator.clear_requests()
    for _ in range(10):
        assert is_logged_in(client)
    assert session_calls(emulator) == 1


def test_api_mode_permission_changes_reach_request_authrocket(
    api_mode, emulator, ada, token_orgs
) -> None:
    client = logged_in(emulator, ada)
    [membership] = memberships_of(emulator, ada["id"])
    assert client.get("/private/").json()["org"] == membership["org_id"]
    time.sleep(1.05)
    emulator.delete_membership(membership["id"])
    # A token listing no org is no word on the others: AuthRocket's membership.deleted webhook
    # (here, the API read it leads to) updates the mirror. A token without org data is
    # completed by reading the memberships, which says there are none.
    mirror_memberships_from_api(ada["id"])
    assert client.get("/private/").json()["org"] is None


@ANSWERS_AND_TOKENS
def test_api_mode_a_removed_staff_permission_ends_staff_status_at_the_recheck(
    api_mode, emulator, session_answer, token_orgs
) -> None:
    emulator.configure(session_answer=session_answer)
    api_mode.AUTHROCKET_STAFF_PERMISSION = "ar:admin"
    grace = emulator.create_user("grace@example.com", username="grace")
    org = emulator.create_org("Navy")
    membership = emulator.create_membership(
        grace["id"], org["id"], permissions=["ar:admin"], selected=True
    )
    api_mode.AUTHROCKET_STAFF_ORG = org["id"]
    client = logged_in(emulator, grace)
    user = get_user_model().objects.get(username="grace")
    assert user.is_staff
    emulator.update_membership(membership["id"], permissions=["billing:*"])
    recheck_at_next_request(client)
    assert client.get("/private/").status_code == 200
    user.refresh_from_db()
    assert not user.is_staff
    # Given back: staff again at the next recheck, no new login needed.
    emulator.update_membership(membership["id"], permissions=["ar:admin"])
    time.sleep(1.05)  # past the interval the shared recheck answer is good for
    recheck_at_next_request(client)
    assert client.get("/private/").status_code == 200
    user.refresh_from_db()
    assert user.is_staff


# --- every shape of AuthRocket's Get Session answer ---------------------------------------------


@ANSWERS_AND_TOKENS
def test_api_mode_rechecks_under_every_get_session_answer(
    api_mode, emulator, ada, session_answer, token_orgs
) -> None:
    # AuthRocket 2's answer names its user without embedding them (authrocket.com/docs/api/
    # sessions); the recheck completes it from its token or by reading the user.
    emulator.configure(session_answer=session_answer)
    client = logged_in(emulator, ada)
    assert client.get("/private/").json()["org"] is not None
    logins.forget_identities()  # another worker: the identity is rebuilt from the login record
    assert client.get("/private/").json()["first_name"] == "Ada"

    emulator.update_user(ada["id"], first_name="Augusta")
    time.sleep(1.05)
    assert client.get("/private/").json()["first_name"] == "Augusta"
    logins.forget_identities()
    assert client.get("/private/").json() == {
        "username": "ada",
        "authrocket_session": authrocket_session_id(client),
        "org": memberships_of(emulator, ada["id"])[0]["org_id"],
        "first_name": "Augusta",
    }

    emulator.end_session(authrocket_session_id(client))
    time.sleep(1.05)
    assert not is_logged_in(client)


def test_api_mode_reads_the_user_once_per_interval_not_per_request(api_mode, emulator, ada) -> None:
    emulator.configure(session_answer="without_token")
    client = logged_in(emulator, ada)
    time.sleep(1.05)
    emulator.clear_requests()
    for _ in range(10):
        assert is_logged_in(client)
    assert session_calls(emulator) == 1
    assert emulator.count_requests("/api/v2/users/*", method="GET") == 1
    assert emulator.count_requests("/api/v2/memberships", method="GET") == 1


def test_api_mode_a_deleted_user_ends_the_session_at_the_recheck(api_mode, emulator, ada) -> None:
    emulator.configure(session_answer="without_token")
    client = logged_in(emulator, ada)
    emulator.inject_fault("/api/v2/users/*", status=404, times=None)  # gone, session still found
    time.sleep(1.05)
    assert not is_logged_in(client)


# --- outages ------------------------------------------------------------------------------------


def test_api_mode_outage_with_no_grace_logs_out_with_a_clear_answer(
    api_mode, emulator, ada
) -> None:
    api_mode.AUTHROCKET_HTTP_RETRIES = 0
    client = logged_in(emulator, ada)
    time.sleep(1.05)
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)
    response = client.post("/api/me/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "unreachable" and body["login_url"] == "/login/"
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("kind", ["status", "latency"])
def test_api_mode_outage_within_grace_keeps_the_session(api_mode, emulator, ada, kind) -> None:
    api_mode.AUTHROCKET_RECHECK_GRACE = 60
    api_mode.AUTHROCKET_HTTP_RETRIES = 0
    api_mode.AUTHROCKET_HTTP_TIMEOUT = 0.3
    client = logged_in(emulator, ada)
    time.sleep(1.05)
    emulator.inject_fault("/api/v2/sessions/*", kind=kind, status=503, delay=1.0, times=None)
    assert is_logged_in(client)
    assert is_logged_in(client)


def test_api_mode_grace_runs_out(api_mode, emulator, ada) -> None:
    api_mode.AUTHROCKET_RECHECK_GRACE = 1
    api_mode.AUTHROCKET_HTTP_RETRIES = 0
    client = logged_in(emulator, ada)
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)
    time.sleep(1.1)
    assert is_logged_in(client)  # the answer's own interval has passed; grace holds
    time.sleep(1.0)
    response = client.get("/private/")  # interval + grace have passed
    assert response.status_code == 302


# --- herds --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_api_mode_concurrent_requests_of_one_session_make_one_call(api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    cookie = client.cookies["sessionid"].value
    time.sleep(1.05)
    emulator.clear_requests()
    emulator.inject_fault("/api/v2/sessions/*", kind="latency", delay=0.3, times=None)
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def request() -> None:
        other = Client()
        other.cookies["sessionid"] = cookie
        barrier.wait()
        try:
            statuses.append(other.get("/private/").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert session_calls(emulator) == 1


@pytest.mark.parametrize(
    "cached",
    [
        {"alive": True, "checked_at": None},
        {"alive": True, "checked_at": "yesterday"},
        {"alive": "yes", "checked_at": 0.0},
        {"alive": True, "checked_at": 0.0, "answer": ["not", "an", "answer"]},
        {"alive": False, "checked_at": 0.0, "error": 503},
    ],
    ids=["no time", "time as text", "alive as text", "answer a list", "error a number"],
)
def test_api_mode_a_cached_verdict_of_the_wrong_types_is_asked_again(
    api_mode, emulator, ada, cached
) -> None:
    """A verdict another version wrote (a rolling deploy) or a damaged cache entry: the
    recheck asks AuthRocket again and answers, never a 500."""
    client = logged_in(emulator, ada)
    sid = authrocket_session_id(client)
    digest = hashlib.sha256(sid.encode()).hexdigest()[:32]
    cached = {**cached, "checked_at": time.time()} if cached["checked_at"] == 0.0 else cached
    shared_cache().set(f"authrocket:recheck:{digest}", cached, timeout=60)
    recheck_at_next_request(client)
    emulator.clear_requests()
    assert client.get("/private/").status_code == 200
    assert session_calls(emulator) == 1


@pytest.mark.parametrize("change", ["another realm", "emulator no longer trusted"])
def test_api_mode_a_recheck_answer_the_site_refuses_ends_the_session(
    api_mode, emulator, ada, settings, change
) -> None:
    """AuthRocket says the session is alive, but its answer is one a login would be refused
    with: it names another realm than AUTHROCKET_REALM, or the emulator made it where the
    site no longer trusts the emulator. The session ends (fail closed), not kept as it was."""
    client = logged_in(emulator, ada)
    if change == "another realm":
        settings.AUTHROCKET_REALM = "rl_anotherrealm"
    else:
        settings.AUTHROCKET_ACCEPT_EMULATOR_TOKENS = False
    recheck_at_next_request(client)
    emulator.clear_requests()
    response = client.get("/private/")
    assert session_calls(emulator) == 1  # the call answered: the answer was refused
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not is_logged_in(client)

"""AuthRocketMiddleware end to end: expiry, api rechecks, outages, Bearer, exempt URLs, async."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import AsyncClient, Client

from django_authrocket import logins, signout
from django_authrocket.logins import LoginEntry
from django_authrocket.models import AuthRocketLogin
from django_authrocket.testing import (
    authrocket_session_id,
    expire_login,
    recheck_at_next_request,
)

pytestmark = pytest.mark.django_db


def logged_in(emulator, user, **mint) -> Client:
    client = Client()
    response = client.get("/login/", {"token": emulator.mint_token(user["id"], **mint)})
    assert response.status_code == 302, response.content
    return client


def is_logged_in(client: Client) -> bool:
    return client.get("/private/").status_code == 200


def session_calls(emulator) -> int:
    return emulator.count_requests("/api/*/sessions/*", method="GET")


# --- jwt mode: the token's expiry ------------------------------------------------------------


def test_jwt_mode_the_common_request_makes_no_call(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    emulator.clear_requests()
    for _ in range(5):
        assert client.get("/private/").json()["username"] == "ada"
    assert emulator.requests == []


def test_jwt_mode_an_expired_token_logs_out_at_the_next_request(settings, emulator, ada) -> None:
    settings.AUTHROCKET_JWT_LEEWAY = 0
    client = logged_in(emulator, ada, ttl=1)
    time.sleep(1.2)
    response = client.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/private/"
    assert "_auth_user_id" not in client.session


def test_request_authrocket_carries_the_session(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    assert client.get("/private/").json()["org"] is not None


# --- api mode: rechecks -----------------------------------------------------------------------


@pytest.fixture
def api_mode(settings, emulator):
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_RECHECK_INTERVAL = 1
    return settings


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
    api_mode.AUTHROCKET_RECHECK_INTERVAL = 1
    client = logged_in(emulator, ada)
    time.sleep(1.05)
    emulator.clear_requests()
    for _ in range(10):
        assert is_logged_in(client)
    assert session_calls(emulator) == 1


def test_api_mode_permission_changes_reach_request_authrocket(api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    assert client.get("/private/").json()["org"] is not None
    time.sleep(1.05)
    import requests

    memberships = requests.get(
        f"{emulator.api_url()}/memberships",
        params={"user_id": ada["id"]},
        headers={"Authrocket-Api-Key": emulator.api_key, "Accept": "application/json"},
        timeout=5,
    ).json()["collection"]
    emulator.delete_membership(memberships[0]["id"])
    assert client.get("/private/").json()["org"] is None


def test_api_mode_a_removed_staff_permission_ends_staff_status_at_the_recheck(
    api_mode, emulator
) -> None:
    from django.contrib.auth import get_user_model

    api_mode.AUTHROCKET_STAFF_PERMISSION = "ar:admin"
    grace = emulator.create_user("grace@example.com", username="grace")
    org = emulator.create_org("Navy")
    membership = emulator.create_membership(
        grace["id"], org["id"], permissions=["ar:admin"], selected=True
    )
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


@pytest.mark.django_db(transaction=True)
def test_api_mode_concurrent_requests_of_one_session_make_one_call(api_mode, emulator, ada) -> None:
    api_mode.AUTHROCKET_RECHECK_INTERVAL = 1
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


# --- how a session ends ------------------------------------------------------------------------


@pytest.fixture
def ended(settings, emulator, ada) -> Client:
    """A client whose session the middleware will end at its next request."""
    client = logged_in(emulator, ada)
    expire_login(client, seconds_ago=60)
    return client


def test_an_html_get_after_the_end_is_redirected_to_login(ended) -> None:
    response = ended.get("/private/?tab=2")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/private/%3Ftab%3D2"


def test_a_post_after_the_end_gets_401_json(ended) -> None:
    response = ended.post("/api/me/")
    assert response.status_code == 401
    assert response.json() == {
        "error": "expired",
        "message": "Your login has expired.",
        "login_url": "/login/",
    }
    assert response["WWW-Authenticate"].startswith("Session")


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"},
        {"HTTP_SEC_FETCH_MODE": "cors"},
        {"HTTP_ACCEPT": "application/json"},
    ],
    ids=["xhr", "fetch", "accept-json"],
)
def test_script_requests_after_the_end_get_401_json(ended, headers) -> None:
    response = ended.get("/private/", **headers)
    assert response.status_code == 401
    assert response.json()["login_url"] == "/login/"


@pytest.mark.parametrize("rule", ["/health/", "/status/", "^status/", "status_live"])
def test_exempt_urls_are_left_alone(settings, ended, rule) -> None:
    settings.AUTHROCKET_EXEMPT_URLS = [rule]
    target = "/health/" if rule == "/health/" else "/status/live/"
    assert ended.get(target).status_code == 200
    assert "_auth_user_id" in ended.session  # not logged out


def test_a_session_logged_in_by_another_backend_is_not_touched(emulator) -> None:
    from django.contrib.auth import get_user_model

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
    from django.contrib.auth import get_user_model

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


# --- where the identity lives ------------------------------------------------------------------


def test_the_session_carries_only_a_small_entry_the_identity_is_in_the_login_row(
    emulator, ada
) -> None:
    client = logged_in(emulator, ada)
    ours = {k: v for k, v in client.session.items() if k.startswith("_authrocket")}
    assert set(ours) == {logins.ENTRY_KEY}
    entry = ours[logins.ENTRY_KEY]
    assert set(entry) == {"ref", "v", "exp"}
    row = AuthRocketLogin.objects.get(ref=entry["ref"])
    assert row.session_key == client.session.session_key
    assert row.data["email"] == "ada@example.com" and row.source == "token"


def test_a_warm_request_costs_the_stock_stacks_two_queries(
    emulator, ada, django_assert_num_queries
) -> None:
    client = logged_in(emulator, ada)
    client.get("/private/")
    with django_assert_num_queries(2):  # the session and the user, as without the middleware
        assert client.get("/private/").json()["org"] is not None


def test_a_worker_that_never_saw_the_login_reads_the_row_once(
    emulator, ada, django_assert_num_queries
) -> None:
    client = logged_in(emulator, ada)
    logins._KNOWN.clear()  # as on another worker, or after a restart
    with django_assert_num_queries(3):
        assert client.get("/private/").json()["org"] is not None
    with django_assert_num_queries(2):
        assert client.get("/private/").json()["org"] is not None


def test_a_session_whose_login_row_is_gone_is_logged_out(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    AuthRocketLogin.objects.all().delete()  # ended elsewhere, or pruned
    logins._KNOWN.clear()
    response = client.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/private/"
    assert not is_logged_in(client)


def _rename_at_authrocket_and_recheck(client, emulator, person, first_name: str):
    emulator.update_user(person["id"], first_name=first_name)
    recheck_at_next_request(client)
    return client.get("/private/")


def test_a_changed_identity_keeps_its_row_and_reaches_every_worker(api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    before = dict(client.session[logins.ENTRY_KEY])
    stale = logins._KNOWN[LoginEntry.of({logins.ENTRY_KEY: before})._memo_key]
    response = _rename_at_authrocket_and_recheck(client, emulator, ada, "Augusta")
    assert response.json()["first_name"] == "Augusta"
    after = client.session[logins.ENTRY_KEY]
    assert after["ref"] == before["ref"]  # the same row, rewritten
    assert after["v"] != before["v"]
    assert AuthRocketLogin.objects.get().data["user"]["first_name"] == "Augusta"
    # Another worker remembers the old version: the session's new version is not in its memory,
    # so it reads the row.
    logins._KNOWN.clear()
    logins._KNOWN[LoginEntry.of({logins.ENTRY_KEY: before})._memo_key] = stale
    assert client.get("/private/").json()["first_name"] == "Augusta"
    # An unchanged answer writes nothing.
    recheck_at_next_request(client)
    assert client.get("/private/").status_code == 200
    assert client.session[logins.ENTRY_KEY]["v"] == after["v"]


def test_a_concurrent_request_that_saves_the_old_entry_does_not_log_the_person_out(
    api_mode, emulator, ada
) -> None:
    client = logged_in(emulator, ada)
    old_entry = dict(client.session[logins.ENTRY_KEY])
    assert _rename_at_authrocket_and_recheck(client, emulator, ada, "Augusta").status_code == 200
    # A request that loaded the session before the recheck saves it after: the old entry is back.
    session = client.session
    session[logins.ENTRY_KEY] = {**old_entry, "next": time.time() + 60}
    session.save()
    logins._KNOWN.clear()  # a worker that never saw this login
    response = client.get("/private/")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Augusta"  # the row is the truth


def test_a_recheck_that_finds_the_row_gone_ends_the_session(api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    client.get("/private/")
    AuthRocketLogin.objects.all().delete()  # signed out elsewhere while this worker remembers
    response = _rename_at_authrocket_and_recheck(client, emulator, ada, "Augusta")
    assert response.status_code == 302
    assert not is_logged_in(client)


def test_signed_cookie_sessions_keep_the_identity_out_of_the_cookie(settings, emulator) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    person = emulator.create_user("grace@example.com", first_name="Grace", username="grace")
    for n in range(20):  # many orgs: the cookie must not grow with them
        org = emulator.create_org(f"Org {n}")
        emulator.create_membership(person["id"], org["id"], permissions=["ar:admin"])
    client = logged_in(emulator, person)
    assert client.get("/private/").json()["username"] == "grace"
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert len(cookie) < 400
    row = AuthRocketLogin.objects.get()
    assert row.session_key is None and len(row.data["orgs"]) == 20
    # The testing helpers work on cookie sessions too.
    assert authrocket_session_id(client) == row.authrocket_session_id
    # Nothing on the server to end: single sign-out says so rather than counting it.
    assert signout.end_sessions_for(row.authrocket_session_id) == 0
    client.post("/logout/")
    assert not AuthRocketLogin.objects.exists()


def test_expire_login_works_on_signed_cookie_sessions(settings, emulator, ada) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = logged_in(emulator, ada)
    expire_login(client)
    assert client.get("/private/").status_code == 302


def test_a_session_cycled_while_it_was_signed_out_does_not_survive(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    client.get("/private/")  # this worker now remembers the identity
    AuthRocketLogin.objects.all().delete()  # single sign-out ran, finding the old key
    assert client.get("/cycle/").status_code == 200
    assert not is_logged_in(client)


# --- Bearer tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_a_bearer_token_authenticates_one_request_without_a_session(
    settings, emulator, ada, verify
) -> None:
    settings.AUTHROCKET_VERIFY = verify
    token = emulator.mint_token(ada["id"])
    client = Client()
    response = client.post("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response.json() == {"username": "ada", "authrocket_user": ada["id"], "method": "POST"}
    assert "sessionid" not in response.cookies
    assert client.get("/api/me/").status_code == 401  # nothing was remembered


def test_an_ar1_bearer_token_works(settings, emulator, ada) -> None:
    settings.AUTHROCKET_JWT_KEY = emulator.jwt_secret
    token = emulator.mint_token(ada["id"], generation=1)
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["authrocket_user"] == ada["id"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_a_bad_bearer_token_gets_401_json_never_a_redirect(token) -> None:
    response = Client().get("/private/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json()["error"] in ("malformed", "invalid")
    assert response["WWW-Authenticate"].startswith(
        'Bearer realm="authrocket", error="invalid_token"'
    )


def test_an_expired_bearer_token_is_refused(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401 and response.json()["error"] == "expired"
    assert token not in response.content.decode()


def test_a_bearer_token_of_an_ended_session_is_refused_in_api_mode(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    session, token = emulator.login(ada["id"])
    emulator.end_session(session["id"])
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


def test_bearer_api_mode_checks_each_token_once_per_interval(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()
    for _ in range(5):
        assert Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert session_calls(emulator) == 1


def test_a_forged_bearer_token_does_not_ride_on_a_checked_session(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    _, token = emulator.login(ada["id"])
    assert Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401


def test_bearer_with_authrocket_down_is_503_not_500(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_HTTP_RETRIES = 0
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)
    response = Client().get(
        "/api/me/", HTTP_AUTHORIZATION=f"Bearer {emulator.mint_token(ada['id'])}"
    )
    assert response.status_code == 503


def test_other_authorization_schemes_are_ignored() -> None:
    response = Client().get("/api/me/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 401 and response.json() == {"error": "anonymous"}


# --- ?token= anywhere ---------------------------------------------------------------------------


def test_token_anywhere_logs_in_and_strips_loginrocket_params(settings, emulator, ada) -> None:
    settings.AUTHROCKET_TOKEN_ANYWHERE = True
    client = Client()
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
    response = Client().get(path, {"token": emulator.mint_token(ada["id"])})
    location = response["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))


# --- async --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_async_path_sees_the_same_session(emulator, ada) -> None:
    from asgiref.sync import async_to_sync

    client = logged_in(emulator, ada)
    cookie = client.cookies["sessionid"].value

    async def fetch():
        async_client = AsyncClient()
        async_client.cookies["sessionid"] = cookie
        return await async_client.get("/async-private/")

    response = async_to_sync(fetch)()
    assert response.status_code == 200
    assert response.json()["username"] == "ada"
    assert response.json()["authrocket_session"].startswith("kss_")


@pytest.mark.django_db(transaction=True)
def test_the_async_path_ends_an_expired_session(emulator, ada) -> None:
    from asgiref.sync import async_to_sync

    client = logged_in(emulator, ada)
    expire_login(client, seconds_ago=60)
    cookie = client.cookies["sessionid"].value

    async def fetch():
        async_client = AsyncClient()
        async_client.cookies["sessionid"] = cookie
        return await async_client.get("/async-private/")

    assert async_to_sync(fetch)().status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_bearer_token_works_on_an_async_view(emulator, ada) -> None:
    from asgiref.sync import async_to_sync

    token = emulator.mint_token(ada["id"])

    async def fetch():
        return await AsyncClient().get(
            "/async-private/", headers={"Authorization": f"Bearer {token}"}
        )

    response = async_to_sync(fetch)()
    assert response.status_code == 200 and response.json()["username"] == "ada"


def test_bearer_requests_go_through_verify_claims(settings, emulator, ada) -> None:
    settings.AUTHENTICATION_BACKENDS = ["tests.test_backend.OnlyEnginesBackend"]
    outsider = emulator.create_user("eve@example.com")
    refused = Client().get(
        "/api/me/", HTTP_AUTHORIZATION=f"Bearer {emulator.mint_token(outsider['id'])}"
    )
    assert refused.status_code == 401 and refused.json()["error"] == "refused"
    allowed = Client().get(
        "/api/me/", HTTP_AUTHORIZATION=f"Bearer {emulator.mint_token(ada['id'])}"
    )
    assert allowed.status_code == 200


def test_bearer_with_signing_keys_unavailable_is_503(emulator, ada) -> None:
    emulator.inject_fault("/connect/jwks", status=503, times=None)
    token = emulator.mint_token(ada["id"])
    assert Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 503


def test_prune_expired_drops_only_rows_past_their_expiry(emulator, ada) -> None:
    from datetime import timedelta

    from django.utils import timezone

    logged_in(emulator, ada)
    logged_in(emulator, ada)
    old = AuthRocketLogin.objects.first()
    old.expires_at = timezone.now() - timedelta(minutes=1)
    old.save()
    assert signout.prune_expired() == 1
    assert AuthRocketLogin.objects.count() == 1


def test_the_worker_memory_of_identities_is_bounded_and_evicted_logins_are_read_again(
    emulator, ada, monkeypatch
) -> None:
    import concurrent.futures

    client = logged_in(emulator, ada)
    key = LoginEntry.of(client.session)._memo_key
    identity = logins._KNOWN[key]
    monkeypatch.setattr(logins, "_KNOWN_MAX", 50)
    monkeypatch.setattr(logins, "_KNOWN", {})

    def keep(n: int) -> None:
        for i in range(200):
            logins._keep(f"{n}-{i}", identity)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(keep, range(8)))  # eight threads inserting and evicting at once
    assert len(logins._KNOWN) == 50
    # The evicted login is read from its row again, once.
    assert client.get("/private/").json()["org"] is not None
    assert key in logins._KNOWN

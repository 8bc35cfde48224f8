"""The one retry loop (``transport.send``) and its two callers, over real HTTP to the emulator.

The first half drives :func:`send` directly with a plain ``requests`` session: retry counts,
which answers are retried for which calls, ``Retry-After``, the wait cap, and what ``on_retry``
is told. The second half checks that the Core API client and the key store both get exactly
that behaviour through it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate

import pytest
import requests

from django_authrocket import client as client_module
from django_authrocket import keys as keys_module
from django_authrocket.client import AuthRocketClient
from django_authrocket.exceptions import APIUnavailable, KeysUnavailable, RateLimited
from django_authrocket.keys import KeyStore
from django_authrocket.tokens import verify_token
from django_authrocket.transport import (
    MAX_RETRY_WAIT,
    SERVER_ERRORS,
    USER_AGENT,
    Exchange,
    Retry,
    read_body,
    retry_after,
    retry_budget,
    send,
)

JWKS = "/connect/jwks"
PROBE = "/transport-probe"  # not a route: the emulator answers 404 unless a fault is injected


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxy from the environment
        yield session


def attempt_for(
    emulator, http: requests.Session, method: str = "GET", path: str = JWKS, timeout: float = 2.0
) -> Callable[[], Exchange]:
    """One streamed exchange with the emulator, the way both callers make theirs."""

    def attempt() -> Exchange:
        with http.request(method, emulator.url + path, timeout=timeout, stream=True) as response:
            return Exchange(response, read_body(response, 1024 * 1024))

    return attempt


def arrivals(emulator, path: str = JWKS) -> list[float]:
    return [request.at for request in emulator.requests if request.path == path]


# --- retry counts -----------------------------------------------------------------------------


def test_an_idempotent_call_is_retried_on_gateway_errors_until_it_answers(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=502, times=1)
    emulator.inject_fault(JWKS, status=504, times=1)
    exchange = send(attempt_for(emulator, http), retries=2, idempotent=True)
    assert exchange.status == 200
    assert exchange.body is not None and b'"keys"' in exchange.body
    assert emulator.count_requests(JWKS) == 3


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_when_retries_run_out_the_last_answer_stands(emulator, http, retries) -> None:
    emulator.inject_fault(JWKS, status=503, times=None)
    exchange = send(attempt_for(emulator, http), retries=retries, idempotent=True)
    assert exchange.status == 503
    assert emulator.count_requests(JWKS) == 1 + retries


def test_a_500_is_retried_only_when_the_caller_retries_every_5xx(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=500, times=1)
    assert send(attempt_for(emulator, http), retries=2, idempotent=True).status == 500
    assert emulator.count_requests(JWKS) == 1

    emulator.inject_fault(JWKS, status=500, times=1)
    exchange = send(
        attempt_for(emulator, http), retries=2, idempotent=True, retry_statuses=SERVER_ERRORS
    )
    assert exchange.status == 200
    assert emulator.count_requests(JWKS) == 3


def test_a_client_error_is_never_retried(emulator, http) -> None:
    exchange = send(attempt_for(emulator, http, path=PROBE), retries=2, idempotent=True)
    assert exchange.status == 404
    assert emulator.count_requests(PROBE) == 1


def test_a_non_idempotent_call_is_not_retried_on_a_gateway_error(emulator, http) -> None:
    emulator.inject_fault(PROBE, method="POST", status=503, times=None)
    exchange = send(attempt_for(emulator, http, "POST", PROBE), retries=2, idempotent=False)
    assert exchange.status == 503
    assert emulator.count_requests(PROBE, method="POST") == 1


def test_a_429_is_retried_even_for_a_non_idempotent_call(emulator, http) -> None:
    emulator.inject_fault(PROBE, method="POST", status=429, retry_after=0, times=2)
    exchange = send(attempt_for(emulator, http, "POST", PROBE), retries=2, idempotent=False)
    assert exchange.status == 404  # the probe's own answer, once the rate limit lifted
    assert emulator.count_requests(PROBE, method="POST") == 3


# --- no answer --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["drop", "reset", "latency"])
def test_no_answer_is_retried_for_an_idempotent_call(emulator, http, kind) -> None:
    emulator.inject_fault(JWKS, kind=kind, delay=1.0, times=1)
    exchange = send(attempt_for(emulator, http, timeout=0.3), retries=1, idempotent=True)
    assert exchange.status == 200
    assert emulator.count_requests(JWKS) == 2


@pytest.mark.parametrize("kind", ["drop", "reset", "latency"])
def test_no_answer_is_never_resent_for_a_non_idempotent_call(emulator, http, kind) -> None:
    emulator.inject_fault(PROBE, method="POST", kind=kind, delay=1.0, times=None)
    with pytest.raises(requests.RequestException):
        send(attempt_for(emulator, http, "POST", PROBE, timeout=0.3), retries=3, idempotent=False)
    assert emulator.count_requests(PROBE, method="POST") == 1


def test_no_answer_after_the_last_retry_raises_the_last_error(emulator, http) -> None:
    emulator.inject_fault(JWKS, kind="drop", times=None)
    with pytest.raises(requests.ConnectionError):
        send(attempt_for(emulator, http), retries=2, idempotent=True)
    assert emulator.count_requests(JWKS) == 3


# --- Retry-After and the wait cap -------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_waited_for(emulator, http, status) -> None:
    emulator.inject_fault(JWKS, status=status, retry_after=1, times=1)
    assert send(attempt_for(emulator, http), retries=1, idempotent=True).status == 200
    first, second = arrivals(emulator)
    assert second - first >= 0.95


def test_retry_after_as_an_http_date_is_waited_for(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=429, retry_after=formatdate(time.time() + 2, usegmt=True))
    assert send(attempt_for(emulator, http), retries=1, idempotent=True).status == 200
    first, second = arrivals(emulator)
    assert second - first >= 0.9  # the date has whole seconds: between 1 and 2 s from now


def test_retry_after_on_other_statuses_is_not_read(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=502, retry_after=3600, times=1)
    started = time.monotonic()
    assert send(attempt_for(emulator, http), retries=1, idempotent=True).status == 200
    assert time.monotonic() - started < 1  # backed off briefly instead of giving up
    assert emulator.count_requests(JWKS) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_above_the_cap_ends_the_retries_at_once(emulator, http, status) -> None:
    emulator.inject_fault(JWKS, status=status, retry_after=3, times=None)
    started = time.monotonic()
    exchange = send(attempt_for(emulator, http), retries=2, idempotent=True, max_retry_wait=2)
    assert exchange.status == status
    assert retry_after(exchange.response) == 3
    assert time.monotonic() - started < 1
    assert emulator.count_requests(JWKS) == 1


def test_a_retry_after_at_the_cap_is_waited_for(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=429, retry_after=1, times=1)
    exchange = send(attempt_for(emulator, http), retries=1, idempotent=True, max_retry_wait=1)
    assert exchange.status == 200
    first, second = arrivals(emulator)
    assert second - first >= 0.95


def test_the_cap_shortens_the_backoff_too(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=502, times=3)
    emulator.inject_fault(JWKS, kind="drop", times=2)
    started = time.monotonic()
    exchange = send(attempt_for(emulator, http), retries=5, idempotent=True, max_retry_wait=0)
    assert exchange.status == 200
    assert emulator.count_requests(JWKS) == 6
    assert time.monotonic() - started < 1  # unshortened, the backoffs could sum to ~8 s


# --- a web request's retry budget ---------------------------------------------------------------


def test_a_budget_is_shared_by_every_send_in_its_block(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=429, retry_after=1, times=None)
    with retry_budget(1.5):
        first = send(attempt_for(emulator, http), retries=3, idempotent=True)
        second = send(attempt_for(emulator, http), retries=3, idempotent=True)
    assert (first.status, second.status) == (429, 429)
    # The first send waited 1 s of the 1.5: its next Retry-After (1 s) no longer fitted, and
    # the second send had 0.5 s left, less than its first Retry-After.
    assert emulator.count_requests(JWKS) == 3


def test_a_spent_budget_retries_no_more_even_without_a_pause(emulator, http) -> None:
    emulator.inject_fault(JWKS, kind="drop", times=None)
    with retry_budget(0), pytest.raises(requests.ConnectionError):
        send(attempt_for(emulator, http), retries=3, idempotent=True)
    assert emulator.count_requests(JWKS) == 1


def test_a_nested_budget_never_adds_to_the_outer_one(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=429, retry_after=1, times=None)
    with retry_budget(0.5), retry_budget(30):
        assert send(attempt_for(emulator, http), retries=3, idempotent=True).status == 429
    assert emulator.count_requests(JWKS) == 1


def test_outside_a_budget_only_the_wait_cap_applies(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=429, retry_after=1, times=2)
    with retry_budget(0.5):
        pass  # a finished block leaves nothing behind
    assert send(attempt_for(emulator, http), retries=2, idempotent=True).status == 200
    assert emulator.count_requests(JWKS) == 3


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("soon", None),
        ("-3", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_or_a_date(emulator, http, header, seconds) -> None:
    emulator.inject_fault(JWKS, status=429, retry_after=header, times=1)
    response = http.get(emulator.url + JWKS, timeout=2)
    assert response.status_code == 429
    assert retry_after(response) == seconds


# --- on_retry ---------------------------------------------------------------------------------


def test_on_retry_is_told_each_retry_its_pause_and_cause(emulator, http) -> None:
    emulator.inject_fault(JWKS, status=503, retry_after=0, times=1)
    emulator.inject_fault(JWKS, kind="drop", times=1)
    told: list[Retry] = []
    send(attempt_for(emulator, http), retries=2, idempotent=True, on_retry=told.append)
    assert [retry.number for retry in told] == [1, 2]
    refused = emulator.requests[0]
    assert told[0].wait == 0 and told[0].cause == f"HTTP 503, request id {refused.request_id}"
    assert told[1].response is None and told[1].cause == "ConnectionError"
    assert 0 <= told[1].wait <= 0.5  # backoff before the second retry: 0 to 0.5 s


# --- the Core API client ----------------------------------------------------------------------


def api_client(emulator, **kwargs) -> AuthRocketClient:
    kwargs.setdefault("timeout", 0.3)
    return AuthRocketClient(emulator.api_url(), emulator.api_key, realm=emulator.realm_id, **kwargs)


def test_the_client_waits_for_a_503s_retry_after(emulator) -> None:
    user = emulator.create_user("ada@example.com")
    emulator.inject_fault("/api/v2/users/*", status=503, retry_after=1, times=1)
    assert api_client(emulator).get_user(user["id"])["id"] == user["id"]
    refused, served = emulator.requests[-2:]
    assert served.at - refused.at >= 0.95


def test_the_clients_wait_cap_is_the_transport_one_unless_given(emulator) -> None:
    assert api_client(emulator).max_retry_wait == MAX_RETRY_WAIT
    user = emulator.create_user("ada@example.com")
    emulator.inject_fault("/api/v2/users/*", status=429, retry_after=2, times=None)
    with pytest.raises(RateLimited):
        api_client(emulator, max_retry_wait=1).get_user(user["id"])
    assert emulator.count_requests("/api/v2/users/*") == 1


@pytest.mark.parametrize("kind", ["drop", "reset"])
def test_the_client_never_resends_a_post_that_got_no_answer(emulator, kind) -> None:
    emulator.inject_fault("/api/v2/users", method="POST", kind=kind, times=None)
    with pytest.raises(APIUnavailable):
        api_client(emulator, retries=3).request(
            "POST", "/users", json={"user": {"email": "new@example.com"}}
        )
    assert emulator.count_requests("/api/v2/users", method="POST") == 1


def test_the_client_never_resends_a_delete_that_got_no_answer(emulator) -> None:
    # (A reset cuts the body in half: a DELETE's 204 has none to cut, so only a drop here.)
    user = emulator.create_user("ada@example.com")
    session, _ = emulator.login(user["id"])
    emulator.inject_fault("/api/v2/sessions/*", method="DELETE", kind="drop", times=None)
    with pytest.raises(APIUnavailable):
        api_client(emulator, retries=3).delete_session(session["id"])
    assert emulator.count_requests("/api/v2/sessions/*", method="DELETE") == 1


def test_the_client_logs_each_retry_with_the_cause_and_request_id(emulator, caplog) -> None:
    user = emulator.create_user("ada@example.com")
    emulator.inject_fault("/api/v2/users/*", status=503, retry_after=0, times=1)
    emulator.inject_fault("/api/v2/users/*", kind="drop", times=1)
    with caplog.at_level(logging.WARNING, logger="django_authrocket.client"):
        api_client(emulator).get_user(user["id"])
    refused = emulator.requests[-3]
    lines = [r.getMessage() for r in caplog.records if r.name == "django_authrocket.client"]
    assert lines[0] == (
        f"AuthRocket GET /users/{user['id']}: HTTP 503, request id {refused.request_id}; "
        "retrying in 0.00 s"
    )
    assert lines[1].startswith(f"AuthRocket GET /users/{user['id']}: ConnectionError; retrying")
    assert len(lines) == 2


# --- the key store ----------------------------------------------------------------------------


@pytest.fixture
def key_set_mode(emulator, settings):
    """Tokens verified with LoginRocket's published keys, from a cold key store."""
    settings.AUTHROCKET_JWT_KEY = None
    settings.AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL = 1
    KeyStore.for_settings().clear()
    emulator.clear_requests()
    return emulator


def test_the_key_store_waits_for_retry_after(key_set_mode) -> None:
    emulator = key_set_mode
    user = emulator.create_user("ada@example.com")
    emulator.inject_fault(JWKS, status=429, retry_after=1, times=1)
    assert verify_token(emulator.mint_token(user["id"])).user.id == user["id"]
    first, second = arrivals(emulator)
    assert second - first >= 0.95
    assert emulator.requests[-1].header("User-Agent") == USER_AGENT


def test_the_key_store_does_not_wait_beyond_the_cap(key_set_mode) -> None:
    emulator = key_set_mode
    user = emulator.create_user("ada@example.com")
    emulator.inject_fault(JWKS, status=503, retry_after=int(MAX_RETRY_WAIT) + 1, times=None)
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        verify_token(emulator.mint_token(user["id"]))
    assert time.monotonic() - started < 2
    assert emulator.count_requests(JWKS) == 1


@pytest.mark.parametrize("status", [500, 501, 503, 429])
def test_the_key_store_retries_any_5xx_and_429_as_often_as_configured(
    key_set_mode, settings, status
) -> None:
    emulator = key_set_mode
    settings.AUTHROCKET_HTTP_RETRIES = 1
    user = emulator.create_user("ada@example.com")
    emulator.inject_fault(JWKS, status=status, retry_after=0, times=None)
    with pytest.raises(KeysUnavailable):
        verify_token(emulator.mint_token(user["id"]))
    assert emulator.count_requests(JWKS) == 2


@pytest.mark.parametrize("kind", ["reset", "drop"])
def test_the_key_store_retries_an_answer_broken_off(key_set_mode, kind) -> None:
    emulator = key_set_mode
    user = emulator.create_user("ada@example.com")
    emulator.inject_fault(JWKS, kind=kind, times=1)
    assert verify_token(emulator.mint_token(user["id"])).user.id == user["id"]
    assert emulator.count_requests(JWKS) == 2


def test_each_module_logs_under_its_concern() -> None:
    assert client_module.logger.name == "django_authrocket.client"
    assert keys_module.logger.name == "django_authrocket.keys"


def test_the_environment_is_read_once_per_origin_with_requests_own_rules(monkeypatch) -> None:
    """HTTPSession keeps what requests reads from the environment (proxies, NO_PROXY, the CA
    bundle) per origin: the same answers as a plain Session, without the lookups each call."""
    from django_authrocket.transport import HTTPSession

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    ours, plain = HTTPSession(), requests.Session()

    def settings_of(session: requests.Session, url: str) -> dict:
        return dict(session.merge_environment_settings(url, {}, True, None, None))

    for url in ("https://api.example/v2/sessions/x", "https://direct.example/v2/users"):
        assert settings_of(ours, url) == settings_of(plain, url)
    assert settings_of(ours, "https://api.example/")["proxies"]["https"] == (
        "http://proxy.invalid:3128"
    )
    assert "https" not in settings_of(ours, "https://direct.example/")["proxies"]

    monkeypatch.setenv("HTTPS_PROXY", "http://other.invalid:3128")
    # The origin read before keeps its answer; one not read yet sees the new environment.
    assert settings_of(ours, "https://api.example/v2/orgs")["proxies"]["https"] == (
        "http://proxy.invalid:3128"
    )
    assert settings_of(ours, "https://new.example/")["proxies"]["https"] == (
        "http://other.invalid:3128"
    )
    # Proxies passed to the call are merged as requests merges them, never from the store.
    given = ours.merge_environment_settings(
        "https://api.example/", {"https": "http://given.invalid:1"}, True, None, None
    )
    assert given["proxies"]["https"] == "http://given.invalid:1"


def test_netrc_credentials_are_read_once_per_origin_with_requests_own_rules(
    monkeypatch, tmp_path
) -> None:
    """HTTPSession keeps what requests finds in ``.netrc`` per origin: the same Authorization
    header as a plain Session (and none where the file has no entry), without the lookup and
    the parse on every call."""
    from django_authrocket.transport import HTTPSession

    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.example login ada password first\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    ours, plain = HTTPSession(), requests.Session()

    def authorization(session: requests.Session, url: str) -> str | None:
        return session.prepare_request(requests.Request("GET", url)).headers.get("Authorization")

    for url in ("https://api.example/v2/sessions/x", "https://other.example/v2/users"):
        assert authorization(ours, url) == authorization(plain, url)
    first = authorization(ours, "https://api.example/")
    assert first is not None and first.startswith("Basic ")
    assert authorization(ours, "https://other.example/") is None

    netrc.write_text(
        "machine api.example login ada password second\n"
        "machine other.example login grace password third\n"
        "machine new.example login hedy password fourth\n"
    )
    # The origins read before keep their answers; one not read yet sees the file as it is.
    assert authorization(ours, "https://api.example/v2/orgs") == first
    assert authorization(ours, "https://other.example/v2/orgs") is None
    assert authorization(ours, "https://new.example/") == authorization(
        requests.Session(), "https://new.example/"
    )
    assert authorization(requests.Session(), "https://api.example/") != first
    # Credentials given to the call win, as with requests.
    given = ours.prepare_request(requests.Request("GET", "https://api.example/", auth=("u", "p")))
    assert given.headers["Authorization"] == requests.auth._basic_auth_str("u", "p")

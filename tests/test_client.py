"""AuthRocketClient against the emulator: headers, retries, errors, pagination. Real HTTP."""

from __future__ import annotations

import pytest
from django.utils import translation

from django_authrocket import __version__
from django_authrocket.client import AuthRocketClient
from django_authrocket.exceptions import (
    APIUnavailable,
    AuthenticationFailed,
    InvalidResponse,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
)


def client_for(emulator, generation: int = 2, **kwargs) -> AuthRocketClient:
    kwargs.setdefault("realm", emulator.realm_id)
    kwargs.setdefault("timeout", 2)
    return AuthRocketClient(emulator.api_url(generation), emulator.api_key, **kwargs)


@pytest.fixture
def client(emulator) -> AuthRocketClient:
    return client_for(emulator)


@pytest.fixture
def user(emulator):
    return emulator.create_user("ada@example.com", first_name="Ada", last_name="Lovelace")


def last_request(emulator):
    return emulator.requests[-1]


# --- what every request carries --------------------------------------------------------------


def test_ar2_requests_carry_the_v2_auth_headers(emulator, client, user) -> None:
    client.get_user(user["id"])
    sent = last_request(emulator)
    assert sent.header("Authrocket-Api-Key") == emulator.api_key
    assert sent.header("Authrocket-Realm") == emulator.realm_id
    assert sent.header("X-Authrocket-Api-Key") is None
    assert sent.header("Accept") == "application/json"


def test_ar1_requests_carry_the_x_authrocket_headers(emulator, user) -> None:
    client = client_for(emulator, generation=1)
    assert client.generation == 1
    assert client.get_user(user["id"])["id"] == user["id"]
    sent = last_request(emulator)
    assert sent.path.startswith("/api/v1/")
    assert sent.header("X-Authrocket-Api-Key") == emulator.api_key
    assert sent.header("X-Authrocket-Realm") == emulator.realm_id
    assert sent.header("Authrocket-Api-Key") is None


def test_user_agent_names_the_library_version_and_a_url(emulator, client, user) -> None:
    client.get_user(user["id"])
    agent = last_request(emulator).header("User-Agent")
    assert agent.startswith(f"django-authrocket/{__version__} (+https://")


def test_accept_language_follows_the_active_django_language(emulator, client, user) -> None:
    with translation.override("fr"):
        client.get_user(user["id"])
    assert last_request(emulator).header("Accept-Language") == "fr"


def test_from_settings_uses_the_configured_api(emulator, user) -> None:
    client = AuthRocketClient.from_settings()
    assert client.get_user(user["id"])["email"] == "ada@example.com"
    assert AuthRocketClient.from_settings() is client  # one requests.Session per configuration


def test_from_settings_without_api_key_says_what_to_set(settings) -> None:
    settings.AUTHROCKET_URL = "https://api-e2.authrocket.com/v2"
    settings.AUTHROCKET_API_KEY = None
    with pytest.raises(Exception, match="AUTHROCKET_API_KEY must be set"):
        AuthRocketClient.from_settings()


def test_the_api_key_never_shows_in_repr_or_errors(emulator) -> None:
    client = AuthRocketClient(emulator.api_url(), "ks_wrong_key_123", timeout=2)
    assert "ks_wrong_key_123" not in repr(client)
    with pytest.raises(AuthenticationFailed) as caught:
        client.get_user("usr_x")
    assert "ks_wrong_key_123" not in str(caught.value)
    assert caught.value.status == 403


# --- sessions ---------------------------------------------------------------------------------


def test_get_session_by_id_and_by_token(emulator, client, user) -> None:
    session, token = emulator.login(user["id"])
    assert client.get_session(session["id"])["user_id"] == user["id"]
    assert client.get_session(token)["id"] == session["id"]


def test_an_ended_session_is_not_found_with_the_request_id(emulator, client, user) -> None:
    session, token = emulator.login(user["id"])
    client.delete_session(session["id"])
    with pytest.raises(NotFound) as caught:
        client.get_session(token)
    error = caught.value
    assert error.status == 404
    assert error.request_id == last_request(emulator).request_id
    assert error.request_id.startswith("rq_")
    assert token not in str(error)  # a token in the path is masked in messages
    assert "<token>" in str(error)


def test_iter_sessions_lists_a_users_active_sessions(emulator, client, user) -> None:
    first, _ = emulator.login(user["id"])
    second, _ = emulator.login(user["id"])
    emulator.end_session(first["id"])
    assert [s["id"] for s in client.iter_sessions(user_id=user["id"])] == [second["id"]]


# --- retries ----------------------------------------------------------------------------------


def test_retry_after_is_honoured_before_the_retry(emulator, client, user) -> None:
    emulator.inject_fault("/api/v2/users/*", status=429, retry_after=1, times=1)
    assert client.get_user(user["id"])["id"] == user["id"]
    refused, served = emulator.requests[-2:]
    assert (refused.status, served.status) == (429, 200)
    assert served.at - refused.at >= 0.95


def test_rate_limited_after_the_configured_retries(emulator, user) -> None:
    client = client_for(emulator, retries=3)
    emulator.inject_fault("/api/v2/users/*", status=429, retry_after=0, times=None)
    with pytest.raises(RateLimited) as caught:
        client.get_user(user["id"])
    assert emulator.count_requests("/api/v2/users/*") == 4
    assert caught.value.request_id == last_request(emulator).request_id
    assert caught.value.retry_after == 0


def test_a_retry_after_longer_than_the_cap_is_not_waited_for(emulator, user) -> None:
    client = client_for(emulator, max_retry_wait=2)
    emulator.inject_fault("/api/v2/users/*", status=429, retry_after=3600, times=None)
    with pytest.raises(RateLimited) as caught:
        client.get_user(user["id"])
    assert caught.value.retry_after == 3600
    assert emulator.count_requests("/api/v2/users/*") == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gets_are_retried_on_gateway_errors(emulator, client, user, status) -> None:
    emulator.inject_fault("/api/v2/users/*", status=status, times=2)
    assert client.get_user(user["id"])["id"] == user["id"]
    assert emulator.count_requests("/api/v2/users/*") == 3


def test_server_error_after_retries_run_out(emulator, client, user) -> None:
    emulator.inject_fault("/api/v2/users/*", status=503, times=None)
    with pytest.raises(ServerError) as caught:
        client.get_user(user["id"])
    assert caught.value.status == 503
    assert emulator.count_requests("/api/v2/users/*") == 3  # 1 + AUTHROCKET_HTTP_RETRIES


def test_a_500_is_not_retried(emulator, client, user) -> None:
    emulator.inject_fault("/api/v2/users/*", status=500, times=None)
    with pytest.raises(ServerError):
        client.get_user(user["id"])
    assert emulator.count_requests("/api/v2/users/*") == 1


def test_a_get_that_times_out_is_retried(emulator, user) -> None:
    client = client_for(emulator, timeout=0.3)
    emulator.inject_fault("/api/v2/users/*", kind="latency", delay=1.0, times=1)
    assert client.get_user(user["id"])["id"] == user["id"]
    assert emulator.count_requests("/api/v2/users/*") == 2


def test_a_delete_that_times_out_is_never_sent_twice(emulator, user) -> None:
    client = client_for(emulator, timeout=0.3)
    session, _ = emulator.login(user["id"])
    emulator.inject_fault(
        "/api/v2/sessions/*", method="DELETE", kind="latency", delay=1.0, times=None
    )
    with pytest.raises(APIUnavailable):
        client.delete_session(session["id"])
    assert emulator.count_requests("/api/v2/sessions/*", method="DELETE") == 1


def test_a_post_that_times_out_is_never_sent_twice(emulator) -> None:
    client = client_for(emulator, timeout=0.3)
    emulator.inject_fault("/api/v2/users", method="POST", kind="latency", delay=1.0, times=None)
    with pytest.raises(APIUnavailable):
        client.request("POST", "/users", json={"user": {"email": "new@example.com"}})
    assert emulator.count_requests("/api/v2/users", method="POST") == 1


def test_a_delete_on_503_is_not_retried(emulator, client, user) -> None:
    session, _ = emulator.login(user["id"])
    emulator.inject_fault("/api/v2/sessions/*", method="DELETE", status=503, times=None)
    with pytest.raises(ServerError):
        client.delete_session(session["id"])
    assert emulator.count_requests("/api/v2/sessions/*", method="DELETE") == 1


def test_a_post_on_429_is_retried_because_it_was_not_processed(emulator, client) -> None:
    emulator.inject_fault("/api/v2/users", method="POST", status=429, retry_after=0, times=1)
    created = client.request("POST", "/users", json={"user": {"email": "new@example.com"}})
    assert created["email"] == "new@example.com"
    assert emulator.count_requests("/api/v2/users", method="POST") == 2


# --- bad answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["drop", "reset"])
def test_a_broken_connection_is_api_unavailable_after_retries(emulator, client, user, kind) -> None:
    emulator.inject_fault("/api/v2/users/*", kind=kind, times=None)
    with pytest.raises(APIUnavailable):
        client.get_user(user["id"])
    assert emulator.count_requests("/api/v2/users/*") == 3


def test_connection_refused_is_api_unavailable() -> None:
    client = AuthRocketClient("http://127.0.0.1:9/api/v2", "ks_x", timeout=0.5, retries=0)
    with pytest.raises(APIUnavailable, match="could not be reached"):
        client.get_user("usr_x")


@pytest.mark.parametrize(
    "kind", ["malformed_json", "truncated_json", "html", "content_type", "oversize"]
)
def test_an_answer_that_is_not_api_json_is_invalid_response(emulator, client, user, kind) -> None:
    emulator.inject_fault("/api/v2/users/*", kind=kind, times=None)
    with pytest.raises(InvalidResponse) as caught:
        client.get_user(user["id"])
    assert caught.value.status == 200


def test_validation_errors_carry_the_messages(emulator, client, user) -> None:
    with pytest.raises(ValidationFailed) as caught:
        client.request("POST", "/users", json={"user": {"email": user["email"]}})
    assert caught.value.status == 422
    assert caught.value.errors
    assert all(isinstance(message, str) for message in caught.value.errors)


# --- pagination -------------------------------------------------------------------------------


def test_iter_users_pages_through_everything_in_order(emulator, client) -> None:
    created = [emulator.create_user(f"user{i}@example.com")["id"] for i in range(250)]
    emulator.clear_requests()
    seen = [u["id"] for u in client.iter_users(page_size=100)]
    assert seen == created
    pages = emulator.requests
    assert len(pages) == 3
    assert pages[0].query.get("after") is None
    assert pages[1].query["after"] == [created[99]]
    assert pages[2].query["max_results"] == ["100"]


def test_iter_pages_resumes_after_a_given_id(emulator, client) -> None:
    created = [emulator.create_user(f"user{i}@example.com")["id"] for i in range(30)]
    pages = list(client.iter_pages("/users", page_size=10, after=created[14]))
    assert [u["id"] for page in pages for u in page.items] == created[15:]
    assert pages[-1].more_results is False


def test_memberships_filter_by_user_and_org(emulator, client, user) -> None:
    org = emulator.create_org("Engines")
    other = emulator.create_org("Looms")
    emulator.create_membership(user["id"], org["id"], permissions=["ar:admin"])
    emulator.create_membership(user["id"], other["id"])
    by_user = list(client.iter_memberships(user_id=user["id"]))
    by_org = list(client.iter_memberships(org_id=org["id"]))
    assert {m["org_id"] for m in by_user} == {org["id"], other["id"]}
    assert [m["permissions"] for m in by_org] == [["ar:admin"]]


def test_a_list_answer_without_collection_is_invalid_response(emulator, client) -> None:
    emulator.inject_fault("/api/v2/orgs", kind="content_type", times=None)
    with pytest.raises(InvalidResponse):
        list(client.iter_orgs())


def test_get_event_returns_the_webhook_shape(emulator, client, user) -> None:
    event = emulator.events[-1]
    fetched = client.get_event(event["id"])
    assert fetched["event_type"] == event["event_type"]
    assert fetched["id"].startswith("ev_")

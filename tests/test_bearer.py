"""``Authorization: Bearer <token>``: one request as the token's user, no session, no cookie."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client, RequestFactory

from django_authrocket import bearer
from django_authrocket.exceptions import InvalidToken
from tests.helpers import bearer_auth, session_calls

pytestmark = pytest.mark.django_db


# --- the header ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer   abc.def.ghi  ", "abc.def.ghi"),
        ("Basic dXNlcjpwYXNz", None),
        ("", None),
        (None, None),
    ],
)
def test_token_from_header_reads_only_the_bearer_scheme(value, token) -> None:
    assert bearer.token_from_header(value) == token


@pytest.mark.parametrize("value", ["Bearer", "Bearer   ", "Bearer a b"])
def test_a_bearer_header_that_is_not_one_token_is_malformed(value) -> None:
    with pytest.raises(InvalidToken) as caught:
        bearer.token_from_header(value)
    assert caught.value.reason == "malformed"


def test_authenticate_returns_the_user_and_session_or_none(emulator, ada) -> None:
    assert bearer.authenticate(RequestFactory().get("/")) is None
    request = RequestFactory().get("/", **bearer_auth(emulator.mint_token(ada["id"])))
    user, session = bearer.authenticate(request)
    assert user.get_username() == "ada" and session.user.id == ada["id"]
    get_user_model().objects.update(is_active=False)
    with pytest.raises(InvalidToken) as caught:
        bearer.authenticate(request)
    assert caught.value.reason == "inactive_user"


# --- through the middleware ---------------------------------------------------------------------


@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_a_bearer_token_authenticates_one_request_without_a_session(
    settings, emulator, ada, verify
) -> None:
    settings.AUTHROCKET_VERIFY = verify
    token = emulator.mint_token(ada["id"])
    client = Client()
    response = client.post("/api/me/", **bearer_auth(token))
    assert response.status_code == 200, response.content
    assert response.json() == {"username": "ada", "authrocket_user": ada["id"], "method": "POST"}
    assert "sessionid" not in response.cookies
    assert client.get("/api/me/").status_code == 401  # nothing was remembered


def test_an_ar1_bearer_token_works(settings, emulator, ada) -> None:
    settings.AUTHROCKET_URL = emulator.api_url(1)  # an AuthRocket 1 site
    settings.AUTHROCKET_JWT_KEY = emulator.jwt_secret
    token = emulator.mint_token(ada["id"], generation=1)
    response = Client().get("/api/me/", **bearer_auth(token))
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
    response = Client().get("/api/me/", **bearer_auth(token))
    assert response.status_code == 401 and response.json()["error"] == "expired"
    assert token not in response.content.decode()


def test_a_bearer_token_of_an_ended_session_is_refused_in_api_mode(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    session, token = emulator.login(ada["id"])
    emulator.end_session(session["id"])
    response = Client().get("/api/me/", **bearer_auth(token))
    assert response.status_code == 401


def test_bearer_api_mode_checks_each_token_once_per_interval(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    token = emulator.mint_token(ada["id"])
    emulator.clear_requests()
    for _ in range(5):
        assert Client().get("/api/me/", **bearer_auth(token)).status_code == 200
    assert session_calls(emulator) == 1


def test_a_forged_bearer_token_does_not_ride_on_a_checked_session(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    _, token = emulator.login(ada["id"])
    assert Client().get("/api/me/", **bearer_auth(token)).status_code == 200
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert Client().get("/api/me/", **bearer_auth(forged)).status_code == 401


def test_bearer_with_authrocket_down_is_503_not_500(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_HTTP_RETRIES = 0
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)
    response = Client().get("/api/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 503


def test_bearer_with_signing_keys_unavailable_is_503(emulator, ada) -> None:
    emulator.inject_fault("/connect/jwks", status=503, times=None)
    token = emulator.mint_token(ada["id"])
    assert Client().get("/api/me/", **bearer_auth(token)).status_code == 503


def test_other_authorization_schemes_are_ignored() -> None:
    response = Client().get("/api/me/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 401 and response.json() == {"error": "anonymous"}


def test_bearer_requests_go_through_verify_claims(settings, emulator, ada) -> None:
    settings.AUTHENTICATION_BACKENDS = ["tests.test_backend.OnlyEnginesBackend"]
    outsider = emulator.create_user("eve@example.com")
    refused = Client().get("/api/me/", **bearer_auth(emulator.mint_token(outsider["id"])))
    assert refused.status_code == 401 and refused.json()["error"] == "refused"
    allowed = Client().get("/api/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert allowed.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_bearer_token_works_on_an_async_view(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])

    async def fetch():  # type: ignore[no-untyped-def]
        return await AsyncClient().get(
            "/async-private/", headers={"Authorization": f"Bearer {token}"}
        )

    response = async_to_sync(fetch)()
    assert response.status_code == 200 and response.json()["username"] == "ada"

"""AuthRocketMiddleware: a login ends with its token, and how the end is answered (sync, async)."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from django_authrocket.testing import expire_login
from tests.helpers import logged_in

pytestmark = pytest.mark.django_db


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


# --- how a session ends: a redirect for a browser, JSON for a script --------------------------


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


# --- async --------------------------------------------------------------------------------------


def fetch_async(cookie: str, path: str):  # type: ignore[no-untyped-def]
    """GET ``path`` through the ASGI handler with the session cookie of a sync test client."""

    async def fetch():  # type: ignore[no-untyped-def]
        async_client = AsyncClient()
        async_client.cookies["sessionid"] = cookie
        return await async_client.get(path)

    return async_to_sync(fetch)()


@pytest.mark.django_db(transaction=True)
def test_the_async_path_sees_the_same_session(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    response = fetch_async(client.cookies["sessionid"].value, "/async-private/")
    assert response.status_code == 200
    assert response.json()["username"] == "ada"
    assert response.json()["authrocket_session"].startswith("kss_")


@pytest.mark.django_db(transaction=True)
def test_the_async_path_ends_an_expired_session(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    expire_login(client, seconds_ago=60)
    assert fetch_async(client.cookies["sessionid"].value, "/async-private/").status_code == 302

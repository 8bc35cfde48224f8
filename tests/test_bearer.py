"""``Authorization: Bearer <token>``: one request as the token's user, no session, no cookie.

Where Bearer applies (``AUTHROCKET_BEARER_URLS``, never the admin) and which tokens it refuses
besides bad ones (a token that logged a browser in, a session logged out here) are issue 12,
finding 1; one header parser with a result reused only for its own header is finding 7.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client, RequestFactory
from django.urls import path

from django_authrocket import bearer, signout
from django_authrocket.exceptions import InvalidToken
from tests.helpers import bearer_auth, logged_in, login_with, session_calls
from tests.urls import urlpatterns as base_patterns

pytestmark = pytest.mark.django_db

#: A second admin site, under another name and prefix: Bearer must not reach it either.
back_office = AdminSite(name="back_office")
#: This module is also a URLconf (``pytest.mark.urls(__name__)``): the test site plus that one.
urlpatterns = [*base_patterns, path("ops/back-office/", back_office.urls)]
WEBHOOK_SECRET = "whsec-bearer-7c1d9e2a4b6f8031d5e7"


# --- the header ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer   abc.def.ghi  ", "abc.def.ghi"),
        ("Bearer\tabc.def.ghi", "abc.def.ghi"),  # any whitespace separates, as in DRF
        ("BEARER \t abc.def.ghi", "abc.def.ghi"),
        ("Bearerabc.def.ghi", None),
        ("Basic dXNlcjpwYXNz", None),
        ("", None),
        (None, None),
    ],
)
def test_token_from_header_reads_only_the_bearer_scheme(value, token) -> None:
    assert bearer.token_from_header(value) == token


@pytest.mark.parametrize("value", ["Bearer", "Bearer   ", "Bearer a b", "Bearer\ta\tb"])
def test_a_bearer_header_that_is_not_one_token_is_malformed(value) -> None:
    with pytest.raises(InvalidToken) as caught:
        bearer.token_from_header(value)
    assert caught.value.reason == "malformed"


def test_authenticate_returns_the_user_and_session_or_none(emulator, ada) -> None:
    assert bearer.authenticate(RequestFactory().get("/")) is None
    headers = bearer_auth(emulator.mint_token(ada["id"]))
    user, session = bearer.authenticate(RequestFactory().get("/", **headers))
    assert user.get_username() == "ada" and session.user.id == ada["id"]
    get_user_model().objects.update(is_active=False)
    with pytest.raises(InvalidToken) as caught:
        bearer.authenticate(RequestFactory().get("/", **headers))
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
def test_a_bad_bearer_token_gets_401_json_never_a_redirect(settings, token) -> None:
    settings.AUTHROCKET_BEARER_URLS = [r"^private/"]
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
def test_a_bearer_token_works_on_an_async_view(settings, emulator, ada) -> None:
    settings.AUTHROCKET_BEARER_URLS = [r"^async-private/"]
    token = emulator.mint_token(ada["id"])

    async def fetch():  # type: ignore[no-untyped-def]
        return await AsyncClient().get(
            "/async-private/", headers={"Authorization": f"Bearer {token}"}
        )

    response = async_to_sync(fetch)()
    assert response.status_code == 200 and response.json()["username"] == "ada"


# --- where Bearer applies (finding 1) -----------------------------------------------------------


def test_the_middleware_ignores_bearer_everywhere_by_default(settings, emulator, ada) -> None:
    del settings.AUTHROCKET_BEARER_URLS  # the package's default, not the test site's
    token = emulator.mint_token(ada["id"])
    response = Client().post("/api/me/", **bearer_auth(token))
    assert response.status_code == 401 and response.json() == {"error": "anonymous"}
    broken = Client().get("/api/me/", HTTP_AUTHORIZATION="Bearer a b")
    assert broken.json() == {"error": "anonymous"}  # not even read


def test_bearer_urls_open_only_the_paths_they_match(settings, emulator, ada) -> None:
    bearer_header = bearer_auth(emulator.mint_token(ada["id"]))
    settings.AUTHROCKET_BEARER_URLS = [r"^api/"]
    assert Client().get("/api/me/", **bearer_header).status_code == 200
    elsewhere = Client().get("/private/", **bearer_header)
    assert elsewhere.status_code == 302 and elsewhere["Location"].startswith("/login/")
    # Searched like re_path, in the path without its leading slash; one string is one pattern.
    settings.AUTHROCKET_BEARER_URLS = r"^private/$"
    assert Client().get("/private/", **bearer_header).status_code == 200
    assert Client().get("/api/me/", **bearer_header).json() == {"error": "anonymous"}


def test_bearer_never_authenticates_the_admin(settings, emulator, ada) -> None:
    settings.AUTHROCKET_BEARER_URLS = [r"^"]  # even opened everywhere
    bearer_header = bearer_auth(emulator.mint_token(ada["id"]))
    assert Client().get("/api/me/", **bearer_header).status_code == 200  # the local user
    get_user_model().objects.update(is_staff=True, is_superuser=True)
    for page in ("/admin/", "/admin/auth/user/"):
        response = Client().get(page, **bearer_header)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    # No forged admin POST either: the admin keeps its CSRF check.
    added = Client(enforce_csrf_checks=True).post(
        "/admin/auth/user/add/",
        {"username": "mallory", "password1": "x-Very-long-1", "password2": "x-Very-long-1"},
        **bearer_header,
    )
    assert added.status_code == 403
    assert not get_user_model().objects.filter(username="mallory").exists()


@pytest.mark.urls(__name__)
def test_bearer_never_authenticates_another_admin_site(settings, emulator, ada) -> None:
    settings.AUTHROCKET_BEARER_URLS = [r"^"]
    bearer_header = bearer_auth(emulator.mint_token(ada["id"]))
    assert Client().get("/api/me/", **bearer_header).status_code == 200
    get_user_model().objects.update(is_staff=True, is_superuser=True)
    response = Client().get("/ops/back-office/", **bearer_header)
    assert response.status_code == 302
    assert response["Location"].startswith("/ops/back-office/login/")
    assert bearer.authenticate(RequestFactory().get("/ops/back-office/", **bearer_header)) is None


# --- which tokens Bearer refuses (finding 1) ----------------------------------------------------


@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_a_token_that_logged_a_browser_in_is_refused_as_bearer(
    settings, emulator, ada, verify
) -> None:
    settings.AUTHROCKET_VERIFY = verify
    _, token = emulator.login(ada["id"])
    assert Client().get("/api/me/", **bearer_auth(token)).status_code == 200
    assert login_with(Client(), token).status_code == 302  # Bearer use left no replay mark
    response = Client().post("/api/me/", **bearer_auth(token))
    assert response.status_code == 401 and response.json()["error"] == "replayed"


@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_tokens_of_a_session_logged_out_here_are_refused_as_bearer(
    settings, emulator, ada, verify
) -> None:
    settings.AUTHROCKET_VERIFY = verify
    session, browser_token = emulator.login(ada["id"])
    app_token = emulator.mint_token(ada["id"], session_id=session["id"], ttl=1234)
    assert app_token != browser_token  # the same session, another token (say, an app's)
    browser = Client()
    assert login_with(browser, browser_token).status_code == 302
    assert Client().get("/api/me/", **bearer_auth(app_token)).status_code == 200

    assert browser.post("/logout/").status_code == 302

    response = Client().get("/api/me/", **bearer_auth(app_token))
    assert response.status_code == 401 and response.json()["error"] == "session_ended"
    other_session = emulator.mint_token(ada["id"])
    assert Client().get("/api/me/", **bearer_auth(other_session)).status_code == 200


@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_a_session_deleted_webhook_ends_the_sessions_bearer_tokens(
    settings, emulator, ada, verify
) -> None:
    settings.AUTHROCKET_VERIFY = verify
    settings.AUTHROCKET_WEBHOOK_SECRET = WEBHOOK_SECRET
    session, token = emulator.login(ada["id"])  # used only as a Bearer token: no browser login
    assert Client().get("/api/me/", **bearer_auth(token)).status_code == 200
    emulator.end_session(session["id"])
    event = [e for e in emulator.events if e["event_type"] == "session.deleted"][-1]
    delivered = Client().post(
        f"/webhook/{WEBHOOK_SECRET}/", json.dumps(event), content_type="application/json"
    )
    assert delivered.status_code == 200, delivered.content
    response = Client().get("/api/me/", **bearer_auth(token))
    assert response.status_code == 401 and response.json()["error"] == "session_ended"


def test_revoking_a_users_sessions_ends_their_bearer_tokens(emulator, ada) -> None:
    _, token = emulator.login(ada["id"])
    assert Client().get("/api/me/", **bearer_auth(token)).status_code == 200
    assert signout.revoke_user_sessions(ada["id"]) >= 1  # the admin's "End AuthRocket sessions"
    response = Client().get("/api/me/", **bearer_auth(token))  # jwt mode: the token still verifies
    assert response.status_code == 401 and response.json()["error"] == "session_ended"


def test_a_bearer_request_that_logs_out_ends_its_own_session(settings, emulator, ada) -> None:
    settings.AUTHROCKET_BEARER_URLS = [r"^api/", r"^logout/"]
    _, token = emulator.login(ada["id"])
    assert Client().post("/logout/", **bearer_auth(token)).status_code == 302
    response = Client().get("/api/me/", **bearer_auth(token))
    assert response.status_code == 401 and response.json()["error"] == "session_ended"


# --- one header parser; a result reused only for its own header (finding 7) --------------------


def test_a_tab_after_bearer_is_a_bearer_header_not_a_session_request(emulator, ada) -> None:
    browser = logged_in(emulator, ada)
    assert browser.get("/api/me/").status_code == 200  # the session cookie alone
    response = browser.post("/api/me/", HTTP_AUTHORIZATION="Bearer\tjunk")
    assert response.status_code == 401 and response.json()["error"] in ("malformed", "invalid")


def test_a_result_is_reused_only_for_the_header_it_came_from(emulator, ada) -> None:
    request = RequestFactory().get("/api/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    user, session = bearer.authenticate(request)
    get_user_model().objects.update(is_active=False)
    assert bearer.authenticate(request) == (user, session)  # the same header: not checked again
    request.META["HTTP_AUTHORIZATION"] = "Bearer\tjunk"
    with pytest.raises(InvalidToken):
        bearer.authenticate(request)
    request.META["HTTP_AUTHORIZATION"] = "Basic dXNlcjpwYXNz"
    assert bearer.authenticate(request) is None

"""Django REST framework: AuthRocketAuthentication and HasAuthRocketPermission."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.helpers import bearer_auth

pytest.importorskip("rest_framework", reason="needs the drf extra (installed by make test)")

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.drf_urls")]


@pytest.fixture
def emulator(authrocket_emulator, settings):
    # DRF on its own: without the middleware, so the authentication class does the work.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "AuthRocketMiddleware" not in m]
    return authrocket_emulator


@pytest.fixture
def ada(emulator):
    user = emulator.create_user("ada@example.com", username="ada")
    org = emulator.create_org("Engines")
    emulator.create_membership(user["id"], org["id"], permissions=["billing:*"], selected=True)
    return user


@pytest.mark.parametrize("with_middleware", [False, True])
def test_a_bearer_token_authenticates_a_drf_view(settings, emulator, ada, with_middleware) -> None:
    if with_middleware:
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE,
            "django_authrocket.middleware.AuthRocketMiddleware",
        ]
    response = Client().get("/drf/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == "ada" and body["org"] == "Engines"
    assert body["session"].startswith("kss_")


def test_a_post_with_a_bearer_token_needs_no_csrf_token(emulator, ada) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/drf/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 201


def test_a_bad_token_is_a_401_with_a_bearer_challenge(emulator) -> None:
    response = Client().get("/drf/me/", **bearer_auth("nope"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="authrocket"'


def test_no_credentials_is_a_401_not_a_403(emulator) -> None:
    assert Client().get("/drf/me/").status_code == 401


def test_authrocket_permission_with_wildcard_grants(emulator, ada) -> None:
    response = Client().get("/drf/billing/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 200


def test_authrocket_permission_refuses_without_it(emulator) -> None:
    eve = emulator.create_user("eve@example.com")
    response = Client().get("/drf/billing/", **bearer_auth(emulator.mint_token(eve["id"])))
    assert response.status_code == 403


def test_authrocket_down_is_a_503_in_api_mode(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_HTTP_RETRIES = 0
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)
    response = Client().get("/drf/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 503


def test_the_permission_needs_a_name() -> None:
    from django_authrocket.contrib.drf import HasAuthRocketPermission

    with pytest.raises(TypeError):
        HasAuthRocketPermission()

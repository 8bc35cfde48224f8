"""Django REST framework: AuthRocketAuthentication and HasAuthRocketPermission."""

from __future__ import annotations

import base64

import pytest
from django.contrib.admin import AdminSite
from django.test import Client
from django.urls import path

from tests.helpers import bearer_auth, login_with, mirror_memberships_from_api

pytest.importorskip("rest_framework", reason="needs the drf extra (installed by make test)")

# After the skip: tests.drf_urls imports DRF.
from tests.drf_urls import Me
from tests.drf_urls import urlpatterns as drf_patterns

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


def test_authrocket_permission_asks_the_mirror_when_the_token_has_no_org_data(
    emulator, ada, token_orgs
) -> None:
    token = emulator.mint_token(ada["id"])
    first = Client().get("/drf/billing/", **bearer_auth(token))
    # Without org data, a first sight of Ada knows none of her orgs yet.
    assert first.status_code == (403 if token_orgs == "none" else 200)

    mirror_memberships_from_api(ada["id"])  # the sync or a webhook
    again = Client().get("/drf/billing/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert again.status_code == 200  # her only membership: the selected org


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


# --- where Bearer applies (issue 12, finding 1) -------------------------------------------------


def with_middleware(settings) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django_authrocket.middleware.AuthRocketMiddleware",
    ]


@pytest.mark.parametrize("bearer_urls", [None, [r"^drf/"]])
def test_the_drf_class_works_whatever_bearer_urls_says(settings, emulator, ada, bearer_urls):
    with_middleware(settings)
    if bearer_urls is None:
        del settings.AUTHROCKET_BEARER_URLS  # the default: the middleware ignores the header
    else:
        settings.AUTHROCKET_BEARER_URLS = bearer_urls
    response = Client().get("/drf/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 200 and response.json()["username"] == "ada"


class OpsSite(AdminSite):
    """An admin site with an API view of its own, as admin dashboards often have."""

    def get_urls(self):  # type: ignore[no-untyped-def]
        return [path("stats/", Me.as_view()), *super().get_urls()]


#: This module is also a URLconf (``pytest.mark.urls(__name__)``).
urlpatterns = [*drf_patterns, path("ops/", OpsSite(name="ops").urls)]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("middleware", [False, True])
def test_the_drf_class_never_authenticates_the_admin(settings, emulator, ada, middleware):
    if middleware:
        with_middleware(settings)
        settings.AUTHROCKET_BEARER_URLS = [r"^"]
    bearer_header = bearer_auth(emulator.mint_token(ada["id"]))
    assert Client().get("/drf/me/", **bearer_header).status_code == 200
    assert Client().get("/ops/stats/", **bearer_header).status_code == 401


# --- one header parser (finding 7) ---------------------------------------------------------------


def browser_of(emulator, ada) -> Client:
    """A browser logged in as Ada that must show a CSRF token for its POSTs."""
    browser = Client(enforce_csrf_checks=True)
    assert login_with(browser, emulator.mint_token(ada["id"])).status_code == 302
    return browser


@pytest.mark.parametrize("middleware", [False, True])
def test_a_tab_after_bearer_is_read_as_bearer_by_drf_too(settings, emulator, ada, middleware):
    if middleware:
        with_middleware(settings)
    browser = browser_of(emulator, ada)
    response = browser.post("/drf/either/", HTTP_AUTHORIZATION="Bearer\tjunk")
    assert response.status_code == 401  # never the session, without its CSRF check


@pytest.mark.parametrize("middleware", [False, True])
def test_another_scheme_with_a_session_keeps_drfs_csrf_check(settings, emulator, ada, middleware):
    if middleware:
        with_middleware(settings)
    browser = browser_of(emulator, ada)
    response = browser.post("/drf/either/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert browser.get("/drf/me/").status_code == 401  # and the session is no Bearer login


def test_the_middlewares_result_is_reused_for_the_same_header(settings, emulator, ada) -> None:
    with_middleware(settings)
    settings.AUTHROCKET_BEARER_URLS = [r"^drf/"]
    browser = browser_of(emulator, ada)
    response = browser.post("/drf/either/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 201 and response.json() == {"via": "bearer"}


# --- whose AuthRocket session the permission reads ------------------------------------------------


@pytest.mark.parametrize("middleware", [False, True])
def test_the_permission_reads_a_browser_login_only_through_session_authentication(
    settings, emulator, ada, middleware
) -> None:
    """A browser logged in with billing:* reaches the permission's view through DRF's
    SessionAuthentication (which keeps its CSRF check), and not through a view that takes
    Bearer tokens only, where DRF leaves the request anonymous: a cookie there must not stand
    in for a token (that would skip the CSRF check DRF keeps for sessions)."""
    if middleware:
        with_middleware(settings)
    browser = browser_of(emulator, ada)
    assert browser.get("/drf/billing-or-session/").status_code == 200
    assert browser.get("/drf/billing/").status_code == 401
    post = browser.post("/drf/billing-or-session/")
    assert post.status_code == 403 and "CSRF" in post.json()["detail"]


@pytest.mark.parametrize("middleware", [False, True])
def test_another_schemes_user_gets_no_permission_from_a_browser_login(
    settings, emulator, ada, django_user_model, middleware
) -> None:
    """Bob, authenticated by HTTP Basic, sends Ada's AuthRocket session cookie along: her
    permissions are not his."""
    if middleware:
        with_middleware(settings)
    django_user_model.objects.create_user("bob", password="bob-secret-42")
    browser = browser_of(emulator, ada)
    basic = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"bob:bob-secret-42").decode()}
    assert browser.get("/drf/billing-or-basic/", **basic).status_code == 403
    token = bearer_auth(emulator.mint_token(ada["id"]))
    assert Client().get("/drf/billing-or-basic/", **token).status_code == 200  # her own token

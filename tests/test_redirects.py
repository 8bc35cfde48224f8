"""redirects.py: where people are sent. A ``next`` from the request is used only when it is
safe for this host (the Django redirect vectors); everything else falls back to a setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory

from django_authrocket import redirects
from django_authrocket.testing import start_login
from tests.helpers import logged_in, login_with, query_of

VECTORS = Path(__file__).resolve().parent / "vectors"

pytestmark = pytest.mark.django_db


# --- through the login view ---------------------------------------------------------------------


def redirect_vectors():
    return json.loads((VECTORS / "django-redirects.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["unsafe", "safe"])
def test_next_from_the_django_redirect_vectors_behaves_as_labelled(
    settings, emulator, ada, kind
) -> None:
    settings.AUTHROCKET_PREVENT_TOKEN_REPLAY = False
    token = emulator.mint_token(ada["id"])
    vectors = redirect_vectors()[kind]
    assert vectors
    for target in vectors:
        response = login_with(Client(), token, target)
        assert response.status_code == 302, target
        location = response["Location"]
        if kind == "safe":
            assert location == target, target
        else:
            assert location == "/public/", (target, location)


def test_an_unsafe_next_is_not_passed_on_to_loginrocket(client, emulator) -> None:
    response = client.get("/login/", {"next": "https://evil.example/steal"})
    redirect_uri = query_of(response["Location"])["redirect_uri"][0]
    assert redirect_uri == "http://testserver/login/"


def test_https_is_required_for_next_on_a_secure_request(settings, emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    client = Client()
    start_login(client, secure=True)  # the site's own login start: no question asked
    response = client.get(
        "/login/", {"token": token, "next": "http://testserver/private/"}, secure=True
    )
    assert response["Location"] == "/public/"


# --- the functions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "data", "expected"),
    [
        ("get", {"next": "/private/"}, "/private/"),
        ("get", {"next": "https://evil.example/"}, None),
        ("get", {}, None),
        ("post", {"next": "/from-the-form/"}, "/from-the-form/"),
    ],
)
def test_next_from_reads_a_safe_next_from_the_query_or_the_form(method, data, expected) -> None:
    request = getattr(RequestFactory(), method)("/", data)
    assert redirects.next_from(request) == expected


def test_after_login_and_logout_fall_back_to_the_settings(settings) -> None:
    settings.LOGIN_REDIRECT_URL = "/home/"
    settings.LOGOUT_REDIRECT_URL = None
    plain = RequestFactory().get("/")
    assert redirects.after_login_url(plain) == "/home/"
    assert redirects.after_logout_url(plain) == "/logged-out/"  # the app's page, not "/"
    onward = RequestFactory().get("/", {"next": "/private/"})
    assert redirects.after_login_url(onward) == redirects.after_logout_url(onward) == "/private/"
    settings.LOGOUT_REDIRECT_URL = "public"
    assert redirects.after_logout_url(plain) == "/public/"


#: A URLconf without django_authrocket.urls (this module, for the test below).
urlpatterns: list[object] = []


@pytest.mark.urls(__name__)
def test_after_logout_is_the_root_on_a_site_without_the_apps_urls(settings) -> None:
    settings.LOGOUT_REDIRECT_URL = None
    assert redirects.after_logout_url(RequestFactory().get("/")) == "/"


def test_a_logout_without_logout_redirect_url_lands_on_the_logged_out_page(
    settings, emulator, ada
) -> None:
    """A new startproject site has no "/": the logout must end on a page that exists."""
    settings.LOGOUT_REDIRECT_URL = None
    client = logged_in(emulator, ada)

    response = client.post("/logout/")

    assert response.status_code == 302
    assert query_of(response.url)["redirect_uri"] == ["http://testserver/logged-out/"]
    page = client.get("/logged-out/")
    assert page.status_code == 200
    assert "You are logged out" in page.content.decode()
    assert 'href="/login/"' in page.content.decode()
    assert client.post("/logged-out/").status_code == 405


def test_url_with_next_carries_next_only_when_there_is_one() -> None:
    assert redirects.url_with_next("authrocket:login", None) == "/login/"
    assert redirects.url_with_next("authrocket:login", "/a/?b=1") == "/login/?next=%2Fa%2F%3Fb%3D1"
    assert redirects.url_with_next("authrocket:accounts_org", None, ["org_1"]) == "/accounts/org_1/"


def test_the_login_view_url_is_absolute_for_loginrocket_and_relative_for_pages() -> None:
    request = RequestFactory().get("/")
    assert redirects.login_view_url(request, "/x/") == "http://testserver/login/?next=%2Fx%2F"
    assert redirects.login_view_url(request, None, absolute=False) == "/login/"


def test_loginrocket_urls_leave_out_params_that_are_none(settings) -> None:
    settings.AUTHROCKET_LOGINROCKET_URL = "https://sample.e2.loginrocket.com"
    url = redirects.loginrocket_url("/signup", redirect_uri="https://site/", invitation=None)
    assert url == "https://sample.e2.loginrocket.com/signup?redirect_uri=https%3A%2F%2Fsite%2F"
    assert redirects.loginrocket_url("logout") == "https://sample.e2.loginrocket.com/logout"


def test_without_a_loginrocket_url_sending_people_there_is_improperly_configured(
    settings, monkeypatch
) -> None:
    monkeypatch.delenv("LOGINROCKET_URL", raising=False)
    monkeypatch.delenv("AUTHROCKET_LOGINROCKET_URL", raising=False)
    settings.AUTHROCKET_LOGINROCKET_URL = None
    with pytest.raises(ImproperlyConfigured, match="AUTHROCKET_LOGINROCKET_URL"):
        redirects.loginrocket_url("login")

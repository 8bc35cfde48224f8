"""Where a login without ``next`` lands while ``LOGIN_REDIRECT_URL`` is Django's default.

Django's default, ``/accounts/profile/``, is a 404 on a new ``startproject`` site; the login view
picks a page the site has instead (issue 14).
"""

from __future__ import annotations

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model
from django.urls import path

from tests.helpers import login_with
from tests.urls import urlpatterns as base_urlpatterns
from tests.views import public

pytestmark = pytest.mark.django_db

#: The test site with a home page at "/" and one at /accounts/profile/, for the tests below.
urlpatterns = [*base_urlpatterns, path("", public, name="home")]


@pytest.fixture(autouse=True)
def django_default(settings):  # type: ignore[no-untyped-def]
    settings.LOGIN_REDIRECT_URL = global_settings.LOGIN_REDIRECT_URL


def test_a_startproject_site_lands_on_the_apps_page(client, emulator, ada) -> None:
    landed = login_with(client, emulator.mint_token(ada["id"]))

    assert landed["Location"] == "/logged-in/"
    page = client.get("/logged-in/")
    assert page.status_code == 200
    assert "You are logged in" in page.content.decode()
    assert 'action="/logout/"' in page.content.decode()


def test_staff_land_on_the_admin(client, emulator, ada) -> None:
    login_with(client, emulator.mint_token(ada["id"]))  # the local user exists from now on
    get_user_model().objects.filter(username="ada").update(is_staff=True)

    landed = login_with(client, emulator.mint_token(ada["id"]))

    assert landed["Location"] == "/admin/"


@pytest.mark.urls("tests.test_default_landing")
def test_a_site_with_a_home_page_lands_there(client, emulator, ada) -> None:
    assert login_with(client, emulator.mint_token(ada["id"]))["Location"] == "/"


def test_a_set_login_redirect_url_and_a_safe_next_still_win(client, settings, emulator, ada):  # type: ignore[no-untyped-def]
    assert login_with(client, emulator.mint_token(ada["id"]), "/private/")["Location"] == (
        "/private/"
    )
    settings.LOGIN_REDIRECT_URL = "/public/"
    assert login_with(client, emulator.mint_token(ada["id"]))["Location"] == "/public/"


def test_the_page_without_a_login_offers_one(client) -> None:
    page = client.get("/logged-in/")

    assert page.status_code == 200
    assert 'href="/login/"' in page.content.decode()

"""views.py: LoginView's hooks for a site's subclass, and what the view refuses to do."""

from __future__ import annotations

import pytest
from django.test import Client

from django_authrocket.testing import start_login
from tests.helpers import is_logged_in, login_with, query_of, session_calls

pytestmark = pytest.mark.django_db


# --- a subclass's hooks (tests/extra_urls.py: ShopLoginView at /shop/login/) --------------------


@pytest.mark.urls("tests.extra_urls")
def test_a_subclass_chooses_where_a_login_goes_and_its_response(emulator, ada) -> None:
    client = Client()
    start_login(client)  # the site's own login start: no question asked
    response = client.get(
        "/shop/login/", {"token": emulator.mint_token(ada["id"]), "next": "/private/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/shop/welcome/"  # get_success_url, not next
    assert response["X-Shop-Customer"] == "ada"  # login_succeeded
    assert response["Referrer-Policy"] == "no-referrer"  # the base class's response, extended
    assert is_logged_in(client)


@pytest.mark.urls("tests.extra_urls")
def test_a_subclass_answers_a_refused_token(emulator, ada) -> None:
    client = Client()
    expired = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)
    response = client.get("/shop/login/", {"token": expired})
    assert response.status_code == 403
    assert response.json() == {"refused": "expired"}  # login_failed
    assert not is_logged_in(client)


@pytest.mark.urls("tests.extra_urls")
def test_a_subclass_at_its_own_path_gets_loginrocket_to_come_back_to_it(emulator) -> None:
    response = Client().get("/shop/login/", {"next": "/private/"})
    assert response["Location"].startswith(f"{emulator.loginrocket_url}/login?")
    redirect_uri = query_of(response["Location"])["redirect_uri"][0]
    assert redirect_uri == "http://testserver/shop/login/?next=%2Fprivate%2F"


# --- what the view refuses ----------------------------------------------------------------------


@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_head_with_a_token_is_refused_and_does_not_spend_it(
    settings, emulator, ada, verify
) -> None:
    settings.AUTHROCKET_VERIFY = verify
    token = emulator.mint_token(ada["id"])
    client = Client()
    emulator.clear_requests()
    response = client.head("/login/", {"token": token})
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert session_calls(emulator) == 0
    assert not is_logged_in(client)
    # The token was not marked as used: the real GET still logs in.
    assert login_with(client, token).status_code == 302
    assert is_logged_in(client)

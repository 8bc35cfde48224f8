"""Helpers the test modules share: a browser logged in through the emulator, and what it saw."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.test import Client
from django.urls import reverse

from django_authrocket.testing import log_in_through_site


def login_with(client: Client, token: str, next_url: str | None = None, **extra: Any) -> Any:
    """A login the way a browser makes one: ``client`` starts at the login view (which leaves
    the login marker), then comes back with ``?token=...`` (and ``next``), LoginRocket's way
    back. ``extra`` goes to both requests (``secure=True``, headers).

    A refusal is followed to the failure page (see :func:`follow_refusal`), which is returned.
    """
    return follow_refusal(client, log_in_through_site(client, token, next_url, **extra))


def arrive_with(client: Client, token: str, **params: Any) -> Any:
    """``GET /login/?token=...`` (and ``params``) with ``client``, which did not start the login
    here (no login marker): what a link from elsewhere does. A refusal is followed, as by
    :func:`login_with`; a token that is good gets the confirmation redirect."""
    return follow_refusal(client, client.get("/login/", {"token": token, **params}))


def follow_refusal(client: Client, response: Any) -> Any:
    """``response`` itself, unless it is a refused login's redirect to the failure page: then
    that redirect is checked (a 303 to ``authrocket:login_failed`` with no token in it, no
    ``Referer`` onwards, never cached) and the page it leads to is returned, with the redirect
    as its ``refusal`` attribute."""
    location = response.get("Location", "")
    if not location.startswith(reverse("authrocket:login_failed")):
        return response
    assert response.status_code == 303
    assert "token" not in query_of(location) and "token=" not in location
    assert set(query_of(location)) <= {"reason", "next"}
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    page = client.get(location)
    page.refusal = response
    return page


def logged_in(emulator: Any, user: dict[str, Any], **mint: Any) -> Client:
    """A new client logged in as ``user`` with a fresh token (``mint`` goes to mint_token)."""
    client = Client()
    response = login_with(client, emulator.mint_token(user["id"], **mint))
    assert response.status_code == 302, response.content
    return client


def is_logged_in(client: Client) -> bool:
    return client.get("/private/").status_code == 200


def session_calls(emulator: Any) -> int:
    """How many Get Session calls the emulator answered."""
    return int(emulator.count_requests("/api/*/sessions/*", method="GET"))


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def memberships_of(emulator: Any, user_id: str) -> list[dict[str, Any]]:
    """The user's memberships, as the emulator's Core API lists them."""
    response = requests.get(
        f"{emulator.api_url()}/memberships",
        params={"user_id": user_id},
        headers={"Authrocket-Api-Key": emulator.api_key, "Accept": "application/json"},
        timeout=5,
    )
    collection: list[dict[str, Any]] = response.json()["collection"]
    return collection


def bearer_auth(token: str) -> dict[str, str]:
    """The test client's keyword arguments for ``Authorization: Bearer <token>``."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def mirror_memberships_from_api(*user_ids: str) -> None:
    """Read these users' memberships from the emulator's Core API into the mirror, as the sync
    or a webhook would: how a site learns the orgs a login token leaves out."""
    from django_authrocket.resync import resync_users

    resync_users(user_ids)


class EmailKeyedUser:
    """Stands for a user model whose ``USERNAME_FIELD`` is the email (tests/custom_user)."""

    USERNAME_FIELD = "email"

    class _meta:
        @staticmethod
        def get_field(name: str) -> object:
            from django.contrib.auth import get_user_model

            return get_user_model()._meta.get_field("email")

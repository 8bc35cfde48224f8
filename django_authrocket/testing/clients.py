"""Helpers for tests that log a Django test ``Client`` in and drive it through time.

:func:`log_in_through_site` logs in the way a browser does: it starts at the site's login view
(which leaves the login marker cookie, :mod:`django_authrocket.login_marker`) and comes back
to the address LoginRocket would send the token to. A bare ``GET /login/?token=`` from a
client that did not start the login gets the confirmation page instead (login CSRF,
``AUTHROCKET_LOGIN_CONFIRMATION``); :func:`start_login` leaves just the marker.

The Django session keeps a small AuthRocket entry (:class:`django_authrocket.logins.LoginEntry`);
these read and move it through that class, so a test need not know its layout:

>>> token = authrocket_emulator.mint_token(user["id"])                          # doctest: +SKIP
>>> log_in_through_site(client, token, next="/private/")                       # doctest: +SKIP
>>> authrocket_emulator.end_session(authrocket_session_id(client))              # doctest: +SKIP
>>> recheck_at_next_request(client)                                            # doctest: +SKIP
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.http.response import HttpResponseBase
from django.test import Client

# The app's modules are imported inside the helpers: this package loads before Django is set up
# (the pytest plugin, the emulator's command line).


def start_login(client: Client, next: str | None = None, **extra: Any) -> str:
    """Start a login at the site's login view, as a browser does: the client keeps the login
    marker cookie. Returns the return address the view gave LoginRocket (``redirect_uri``,
    as a path and query on this site), where LoginRocket would send the token."""
    from django.urls import reverse

    response = client.get(reverse("authrocket:login"), {"next": next} if next else {}, **extra)
    location = response.get("Location", "")
    return_to = parse_qs(urlsplit(location).query).get("redirect_uri", [""])[0]
    if response.status_code != 302 or not return_to:
        raise AssertionError(f"the login view did not send the client to LoginRocket: {location}")
    parts = urlsplit(return_to)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def log_in_through_site(
    client: Client, token: str, next: str | None = None, **extra: Any
) -> HttpResponseBase:
    """:func:`start_login`, then come back with ``token`` as LoginRocket does; returns the
    answer to that request (a redirect to ``next`` when the token logs in)."""
    return_to = start_login(client, next, **extra)
    separator = "&" if "?" in return_to else "?"
    response: HttpResponseBase = client.get(
        f"{return_to}{separator}{urlencode({'token': token})}", **extra
    )
    return response


def confirm_login(client: Client, response: HttpResponseBase, **extra: Any) -> HttpResponseBase:
    """Confirm the login that ``response`` (the 303 to the confirmation page) waits for, as a
    person does: open the page, press its button (the form's CSRF token and its nonce
    posted). Returns the answer to the POST (a redirect where the login leads)."""
    location = response.get("Location", "")
    page = client.get(location, **extra)
    html = page.content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    action = re.search(r'<form method="post" action="([^"]+)"', html)
    if page.status_code != 200 or action is None or not fields:
        raise AssertionError(f"no login confirmation page at {location!r}")
    answer: HttpResponseBase = client.post(action[1], fields, **extra)
    return answer


def authrocket_session_id(client: Client) -> str | None:
    """The AuthRocket session id (``kss_...``) behind the client's Django session, if any."""
    from django_authrocket.logins import LoginEntry, identity_of

    entry = LoginEntry.of(client.session)
    session = identity_of(entry) if entry is not None else None
    return session.id if session is not None else None


def expire_login(client: Client, *, seconds_ago: float = 3600) -> None:
    """Pretend the login token expired ``seconds_ago``: the next request ends the session."""
    _update_entry(client, lambda entry: entry._replace(expires_at=time.time() - seconds_ago))


def recheck_at_next_request(client: Client) -> None:
    """api mode: make the client's next request ask AuthRocket about the session."""
    _update_entry(client, lambda entry: entry.postponed(0))


def _update_entry(client: Client, change: Callable[[Any], Any]) -> None:
    from django_authrocket.logins import LoginEntry

    session = client.session
    entry = LoginEntry.of(session)
    if entry is None:
        raise ValueError("this client is not logged in through AuthRocket")
    change(entry).save(session)
    session.save()
    # Signed-cookie sessions live in the cookie: hand the client the new one.
    if session.session_key:
        client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

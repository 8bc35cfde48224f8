"""Helpers for tests that drive a logged-in Django test ``Client`` through time.

The Django session keeps a small AuthRocket entry (:class:`django_authrocket.logins.LoginEntry`);
these read and move it through that class, so a test need not know its layout:

>>> client.get("/login/", {"token": authrocket_emulator.mint_token(user["id"])})  # doctest: +SKIP
>>> authrocket_emulator.end_session(authrocket_session_id(client))              # doctest: +SKIP
>>> recheck_at_next_request(client)                                            # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.test import Client

# The app's modules are imported inside the helpers: this package loads before Django is set up
# (the pytest plugin, the emulator's command line).


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

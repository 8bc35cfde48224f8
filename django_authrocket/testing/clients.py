"""Helpers for tests that drive a logged-in Django test ``Client`` through time.

The Django session keeps a small AuthRocket entry (see :mod:`django_authrocket.state`); these
read and move it so a test need not know its layout:

>>> client.get("/login/", {"token": authrocket_emulator.mint_token(user["id"])})  # doctest: +SKIP
>>> authrocket_emulator.end_session(authrocket_session_id(client))              # doctest: +SKIP
>>> recheck_at_next_request(client)                                            # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.test import Client

# The app's modules are imported inside the helpers: this package loads before Django is set up
# (the pytest plugin, the emulator's command line).


def authrocket_session_id(client: Client) -> str | None:
    """The AuthRocket session id (``kss_...``) behind the client's Django session, if any."""
    from django_authrocket.models import AuthRocketLogin
    from django_authrocket.state import ENTRY_KEY, REF

    entry = client.session.get(ENTRY_KEY)
    ref = entry.get(REF) if isinstance(entry, dict) else None
    row = AuthRocketLogin.objects.filter(ref=ref).first() if ref else None
    return row.authrocket_session_id if row is not None else None


def expire_login(client: Client, *, seconds_ago: float = 3600) -> None:
    """Pretend the login token expired ``seconds_ago``: the next request ends the session."""
    from django_authrocket.state import EXPIRES

    _update_entry(client, {EXPIRES: time.time() - seconds_ago})


def recheck_at_next_request(client: Client) -> None:
    """api mode: make the client's next request ask AuthRocket about the session."""
    from django_authrocket.state import NEXT_CHECK

    _update_entry(client, {NEXT_CHECK: 0})


def _update_entry(client: Client, changes: dict[str, Any]) -> None:
    from django_authrocket.state import ENTRY_KEY

    session = client.session
    entry = session.get(ENTRY_KEY)
    if not isinstance(entry, dict):
        raise ValueError("this client is not logged in through AuthRocket")
    session[ENTRY_KEY] = {**entry, **changes}
    session.save()
    # Signed-cookie sessions live in the cookie: hand the client the new one.
    if session.session_key:
        client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

"""Ending logins: local logout, single sign-out, and revoking sessions at AuthRocket.

At login :func:`django_authrocket.logins.remember` records which Django session key belongs to
which AuthRocket session (:class:`~django_authrocket.models.AuthRocketLogin`); every end of
such a row is here. At logout the row goes (:func:`unlink`). When AuthRocket says a session
ended (a ``session.deleted`` webhook, an admin action), :func:`end_sessions_for` deletes the
matching Django sessions from the session store, so the browser is logged out at its next
request on any worker. :func:`revoke_session` and :func:`revoke_user_sessions` end sessions at
AuthRocket itself (the logout view, the admin's "End AuthRocket sessions").

This needs a server-side session engine (database, cache, cached_db). With signed-cookie
sessions there is nothing on the server to delete; the middleware's recheck (``"api"`` mode)
or the token's expiry is then what ends the session.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q
from django.http import HttpRequest

from . import recheck
from .client import AuthRocketClient
from .exceptions import APIError, NotFound
from .logins import LoginEntry, server_side_key
from .models import AuthRocketLogin
from .redaction import shown_session

logger = logging.getLogger("django_authrocket.login")


def unlink(sender: Any = None, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Forget the row of a Django session that logged out (a ``user_logged_out`` receiver)."""
    if request is None:
        return
    # By ref (every engine) and by key (a row whose ref the session no longer carries).
    match = Q()
    if entry := LoginEntry.of(getattr(request, "session", None)):
        match |= Q(ref=entry.ref)
    if key := server_side_key(request):
        match |= Q(session_key=key)
    if match:
        AuthRocketLogin.objects.filter(match).delete()


def end_sessions_for(authrocket_session_id: str) -> int:
    """End every Django session logged in by this AuthRocket session; return how many."""
    return _end(AuthRocketLogin.objects.filter(authrocket_session_id=authrocket_session_id))


def end_sessions_for_user(user: AbstractBaseUser) -> int:
    """End every Django session of ``user`` that AuthRocket logged in; return how many."""
    return _end(AuthRocketLogin.objects.filter(user_id=user.pk))


def prune_expired(now: datetime | None = None) -> int:
    """Delete rows of AuthRocket sessions past their expiry (their Django sessions end anyway)."""
    deleted, _ = AuthRocketLogin.objects.filter(expires_at__lt=now or datetime.now(UTC)).delete()
    return deleted


def revoke_session(session_id: str) -> bool:
    """End one session at AuthRocket (the logout view); False when that failed, which is
    logged: a logout goes on whatever AuthRocket says."""
    try:
        with contextlib.suppress(NotFound):  # it ended already
            AuthRocketClient.from_settings().delete_session(session_id)
    except APIError as exc:
        logger.warning("Could not revoke AuthRocket session %s: %s", shown_session(session_id), exc)
        return False
    except Exception:  # a logout must never fail on the revoke step
        logger.exception("Could not revoke AuthRocket session %s", shown_session(session_id))
        return False
    recheck.forget(session_id, ended=True)  # api-mode workers see it ended at once
    return True


def revoke_user_sessions(authrocket_user_id: str, client: AuthRocketClient | None = None) -> int:
    """End every active session of an AuthRocket user at AuthRocket; return how many.

    Raises :class:`~django_authrocket.exceptions.APIError` when AuthRocket cannot list or end
    them (the admin action reports it and still ends the local sessions).
    """
    client = client or AuthRocketClient.from_settings()
    session_ids = [str(s["id"]) for s in client.iter_sessions(user_id=authrocket_user_id)]
    for session_id in session_ids:
        with contextlib.suppress(NotFound):  # it ended meanwhile
            client.delete_session(session_id)
        recheck.forget(session_id, ended=True)  # api-mode workers see it ended at once
    return len(session_ids)


def _end(rows: Any) -> int:
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    # Rows of signed-cookie logins have no key: nothing on the server to end, so not counted.
    keys = [key for key in rows.values_list("session_key", flat=True) if key]
    for key in keys:
        store_class(session_key=key).delete()
    rows.delete()
    if keys:
        logger.info("Ended %d Django session(s) after AuthRocket sign-out", len(keys))
    return len(keys)

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

Every one of these ends also marks the AuthRocket session as ended here until it expires
(:func:`django_authrocket.verification.mark_session_ended`), in both modes: its tokens no longer
work as Bearer tokens, even those that never logged a browser in.
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

from . import recheck, verification
from .client import AuthRocketClient
from .exceptions import APIError, NotFound
from .identity import AuthRocketSession
from .logins import LoginEntry, server_side_key
from .mirror.fields import api_datetime
from .models import AuthRocketLogin
from .redaction import shown_session

logger = logging.getLogger("django_authrocket.login")


def unlink(sender: Any = None, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Forget the row of a Django session that logged out (a ``user_logged_out`` receiver), and
    mark its AuthRocket session as ended here (a Bearer request that logs out marks its own)."""
    if request is None:
        return
    ended: dict[str, datetime | None] = {}
    current = getattr(request, "authrocket", None)
    if isinstance(current, AuthRocketSession):
        ended[current.id] = current.expires_at
    # By ref (every engine) and by key (a row whose ref the session no longer carries).
    match = Q()
    if entry := LoginEntry.of(getattr(request, "session", None)):
        match |= Q(ref=entry.ref)
    if key := server_side_key(request):
        match |= Q(session_key=key)
    if match:
        rows = AuthRocketLogin.objects.filter(match)
        for session_id, expires_at in rows.values_list("authrocket_session_id", "expires_at"):
            ended[session_id] = expires_at or ended.get(session_id)
        rows.delete()
    _mark_ended(ended)


def end_sessions_for(authrocket_session_id: str) -> int:
    """End every Django session logged in by this AuthRocket session; return how many.

    The session is marked as ended here even when no browser here logged in with it (a
    ``session.deleted`` webhook for a session only used by Bearer tokens).
    """
    rows = AuthRocketLogin.objects.filter(authrocket_session_id=authrocket_session_id)
    return _end(rows, also={authrocket_session_id: None})


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
    _mark_ended({session_id: None})
    return True


def revoke_user_sessions(authrocket_user_id: str, client: AuthRocketClient | None = None) -> int:
    """End every active session of an AuthRocket user at AuthRocket; return how many.

    Raises :class:`~django_authrocket.exceptions.APIError` when AuthRocket cannot list or end
    them (the admin action reports it and still ends the local sessions).
    """
    client = client or AuthRocketClient.from_settings()
    sessions = {
        str(s["id"]): api_datetime(s.get("expires_at"))
        for s in client.iter_sessions(user_id=authrocket_user_id)
    }
    for session_id in sessions:
        with contextlib.suppress(NotFound):  # it ended meanwhile
            client.delete_session(session_id)
        recheck.forget(session_id, ended=True)  # api-mode workers see it ended at once
    _mark_ended(sessions)
    return len(sessions)


def _end(rows: Any, also: dict[str, datetime | None] | None = None) -> int:
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    found = list(rows.values_list("session_key", "authrocket_session_id", "expires_at"))
    ended = dict(also or {})
    for _, session_id, expires_at in found:
        ended[session_id] = expires_at or ended.get(session_id)
    # First, and allowed to fail (a webhook is then delivered again): from now on a Bearer
    # token of the session is refused.
    for session_id, expires_at in ended.items():
        verification.mark_session_ended(session_id, expires_at)
    # Rows of signed-cookie logins have no key: nothing on the server to end, so not counted.
    keys = [key for key, _, _ in found if key]
    for key in keys:
        store_class(session_key=key).delete()
    rows.delete()
    if keys:
        logger.info("Ended %d Django session(s) after AuthRocket sign-out", len(keys))
    return len(keys)


def _mark_ended(sessions: dict[str, datetime | None]) -> None:
    """Mark these AuthRocket sessions as ended here (see the module's docstring), at a logout or
    a revocation, and tell api-mode workers at once. A failing cache is logged, never raised: a
    logout must not fail on this."""
    try:
        for session_id, expires_at in sessions.items():
            recheck.forget(session_id, ended=True)
            verification.mark_session_ended(session_id, expires_at)
    except Exception:
        logger.exception("Could not mark %d AuthRocket session(s) as ended", len(sessions))

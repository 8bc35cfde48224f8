"""Single sign-out: end the Django sessions that an AuthRocket session logged in.

At login :func:`django_authrocket.state.remember` records which Django session key belongs to
which AuthRocket session (:class:`~django_authrocket.models.AuthRocketLogin`); at logout the row
goes. When AuthRocket
says a session ended (a ``session.deleted`` webhook, an admin action), :func:`end_sessions_for`
deletes the matching Django sessions from the session store, so the browser is logged out at its
next request on any worker.

This needs a server-side session engine (database, cache, cached_db). With signed-cookie
sessions there is nothing on the server to delete; the middleware's recheck (``"api"`` mode)
or the token's expiry is then what ends the session.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q
from django.http import HttpRequest

from . import state
from .models import AuthRocketLogin

logger = logging.getLogger(__name__)


def unlink(sender: Any = None, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Forget the row of a Django session that logged out (a ``user_logged_out`` receiver)."""
    if request is None:
        return
    # By ref (every engine) and by key (a row whose ref the session no longer carries). Never
    # Q(ref=None): that would match every row written before refs existed.
    match = Q()
    if ref := state.login_ref(request):
        match |= Q(ref=ref)
    if key := state.server_side_key(request):
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

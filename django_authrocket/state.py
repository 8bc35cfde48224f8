"""What a Django session remembers of the AuthRocket session that logged it in.

Written once at login (:func:`remember`), read on every request (:func:`recall`), dropped at
logout. Everything is plain JSON in ``request.session`` so any session engine works, and the
common request path needs no crypto and no I/O: the expiry is a number compared with the clock,
the identity is rebuilt from stored claims only when someone asks for it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .exceptions import InvalidClaims
from .identity import AuthRocketSession

SESSION_ID_KEY = "_authrocket_sid"
EXPIRES_KEY = "_authrocket_exp"
TOKEN_KEY = "_authrocket_token"
SOURCE_KEY = "_authrocket_source"
DATA_KEY = "_authrocket_data"
NEXT_CHECK_KEY = "_authrocket_next_check"

_ALL_KEYS = (SESSION_ID_KEY, EXPIRES_KEY, TOKEN_KEY, SOURCE_KEY, DATA_KEY, NEXT_CHECK_KEY)
_CACHE_ATTR = "_authrocket_session_cache"


def remember(request: HttpRequest, session: AuthRocketSession, token: str) -> None:
    """Store ``session`` (and the token it came from, for API rechecks) in the Django session.

    Call after :func:`django.contrib.auth.login`, which may flush the session.
    """
    store = request.session
    store[SESSION_ID_KEY] = session.id
    store[EXPIRES_KEY] = session.expires_at.timestamp() if session.expires_at else None
    store[TOKEN_KEY] = token
    store[SOURCE_KEY] = f"api{session.generation}" if session.source == "api" else "token"
    store[DATA_KEY] = dict(session.claims)
    setattr(request, _CACHE_ATTR, session)


def recall(request: HttpRequest) -> AuthRocketSession | None:
    """The AuthRocket session behind this request's Django session, or ``None``.

    Rebuilt from the stored claims at most once per request; never verifies anything (the
    login did, and the middleware rechecks).
    """
    if hasattr(request, _CACHE_ATTR):
        cached: AuthRocketSession | None = getattr(request, _CACHE_ATTR)
        return cached
    session = _rebuild(getattr(request, "session", None))
    setattr(request, _CACHE_ATTR, session)
    return session


def session_id(request: HttpRequest) -> str | None:
    """The AuthRocket session id (``kss_...``) of this Django session, if it has one."""
    store = getattr(request, "session", None)
    value = store.get(SESSION_ID_KEY) if store is not None else None
    return value if isinstance(value, str) else None


def stored_token(request: HttpRequest) -> str | None:
    store = getattr(request, "session", None)
    value = store.get(TOKEN_KEY) if store is not None else None
    return value if isinstance(value, str) else None


def expires_at(request: HttpRequest) -> float | None:
    store = getattr(request, "session", None)
    value = store.get(EXPIRES_KEY) if store is not None else None
    return float(value) if isinstance(value, int | float) else None


def forget(request: HttpRequest) -> None:
    """Drop the stored AuthRocket data (``auth.logout`` flushes it anyway)."""
    store = getattr(request, "session", None)
    if store is not None:
        for key in _ALL_KEYS:
            store.pop(key, None)
    setattr(request, _CACHE_ATTR, None)


def _rebuild(store: Any) -> AuthRocketSession | None:
    if store is None:
        return None
    data = store.get(DATA_KEY)
    if not isinstance(data, dict):
        return None
    source = store.get(SOURCE_KEY)
    try:
        if source in ("api1", "api2"):
            return AuthRocketSession.from_api(data, generation=1 if source == "api1" else 2)
        return AuthRocketSession.from_claims(data)
    except InvalidClaims:
        return None

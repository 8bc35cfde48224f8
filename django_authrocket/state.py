"""What a Django session remembers of the AuthRocket session that logged it in.

Written once at login (:func:`remember`), read on every request (:func:`recall`), dropped at
logout. Everything is plain JSON in ``request.session`` so any session engine works, and the
common request path needs no crypto and no I/O: the expiry is a number compared with the clock,
the identity is rebuilt from stored claims only when someone asks for it.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

from django.http import HttpRequest

from .conf import app_settings
from .exceptions import InvalidClaims
from .identity import AuthRocketSession

SESSION_ID_KEY = "_authrocket_sid"
EXPIRES_KEY = "_authrocket_exp"
TOKEN_KEY = "_authrocket_token"
SOURCE_KEY = "_authrocket_source"
DATA_KEY = "_authrocket_data"
NEXT_CHECK_KEY = "_authrocket_next_check"
CHECKED_KEY = "_authrocket_checked"
DIGEST_KEY = "_authrocket_digest"

_ALL_KEYS = (
    SESSION_ID_KEY,
    EXPIRES_KEY,
    TOKEN_KEY,
    SOURCE_KEY,
    DATA_KEY,
    NEXT_CHECK_KEY,
    CHECKED_KEY,
    DIGEST_KEY,
)
_CACHE_ATTR = "_authrocket_session_cache"
#: Rebuilt sessions by data digest, so a busy worker rebuilds each one once, not per request.
_REBUILT: dict[str, AuthRocketSession] = {}
_REBUILT_MAX = 2048


def remember(request: HttpRequest, session: AuthRocketSession, token: str) -> None:
    """Store ``session`` (and the token it came from, for API rechecks) in the Django session.

    Call after :func:`django.contrib.auth.login`, which may flush the session.
    """
    store = request.session
    store[SESSION_ID_KEY] = session.id
    store[EXPIRES_KEY] = session.expires_at.timestamp() if session.expires_at else None
    if _needs_token_for_rechecks(session):
        store[TOKEN_KEY] = token
    store[SOURCE_KEY] = f"api{session.generation}" if session.source == "api" else "token"
    if app_settings.VERIFY == "api":
        now = time.time()
        store[CHECKED_KEY] = now
        # The login itself was a check: the first recheck is one interval away (with jitter,
        # so sessions that started together do not recheck together).
        interval = float(app_settings.RECHECK_INTERVAL)
        store[NEXT_CHECK_KEY] = now + interval * random.uniform(0.9, 1.0)  # noqa: S311
    store_data(request, session)


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


def _needs_token_for_rechecks(session: AuthRocketSession) -> bool:
    """The token is kept only where a recheck needs it: api mode with a session id that is not
    a ``kss_`` id (AuthRocket 1). Every byte stored is decoded on every request."""
    return app_settings.VERIFY == "api" and not session.id.startswith("kss_")


def _compact(value: Any) -> Any:
    """The data without null members: the builders read a missing member as None anyway."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(item) for item in value]
    return value


#: What identity.AuthRocketSession.from_api reads from a Get Session answer; the rest of the
#: answer (timestamps, locale, object tags...) is not worth decoding on every request.
_API_SESSION_FIELDS = ("id", "user_id", "created_at", "expires_at", "user")
_API_USER_FIELDS = (
    "id",
    "email",
    "email_verification",
    "name",
    "first_name",
    "last_name",
    "username",
    "reference",
    "custom",
    "realm_id",
    "memberships",
)
_API_MEMBERSHIP_FIELDS = ("id", "org_id", "permissions", "selected", "custom", "org")
_API_ORG_FIELDS = ("id", "name", "reference", "custom")


def _pick(data: Any, fields: tuple[str, ...]) -> Any:
    return {k: data[k] for k in fields if k in data} if isinstance(data, dict) else data


def _trim_api_answer(data: dict[str, Any]) -> dict[str, Any]:
    session = _pick(data, _API_SESSION_FIELDS)
    user = _pick(session.get("user"), _API_USER_FIELDS)
    if isinstance(user, dict) and isinstance(user.get("memberships"), list):
        user["memberships"] = [
            {
                **_pick(m, _API_MEMBERSHIP_FIELDS),
                **(
                    {"org": _pick(m["org"], _API_ORG_FIELDS)}
                    if isinstance(m, dict) and "org" in m
                    else {}
                ),
            }
            for m in user["memberships"]
        ]
    if user is not None:
        session["user"] = user
    return dict(session)


def _stored_form(session: AuthRocketSession) -> dict[str, Any]:
    raw = dict(session.claims)
    return dict(_compact(_trim_api_answer(raw) if session.source == "api" else raw))


def store_data(request: HttpRequest, session: AuthRocketSession) -> None:
    """Store (or replace, after a recheck) the identity data of the Django session."""
    data = _stored_form(session)
    request.session[DATA_KEY] = data
    request.session[DIGEST_KEY] = hashlib.sha256(
        json.dumps(data, sort_keys=True, default=str).encode()
    ).hexdigest()[:32]
    setattr(request, _CACHE_ATTR, session)


def refresh_data(request: HttpRequest, session: AuthRocketSession) -> None:
    """Replace the stored identity data if it changed (a session write only when it did)."""
    if _stored_form(session) != request.session.get(DATA_KEY):
        store_data(request, session)


_UNSET = object()


def current(request: HttpRequest) -> AuthRocketSession | None:
    """The AuthRocket session of this request, or ``None``: the one place views, decorators and
    templates ask.

    ``request.authrocket`` when the middleware set it (it also knows Bearer tokens), otherwise
    the session remembered in the Django session at login.
    """
    value = getattr(request, "authrocket", _UNSET)
    if value is _UNSET:
        return recall(request)
    # isinstance also sees through a lazy request.authrocket, and answers None for a lazy None.
    return value if isinstance(value, AuthRocketSession) else None


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
    digest = store.get(DIGEST_KEY)
    known = _REBUILT.get(digest) if isinstance(digest, str) else None
    if known is not None:
        return known
    session = _from_data(store)
    if session is not None and isinstance(digest, str):
        if len(_REBUILT) >= _REBUILT_MAX:
            _REBUILT.clear()
        _REBUILT[digest] = session
    return session


def _from_data(store: Any) -> AuthRocketSession | None:
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

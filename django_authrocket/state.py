"""What a Django session remembers of the AuthRocket session that logged it in.

Written once at login (:func:`remember`), read on every request, dropped at logout.

The Django session is decoded on every request, so it carries only what the common request path
needs, in one small entry: the token's expiry (a number the middleware compares with the clock),
in api mode the time of the next recheck, ``ref``, the name of the
:class:`~django_authrocket.models.AuthRocketLogin` row that holds the identity (user, orgs,
permissions), and ``v``, the version of that identity the session last saw. A worker rebuilds
each identity once and keeps it by ``ref`` and ``v``; a recheck that changes the identity
rewrites the row and the session's ``v``, so the other workers read the row again. The row is
the truth, a worker's copy only spares the query; any session engine works, signed cookies
included (where nothing server-side can end a copied cookie: see docs/middleware.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
import threading
import time
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.signed_cookies import SessionStore as SignedCookieSession
from django.db import router
from django.http import HttpRequest

from .conf import app_settings
from .exceptions import InvalidClaims
from .identity import AuthRocketSession
from .models import AuthRocketLogin

logger = logging.getLogger(__name__)

#: The one session entry: a dict with the members below.
ENTRY_KEY = "_authrocket"
REF = "ref"  # the AuthRocketLogin row holding the identity (fixed for the life of the login)
VERSION = "v"  # which version of that identity this session last saw (a digest of it)
EXPIRES = "exp"  # when the AuthRocket session ends (epoch seconds), or None
NEXT_CHECK = "next"  # api mode: when the middleware next asks AuthRocket
CHECKED = "ok"  # api mode: when AuthRocket last confirmed the session
#: The login token, kept only where an api-mode recheck needs it (see _needs_token_for_rechecks).
TOKEN_KEY = "_authrocket_token"

_CACHE_ATTR = "_authrocket_session_cache"
_REMEMBERED_ATTR = "_authrocket_remembered"
#: Identities rebuilt by this worker, by ref (oldest dropped first past _KNOWN_MAX).
_KNOWN: dict[str, AuthRocketSession] = {}
_KNOWN_MAX = 4096
_KNOWN_LOCK = threading.Lock()


def remember(
    request: HttpRequest,
    session: AuthRocketSession,
    token: str,
    user: AbstractBaseUser,
    *,
    replaces: str | None = None,
) -> None:
    """Store ``session`` for this Django session: the small entry in the session, the identity in
    its :class:`~django_authrocket.models.AuthRocketLogin` row (the single sign-out map too).

    Call after :func:`django.contrib.auth.login`, which may flush the session. ``replaces`` is
    the ``ref`` of the login this one replaces in the same browser (read it with
    :func:`login_ref` before logging in): its row goes.
    """
    store = request.session
    data = _stored_form(session)
    entry: dict[str, Any] = {
        REF: _new_ref(),
        VERSION: _version(data),
        EXPIRES: session.expires_at.timestamp() if session.expires_at else None,
    }
    if app_settings.VERIFY == "api":
        now = time.time()
        entry[CHECKED] = now
        # The login itself was a check: the first recheck is one interval away (with jitter,
        # so sessions that started together do not recheck together).
        interval = float(app_settings.RECHECK_INTERVAL)
        entry[NEXT_CHECK] = now + interval * random.uniform(0.9, 1.0)  # noqa: S311
    if _needs_token_for_rechecks(session):
        store[TOKEN_KEY] = token
    row = AuthRocketLogin(
        session_key=server_side_key(request, create=True),
        authrocket_session_id=session.id,
        user_id=user.pk,
        expires_at=session.expires_at,
        ref=entry[REF],
        source=_source(session),
        data=data,
    )
    if row.session_key:
        # One INSERT ... ON CONFLICT: the login path stays at one write for this.
        AuthRocketLogin.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["session_key"],
            update_fields=["authrocket_session_id", "user", "expires_at", "ref", "source", "data"],
        )
    else:
        row.save(force_insert=True)
    if replaces:
        AuthRocketLogin.objects.filter(ref=replaces).delete()
    store[ENTRY_KEY] = entry
    _keep(_memo_key(entry), session)
    setattr(request, _CACHE_ATTR, session)
    setattr(request, _REMEMBERED_ATTR, True)  # the row has this request's key already


def recall(request: HttpRequest) -> AuthRocketSession | None:
    """The AuthRocket session behind this request's Django session, or ``None``.

    At most one database query per worker and login (none once this worker has seen it), and
    never one per request; never verifies anything (the login did, and the middleware
    rechecks).
    """
    if hasattr(request, _CACHE_ATTR):
        cached: AuthRocketSession | None = getattr(request, _CACHE_ATTR)
        return cached
    entry = _entry(getattr(request, "session", None))
    session = _load(entry) if entry is not None else None
    setattr(request, _CACHE_ATTR, session)
    return session


def entry(request: HttpRequest) -> dict[str, Any] | None:
    """This Django session's AuthRocket entry (see the module docs), or ``None`` when
    :func:`remember` did not log it in. Read it once per request and pass it to
    :func:`expires_at`, :func:`next_check_at` and :func:`last_checked_at`."""
    return _entry(getattr(request, "session", None))


#: Keys that pre-release development builds stored instead of the entry.
_LEGACY_KEYS = ("_authrocket_sid", "_authrocket_exp", "_authrocket_data")


def has_legacy_keys(request: HttpRequest) -> bool:
    """Whether the session was written by a development build that kept the identity in it."""
    store = getattr(request, "session", None)
    return store is not None and any(key in store for key in _LEGACY_KEYS)


Refreshed = Literal["same", "changed", "gone"]


def refresh(request: HttpRequest, session: AuthRocketSession) -> Refreshed:
    """Store the identity a recheck brought, if it changed (a write only when it did).

    The row keeps its ``ref``; the session entry gets the new version, so a worker that knows
    the old version reads the row again at its next request for this session. Concurrent
    refreshes write the same data and version. ``"gone"``: the row was deleted meanwhile (a
    logout or single sign-out elsewhere), so this login is over.
    """
    entry = _entry(getattr(request, "session", None))
    if entry is None:
        return "same"
    data = _stored_form(session)
    version = _version(data)
    if entry.get(VERSION) == version:
        return "same"
    updated = AuthRocketLogin.objects.filter(ref=entry[REF]).update(
        source=_source(session), data=data, expires_at=session.expires_at
    )
    if not updated:
        return "gone"
    with _KNOWN_LOCK:
        _KNOWN.pop(_memo_key(entry), None)
    fresh = {**entry, VERSION: version}
    request.session[ENTRY_KEY] = fresh
    _keep(_memo_key(fresh), session)
    setattr(request, _CACHE_ATTR, session)
    return "changed"


def key_changed(request: HttpRequest) -> bool:
    """Whether this request gave an AuthRocket-logged-in session a new key (``cycle_key()`` in
    a view, say) that the AuthRocketLogin row does not know yet. A number comparison and an
    attribute read on the common path: nothing is looked up unless the session was modified."""
    store = getattr(request, "session", None)
    if store is None or not store.modified or getattr(request, _REMEMBERED_ATTR, False):
        return False
    if _entry(store) is None or isinstance(store, SignedCookieSession):
        return False
    arrived_with = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    return bool(arrived_with and store.session_key and store.session_key != arrived_with)


def follow_key_change(request: HttpRequest) -> None:
    """Point the AuthRocketLogin row at the session's new key, so single sign-out still finds
    the session (call when :func:`key_changed`)."""
    ref = login_ref(request)
    key = server_side_key(request)
    if ref and key and not AuthRocketLogin.objects.filter(ref=ref).update(session_key=key):
        # The row went while this request ran (single sign-out looked for the old key): the
        # login is over, so the session under its new key must not outlive it.
        request.session.flush()


def login_ref(request: HttpRequest) -> str | None:
    """The ``ref`` of this Django session's AuthRocketLogin row, if AuthRocket logged it in."""
    entry = _entry(getattr(request, "session", None))
    return entry[REF] if entry is not None else None


def server_side_key(request: HttpRequest, *, create: bool = False) -> str | None:
    """The session key a server-side engine keeps the session under; ``None`` with signed
    cookies, whose "key" is the whole signed session (nothing on the server to end later).
    ``create`` saves a session that has no key yet (engines that create it lazily)."""
    store = getattr(request, "session", None)
    if store is None or isinstance(store, SignedCookieSession):
        return None
    if store.session_key is None and create:
        store.save()
    key: str | None = store.session_key
    return key or None


def session_id(request: HttpRequest) -> str | None:
    """The AuthRocket session id (``kss_...``) of this Django session, if it has one."""
    session = recall(request)
    return session.id if session is not None else None


def stored_token(request: HttpRequest) -> str | None:
    store = getattr(request, "session", None)
    value = store.get(TOKEN_KEY) if store is not None else None
    return value if isinstance(value, str) else None


def expires_at(entry: dict[str, Any]) -> float | None:
    return _number(entry, EXPIRES)


def next_check_at(entry: dict[str, Any]) -> float | None:
    return _number(entry, NEXT_CHECK)


def last_checked_at(entry: dict[str, Any]) -> float | None:
    return _number(entry, CHECKED)


def checked(request: HttpRequest, *, at: float, next_check: float) -> None:
    """Record a recheck: AuthRocket confirmed the session ``at``; the next one at ``next_check``."""
    entry = _entry(getattr(request, "session", None))
    if entry is not None:
        request.session[ENTRY_KEY] = {**entry, CHECKED: at, NEXT_CHECK: next_check}


def postpone_check(request: HttpRequest, next_check: float) -> None:
    """Move the next recheck without a confirmation (AuthRocket unreachable, within grace)."""
    entry = _entry(getattr(request, "session", None))
    if entry is not None:
        request.session[ENTRY_KEY] = {**entry, NEXT_CHECK: next_check}


_UNSET = object()


def current(request: HttpRequest) -> AuthRocketSession | None:
    """The AuthRocket session of this request, or ``None``: the one place views, decorators and
    templates ask.

    ``request.authrocket`` when the middleware set it (it also knows Bearer tokens), otherwise
    the session remembered at login.
    """
    value = getattr(request, "authrocket", _UNSET)
    if value is _UNSET:
        return recall(request)
    # isinstance also sees through a lazy request.authrocket, and answers None for a lazy None.
    return value if isinstance(value, AuthRocketSession) else None


# --- helpers ------------------------------------------------------------------------------------


def _entry(store: Any) -> dict[str, Any] | None:
    entry = store.get(ENTRY_KEY) if store is not None else None
    return entry if isinstance(entry, dict) and isinstance(entry.get(REF), str) else None


def _number(entry: dict[str, Any], member: str) -> float | None:
    value = entry.get(member)
    return float(value) if isinstance(value, int | float) else None


def _new_ref() -> str:
    return secrets.token_urlsafe(16)


def _source(session: AuthRocketSession) -> str:
    return f"api{session.generation}" if session.source == "api" else "token"


def _version(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _memo_key(entry: dict[str, Any]) -> str:
    return f"{entry[REF]}:{entry.get(VERSION, '')}"


def _keep(key: str, session: AuthRocketSession) -> None:
    # Under a lock: threaded workers (gthread, ASGI's thread pool) insert concurrently, and two
    # threads evicting at once would both pick the same oldest entry. Reads need no lock.
    with _KNOWN_LOCK:
        while len(_KNOWN) >= _KNOWN_MAX:
            del _KNOWN[next(iter(_KNOWN))]  # the oldest
        _KNOWN[key] = session


def _load(entry: dict[str, Any]) -> AuthRocketSession | None:
    key = _memo_key(entry)
    known = _KNOWN.get(key)
    if known is not None:
        return known
    ref = entry[REF]
    # From the database that was written to: a read replica may not have the row of a login
    # made a moment ago.
    rows = AuthRocketLogin.objects.using(router.db_for_write(AuthRocketLogin))
    row = rows.filter(ref=ref).values_list("source", "data").first()
    if row is None:
        return None  # logged out elsewhere, or pruned: the middleware ends the session
    source, data = row
    try:
        if source in ("api1", "api2"):
            session = AuthRocketSession.from_api(data, generation=1 if source == "api1" else 2)
        else:
            session = AuthRocketSession.from_claims(data)
    except InvalidClaims:
        logger.warning("Stored AuthRocket identity %s could not be read", ref)
        return None
    _keep(key, session)
    return session


def _needs_token_for_rechecks(session: AuthRocketSession) -> bool:
    """The token is kept only where a recheck needs it: api mode with a session id that is not
    a ``kss_`` id (AuthRocket 1). Every byte in the session is decoded on every request."""
    return app_settings.VERIFY == "api" and not session.id.startswith("kss_")


def _compact(value: Any) -> Any:
    """The data without null members: the builders read a missing member as None anyway."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(item) for item in value]
    return value


#: What identity.AuthRocketSession.from_api reads from a Get Session answer; the rest of the
#: answer (timestamps, locale, object tags...) is not worth storing and rebuilding.
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

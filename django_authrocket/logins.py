"""The login record: what a Django session remembers of the AuthRocket session that logged it in.

Written once at login (:func:`remember`), read on every request, ended by
:mod:`django_authrocket.signout`. Every write to
:class:`~django_authrocket.models.AuthRocketLogin` happens here.

The Django session is decoded on every request, so it carries only what the common request path
needs, in one small entry (:class:`LoginEntry`): the token's expiry (a number compared with the
clock), in api mode when AuthRocket last confirmed the session and when to ask next, ``ref``,
the name of the :class:`~django_authrocket.models.AuthRocketLogin` row that holds the identity
(user, orgs, permissions), and ``v``, the version of that identity the session last saw. A
worker rebuilds each identity once and keeps it by ``ref`` and ``v``; a recheck that changes the
identity rewrites the row and the session's ``v``, so the other workers read the row again. The
row is the truth, a worker's copy only spares the query; any session engine works, signed
cookies included (where nothing server-side can end a copied cookie: see docs/middleware.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import MutableMapping
from typing import Any, Literal, NamedTuple

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.signed_cookies import SessionStore as SignedCookieSession
from django.db import connections, router
from django.http import HttpRequest
from django.utils import timezone

from .bulk_upsert import bulk_upsert
from .conf import RequestSettings, app_settings
from .exceptions import InvalidClaims
from .identity import AuthRocketSession
from .models import AuthRocketLogin

logger = logging.getLogger("django_authrocket.recheck")

#: The one session entry: a dict with the members below.
ENTRY_KEY = "_authrocket"
#: The login token, kept only where an api-mode recheck needs it (see _needs_token_for_rechecks).
TOKEN_KEY = "_authrocket_token"

_CACHE_ATTR = "_authrocket_session_cache"
_REMEMBERED_ATTR = "_authrocket_remembered"
#: Identities rebuilt by this worker, by ref and version (oldest dropped first past _KNOWN_MAX).
_KNOWN: dict[tuple[str, str], AuthRocketSession] = {}
_KNOWN_MAX = 4096
_KNOWN_LOCK = threading.Lock()
_UNSET = object()


class LoginEntry(NamedTuple):
    """This Django session's AuthRocket entry: a value, read once per request.

    The methods that change it return a new entry; :meth:`save` puts it in the session. A
    named tuple, not a frozen dataclass: it is built on every request, and a tuple is built in
    about half the time (no ``object.__setattr__`` per field).
    """

    #: The AuthRocketLogin row holding the identity (fixed for the life of the login).
    ref: str
    #: Which version of that identity this session last saw (a digest of it).
    version: str
    #: When the AuthRocket session ends (epoch seconds), or None.
    expires_at: float | None
    #: api mode: when the middleware next asks AuthRocket.
    next_check_at: float | None = None
    #: api mode: when AuthRocket last confirmed the session.
    checked_at: float | None = None

    @classmethod
    def of(cls, store: MutableMapping[str, Any] | None) -> LoginEntry | None:
        """The entry of a session store (``request.session``, a test client's ``session``), or
        None when AuthRocket did not log it in."""
        raw = store.get(ENTRY_KEY) if store is not None else None
        if raw.__class__ is not dict:
            return None
        get = raw.get
        ref, version, exp = get("ref"), get("v", ""), get("exp")
        if ref.__class__ is not str:
            return None
        if version.__class__ is not str:
            version = str(version)
        if exp is not None and exp.__class__ is not float:  # a float or None, as saved
            exp = _number(exp)
        next_check, checked = get("next"), get("ok")  # api mode only
        if next_check is not None and next_check.__class__ is not float:
            next_check = _number(next_check)
        if checked is not None and checked.__class__ is not float:
            checked = _number(checked)
        return cls(ref, version, exp, next_check, checked)

    def expired(self, now: float) -> bool:
        """Whether the AuthRocket session is over by the clock (with the configured leeway)."""
        return self.expired_at(now, app_settings.JWT_LEEWAY)

    def expired_at(self, now: float, leeway: float) -> bool:
        """Whether the AuthRocket session is over by the clock, with ``leeway`` seconds."""
        expires_at = self.expires_at
        return expires_at is not None and now > expires_at + leeway

    def check_due(self, now: float) -> bool:
        """api mode: whether it is time to ask AuthRocket whether the session still exists."""
        return now >= (self.next_check_at or 0)

    def confirmed(self, at: float, *, next_check: float) -> LoginEntry:
        """AuthRocket confirmed the session ``at``; ask again at ``next_check``."""
        return self._replace(checked_at=at, next_check_at=next_check)

    def postponed(self, next_check: float) -> LoginEntry:
        """Ask again at ``next_check``, with no confirmation (AuthRocket unreachable, in grace)."""
        return self._replace(next_check_at=next_check)

    def save(self, store: MutableMapping[str, Any]) -> None:
        """Put this entry in the session store (the session is saved with the response)."""
        raw: dict[str, Any] = {"ref": self.ref, "v": self.version, "exp": self.expires_at}
        if self.next_check_at is not None:
            raw["next"] = self.next_check_at
        if self.checked_at is not None:
            raw["ok"] = self.checked_at
        store[ENTRY_KEY] = raw

    @property
    def _memo_key(self) -> tuple[str, str]:
        return (self.ref, self.version)  # what entry[:2] gives, without a call


def next_check_time(now: float) -> float:
    """When to ask AuthRocket next: one interval away, less up to 10% so that sessions that
    started together do not recheck together."""
    return now + float(app_settings.RECHECK_INTERVAL) * random.uniform(0.9, 1.0)  # noqa: S311


def remember(
    request: HttpRequest,
    session: AuthRocketSession,
    token: str,
    user: AbstractBaseUser,
    *,
    replaces: str | None = None,
) -> LoginEntry:
    """Record a login: the small entry in the Django session, the identity in its
    :class:`~django_authrocket.models.AuthRocketLogin` row (the single sign-out map too).

    Call after :func:`django.contrib.auth.login`, which may flush the session. ``replaces`` is
    the ``ref`` of the login this one replaces in the same browser (an account switch, a second
    login): its row goes.
    """
    data = _stored_form(session)
    entry = LoginEntry(
        ref=secrets.token_urlsafe(16),
        version=_version(data),
        expires_at=session.expires_at.timestamp() if session.expires_at else None,
    )
    if app_settings.VERIFY == "api":
        # The login itself was a check: the first recheck is one interval away.
        now = time.time()
        entry = entry.confirmed(now, next_check=next_check_time(now))
    if _needs_token_for_rechecks(session):
        request.session[TOKEN_KEY] = token
    row = AuthRocketLogin(
        session_key=server_side_key(request, create=True),
        authrocket_session_id=session.id,
        user_id=user.pk,
        expires_at=session.expires_at,
        ref=entry.ref,
        source=_source(session),
        data=data,
    )
    if row.session_key:
        _upsert(row)  # one INSERT ... ON CONFLICT: the login path stays at one write for this
    else:
        row.save(force_insert=True)
    if replaces:
        AuthRocketLogin.objects.filter(ref=replaces).delete()
    entry.save(request.session)
    _keep(entry._memo_key, session)
    setattr(request, _CACHE_ATTR, session)
    setattr(request, _REMEMBERED_ATTR, True)  # the row has this request's key already
    request.authrocket = session  # type: ignore[attr-defined]  # the rest of this request sees it
    return entry


def recall(request: HttpRequest, entry: LoginEntry | None = None) -> AuthRocketSession | None:
    """The AuthRocket session behind this request's Django session, or ``None``.

    At most one database query per worker and login (none once this worker has seen it), and
    never one per request; never verifies anything (the login did, and the middleware
    rechecks). Pass the ``entry`` when you have read it already.
    """
    cached: AuthRocketSession | object | None = getattr(request, _CACHE_ATTR, _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    if entry is None:
        entry = LoginEntry.of(getattr(request, "session", None))
    session = None
    if entry is not None:
        # identity_of()'s first step, here: this runs on every request.
        session = _KNOWN.get(entry[:2]) or identity_of(entry)
    setattr(request, _CACHE_ATTR, session)
    return session


def warm_identity(
    request: HttpRequest, store: MutableMapping[str, Any], now: float, hot: RequestSettings
) -> AuthRocketSession | None:
    """The common request's whole question in one call, as the middleware asks it first: the
    identity of a login whose entry is well formed, not past its expiry (with the leeway), with
    no recheck due (api mode) and that this worker knows already. ``None`` otherwise: the
    caller takes the long way (:meth:`LoginEntry.of`, the expiry and recheck, :func:`recall`),
    which decides. Records the identity on the request as :func:`recall` does.

    Measured inside real requests, reading the entry into a :class:`LoginEntry` and then
    recalling its identity cost about 8 microseconds; this, about a quarter of that.
    """
    raw = store.get(ENTRY_KEY)
    if raw.__class__ is not dict:
        return None
    get = raw.get
    expires_at = get("exp")
    if expires_at is not None and (
        expires_at.__class__ is not float or now > expires_at + hot.jwt_leeway
    ):
        return None
    if hot.verify == "api":
        due = get("next")
        if due.__class__ is not float or now >= due:
            return None
    key: Any = (get("ref"), get("v", ""))  # a wrong type finds nothing: the long way decides
    try:
        session = _KNOWN.get(key)
    except TypeError:  # an unhashable member (a list, a dict): not an entry this package wrote
        return None
    if session is not None:
        setattr(request, _CACHE_ATTR, session)
    return session


def current_session(request: HttpRequest) -> AuthRocketSession | None:
    """The AuthRocket session of this request, or ``None``: the one place views, decorators,
    templates and DRF permissions ask.

    ``request.authrocket`` when the middleware set it (it also knows Bearer tokens), otherwise
    the session remembered at login.
    """
    value = getattr(request, "authrocket", _UNSET)
    if value is _UNSET:
        return recall(request)
    # isinstance also sees through a lazy request.authrocket, and answers None for a lazy None.
    return value if isinstance(value, AuthRocketSession) else None


def identity_of(entry: LoginEntry) -> AuthRocketSession | None:
    """The identity an entry names (this worker's copy, else its row); None when the row is
    gone (logged out elsewhere, or pruned)."""
    known = _KNOWN.get(entry._memo_key)
    if known is not None:
        return known
    # From the database that was written to: a read replica may not have the row of a login
    # made a moment ago.
    rows = AuthRocketLogin.objects.using(router.db_for_write(AuthRocketLogin))
    row = rows.filter(ref=entry.ref).values_list("source", "data").first()
    if row is None:
        return None
    source, data = row
    try:
        if source in ("api1", "api2"):
            session = AuthRocketSession.from_api(data, generation=1 if source == "api1" else 2)
        else:
            session = AuthRocketSession.from_claims(data)
    except InvalidClaims:
        logger.warning("Stored AuthRocket identity %s could not be read", entry.ref)
        return None
    _keep(entry._memo_key, session)
    return session


def forget_identities() -> None:
    """Drop the identities this worker remembers, as a restart would: the next request of each
    login reads its row once (tests and benchmarks use it to play "another worker")."""
    with _KNOWN_LOCK:
        _KNOWN.clear()


Refreshed = Literal["same", "changed", "gone"]


def refresh(request: HttpRequest, entry: LoginEntry, session: AuthRocketSession) -> Refreshed:
    """Store the identity a recheck brought, if it changed (a write only when it did).

    The row keeps its ``ref``; the session entry gets the new version, so a worker that knows
    the old version reads the row again at its next request for this session. Concurrent
    refreshes write the same data and version. ``"gone"``: the row was deleted meanwhile (a
    logout or single sign-out elsewhere), so this login is over.
    """
    data = _stored_form(session)
    version = _version(data)
    if entry.version == version:
        return "same"
    updated = AuthRocketLogin.objects.filter(ref=entry.ref).update(
        source=_source(session), data=data, expires_at=session.expires_at
    )
    if not updated:
        return "gone"
    with _KNOWN_LOCK:
        _KNOWN.pop(entry._memo_key, None)
    fresh = entry._replace(version=version)
    fresh.save(request.session)
    _keep(fresh._memo_key, session)
    setattr(request, _CACHE_ATTR, session)
    return "changed"


def key_changed(request: HttpRequest) -> bool:
    """Whether this request gave an AuthRocket-logged-in session a new key (``cycle_key()`` in
    a view, say) that the AuthRocketLogin row does not know yet. A number comparison and an
    attribute read on the common path: nothing is looked up unless the session was modified."""
    store = getattr(request, "session", None)
    if store is None or not store.modified or getattr(request, _REMEMBERED_ATTR, False):
        return False
    if LoginEntry.of(store) is None or isinstance(store, SignedCookieSession):
        return False
    arrived_with = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    return bool(arrived_with and store.session_key and store.session_key != arrived_with)


def follow_key_change(request: HttpRequest) -> None:
    """Point the AuthRocketLogin row at the session's new key, so single sign-out still finds
    the session (call when :func:`key_changed`)."""
    entry = LoginEntry.of(getattr(request, "session", None))
    key = server_side_key(request)
    if entry and key and not AuthRocketLogin.objects.filter(ref=entry.ref).update(session_key=key):
        # The row went while this request ran (single sign-out looked for the old key): the
        # login is over, so the session under its new key must not outlive it.
        request.session.flush()


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
    """The login token, where an api-mode recheck needs it (AuthRocket 1 sessions)."""
    store = getattr(request, "session", None)
    value = store.get(TOKEN_KEY) if store is not None else None
    return value if isinstance(value, str) else None


# --- helpers ------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None or type(value) is float:  # the common cases first
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer no float holds: not a time this package wrote
        return None


def _source(session: AuthRocketSession) -> str:
    return f"api{session.generation}" if session.source == "api" else "token"


def _version(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


_REWRITTEN = ("authrocket_session_id", "user_id", "expires_at", "ref", "source", "data")


def _upsert(row: AuthRocketLogin) -> None:
    """Insert ``row``, or rewrite the row of its session key. On SQLite and PostgreSQL the
    statement is written out (Django's ``bulk_create`` spends about 0.08 ms compiling it)."""
    connection = connections[router.db_for_write(AuthRocketLogin)]
    if connection.vendor not in ("sqlite", "postgresql"):
        rewritten = ["user" if n == "user_id" else n for n in _REWRITTEN]
        bulk_upsert(AuthRocketLogin, [row], unique_fields=["session_key"], update_fields=rewritten)
        return
    row.created_at = timezone.now()
    by_name = {f.attname: f for f in AuthRocketLogin._meta.concrete_fields}
    fields = [by_name[name] for name in ("session_key", "created_at", *_REWRITTEN)]
    quote = connection.ops.quote_name
    table, columns = quote(AuthRocketLogin._meta.db_table), [quote(str(f.column)) for f in fields]
    names, marks = ", ".join(columns), ", ".join(["%s"] * len(columns))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[2:])
    conflict = f"ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}"
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}"  # noqa: S608 - own names
    values = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def _keep(key: tuple[str, str], session: AuthRocketSession) -> None:
    # Under a lock: threaded workers (gthread, ASGI's thread pool) insert concurrently, and two
    # threads evicting at once would both pick the same oldest entry. Reads need no lock.
    with _KNOWN_LOCK:
        while len(_KNOWN) >= _KNOWN_MAX:
            del _KNOWN[next(iter(_KNOWN))]  # the oldest
        _KNOWN[key] = session


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


#: What identity.AuthRocketSession.from_api reads from a completed Get Session answer (see
#: get_session.py: the user embedded, never the token); the rest of the answer (timestamps,
#: locale, object tags...) is not worth storing and rebuilding.
_API_SESSION_FIELDS = ("id", "user_id", "created_at", "expires_at", "user")
_API_USER_FIELDS = (
    "id",
    "email",
    "email_verification",
    "email_verified",  # a user made from a token (get_session.py) has this instead
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

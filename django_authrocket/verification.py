"""Verify a LoginRocket token the configured way: by signature (jwt) or by Get Session (api).

The one place that knows ``AUTHROCKET_VERIFY``. Both modes apply the same rules:

* the token is verified here first, in both modes (:func:`~django_authrocket.tokens.
  verify_token`: shape, signature with the configured key or LoginRocket's key set, time,
  realm and issuer rules, the emulator's marker), so a garbage or forged token never costs a
  Core API call and cannot spend the site's rate limit;
* ``"api"`` mode then asks Get Session whether the session is still live, and the answer,
  which names its user without embedding them, is completed by
  :mod:`django_authrocket.get_session` and passes the same time and realm rules
  (:func:`session_from_api`; Get Session may still answer for a token past its ``exp``);
* the Core API calls of one login or Bearer check sleep on retries for at most
  ``AUTHROCKET_HTTP_TIMEOUT`` in all (:func:`~django_authrocket.transport.retry_budget`);
* a login token is single use (``AUTHROCKET_PREVENT_TOKEN_REPLAY``): the first login marks its
  digest in ``AUTHROCKET_CACHE`` until it expires, and every worker then refuses it, at the
  login view and as a Bearer token alike;
* a session logged out or signed out here is marked as ended (:func:`mark_session_ended`) until
  it expires, and its tokens are refused as Bearer tokens;
* the cache is reached through :mod:`django_authrocket.shared_cache`: a failing cache is
  :class:`~django_authrocket.exceptions.CacheUnavailable`, answered like AuthRocket
  unreachable (503), never a 500.

:func:`verify_login_token` serves the login view (and ``?token=`` anywhere);
:func:`verify_bearer_token` serves ``Authorization: Bearer``, where api mode shares the recheck
cache so one token costs one Get Session call per interval, not one per request.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from . import get_session, recheck
from .conf import app_settings
from .exceptions import ExpiredToken, InvalidToken, NotFound, ReplayedToken
from .identity import AuthRocketSession, Generation
from .shared_cache import shared_cache
from .tokens import check_lifetime, check_not_emulator, check_realm, verify_token
from .transport import retry_budget

#: How long a replay mark lives when the session says nothing about its expiry.
REPLAY_MARK_LIFETIME = 3600.0
#: How long an "ended here" mark lives when the session's expiry is unknown (a ``session.deleted``
#: webhook for a session no browser here logged in with): longer than a login usually lasts.
ENDED_MARK_LIFETIME = 30 * 24 * 3600.0


@sensitive_variables("token")
def verify_login_token(
    token: str, *, max_age: int | None = None, single_use: bool = False
) -> AuthRocketSession:
    """The session behind a login token, checked the configured way.

    ``max_age`` refuses a login older than that many seconds. ``single_use`` refuses a token
    that already logged a browser in, and marks this one. Raises
    :class:`~django_authrocket.exceptions.InvalidToken` (or a subclass) for a bad token and
    :class:`~django_authrocket.exceptions.APIError` when AuthRocket cannot answer.
    """
    with retry_budget(float(app_settings.HTTP_TIMEOUT)):  # one web request's retry pauses
        session = verify_token(token, max_age=max_age)  # never a Core API call for a bad token
        if app_settings.VERIFY == "api":
            session = _ask_authrocket(token, max_age=max_age, verified=session)
    if single_use and app_settings.PREVENT_TOKEN_REPLAY and not _first_use(token, session):
        raise ReplayedToken("this login token was already used")
    return session


@sensitive_variables("token")
def verify_bearer_token(token: str) -> AuthRocketSession:
    """The session behind an ``Authorization: Bearer`` token, checked the configured way.

    Also refused, in both modes: a token that logged a browser in (its replay mark, read and
    never written here: a Bearer token is meant to be sent many times), and a token of a session
    that was logged out or signed out at this site (:func:`mark_session_ended`). Both marks are
    read in one cache call, after the token proved genuine.
    """
    with retry_budget(float(app_settings.HTTP_TIMEOUT)):  # one web request's retry pauses
        session = _verified_bearer(token)
    used, ended = _used_key(token), _ended_key(session.id)
    spent = shared_cache().get_many([used, ended])
    if used in spent:
        raise ReplayedToken("this token already logged a browser in")
    if ended in spent:
        raise InvalidToken("this session was logged out at this site", reason="session_ended")
    return session


@sensitive_variables("token")
def _verified_bearer(token: str) -> AuthRocketSession:
    """A Bearer token's session, the configured way.

    In ``"api"`` mode the Get Session answer is shared through the recheck cache, keyed by the
    token itself: never by a session id read from its (unverified) claims, so a forged token
    naming someone's session cannot find that session's answer.
    """
    if not token:
        raise InvalidToken("empty bearer token", reason="malformed")
    session = verify_token(token)  # a forged or garbage token never reaches the API
    if app_settings.VERIFY != "api":
        return session
    verdict = recheck.check_session(token, token)
    if not verdict.alive or verdict.answer is None:
        if verdict.reason == "expired":
            raise ExpiredToken("the AuthRocket session has expired")
        raise InvalidToken("AuthRocket says this session has ended", reason="session_not_found")
    return session_from_api(verdict.answer)


def session_from_api(
    answer: Any, *, max_age: int | None = None, described_by: AuthRocketSession | None = None
) -> AuthRocketSession:
    """An :class:`AuthRocketSession` from a Get Session answer of the configured API,
    completed with its user (:func:`django_authrocket.get_session.fetch`), with a token's time
    and realm rules applied; raises InvalidToken (or a subclass) otherwise. ``described_by``:
    see :meth:`AuthRocketSession.from_api`."""
    generation: Generation = 1 if app_settings.api_generation == 1 else 2
    session = AuthRocketSession.from_api(answer, generation=generation, described_by=described_by)
    check_not_emulator(session.claims)
    try:
        check_lifetime(
            expires=_seconds(session.expires_at),
            issued=_seconds(session.issued_at),
            leeway=app_settings.JWT_LEEWAY,
            max_age=max_age,
        )
    except ExpiredToken:
        raise ExpiredToken("the AuthRocket session has expired") from None
    check_realm(session.user.realm_id, absent_ok=True)
    return session


# --- helpers ------------------------------------------------------------------------------------


@sensitive_variables("token")
def _ask_authrocket(
    token: str, *, max_age: int | None, verified: AuthRocketSession
) -> AuthRocketSession:
    """Get Session with a token that verified here (its session: ``verified``): AuthRocket
    says whether its session is still live."""
    try:
        answer = get_session.fetch_answer(token, verified=verified)
    except NotFound:
        raise InvalidToken(
            "AuthRocket does not know this session: it ended or the token is invalid",
            reason="session_not_found",
        ) from None
    return session_from_api(answer.session, max_age=max_age, described_by=answer.described_by)


def _seconds(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


@sensitive_variables("token")
def _first_use(token: str, session: AuthRocketSession) -> bool:
    """Mark ``token`` as used until it expires; False when it already was (a replay).

    The mark is the token's digest, never the token. Keyed by the token rather than by session
    id and issue time: LoginRocket issues new tokens for one session (an account switch), and
    those are new logins, not replays.
    """
    # The mark holds the time of the login: a token LoginRocket sends again later may log in
    # once more through the site's own login start (login_confirmation.py, used_at()).
    mark_timeout = replay_mark_timeout(session)
    return bool(shared_cache().add(_used_key(token), time.time(), mark_timeout))


def replay_mark_timeout(session: AuthRocketSession) -> int:
    """Seconds a replay mark lives: until the session (so its tokens) expires."""
    lifetime = REPLAY_MARK_LIFETIME
    if session.expires_at is not None:
        lifetime = (session.expires_at - timezone.now()).total_seconds()
    return max(1, int(lifetime) + app_settings.JWT_LEEWAY + 1)


@sensitive_variables("token")
def used_at(token: str) -> float | None:
    """When ``token`` logged a browser in here (unix seconds; 0.0 for a mark that does not
    say), or None when it did not (or replay protection is off). Reads the mark only."""
    if not app_settings.PREVENT_TOKEN_REPLAY:
        return None
    value = shared_cache().get(_used_key(token))
    if value is None:
        return None
    return float(value) if isinstance(value, int | float) else 0.0


@sensitive_variables("token")
def mark_used_again(token: str, session: AuthRocketSession) -> None:
    """Move ``token``'s replay mark to now: it logged a browser in once more (a token
    LoginRocket sent again), and a login start older than this one cannot reuse it."""
    if app_settings.PREVENT_TOKEN_REPLAY:
        cache = shared_cache()
        cache.set(_used_key(token), time.time(), replay_mark_timeout(session))


@sensitive_variables("token")
def _used_key(token: str) -> str:
    """The replay mark's cache key: a digest of the token, never the token."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"authrocket:used:{digest}"


# --- sessions that ended here -------------------------------------------------------------------


def mark_session_ended(session_id: str, expires_at: datetime | None = None) -> None:
    """Record that an AuthRocket session was logged out or signed out at this site, so that
    :func:`verify_bearer_token` refuses its tokens until the session expires (``expires_at``;
    :data:`ENDED_MARK_LIFETIME` when unknown). Called by :mod:`django_authrocket.signout`."""
    lifetime = ENDED_MARK_LIFETIME
    if expires_at is not None:
        lifetime = (expires_at - timezone.now()).total_seconds()
    timeout = max(1, int(lifetime) + app_settings.JWT_LEEWAY + 1)
    shared_cache().set(_ended_key(session_id), 1, timeout=timeout)


def _ended_key(session_id: str) -> str:
    # A digest: AuthRocket session ids are credentials at LoginRocket's API.
    return f"authrocket:ended:{hashlib.sha256(session_id.encode()).hexdigest()[:40]}"

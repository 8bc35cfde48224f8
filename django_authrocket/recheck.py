"""Is this AuthRocket session still alive? One Get Session call per session per interval.

Used by the middleware in ``"api"`` mode and for Bearer tokens in ``"api"`` mode. The answer is
shared through ``AUTHROCKET_CACHE`` so every worker behind a load balancer uses the same one:

* the answer is Get Session's, completed with the user it names
  (:mod:`~django_authrocket.get_session`: from its token, or ``GET /users/:id`` and
  ``GET /memberships?user_id=``), and cached whole, so those reads happen once per answer;
* a fresh answer in the cache is used as it is (no call);
* otherwise one caller takes a cache lock (``cache.add``) and asks the Core API; concurrent
  callers, in this process or another, wait for its answer instead of asking too;
* answers expire after ``AUTHROCKET_RECHECK_INTERVAL`` plus up to 10% jitter, so sessions that
  started together do not all recheck in the same second;
* when the API cannot be reached (no answer, a 5xx, a 429, or a retry pause longer than the
  request's budget: :func:`~django_authrocket.transport.retry_budget`), a short-lived
  "unreachable" answer stops every waiting request from asking again; the caller decides
  (``AUTHROCKET_RECHECK_GRACE``) what that means. Only a definite answer (404: the session or
  its user is gone) says a session ended;
* a failing cache is "unreachable" too (:mod:`~django_authrocket.shared_cache`).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import get_session
from .conf import app_settings
from .exceptions import APIError, APIUnavailable, NotFound
from .redaction import shown_session
from .shared_cache import SharedCache, shared_cache
from .transport import retry_budget

logger = logging.getLogger("django_authrocket.recheck")

#: How long an "unreachable" answer holds, at most (seconds).
UNREACHABLE_HOLD = 10.0
_POLL = 0.02


@dataclass(frozen=True)
class Verdict:
    """What the Core API said about a session, and when."""

    alive: bool
    checked_at: float
    reason: str = ""
    #: The completed Get Session answer when alive (identity, memberships; no token).
    answer: dict[str, Any] | None = field(default=None, compare=False)
    #: Set when the API could not be asked: the error's log-safe description.
    error: str | None = None
    request_id: str | None = None


def check_session(session_id: str, token: str | None = None) -> Verdict:
    """The current verdict on ``session_id``, asking the Core API only when none is fresh.

    ``token`` is used for the call when the session id is not a ``kss_`` id (AuthRocket 1).
    Raises :class:`~django_authrocket.exceptions.APIError` when the API (or the cache) cannot
    answer. The calls sleep on retries for at most ``AUTHROCKET_HTTP_TIMEOUT`` in all.
    """
    with retry_budget(float(app_settings.HTTP_TIMEOUT)):  # one web request's retry pauses
        return _check(session_id, token)


def _check(session_id: str, token: str | None) -> Verdict:
    cache = shared_cache()
    digest = hashlib.sha256(session_id.encode()).hexdigest()[:32]
    result_key, lock_key = f"authrocket:recheck:{digest}", f"authrocket:recheck-lock:{digest}"
    interval = float(app_settings.RECHECK_INTERVAL)
    lock_timeout = _lock_timeout()

    verdict = _fresh(cache.get(result_key), interval)
    if verdict is None:
        if cache.add(lock_key, 1, timeout=int(lock_timeout) + 1):
            try:
                # Another caller may have answered between our look and our lock.
                verdict = _fresh(cache.get(result_key), interval) or _ask(session_id, token)
                hold = interval if verdict.error is None else min(interval, UNREACHABLE_HOLD)
                jittered = hold * random.uniform(1.0, 1.1)  # noqa: S311 - spreading, not secrecy
                # The answer goes in before the lock goes away, so nobody can find neither.
                cache.set(result_key, asdict(verdict), timeout=max(1, int(jittered)))
            finally:
                cache.delete(lock_key)
        else:
            verdict = _wait_for_answer(cache, result_key, lock_key, interval, lock_timeout)
    if verdict.error is not None:
        raise APIUnavailable(verdict.error, request_id=verdict.request_id)
    return verdict


def forget(session_id: str, *, ended: bool = False) -> None:
    """Drop the cached verdict (or record the session as ended, e.g. after a webhook)."""
    cache = shared_cache()
    digest = hashlib.sha256(session_id.encode()).hexdigest()[:32]
    key = f"authrocket:recheck:{digest}"
    if ended:
        verdict = Verdict(alive=False, checked_at=time.time(), reason="ended")
        cache.set(key, asdict(verdict), timeout=max(1, int(app_settings.RECHECK_INTERVAL)))
    else:
        cache.delete(key)


def _ask(session_id: str, token: str | None) -> Verdict:
    now = time.time()
    lookup = session_id if session_id.startswith("kss_") or not token else token
    try:
        answer = get_session.fetch(lookup)
    except NotFound as exc:
        logger.info(
            "AuthRocket session %s has ended (request id %s)",
            shown_session(session_id),
            exc.request_id,
        )
        return Verdict(alive=False, checked_at=now, reason="ended", request_id=exc.request_id)
    except APIError as exc:
        logger.warning(
            "AuthRocket session %s could not be rechecked: %s", shown_session(session_id), exc
        )
        return Verdict(alive=False, checked_at=now, error=str(exc), request_id=exc.request_id)
    expires = answer.get("expires_at")
    if isinstance(expires, int | float) and not isinstance(expires, bool) and expires < now:
        return Verdict(alive=False, checked_at=now, reason="expired")
    return Verdict(alive=True, checked_at=now, answer=answer)


def _fresh(value: Any, interval: float) -> Verdict | None:
    """The cached verdict ``value`` while it is fresh; None when it is stale or not a verdict
    this version wrote (another version's shape during a rolling deploy, members of the wrong
    type): then the Core API is asked again."""
    if not isinstance(value, dict):
        return None
    try:
        verdict = Verdict(**value)
    except TypeError:
        return None
    if not _well_formed(verdict):
        return None
    hold = interval if verdict.error is None else min(interval, UNREACHABLE_HOLD)
    return verdict if time.time() - verdict.checked_at < hold else None


def _well_formed(verdict: Verdict) -> bool:
    checked_at = verdict.checked_at
    return (
        isinstance(verdict.alive, bool)
        and isinstance(checked_at, int | float)
        and not isinstance(checked_at, bool)
        and isinstance(verdict.reason, str)
        and (verdict.answer is None or isinstance(verdict.answer, dict))
        and (verdict.error is None or isinstance(verdict.error, str))
        and (verdict.request_id is None or isinstance(verdict.request_id, str))
    )


def _wait_for_answer(
    cache: SharedCache, result_key: str, lock_key: str, interval: float, lock_timeout: float
) -> Verdict:
    """Another caller holds the lock: wait for the answer it is fetching."""
    deadline = time.monotonic() + lock_timeout
    while time.monotonic() < deadline:
        time.sleep(_POLL)
        verdict = _fresh(cache.get(result_key), interval)
        if verdict is not None:
            return verdict
        if cache.get(lock_key) is None:
            verdict = _fresh(cache.get(result_key), interval)
            if verdict is not None:
                return verdict
            break
    return Verdict(alive=False, checked_at=time.time(), error="the session recheck timed out")


def _lock_timeout() -> float:
    # Long enough for one call with all its retries, and their pauses (one timeout at most).
    attempts = 1 + max(0, int(app_settings.HTTP_RETRIES))
    return float(app_settings.HTTP_TIMEOUT) * (attempts + 1) + attempts

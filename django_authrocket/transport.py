"""HTTP manners for every call to AuthRocket and LoginRocket: how we name ourselves and retry.

The Core API client (:mod:`~django_authrocket.client`) and the key store
(:mod:`~django_authrocket.keys`) both send through :func:`send`, so AuthRocket sees one
well-behaved library: one ``User-Agent``, one backoff, one reading of ``Retry-After`` and one
rule for what may be sent twice:

* no answer (connection refused or reset, timeout, a body broken off): retried only when the
  call is idempotent, since a POST or DELETE that timed out may have been applied;
* 429: always retried, AuthRocket did not act on it;
* the ``retry_statuses`` (502, 503 and 504 unless the caller says otherwise): retried only when
  the call is idempotent;
* the pause is the ``Retry-After`` of a 429 or 503 when it has one, else a jittered backoff;
  a ``Retry-After`` longer than ``max_retry_wait`` is not waited for: the answer stands;
* inside a :func:`retry_budget` block (a web request's login, recheck or Bearer check) every
  :func:`send` together sleeps at most the budget: a pause longer than what is left ends the
  retries at once, and the last answer or error stands (the caller's "unreachable").

The module sends nothing itself and logs nothing: each caller passes a callable that makes one
attempt, and an ``on_retry`` callable that logs the retry to the caller's logger if it wants.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from requests.utils import get_netrc_auth

from . import __version__

#: AuthRocket asks libraries used by third parties to name themselves, their version and a URL.
USER_AGENT: Final = (
    f"django-authrocket/{__version__} (+https://github.com/django-authrocket/django-authrocket)"
)
#: Longest pause before a retry; a ``Retry-After`` asking for more is not waited for.
MAX_RETRY_WAIT: Final = 30.0
#: Statuses an idempotent Core API call is retried on (a proxy or AuthRocket briefly away).
GATEWAY_ERRORS: Final = frozenset({502, 503, 504})
#: Every 5xx status, for callers that retry them all (the key set fetch).
SERVER_ERRORS: Final = range(500, 600)
#: Statuses whose ``Retry-After`` is read (RFC 9110 defines it for 429, 503 and 3xx).
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})


class HTTPSession(requests.Session):
    """A ``requests.Session`` that reads the environment's proxy and CA bundle settings, and
    the ``.netrc`` credentials, once per origin (scheme and host), not on every call.

    ``requests`` looks them up again for every request (``HTTPS_PROXY``, ``NO_PROXY``,
    ``REQUESTS_CA_BUNDLE``...: two walks over the whole environment; ``NETRC``, ``~/.netrc``
    and ``~/_netrc``: a file lookup, and a parse when there is one), a tenth of a millisecond
    a call on a login's path. Set them before the first call, as the process starts.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], Any] = {}
        self._netrc: dict[tuple[str, str], Any] = {}

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if self.trust_env and not request.auth and not self.auth and request.url:
            origin = urlsplit(str(request.url))[:2]
            known = self._netrc.get(origin, _UNREAD)
            if known is _UNREAD:
                known = get_netrc_auth(str(request.url))  # requests' own lookup and rules
                if len(self._netrc) < 64:  # origins of one site: a handful
                    self._netrc[origin] = known
            # None would send requests to look again: a do-nothing auth stands for "none".
            request.auth = known or _no_auth
        return super().prepare_request(request)

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        scheme, netloc = urlsplit(url)[:2]
        key = (scheme, netloc, stream, verify, cert)
        try:
            known: Any = self._environment.get(key)
        except TypeError:  # an unhashable cert or verify: read as requests does
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if known is None:
            known = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if len(self._environment) < 64:  # origins of one site: a handful
                self._environment[key] = known
        return {**known, "proxies": dict(known["proxies"])}  # callers get their own dicts


_UNREAD: Any = object()


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """The auth of an origin ``.netrc`` has no credentials for: leaves the request as it is."""
    return request


@dataclass(slots=True)
class _Budget:
    """Seconds of retry pauses left to the current :func:`retry_budget` block."""

    left: float


_budget: ContextVar[_Budget | None] = ContextVar("authrocket_retry_budget", default=None)


@contextmanager
def retry_budget(seconds: float) -> Iterator[None]:
    """Every :func:`send` in this block sleeps at most ``seconds`` on retries, all together.

    For the calls one web request makes (a login, a recheck, a Bearer check): however many
    calls and retries there are, the request is never held longer than that by pauses. A
    block inside another one shares the outer budget (it never adds to it).
    """
    if _budget.get() is not None:
        yield
        return
    token = _budget.set(_Budget(max(0.0, seconds)))
    try:
        yield
    finally:
        _budget.reset(token)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One attempt's answer: the response (its stream consumed) and the body it read.

    ``body`` is ``None`` when the answer was larger than the caller's cap (see
    :func:`read_body`), and may be ``b""`` when the caller did not read it.
    """

    response: requests.Response
    body: bytes | None

    @property
    def status(self) -> int:
        return self.response.status_code


@dataclass(frozen=True, slots=True)
class Retry:
    """What :func:`send` hands ``on_retry`` before it pauses and tries again."""

    #: Which retry this is, 1 for the first.
    number: int
    #: Seconds :func:`send` is about to sleep.
    wait: float
    #: The answer that is retried, or ``None`` when there was none.
    response: requests.Response | None = None
    #: The error that is retried, when there was no answer.
    error: requests.RequestException | None = None

    @property
    def cause(self) -> str:
        """For a log line: the error's class, or the status and AuthRocket's request id."""
        if self.response is None:
            return self.error.__class__.__name__
        request_id = self.response.headers.get("X-Request-ID")
        return f"HTTP {self.response.status_code}, request id {request_id}"


def send(
    attempt: Callable[[], Exchange],
    *,
    retries: int,
    idempotent: bool,
    max_retry_wait: float = MAX_RETRY_WAIT,
    retry_statuses: Container[int] = GATEWAY_ERRORS,
    on_retry: Callable[[Retry], None] | None = None,
) -> Exchange:
    """Call ``attempt`` until it gives an answer worth keeping; at most ``retries`` extra times.

    ``attempt`` makes one HTTP exchange and returns it, or raises a
    :class:`requests.RequestException` when there was no whole answer (it must read a streamed
    body with ``iter_content``, as :func:`read_body` does, so a connection broken mid-body is
    such an exception too). The last answer is returned whatever its status: judging it is the
    caller's job. The last error is raised when no answer came.

    ``max_retry_wait`` caps every pause: a ``Retry-After`` above it ends the retries at once
    (the answer stands), a backoff above it is shortened to it. Inside a :func:`retry_budget`
    block the cap is also what is left of the budget, and a spent budget retries no more.
    ``on_retry`` is called before each pause (to log it).
    """
    budget = _budget.get()
    number = 0
    while True:
        number += 1  # this attempt's retry number, once it is retried
        cap = max(0.0, max_retry_wait if budget is None else min(max_retry_wait, budget.left))
        spent = budget is not None and budget.left <= 0
        try:
            exchange = attempt()
        except requests.RequestException as exc:
            if not idempotent or number > retries or spent:
                raise
            retry = Retry(number, min(backoff(number), cap), error=exc)
        else:
            wait = _wait_before_retry(exchange.response, number, idempotent, retry_statuses, cap)
            if wait is None or number > retries or spent:
                return exchange
            retry = Retry(number, wait, response=exchange.response)
        if budget is not None:
            budget.left -= retry.wait
        if on_retry is not None:
            on_retry(retry)
        time.sleep(retry.wait)


def _wait_before_retry(
    response: requests.Response,
    number: int,
    idempotent: bool,
    retry_statuses: Container[int],
    cap: float,
) -> float | None:
    """Seconds to pause before retrying this answer, or ``None`` when it must not be retried."""
    status = response.status_code
    if status != 429 and not (idempotent and status in retry_statuses):
        return None
    asked = retry_after(response) if status in _RETRY_AFTER_STATUSES else None
    if asked is None:
        return min(backoff(number), cap)
    return asked if asked <= cap else None


def read_body(response: requests.Response, limit: int) -> bytes | None:
    """The body of a streamed response, or ``None`` when it is larger than ``limit`` bytes.

    A ``Content-Length`` above the limit is refused before reading. ``iter_content``, not
    ``raw.read``: a connection reset or timeout mid-body comes out as a
    :class:`requests.RequestException` (urllib3's own would escape :func:`send`).
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): 0.25, 0.5, 1... with full jitter.

    The jitter spreads the retries of many workers hit by the same outage.
    """
    return random.uniform(0, 0.25 * 2 ** (attempt - 1))  # noqa: S311 - not for security


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if usable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())

"""``AuthRocketClient``: the Core API (v2, and the legacy v1) over one ``requests.Session``.

What every call does:

* sends ``Accept: application/json``, ``Accept-Language`` (the active Django language), a
  ``User-Agent`` naming this library, and the API key and realm in the headers of the API
  generation that ``AUTHROCKET_URL`` names (``/v2``: ``Authrocket-Api-Key``; ``/v1``:
  ``X-Authrocket-Api-Key``);
* has a timeout; retries with exponential backoff only when that is safe: idempotent calls
  (GET) on connection errors, 502, 503 and 504, and any call on 429 (AuthRocket did not act on
  it), honouring ``Retry-After``. A POST or DELETE that timed out is never sent twice (the rule
  lives in :mod:`~django_authrocket.transport`, shared with the key set fetch);
* checks the status before reading the body, caps the body size, insists on JSON;
* turns failures into :mod:`~django_authrocket.exceptions` ``APIError`` subclasses that carry the
  status and AuthRocket's ``X-Request-ID``, never the API key or a token.

Objects come back as the API's own JSON dicts; list calls are generators that page with
``after``/``max_results`` until ``more_results`` is false. Reads of users and orgs ask for
``expand=custom`` (AuthRocket leaves custom attributes out otherwise).
"""

from __future__ import annotations

import json as jsonlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, unquote

import requests
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation

from .conf import api_generation_of, app_settings
from .exceptions import (
    APIError,
    APIUnavailable,
    AuthenticationFailed,
    InvalidResponse,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from .redaction import shown_session
from .transport import (
    MAX_RETRY_WAIT,
    USER_AGENT,
    Exchange,
    HTTPSession,
    Retry,
    read_body,
    retry_after,
    send,
)

logger = logging.getLogger("django_authrocket.client")

#: Largest response body read (a page of 1,000 users is well under this).
MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
#: Largest page the API serves.
MAX_PAGE_SIZE: Final = 1000
#: Users and orgs leave out ``custom`` unless asked: "expand: custom -- Include custom in the
#: response" (https://authrocket.com/docs/api/orgs, List orgs; the users list documents the
#: same). Sent on every read of a user or an org, single reads too (harmless where implied).
EXPAND_CUSTOM: Final[Mapping[str, str]] = {"expand": "custom"}

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list call: its objects and whether more follow."""

    items: list[dict[str, Any]]
    more_results: bool

    @property
    def last_id(self) -> str | None:
        return str(self.items[-1]["id"]) if self.items else None


class AuthRocketClient:
    """A Core API client. Build one with :meth:`from_settings`, or directly for another realm."""

    _shared: dict[tuple[Any, ...], AuthRocketClient] = {}
    _shared_lock = threading.Lock()

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        realm: str | None = None,
        timeout: float = 5.0,
        retries: int = 2,
        max_retry_wait: float = MAX_RETRY_WAIT,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.generation = api_generation_of(self.api_url)
        self.realm = realm
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.max_retry_wait = max_retry_wait
        self._http = HTTPSession()
        self._http.headers.update(self._auth_headers(api_key, realm))
        self._http.headers["Accept"] = "application/json"
        self._http.headers["User-Agent"] = USER_AGENT

    def _auth_headers(self, api_key: str, realm: str | None) -> dict[str, str]:
        prefix = "X-Authrocket-" if self.generation == 1 else "Authrocket-"
        headers = {f"{prefix}Api-Key": api_key}
        if realm:
            headers[f"{prefix}Realm"] = realm
        return headers

    @classmethod
    def from_settings(cls) -> AuthRocketClient:
        """The client for ``AUTHROCKET_URL``/``API_KEY``/``REALM``; shared per configuration."""
        url, key = app_settings.URL, app_settings.API_KEY
        if not url or not key:
            missing = " and ".join(
                name
                for name, value in (("AUTHROCKET_URL", url), ("AUTHROCKET_API_KEY", key))
                if not value
            )
            raise ImproperlyConfigured(f"{missing} must be set to call the AuthRocket Core API.")
        ident = (url, key, app_settings.REALM, app_settings.HTTP_TIMEOUT, app_settings.HTTP_RETRIES)
        client = cls._shared.get(ident)
        if client is None:
            with cls._shared_lock:
                client = cls._shared.setdefault(
                    ident, cls(url, key, realm=ident[2], timeout=ident[3], retries=ident[4])
                )
        return client

    @classmethod
    def forget_shared(cls, **kwargs: object) -> None:
        """Drop the shared clients (connected to ``setting_changed``)."""
        with cls._shared_lock:
            cls._shared.clear()

    def __repr__(self) -> str:  # the key stays out of reprs, tracebacks and debug pages
        return f"<AuthRocketClient {self.api_url} realm={self.realm!r}>"

    # --- sessions ---------------------------------------------------------------------------

    def get_session(self, id_or_token: str) -> dict[str, Any]:
        """Get a Session by its id (``kss_...``) or by the full login token. 404: it ended."""
        return self._object("GET", f"/sessions/{_segment(id_or_token)}")

    def delete_session(self, session_id: str) -> None:
        """Revoke a session at AuthRocket (server-side logout)."""
        self.request("DELETE", f"/sessions/{_segment(session_id)}")

    def iter_sessions(self, *, user_id: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """A user's active sessions."""
        return self.paginate("/sessions", {"user_id": user_id, **filters})

    # --- users, orgs, memberships, events ---------------------------------------------------

    def get_user(self, id_or_email: str) -> dict[str, Any]:
        return self._object("GET", f"/users/{_segment(id_or_email)}", EXPAND_CUSTOM)

    def iter_users(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.paginate("/users", {**EXPAND_CUSTOM, **filters})

    def get_org(self, org_id: str) -> dict[str, Any]:
        return self._object("GET", f"/orgs/{_segment(org_id)}", EXPAND_CUSTOM)

    def iter_orgs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.paginate("/orgs", {**EXPAND_CUSTOM, **filters})

    def get_membership(self, membership_id: str) -> dict[str, Any]:
        return self._object("GET", f"/memberships/{_segment(membership_id)}")

    def iter_memberships(
        self, *, user_id: str | None = None, org_id: str | None = None, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """The memberships of a user or of an org (or the one of both). AuthRocket documents the
        listing only with ``user_id`` and/or ``org_id``; by org it embeds each ``user``, by user
        each ``org`` (https://authrocket.com/docs/api/memberships)."""
        params = {k: v for k, v in (("user_id", user_id), ("org_id", org_id)) if v}
        if not params:
            raise ValueError("memberships are listed for a user_id or an org_id, never all")
        return self.paginate("/memberships", {**params, **filters})

    def get_event(self, event_id: str) -> dict[str, Any]:
        return self._object("GET", f"/events/{_segment(event_id)}")

    def iter_events(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.paginate("/events", filters)

    # --- pagination -------------------------------------------------------------------------

    def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every object of a list call, fetched a page at a time."""
        for page in self.iter_pages(path, params, page_size=page_size):
            yield from page.items

    def iter_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int = 100,
        after: str | None = None,
    ) -> Iterator[Page]:
        """The pages of a list call, starting after the id ``after`` (for resumable syncs)."""
        query = dict(params or {})
        query["max_results"] = min(max(1, page_size), MAX_PAGE_SIZE)
        while True:
            if after:
                query["after"] = after
            page = self.get_page(path, query)
            yield page
            if not page.more_results or page.last_id is None:
                return
            if page.last_id == after:  # the same page again: following it would never end
                raise InvalidResponse("list answer does not advance", method="GET", path=path)
            after = page.last_id

    def get_page(self, path: str, params: Mapping[str, Any]) -> Page:
        body = self.request("GET", path, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("collection"), list):
            raise InvalidResponse("list answer has no 'collection'", method="GET", path=path)
        items = body["collection"]
        if not all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in items):
            raise InvalidResponse("list answer holds objects without ids", method="GET", path=path)
        return Page(items, bool(body.get("more_results")))

    # --- transport --------------------------------------------------------------------------

    def _object(
        self, method: str, path: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        body = self.request(method, path, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise InvalidResponse(
                "answer is not an API object", method=method, path=_log_path(path)
            )
        return body

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one call (with retries where safe) and return the decoded JSON body, or None."""
        method = method.upper()
        url = f"{self.api_url}{path}"
        shown = _log_path(path)
        headers = {}
        language = translation.get_language()
        if language:
            headers["Accept-Language"] = language

        def attempt() -> Exchange:
            started = time.monotonic()
            exchange = self._send(method, url, params, json, headers)
            logger.debug(
                "AuthRocket %s %s -> %s in %.0f ms (request id %s)",
                method,
                shown,
                exchange.status,
                (time.monotonic() - started) * 1000,
                exchange.response.headers.get("X-Request-ID"),
            )
            return exchange

        def log_retry(retry: Retry) -> None:
            logger.warning(
                "AuthRocket %s %s: %s; retrying in %.2f s", method, shown, retry.cause, retry.wait
            )

        try:
            exchange = send(
                attempt,
                retries=self.retries,
                idempotent=method in _IDEMPOTENT,
                max_retry_wait=self.max_retry_wait,
                on_retry=log_retry,
            )
        except requests.RequestException as exc:
            raise APIUnavailable(
                f"AuthRocket could not be reached ({exc.__class__.__name__})",
                method=method,
                path=shown,
            ) from None
        return self._decode(exchange.response, exchange.body, method, shown)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: dict[str, str],
    ) -> Exchange:
        """One HTTP exchange; the body is ``None`` when it is larger than the cap."""
        with self._http.request(
            method,
            url,
            params=params,
            json=json,
            headers=headers,
            timeout=self.timeout,
            stream=True,
            allow_redirects=False,
        ) as response:
            if response.status_code == 204 or method == "HEAD":
                return Exchange(response, b"")
            return Exchange(response, read_body(response, MAX_RESPONSE_BYTES))

    def _decode(
        self, response: requests.Response, body: bytes | None, method: str, path: str
    ) -> Any:
        status = response.status_code
        context: dict[str, Any] = {
            "status": status,
            "request_id": response.headers.get("X-Request-ID"),
            "method": method,
            "path": path,
        }
        if 200 <= status < 300:
            if status == 204 or body == b"":
                return None
            return _json_body(response, body, context)
        errors = _error_messages(body)
        summary = "; ".join(errors)[:300]
        if status in (401, 403):
            raise AuthenticationFailed(summary or "AuthRocket refused the API key", **context)
        if status == 402:
            raise PaymentRequired(summary or "AuthRocket subscription inactive", **context)
        if status == 404:
            raise NotFound(summary or "not found", **context)
        if status in (409, 422):
            raise ValidationFailed(
                summary or "AuthRocket refused the data", errors=errors, **context
            )
        if status == 429:
            raise RateLimited(
                "AuthRocket rate limit reached", retry_after=retry_after(response), **context
            )
        if status >= 500:
            raise ServerError(summary or "AuthRocket server error", **context)
        raise APIError(summary or f"unexpected HTTP {status}", **context)


def _json_body(response: requests.Response, body: bytes | None, context: dict[str, Any]) -> Any:
    if body is None:
        raise InvalidResponse(f"answer is larger than {MAX_RESPONSE_BYTES} bytes", **context)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise InvalidResponse(f"answer is {content_type or 'untyped'}, not JSON", **context)
    try:
        return _loads(body)
    except ValueError:
        raise InvalidResponse("answer is not valid JSON", **context) from None


def _loads(body: bytes) -> Any:
    try:
        return jsonlib.loads(body, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("too deeply nested") from None


def _not_json(name: str) -> Any:
    """NaN and Infinity are Python's extensions, not JSON: no database's JSON column takes them."""
    raise ValueError(f"{name} is not JSON")


def _error_messages(body: bytes | None) -> tuple[str, ...]:
    if not body:
        return ()
    try:
        data = _loads(body)
    except ValueError:
        return ()
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list):
        return tuple(str(error)[:500] for error in errors[:20])
    if isinstance(errors, str):
        return (errors[:500],)
    return ()


def _segment(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("an AuthRocket id must be a non-empty string")
    return quote(value, safe="")


def _log_path(path: str) -> str:
    """The path for messages and log lines: anything token-like (long, or containing dots)
    becomes ``<token>``, a session id (the segment after ``sessions``) a digest of it."""
    parts = path.split("/")
    shown = []
    for index, part in enumerate(parts):
        if len(part) > 64 or "." in part or "%2E" in part:
            part = "<token>"
        elif part and index and parts[index - 1] == "sessions":
            part = shown_session(unquote(part))
        shown.append(part)
    return "/".join(shown)

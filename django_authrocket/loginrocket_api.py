"""The LoginRocket API (``<AUTHROCKET_LOGINROCKET_URL>/v2/``) as called by this site's server.

One method per endpoint of :class:`LoginRocketAPI` (the endpoints AuthRocket's browser library
calls, authrocket-js loginrocket-js/lib/loginrocket.js), each answer a typed value:
:class:`FullLogin`, :class:`ConditionalLogin` or :class:`Okay`; anything else raises
:class:`LoginRocketError`, whose ``kind`` says what the person is told.

How each call is made (AuthRocket's "Accessing the LoginRocket API" page and the library):

* no API key: the realm is the URL's host; ``Accept: application/json``; ``Accept-Language``
  from Django's active language, so LoginRocket's messages come back in the person's language;
  the person's address as ``X-Forwarded-For`` and their browser's ``User-Agent``, with the
  library named in ``LR-Agent``, as AuthRocket's library names itself;
* a session id (``kss_...``) only ever in the query string (the docs: "always in the query,
  never in a header"), never logged (see :mod:`~django_authrocket.redaction`);
* one attempt, through :func:`~django_authrocket.transport.send` with no retry: the API is
  tightly rate limited, so a 429 is shown to the person ("wait a moment"), never retried, and a
  POST that timed out may have been applied;
* 2xx, 409 and 422 carry a JSON body with ``result``; 403 is an expired session or access
  denied, 404 not found, 429 rate limited; no answer, a 5xx or a body that is not the API's
  JSON (a proxy's HTML page) is ``unavailable``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import requests
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils import translation
from django.views.decorators.debug import sensitive_variables

from .conf import app_settings
from .transport import USER_AGENT, Exchange, HTTPSession, read_body, retry_after, send

logger = logging.getLogger("django_authrocket.login")

#: Largest answer read: LoginRocket's answers are a few hundred bytes.
MAX_ANSWER_BYTES: Final = 256 * 1024
#: Longest wait for an answer, whatever AUTHROCKET_HTTP_TIMEOUT says: a person is waiting on a
#: form (AuthRocket's browser library waits 4 seconds).
MAX_TIMEOUT: Final = 5.0

ErrorKind = Literal["invalid", "denied", "not_found", "rate_limited", "unavailable"]

_http = HTTPSession()


@dataclass(frozen=True, slots=True)
class FullLogin:
    """``result: full_login``: a login token for ``account`` in ``session``."""

    session: str = field(repr=False)
    account: str | None
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ConditionalLogin:
    """``result: conditional_login``: the session exists, but a step is missing (no token).

    ``conditions`` name the steps: ``no_account_selected``, ``must_complete_profile``,
    ``must_verify_email``, ``login_verification_required`` (a second factor, with
    ``verification`` saying which).
    """

    session: str = field(repr=False)
    account: str | None
    conditions: tuple[str, ...]
    verification: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Okay:
    """``result: okay``."""


Answer = FullLogin | ConditionalLogin | Okay


class LoginRocketError(Exception):
    """An answer that is not a success: what went wrong, in words fit for the person.

    ``kind``: ``invalid`` (a 409/422 ``error`` answer: ``messages`` and ``field_errors`` say
    what), ``denied`` (403: the session expired or access was denied), ``not_found`` (404),
    ``rate_limited`` (429: wait ``retry_after`` seconds), ``unavailable`` (no answer, a 5xx,
    an answer that is not the API's JSON).
    """

    def __init__(
        self,
        kind: ErrorKind,
        messages: list[str] | None = None,
        *,
        field_errors: Mapping[str, list[str]] | None = None,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.kind: ErrorKind = kind
        self.messages = list(messages or [])
        self.field_errors = dict(field_errors or {})
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(f"LoginRocket API: {kind} (status {status}, request id {request_id})")


class LoginRocketAPI:
    """The LoginRocket API for one person: their language, address and browser.

    Build it with :meth:`for_request`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        language: str | None = None,
        client_address: str | None = None,
        user_agent: str | None = None,
        timeout: float = MAX_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/v2/"
        self.timeout = min(float(timeout), MAX_TIMEOUT)
        self.headers = {"Accept": "application/json", "LR-Agent": USER_AGENT}
        self.headers["User-Agent"] = user_agent or USER_AGENT
        if language:
            self.headers["Accept-Language"] = language
        if client_address:
            self.headers["X-Forwarded-For"] = client_address

    @classmethod
    def for_request(cls, request: HttpRequest) -> LoginRocketAPI:
        """The API at ``AUTHROCKET_LOGINROCKET_URL``, speaking for the person of ``request``."""
        base = app_settings.LOGINROCKET_URL
        if not base:
            raise ImproperlyConfigured("AUTHROCKET_LOGINROCKET_URL is not set.")
        return cls(
            base,
            language=translation.get_language(),
            client_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512] or None,
            timeout=float(app_settings.HTTP_TIMEOUT),
        )

    def __repr__(self) -> str:
        return f"<LoginRocketAPI {self.base_url}>"

    # --- the endpoints ----------------------------------------------------------------------

    @sensitive_variables("password")
    def login(self, login: str, password: str) -> Answer:
        """``POST login``: an email address or a username (both in ``email``, as the API's
        field reference allows), and the password."""
        return self._call("POST", "login", body={"email": login, "password": password})

    @sensitive_variables("code", "session")
    def verify_login(self, session: str, code: str) -> Answer:
        """``POST login/verify``: the second factor's code for a pending ``session``."""
        return self._call("POST", "login/verify", session=session, body={"code": code})

    @sensitive_variables("session")
    def get_session(self, session: str, account: str | None = None) -> Answer:
        """``GET session``: a fresh login for ``session``, for ``account`` when given (the org
        switch)."""
        query = {"account": account} if account else None
        return self._call("GET", "session", session=session, query=query)

    @sensitive_variables("session")
    def end_session(self, session: str) -> Answer:
        """``DELETE session``: log the session out at LoginRocket."""
        return self._call("DELETE", "session", session=session)

    def forgot_password(self, email: str) -> Answer:
        """``POST password/forgot``: LoginRocket emails a reset link."""
        return self._call("POST", "password/forgot", body={"email": email})

    @sensitive_variables("token", "password", "confirmation")
    def reset_password(self, token: str, password: str, confirmation: str) -> Answer:
        """``POST password/reset`` with the emailed token."""
        body = {"token": token, "password": password, "password_confirmation": confirmation}
        return self._call("POST", "password/reset", body=body)

    @sensitive_variables("session", "current", "password", "confirmation")
    def change_password(
        self, session: str, current: str, password: str, confirmation: str
    ) -> Answer:
        """``POST profile/password``."""
        body = {
            "current_password": current,
            "password": password,
            "password_confirmation": confirmation,
        }
        return self._call("POST", "profile/password", session=session, body=body)

    @sensitive_variables("session")
    def update_profile(self, session: str, fields: Mapping[str, Any]) -> Answer:
        """``PUT profile``: names, email, username..."""
        return self._call("PUT", "profile", session=session, body=dict(fields))

    def request_invitation(self, fields: Mapping[str, Any]) -> Answer:
        """``POST signup/request``, for a realm whose signup is by invitation."""
        return self._call("POST", "signup/request", body=dict(fields))

    @sensitive_variables("fields")
    def signup(self, fields: Mapping[str, Any]) -> Answer:
        """``POST signup``, for a realm with open signup."""
        return self._call("POST", "signup", body=dict(fields))

    @sensitive_variables("token")
    def verify_email(self, token: str) -> Answer:
        """``POST email/verify`` with the emailed token."""
        return self._call("POST", "email/verify", body={"token": token})

    # --- one call ---------------------------------------------------------------------------

    @sensitive_variables("session", "body", "params")
    def _call(
        self,
        method: str,
        path: str,
        *,
        session: str | None = None,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Answer:
        params = dict(query or {})
        if session is not None:
            params["session"] = session

        def attempt() -> Exchange:
            with _http.request(
                method,
                self.base_url + path,
                params=params or None,
                json=body,
                headers=self.headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            ) as response:
                return Exchange(response, read_body(response, MAX_ANSWER_BYTES))

        started = time.monotonic()
        try:
            exchange = send(attempt, retries=0, idempotent=False)
        except requests.RequestException as exc:
            logger.warning("LoginRocket %s %s: no answer (%s)", method, path, type(exc).__name__)
            raise LoginRocketError("unavailable") from None
        request_id = exchange.response.headers.get("X-Request-ID")
        logger.debug(
            "LoginRocket %s %s -> %s in %.0f ms (request id %s)",
            method,
            path,
            exchange.status,
            (time.monotonic() - started) * 1000,
            request_id,
        )
        return _answer(exchange, method, path, request_id)


def _answer(exchange: Exchange, method: str, path: str, request_id: str | None) -> Answer:
    """The typed answer of one exchange, or the :class:`LoginRocketError` it means."""
    status = exchange.status
    context: dict[str, Any] = {"status": status, "request_id": request_id}
    if status == 403:
        raise LoginRocketError("denied", **context)
    if status == 404:
        raise LoginRocketError("not_found", **context)
    if status == 429:
        raise LoginRocketError(
            "rate_limited", retry_after=retry_after(exchange.response), **context
        )
    data = _json(exchange) if (200 <= status < 300 or status in (409, 422)) else None
    if data is None:
        logger.warning(
            "LoginRocket %s %s: unusable answer, status %s (request id %s)",
            method,
            path,
            status,
            request_id,
        )
        raise LoginRocketError("unavailable", **context)
    result = data.get("result")
    if result == "error" or status in (409, 422):
        messages = _strings(data.get("errors")) or _strings([data.get("error")])
        raise LoginRocketError(
            "invalid", messages, field_errors=_field_errors(data.get("field_errors")), **context
        )
    if result == "full_login" and _is_text(data.get("session")) and _is_text(data.get("token")):
        return FullLogin(data["session"], _text_or_none(data.get("account")), data["token"])
    if result == "conditional_login" and _is_text(data.get("session")):
        verification = data.get("verification")
        return ConditionalLogin(
            data["session"],
            _text_or_none(data.get("account")),
            tuple(_strings(data.get("conditions"))),
            verification if isinstance(verification, dict) else {},
        )
    if result == "okay":
        return Okay()
    logger.warning(
        "LoginRocket %s %s: unknown result, status %s (request id %s)",
        method,
        path,
        status,
        request_id,
    )
    raise LoginRocketError("unavailable", **context)


def _json(exchange: Exchange) -> dict[str, Any] | None:
    """The answer's JSON object, or None (too large, not JSON, HTML, not an object)."""
    content_type = exchange.response.headers.get("Content-Type", "")
    if exchange.body is None or "json" not in content_type.lower():
        return None
    try:
        data = json.loads(exchange.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the parser's limit
        return None
    return data if isinstance(data, dict) else None


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: object) -> list[str]:
    """The non-empty strings of a list (LoginRocket's ``errors``), capped in length."""
    if not isinstance(value, list):
        return []
    return [item[:500] for item in value if isinstance(item, str) and item.strip()][:20]


def _field_errors(value: object) -> dict[str, list[str]]:
    """A ``{"field": ["message", ...]}`` map, when the answer has one."""
    if not isinstance(value, dict):
        return {}
    return {
        str(name): messages
        for name, raw in value.items()
        if (messages := _strings(raw if isinstance(raw, list) else [raw]))
    }

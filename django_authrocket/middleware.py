"""``AuthRocketMiddleware``: keep Django sessions in step with AuthRocket, accept Bearer tokens.

Place it after ``AuthenticationMiddleware``. For each request it:

1. with ``Authorization: Bearer <token>`` on a path of ``AUTHROCKET_BEARER_URLS`` (none by
   default; never the admin), authenticates that request alone as the token's user (no
   session, no cookie; a bad token is a 401 JSON answer);
2. with ``AUTHROCKET_TOKEN_ANYWHERE`` and a GET carrying ``?token=``, logs the browser in and
   redirects to the same path without ``token``, ``account`` and ``session`` (the token is
   masked in the request first, for error reports: :mod:`~django_authrocket.reports`);
3. for a Django session that AuthRocket logged in (and a path not in ``AUTHROCKET_EXEMPT_URLS``):
   ends it when the token's expiry has passed; in ``"api"`` mode also asks the Core API once per
   ``AUTHROCKET_RECHECK_INTERVAL`` whether the session still exists (the next check time lives
   in the session, so requests in between read nothing else);
4. sets ``request.authrocket`` to the :class:`~django_authrocket.identity.AuthRocketSession`, or
   ``None``.

Sync and async capable with one logic path: the async call runs the same function in a worker
thread, and only when the request has a session cookie or an Authorization header (otherwise
there is nothing to look at).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from . import (
    admin_site,
    bearer,
    login_confirmation,
    logins,
    recheck,
    redirects,
    reports,
    token_login,
    verification,
)
from .backends import get_backend, is_authrocket_backend
from .conf import RequestSettings, app_settings, request_settings
from .exceptions import APIError, AuthRocketError, ExpiredToken, InvalidToken, KeysUnavailable
from .logins import LoginEntry
from .redaction import shown_session

logger = logging.getLogger("django_authrocket.recheck")

#: Why a recheck's answer may be refused though AuthRocket says the session is alive: it names
#: another realm than AUTHROCKET_REALM, or the emulator made it where the site does not trust
#: the emulator (any more). The session ends, as a login with that answer would be refused.
_REFUSED_ANSWERS = frozenset({"wrong_realm", "emulator_token"})

#: Query parameters LoginRocket appends that must not stay in the address bar.
LOGINROCKET_PARAMS = ("token", "account", "session")

Response = HttpResponse | None


class AuthRocketMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.hot = request_settings()  # read again when settings change (hot.current)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        response = self.process(request)
        if response is not None:
            return response
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.modified and logins.key_changed(request):
            logins.follow_key_change(request)
        if getattr(request, admin_site.ENDED_ATTR, None) is None:
            return response
        return admin_site.logout_response(request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if _needs_look(request, settings.SESSION_COOKIE_NAME):
            response = await sync_to_async(self.process)(request)
        else:
            request.authrocket = None  # type: ignore[attr-defined]
            response = None
        if response is not None:
            return response
        get_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = self.get_response
        response = await get_response(request)
        if logins.key_changed(request):
            await sync_to_async(logins.follow_key_change)(request)
        return admin_site.logout_response(request, response)

    # --- the one logic path -------------------------------------------------------------------

    def process(self, request: HttpRequest) -> Response:
        """Everything the middleware does before the view; a response ends the request early.

        Runs on every request, so the common one (no Authorization header, no ``token=`` in
        the query, a login inside its recheck interval) is one flat path: each call of a
        function of ours costs a microsecond or two on a request's cold path, more than the
        work inside it. It ends a login past its expiry, asks AuthRocket when a recheck is due
        (api mode), and sets ``request.authrocket`` from the login record.
        """
        request.authrocket = None  # type: ignore[attr-defined]
        hot = self.hot
        if not hot.current:
            hot = self.hot = request_settings()
        meta = request.META
        if "HTTP_AUTHORIZATION" in meta or "token=" in meta.get("QUERY_STRING", ""):
            response = self.before_session(request, hot)
            if response is not None or request.authrocket is not None:  # type: ignore[attr-defined]
                return response  # a Bearer request: no session to look at
        session = getattr(request, "session", None)
        if session is None or not is_authrocket_backend(session.get(BACKEND_SESSION_KEY)):
            return None
        exempt = bool(hot.exempt_urls) and _is_exempt(request.path_info, hot.exempt_urls)
        now = time.time()
        if not exempt:
            identity = logins.warm_identity(request, session, now, hot)
            if identity is not None:  # nothing due, nothing to end: the common request
                request.authrocket = identity  # type: ignore[attr-defined]
                return None
        entry = LoginEntry.of(session)
        if entry is None:
            # A login logins.remember() did not record (force_login() with this backend, a
            # login() of your own): nothing to check, in either mode.
            return None
        if exempt:
            return self.exempt(request, entry, hot)
        expires_at = entry.expires_at
        if expires_at is not None and now > expires_at + hot.jwt_leeway:
            return self.end_session(request, "expired", _("Your login has expired."))
        if hot.verify == "api" and now >= (entry.next_check_at or 0):
            response = self.ask_authrocket(request, entry, now)
            if response is not None:
                return response
        identity = logins.recall(request, entry)
        if identity is None:
            # Its stored identity is gone (a logout elsewhere raced this request, or pruned).
            return self.end_session(request, "invalid", _("Your login is no longer valid."))
        request.authrocket = identity  # type: ignore[attr-defined]
        return None

    def before_session(self, request: HttpRequest, hot: RequestSettings) -> Response:
        """A Bearer token (on a path of ``AUTHROCKET_BEARER_URLS``) or a ``?token=`` (with
        ``AUTHROCKET_TOKEN_ANYWHERE``): what comes before the session is looked at."""
        if "HTTP_AUTHORIZATION" in request.META and _accepts_bearer(
            request.path_info, hot.bearer_urls
        ):
            response = self.authenticate_bearer(request)  # hides the header from reports too
            if response is not None or request.authrocket is not None:  # type: ignore[attr-defined]
                return response
        if (
            hot.token_anywhere
            and "token=" in request.META.get("QUERY_STRING", "")  # cheap: no QueryDict parsing
            and "token" in request.GET
            and request.method == "GET"
            and request.path_info != _login_path()
        ):
            # Taken out of the request first: masked in error reports from here on.
            return self.take_token(request, reports.take_token(request) or "")
        return None

    def exempt(self, request: HttpRequest, entry: LoginEntry, hot: RequestSettings) -> Response:
        """An exempt URL: no recheck and no network, but a login past its expiry is over all
        the same. It is logged out and the view runs for an anonymous visitor (the view, not
        the middleware, decides what an exempt URL answers then)."""
        if entry.expired_at(time.time(), hot.jwt_leeway):
            logger.info(
                "Ending Django session: AuthRocket session %s (expired, exempt URL)",
                _shown(logins.session_id(request)),
            )
            auth.logout(request)
            return None
        request.authrocket = logins.recall(request, entry)  # type: ignore[attr-defined]
        return None

    def ask_authrocket(self, request: HttpRequest, entry: LoginEntry, now: float) -> Response:
        """The api-mode recheck, at most once per interval per session (see recheck.py)."""
        known = logins.recall(request, entry)
        if known is None:
            return self.end_session(request, "invalid", _("Your login is no longer valid."))
        try:
            verdict = recheck.check_session(known.id, logins.stored_token(request))
        except APIError as exc:
            return self.authrocket_unreachable(request, entry, now, exc)
        if not verdict.alive:
            return self.end_session(request, "ended", _("Your login session has ended."))
        entry = entry.confirmed(verdict.checked_at, next_check=logins.next_check_time(now))
        entry.save(request.session)
        if verdict.answer is None or known.source != "api":
            return None
        try:
            fresh = verification.session_from_api(verdict.answer)
        except ExpiredToken:
            return self.end_session(request, "expired", _("Your login session has ended."))
        except InvalidToken as exc:
            if exc.reason in _REFUSED_ANSWERS:  # AuthRocket's answer, refused here: fail closed
                return self.end_session(request, exc.reason, _("Your login is no longer valid."))
            # An answer of a shape this version cannot read: the session is alive (the call
            # said so), with the identity the login or an earlier recheck recorded.
            logger.warning(
                "AuthRocket session %s: unreadable recheck answer (%s)", _shown(known.id), exc
            )
            return None
        outcome = logins.refresh(request, entry, fresh)  # memberships or profile may have changed
        if outcome == "gone":  # logged out or signed out elsewhere meanwhile
            return self.end_session(request, "ended", _("Your login session has ended."))
        if outcome == "changed" and request.user.is_authenticated:
            # Staff status follows the permission now, not at the next login: the admin looks
            # only at is_staff.
            get_backend().apply_staff_permission(request.user, fresh)
        return None

    def authrocket_unreachable(
        self, request: HttpRequest, entry: LoginEntry, now: float, error: APIError
    ) -> Response:
        """Keep the session within ``AUTHROCKET_RECHECK_GRACE`` of its last good answer (which
        was good for one interval), else end it: fail closed."""
        interval = float(app_settings.RECHECK_INTERVAL)
        grace = float(app_settings.RECHECK_GRACE)
        shown = _shown(logins.session_id(request))  # a digest: a session id is a credential
        if grace > 0 and now - (entry.checked_at or 0) <= interval + grace:
            logger.warning(
                "AuthRocket unreachable; keeping session %s within its grace (%s)",
                shown,
                error,
            )
            entry.postponed(now + min(interval, 15.0)).save(request.session)
            return None
        logger.warning("AuthRocket unreachable; ending session %s (%s)", shown, error)
        return self.end_session(
            request, "unreachable", _("Your login could not be confirmed. Please log in again.")
        )

    def end_session(self, request: HttpRequest, reason: str, message: str) -> HttpResponse:
        """Log out, then send a browser to log in again, or tell an API client with a 401."""
        logger.info(
            "Ending Django session: AuthRocket session %s (%s)",
            _shown(logins.session_id(request)),
            reason,
        )
        next_path = request.get_full_path()
        auth.logout(request)
        login_url = resolve_url(settings.LOGIN_URL)
        if request.method == "GET" and not _wants_json(request):
            return redirect_to_login(next_path, login_url)
        return _unauthorized(reason, message, login_url, scheme='Session realm="authrocket"')

    def authenticate_bearer(self, request: HttpRequest) -> Response:
        """Run this request as its Bearer token's user, or answer 401/503 JSON (nothing for
        another Authorization scheme)."""
        try:
            result = bearer.authenticate(request)
        except KeysUnavailable as exc:
            return _unavailable(exc)
        except InvalidToken as exc:
            logger.info("Bearer token refused (%s)", exc.reason)
            message = (
                _("This account is disabled.")
                if exc.reason == "inactive_user"
                else _("The bearer token is not valid.")
            )
            return _unauthorized(exc.reason, message, None, scheme=_bearer_challenge(exc))
        except APIError as exc:
            return _unavailable(exc)
        if result is None:
            return None
        user, session = result
        request.user = user  # type: ignore[assignment]
        request._cached_user = user  # type: ignore[attr-defined]

        async def auser() -> Any:
            return user

        request.auser = auser
        request.authrocket = session  # type: ignore[attr-defined]
        # A browser never sends an Authorization header on its own, so a bearer request cannot
        # be a cross-site forgery: the CSRF cookie check does not apply.
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return None

    @sensitive_variables("token")
    def take_token(self, request: HttpRequest, token: str) -> HttpResponse:
        """``?token=`` on any GET path: log in, then the same path without LoginRocket's params.

        Never cached, like every answer that takes a token. A refused token goes to the
        login view's failure page, with ``next`` the same path: no token in the address bar.
        A token this browser did not ask for goes to the confirmation page first.
        """
        target = _without_loginrocket_params(request)

        def succeeded(user: Any, session: Any) -> HttpResponse:
            response = HttpResponseRedirect(target)
            response["Referrer-Policy"] = "no-referrer"
            add_never_cache_headers(response)
            return response

        def failed(error: AuthRocketError) -> HttpResponse:
            return token_login.failure_redirect(request, error, target)

        # As the login view: a token this browser did not ask for waits for the person.
        return login_confirmation.arrive(
            request, token, next_url=target, success_url=target, succeeded=succeeded, failed=failed
        )


# --- helpers ------------------------------------------------------------------------------------


def _shown(session_id: str | None) -> str:
    """A session id as a log line may show it (a digest: the id is a credential)."""
    return shown_session(session_id) if session_id else "-"


def _needs_look(request: HttpRequest, cookie_name: str) -> bool:
    return (
        cookie_name in request.COOKIES
        or "HTTP_AUTHORIZATION" in request.META
        or ("token=" in request.META.get("QUERY_STRING", "") and app_settings.TOKEN_ANYWHERE)
    )


def _login_path() -> str:
    return reverse("authrocket:login")


def _accepts_bearer(path: str, rules: tuple[str, ...]) -> bool:
    """Whether ``AUTHROCKET_BEARER_URLS`` opens ``path`` to Bearer tokens: its regexes are
    searched like ``re_path``, in the path without its leading slash. (The admin is refused
    anyway, by :func:`django_authrocket.bearer.authenticate`.)"""
    stripped = path.lstrip("/")
    return any(_compiled(rule).search(stripped) for rule in rules)


def _is_exempt(path: str, rules: tuple[str, ...]) -> bool:
    view_name: str | None = None
    for rule in rules:
        if rule.startswith("^"):
            # Like Django's re_path: the pattern sees the path without its leading slash.
            if _compiled(rule).search(path.lstrip("/")):
                return True
        elif rule.startswith("/"):
            if path == rule or (rule.endswith("/") and path.startswith(rule)):
                return True
        else:
            if view_name is None:
                try:
                    view_name = resolve(path).view_name
                except Resolver404:
                    view_name = ""
            if view_name == rule:
                return True
    return False


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _wants_json(request: HttpRequest) -> bool:
    """XHR, fetch() and API clients get JSON; browser navigations get redirects."""
    headers = request.headers
    if headers.get("X-Requested-With") == "XMLHttpRequest":
        return True
    mode = headers.get("Sec-Fetch-Mode")
    if mode and mode != "navigate":
        return True
    accept = headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _unauthorized(reason: str, message: str, login_url: str | None, *, scheme: str) -> JsonResponse:
    body: dict[str, Any] = {"error": reason, "message": message}
    if login_url:
        body["login_url"] = login_url
    response = JsonResponse(body, status=401)
    response["WWW-Authenticate"] = scheme
    response["Cache-Control"] = "no-store"
    return response


def _unavailable(error: AuthRocketError) -> JsonResponse:
    logger.warning("Bearer token could not be checked: %s", error)
    response = JsonResponse(
        {"error": "unavailable", "message": _("The login service could not be reached.")},
        status=503,
    )
    response["Retry-After"] = "5"
    return response


def _bearer_challenge(error: InvalidToken | None) -> str:
    description = str(error) if error else "the account is disabled"
    safe = description.replace('"', "'")[:120]
    return f'Bearer realm="authrocket", error="invalid_token", error_description="{safe}"'


def _without_loginrocket_params(request: HttpRequest) -> str:
    """This request's path and query minus LoginRocket's params, never an off-site URL."""
    # "//evil.example/" and "/\\evil.example" are read by browsers as another host: collapse
    # leading slashes and backslashes so the target is always a path on this site.
    path = "/" + request.path.lstrip("/\\")
    kept = [
        (key, value)
        for key, values in request.GET.lists()
        if key not in LOGINROCKET_PARAMS
        for value in values
    ]
    target = f"{path}?{urlencode(kept)}" if kept else path
    return redirects.safe_next(request, target) or "/"

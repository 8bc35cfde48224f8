"""Login CSRF: a ``?token=`` this browser did not ask for logs in only once the person confirms.

LoginRocket has no ``state`` parameter, so a link to ``/login/?token=<someone's token>`` would
log whoever opens it in as that someone (and, with ``AUTHROCKET_TOKEN_ANYWHERE``, any page of
the site would). With ``AUTHROCKET_LOGIN_CONFIRMATION`` on (the default) a token that arrives
by URL (:func:`arrive`):

* is verified first, without spending it: a bad token gets the failure page as before;
* logs in at once when the browser carries the site's login marker
  (:mod:`~django_authrocket.login_marker`, set by the site's own journeys to LoginRocket) and
  does not switch a logged-in person to another AuthRocket user;
* otherwise is kept server-side (``AUTHROCKET_CACHE``, under a random nonce that only this
  browser's session knows) and the browser is sent (303) to the confirmation page
  (``authrocket:login_confirm``, template ``authrocket/login_confirm.html``), at a URL with no
  token. The page names the account and posts only the nonce, with Django's CSRF token; the
  POST (:func:`complete`) logs in, once. The token is spent only then.

A token that already logged a browser in is refused as "already used", except where
LoginRocket sends it again (a third-party report: it re-issues the same token for a session it
has cached) to the browser that spent it, after that browser went through the site's login
start again: the browser's id cookie names the browser that spent the token, and a marker set
later than the token's replay mark logs it in once more, once per marker. A token copied to any
other browser stays refused, wherever that browser started.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import get_language_from_path
from django.views.decorators.debug import sensitive_variables

from . import login_marker, logins, reports, token_login, verification
from .backends import get_backend, log_refusal
from .conf import app_settings
from .exceptions import APIError, AuthRocketError, InvalidToken, ReplayedToken
from .identity import AuthRocketSession
from .jws import parse
from .shared_cache import shared_cache

logger = logging.getLogger("django_authrocket.login")

CONFIRM_TEMPLATE = "authrocket/login_confirm.html"
#: The session key of the pending confirmation: its nonce and when it was asked.
PENDING_KEY = "_authrocket_login_confirmation"
#: The name of the form field that carries the nonce.
FIELD = "confirmation"
#: Seconds a confirmation page can be completed.
WINDOW = login_marker.MAX_AGE

Succeeded = Callable[[AbstractBaseUser, AuthRocketSession], HttpResponse]
Failed = Callable[[AuthRocketError], HttpResponse]


@sensitive_variables("token")
def arrive(
    request: HttpRequest,
    token: str,
    *,
    next_url: str | None,
    success_url: str,
    succeeded: Succeeded,
    failed: Failed,
) -> HttpResponse:
    """The answer to a token that arrived by URL: a login, a confirmation page, or a refusal.

    ``next_url`` is the safe ``next`` (kept for "log in again" on a refusal), ``success_url``
    where the login leads; ``succeeded`` and ``failed`` make the responses of a login made now.
    """
    marker = login_marker.read(request)
    try:
        used_at = verification.used_at(token)
        reissue = None
        if (
            marker
            and used_at is not None
            and used_at < marker.set_at
            and _spent_here(request, token)
        ):
            # The browser that spent this token went through this site's start since: a token
            # LoginRocket sent again for the session it has cached.
            reissue = marker.nonce
    except APIError as error:  # the cache is down (CacheUnavailable): an outage, a 503
        log_refusal(error)
        return failed(error)
    if not app_settings.LOGIN_CONFIRMATION:
        return _log_in(request, token, reissue, succeeded, failed, arrived_at=request.path)
    if marker is not None and not _switches_user(request, token):
        # Asked for here, and the same person (or nobody) logged in: the login verifies it.
        return _log_in(request, token, reissue, succeeded, failed, arrived_at=request.path)
    try:
        if used_at is not None and reissue is None:
            raise ReplayedToken("this login token was already used")
        # Verified before the page names its account; spent only at the confirmation.
        session = get_backend().verify_token(token, max_age=app_settings.LOGIN_MAX_AGE)
        return _ask(request, token, session, next_url, success_url, reissue)
    except (InvalidToken, APIError) as error:
        log_refusal(error)
        token_login.send_login_failed(request)
        return failed(error)


def page(request: HttpRequest) -> HttpResponse:
    """The confirmation page (GET): who the token logs in, and a button that posts the nonce."""
    try:
        nonce, pending = _pending(request, pop=False)
    except APIError as error:  # the cache is down: an outage
        return token_login.failure_redirect(request, error, None)
    if pending is None:
        return token_login.failure_redirect(request, _unconfirmed(), None)
    user = getattr(request, "user", None)
    response = TemplateResponse(
        request,
        CONFIRM_TEMPLATE,
        {
            "account_name": pending["name"],
            "account_email": pending["email"],
            "current_user": user if user is not None and user.is_authenticated else None,
            "field": FIELD,
            "nonce": nonce,
            "action": reverse("authrocket:login_confirm"),
            "cancel_url": pending["success_url"],
        },
    )
    return _private(response)


def complete(request: HttpRequest) -> HttpResponse:
    """The confirmation (a POST that passed Django's CSRF check): log in, once."""
    try:
        nonce, pending = _pending(request, pop=True)
    except APIError as error:  # the cache is down: an outage
        return token_login.failure_redirect(request, error, None)
    posted = request.POST.get(FIELD, "")
    if pending is None or not secrets.compare_digest(posted.encode(), nonce.encode()):
        token_login.send_login_failed(request)
        return token_login.failure_redirect(request, _unconfirmed(), None)
    token: str = pending["token"]
    reports.hide(request, token)  # a later error's report must not show it
    success_url: str = pending["success_url"]
    next_url: str | None = pending["next"]

    def succeeded(user: AbstractBaseUser, session: AuthRocketSession) -> HttpResponse:
        return _private(HttpResponseRedirect(success_url))

    def failed(error: AuthRocketError) -> HttpResponse:
        return token_login.failure_redirect(request, error, next_url)

    arrived_at = pending.get("arrived_at") or "/"
    return _log_in(request, token, pending["reissue"], succeeded, failed, arrived_at=arrived_at)


# --- helpers ------------------------------------------------------------------------------------


@sensitive_variables("token")
def _log_in(
    request: HttpRequest,
    token: str,
    reissue: str | None,
    succeeded: Succeeded,
    failed: Failed,
    *,
    arrived_at: str,
) -> HttpResponse:
    """Log in now; the marker is consumed by the login's response. ``arrived_at``: the path
    the token came to (where a token LoginRocket sends again will come)."""
    try:
        if reissue is None:
            user, session = token_login.log_in_with_token(request, token)
        else:
            if not _claim_reissue(token, reissue):
                refusal = ReplayedToken("this login token was already used")
                log_refusal(refusal)
                token_login.send_login_failed(request)
                raise refusal
            # Single use was settled just above, once per marker: the mark stays and moves on.
            user, session = token_login.log_in_with_token(request, token, single_use=False)
            verification.mark_used_again(token, session)
    except (InvalidToken, APIError) as error:
        return failed(error)
    response = login_marker.consume(succeeded(user, session))
    try:
        _remember_browser(request, response, token, session, arrived_at)
    except APIError as error:  # the cache is down: the login stands, only no re-issue later
        logger.warning("Could not record which browser spent a login token: %s", error)
    return response


@sensitive_variables("token")
def _claim_reissue(token: str, nonce: str) -> bool:
    """True the first time this token comes back with this marker; False after."""
    key = f"authrocket:reissued:{_digest(token + ' ' + nonce)[:40]}"
    return bool(shared_cache().add(key, 1, timeout=login_marker.MAX_AGE + 60))


@sensitive_variables("token")
def _remember_browser(
    request: HttpRequest,
    response: HttpResponse,
    token: str,
    session: AuthRocketSession,
    arrived_at: str,
) -> None:
    """Record which browser spent ``token`` (its id cookie's digest), as long as the token's
    replay mark lives. The id cookie's path is where the token arrived: a browser sends it
    there only, not with every request. The whole site when any page takes a token, or when
    the login view's path starts with a language (``i18n_patterns``): a token LoginRocket
    sends again may come back under another language's prefix."""
    if not app_settings.PREVENT_TOKEN_REPLAY:
        return
    lifetime = verification.replay_mark_timeout(session)
    path = arrived_at
    if app_settings.TOKEN_ANYWHERE or _under_a_language(arrived_at):
        path = "/"
    browser = login_marker.keep_browser(request, response, lifetime, path=path)
    shared_cache().set(_spent_by_key(token), _digest(browser), timeout=lifetime)


def _under_a_language(path: str) -> bool:
    """Whether ``path`` (with the script prefix) starts with a language code of ``LANGUAGES``."""
    prefix = get_script_prefix()
    inner = "/" + path.removeprefix(prefix) if path.startswith(prefix) else path
    return get_language_from_path(inner) is not None


@sensitive_variables("token")
def _spent_here(request: HttpRequest, token: str) -> bool:
    """Whether this browser is the one that spent ``token`` (see :func:`_remember_browser`)."""
    browser = login_marker.browser_id(request)
    if browser is None:
        return False
    spent_by = shared_cache().get(_spent_by_key(token))
    return isinstance(spent_by, str) and secrets.compare_digest(spent_by, _digest(browser))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@sensitive_variables("token")
def _spent_by_key(token: str) -> str:
    return f"authrocket:spent-by:{_digest(token)[:40]}"


@sensitive_variables("token")
def _switches_user(request: HttpRequest, token: str) -> bool:
    """Whether logging in with ``token`` changes who is logged in here (the token is read only
    when someone is: a first visit's login does not parse it twice)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    # The login recorded in the session (the middleware's request.authrocket is not set yet
    # when it takes a token under AUTHROCKET_TOKEN_ANYWHERE).
    current = logins.recall(request)
    return current is None or current.user.id != _claimed_user(token)


@sensitive_variables("token")
def _claimed_user(token: str) -> str | None:
    """The AuthRocket user id the token names, read without verifying it (None if unreadable).

    Only to choose between logging in now and asking: logging in verifies the token, so a
    forged claim gains nothing here.
    """
    try:
        return AuthRocketSession.from_claims(parse(token).claims()).user.id
    except (InvalidToken, ValueError, TypeError, KeyError):  # unreadable: ask, after verifying
        return None


@sensitive_variables("token")
def _ask(
    request: HttpRequest,
    token: str,
    session: AuthRocketSession,
    next_url: str | None,
    success_url: str,
    reissue: str | None,
) -> HttpResponse:
    """Keep the token server-side under a new nonce, and send the browser to the page."""
    nonce = secrets.token_urlsafe(24)
    pending = {
        "token": token,
        "name": session.user.name,
        "email": session.user.email,
        "next": next_url,
        "success_url": success_url,
        "reissue": reissue,
        "arrived_at": request.path,
    }
    shared_cache().set(_cache_key(nonce), pending, timeout=WINDOW)
    request.session[PENDING_KEY] = {"nonce": nonce, "at": time.time()}
    response = HttpResponseRedirect(reverse("authrocket:login_confirm"))
    response.status_code = 303
    return _private(response)


def _pending(request: HttpRequest, *, pop: bool) -> tuple[str, dict[str, Any] | None]:
    """This session's pending confirmation: its nonce and data (None when there is none, or
    it is older than WINDOW). ``pop`` takes it out: a confirmation completes once."""
    session = getattr(request, "session", None)
    if session is None:
        return "", None
    entry = session.pop(PENDING_KEY, None) if pop else session.get(PENDING_KEY)
    if not isinstance(entry, dict) or not isinstance(entry.get("nonce"), str):
        return "", None
    nonce: str = entry["nonce"]
    at = entry.get("at")
    if not isinstance(at, int | float) or time.time() - at > WINDOW:
        return nonce, None
    cache = shared_cache()
    pending = cache.get(_cache_key(nonce))
    if pop:
        cache.delete(_cache_key(nonce))
    return nonce, pending if isinstance(pending, dict) else None


def _cache_key(nonce: str) -> str:
    # A digest: the nonce opens the pending login, so it is not written as it is.
    return f"authrocket:confirm:{hashlib.sha256(nonce.encode()).hexdigest()[:40]}"


def _unconfirmed() -> InvalidToken:
    return InvalidToken("no pending login confirmation", reason="unconfirmed")


def _private(response: HttpResponse) -> HttpResponse:
    """Never cached, never framed, no ``Referer`` onwards."""
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Frame-Options"] = "DENY"
    response["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response

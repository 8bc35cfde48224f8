"""Where a LoginRocket answer leads the in-site forms: a login, the next step, or a clear page.

* A :class:`~django_authrocket.loginrocket_api.FullLogin` goes through
  :func:`django_authrocket.token_login.log_in_with_token`, the very path of a ``?token=`` login
  (verification, the mirror, a new session key, the login record, the replay mark), with the
  token straight from LoginRocket's answer: it never reaches the browser.
* A :class:`~django_authrocket.loginrocket_api.ConditionalLogin` becomes a *pending login*:
  its LoginRocket session id and the conditions are kept in ``AUTHROCKET_CACHE`` under a random
  name that the Django session holds (so the ``kss_`` id stays on the server whatever the
  session engine, signed cookies included), and the person is sent to the step the first
  condition names.
* :func:`throttle` is the forms' own per-address limit in front of LoginRocket's.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from . import logins, token_login
from .conf import app_settings
from .exceptions import APIError, CacheUnavailable, InvalidToken
from .loginrocket_api import ConditionalLogin, FullLogin, LoginRocketAPI, LoginRocketError
from .redaction import digest, shown_session
from .shared_cache import shared_cache

logger = logging.getLogger("django_authrocket.login")

#: The Django session's name for the pending login (its cache entry's random name).
PENDING_KEY: Final = "_authrocket_forms_pending"
#: Set in the Django session by a login through the forms: logout ends the LoginRocket session
#: with ``DELETE session`` (the browser has no LoginRocket cookie to end at ``/logout``).
IN_SITE_KEY: Final = "_authrocket_in_site"
#: How long a pending login waits for its next step (LoginRocket's own session lives longer).
PENDING_TTL: Final = 15 * 60

#: Each condition -> the URL name of its step, in the order they are taken.
STEPS: Final = (
    ("login_verification_required", "authrocket:form_verify"),
    ("must_verify_email", "authrocket:form_check_email"),
    ("must_complete_profile", "authrocket:form_profile"),
    ("no_account_selected", "authrocket:form_orgs"),
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A login LoginRocket has not finished: its session, conditions and where to go after."""

    session: str
    conditions: tuple[str, ...]
    next_url: str | None
    account: str | None = None

    def __repr__(self) -> str:  # the session id stays out of reprs and tracebacks
        return f"<Pending {self.conditions}>"

    def has(self, condition: str) -> bool:
        return condition in self.conditions


def _cache() -> Any:
    """The raw cache, for the throttle (which treats any failure of its own)."""
    return caches[app_settings.CACHE]


@sensitive_variables("answer")
def keep_pending(request: HttpRequest, answer: ConditionalLogin, next_url: str | None) -> Pending:
    """Remember a conditional login for its next step; return it. Raises
    :class:`~django_authrocket.exceptions.CacheUnavailable` when the cache fails (an outage:
    the view answers 503)."""
    pending = Pending(answer.session, answer.conditions, next_url, answer.account)
    name = secrets.token_urlsafe(24)
    value = {
        "session": pending.session,
        "conditions": list(pending.conditions),
        "next": next_url,
        "account": pending.account,
    }
    shared_cache().set(_pending_cache_key(name), value, PENDING_TTL)
    forget_pending(request)
    request.session[PENDING_KEY] = name
    return pending


def pending_login(request: HttpRequest) -> Pending | None:
    """The pending login of this browser, or None (none, it timed out, or the cache fails:
    the person then starts the login again)."""
    name = request.session.get(PENDING_KEY)
    if not isinstance(name, str):
        return None
    try:
        value = shared_cache().get(_pending_cache_key(name))
    except CacheUnavailable:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("session"), str):
        return None
    next_url = value.get("next")
    return Pending(
        value["session"],
        tuple(str(item) for item in value.get("conditions") or ()),
        next_url if isinstance(next_url, str) else None,
        value.get("account") if isinstance(value.get("account"), str) else None,
    )


def forget_pending(request: HttpRequest) -> None:
    """Drop this browser's pending login (it finished, or another began)."""
    name = request.session.pop(PENDING_KEY, None)
    if isinstance(name, str):
        with contextlib.suppress(CacheUnavailable):  # the entry expires by itself
            shared_cache().delete(_pending_cache_key(name))


def _pending_cache_key(name: str) -> str:
    return f"authrocket:forms:pending:{digest(name)}"


def step_url(pending: Pending) -> str | None:
    """The URL of the step the pending login's first condition asks for, or None when no
    step of this site handles its conditions."""
    for condition, url_name in STEPS:
        if pending.has(condition):
            return reverse(url_name)
    return None


def next_step(request: HttpRequest, answer: ConditionalLogin, next_url: str | None) -> str | None:
    """Keep a conditional login and return the URL of its next step (None: none of ours)."""
    pending = keep_pending(request, answer, next_url)
    url = step_url(pending)
    if url is None:
        logger.warning(
            "LoginRocket login needs steps this site has none for: %s", answer.conditions
        )
        forget_pending(request)
    return url


@sensitive_variables("answer")
def finish_login(
    request: HttpRequest, answer: FullLogin, next_url: str | None
) -> tuple[HttpResponse | None, bool]:
    """Log the browser in with a ``full_login`` answer, as a ``?token=`` login does.

    Returns ``(None, True)`` on success (the caller redirects), or the failure page's redirect
    and False when the token was refused (verification, replay, an inactive user...).
    """
    forget_pending(request)
    try:
        token_login.log_in_with_token(request, answer.token)
    except (InvalidToken, APIError) as error:
        return token_login.failure_redirect(request, error, next_url), False
    request.session[IN_SITE_KEY] = True
    return None, True


def logged_in_by_forms(request: HttpRequest) -> bool:
    """Whether this Django session's login came through the in-site forms."""
    store = getattr(request, "session", None)
    return bool(store is not None and store.get(IN_SITE_KEY))


def current_session(request: HttpRequest) -> str | None:
    """The LoginRocket session id of the logged-in person, or None."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return None
    return logins.session_id(request)


def end_loginrocket_session(request: HttpRequest, session_id: str) -> bool:
    """``DELETE session`` at LoginRocket (the logout of an in-site login); False when that
    failed, which is logged: a logout goes on whatever LoginRocket says."""
    try:
        LoginRocketAPI.for_request(request).end_session(session_id)
    except LoginRocketError as error:
        if error.kind in ("denied", "not_found"):
            return True  # it had ended already
        logger.warning(
            "Could not end the LoginRocket session %s: %s", shown_session(session_id), error
        )
        return False
    except Exception:  # a logout must never fail on this step
        logger.exception("Could not end the LoginRocket session %s", shown_session(session_id))
        return False
    return True


def throttle(request: HttpRequest, form: str) -> float | None:
    """Count one post of ``form`` from this address; the seconds to wait when over the limit
    (AUTHROCKET_FORMS_THROTTLE), else None.

    A fixed window per address and form in AUTHROCKET_CACHE (the address hashed, not stored).
    A cache that fails does not lock everyone out: the post goes on (LoginRocket's limit stays).
    """
    limit = app_settings.FORMS_THROTTLE
    if not limit:
        return None
    count, seconds = limit
    seconds = max(1, seconds)
    now = time.time()
    window = int(now // seconds)
    address = request.META.get("REMOTE_ADDR") or "unknown"
    key = f"authrocket:forms:throttle:{form}:{digest(address)}:{window}"
    cache = _cache()
    try:
        cache.add(key, 0, seconds + 1)
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds + 1)
        used = 1
    except Exception:
        logger.exception("The in-site forms' throttle could not use the cache")
        return None
    if used > count:
        return max(1.0, (window + 1) * seconds - now)
    return None


def url_with_next(url_name: str, next_url: str | None) -> str:
    """``reverse(url_name)`` with ``?next=`` when there is one."""
    url = reverse(url_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def redirect(url: str) -> HttpResponseRedirect:
    """A 303 (the next page is fetched with a GET), sending no ``Referer`` onwards."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    response["Referrer-Policy"] = "no-referrer"
    return response

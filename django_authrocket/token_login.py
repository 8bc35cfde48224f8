"""Logging a browser in with LoginRocket's ``?token=``: verify, log in, record the login.

Used by :class:`~django_authrocket.views.LoginView` and by the middleware when
``AUTHROCKET_TOKEN_ANYWHERE`` is on, so both behave exactly alike. A refused token is answered
with a redirect to the failure page (``authrocket:login_failed``), so no token stays in the
address bar.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import auth
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from . import logins, redirects
from .backends import backend_path, get_backend
from .conf import app_settings
from .exceptions import APIError, AuthRocketError, InvalidToken
from .identity import AuthRocketSession
from .logins import LoginEntry

FAILURE_TEMPLATE = "authrocket/login_failed.html"

_MESSAGES = {
    "expired": _("This login link has expired."),
    "too_old": _("This login is too old for this page; please log in again."),
    "replayed": _("This login link was already used."),
    "unconfirmed": _("This login was not confirmed in time, or was confirmed already."),
    "session_not_found": _("This login session has ended."),
    "inactive_user": _("This account is disabled on this site."),
    "no_local_user": _("This site does not accept new accounts yet."),
}

#: Reasons AuthRocket's absence causes: the page says so, with a 503.
_UPSTREAM_REASONS = frozenset({"api_error", "keys_unavailable"})

#: Reason codes the package raises with ``InvalidToken(..., reason=...)`` (the subclasses'
#: own codes are found by :func:`_token_reasons`); see docs/troubleshooting.md.
_OTHER_REASONS = frozenset(
    {
        "api_error",
        "invalid",
        "malformed",
        "session_ended",
        "session_not_found",
        "inactive_user",
        "no_local_user",
        "user_conflict",
        "refused",
        "emulator_token",
        "wrong_generation",
    }
)


@sensitive_variables("token")
def log_in_with_token(
    request: HttpRequest, token: str, *, single_use: bool = True
) -> tuple[AbstractBaseUser, AuthRocketSession]:
    """Verify ``token`` through the configured backend and log the request in with it.

    Returns the user and the AuthRocket session; a refusal raises
    :class:`~django_authrocket.exceptions.InvalidToken` or
    :class:`~django_authrocket.exceptions.APIError` (and sends Django's ``user_login_failed``).
    On success the session key and CSRF token are new (``auth.login``) and the login is
    recorded (:func:`django_authrocket.logins.remember`) for rechecks and single sign-out.
    ``single_use=False`` only where the caller has settled the replay question itself (a token
    LoginRocket sent again, :mod:`~django_authrocket.login_confirmation`).
    """
    backend = get_backend()
    try:
        session = backend.check_token(
            token, max_age=app_settings.LOGIN_MAX_AGE, single_use=single_use
        )
    except (InvalidToken, APIError):
        send_login_failed(request)
        raise
    # One transaction for the login's writes (a first login's user and mirror rows, the old
    # session's deletion, last_login, the AuthRocketLogin row): one commit. The token was
    # verified above, outside it: no transaction stays open across a call to AuthRocket.
    refused: InvalidToken | APIError | None = None
    with transaction.atomic():
        try:
            user = backend.user_for_login(request, session)
        except (InvalidToken, APIError) as exc:
            refused = exc  # what the backend wrote before refusing stays, as it would alone
        else:
            previous = LoginEntry.of(request.session)  # a second login or switch replaces it
            if auth.SESSION_KEY in request.session:
                # Logged in already (an account switch, a second login): Django's login() keeps
                # the session key when the user is the same one. A login always gets a new key.
                request.session.cycle_key()
            auth.login(request, user, backend=backend_path())  # type: ignore[arg-type]
            ref = previous.ref if previous else None
            logins.remember(request, session, token, user, replaces=ref)
    if refused is not None:
        send_login_failed(request)
        raise refused
    return user, session


def send_login_failed(request: HttpRequest) -> None:
    """Django's ``user_login_failed`` for a refused token (the token itself masked)."""
    user_login_failed.send(
        sender=__name__,
        credentials={"authrocket_token": "********************"},
        request=request,
    )


def failure_reason(error: AuthRocketError | None) -> str:
    """The reason code a refusal is shown with: the token's ``reason``, or ``"api_error"``."""
    if isinstance(error, APIError):
        return "api_error"
    return getattr(error, "reason", "invalid")


def known_reason(code: str | None) -> str:
    """``code`` if the package can refuse a token with it, else ``"invalid"``.

    The failure page's URL is public and carries the code: only a code the package itself
    raises is shown, so a crafted link can make the page say nothing of its own.
    """
    if code and (code in _OTHER_REASONS or code in _MESSAGES or code in _token_reasons()):
        return code
    return "invalid"


def failure_redirect(
    request: HttpRequest, error: AuthRocketError | None, next_url: str | None
) -> HttpResponseRedirect:
    """The answer to a refused token: a 303 to the failure page, whose URL has no token.

    The page (:func:`failure_page`, at ``authrocket:login_failed``) learns why from
    ``?reason=`` (a known code) and where to go back to from ``?next=`` (checked again there):
    query parameters, not the session, so it works for a first visit, with no session yet.
    """
    query = {"reason": known_reason(failure_reason(error))}
    if next_url:
        query[REDIRECT_FIELD_NAME] = next_url
    response = HttpResponseRedirect(f"{reverse('authrocket:login_failed')}?{urlencode(query)}")
    response.status_code = 303  # "see other": the page, fetched with a GET
    response["Referrer-Policy"] = "no-referrer"  # the token's URL is never sent onwards
    add_never_cache_headers(response)  # it answers a URL that carries a token
    return response


def failure_page(request: HttpRequest, reason: str, next_url: str | None) -> TemplateResponse:
    """The page shown when a login token was refused: why, in plain words, and a way back.

    401, or 503 when AuthRocket could not be asked (so monitoring tells an outage from bad
    input). ``reason`` goes through :func:`known_reason`.
    """
    reason = known_reason(reason)
    upstream = reason in _UPSTREAM_REASONS
    if upstream:
        message = _("The login service could not be reached. Please try again in a moment.")
    else:
        message = _MESSAGES.get(reason, _("This login link is not valid."))
    response = TemplateResponse(
        request,
        FAILURE_TEMPLATE,
        {
            "reason": reason,
            "message": message,
            "retry_url": redirects.login_view_url(request, next_url, absolute=False),
        },
        status=503 if upstream else 401,
    )
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response


def _token_reasons() -> set[str]:
    """The ``reason`` of :class:`InvalidToken` and of every subclass of it."""
    found, todo = set(), [InvalidToken]
    while todo:
        cls = todo.pop()
        found.add(cls.reason)
        todo.extend(cls.__subclasses__())
    return found

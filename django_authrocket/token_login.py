"""Logging a browser in with LoginRocket's ``?token=``: verify, log in, record the login.

Used by :class:`~django_authrocket.views.LoginView` and by the middleware when
``AUTHROCKET_TOKEN_ANYWHERE`` is on, so both behave exactly alike.
"""

from __future__ import annotations

from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from . import logins, redirects
from .backends import backend_path, get_backend
from .conf import app_settings
from .exceptions import APIError, AuthRocketError, InvalidToken, KeysUnavailable
from .identity import AuthRocketSession
from .logins import LoginEntry

FAILURE_TEMPLATE = "authrocket/login_failed.html"

_MESSAGES = {
    "expired": _("This login link has expired."),
    "too_old": _("This login is too old for this page; please log in again."),
    "replayed": _("This login link was already used."),
    "session_not_found": _("This login session has ended."),
    "inactive_user": _("This account is disabled on this site."),
    "no_local_user": _("This site does not accept new accounts yet."),
}


@sensitive_variables("token")
def log_in_with_token(
    request: HttpRequest, token: str
) -> tuple[AbstractBaseUser, AuthRocketSession]:
    """Verify ``token`` through the configured backend and log the request in with it.

    Returns the user and the AuthRocket session; a refusal raises
    :class:`~django_authrocket.exceptions.InvalidToken` or
    :class:`~django_authrocket.exceptions.APIError` (and sends Django's ``user_login_failed``).
    On success the session key and CSRF token are new (``auth.login``) and the login is
    recorded (:func:`django_authrocket.logins.remember`) for rechecks and single sign-out.
    """
    backend = get_backend()
    try:
        user, session = backend.authenticate_token(
            request, token, max_age=app_settings.LOGIN_MAX_AGE, single_use=True
        )
    except (InvalidToken, APIError):
        user_login_failed.send(
            sender=__name__,
            credentials={"authrocket_token": "********************"},
            request=request,
        )
        raise
    # One transaction for the login's writes (the old session's deletion, last_login, the
    # AuthRocketLogin row): one commit instead of three. The token was verified above, outside
    # it: no transaction stays open across a call to AuthRocket.
    with transaction.atomic():
        previous = LoginEntry.of(request.session)  # a second login or account switch replaces it
        if auth.SESSION_KEY in request.session:
            # Logged in already (an account switch, a second login): Django's login() keeps
            # the session key when the user is the same one. A login must always get a new key.
            request.session.cycle_key()
        auth.login(request, user, backend=backend_path())  # type: ignore[arg-type]
        logins.remember(request, session, token, user, replaces=previous.ref if previous else None)
    return user, session


def failure_response(
    request: HttpRequest, error: AuthRocketError | None, next_url: str | None
) -> TemplateResponse:
    """The page shown when a login token is refused: why, in plain words, and a way back."""
    upstream = isinstance(error, APIError | KeysUnavailable)
    reason = getattr(error, "reason", "api_error" if upstream else "invalid")
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
    add_never_cache_headers(response)  # it answers a URL that carries a token
    return response

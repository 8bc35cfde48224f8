"""Taking in LoginRocket's ``?token=``: verify, log in, remember. Used by the login view and by
the middleware when ``AUTHROCKET_TOKEN_ANYWHERE`` is on, so both behave exactly alike.
"""

from __future__ import annotations

import logging

from django.contrib import auth
from django.db import transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from . import links, state
from .backends import login_failure, session_of
from .conf import app_settings
from .exceptions import APIError, AuthRocketError, InvalidToken, KeysUnavailable

logger = logging.getLogger(__name__)

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
def log_in_with_token(request: HttpRequest, token: str) -> AuthRocketError | None:
    """Verify ``token`` and log the request in with it; return why not, or None on success.

    On success the session key and CSRF token are new (``auth.login``), the AuthRocket session
    is remembered in the Django session and linked for single sign-out.
    """
    user = auth.authenticate(
        request,
        authrocket_token=token,
        max_age=app_settings.LOGIN_MAX_AGE,
        single_use=True,
    )
    session = session_of(user)
    if user is None or session is None:
        return login_failure(request) or InvalidToken("login refused")
    # One transaction for the login's writes (the old session's deletion, last_login, the
    # AuthRocketLogin row): one commit instead of three. The token was verified above, outside
    # it: no transaction stays open across a call to AuthRocket.
    with transaction.atomic():
        previous = state.login_ref(request)  # a second login or account switch replaces it
        if auth.SESSION_KEY in request.session:
            # Logged in already (an account switch, a second login): Django's login() keeps
            # the session key when the user is the same one. A login must always get a new key.
            request.session.cycle_key()
        auth.login(request, user)  # new session key and CSRF token: no session fixation
        state.remember(request, session, token, user, replaces=previous)
    return None


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
            "retry_url": links.login_view_url(request, next_url, absolute=False),
        },
        status=503 if upstream else 401,
    )
    response["Referrer-Policy"] = "no-referrer"
    return response

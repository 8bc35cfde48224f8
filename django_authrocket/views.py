"""The views a site includes with ``path("", include("django_authrocket.urls"))``.

``login`` is where LoginRocket sends people back with ``?token=``: it verifies the token, logs
the person in (new session key, new CSRF token), remembers the AuthRocket session, and redirects
to the safe ``next`` with the token gone from the address bar. Without a token it sends the
person to LoginRocket. The other views are redirects to LoginRocket's pages, and logout.
"""

from __future__ import annotations

import logging

from django.contrib import auth
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET

from . import intake, links, state
from .client import AuthRocketClient
from .conf import app_settings
from .exceptions import APIError

logger = logging.getLogger(__name__)


@sensitive_variables("token")
@never_cache
@login_not_required
@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """Finish a LoginRocket login (``?token=``), or start one."""
    next_url = links.next_from(request)
    token = request.GET.get("token")
    if not token:
        return HttpResponseRedirect(
            links.loginrocket_url("login", redirect_uri=links.login_view_url(request, next_url))
        )
    error = intake.log_in_with_token(request, token)
    if error is not None:
        return intake.failure_response(request, error, next_url)
    response = HttpResponseRedirect(next_url or links.after_login_url(request))
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to the next page
    return response


@never_cache
@login_not_required
@require_GET
def signup(request: HttpRequest) -> HttpResponse:
    """Send the person to LoginRocket's sign-up page; they come back through ``login``."""
    return_to = links.login_view_url(request, links.next_from(request))
    invitation = request.GET.get("invitation")
    return HttpResponseRedirect(
        links.loginrocket_url("signup", redirect_uri=return_to, invitation=invitation)
    )


@never_cache
@login_not_required
@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    """Send the person to LoginRocket's profile page, and back to ``next`` afterwards."""
    return_to = request.build_absolute_uri(links.after_login_url(request))
    return HttpResponseRedirect(
        links.loginrocket_url("profile", redirect_uri=return_to, session=state.session_id(request))
    )


@never_cache
@login_not_required
@require_GET
def accounts(request: HttpRequest, org_id: str | None = None) -> HttpResponse:
    """LoginRocket's account switcher (or one org's page); a switch comes back with a new token."""
    page = f"accounts/{org_id}" if org_id else "accounts"
    return_to = links.login_view_url(request, links.next_from(request))
    return HttpResponseRedirect(
        links.loginrocket_url(
            page,
            redirect_uri=return_to,
            session=state.session_id(request),
            force="1" if request.GET.get("force") else None,
        )
    )


@never_cache
@login_not_required
@csrf_protect
def logout(request: HttpRequest) -> HttpResponse:
    """End the Django session, then LoginRocket's (``/logout?session=<sid>``)."""
    allowed = ["POST", "GET"] if app_settings.LOGOUT_ALLOW_GET else ["POST"]
    if request.method not in allowed:
        return HttpResponseNotAllowed(allowed)
    after = links.after_logout_url(request)
    session_id = state.session_id(request)
    if session_id and app_settings.LOGOUT_REVOKE:
        _revoke(session_id)
    auth.logout(request)
    if not session_id:
        return HttpResponseRedirect(after)
    return HttpResponseRedirect(
        links.loginrocket_url(
            "logout", session=session_id, redirect_uri=request.build_absolute_uri(after)
        )
    )


def _revoke(session_id: str) -> None:
    """End the session at AuthRocket too; a failure is logged and the logout goes on."""
    try:
        AuthRocketClient.from_settings().delete_session(session_id)
    except APIError as exc:
        logger.warning("Could not revoke AuthRocket session %s: %s", session_id, exc)
    except Exception:  # a logout must never fail on the revoke step
        logger.exception("Could not revoke AuthRocket session %s", session_id)

"""The views a site includes with ``path("", include("django_authrocket.urls"))``.

:class:`LoginView` is where LoginRocket sends people back with ``?token=``: it verifies the token,
logs the person in (new session key, new CSRF token), records the login, and redirects to the
safe ``next`` with the token gone from the address bar; a refused token is sent to
:func:`login_failed_page`, a URL with no token either. A token this browser did not ask for
(login CSRF) waits for the person at :class:`LoginConfirmView`. Without a token it sends the
person to LoginRocket. The other views are redirects to LoginRocket's pages, and logout; every
journey to LoginRocket leaves the login marker (:mod:`~django_authrocket.login_marker`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import auth
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_not_required
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET

from . import (
    form_flow,
    login_confirmation,
    login_marker,
    logins,
    redirects,
    reports,
    signout,
    token_login,
)
from .conf import app_settings
from .exceptions import AuthRocketError
from .identity import AuthRocketSession


class _OutsideTransactions(View):
    """A view that spends login tokens: see :meth:`as_view`."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        """The view, outside ``ATOMIC_REQUESTS`` on every database: the token's replay mark
        (a database cache's row too) must outlive a later error, and no transaction may stay
        open across the call to AuthRocket. The login's own writes share one transaction."""
        view = super().as_view(**initkwargs)
        for alias in connections:
            view = transaction.non_atomic_requests(alias)(view)
        return view


@method_decorator([never_cache, login_not_required], name="dispatch")
class LoginView(_OutsideTransactions):
    """Finish a LoginRocket login (``?token=``), or start one.

    Override a hook to change one thing, as with Django's own ``LoginView``:
    :meth:`get_success_url` (where to go after a login), :meth:`login_succeeded` (the response
    after a login) and :meth:`login_failed` (the response to a refused token). A login that
    waits for the person's confirmation (:class:`LoginConfirmView`) ends at the success URL.
    """

    http_method_names = ["get"]  # a HEAD must not spend a login token

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        # First thing, whatever the method: the token is masked in the request (so in Django's
        # error reports, and in the log record of a 405) before anything else can fail.
        reports.take_token(request)
        super().setup(request, *args, **kwargs)

    @method_decorator(sensitive_variables("token"))
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = reports.take_token(request)  # masked in the request since setup()
        if not token:
            return self.start_login()
        # Logs in, or asks the person first (a token this browser did not ask for: login CSRF).
        return login_confirmation.arrive(
            request,
            token,
            next_url=self.get_next_url(),
            success_url=self.get_success_url(),
            succeeded=self.login_succeeded,
            failed=self.login_failed,
        )

    def get_next_url(self) -> str | None:
        """The safe ``next`` of this request, or None."""
        return redirects.next_from(self.request)

    def get_success_url(self) -> str:
        """Where a person goes after logging in: the safe ``next``, else LOGIN_REDIRECT_URL."""
        return redirects.after_login_url(self.request)

    def start_login(self) -> HttpResponse:
        """No token: send the person to LoginRocket, which comes back here with one."""
        # Back to this very view, wherever the site mounted it (a subclass at its own path too).
        query = (
            urlencode({REDIRECT_FIELD_NAME: next_url}) if (next_url := self.get_next_url()) else ""
        )
        return_to = self.request.build_absolute_uri(
            self.request.path + (f"?{query}" if query else "")
        )
        response = HttpResponseRedirect(redirects.loginrocket_url("login", redirect_uri=return_to))
        return login_marker.leave(self.request, response)

    def login_succeeded(self, user: AbstractBaseUser, session: AuthRocketSession) -> HttpResponse:
        """The response after a login: a redirect to :meth:`get_success_url`."""
        response = HttpResponseRedirect(self.get_success_url())
        response["Referrer-Policy"] = "no-referrer"  # the token must not leak to the next page
        return response

    def login_failed(self, error: AuthRocketError) -> HttpResponse:
        """The response to a refused token: a 303 to :func:`login_failed_page` (a URL with no
        token), which says why, with a way to try again."""
        return token_login.failure_redirect(self.request, error, self.get_next_url())


@method_decorator([never_cache, login_not_required, csrf_protect], name="dispatch")
class LoginConfirmView(_OutsideTransactions):
    """The confirmation page of a login this browser did not start here (GET), and the
    confirmation itself (POST, with Django's CSRF token): see
    :mod:`~django_authrocket.login_confirmation`. Template ``authrocket/login_confirm.html``."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return login_confirmation.page(request)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return login_confirmation.complete(request)


@never_cache
@login_not_required
@require_GET
def login_failed_page(request: HttpRequest) -> HttpResponse:
    """The page a refused login lands on: ``?reason=`` (a known code) and the safe ``next``.

    401, or 503 when AuthRocket could not be reached.
    """
    return token_login.failure_page(
        request, request.GET.get("reason", ""), redirects.next_from(request)
    )


@never_cache
@login_not_required
@require_GET
def signup(request: HttpRequest) -> HttpResponse:
    """Send the person to LoginRocket's sign-up page; they come back through ``login``."""
    return_to = redirects.login_view_url(request, redirects.next_from(request))
    invitation = request.GET.get("invitation")
    return _no_referrer(
        login_marker.leave(
            request,
            HttpResponseRedirect(
                redirects.loginrocket_url("signup", redirect_uri=return_to, invitation=invitation)
            ),
        )
    )


@never_cache
@login_not_required
@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    """Send the person to LoginRocket's profile page, and back to ``next`` afterwards.

    No ``session=``: LoginRocket knows the person by its own cookie, as AuthRocket's Rails
    helper assumes, and a session id is a credential best kept out of URLs.
    """
    return_to = request.build_absolute_uri(redirects.after_login_url(request))
    return _no_referrer(
        login_marker.leave(
            request,
            HttpResponseRedirect(redirects.loginrocket_url("profile", redirect_uri=return_to)),
        )
    )


@never_cache
@login_not_required
@require_GET
def accounts(request: HttpRequest, org_id: str | None = None) -> HttpResponse:
    """LoginRocket's account switcher (or one org's page); a switch comes back with a new token.

    No ``session=``, as for :func:`profile`.
    """
    page = f"accounts/{quote(org_id, safe='')}" if org_id else "accounts"
    return_to = redirects.login_view_url(request, redirects.next_from(request))
    return _no_referrer(
        login_marker.leave(
            request,
            HttpResponseRedirect(
                redirects.loginrocket_url(
                    page, redirect_uri=return_to, force="1" if request.GET.get("force") else None
                )
            ),
        )
    )


@never_cache
@login_not_required
@csrf_protect
def logout(request: HttpRequest) -> HttpResponse:
    """End the Django session, then LoginRocket's (``/logout?session=<sid>``).

    The one LoginRocket URL that carries the session id: it names the session LoginRocket
    ends (AuthRocket's own libraries send it). With ``redirect_uri`` LoginRocket answers with a
    redirect, not a page, and a ``Referer`` names pages only; this redirect also says
    ``Referrer-Policy: no-referrer`` for the chain it starts.
    """
    allowed = ["POST", "GET"] if app_settings.LOGOUT_ALLOW_GET else ["POST"]
    if request.method not in allowed:
        return HttpResponseNotAllowed(allowed)
    after = redirects.after_logout_url(request)
    session_id = logins.session_id(request)
    in_site = form_flow.logged_in_by_forms(request)
    if session_id and in_site:
        # A login through the in-site forms: the browser has no LoginRocket cookie, so the
        # LoginRocket session is ended by its API (DELETE session), and no hop to /logout.
        form_flow.end_loginrocket_session(request, session_id)
    if session_id and app_settings.LOGOUT_REVOKE:
        signout.revoke_session(session_id)
    auth.logout(request)
    if not session_id or in_site:
        return HttpResponseRedirect(after)
    return _no_referrer(
        HttpResponseRedirect(
            redirects.loginrocket_url(
                "logout", session=session_id, redirect_uri=request.build_absolute_uri(after)
            )
        )
    )


def _no_referrer(response: HttpResponse) -> HttpResponse:
    """No ``Referer`` from this redirect on: the next request names no page of this site, and
    a LoginRocket URL with ``session=`` is never sent onwards as one."""
    response["Referrer-Policy"] = "no-referrer"
    return response

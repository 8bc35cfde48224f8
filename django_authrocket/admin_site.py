"""How the Django admin meets AuthRocket: its login page offers LoginRocket, its logout ends it.

* The login page. :func:`install` gives each admin site that has no ``login_template`` of its own
  ``authrocket/admin/login.html``: the admin's page (it extends ``admin/login.html``, a site's
  override of it included) with "Log in with AuthRocket" above the password form. An attribute of
  the site, not a template that shadows ``admin/login.html``, so it works wherever
  ``django_authrocket`` stands in ``INSTALLED_APPS`` (``INSTALLED_APPS += [...]`` puts it after
  the admin, whose own template would win). ``AUTHROCKET_ADMIN_LOGIN = False`` hides the button.
  A site with its own ``login_template`` is told by ``authrocket.W030``.
* The logout. The admin's "Log out" ends the Django session, as Django does; for an AuthRocket
  login, :func:`note_logout` (a ``user_logged_out`` receiver) also revokes the session at
  AuthRocket with ``AUTHROCKET_LOGOUT_REVOKE``, and :func:`logout_response` (called by the
  middleware) sends the browser through LoginRocket's ``/logout``, as the package's logout view
  does, so LoginRocket does not log the person straight back in.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from . import logins, redirects, signout
from .conf import app_settings
from .identity import AuthRocketSession

LOGIN_TEMPLATE = "authrocket/admin/login.html"

#: Set on the request by :func:`note_logout`: the AuthRocket session an admin logout ended.
ENDED_ATTR = "_authrocket_admin_logout"


def admin_sites() -> list[Any]:
    """Every ``AdminSite`` instance made so far (none without ``django.contrib.admin``)."""
    if not apps.is_installed("django.contrib.admin"):
        return []
    from django.contrib.admin.sites import all_sites, site

    return [site, *(s for s in all_sites if s is not site)]


def install() -> None:
    """Give each admin site without a login template of its own :data:`LOGIN_TEMPLATE`
    (``AppConfig.ready()``; a site made later can set ``login_template`` itself)."""
    for admin_site in admin_sites():
        if admin_site.login_template is None:
            admin_site.login_template = LOGIN_TEMPLATE


def is_admin_logout(request: HttpRequest) -> bool:
    """Whether this request is an admin site's logout view."""
    match = getattr(request, "resolver_match", None)
    return match is not None and match.app_name == "admin" and match.url_name == "logout"


def note_logout(sender: Any = None, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """A ``user_logged_out`` receiver: remember which AuthRocket session an admin logout ends
    (for :func:`logout_response`), and revoke it at AuthRocket with ``AUTHROCKET_LOGOUT_REVOKE``
    (as the package's logout view does). Other logouts are left to their views."""
    if request is None or not is_admin_logout(request):
        return
    current = getattr(request, "authrocket", None)
    session_id = current.id if isinstance(current, AuthRocketSession) else None
    session_id = session_id or logins.session_id(request)
    if not session_id:
        return
    if app_settings.LOGOUT_REVOKE:
        signout.revoke_session(session_id)
    setattr(request, ENDED_ATTR, session_id)


def logout_response(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """After an admin logout of an AuthRocket login: a redirect through LoginRocket's logout
    (``session=``, as the logout view sends it), back to ``LOGOUT_REDIRECT_URL`` or the app's
    "You are logged out" page. Any other response is returned as it is."""
    session_id = getattr(request, ENDED_ATTR, None)
    if not session_id or response.status_code not in (200, 302, 303):
        return response
    after = request.build_absolute_uri(redirects.after_logout_url(request))
    try:
        to = redirects.loginrocket_url("logout", session=session_id, redirect_uri=after)
    except ImproperlyConfigured:  # no LoginRocket URL any more: the admin's own answer
        return response
    redirect = HttpResponseRedirect(to)
    redirect["Referrer-Policy"] = "no-referrer"
    redirect["Cache-Control"] = "no-store"
    for name, cookie in response.cookies.items():  # the emptied session cookie, the CSRF one
        redirect.cookies[name] = cookie
    return redirect

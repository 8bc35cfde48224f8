"""Where to send people: safe return addresses, this site's login view and LoginRocket's pages.

Every redirect target that comes from the request (``next``) goes through :func:`safe_next`
(Django's ``url_has_allowed_host_and_scheme`` against this host, https required on secure
requests); anything else falls back to a configured URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from django.conf import global_settings, settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .conf import app_settings

#: Django's default ``LOGIN_REDIRECT_URL``: a site that leaves it gets :func:`default_landing`.
DJANGO_LOGIN_REDIRECT_URL = str(global_settings.LOGIN_REDIRECT_URL)


def safe_next(request: HttpRequest, url: str | None) -> str | None:
    """``url`` if it is safe to redirect to from this request, else ``None``.

    Surrounding whitespace is stripped first: it is what Django's check looks at, so the
    value used is the value checked (``"\t/"`` is ``"/"``, not a path that starts with a tab).
    A value with a control character inside is refused: Python's URL parser drops tabs and
    newlines before Django checks it, the redirect keeps them (``"//\t/"`` is checked as
    ``"///"``, a path, and sent as ``"//%09/"``, a host).
    """
    url = url.strip() if url else url
    if not url or any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return None
    allowed = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if allowed else None


def next_from(request: HttpRequest) -> str | None:
    """The safe ``next`` of this request (query string, or form for POST)."""
    value = request.POST.get(REDIRECT_FIELD_NAME) if request.method == "POST" else None
    return safe_next(request, value or request.GET.get(REDIRECT_FIELD_NAME))


def after_login_url(request: HttpRequest) -> str:
    """The safe ``next``, else ``LOGIN_REDIRECT_URL``, else (see :func:`default_landing`) a
    page the site has."""
    if next_url := next_from(request):
        return next_url
    if settings.LOGIN_REDIRECT_URL != DJANGO_LOGIN_REDIRECT_URL:
        return resolve_url(settings.LOGIN_REDIRECT_URL)
    return default_landing(request)


def default_landing(request: HttpRequest) -> str:
    """Where a login lands while ``LOGIN_REDIRECT_URL`` is Django's default,
    ``/accounts/profile/``, a page a new ``startproject`` site does not have: that page when
    the site has one (not this app's ``accounts/<org_id>/``), else ``/`` when the site has
    one, else the admin for staff, else the app's "You are logged in" page (``/`` without
    ``django_authrocket.urls``)."""
    for candidate in (DJANGO_LOGIN_REDIRECT_URL, "/"):
        if _resolves(candidate):
            return candidate
    candidates = ["authrocket:logged_in"]
    if getattr(getattr(request, "user", None), "is_staff", False):
        candidates.insert(0, "admin:index")
    for name in candidates:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/"


def _resolves(path: str) -> bool:
    """Whether the site has a page of its own at ``path``: not one of this app's views (with
    the app at ``""``, ``/accounts/profile/`` is its ``accounts_org``, for an org "profile")."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return "authrocket" not in match.app_names


def after_logout_url(request: HttpRequest) -> str:
    """The safe ``next``, else ``LOGOUT_REDIRECT_URL``, else the app's "You are logged out" page.

    Not ``/``: a new ``startproject`` site has no page there, and a logout must land somewhere
    real. A site that includes the views without ``django_authrocket.urls`` falls back to ``/``.
    """
    if next_url := next_from(request):
        return next_url
    if settings.LOGOUT_REDIRECT_URL:
        return resolve_url(settings.LOGOUT_REDIRECT_URL)
    try:
        return reverse("authrocket:logged_out")
    except NoReverseMatch:
        return "/"


def url_with_next(viewname: str, next_url: str | None, args: Sequence[str] = ()) -> str:
    """The path of one of this site's views, carrying ``?next=`` when there is one."""
    url = reverse(viewname, args=args)
    if next_url:
        url = f"{url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"
    return url


def login_view_url(request: HttpRequest, next_url: str | None, *, absolute: bool = True) -> str:
    """This site's login view, carrying ``next`` (the return address LoginRocket goes back to)."""
    url = url_with_next("authrocket:login", next_url)
    return request.build_absolute_uri(url) if absolute else url


def loginrocket_url(page: str, **params: str | None) -> str:
    """``<AUTHROCKET_LOGINROCKET_URL>/<page>?<params>`` (params that are None are left out)."""
    base = app_settings.LOGINROCKET_URL
    if not base:
        raise ImproperlyConfigured(
            "AUTHROCKET_LOGINROCKET_URL is not set (nor LOGINROCKET_URL): people cannot be sent "
            "to log in. Run manage.py check for details."
        )
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{base}/{page.lstrip('/')}" + (f"?{query}" if query else "")

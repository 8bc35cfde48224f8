"""``{% authrocket_admin_login %}``: the "Log in with AuthRocket" button of the admin's login page.

Used by ``authrocket/admin/login.html``; a site with its own admin login template can load
``authrocket_admin`` and put the tag where it likes.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.template.context import Context
from django.urls import NoReverseMatch, reverse

from django_authrocket.conf import app_settings
from django_authrocket.redirects import safe_next, url_with_next

register = template.Library()


@register.inclusion_tag("authrocket/admin/login_button.html", takes_context=True)
def authrocket_admin_login(context: Context) -> dict[str, Any]:
    """A link to the login view carrying the admin's ``next``; nothing with
    ``AUTHROCKET_ADMIN_LOGIN`` off, without ``django_authrocket.urls``, or for a browser logged
    in through AuthRocket already (its AuthRocket account is not staff here: logging in again
    would bring back the same person)."""
    request = getattr(context, "request", None)
    if (
        not app_settings.ADMIN_LOGIN
        or request is None
        or getattr(request, "authrocket", None) is not None
    ):
        return {"login_url": None}
    try:
        next_url = safe_next(request, context.get("next")) or _admin_index(request)
        return {"login_url": url_with_next("authrocket:login", next_url)}
    except NoReverseMatch:
        return {"login_url": None}


def _admin_index(request: HttpRequest) -> str | None:
    """The index of the admin site this page belongs to (where an unsafe ``next`` leads)."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.app_name != "admin":
        return None
    return reverse(f"{match.namespace}:index")

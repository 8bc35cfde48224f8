"""Template tags: ``{% load authrocket %}``.

Links to this site's AuthRocket views, each carrying ``?next=`` (the current page, when the
template has ``request`` in its context, or the ``next`` you give) so the person comes back::

    <a href="{% authrocket_login_url %}">Log in</a>
    <a href="{% authrocket_signup_url %}">Sign up</a>
    <a href="{% authrocket_profile_url %}">Your profile</a>
    <a href="{% authrocket_accounts_url %}">Switch account</a>
    <a href="{% authrocket_accounts_url org.id %}">Manage {{ org.name }}</a>
    {% authrocket_login_url next="/welcome/" as login_url %}

Logout is a POST (a GET logout can be triggered by any page embedding an image), so it is a
form, rendered from ``authrocket/logout_form.html`` (override it to style it)::

    {% authrocket_logout_form %}
    {% authrocket_logout_form "Sign out" "/goodbye/" %}

Permissions of the AuthRocket session (the ``authrocket`` context variable of the context
processor), with AuthRocket's wildcards (``billing:*`` covers ``billing:read``)::

    {% if authrocket|has_authrocket_perm:"ar:admin" %}...{% endif %}

The filter also takes a single membership, to ask about one org. All the person's orgs, the
selected one first (the token's; the others from the mirror)::

    {% for membership in authrocket|authrocket_memberships %}
      {{ membership.org.name }}: {{ membership|has_authrocket_perm:"billing:read" }}
    {% endfor %}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.template.context import Context
from django.urls import reverse
from django.utils.translation import gettext

from django_authrocket import access
from django_authrocket.identity import AuthRocketSession, Membership, is_authrocket_id
from django_authrocket.models import AuthRocketMembership
from django_authrocket.redirects import url_with_next

register = template.Library()


@register.simple_tag(takes_context=True)
def authrocket_login_url(context: Context, next: str | None = None) -> str:
    """This site's login URL (``authrocket:login``), with ``?next=``."""
    return _url_with_next(context, "authrocket:login", next=next)


@register.simple_tag(takes_context=True)
def authrocket_signup_url(context: Context, next: str | None = None) -> str:
    """This site's sign-up URL (``authrocket:signup``), with ``?next=``."""
    return _url_with_next(context, "authrocket:signup", next=next)


@register.simple_tag(takes_context=True)
def authrocket_profile_url(context: Context, next: str | None = None) -> str:
    """This site's profile URL (``authrocket:profile``), with ``?next=``."""
    return _url_with_next(context, "authrocket:profile", next=next)


@register.simple_tag(takes_context=True)
def authrocket_accounts_url(
    context: Context, org_id: str | None = None, next: str | None = None
) -> str:
    """The account switcher (``authrocket:accounts``), or the page of the org ``org_id`` (the
    switcher for a value that is no AuthRocket id, which that page's URL refuses)."""
    if org_id and is_authrocket_id(org_id):
        return _url_with_next(context, "authrocket:accounts_org", (org_id,), next=next)
    return _url_with_next(context, "authrocket:accounts", next=next)


@register.inclusion_tag("authrocket/logout_form.html", takes_context=True)
def authrocket_logout_form(
    context: Context, button_text: str | None = None, next: str | None = None
) -> dict[str, Any]:
    """A POST form to ``authrocket:logout`` with the CSRF token and a button.

    ``next`` is where to land after logging out (default: ``LOGOUT_REDIRECT_URL``).
    """
    return {
        "action": reverse("authrocket:logout"),
        "button_text": button_text or gettext("Log out"),
        "next": next,
    }


@register.filter
def has_authrocket_perm(value: Any, permission: str) -> bool:
    """Whether the session (its selected membership) or the membership grants ``permission``.

    A session without org data in its token asks the mirror (:func:`django_authrocket.access.
    has_perm`). ``None`` (nobody logged in through AuthRocket) has no permissions.
    """
    if isinstance(value, AuthRocketSession):
        return access.has_perm(value, permission)
    if isinstance(value, Membership | AuthRocketMembership):
        return value.has_perm(permission)
    return False


@register.filter
def authrocket_memberships(value: Any) -> list[Membership]:
    """All the session's memberships (:func:`django_authrocket.access.memberships`); none for
    anything that is not a session."""
    if isinstance(value, AuthRocketSession):
        return access.memberships(value)
    return []


def _url_with_next(
    context: Context,
    viewname: str,
    args: Sequence[str] = (),
    *,
    next: str | None,
) -> str:
    if next is None:
        request = context.get("request")
        next = request.get_full_path() if request is not None else None
    return url_with_next(viewname, next, args)

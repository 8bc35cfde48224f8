"""The signed cookies a login leaves in the browser: the login marker, and the browser's id.

LoginRocket has no ``state`` parameter: nothing it sends back with ``?token=`` says that this
browser asked for that login. So every start of a journey to LoginRocket on this site (the
login view, sign-up, the profile and account pages) sets a short-lived cookie, and a token that
arrives without it is confirmed by the person first (:mod:`django_authrocket.login_confirmation`).

The cookie is signed with Django's signing (``SECRET_KEY``, its own salt, a timestamp checked
against :data:`MAX_AGE`), ``HttpOnly``, ``SameSite=Lax`` (it comes back on LoginRocket's
top-level redirect to this site) and ``Secure`` on a secure request. It holds a random nonce
and the time it was set, nothing about the person. A forged, tampered or expired cookie reads
as no marker. A successful login consumes it.

A login through a URL also leaves a second signed cookie, the browser's id (a random value,
kept across logins, living as long as the login's token): the replay rules use it to tell the
browser that spent a token from any other (:mod:`~django_authrocket.login_confirmation`). Its
path is the login view its token came to (the whole site with ``AUTHROCKET_TOKEN_ANYWHERE``), so
the browser does not send it with every request.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TypeVar

from django.http import HttpRequest
from django.http.response import HttpResponseBase

#: The cookie's name.
COOKIE_NAME = "authrocket_login"
#: The salt of its signature: a value signed for another purpose never reads as a marker.
SALT = "django_authrocket.login_marker"
#: How long a journey to LoginRocket may take, in seconds: the cookie's lifetime.
MAX_AGE = 15 * 60

#: The browser id's cookie, and the salt of its signature.
BROWSER_COOKIE = "authrocket_browser"
BROWSER_SALT = "django_authrocket.login_browser"
#: The oldest browser id cookie read, in seconds: longer than any login token lives.
BROWSER_MAX_AGE = 30 * 24 * 3600

ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)


@dataclass(frozen=True)
class Marker:
    """A marker read from a request: its nonce and when this site set it (unix seconds)."""

    nonce: str
    set_at: float


#: ``Sec-Fetch-Site`` values of a start this site may vouch for: from one of its own pages,
#: or typed, a bookmark, another application (``none``). A browser that sends no such header
#: (none current) is taken at its word, as before the header existed.
_OWN_STARTS = frozenset({"same-origin", "none"})


def leave(request: HttpRequest, response: ResponseT) -> ResponseT:
    """Set a new marker on ``response`` (a redirect to LoginRocket); returns ``response``.

    Not for a start another site caused (``Sec-Fetch-Site`` ``cross-site`` or ``same-site``):
    its page could open this start in a window, then send the browser a token of its own, which
    would then log in without the confirmation. Such a login asks for the confirmation instead.
    """
    if request.headers.get("Sec-Fetch-Site", "none") not in _OWN_STARTS:
        return response
    value = f"{secrets.token_urlsafe(16)}:{time.time():.6f}"
    response.set_signed_cookie(
        COOKIE_NAME,
        value,
        salt=SALT,
        max_age=MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def read(request: HttpRequest) -> Marker | None:
    """The request's marker, or None: absent, forged, tampered with, or older than MAX_AGE."""
    value = request.get_signed_cookie(COOKIE_NAME, default=None, salt=SALT, max_age=MAX_AGE)
    if not value:
        return None
    nonce, _, set_at = value.partition(":")
    try:
        moment = float(set_at)
    except ValueError:
        return None
    return Marker(nonce, moment) if nonce else None


def consume(response: ResponseT) -> ResponseT:
    """Remove the marker (at a successful login); returns ``response``."""
    response.delete_cookie(COOKIE_NAME, samesite="Lax")
    return response


def browser_id(request: HttpRequest) -> str | None:
    """The id this site gave the browser at an earlier login, or None (or forged, or old)."""
    value = request.get_signed_cookie(
        BROWSER_COOKIE, default=None, salt=BROWSER_SALT, max_age=BROWSER_MAX_AGE
    )
    return value or None


def keep_browser(
    request: HttpRequest, response: HttpResponseBase, lifetime: int, *, path: str = "/"
) -> str:
    """Give the browser its id (the one it has, else a new one) for ``lifetime`` seconds at
    least, on ``response``; returns the id. ``path`` is where tokens arrive: the browser sends
    the cookie there only, not with every request to the site."""
    value = browser_id(request) or secrets.token_urlsafe(16)
    response.set_signed_cookie(
        BROWSER_COOKIE,
        value,
        salt=BROWSER_SALT,
        max_age=min(lifetime, BROWSER_MAX_AGE),
        path=path,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return value

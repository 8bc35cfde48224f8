"""``Authorization: Bearer <LoginRocket token>``: the request's user, for that request only.

A single-page or mobile app that logged in through the LoginRocket API sends its token with each
call. :func:`authenticate` reads the header, checks the token through the configured backend
(:meth:`~django_authrocket.backends.AuthRocketBackend.verify_bearer_token`: the signature, or
Get Session through the shared recheck cache in ``"api"`` mode; a token that logged a browser in,
or whose session was logged out here, is refused) and finds the local user: no session, no
cookie. The middleware (on the paths of ``AUTHROCKET_BEARER_URLS`` only) and the DRF class both
call it, so they read the header the same way (:func:`token_from_header`); the second caller
reuses the first one's result only when it came from the very same header value.

Bearer never authenticates a Django admin site (:func:`is_admin`): the admin trusts
``is_staff`` alone, and needs the CSRF check that Bearer requests skip.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.views.decorators.debug import sensitive_variables

from . import reports
from .backends import get_backend
from .exceptions import InvalidToken
from .identity import AuthRocketSession

#: The application namespace every ``AdminSite.urls`` is included under, whatever its name.
ADMIN_APP_NAME = "admin"
#: Where :func:`authenticate` leaves its result: ``(header value, user, session)``.
_RESULT_ATTR = "_authrocket_bearer"


def token_from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None for other schemes.

    The scheme is case-insensitive and separated from the token by any whitespace (a space, a
    tab), as DRF's own parser does. A Bearer header whose value is not one token (``Bearer``,
    ``Bearer a b``) raises :class:`~django_authrocket.exceptions.InvalidToken`.
    """
    scheme, rest = _split(value)
    return _one_token(rest) if scheme.lower() == "bearer" else None


def is_admin(request: HttpRequest) -> bool:
    """Whether the request is for a Django admin site (any ``AdminSite``, wherever mounted).

    Decided by the view the path resolves to, the one Django will run: its URL belongs to the
    ``admin`` application namespace (every ``AdminSite.urls`` does), or it is a view the admin
    wrapped for one of its sites or model admins.
    """
    match = getattr(request, "resolver_match", None)  # set once Django resolved the view
    if match is None:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False  # no view answers there: nothing to authenticate for
    func = match.func
    return (
        ADMIN_APP_NAME in match.app_names
        or hasattr(func, "admin_site")
        or hasattr(func, "model_admin")
    )


@sensitive_variables("header", "rest", "token", "known")
def authenticate(request: HttpRequest) -> tuple[AbstractBaseUser, AuthRocketSession] | None:
    """The user and AuthRocket session of this request's Bearer token; None without one.

    None as well on a Django admin page, whatever the header says. A second call for the same
    request (the middleware, then DRF) returns the first result without verifying again, but
    only while the ``Authorization`` header is the one that result came from.

    Raises :class:`~django_authrocket.exceptions.InvalidToken` (answer 401: a bad token, a
    refused session, an inactive user) or :class:`~django_authrocket.exceptions.APIError`
    (answer 503: AuthRocket or its keys could not be reached).
    """
    header = request.META.get("HTTP_AUTHORIZATION")
    known = getattr(request, _RESULT_ATTR, None)
    if known is not None and known[0] == header:
        return known[1], known[2]
    # The header's credentials, out of error reports' local variables too, whatever DEBUG says:
    # here, the one place both the middleware and DRF's authentication class read it.
    reports.hide_authorization(request)
    scheme, rest = _split(header)
    if scheme.lower() != "bearer" or is_admin(request):
        return None
    token = _one_token(rest)
    backend = get_backend()
    session = backend.verify_bearer_token(token)
    user = backend.user_for_session(session)
    if user is None:
        raise InvalidToken("the account is disabled", reason="inactive_user")
    setattr(request, _RESULT_ATTR, (header, user, session))
    return user, session


def _one_token(rest: str) -> str:
    if not rest or any(char.isspace() for char in rest):
        raise InvalidToken("the Authorization header is not 'Bearer <token>'", reason="malformed")
    return rest


def _split(value: str | None) -> tuple[str, str]:
    """The scheme and the rest of an ``Authorization`` value, split at the first whitespace."""
    parts = (value or "").split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""

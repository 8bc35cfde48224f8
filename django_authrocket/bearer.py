"""``Authorization: Bearer <LoginRocket token>``: the request's user, for that request only.

A single-page or mobile app that logged in through the LoginRocket API sends its token with each
call. :func:`authenticate` reads the header, checks the token through the configured backend
(:meth:`~django_authrocket.backends.AuthRocketBackend.verify_bearer_token`: the signature, or
Get Session through the shared recheck cache in ``"api"`` mode) and finds the local user: no
session, no cookie. The middleware and the DRF class both call it, so they agree.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from .backends import get_backend
from .exceptions import InvalidToken
from .identity import AuthRocketSession


def token_from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None for other schemes.

    A Bearer header whose value is not one token (``Bearer a b``) raises
    :class:`~django_authrocket.exceptions.InvalidToken`.
    """
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = rest.strip()
    if not token or any(char.isspace() for char in token):
        raise InvalidToken("the Authorization header is not 'Bearer <token>'", reason="malformed")
    return token


def authenticate(request: HttpRequest) -> tuple[AbstractBaseUser, AuthRocketSession] | None:
    """The user and AuthRocket session of this request's Bearer token; None without one.

    Raises :class:`~django_authrocket.exceptions.InvalidToken` (answer 401: a bad token, a
    refused session, an inactive user) or :class:`~django_authrocket.exceptions.APIError`
    (answer 503: AuthRocket or its keys could not be reached).
    """
    token = token_from_header(request.META.get("HTTP_AUTHORIZATION"))
    if token is None:
        return None
    backend = get_backend()
    session = backend.verify_bearer_token(token)
    user = backend.user_for_session(session)
    if user is None:
        raise InvalidToken("the account is disabled", reason="inactive_user")
    return user, session

"""``Authorization: Bearer <LoginRocket token>`` for API views (middleware and DRF alike).

A single-page or mobile app that logged in through the LoginRocket API sends its token with each
call. The token is checked the configured way (signature, or Get Session through the shared
recheck cache in ``"api"`` mode) and the request runs as the matching local user, for that
request only: no session, no cookie.
"""

from __future__ import annotations

from django.contrib.auth import get_backends
from django.contrib.auth.base_user import AbstractBaseUser
from django.views.decorators.debug import sensitive_variables

from . import recheck
from .backends import AuthRocketBackend
from .client import AuthRocketClient
from .conf import app_settings
from .exceptions import ExpiredToken, InvalidToken
from .identity import AuthRocketSession
from .jws import parse as parse_jws
from .tokens import verify_token


def token_from_header(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None for other schemes."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


@sensitive_variables("token")
def verify_bearer(token: str) -> AuthRocketSession:
    """Check a bearer token; raise InvalidToken (-> 401) or APIError (-> 503)."""
    if not token:
        raise InvalidToken("empty bearer token", reason="malformed")
    if app_settings.VERIFY != "api":
        return verify_token(token)
    parse_jws(token)  # garbage never reaches the API
    # Keyed by the token itself, never by a session id read from it: the claims of a bearer
    # token are unverified here, so a forged token naming someone's session id must not find
    # that session's cached answer.
    verdict = recheck.check_session(token, token)
    if not verdict.alive or verdict.answer is None:
        if verdict.reason == "expired":
            raise ExpiredToken("the AuthRocket session has expired")
        raise InvalidToken("AuthRocket says this session has ended", reason="session_not_found")
    if AuthRocketClient.from_settings().generation == 1:
        return AuthRocketSession.from_api(verdict.answer, generation=1)
    return AuthRocketSession.from_api(verdict.answer, generation=2)


def user_for(session: AuthRocketSession) -> AbstractBaseUser | None:
    """The local user of a verified bearer session, through the configured AuthRocket backend."""
    for backend in get_backends():
        if isinstance(backend, AuthRocketBackend):
            return backend.user_for_session(session)
    return AuthRocketBackend().user_for_session(session)

"""Get Session, made whole: AuthRocket's answer about a session, with the user it only names.

AuthRocket 2's session object (authrocket.com/docs/api/sessions, "Fields") is ``id``,
``client_app_id``, ``created_at``, ``expires_at``, ``token``, ``user_id`` and ``request``: it
names its user, it does not embed them (AuthRocket 1's answer did, and the official libraries
never rely on it). :func:`fetch` asks Get Session and completes the answer into the one shape
the rest of the package reads: the session with its ``user`` embedded, and in the user their
``memberships``, each with its ``org``.

1. An answer that embeds its user (AuthRocket 1) is taken as it is.
2. Else the answer's ``token``, the session's own login token, is decoded here when it verifies
   (:func:`~django_authrocket.tokens.verify_token`: the configured key or LoginRocket's key
   set, every rule of ``"jwt"`` mode) and names this session and this user. The user and the
   orgs come from its claims, as the official libraries build a session from a token
   (authrocket-node lib/session.js ``jwtToSession``). A token without org data (a realm whose
   settings leave it out: authrocket.com/docs/ui_guide/settings_sessions) has its user's
   memberships read (``GET /memberships?user_id=``), as in 3.
3. Else (no token, or one that does not verify: expired, another key, LoginRocket's keys out
   of reach) the user is read (``GET /users/:id``) with their memberships
   (``GET /memberships?user_id=``, which "will include the associated org records":
   authrocket.com/docs/api/memberships).

A user or session that AuthRocket no longer knows is :class:`~django_authrocket.exceptions.
NotFound`, as a session that ended. The completed answer never holds the token: it goes into
``AUTHROCKET_CACHE`` (recheck.py caches it for one ``AUTHROCKET_RECHECK_INTERVAL``, so the
reads cost no more often than the Get Session call they complete) and into the login record.
"""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from .client import AuthRocketClient
from .exceptions import InvalidResponse, InvalidToken
from .identity import AuthRocketSession
from .redaction import shown_session
from .tokens import verify_token

logger = logging.getLogger("django_authrocket.recheck")


class Answer(NamedTuple):
    """A completed Get Session answer, and where its user came from."""

    #: The answer with its user (and their memberships) embedded, without its token.
    session: dict[str, Any]
    #: The verified token session the embedded user and memberships were built from; None
    #: when they came from the answer itself or from the Core API.
    described_by: AuthRocketSession | None = None


@sensitive_variables("id_or_token")
def fetch(id_or_token: str, *, verified: AuthRocketSession | None = None) -> dict[str, Any]:
    """Get Session for a session id (``kss_...``) or a full login token, completed.

    ``verified``: the session of ``id_or_token``, a token the caller verified already; when
    the answer carries that same token it is not verified a second time.

    Raises :class:`~django_authrocket.exceptions.NotFound` when the session (or its user) is
    gone, and other :class:`~django_authrocket.exceptions.APIError` subclasses when AuthRocket
    cannot answer.
    """
    return fetch_answer(id_or_token, verified=verified).session


@sensitive_variables("id_or_token")
def fetch_answer(id_or_token: str, *, verified: AuthRocketSession | None = None) -> Answer:
    """:func:`fetch`, saying also which verified token session describes the user (a login
    then builds its identity from that session rather than reading the user back)."""
    client = AuthRocketClient.from_settings()
    answer = client.get_session(id_or_token)
    known = verified if verified is not None and answer.get("token") == id_or_token else None
    return _complete(answer, client, known)


def complete(
    answer: dict[str, Any], client: AuthRocketClient, *, verified: AuthRocketSession | None = None
) -> dict[str, Any]:
    """The Get Session ``answer`` with its user (and their memberships) embedded, without
    its token; reads through ``client`` only what neither the answer nor its token holds."""
    return _complete(answer, client, verified).session


def _complete(
    answer: dict[str, Any], client: AuthRocketClient, verified: AuthRocketSession | None
) -> Answer:
    session = {key: value for key, value in answer.items() if key != "token"}
    if isinstance(answer.get("user"), dict):
        return Answer(session)
    user_id = answer.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise InvalidResponse(
            "the Get Session answer names no user", method="GET", path=f"/sessions/{_id(answer)}"
        )
    decoded = _token_session(answer, user_id, verified)
    if decoded is None:
        return Answer({**session, "user": _read_user(client, user_id)})
    user = _api_user(decoded)
    if decoded.memberships is None:  # the token carries no org data
        user["memberships"] = _read_memberships(client, user_id)
        return Answer({**session, "user": user})
    return Answer({**session, "user": user}, described_by=decoded)


# --- helpers ------------------------------------------------------------------------------------


def _token_session(
    answer: dict[str, Any], user_id: str, verified: AuthRocketSession | None = None
) -> AuthRocketSession | None:
    """The session of the answer's token, when it verifies and names this session and user;
    None when it cannot be trusted. ``verified``: that token's session, when the caller
    verified the very same token."""
    token = answer.get("token")
    if not isinstance(token, str) or not token:
        return None
    try:
        decoded = verified if verified is not None else verify_token(token)
    except (InvalidToken, ImproperlyConfigured) as exc:
        reason = exc.reason if isinstance(exc, InvalidToken) else "no key configured"
        logger.debug(
            "Session %s: its token does not verify (%s); reading the user", _id(answer), reason
        )
        return None
    if decoded.id != answer.get("id") or decoded.user.id != user_id:
        logger.warning("Session %s: its token names another session or user", _id(answer))
        return None
    return decoded


def _api_user(session: AuthRocketSession) -> dict[str, Any]:
    """A token's user in the Core API's shape (what identity.AuthRocketSession.from_api reads)."""
    info = session.user
    user: dict[str, Any] = {
        "object": "user",
        "id": info.id,
        "realm_id": info.realm_id,
        "email": info.email,
        # A token says verified or not; "requested" and "none" look alike there.
        "email_verified": info.email_verified,
        "name": info.name,
        "first_name": info.first_name,
        "last_name": info.last_name,
        "username": info.username,
        "reference": info.reference,
        "custom": dict(info.custom),
    }
    if session.memberships is not None:  # the token carries org data
        user["memberships"] = [
            {
                "object": "membership",
                "id": membership.id,
                "org_id": membership.org.id,
                "user_id": info.id,
                "permissions": list(membership.permissions),
                "selected": membership.selected,
                "custom": dict(membership.custom),
                "org": {
                    "object": "org",
                    "id": membership.org.id,
                    "name": membership.org.name,
                    "reference": membership.org.reference,
                    "custom": dict(membership.org.custom),
                },
            }
            for membership in session.memberships
        ]
    return user


def _read_user(client: AuthRocketClient, user_id: str) -> dict[str, Any]:
    """``GET /users/:id`` and ``GET /memberships?user_id=``: the user with their memberships."""
    user = dict(client.get_user(user_id))
    user["memberships"] = _read_memberships(client, user_id)
    return user


def _read_memberships(client: AuthRocketClient, user_id: str) -> list[dict[str, Any]]:
    """``GET /memberships?user_id=``: the user's live memberships, each with its org."""
    now = time.time()
    return [
        membership
        for membership in client.iter_memberships(user_id=user_id)
        if not _lapsed(membership.get("expires_at"), now)
    ]


def _lapsed(expires_at: object, now: float) -> bool:
    """A membership past its ``expires_at``, which AuthRocket deletes "automatically"
    (authrocket.com/docs/api/memberships) but maybe not yet."""
    return (
        isinstance(expires_at, int | float)
        and not isinstance(expires_at, bool)
        and expires_at < now
    )


def _id(answer: dict[str, Any]) -> str:
    """The session as a log line may name it: a digest (a session id is a credential)."""
    value = answer.get("id")
    return shown_session(value) if isinstance(value, str) else "?"

"""``AuthRocketBackend``: a LoginRocket token in, a local Django user out.

Each step is a method a subclass can override on its own, in the order they run:

``verify_token(token, max_age=...)``
    signature check (``AUTHROCKET_VERIFY = "jwt"``) or Get Session call (``"api"``);
``verify_claims(session) -> bool``
    site policy: return False to refuse (say, only people of one org);
``filter_users(session)``
    the mirror rows of this AuthRocket user (matched on ``authrocket_id``, never on email);
``get_username(session)`` / ``create_user(session)``
    the first login of a person (when ``AUTHROCKET_CREATE_USERS`` is on);
``update_user(user, session)``
    every later login: mirror fields, local name/email, memberships, staff flag.

Refusals never raise out of ``authenticate``: the reason is left on the request for the login
view (:func:`login_failure`) and logged without the token.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from . import replay
from .client import AuthRocketClient
from .conf import app_settings
from .exceptions import (
    APIError,
    AuthRocketError,
    ExpiredToken,
    InvalidClaims,
    InvalidToken,
    NotFound,
    ReplayedToken,
    TokenTooOld,
    WrongRealm,
)
from .identity import AuthRocketSession
from .jws import parse as parse_jws
from .mirror.fields import assign_changed, local_user_fields, username_candidates
from .mirror.login import create_user_row, update_user_row
from .models import AuthRocketUser
from .signals import authrocket_login, authrocket_user_synced

logger = logging.getLogger(__name__)

_FAILURE_ATTR = "_authrocket_login_failure"
_SESSION_ATTR = "authrocket_session"


def login_failure(request: HttpRequest | None) -> AuthRocketError | None:
    """Why the last ``authenticate(request, authrocket_token=...)`` on this request refused."""
    return getattr(request, _FAILURE_ATTR, None)


def session_of(user: Any) -> AuthRocketSession | None:
    """The AuthRocket session a user object was just authenticated with (set by the backend)."""
    return getattr(user, _SESSION_ATTR, None)


class AuthRocketBackend(ModelBackend):
    """Authenticates ``authenticate(request, authrocket_token=...)``; see the module docs."""

    @sensitive_variables("authrocket_token")
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        authrocket_token: str | None = None,
        *,
        max_age: int | None = None,
        single_use: bool = False,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        """Verify ``authrocket_token`` and return its local user, or None (reason left on the
        request). ``single_use`` (the login view's intake) also refuses a token that already
        logged someone in, before any user is touched.
        """
        if authrocket_token is None:
            return None  # not ours: username/password and other backends
        try:
            session = self.verify_token(authrocket_token, max_age=max_age)
            if not self.verify_claims(session):
                raise InvalidClaims("refused by the site's verify_claims()", reason="refused")
            replayed = (
                single_use
                and app_settings.PREVENT_TOKEN_REPLAY
                and not replay.first_use(authrocket_token, session.expires_at)
            )
            if replayed:
                raise ReplayedToken("this login token was already used")
            user, created = self.get_or_create_user(session)
        except (InvalidToken, APIError) as exc:
            self._refuse(request, exc)
            return None
        if user is None:
            self._refuse(request, InvalidToken("no local user", reason="no_local_user"))
            return None
        if not self.user_can_authenticate(user):  # type: ignore[arg-type]
            self._refuse(request, InvalidToken("local user inactive", reason="inactive_user"))
            return None
        setattr(user, _SESSION_ATTR, session)
        authrocket_login.send(
            sender=type(self), user=user, session=session, request=request, created=created
        )
        return user

    async def aauthenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        authrocket_token: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        from asgiref.sync import sync_to_async

        if authrocket_token is None:
            return None
        return await sync_to_async(self.authenticate)(
            request, authrocket_token=authrocket_token, **kwargs
        )

    # --- step 1: is the token good? ---------------------------------------------------------

    @sensitive_variables("token")
    def verify_token(self, token: str, *, max_age: int | None = None) -> AuthRocketSession:
        """Check the token the configured way; raise InvalidToken or APIError."""
        if app_settings.VERIFY == "api":
            return self.verify_with_api(token, max_age=max_age)
        from .tokens import verify_token

        return verify_token(token, max_age=max_age)

    @sensitive_variables("token")
    def verify_with_api(self, token: str, *, max_age: int | None = None) -> AuthRocketSession:
        """Ask the Core API about the session behind ``token`` (Get Session with the token)."""
        parse_jws(token)  # garbage never reaches the API (size cap, shape)
        client = AuthRocketClient.from_settings()
        try:
            answer = client.get_session(token)
        except NotFound:
            raise InvalidToken(
                "AuthRocket does not know this session: it ended or the token is invalid",
                reason="session_not_found",
            ) from None
        session = AuthRocketSession.from_api(answer, generation=2 if client.generation == 2 else 1)
        now = timezone.now()
        leeway = app_settings.JWT_LEEWAY
        if session.expires_at and (now - session.expires_at).total_seconds() > leeway:
            raise ExpiredToken("the AuthRocket session has expired")
        age = (now - session.issued_at).total_seconds() if session.issued_at else 0.0
        if max_age is not None and age > max_age + leeway:
            raise TokenTooOld(f"the login is more than {max_age} seconds old; log in again")
        realm = app_settings.REALM
        if realm and session.user.realm_id and session.user.realm_id != realm:
            raise WrongRealm("the session belongs to another realm than AUTHROCKET_REALM")
        return session

    def verify_claims(self, session: AuthRocketSession) -> bool:
        """Site policy on a verified session. Return False to refuse the login."""
        return True

    # --- step 2: which local user? ----------------------------------------------------------

    def filter_users(self, session: AuthRocketSession) -> QuerySet[AuthRocketUser]:
        """The mirror row of this AuthRocket user (with its local user)."""
        return AuthRocketUser.objects.select_related("user").filter(authrocket_id=session.user.id)

    def get_or_create_user(
        self, session: AuthRocketSession
    ) -> tuple[AbstractBaseUser | None, bool]:
        """The local user for ``session``, and whether it was created now."""
        row = self.filter_users(session).first()
        if row is not None:
            return self.update_user(row.user, session), False
        if not app_settings.CREATE_USERS:
            return None, False
        username = self.get_username(session)
        for attempt in (username, session.user.id):
            try:
                with transaction.atomic():
                    user = self.create_user(session, username=attempt)
                    row = create_user_row(user, session, now=timezone.now())
            except IntegrityError:
                # Either a concurrent first login of the same person won the race (use its
                # rows), or someone else holds this username (try the AuthRocket id instead).
                row = self.filter_users(session).first()
                if row is not None:
                    return self.update_user(row.user, session), False
                continue
            self.apply_staff_permission(user, session)
            authrocket_user_synced.send(
                sender=type(self), user=user, authrocket_user=row, created=True
            )
            return user, True
        raise InvalidToken("could not create a local user", reason="user_conflict")

    def user_for_session(self, session: AuthRocketSession) -> AbstractBaseUser | None:
        """The local user for an API request's session: found, or created on first sight.

        Unlike a login it does not rewrite the mirror on every request; it returns None for a
        user who may not authenticate (inactive) and raises InvalidClaims when
        ``verify_claims`` refuses the session, as a login would.
        """
        if not self.verify_claims(session):
            raise InvalidClaims("refused by the site's verify_claims()", reason="refused")
        row = self.filter_users(session).first()
        user = row.user if row is not None else self.get_or_create_user(session)[0]
        if user is None or not self.user_can_authenticate(user):  # type: ignore[arg-type]
            return None
        return user

    def get_username(self, session: AuthRocketSession) -> str:
        """A free username for a new local user: ``preferred_username``, else the AuthRocket id."""
        user_model = get_user_model()
        candidates = username_candidates(session.user, user_model)
        manager = user_model._default_manager
        for candidate in candidates:
            if not manager.filter(**{user_model.USERNAME_FIELD: candidate}).exists():
                return candidate
        return candidates[-1]

    def create_user(self, session: AuthRocketSession, *, username: str) -> AbstractBaseUser:
        """Create the local user (with an unusable password: AuthRocket does the logging in)."""
        user_model = get_user_model()
        user = user_model(**{user_model.USERNAME_FIELD: username})
        self._assign_local_fields(user, session)
        user.set_unusable_password()
        user.save()
        return user

    def update_user(self, user: AbstractBaseUser, session: AuthRocketSession) -> AbstractBaseUser:
        """Refresh the mirror, the local user's name/email and the memberships at each login."""
        row: AuthRocketUser = user.authrocket  # type: ignore[attr-defined]
        mirror_changed = update_user_row(row, session, now=timezone.now())
        local_changed = self._assign_local_fields(user, session)
        staff_changed = self.apply_staff_permission(user, session, save=False)
        if local_changed or staff_changed:
            user.save(update_fields=[*local_changed, *(["is_staff"] if staff_changed else [])])
        if mirror_changed or local_changed:
            authrocket_user_synced.send(
                sender=type(self), user=user, authrocket_user=row, created=False
            )
        return user

    # --- helpers ----------------------------------------------------------------------------

    def _assign_local_fields(self, user: AbstractBaseUser, session: AuthRocketSession) -> list[str]:
        fields = local_user_fields(session.user, get_user_model())
        return assign_changed(user, fields)

    def apply_staff_permission(
        self, user: AbstractBaseUser, session: AuthRocketSession, *, save: bool = True
    ) -> bool:
        """Set ``is_staff`` from ``AUTHROCKET_STAFF_PERMISSION`` and the session's selected
        membership (at login, and when an api-mode recheck brings changed permissions); True
        when it changed."""
        permission = app_settings.STAFF_PERMISSION
        if not permission or not hasattr(user, "is_staff"):
            return False
        wanted = session.has_perm(permission)
        if getattr(user, "is_staff", None) == wanted:
            return False
        setattr(user, "is_staff", wanted)  # noqa: B010 - not every user model declares it
        if save:
            user.save(update_fields=["is_staff"])  # type: ignore[misc]
        return True

    def _refuse(self, request: HttpRequest | None, exc: AuthRocketError) -> None:
        if request is not None:
            setattr(request, _FAILURE_ATTR, exc)
        if isinstance(exc, APIError):
            logger.warning("AuthRocket login could not be checked: %s", exc)
        else:
            logger.info("AuthRocket login refused (%s): %s", getattr(exc, "reason", "?"), exc)

"""``AuthRocketBackend``: the steps from a verified LoginRocket token to a local Django user.

Each step is a method a subclass can override on its own, in the order they run:

``verify_token(token, max_age=..., single_use=...)`` / ``verify_bearer_token(token)``
    the configured check (:mod:`django_authrocket.verification`: signature, or Get Session);
``verify_claims(session) -> bool``
    site policy: return False to refuse (say, only people of one org);
``filter_users(session)``
    the mirror rows of this AuthRocket user (matched on ``authrocket_id``, never on email);
``get_username(session)`` / ``create_user(session, username=...)``
    the first login of a person (when ``AUTHROCKET_CREATE_USERS`` is on);
``update_mirror(user, session) -> bool``
    every later login: the :class:`~django_authrocket.models.AuthRocketUser` row and the
    memberships the session carries;
``update_user(user, session)``
    every later login: the local user's name and email, and ``is_staff``
    (``apply_staff_permission``, also run when an api-mode recheck brings new permissions);
``staff_org_grants(session, permission) -> bool``
    whether the person's membership of ``AUTHROCKET_STAFF_ORG`` grants a permission, whichever
    org is selected: what ``is_staff`` follows.

A site that subclasses the backend names its class in ``AUTHENTICATION_BACKENDS``;
:func:`get_backend` returns that instance, and logins, Bearer requests, DRF and rechecks all go
through it.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

from . import staff_group, verification
from .conf import app_settings
from .exceptions import APIError, AuthRocketError, InvalidClaims, InvalidToken
from .identity import AuthRocketSession
from .mirror import fields as mirror_fields
from .mirror import lock_order
from .mirror import login as mirror_login
from .models import AuthRocketMembership, AuthRocketUser, MirrorState
from .signals import authrocket_login, authrocket_user_synced

logger = logging.getLogger("django_authrocket.login")


def get_backend() -> AuthRocketBackend:
    """The configured AuthRocket backend: the first entry of ``AUTHENTICATION_BACKENDS`` that
    is :class:`AuthRocketBackend` or a subclass of it (one instance per setting value).

    Raises :class:`~django.core.exceptions.ImproperlyConfigured` when there is none.
    """
    return _configured(tuple(settings.AUTHENTICATION_BACKENDS))[1]


def backend_path() -> str:
    """The dotted path of :func:`get_backend`'s class, as ``AUTHENTICATION_BACKENDS`` names it."""
    return _configured(tuple(settings.AUTHENTICATION_BACKENDS))[0]


@lru_cache(maxsize=64)
def is_authrocket_backend(path: object) -> bool:
    """Whether a dotted path (say, a session's ``BACKEND_SESSION_KEY``) names
    :class:`AuthRocketBackend` or a subclass."""
    if not isinstance(path, str):
        return False
    try:
        backend = import_string(path)
    except ImportError:
        return False
    return isinstance(backend, type) and issubclass(backend, AuthRocketBackend)


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
        """Django's entry point: the local user of ``authrocket_token``, or None.

        Use :meth:`authenticate_token` to learn why a token was refused and which AuthRocket
        session it carried.
        """
        if authrocket_token is None:
            return None  # not ours: username/password and other backends
        try:
            user, _session = self.authenticate_token(
                request, authrocket_token, max_age=max_age, single_use=single_use
            )
        except (InvalidToken, APIError):
            return None
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

    @sensitive_variables("token")
    def authenticate_token(
        self,
        request: HttpRequest | None,
        token: str,
        *,
        max_age: int | None = None,
        single_use: bool = False,
    ) -> tuple[AbstractBaseUser, AuthRocketSession]:
        """The local user of a login token and its AuthRocket session, after every step.

        ``single_use`` (the login view) also refuses a token that already logged someone in,
        before any user is touched. A refusal raises
        :class:`~django_authrocket.exceptions.InvalidToken` (its ``reason`` says why) or
        :class:`~django_authrocket.exceptions.APIError` (AuthRocket could not answer).
        :meth:`check_token` then :meth:`user_for_login`: the login view runs the second inside
        the login's transaction, so a first login commits with it.
        """
        session = self.check_token(token, max_age=max_age, single_use=single_use)
        return self.user_for_login(request, session), session

    @sensitive_variables("token")
    def check_token(
        self, token: str, *, max_age: int | None = None, single_use: bool = False
    ) -> AuthRocketSession:
        """The first half of :meth:`authenticate_token`: the token's verified session, accepted
        by ``verify_claims``. Touches no user; a refusal is logged and raised."""
        try:
            session = self.verify_token(token, max_age=max_age, single_use=single_use)
            self._check_claims(session)
        except (InvalidToken, APIError) as exc:
            log_refusal(exc)
            raise
        return session

    def user_for_login(
        self, request: HttpRequest | None, session: AuthRocketSession
    ) -> AbstractBaseUser:
        """The second half of :meth:`authenticate_token`: the local user of a checked session
        (found and refreshed, or created), who may authenticate; sends ``authrocket_login``.
        A refusal (no local user, an inactive one) is logged and raised as InvalidToken."""
        try:
            user, created = self.get_or_create_user(session)
            if user is None:
                raise InvalidToken("no local user", reason="no_local_user")
            if not self.user_can_authenticate(user):  # type: ignore[arg-type]
                raise InvalidToken("local user inactive", reason="inactive_user")
        except (InvalidToken, APIError) as exc:
            log_refusal(exc)
            raise
        authrocket_login.send(
            sender=type(self), user=user, session=session, request=request, created=created
        )
        return user

    # --- step 1: is the token good? ---------------------------------------------------------

    @sensitive_variables("token")
    def verify_token(
        self, token: str, *, max_age: int | None = None, single_use: bool = False
    ) -> AuthRocketSession:
        """Check a login token the configured way; raise InvalidToken or APIError."""
        return verification.verify_login_token(token, max_age=max_age, single_use=single_use)

    @sensitive_variables("token")
    def verify_bearer_token(self, token: str) -> AuthRocketSession:
        """Check an ``Authorization: Bearer`` token the configured way."""
        return verification.verify_bearer_token(token)

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
        """The local user for ``session``, and whether it was created now.

        Inside a transaction (a login's) the mirror row is read locked, where the database
        locks rows: every writer of a person's rows takes their mirror row first (sync,
        webhooks and resync too, mirror/pages.py), so two of them never wait on each other in
        a cycle. Writers of other people are not held up."""
        row = _first(lock_order.locked(self.filter_users(session)))
        if row is not None:
            return self._returning(row, session), False
        if not app_settings.CREATE_USERS:
            return None, False
        for username in (self.get_username(session), session.user.id):
            try:
                with transaction.atomic():
                    user = self.create_user(session, username=username)
                    row = mirror_login.create_user_row(user, session, now=timezone.now())
            except IntegrityError:
                # Either a concurrent first login of the same person won the race (use its
                # rows, locked first as above), or someone else holds this username (try the
                # AuthRocket id instead).
                row = _first(lock_order.locked(self.filter_users(session)))
                if row is not None:
                    return self._returning(row, session), False
                continue
            self.apply_staff_permission(user, session)
            user._authrocket_login_recorded = True  # type: ignore[attr-defined]  # the row has it
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
        self._check_claims(session)
        row = _first(self.filter_users(session))
        user = row.user if row is not None else self.get_or_create_user(session)[0]
        if user is None or not self.user_can_authenticate(user):  # type: ignore[arg-type]
            return None
        return user

    # --- step 3: a first login ------------------------------------------------------------

    def get_username(self, session: AuthRocketSession) -> str:
        """A free username for a new local user: ``preferred_username``, else the AuthRocket id."""
        user_model = get_user_model()
        candidates = mirror_fields.username_candidates(session.user, user_model)
        return next(mirror_fields.free_usernames(candidates, user_model), candidates[-1])

    def create_user(self, session: AuthRocketSession, *, username: str) -> AbstractBaseUser:
        """Create the local user (with an unusable password: AuthRocket does the logging in)."""
        user_model = get_user_model()
        user = user_model(**{user_model.USERNAME_FIELD: username})
        mirror_fields.assign_changed(
            user, mirror_fields.local_user_fields(session.user, user_model)
        )
        user.set_unusable_password()
        user.save()
        return user

    # --- step 4: every later login ----------------------------------------------------------

    def update_mirror(self, user: AbstractBaseUser, session: AuthRocketSession) -> bool:
        """Refresh the user's AuthRocket mirror row and memberships; True when they changed."""
        row: AuthRocketUser = user.authrocket  # type: ignore[attr-defined]
        digest = mirror_login.session_digest(session)
        changed = mirror_login.update_user_row(row, session, now=timezone.now(), digest=digest)
        # For record_login_time: the digest, and the value the row must still hold for it to be
        # stored (what this login read, or stamped): another writer meanwhile wins.
        user._authrocket_login_digest = digest  # type: ignore[attr-defined]
        user._authrocket_login_expected = row.login_digest  # type: ignore[attr-defined]
        return changed

    def update_user(self, user: AbstractBaseUser, session: AuthRocketSession) -> AbstractBaseUser:
        """Refresh the local user's name, email and staff flag (one write, when they changed)."""
        fields = mirror_fields.local_user_fields(session.user, get_user_model())
        changed = mirror_fields.assign_changed(user, fields)
        if self.apply_staff_permission(user, session, save=False):
            changed.append("is_staff")
        if changed:
            user.save(update_fields=changed)
        return user

    def apply_staff_permission(
        self, user: AbstractBaseUser, session: AuthRocketSession, *, save: bool = True
    ) -> bool:
        """Set ``is_staff`` from the person's membership of ``AUTHROCKET_STAFF_ORG``: staff
        while that membership grants ``AUTHROCKET_STAFF_PERMISSION``, whichever org the
        session selected (at login, and when an api-mode recheck brings changed permissions).
        Staff join ``AUTHROCKET_STAFF_GROUP``, and leave it with their staff status
        (:mod:`~django_authrocket.staff_group`). True when ``is_staff`` changed.

        The membership comes from the session when it lists the staff org, else from the
        mirror (LoginRocket's token may name only the selected org). Without a staff org no
        one is staff (``authrocket.E020``): an ``ar:admin`` of their own org is not the site's.
        """
        permission = app_settings.STAFF_PERMISSION
        if not permission or not hasattr(user, "is_staff"):
            return False
        wanted = self.staff_org_grants(session, permission)
        changed = getattr(user, "is_staff", None) != wanted
        if changed:
            setattr(user, "is_staff", wanted)  # noqa: B010 - not every user model declares it
            if save:
                user.save(update_fields=["is_staff"])  # type: ignore[misc]
        if changed or wanted:  # a customer's login costs no query
            staff_group.follow_staff(user, wanted)
        return changed

    def staff_org_grants(self, session: AuthRocketSession, permission: str) -> bool:
        """Whether the person's membership of ``AUTHROCKET_STAFF_ORG`` grants ``permission``,
        whichever org the session selected (False without a staff org).

        What :meth:`apply_staff_permission` asks; a site's own mapping (superusers, groups)
        can ask it too, for another permission of the same org.
        """
        return _grants_staff(session, permission, app_settings.STAFF_ORG)

    # --- helpers ----------------------------------------------------------------------------

    def _check_claims(self, session: AuthRocketSession) -> None:
        if not self.verify_claims(session):
            raise InvalidClaims("refused by the site's verify_claims()", reason="refused")

    def _returning(self, row: AuthRocketUser, session: AuthRocketSession) -> AbstractBaseUser:
        user: AbstractBaseUser = row.user
        if self.update_mirror(user, session):
            authrocket_user_synced.send(
                sender=type(self), user=user, authrocket_user=row, created=False
            )
        return self.update_user(user, session)


def record_login_time(sender: object, request: object, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: the mirror's ``last_login_at`` of a login through an
    AuthRocket backend (Django's ``update_last_login`` sets ``last_login`` the same way)."""
    session = getattr(request, "session", None)  # login() names the backend there first
    backend = session.get(BACKEND_SESSION_KEY) if session is not None else None
    if getattr(user, "_authrocket_login_recorded", False):
        return  # a first login: its new mirror row was written with this login's time
    if is_authrocket_backend(backend or getattr(user, "backend", None)):
        digest = getattr(user, "_authrocket_login_digest", None)
        expected = getattr(user, "_authrocket_login_expected", None)
        mirror_login.record_login(user.pk, now=timezone.now(), digest=digest, expected=expected)


@lru_cache(maxsize=8)
def _configured(paths: tuple[str, ...]) -> tuple[str, AuthRocketBackend]:
    for path in paths:
        if is_authrocket_backend(path):
            backend: AuthRocketBackend = import_string(path)()
            return path, backend
    raise ImproperlyConfigured(
        "No AuthRocket backend in AUTHENTICATION_BACKENDS: add "
        "'django_authrocket.backends.AuthRocketBackend' (or your subclass of it)."
    )


def _grants_staff(session: AuthRocketSession, permission: str, staff_orgs: tuple[str, ...]) -> bool:
    """Whether the person's membership of a staff org grants ``permission``.

    A staff org value starting with ``org_`` names an org id, any other value a reference. The
    session decides for the staff orgs it lists (it is fresher than the mirror); for the others
    the mirror's active, unexpired memberships of this AuthRocket user decide.
    """
    ids = {name for name in staff_orgs if name.startswith("org_")}
    references = set(staff_orgs) - ids
    if not ids and not references:
        return False
    listed = [
        m
        for m in session.memberships or ()
        if m.org.id in ids or (m.org.reference is not None and m.org.reference in references)
    ]
    if any(m.has_perm(permission) for m in listed):
        return True
    seen_ids = {m.org.id for m in listed}
    seen_references = {m.org.reference for m in listed}
    unseen = Q(org__authrocket_id__in=ids - seen_ids) | Q(
        org__reference__in=references - seen_references
    )
    mirrored = (
        AuthRocketMembership.objects.filter(unseen, user__authrocket_id=session.user.id)
        .exclude(org__authrocket_id__in=seen_ids)
        .exclude(org__state__in=(MirrorState.INACTIVE, MirrorState.CLOSED))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .only("permissions")
    )
    return any(m.has_perm(permission) for m in mirrored)


def _first(rows: QuerySet[AuthRocketUser]) -> AuthRocketUser | None:
    """The first row, without the model's default ordering (a sort of the one row an
    ``authrocket_id`` names is SQL to build and run for nothing); an explicit order is kept."""
    return next(iter((rows if rows.query.order_by else rows.order_by())[:1]), None)


def log_refusal(exc: AuthRocketError) -> None:
    """Log why a login token was refused (its reason), or that AuthRocket could not say."""
    if isinstance(exc, APIError):
        logger.warning("AuthRocket login could not be checked: %s", exc)
    else:
        logger.info("AuthRocket login refused (%s): %s", getattr(exc, "reason", "?"), exc)

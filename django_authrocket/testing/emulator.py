"""``AuthRocketEmulator``: a local AuthRocket + LoginRocket for tests, demos and development."""

from __future__ import annotations

import dataclasses
import secrets
import string
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from . import loginrocket_api
from .activity import Activity
from .api_objects import (
    event_object,
    invitation_object,
    membership_object,
    org_object,
    session_object,
    user_object,
)
from .app import EmulatorApp
from .core_api import CoreAPI
from .credentials import INVITATION, PASSWORD_RESET, VERIFY_EMAIL, Credentials
from .faults import Fault, FaultKind, FaultList
from .ids import random_token
from .issuer import TokenIssuer
from .login_urls import LoginURLs
from .options import RealmOptions
from .pages import LoginRocketPages
from .recording import RecordedRequest, RequestLog
from .server import EmulatorHTTPServer
from .signing import KeyRing
from .store import DEFAULT_SESSION_TTL, Store

ALGORITHMS = ("RS256", "HS256")
_URLSAFE = string.ascii_letters + string.digits + "-_"


class AuthRocketEmulator:
    """A real HTTP server on loopback that behaves like AuthRocket for a Django app.

    It serves LoginRocket's hosted pages (``/login``, ``/signup``, ``/logout``, ``/profile``,
    ``/accounts``) and signing keys (``/connect/jwks``), and the Core API under ``/api/v2`` and
    ``/api/v1``. Data lives in memory; tokens are signed with keys generated at construction.

    >>> with AuthRocketEmulator() as emu:                      # doctest: +SKIP
    ...     user = emu.create_user("ada@example.com", first_name="Ada")
    ...     session, token = emu.login(user["id"])

    Realm options, where AuthRocket's real behaviour is not documented, are
    :class:`~django_authrocket.testing.options.RealmOptions` (``options=`` here, or
    :meth:`configure` for one test; :meth:`reset` restores the values given here).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        realm_id: str = "rl_emulator",
        algorithm: str = "RS256",
        jwt_secret: str | None = None,
        api_key: str | None = None,
        token_ttl: int = 3600,
        session_ttl: int = DEFAULT_SESSION_TTL,
        login_generation: int = 2,
        options: RealmOptions | None = None,
        login_urls: Iterable[str] = (),
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {algorithm!r}")
        if login_generation not in (1, 2):
            raise ValueError("login_generation must be 1 or 2")
        self.host = host
        self.port = port
        self.realm_id = realm_id
        self.algorithm = algorithm
        self.jwt_secret = jwt_secret or "jsk_" + "".join(
            secrets.choice(_URLSAFE) for _ in range(40)
        )
        self.api_key = api_key or f"ks_emulator_{random_token(24)}"
        self.login_generation = login_generation
        #: Where AuthRocket's behaviour is uncertain, which way this realm goes (options.py).
        self.options = options or RealmOptions()
        self._initial_options = dataclasses.replace(self.options)
        #: The connected app's Login URLs (login_urls.py): the only places the hosted pages
        #: send a browser back to.
        self._login_urls = LoginURLs(login_urls)
        self._initial_login_urls = list(self._login_urls)
        self._store = Store(realm_id, session_ttl=session_ttl)
        self._activity = Activity(self._store)
        self._keys = KeyRing(jwt_secret=self.jwt_secret)
        self._issuer = TokenIssuer(
            self._store, self._keys, algorithm=algorithm, token_ttl=token_ttl, options=self.options
        )
        self._faults = FaultList()
        self._log = RequestLog()
        self._credentials = Credentials(self._store)
        self._app = EmulatorApp(
            self._keys,
            LoginRocketPages(
                self._store,
                self._issuer,
                generation=login_generation,
                options=self.options,
                login_urls=self._login_urls,
            ),
            CoreAPI(
                self._store,
                self._keys,
                api_key=self.api_key,
                realm_id=realm_id,
                issuer=self._issuer,
                options=self.options,
            ),
            options=self.options,
            loginrocket_api=loginrocket_api.LoginRocketAPI(
                self._store,
                self._issuer,
                self._activity,
                self._credentials,
                options=self.options,
                generation=login_generation,
            ),
        )
        self._server: EmulatorHTTPServer | None = None
        self._errors: list[str] = []

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> AuthRocketEmulator:
        """Bind the port and serve in a daemon thread. Returns self. No-op when running.

        After :meth:`stop`, starting again binds the same port, so :attr:`url` is stable.
        """
        if self._server is None:
            server = EmulatorHTTPServer((self.host, self.port), self._app, self._faults, self._log)
            server.errors = self._errors
            self.port = server.server_address[1]
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and free the port. Data is kept."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    def __enter__(self) -> AuthRocketEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port else "not started"
        return f"<AuthRocketEmulator {self.realm_id} {self.algorithm} {where}>"

    def configure(self, **options: Any) -> RealmOptions:
        """Change realm options (see :class:`~django_authrocket.testing.options.RealmOptions`)
        until the next :meth:`reset`, e.g. ``configure(session_answer="without_token")``."""
        return self.options.update(**options)

    def add_login_url(self, url: str) -> None:
        """Register a Login URL of the connected app until the next :meth:`reset`: the hosted
        pages send a browser back only to a registered URL or one more specific
        (``https://app.example/`` allows ``https://app.example/login/?next=/``); the first
        registered is where a login without ``redirect_uri`` goes."""
        self._login_urls.add(url)

    @property
    def login_urls(self) -> list[str]:
        """The registered Login URLs, the default first."""
        return list(self._login_urls)

    def reset(self) -> None:
        """Forget all data, faults, recorded requests and errors, and put the realm options
        and Login URLs back as constructed; keep the keys and the port.

        A request still held by a latency fault is dropped when it wakes, instead of writing
        into the fresh data.
        """
        if self._server is not None:
            self._server.epoch += 1
        self._store.clear()
        self.options.restore(self._initial_options)
        self._login_urls.replace(self._initial_login_urls)
        self._faults.clear()
        self._log.clear()
        self._errors.clear()

    # -- where it is and how to point an app at it --------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash). Known once started."""
        if not self.port:
            raise RuntimeError("the emulator has no port yet: call start() first")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def loginrocket_url(self) -> str:
        """The LoginRocket base URL: the hosted pages live at the root, like :attr:`url`."""
        return self.url

    @property
    def loginrocket_api_url(self) -> str:
        """The LoginRocket API base: ``{url}/v2/`` (what loginrocket.js appends ``v2/`` to)."""
        return f"{self.url}/v2/"

    def api_url(self, generation: int = 2) -> str:
        """The Core API base: ``{url}/api/v2`` (or ``/api/v1``)."""
        if generation not in (1, 2):
            raise ValueError("generation must be 1 or 2")
        return f"{self.url}/api/v{generation}"

    @property
    def public_key_pem(self) -> str:
        """The current RSA public key as a SubjectPublicKeyInfo PEM."""
        return self._keys.current.public_key_pem

    @property
    def current_kid(self) -> str:
        """The ``kid`` of the current signing key."""
        return self._keys.current.kid

    @property
    def jwks(self) -> dict[str, Any]:
        """The document served at ``/connect/jwks``."""
        return self._keys.jwks(minimal=self.options.jwks_shape == "minimal")

    def settings(
        self, generation: int = 2, *, verify: str = "jwt", static_key: bool = False
    ) -> dict[str, object]:
        """The Django settings that point django-authrocket at this emulator.

        ``AUTHROCKET_JWT_KEY`` is the HS256 secret when the emulator signs with HS256, the RSA
        public key PEM when ``static_key`` is true, and otherwise None: keys come from JWKS.
        ``AUTHROCKET_ACCEPT_EMULATOR_TOKENS`` is on: the package refuses the emulator's tokens
        (their ``emu`` claim) with DEBUG off otherwise, and tests run with DEBUG off.
        """
        if self.algorithm == "HS256":
            jwt_key: str | None = self.jwt_secret
        else:
            jwt_key = self.public_key_pem if static_key else None
        return {
            "AUTHROCKET_LOGINROCKET_URL": self.loginrocket_url,
            "AUTHROCKET_URL": self.api_url(generation),
            "AUTHROCKET_API_KEY": self.api_key,
            "AUTHROCKET_REALM": self.realm_id,
            "AUTHROCKET_VERIFY": verify,
            "AUTHROCKET_JWT_KEY": jwt_key,
            "AUTHROCKET_ACCEPT_EMULATOR_TOKENS": True,
        }

    def override_settings(
        self, generation: int = 2, *, verify: str = "jwt", static_key: bool = False
    ) -> Any:
        """``django.test.override_settings(**self.settings(...))``: decorator or context manager."""
        from django.test import override_settings  # Django only when asked for

        return override_settings(**self.settings(generation, verify=verify, static_key=static_key))

    # -- realm data ---------------------------------------------------------------------------

    def create_user(
        self,
        email: str | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        name: str | None = None,
        username: str | None = None,
        reference: str | None = None,
        custom: Mapping[str, Any] | None = None,
        state: str = "active",
        email_verification: str = "verified",
        locale: str | None = None,
        password: str | None = None,
    ) -> dict[str, Any]:
        """Create a user and return it as the API shows it (v2). Emails are unique per realm.

        Without ``email`` a unique ``user-...@example.com`` is made up. ``password`` lets them
        log in through the LoginRocket API (:meth:`set_password`).
        """
        user = self._store.create_user(
            email=email or f"user-{random_token(10).lower()}@example.com",
            first_name=first_name,
            last_name=last_name,
            name=name,
            username=username,
            reference=reference,
            custom=custom,
            state=state,
            email_verification=email_verification,
            locale=locale,
        )
        if password is not None:
            self._credentials.set_password(user.id, password)
        return user_object(user)

    def get_user(self, id_or_email: str) -> dict[str, Any]:
        """A user by id or email (raises ``LookupError`` when unknown)."""
        return user_object(self._store.get_user(id_or_email))

    def update_user(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """Change user fields (same names as :meth:`create_user`); emits ``user.updated``."""
        return user_object(self._store.update_user(user_id, **fields))

    def delete_user(self, user_id: str) -> None:
        """Delete a user with their memberships and sessions; emits ``user.deleted``."""
        self._store.delete_user(user_id)

    def create_org(
        self,
        name: str,
        *,
        reference: str | None = None,
        custom: Mapping[str, Any] | None = None,
        state: str = "active",
    ) -> dict[str, Any]:
        """Create an org."""
        return org_object(
            self._store.create_org(name, reference=reference, custom=custom, state=state)
        )

    def update_org(self, org_id: str, **fields: Any) -> dict[str, Any]:
        """Change ``name``, ``reference``, ``custom`` or ``state`` (``closed``: ``org.closed``)."""
        return org_object(self._store.update_org(org_id, **fields))

    def create_membership(
        self,
        user_id: str,
        org_id: str,
        *,
        permissions: Iterable[str] = (),
        selected: bool = False,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        """Make the user a member of the org (one membership per pair)."""
        membership = self._store.create_membership(
            user_id, org_id, permissions=permissions, selected=selected, expires_at=expires_at
        )
        return membership_object(membership)

    def update_membership(self, membership_id: str, **fields: Any) -> dict[str, Any]:
        """Change ``permissions``, ``selected`` or ``expires_at`` of a membership."""
        return membership_object(self._store.update_membership(membership_id, **fields))

    def delete_membership(self, membership_id: str) -> None:
        """Delete a membership."""
        self._store.delete_membership(membership_id)

    # -- what users do besides logging in: every other event type ------------------------------
    # The types are AuthRocket's own (authrocket-ruby, lib/authrocket/hook.rb Hook.event_types);
    # see activity.py for the source of each step.

    def create_invitation(
        self,
        invitation_type: str,
        email: str,
        *,
        org_id: str | None = None,
        permissions: Iterable[str] = (),
        inviting_user_id: str | None = None,
        locale: str | None = None,
    ) -> dict[str, Any]:
        """Invite someone (``org``, ``preverify``, ``referral`` or ``request``): ``...created``.

        An ``org`` invitation needs ``org_id``; accepting it grants ``permissions`` there.
        """
        return invitation_object(
            self._activity.create_invitation(
                invitation_type,
                email,
                org_id=org_id,
                permissions=permissions,
                inviting_user_id=inviting_user_id,
                locale=locale,
            )
        )

    def update_invitation(self, invitation_id: str, **fields: Any) -> dict[str, Any]:
        """Change ``email``, ``permissions`` or ``locale``: ``invitation.<type>.updated``."""
        return invitation_object(self._activity.update_invitation(invitation_id, **fields))

    def send_invitation(self, invitation_id: str) -> dict[str, Any]:
        """Email the invitation: ``invitation.<type>.invited``; its token goes to :attr:`outbox`
        (``POST /v2/signup`` takes it as ``invitation``)."""
        invitation = self._activity.send_invitation(invitation_id)
        self._credentials.mail_token(INVITATION, invitation.email, invitation.id)
        return invitation_object(invitation)

    def accept_invitation(
        self, invitation_id: str, user_id: str | None = None
    ) -> dict[str, Any] | None:
        """Accept it: ``invitation.<type>.accepted``. Returns the membership an ``org``
        invitation created (after ``membership.created``), None when it created none."""
        membership = self._activity.accept_invitation(invitation_id, user_id)
        return membership_object(membership) if membership is not None else None

    def expire_invitation(self, invitation_id: str) -> None:
        """Let it expire unused: ``invitation.<type>.expired``."""
        self._activity.expire_invitation(invitation_id)

    def start_login(self, user_id: str) -> None:
        """A login that needs a second step began: ``user.login.initiated``."""
        self._activity.start_login(user_id)

    def fail_login(self, user_id: str) -> None:
        """A login attempt failed: ``user.login.failed``. (A login that works: :meth:`login`.)"""
        self._activity.fail_login(user_id)

    def request_password_reset(self, user_id: str) -> None:
        """The user asked for a reset email: ``user.password.resetting``."""
        self._activity.request_password_reset(user_id)

    def change_password(self, user_id: str) -> None:
        """The user set a new password: ``user.password.updated``."""
        self._activity.change_password(user_id)

    def request_email_change(self, user_id: str, new_email: str) -> None:
        """The user asked to change their email: ``user.email.updating`` (applied when verified)."""
        self._activity.request_email_change(user_id, new_email)

    def request_email_verification(self, user_id: str) -> dict[str, Any]:
        """A verification email went out: ``user.email.verifying``; its token goes to
        :attr:`outbox` (``POST /v2/email/verify`` takes it)."""
        user = self._activity.request_email_verification(user_id)
        self._credentials.mail_user_token(VERIFY_EMAIL, user)
        return user_object(user)

    def verify_email(self, user_id: str) -> dict[str, Any]:
        """The user verified their email (and a pending change): ``user.email.verified``."""
        return user_object(self._activity.verify_email(user_id))

    def update_profile(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """The user edited their profile on LoginRocket: ``user.profile.updated``."""
        return user_object(self._activity.update_profile(user_id, **fields))

    def emit_event(self, event_type: str, **ids: str) -> dict[str, Any]:
        """Record an event of any type, say one a newer AuthRocket might add (``widget.created``).

        ``ids`` are the ids it names: ``user_id``, ``org_id``, ``membership_id``, ``session_id``,
        ``invitation_id``. The Core API serves it like any other event.
        """
        return event_object(self._store.emit(event_type, **ids))

    # -- the LoginRocket API's secrets and mail (credentials.py, loginrocket_api.py) ------------

    def set_password(self, user_id: str, password: str) -> None:
        """Give the user a password for ``POST /v2/login`` (kept hashed, never logged)."""
        self._credentials.set_password(user_id, password)

    def enable_totp(self, user_id: str, secret: str | None = None) -> str:
        """Give the user a TOTP second factor; returns its base32 secret (new unless given)."""
        return self._credentials.enable_totp(user_id, secret)

    def totp_code(self, user_id: str, at: float | None = None) -> str:
        """The user's current TOTP code (at unix time ``at``), as their authenticator shows it."""
        return self._credentials.totp_code(user_id, at)

    def generate_password_token(self, user_id: str) -> str:
        """Mail the user a password reset token and return it (``POST /v2/password/reset``)."""
        return self._credentials.mail_user_token(PASSWORD_RESET, self._store.get_user(user_id))

    @property
    def outbox(self) -> list[dict[str, Any]]:
        """Mail sent since the last reset, oldest first: ``{"to", "kind", "token", "user_id",
        "at"}``; kinds ``password_reset``, ``verify_email``, ``invitation``."""
        return self._credentials.outbox()

    def emailed_token(self, kind: str, to: str | None = None) -> str:
        """The newest token of ``kind`` in :attr:`outbox` (sent to ``to``); LookupError if none."""
        return self._credentials.last_token(kind, to)

    # -- sessions and tokens ------------------------------------------------------------------

    def create_session(
        self, user_id: str, *, org_id: str | None = None, ttl: int | None = None
    ) -> dict[str, Any]:
        """Start a session (``kss_...``) for the user; ``org_id`` selects one of their orgs."""
        return session_object(self._store.create_session(user_id, org_id=org_id, ttl=ttl))

    def mint_token(
        self,
        user_id: str | None = None,
        *,
        session_id: str | None = None,
        generation: int = 2,
        algorithm: str | None = None,
        ttl: int | None = None,
        issued_at: int | None = None,
        claims: Mapping[str, Any] | None = None,
        drop_claims: Iterable[str] = (),
        headers: Mapping[str, Any] | None = None,
        kid: str | None = None,
        org_id: str | None = None,
        key: object | None = None,
    ) -> str:
        """Sign a login token as LoginRocket would, or a deliberately broken one.

        Without ``session_id`` a session is started for the user (and without ``user_id`` a
        user is made up). ``generation`` 2 gives AR2 claims signed with the emulator's
        algorithm; 1 gives AR1 claims signed with HS256 and the realm secret. ``ttl`` sets
        ``exp - iat`` (default: the token TTL, capped at the session's end); ``issued_at`` sets
        ``iat``. ``claims`` are merged over the generated ones and ``drop_claims`` removed.
        ``headers`` are merged over the JWS header (a None value removes an entry); RS256
        tokens carry the current ``kid`` unless ``kid`` says otherwise. ``algorithm`` may be
        any of HS/RS/PS/ES 256/384/512 or ``none``; ``key`` signs with a foreign key. The orgs
        the token lists follow the realm option ``token_orgs`` (the selected one by default).
        """
        return self._issuer.mint(
            user_id,
            session_id=session_id,
            generation=generation,
            algorithm=algorithm,
            ttl=ttl,
            issued_at=issued_at,
            claims=claims,
            drop_claims=drop_claims,
            headers=headers,
            kid=kid,
            org_id=org_id,
            key=key,
        )

    def login(self, user_id: str, **mint_kwargs: Any) -> tuple[dict[str, Any], str]:
        """Start a session for the user and mint its token: ``(session, token)``."""
        session = self._store.create_session(user_id, org_id=mint_kwargs.get("org_id"))
        token = self.mint_token(user_id, session_id=session.id, **mint_kwargs)
        return session_object(session), token

    def end_session(self, session_id: str) -> bool:
        """End a session (as a logout or revocation would). False if it was not active."""
        try:
            self._store.end_session(session_id)
        except LookupError:
            return False
        return True

    def end_user_sessions(self, user_id: str) -> list[str]:
        """End every session of the user; returns their ids."""
        return [session.id for session in self._store.end_user_sessions(user_id)]

    def rotate_keys(self, *, keep_previous: bool = True) -> str:
        """Switch to a new RSA signing key and return its ``kid``.

        With ``keep_previous`` the old keys stay in the JWKS document (tokens they signed keep
        verifying); without it only the new key is published.
        """
        return self._keys.rotate(keep_previous=keep_previous).kid

    # -- faults -------------------------------------------------------------------------------

    def inject_fault(
        self,
        path: str = "*",
        *,
        method: str | None = None,
        kind: FaultKind = "status",
        status: int = 503,
        retry_after: int | str | None = None,
        delay: float = 0.0,
        times: int | None = 1,
        probability: float = 1.0,
        body: bytes = b"",
        content_type: str | None = "application/json",
        skip: int = 0,
    ) -> Fault:
        """Spoil the next request(s) whose path matches the fnmatch pattern ``path``.

        Kinds: ``status`` (``status`` with a JSON errors body, ``Retry-After`` when given),
        ``latency`` (wait ``delay`` seconds, then answer), ``drop`` (close without answering),
        ``reset`` (headers and half the body, then close), ``malformed_json``,
        ``truncated_json``, ``html`` (a proxy's error page, status 200), ``content_type``
        (the real JSON as ``text/plain``), ``oversize`` (~20 MB of JSON), ``body`` (``status``
        with exactly ``body`` as ``content_type``; change them on the returned fault to serve
        one answer after another). ``times`` None keeps the fault until :meth:`clear_faults`;
        ``skip`` lets that many matching requests through first.
        The returned :class:`Fault` counts its ``hits``.
        """
        return self._faults.add(
            Fault(
                path=path,
                method=method,
                kind=kind,
                status=status,
                retry_after=retry_after,
                delay=delay,
                times=times,
                probability=probability,
                body=body,
                content_type=content_type,
                skip=skip,
            )
        )

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    # -- what happened ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last reset, oldest first."""
        return self._log.entries()

    def count_requests(self, path: str = "*", method: str | None = None) -> int:
        """How many recorded requests match the fnmatch ``path`` pattern (and ``method``)."""
        return self._log.count(path, method)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._log.clear()

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events generated so far, oldest first, in the "Get an Event" (webhook) shape."""
        with self._store.lock:
            return [event_object(event) for event in self._store.events]

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of requests the emulator failed to handle (each answered with a 500)."""
        return list(self._errors)

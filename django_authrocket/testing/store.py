"""In-memory realm data: users, orgs, memberships, sessions, invitations and events, one lock."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from .ids import new_id
from .records import (
    EMAIL_VERIFICATIONS,
    ORG_STATES,
    USER_STATES,
    EmailVerification,
    EventRecord,
    InvitationRecord,
    MembershipRecord,
    OrgRecord,
    OrgState,
    SessionRecord,
    UserRecord,
    UserState,
    now,
)
from .table import HasId, Table

DEFAULT_SESSION_TTL = 24 * 3600

RecordT = TypeVar("RecordT")
RowT = TypeVar("RowT", bound=HasId)

#: The ids an event may name (authrocket-ruby lib/authrocket/event.rb).
EVENT_IDS: frozenset[str] = frozenset(
    {"user_id", "org_id", "membership_id", "session_id", "invitation_id"}
)

# Fields of a user that callers may set (create/update); anything else is refused.
USER_FIELDS: frozenset[str] = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "name",
        "username",
        "reference",
        "custom",
        "state",
        "email_verification",
        "locale",
    }
)


class StoreError(Exception):
    """Base class of the store's errors."""


class NotFound(StoreError, LookupError):
    """No such user, org, membership, session or event (the API answers 404)."""


class Invalid(StoreError, ValueError):
    """The data breaks a rule of the realm, e.g. a duplicate email (the API answers 422)."""


class Store:
    """The realm's data. Every public method takes the one lock, so the store is thread-safe.

    Records are immutable; an update replaces a record, so a record handed out never changes
    under its reader. Per-user and per-org indexes are tables too, so listing one user's
    sessions or memberships pages in O(page) however big the realm is.
    """

    def __init__(self, realm_id: str, *, session_ttl: int = DEFAULT_SESSION_TTL) -> None:
        self.realm_id = realm_id
        self.session_ttl = session_ttl
        self.lock = threading.RLock()
        self._init_tables()

    def _init_tables(self) -> None:
        self.users: Table[UserRecord] = Table()
        self.orgs: Table[OrgRecord] = Table()
        self.memberships: Table[MembershipRecord] = Table()
        self.sessions: Table[SessionRecord] = Table()
        self.events: Table[EventRecord] = Table()
        # Kept here so that clear() forgets them too; activity.py holds the behaviour.
        self.invitations: Table[InvitationRecord] = Table()
        self.pending_emails: dict[str, str] = {}  # user id -> the address being changed to
        # The LoginRocket API's secrets and mail, here for clear(); credentials.py holds the
        # behaviour. Passwords are kept only as salted scrypt hashes.
        self.password_hashes: dict[str, str] = {}  # user id -> hash
        self.totp_secrets: dict[str, str] = {}  # user id -> base32 secret
        self.totp_used_steps: dict[str, int] = {}  # user id -> last time step accepted
        self.pending_logins: dict[str, tuple[str, float]] = {}  # id -> (user id, expiry)
        self.emailed_tokens: dict[str, tuple[str, str, float]] = {}  # token -> (kind, id, exp)
        self.outbox: list[dict[str, Any]] = []
        self.rate_hits: dict[str, list[float]] = {}  # client address -> request times
        self._user_by_email: dict[str, str] = {}
        self._membership_by_pair: dict[tuple[str, str], str] = {}
        self._memberships_by_user: dict[str, Table[MembershipRecord]] = {}
        self._memberships_by_org: dict[str, Table[MembershipRecord]] = {}
        self._sessions_by_user: dict[str, Table[SessionRecord]] = {}

    def clear(self) -> None:
        """Forget every record."""
        with self.lock:
            self._init_tables()

    # -- events -------------------------------------------------------------------------------

    def _emit(self, event_type: str, **ids: str | None) -> EventRecord:
        event = EventRecord(
            id=new_id("ev"),
            realm_id=self.realm_id,
            event_type=event_type,
            event_at=now(),
            **ids,
        )
        self.events.put(event)
        return event

    def emit(self, event_type: str, **ids: str | None) -> EventRecord:
        """Record an event of any type naming these ids (``user_id``, ``invitation_id``...)."""
        unknown = set(ids) - EVENT_IDS
        if unknown:
            raise Invalid(f"Events name no {', '.join(sorted(unknown))}")
        with self.lock:
            return self._emit(event_type, **ids)

    def get_event(self, event_id: str) -> EventRecord:
        """Return the event with this id or raise NotFound."""
        with self.lock:
            return _found(self.events.get(event_id), "Event")

    # -- users --------------------------------------------------------------------------------

    def create_user(self, **fields: Any) -> UserRecord:
        """Create a user from :data:`USER_FIELDS` values; the email must be new to the realm."""
        values = _user_values(fields, creating=True)
        with self.lock:
            email = values["email"]
            if email in self._user_by_email:
                raise Invalid("Email has already been taken")
            user = UserRecord(id=new_id("usr"), realm_id=self.realm_id, created_at=now(), **values)
            self.users.put(user)
            self._user_by_email[email] = user.id
            self._emit("user.created", user_id=user.id)
            return user

    def update_user(self, user_id: str, *, emit: str = "user.updated", **fields: Any) -> UserRecord:
        """Change some fields of a user (same names as :meth:`create_user`).

        ``emit`` is the event type recorded (the user's own edits are ``user.profile.updated``).
        """
        values = _user_values(fields, creating=False)
        with self.lock:
            user = self.get_user(user_id)
            email = values.get("email", user.email)
            if email != user.email:
                if email in self._user_by_email:
                    raise Invalid("Email has already been taken")
                del self._user_by_email[user.email]
                self._user_by_email[email] = user.id
            updated = dataclasses.replace(user, **values)
            self.users.put(updated)
            self._emit(emit, user_id=user.id)
            return updated

    def delete_user(self, user_id: str) -> UserRecord:
        """Delete a user with their memberships and sessions."""
        with self.lock:
            user = self.get_user(user_id)
            for session in list(self._sessions_by_user.get(user.id, ())):
                self._end_session(session)
            for membership in list(self._memberships_by_user.get(user.id, ())):
                self._delete_membership(membership)
            self.users.remove(user.id)
            self.pending_emails.pop(user.id, None)
            self.password_hashes.pop(user.id, None)
            self.totp_secrets.pop(user.id, None)
            del self._user_by_email[user.email]
            self._emit("user.deleted", user_id=user.id)
            return user

    def get_user(self, id_or_email: str) -> UserRecord:
        """Return a user by id or by email (any case), or raise NotFound."""
        with self.lock:
            user = self.users.get(id_or_email)
            if user is None:
                user_id = self._user_by_email.get(id_or_email.strip().lower())
                user = self.users.get(user_id) if user_id else None
            return _found(user, "User")

    def record_login(self, user_id: str) -> UserRecord:
        """Stamp ``last_login_at`` and emit ``user.login.succeeded``."""
        with self.lock:
            user = dataclasses.replace(self.get_user(user_id), last_login_at=int(now()))
            self.users.put(user)
            self._emit("user.login.succeeded", user_id=user.id)
            return user

    def page_users(
        self,
        *,
        after: str | None,
        limit: int,
        state: str | None = None,
        email: str | None = None,
        reference: str | None = None,
        sort: str = "id",
        descending: bool = False,
    ) -> tuple[list[UserRecord], bool]:
        """One page of users, optionally only those in ``state``, with ``email`` or with
        ``reference`` (an exact match), in ``sort`` order (:data:`USER_SORTS`)."""
        with self.lock:

            def where(user: UserRecord) -> bool:
                return (state is None or user.state == state) and (
                    reference is None or user.reference == reference
                )

            if email is None:
                return _sorted_page(
                    self.users, USER_SORTS[sort], after, limit, where, descending=descending
                )
            user_id = self._user_by_email.get(email.strip().lower())
            user = self.users.get(user_id) if user_id else None
            if user is None or after is not None or not where(user):
                return [], False
            return [user], False

    # -- orgs ---------------------------------------------------------------------------------

    def create_org(
        self,
        name: str,
        *,
        reference: str | None = None,
        custom: Mapping[str, Any] | None = None,
        state: str = "active",
    ) -> OrgRecord:
        """Create an org."""
        if not name:
            raise Invalid("Name can't be blank")
        org_state = _choice(state, ORG_STATES, "state")
        with self.lock:
            org = OrgRecord(
                id=new_id("org"),
                realm_id=self.realm_id,
                name=name,
                created_at=now(),
                reference=reference,
                custom=copy.deepcopy(dict(custom or {})),
                state=cast(OrgState, org_state),
            )
            self.orgs.put(org)
            self._emit("org.created", org_id=org.id)
            return org

    def update_org(self, org_id: str, **fields: Any) -> OrgRecord:
        """Change ``name``, ``reference``, ``custom`` or ``state`` of an org."""
        unknown = set(fields) - {"name", "reference", "custom", "state"}
        if unknown:
            raise Invalid(f"Unknown org fields: {', '.join(sorted(unknown))}")
        if "state" in fields:
            _choice(fields["state"], ORG_STATES, "state")
        if "custom" in fields:
            fields["custom"] = copy.deepcopy(dict(fields["custom"] or {}))
        with self.lock:
            org = dataclasses.replace(self.get_org(org_id), **fields)
            self.orgs.put(org)
            self._emit("org.closed" if org.state == "closed" else "org.updated", org_id=org.id)
            return org

    def get_org(self, org_id: str) -> OrgRecord:
        """Return an org or raise NotFound."""
        with self.lock:
            return _found(self.orgs.get(org_id), "Org")

    def page_orgs(
        self,
        *,
        after: str | None,
        limit: int,
        state: str | None = None,
        reference: str | None = None,
        sort: str = "id",
        descending: bool = False,
    ) -> tuple[list[OrgRecord], bool]:
        """One page of orgs, optionally only those in ``state`` or with ``reference`` (an
        exact match), in ``sort`` order (:data:`ORG_SORTS`)."""
        with self.lock:

            def where(org: OrgRecord) -> bool:
                return (state is None or org.state == state) and (
                    reference is None or org.reference == reference
                )

            return _sorted_page(
                self.orgs, ORG_SORTS[sort], after, limit, where, descending=descending
            )

    # -- memberships --------------------------------------------------------------------------

    def create_membership(
        self,
        user_id: str,
        org_id: str,
        *,
        permissions: Iterable[str] = (),
        selected: bool = False,
        expires_at: int | None = None,
    ) -> MembershipRecord:
        """Make a user a member of an org (one membership per pair).

        ``selected=True`` unselects the user's other memberships: at most one is selected.
        """
        if isinstance(permissions, str):
            raise Invalid("permissions must be a list of strings, not a string")
        with self.lock:
            user = self.get_user(user_id)
            org = self.get_org(org_id)
            if (user.id, org.id) in self._membership_by_pair:
                raise Invalid("User is already a member of this org")
            membership = MembershipRecord(
                id=new_id("mb"),
                user_id=user.id,
                org_id=org.id,
                created_at=now(),
                permissions=tuple(permissions),
                selected=selected,
                expires_at=expires_at,
            )
            if selected:
                self._unselect_memberships(user.id)
            self._put_membership(membership)
            self._membership_by_pair[(user.id, org.id)] = membership.id
            self._emit(
                "membership.created", user_id=user.id, org_id=org.id, membership_id=membership.id
            )
            return membership

    def update_membership(self, membership_id: str, **fields: Any) -> MembershipRecord:
        """Change ``permissions``, ``selected`` or ``expires_at`` of a membership."""
        unknown = set(fields) - {"permissions", "selected", "expires_at"}
        if unknown:
            raise Invalid(f"Unknown membership fields: {', '.join(sorted(unknown))}")
        if "permissions" in fields:
            fields["permissions"] = tuple(fields["permissions"])
        with self.lock:
            membership = dataclasses.replace(self.get_membership(membership_id), **fields)
            if membership.selected:
                self._unselect_memberships(membership.user_id)
            self._put_membership(membership)
            self._emit(
                "membership.updated",
                user_id=membership.user_id,
                org_id=membership.org_id,
                membership_id=membership.id,
            )
            return membership

    def delete_membership(self, membership_id: str) -> MembershipRecord:
        """Delete a membership."""
        with self.lock:
            membership = self.get_membership(membership_id)
            self._delete_membership(membership)
            return membership

    def _put_membership(self, membership: MembershipRecord) -> None:
        self.memberships.put(membership)
        self._memberships_by_user.setdefault(membership.user_id, Table()).put(membership)
        self._memberships_by_org.setdefault(membership.org_id, Table()).put(membership)

    def _unselect_memberships(self, user_id: str) -> None:
        for other in list(self._memberships_by_user.get(user_id, ())):
            if other.selected:
                self._put_membership(dataclasses.replace(other, selected=False))

    def _delete_membership(self, membership: MembershipRecord) -> None:
        self.memberships.remove(membership.id)
        self._memberships_by_user[membership.user_id].remove(membership.id)
        self._memberships_by_org[membership.org_id].remove(membership.id)
        del self._membership_by_pair[(membership.user_id, membership.org_id)]
        self._emit(
            "membership.deleted",
            user_id=membership.user_id,
            org_id=membership.org_id,
            membership_id=membership.id,
        )

    def get_membership(self, membership_id: str) -> MembershipRecord:
        """Return a membership or raise NotFound."""
        with self.lock:
            return _found(self.memberships.get(membership_id), "Membership")

    def memberships_of(self, user_id: str) -> list[tuple[MembershipRecord, OrgRecord]]:
        """The user's memberships that have not expired, each with its org, oldest first."""
        with self.lock:
            at = now()
            pairs = []
            for membership in self._memberships_by_user.get(user_id, ()):
                org = self.orgs.get(membership.org_id)  # orgs are closed, never deleted
                if org is not None and membership.is_current(at):
                    pairs.append((membership, org))
            return pairs

    def page_memberships(
        self,
        *,
        after: str | None,
        limit: int,
        user_id: str | None = None,
        org_id: str | None = None,
    ) -> tuple[list[MembershipRecord], bool]:
        """One page of memberships, optionally of one user and/or one org."""
        with self.lock:
            table = self.memberships
            if user_id is not None:
                table = self._memberships_by_user.get(user_id) or Table()
            elif org_id is not None:
                table = self._memberships_by_org.get(org_id) or Table()
            where = None
            if user_id is not None and org_id is not None:
                where = lambda membership: membership.org_id == org_id  # noqa: E731
            return table.page(after=after, limit=limit, where=where)

    # -- sessions -----------------------------------------------------------------------------

    def create_session(
        self,
        user_id: str,
        *,
        org_id: str | None = None,
        ttl: int | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> SessionRecord:
        """Start a session for the user (a login): stamps ``last_login_at``.

        ``request`` holds the session's request attributes (``client``, ``ip``).

        ``org_id`` selects the org (the user must be a member); by default the selected
        membership's org, else the first membership's org, else none.
        """
        with self.lock:
            user = self.get_user(user_id)
            memberships = self.memberships_of(user.id)
            if org_id is not None:
                if not any(membership.org_id == org_id for membership, _ in memberships):
                    raise Invalid(f"User {user.id} is not a member of org {org_id}")
            elif memberships:
                chosen = next((m for m, _ in memberships if m.selected), memberships[0][0])
                org_id = chosen.org_id
            created_at = now()
            session = SessionRecord(
                id=new_id("kss"),
                user_id=user.id,
                created_at=created_at,
                expires_at=int(created_at + (self.session_ttl if ttl is None else ttl)),
                org_id=org_id,
                request=copy.deepcopy(dict(request or {})),
            )
            self.sessions.put(session)
            self._sessions_by_user.setdefault(user.id, Table()).put(session)
            self.record_login(user.id)
            return session

    def get_session(self, session_id: str, *, include_expired: bool = False) -> SessionRecord:
        """Return an active session, or raise NotFound (unknown, ended or expired)."""
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None or not (include_expired or session.is_active(now())):
                raise NotFound("Session not found")
            return session

    def end_session(self, session_id: str) -> SessionRecord:
        """End a session (``session.deleted``); raise NotFound when it is not active."""
        with self.lock:
            session = self.get_session(session_id)
            self._end_session(session)
            return session

    def end_user_sessions(self, user_id: str) -> list[SessionRecord]:
        """End every session of a user and return them."""
        with self.lock:
            ended = list(self._sessions_by_user.get(user_id, ()))
            for session in ended:
                self._end_session(session)
            return ended

    def _end_session(self, session: SessionRecord) -> None:
        self.sessions.remove(session.id)
        self._sessions_by_user[session.user_id].remove(session.id)
        self._emit("session.deleted", user_id=session.user_id, session_id=session.id)

    def page_sessions(
        self,
        *,
        after: str | None,
        limit: int,
        user_id: str | None = None,
        descending: bool = False,
    ) -> tuple[list[SessionRecord], bool]:
        """One page of active sessions, optionally of one user, oldest first by default."""
        with self.lock:
            table = self.sessions if user_id is None else self._sessions_by_user.get(user_id)
            if table is None:
                return [], False
            at = now()
            return table.page(
                after=after, limit=limit, where=lambda s: s.is_active(at), descending=descending
            )

    def page_events(
        self,
        *,
        after: str | None,
        limit: int,
        descending: bool = True,
        event_type: str | None = None,
        **ids: str,
    ) -> tuple[list[EventRecord], bool]:
        """One page of events, newest first by default.

        ``event_type`` matches as a prefix (``user.`` finds every user event); ``ids`` filter
        on ``user_id``, ``org_id``, ``membership_id``, ``session_id`` or ``invitation_id``.
        """

        def where(event: EventRecord) -> bool:
            if event_type is not None and not event.event_type.startswith(event_type):
                return False
            return all(getattr(event, name) == value for name, value in ids.items())

        with self.lock:
            return self.events.page(after=after, limit=limit, where=where, descending=descending)


#: How each ``sort`` value of the users list orders users (None: creation order). ``id`` is
#: "equivalent to created_at" (authrocket.com/docs/api/sessions, "List sessions"); the users
#: list documents ``sort`` and ``direction`` without listing the values here, so the emulator
#: offers the fields a list of people is sorted by.
USER_SORTS: dict[str, Callable[[UserRecord], Any] | None] = {
    "id": None,
    "created_at": None,
    "email": lambda user: user.email,
    "name": lambda user: user.name.casefold(),
}
#: The orgs list's ``sort``: ``id`` or ``name`` (authrocket.com/docs/api/orgs, "List orgs").
ORG_SORTS: dict[str, Callable[[OrgRecord], Any] | None] = {
    "id": None,
    "name": lambda org: org.name.casefold(),
}


def _sorted_page(
    table: Table[RowT],
    key: Callable[[RowT], Any] | None,
    after: str | None,
    limit: int,
    where: Callable[[RowT], bool],
    *,
    descending: bool,
) -> tuple[list[RowT], bool]:
    """A page of ``table`` in ``key`` order (creation order for None), ``after`` an id.

    Creation order pages in O(page); another order sorts the matching rows first (ties keep
    creation order), which is fine for an emulator's realm.
    """
    if key is None:
        return table.page(after=after, limit=limit, where=where, descending=descending)
    rows = sorted((row for row in table if where(row)), key=key, reverse=descending)
    start = 0
    if after is not None:
        ids = [row.id for row in rows]
        if after not in ids:
            return [], False
        start = ids.index(after) + 1
    found = rows[start : start + limit]
    return found, start + limit < len(rows)


def _found(record: RecordT | None, kind: str) -> RecordT:
    if record is None:
        raise NotFound(f"{kind} not found")
    return record


def _choice(value: object, allowed: frozenset[str], name: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(f"{name} must be one of: {', '.join(sorted(allowed))}")
    return value


def _optional_text(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    return value


def _user_values(fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validate user fields and map them onto :class:`UserRecord` attribute names."""
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise Invalid(f"Unknown user fields: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    if creating or "email" in fields:
        email = fields.get("email")
        if not isinstance(email, str) or not email.strip():
            raise Invalid("Email can't be blank")
        email = email.strip().lower()
        local, _, domain = email.partition("@")
        if not local or not domain or any(ch.isspace() for ch in email):
            raise Invalid("Email is invalid")
        values["email"] = email
    for name in ("first_name", "last_name", "username", "reference", "locale"):
        if name in fields:
            values[name] = _optional_text(fields[name], name)
    if "name" in fields:
        values["display_name"] = _optional_text(fields["name"], "name")
    if "custom" in fields:
        custom = fields["custom"] or {}
        if not isinstance(custom, Mapping):
            raise Invalid("custom must be an object")
        values["custom"] = copy.deepcopy(dict(custom))
    if "state" in fields:
        values["state"] = cast(UserState, _choice(fields["state"], USER_STATES, "state"))
    if "email_verification" in fields:
        values["email_verification"] = cast(
            EmailVerification,
            _choice(fields["email_verification"], EMAIL_VERIFICATIONS, "email_verification"),
        )
    return values

"""The emulator's realm data as immutable records (the store replaces them, never mutates them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

UserState = Literal["active", "inactive"]
EmailVerification = Literal["none", "requested", "verified"]
OrgState = Literal["active", "inactive", "closed"]
InvitationType = Literal["org", "preverify", "referral", "request"]

USER_STATES: frozenset[str] = frozenset({"active", "inactive"})
EMAIL_VERIFICATIONS: frozenset[str] = frozenset({"none", "requested", "verified"})
ORG_STATES: frozenset[str] = frozenset({"active", "inactive", "closed"})
#: AuthRocket's invitation types (authrocket-ruby, lib/authrocket/invitation.rb and the
#: ``invitation.<type>.*`` event types of ``Hook.event_types`` in lib/authrocket/hook.rb).
INVITATION_TYPES: frozenset[str] = frozenset({"org", "preverify", "referral", "request"})


def now() -> float:
    """Current unix time in seconds, to the millisecond (AuthRocket sends floats like this)."""
    return round(time.time(), 3)


@dataclass(frozen=True)
class UserRecord:
    """A user of the realm."""

    id: str
    realm_id: str
    email: str
    created_at: float
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None  # an explicitly set name; ``name`` falls back from it
    username: str | None = None
    reference: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    state: UserState = "active"
    # authrocket.com/docs/api/users, "Fields": email_verification defaults to none.
    email_verification: EmailVerification = "none"
    locale: str | None = None
    last_login_at: int | None = None

    @property
    def name(self) -> str:
        """The name AuthRocket always fills: explicit name, else first + last, else email."""
        if self.display_name:
            return self.display_name
        full = " ".join(part for part in (self.first_name, self.last_name) if part)
        return full or self.email


@dataclass(frozen=True)
class OrgRecord:
    """An org (account) of the realm."""

    id: str
    realm_id: str
    name: str
    created_at: float
    reference: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    state: OrgState = "active"


@dataclass(frozen=True)
class MembershipRecord:
    """A user's membership of an org; at most one per (user, org) pair."""

    id: str
    user_id: str
    org_id: str
    created_at: float
    permissions: tuple[str, ...] = ()
    selected: bool = False
    expires_at: int | None = None

    def is_current(self, at: float) -> bool:
        """True unless the membership has an expiry that has passed."""
        return self.expires_at is None or self.expires_at > at


@dataclass(frozen=True)
class SessionRecord:
    """A LoginRocket session (``kss_...``); ``org_id`` is the org selected when it began."""

    id: str
    user_id: str
    created_at: float
    expires_at: int
    org_id: str | None = None
    #: The session's ``request`` attributes (authrocket.com/docs/api/sessions: "Hash of
    #: request attributes"; its example has ``client`` and ``ip``).
    request: dict[str, Any] = field(default_factory=dict)

    def is_active(self, at: float) -> bool:
        """True while the session has not expired (ended sessions are removed from the store)."""
        return self.expires_at > at


@dataclass(frozen=True)
class InvitationRecord:
    """An invitation (``nvt_...``); fields as in authrocket-ruby lib/authrocket/invitation.rb.

    ``org_id`` and ``permissions`` only matter for ``org`` invitations: accepting one makes the
    user a member of that org with those permissions.
    """

    id: str
    realm_id: str
    invitation_type: InvitationType
    email: str
    created_at: float
    expires_at: int
    org_id: str | None = None
    permissions: tuple[str, ...] = ()
    inviting_user_id: str | None = None
    locale: str | None = None
    invited_at: float | None = None


@dataclass(frozen=True)
class EventRecord:
    """Something that happened in the realm, in the shape of AuthRocket's "Get an Event"."""

    id: str
    realm_id: str
    event_type: str
    event_at: float
    user_id: str | None = None
    org_id: str | None = None
    membership_id: str | None = None
    session_id: str | None = None
    invitation_id: str | None = (
        None  # authrocket-ruby lib/authrocket/event.rb: belongs_to :invitation
    )

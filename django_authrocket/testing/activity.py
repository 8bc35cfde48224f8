"""What a realm's users do besides logging in, each step emitting the event AuthRocket emits.

Invitations, login attempts, password resets, email changes and verification, profile edits:
the emulator models only as much of each as its event needs, so a test can make every event
type AuthRocket sends. The event types are those of the official Ruby gem, authrocket-ruby
(``Hook.event_types`` in ``lib/authrocket/hook.rb``); the ids an event names (an invitation,
membership, org, user, session) are those of ``lib/authrocket/event.rb``; invitations have the
fields and types of ``lib/authrocket/invitation.rb``. The data lives in the :class:`Store`
(``invitations``, ``pending_emails``) under its lock, so ``Store.clear`` forgets it too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, cast

from .ids import new_id
from .records import (
    INVITATION_TYPES,
    InvitationRecord,
    InvitationType,
    MembershipRecord,
    UserRecord,
    now,
)
from .store import Invalid, NotFound, Store

#: authrocket-ruby lib/authrocket/invitation.rb ``expires_at``: 30 days unless given.
INVITATION_TTL = 30 * 24 * 3600
#: What a user may change about themselves on LoginRocket's profile page.
PROFILE_FIELDS: frozenset[str] = frozenset(
    {"first_name", "last_name", "name", "username", "locale", "custom"}
)


class Activity:
    """The steps behind the event types a plain create/update/delete does not produce."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- invitations: invitation.<type>.created|updated|invited|accepted|expired ---------------

    def create_invitation(
        self,
        invitation_type: str,
        email: str,
        *,
        org_id: str | None = None,
        permissions: Iterable[str] = (),
        inviting_user_id: str | None = None,
        locale: str | None = None,
    ) -> InvitationRecord:
        """Create an invitation: ``invitation.<type>.created``. Only ``org`` ones name an org."""
        if invitation_type not in INVITATION_TYPES:
            raise Invalid(f"invitation_type must be one of: {', '.join(sorted(INVITATION_TYPES))}")
        if not isinstance(email, str) or "@" not in email:
            raise Invalid("Email is invalid")
        if isinstance(permissions, str):
            raise Invalid("permissions must be a list of strings, not a string")
        if (org_id is None) == (invitation_type == "org"):
            raise Invalid("org_id is required for (and only for) org invitations")
        with self.store.lock:
            if org_id is not None:
                self.store.get_org(org_id)
            if inviting_user_id is not None:
                self.store.get_user(inviting_user_id)
            created_at = now()
            invitation = InvitationRecord(
                id=new_id("nvt"),
                realm_id=self.store.realm_id,
                invitation_type=cast(InvitationType, invitation_type),
                email=email.strip().lower(),
                created_at=created_at,
                expires_at=int(created_at + INVITATION_TTL),
                org_id=org_id,
                permissions=tuple(permissions),
                inviting_user_id=inviting_user_id,
                locale=locale,
            )
            self.store.invitations.put(invitation)
            self._emit(invitation, "created")
            return invitation

    def get_invitation(self, invitation_id: str) -> InvitationRecord:
        """An open invitation (not accepted, not expired), or NotFound."""
        with self.store.lock:
            invitation = self.store.invitations.get(invitation_id)
            if invitation is None:
                raise NotFound("Invitation not found")
            return invitation

    def update_invitation(self, invitation_id: str, **fields: Any) -> InvitationRecord:
        """Change ``email``, ``permissions`` or ``locale``: ``invitation.<type>.updated``."""
        unknown = set(fields) - {"email", "permissions", "locale"}
        if unknown:
            raise Invalid(f"Unknown invitation fields: {', '.join(sorted(unknown))}")
        if "permissions" in fields:
            fields["permissions"] = tuple(fields["permissions"])
        with self.store.lock:
            invitation = dataclasses.replace(self.get_invitation(invitation_id), **fields)
            self.store.invitations.put(invitation)
            self._emit(invitation, "updated")
            return invitation

    def send_invitation(self, invitation_id: str) -> InvitationRecord:
        """Send the invitation's email (the gem's ``Invitation#invite``): ``...invited``."""
        with self.store.lock:
            invitation = dataclasses.replace(self.get_invitation(invitation_id), invited_at=now())
            self.store.invitations.put(invitation)
            self._emit(invitation, "invited")
            return invitation

    def accept_invitation(
        self, invitation_id: str, user_id: str | None = None
    ) -> MembershipRecord | None:
        """Accept an invitation: ``invitation.<type>.accepted``; the invitation is used up.

        An ``org`` invitation makes the accepting user a member of its org with its permissions
        (``membership.created``, then the acceptance naming the new membership); a user who is
        already a member keeps their membership, and the acceptance names none. Returns the new
        membership, if any.
        """
        with self.store.lock:
            invitation = self.get_invitation(invitation_id)
            if invitation.invitation_type == "org" and user_id is None:
                raise Invalid("an org invitation is accepted by a user: give user_id")
            user = self.store.get_user(user_id) if user_id is not None else None
            membership = None
            if invitation.org_id is not None and user is not None:
                members = {m.org_id for m, _ in self.store.memberships_of(user.id)}
                if invitation.org_id not in members:
                    membership = self.store.create_membership(
                        user.id, invitation.org_id, permissions=invitation.permissions
                    )
            self.store.invitations.remove(invitation.id)
            self._emit(
                invitation,
                "accepted",
                user_id=user.id if user else None,
                membership_id=membership.id if membership else None,
            )
            return membership

    def expire_invitation(self, invitation_id: str) -> InvitationRecord:
        """Let an invitation expire unused: ``invitation.<type>.expired``; it is deleted."""
        with self.store.lock:
            invitation = self.get_invitation(invitation_id)
            self.store.invitations.remove(invitation.id)
            self._emit(invitation, "expired")
            return invitation

    def _emit(self, invitation: InvitationRecord, step: str, **ids: str | None) -> None:
        self.store.emit(
            f"invitation.{invitation.invitation_type}.{step}",
            invitation_id=invitation.id,
            org_id=invitation.org_id,
            **ids,
        )

    # -- logins: user.login.initiated|failed (a login that completes is create_session) --------

    def start_login(self, user_id: str) -> None:
        """A login began that needs a second step (an emailed link, a code): initiated."""
        self._user_event(user_id, "user.login.initiated")

    def fail_login(self, user_id: str) -> None:
        """A login attempt for this user failed (wrong password, say): ``user.login.failed``."""
        self._user_event(user_id, "user.login.failed")

    # -- passwords: user.password.resetting|updated ---------------------------------------------

    def request_password_reset(self, user_id: str) -> None:
        """The user asked for a password reset email: ``user.password.resetting``."""
        self._user_event(user_id, "user.password.resetting")

    def change_password(self, user_id: str) -> None:
        """The user set a new password: ``user.password.updated`` (no password is kept)."""
        self._user_event(user_id, "user.password.updated")

    # -- email: user.email.updating|verifying|verified ------------------------------------------

    def request_email_change(self, user_id: str, new_email: str) -> None:
        """The user asked to change their email: ``user.email.updating``.

        The address changes only once it is verified (:meth:`verify_email`).
        """
        address = new_email.strip().lower() if isinstance(new_email, str) else ""
        local, _, domain = address.partition("@")
        if not local or not domain or any(ch.isspace() for ch in address):
            raise Invalid("Email is invalid")
        with self.store.lock:
            user = self.store.get_user(user_id)
            if (
                address != user.email
                and self.store.page_users(after=None, limit=1, email=address)[0]
            ):
                raise Invalid("Email has already been taken")
            self.store.pending_emails[user.id] = address
            self.store.emit("user.email.updating", user_id=user.id)

    def request_email_verification(self, user_id: str) -> UserRecord:
        """A verification email went out: ``email_verification`` is ``requested``; verifying."""
        return self.store.update_user(
            user_id, emit="user.email.verifying", email_verification="requested"
        )

    def verify_email(self, user_id: str) -> UserRecord:
        """The user followed the verification link: ``user.email.verified``.

        A pending change (:meth:`request_email_change`) takes effect now.
        """
        with self.store.lock:
            user = self.store.get_user(user_id)
            fields: dict[str, Any] = {"email_verification": "verified"}
            pending = self.store.pending_emails.get(user.id)
            if pending is not None:
                fields["email"] = pending
            verified = self.store.update_user(user.id, emit="user.email.verified", **fields)
            self.store.pending_emails.pop(user.id, None)
            return verified

    # -- profile: user.profile.updated ----------------------------------------------------------

    def update_profile(self, user_id: str, **fields: Any) -> UserRecord:
        """The user edited their own profile on LoginRocket: ``user.profile.updated``."""
        unknown = set(fields) - PROFILE_FIELDS
        if unknown:
            raise Invalid(f"Not editable on the profile page: {', '.join(sorted(unknown))}")
        return self.store.update_user(user_id, emit="user.profile.updated", **fields)

    def _user_event(self, user_id: str, event_type: str) -> None:
        with self.store.lock:
            self.store.emit(event_type, user_id=self.store.get_user(user_id).id)

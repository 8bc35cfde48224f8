"""Records rendered as Core API JSON objects (``"object": "user"`` ...), v1 and v2 shapes."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from .issuer import EMULATOR_MARKER
from .records import (
    EventRecord,
    InvitationRecord,
    MembershipRecord,
    OrgRecord,
    SessionRecord,
    UserRecord,
)


def user_object(user: UserRecord, generation: int = 2, *, custom: bool = True) -> dict[str, Any]:
    """A user; AuthRocket 1 adds ``user_type`` (``human``: the emulator has no API users).
    ``custom=False`` leaves ``custom`` out, as the Core API does unless ``expand=custom``."""
    data: dict[str, Any] = {
        "object": "user",
        "id": user.id,
        "realm_id": user.realm_id,
        "state": user.state,
        "email": user.email,
        "email_verification": user.email_verification,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "name": user.name,
        "username": user.username,
        "locale": user.locale,
        "reference": user.reference,
        "custom": copy.deepcopy(user.custom),
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }
    if generation == 1:
        data["user_type"] = "human"
    if not custom:
        del data["custom"]
    return data


def org_object(org: OrgRecord, *, custom: bool = True) -> dict[str, Any]:
    """An org; ``custom=False`` leaves ``custom`` out (the Core API's default for lists)."""
    data: dict[str, Any] = {
        "object": "org",
        "id": org.id,
        "realm_id": org.realm_id,
        "name": org.name,
        "state": org.state,
        "reference": org.reference,
        "custom": copy.deepcopy(org.custom),
        "created_at": org.created_at,
    }
    if not custom:
        del data["custom"]
    return data


def membership_object(
    membership: MembershipRecord,
    org: OrgRecord | None = None,
    *,
    user: dict[str, Any] | None = None,
    custom: bool = True,
) -> dict[str, Any]:
    """A membership, with its ``org`` embedded when given (``custom=False``: without its
    custom attributes) and its ``user`` (an object already rendered) when given."""
    data: dict[str, Any] = {
        "object": "membership",
        "id": membership.id,
        "org_id": membership.org_id,
        "user_id": membership.user_id,
        "permissions": list(membership.permissions),
        "selected": membership.selected,
        "expires_at": membership.expires_at,
        "created_at": membership.created_at,
    }
    if org is not None:
        data["org"] = org_object(org, custom=custom)
    if user is not None:
        data["user"] = user
    return data


def session_object(
    session: SessionRecord,
    user: UserRecord | None = None,
    memberships: Sequence[tuple[MembershipRecord, OrgRecord]] = (),
    generation: int = 2,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    """A session. AuthRocket 2's fields (authrocket.com/docs/api/sessions, "Fields"): ``id``,
    ``client_app_id``, ``created_at``, ``expires_at``, ``token`` (given here only when the
    caller has one), ``user_id``, ``request``. With ``user``, the user is embedded with their
    memberships (each with its org), as AuthRocket 1's Get Session did (v1.authrocket.com
    integration guide)."""
    data: dict[str, Any] = {
        "object": "session",
        "id": session.id,
        "created_at": session.created_at,
        "expires_at": session.expires_at,
        "user_id": session.user_id,
    }
    if generation == 2:
        data["client_app_id"] = None
        data["request"] = copy.deepcopy(session.request)
    if token is not None:
        data["token"] = token
    data[EMULATOR_MARKER] = True  # not an AuthRocket field: sites refuse it outside tests
    if user is not None:
        embedded = user_object(user, generation)
        embedded["memberships"] = [membership_object(m, org) for m, org in memberships]
        data["user"] = embedded
    return data


def event_object(event: EventRecord) -> dict[str, Any]:
    """An event, as "Get an Event" and webhooks deliver it: ids of what it concerns."""
    data: dict[str, Any] = {
        "object": "event",
        "id": event.id,
        "realm_id": event.realm_id,
        "event_type": event.event_type,
        "event_at": event.event_at,
    }
    for name in ("user_id", "org_id", "membership_id", "session_id", "invitation_id"):
        value = getattr(event, name)
        if value is not None:
            data[name] = value
    return data


def invitation_object(invitation: InvitationRecord) -> dict[str, Any]:
    """An invitation (fields of authrocket-ruby lib/authrocket/invitation.rb; no token)."""
    return {
        "object": "invitation",
        "id": invitation.id,
        "realm_id": invitation.realm_id,
        "invitation_type": invitation.invitation_type,
        "email": invitation.email,
        "org_id": invitation.org_id,
        "permissions": list(invitation.permissions),
        "inviting_user_id": invitation.inviting_user_id,
        "locale": invitation.locale,
        "created_at": invitation.created_at,
        "invited_at": invitation.invited_at,
        "expires_at": invitation.expires_at,
    }

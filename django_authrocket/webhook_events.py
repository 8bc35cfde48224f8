"""The one table of AuthRocket event types and what the webhook endpoint does with each.

The types are AuthRocket's full list, from the official Ruby gem (authrocket/authrocket-ruby,
``Hook.event_types`` in ``lib/authrocket/hook.rb``), plus ``ping``, which only webhooks send.
Only the events that change what the mirror holds, and ``session.deleted``, are worth a Core API
call; every other type is recorded and signalled and costs nothing. A type missing from the
table (a family AuthRocket adds later) is acknowledged too: AuthRocket retries anything but a
2xx for about two days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final


@dataclass(frozen=True)
class Action:
    """What the endpoint does with one event.

    ``reads`` names the id the event must carry for the action (``user_id``...). An action
    with one is the only kind that calls the Core API: the event is fetched again when
    ``AUTHROCKET_WEBHOOK_REFETCH`` is on, then the object is read (sign-out reads nothing).
    """

    name: str
    does: str
    reads: str | None = None

    @property
    def calls_core_api(self) -> bool:
        return self.reads is not None


PONG: Final = Action("pong", "answered `pong`; not recorded")
REREAD_USER: Final = Action(
    "reread_user", "the user and their memberships re-read into the mirror", "user_id"
)
USER_GONE: Final = Action(
    "user_gone",
    "the user re-read; gone at AuthRocket, so deactivated locally (without an API key too)",
    "user_id",
)
REREAD_ORG: Final = Action("reread_org", "the org re-read into the mirror", "org_id")
REREAD_MEMBERSHIP: Final = Action(
    "reread_membership", "the membership re-read into the mirror", "membership_id"
)
MEMBERSHIP_GONE: Final = Action(
    "membership_gone",
    "the membership re-read; gone at AuthRocket, so removed locally (without an API key too)",
    "membership_id",
)
JOINED_ORG: Final = Action(
    "joined_org",
    "the membership the acceptance created (the event's `membership_id`) re-read into the "
    "mirror; an event naming none is recorded only",
    "membership_id",
)
SIGN_OUT: Final = Action(
    "sign_out",
    "single sign-out: the Django sessions of that AuthRocket session end, on every worker",
    "session_id",
)
RECORD: Final = Action("record", "recorded and signalled only; no Core API call")
UNKNOWN: Final = Action(
    "unknown",
    "acknowledged (200), recorded and signalled; logged once at INFO; no Core API call",
)

#: Every AuthRocket event type -> what the endpoint does with it. Logins and password changes
#: are no-ops: the login path itself refreshes the user's mirror, and no password is mirrored.
EVENT_TYPES: Final[Mapping[str, Action]] = MappingProxyType(
    {
        "ping": PONG,
        "invitation.org.created": RECORD,
        "invitation.org.updated": RECORD,
        "invitation.org.invited": RECORD,
        "invitation.org.accepted": JOINED_ORG,
        "invitation.org.expired": RECORD,
        "invitation.preverify.created": RECORD,
        "invitation.preverify.updated": RECORD,
        "invitation.preverify.invited": RECORD,
        "invitation.preverify.accepted": RECORD,
        "invitation.preverify.expired": RECORD,
        "invitation.referral.created": RECORD,
        "invitation.referral.updated": RECORD,
        "invitation.referral.invited": RECORD,
        "invitation.referral.accepted": RECORD,
        "invitation.referral.expired": RECORD,
        "invitation.request.created": RECORD,
        "invitation.request.updated": RECORD,
        "invitation.request.invited": RECORD,
        "invitation.request.accepted": RECORD,
        "invitation.request.expired": RECORD,
        "membership.created": REREAD_MEMBERSHIP,
        "membership.updated": REREAD_MEMBERSHIP,
        "membership.deleted": MEMBERSHIP_GONE,
        "org.created": REREAD_ORG,
        "org.updated": REREAD_ORG,
        "org.closed": REREAD_ORG,
        "session.deleted": SIGN_OUT,
        "user.created": REREAD_USER,
        "user.updated": REREAD_USER,
        "user.deleted": USER_GONE,
        "user.email.updating": RECORD,  # the address changes once verified: user.email.verified
        "user.email.verifying": RECORD,
        "user.email.verified": REREAD_USER,
        "user.login.succeeded": RECORD,
        "user.login.failed": RECORD,
        "user.login.initiated": RECORD,
        "user.password.resetting": RECORD,
        "user.password.updated": RECORD,
        "user.profile.updated": REREAD_USER,
    }
)


def action_for(event_type: str, event: Mapping[str, Any]) -> Action:
    """What to do with an event of this type: the table's entry, refined by what it names.

    An ``invitation.org.accepted`` that names no membership (the emulator's, when the user was
    already a member) has nothing to re-read: recorded only.
    """
    action = EVENT_TYPES.get(event_type, UNKNOWN)
    if action is JOINED_ORG and event.get("membership_id") is None:
        return RECORD
    return action

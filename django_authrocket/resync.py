"""Single objects from the Core API into the mirror: what the webhook endpoint and the admin's
"Resync from AuthRocket" action use.

:func:`fetch_user`, :func:`fetch_org` and :func:`fetch_membership` read what AuthRocket says
now about one object (and whatever it needs that the mirror lacks: a user's memberships, an
org not mirrored yet) into a :class:`Snapshot`; :func:`apply` writes a snapshot in a single
transaction through :mod:`django_authrocket.mirror.pages`, the sync engine's writer, so a
webhook and a full sync write rows the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from .client import AuthRocketClient
from .exceptions import NotFound
from .mirror import lock_order, pages
from .mirror.pages import Counts, Resource
from .models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser

logger = logging.getLogger("django_authrocket.sync")


@dataclass
class Snapshot:
    """What the Core API says now about some objects, ready for :func:`apply`.

    ``members_of`` names users whose complete membership list is in ``memberships``: their
    other local memberships are removed. ``gone_users`` are deactivated locally,
    ``gone_memberships`` deleted.
    """

    users: list[dict[str, Any]] = field(default_factory=list)
    orgs: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    members_of: list[str] = field(default_factory=list)
    gone_users: list[str] = field(default_factory=list)
    gone_memberships: list[str] = field(default_factory=list)

    def merge(self, other: Snapshot) -> Snapshot:
        for name in ("users", "orgs", "memberships", "members_of"):
            getattr(self, name).extend(getattr(other, name))
        self.gone_users.extend(other.gone_users)
        self.gone_memberships.extend(other.gone_memberships)
        return self


def fetch_user(user_id: str, client: AuthRocketClient | None = None) -> Snapshot:
    """A user with all their memberships (and the orgs not mirrored yet); gone if 404."""
    client = client or AuthRocketClient.from_settings()
    try:
        user = client.get_user(user_id)
    except NotFound:
        return Snapshot(gone_users=[user_id])
    user_id = str(user["id"])
    listed = list(client.iter_memberships(user_id=user_id))
    memberships = [m for m in listed if m.get("user_id") == user_id]
    if len(memberships) < len(listed):  # an unexpected answer: write its own, remove nothing
        logger.warning(
            "AuthRocket listed %d membership(s) of other users for %s: kept its local ones",
            len(listed) - len(memberships),
            user_id,
        )
    return Snapshot(
        users=[user],
        memberships=memberships,
        members_of=[user_id] if len(memberships) == len(listed) else [],
        orgs=_missing_orgs(client, {str(m.get("org_id")) for m in memberships}),
    )


def fetch_org(org_id: str, client: AuthRocketClient | None = None) -> Snapshot:
    """An org (AuthRocket closes orgs rather than deleting them: a 404 changes nothing)."""
    client = client or AuthRocketClient.from_settings()
    try:
        return Snapshot(orgs=[client.get_org(org_id)])
    except NotFound:
        return Snapshot()


def fetch_membership(membership_id: str, client: AuthRocketClient | None = None) -> Snapshot:
    """A membership, with its user and org when they are not mirrored yet; gone if 404."""
    client = client or AuthRocketClient.from_settings()
    try:
        membership = client.get_membership(membership_id)
    except NotFound:
        return Snapshot(gone_memberships=[membership_id])
    snapshot = Snapshot(memberships=[membership])
    user_id = str(membership.get("user_id"))
    if not AuthRocketUser.objects.filter(authrocket_id=user_id).exists():
        snapshot.merge(fetch_user(user_id, client))
    snapshot.orgs.extend(_missing_orgs(client, {str(membership.get("org_id"))}))
    return snapshot


def _missing_orgs(client: AuthRocketClient, org_ids: set[str]) -> list[dict[str, Any]]:
    if not org_ids:
        return []  # no memberships: nothing to ask the database
    known = set(
        AuthRocketOrg.objects.filter(authrocket_id__in=org_ids).values_list(
            "authrocket_id", flat=True
        )
    )
    orgs = []
    for org_id in sorted(org_ids - known):
        try:
            orgs.append(client.get_org(org_id))
        except NotFound:
            continue  # the membership will be skipped: its org is unknown
    return orgs


def apply(snapshot: Snapshot) -> dict[Resource, Counts]:
    """Write a :class:`Snapshot` into the mirror in one transaction; counts per resource.

    Only what the snapshot holds costs a query: a webhook's one user with no memberships is
    one read and, when it changed, one write (no statement for the empty lists), after the
    locked read of the people it names where rows are locked (not SQLite)."""
    keep = [str(m["id"]) for m in snapshot.memberships]
    # No savepoint inside a caller's transaction (the webhook's): an error here fails it all.
    with transaction.atomic(savepoint=False):
        # The lock order (docs/architecture.md): the people first, as a login holds its
        # person's row from its first read; then the users (a new person's rows meet a
        # concurrent first login's there, before any org is written), then orgs, memberships.
        people = _people(snapshot)
        if people:
            lock_order.hold(AuthRocketUser.objects.filter(authrocket_id__in=people))
        result: dict[Resource, Counts] = {
            "users": pages.write("users", snapshot.users) if snapshot.users else Counts(),
            "orgs": pages.write("orgs", snapshot.orgs) if snapshot.orgs else Counts(),
            "memberships": (
                pages.write("memberships", snapshot.memberships)
                if snapshot.memberships
                else Counts()
            ),
        }
        if snapshot.gone_users:
            result["users"].deactivated += pages.deactivate_users(snapshot.gone_users)
        of_users = _holding_unlisted(snapshot.members_of, keep)
        if snapshot.gone_memberships or of_users:
            result["memberships"].removed += pages.remove_memberships(
                ids=snapshot.gone_memberships, of_users=of_users, keep=keep
            )
    return result


def _people(snapshot: Snapshot) -> list[str]:
    """The AuthRocket ids of the people whose rows ``snapshot`` writes."""
    named = {user.get("id") for user in snapshot.users}
    named.update(m.get("user_id") for m in snapshot.memberships)
    named.update(snapshot.gone_users)
    named.update(snapshot.members_of)
    return sorted(str(i) for i in named if i is not None)


def _holding_unlisted(user_ids: Sequence[str], keep: Sequence[str]) -> list[str]:
    """Those of these users who hold a local membership not in ``keep`` (one plain read):
    only theirs need :func:`~django_authrocket.mirror.pages.remove_memberships`' delete."""
    if not user_ids:
        return []
    held = AuthRocketMembership.objects.filter(user__authrocket_id__in=list(user_ids))
    kept = set(keep)
    return sorted(
        {
            str(user_id)
            for user_id, membership_id in held.values_list("user__authrocket_id", "authrocket_id")
            if membership_id is None or membership_id not in kept
        }
    )


def resync_users(
    authrocket_ids: Iterable[str], client: AuthRocketClient | None = None
) -> dict[Resource, Counts]:
    """Read these users (and their memberships) again from AuthRocket and write them."""
    return _resync(fetch_user, authrocket_ids, client)


def resync_orgs(
    authrocket_ids: Iterable[str], client: AuthRocketClient | None = None
) -> dict[Resource, Counts]:
    """Read these orgs again from AuthRocket and write them."""
    return _resync(fetch_org, authrocket_ids, client)


def _resync(
    fetch: Callable[[str, AuthRocketClient], Snapshot],
    authrocket_ids: Iterable[str],
    client: AuthRocketClient | None,
) -> dict[Resource, Counts]:
    client = client or AuthRocketClient.from_settings()
    snapshot = Snapshot()
    for authrocket_id in authrocket_ids:
        snapshot.merge(fetch(authrocket_id, client))
    return apply(snapshot)


def describe(result: Mapping[Resource, Counts]) -> str:
    """``users: 1 updated, ...; memberships: 2 created, ...`` (resources with nothing left out)."""
    parts = [
        f"{name}: {counts.describe()}"
        for name, counts in result.items()
        if counts.seen or counts.deactivated or counts.removed
    ]
    return "; ".join(parts) or "nothing changed"

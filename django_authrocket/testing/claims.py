"""Login token claim sets in the AuthRocket 2 and AuthRocket 1 shapes.

Optional claims whose value is unset (no username, no reference, empty custom attributes) are
left out, as LoginRocket does; a test adds or removes any claim with ``mint_token(claims=...,
drop_claims=...)``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from .records import MembershipRecord, OrgRecord, SessionRecord, UserRecord

AUTHROCKET_ISSUER = "https://authrocket.com"

Memberships = Sequence[tuple[MembershipRecord, OrgRecord]]


def _set_if(claims: dict[str, Any], name: str, value: object) -> None:
    if value not in (None, "", {}):
        claims[name] = copy.deepcopy(value)


def ar2_claims(
    user: UserRecord,
    session: SessionRecord,
    memberships: Memberships | None,
    *,
    selected_org_id: str | None,
    issued_at: int,
    expires_at: int,
) -> dict[str, Any]:
    """AuthRocket 2 claims; ``orgs`` is present when the user has memberships, one selected.

    ``memberships`` None leaves the org data out (a realm whose tokens carry none).
    """
    claims: dict[str, Any] = {
        "iss": AUTHROCKET_ISSUER,
        "iat": issued_at,
        "exp": expires_at,
        "sub": user.id,
        "sid": session.id,
        "rid": user.realm_id,
        "name": user.name,
        "email": user.email,
        "email_verified": user.email_verification == "verified",
    }
    _set_if(claims, "given_name", user.first_name)
    _set_if(claims, "family_name", user.last_name)
    _set_if(claims, "preferred_username", user.username)
    _set_if(claims, "ref", user.reference)
    _set_if(claims, "cs", user.custom)
    if memberships:
        selected = selected_membership(memberships, selected_org_id)
        orgs = []
        for membership, org in memberships:
            entry: dict[str, Any] = {
                "mid": membership.id,
                "oid": org.id,
                "name": org.name,
                "perm": list(membership.permissions),
                "selected": membership is selected,
            }
            _set_if(entry, "ref", org.reference)
            _set_if(entry, "cs", org.custom)
            orgs.append(entry)
        claims["orgs"] = orgs
    return claims


def ar1_claims(
    user: UserRecord,
    session: SessionRecord,
    memberships: Memberships | None,
    *,
    issued_at: int,
    expires_at: int,
) -> dict[str, Any]:
    """AuthRocket 1 claims: short names, the realm in ``aud``, no ``iss``; no ``m`` when
    ``memberships`` is None (no org data) or empty. The entries carry no ``selected`` flag
    (authrocket-ruby lib/authrocket/session.rb ``from_token`` reads ``oid``, ``o`` and ``p``)."""
    claims: dict[str, Any] = {
        "uid": user.id,
        "tk": session.id,
        "aud": user.realm_id,
        "iat": issued_at,
        "exp": expires_at,
        "un": user.username or user.email,
        "n": user.name,
    }
    _set_if(claims, "fn", user.first_name)
    _set_if(claims, "ln", user.last_name)
    _set_if(claims, "cs", user.custom)
    if memberships:
        entries = []
        for membership, org in memberships:
            entry: dict[str, Any] = {
                "oid": org.id,
                "o": org.name,
                "p": list(membership.permissions),
            }
            _set_if(entry, "ocs", org.custom)
            entries.append(entry)
        claims["m"] = entries
    return claims


def selected_membership(memberships: Memberships, org_id: str | None) -> MembershipRecord:
    """The membership for ``org_id``, else the one marked selected, else the first."""
    for membership, _ in memberships:
        if membership.org_id == org_id:
            return membership
    for membership, _ in memberships:
        if membership.selected:
            return membership
    return memberships[0][0]

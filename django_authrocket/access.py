"""What a person may do in an org: the token answers for its selected org, the mirror for others.

A login token is not the list of a person's orgs. LoginRocket's token carries the selected org
only ("LR always sends a JWT with exactly one membership/org; other API generated JWTs may
vary": authrocket-ruby lib/authrocket/rails/controller_helper.rb), and a realm leaves org data
out of its tokens unless its settings add it (authrocket.com/docs/ui_guide/settings_sessions,
"Included token data"). So:

* the selected org's membership comes from the token (:attr:`AuthRocketSession.
  selected_membership`); with no org data in the token, from the mirror: the membership
  marked selected, else the only one;
* any other org's membership comes from the mirror, which logins, the sync, webhooks and API
  reads keep (:mod:`django_authrocket.mirror`); an expired membership, or one of an inactive or
  closed org, counts as none.

The decorators, DRF's ``HasAuthRocketPermission`` and the ``has_authrocket_perm`` and
``authrocket_memberships`` template filters all ask here.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from .identity import AuthRocketSession, Membership, Org
from .models import AuthRocketMembership, MirrorState


def membership(session: AuthRocketSession, org_id: str | None = None) -> Membership | None:
    """The person's membership of ``org_id``, or of the selected org when None (see the module
    docs for where each comes from); None when they have none."""
    selected = session.selected_membership
    if org_id is None:
        return selected if session.has_org_data else _mirrored_selection(session)
    if selected is not None and selected.org.id == org_id:
        return selected
    row = _mirrored(session).filter(org__authrocket_id=org_id).first()
    return _from_row(row) if row is not None else None


def has_perm(session: AuthRocketSession, permission: str, *, org_id: str | None = None) -> bool:
    """Whether the membership of ``org_id`` (default: the selected org) grants ``permission``,
    with AuthRocket's wildcards (a granted ``billing:*`` covers ``billing:read``)."""
    found = membership(session, org_id)
    return found is not None and found.has_perm(permission)


def is_member(session: AuthRocketSession, org_id: str | None = None) -> bool:
    """Whether the person is a member of ``org_id`` (default: has a selected org at all)."""
    return membership(session, org_id) is not None


def memberships(session: AuthRocketSession) -> list[Membership]:
    """All the person's memberships: the selected one first (see :func:`membership`), then
    the mirror's others by org name."""
    selected = membership(session)
    others = _mirrored(session).order_by("org__name", "org__authrocket_id")
    if selected is not None:
        others = others.exclude(org__authrocket_id=selected.org.id)
    return [*([selected] if selected else []), *(_from_row(row) for row in others)]


def _mirrored(session: AuthRocketSession) -> QuerySet[AuthRocketMembership]:
    """The mirror's live memberships of the session's user (unexpired, org not inactive or
    closed), with their orgs."""
    return (
        AuthRocketMembership.objects.filter(user__authrocket_id=session.user.id)
        .exclude(org__state__in=(MirrorState.INACTIVE, MirrorState.CLOSED))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .select_related("org")
    )


def _mirrored_selection(session: AuthRocketSession) -> Membership | None:
    """For a token without org data: the mirrored membership a token last marked selected,
    else the person's only one (with several and none marked, no org is selected)."""
    rows = list(_mirrored(session).order_by("-selected", "pk")[:2])
    if rows and (rows[0].selected or len(rows) == 1):
        return _from_row(rows[0])
    return None


def _from_row(row: AuthRocketMembership) -> Membership:
    org = row.org
    permissions = row.permissions if isinstance(row.permissions, list) else []
    return Membership(
        id=row.authrocket_id,
        org=Org(
            id=org.authrocket_id,
            name=org.name,
            reference=org.reference or None,
            custom=org.custom if isinstance(org.custom, dict) else {},
        ),
        permissions=tuple(p for p in permissions if isinstance(p, str)),
        selected=row.selected,
    )

"""Writing AuthRocket identities into the local mirror models.

One place that knows how an AuthRocket user, org or membership maps onto
:class:`~django_authrocket.models.AuthRocketUser` and friends, shared by the login backend (from
token claims) and the sync engine (from API objects). Writes happen only when a value changed,
so a repeat login of an unchanged person costs reads, not writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from .identity import (
    AuthRocketSession,
    AuthRocketUserInfo,
    Membership,
    Org,
    email_verification_of,
)
from .models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser


def user_fields(info: AuthRocketUserInfo, *, known_verification: str = "") -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketUser` carried by a token or Get Session answer.

    ``known_verification`` is the mirror's current ``email_verification``: a token's
    ``email_verified: false`` does not turn a known ``requested`` into ``none``.
    """
    fields: dict[str, Any] = {
        "username": info.username or "",
        "name": info.name or "",
        "first_name": info.first_name or "",
        "last_name": info.last_name or "",
        "reference": info.reference or "",
        "custom": dict(info.custom),
    }
    if info.email is not None:  # AuthRocket 1 tokens carry no email: keep the known one
        fields["email"] = info.email.lower()
    if info.realm_id:
        fields["realm_id"] = info.realm_id
    if info.email_verification is not None:
        fields["email_verification"] = info.email_verification
    elif info.email_verified:
        fields["email_verification"] = "verified"
    elif info.email_verified is False:
        fields["email_verification"] = "requested" if known_verification == "requested" else "none"
    return fields


def assign_changed(instance: Any, fields: Mapping[str, Any]) -> list[str]:
    """Set the fields whose value differs; return their names (for ``save(update_fields=...)``)."""
    changed = []
    for name, value in fields.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def sync_memberships_from_session(
    mirror: AuthRocketUser, session: AuthRocketSession, *, now: datetime | None = None
) -> bool:
    """Make ``mirror``'s memberships (and their orgs) match the ones the session carries.

    Only called when the token or answer lists memberships at all: a realm without orgs sends
    none, and then the local memberships are left as they are. An unchanged set costs one
    query. Returns whether anything changed.
    """
    now = now or timezone.now()
    existing = {m.org.authrocket_id: m for m in mirror.memberships.select_related("org")}
    wanted = {m.org.id: m for m in session.memberships}
    changed_orgs = [
        m
        for m in session.memberships
        if m.org.id not in existing or _org_fields(m.org) != _current(existing[m.org.id].org, m.org)
    ]
    orgs = {org_id: row.org for org_id, row in existing.items()}
    if changed_orgs:
        orgs.update(_upsert_orgs(changed_orgs, now))
    changed = bool(changed_orgs)
    for org_id, membership in wanted.items():
        fields: dict[str, Any] = {
            "permissions": list(membership.permissions),
            "selected": membership.selected,
        }
        if membership.id:
            fields["authrocket_id"] = membership.id
        row = existing.get(org_id)
        if row is None:
            AuthRocketMembership.objects.create(
                user=mirror, org=orgs[org_id], synced_at=now, **fields
            )
            changed = True
        elif assign_changed(row, fields):
            row.synced_at = now
            row.save()
            changed = True
    stale = [row.pk for org_id, row in existing.items() if org_id not in wanted]
    if stale:
        AuthRocketMembership.objects.filter(pk__in=stale).delete()
        changed = True
    return changed


def _org_fields(org: Org) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": org.name}
    if org.reference is not None:
        fields["reference"] = org.reference
    if org.custom:
        fields["custom"] = dict(org.custom)
    return fields


def _current(row: AuthRocketOrg, org: Org) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _org_fields(org)}


def _upsert_orgs(memberships: list[Membership], now: datetime) -> dict[str, AuthRocketOrg]:
    ids = [m.org.id for m in memberships]
    orgs = {o.authrocket_id: o for o in AuthRocketOrg.objects.filter(authrocket_id__in=ids)}
    for membership in memberships:
        fields = _org_fields(membership.org)
        row = orgs.get(membership.org.id)
        if row is None:
            row, _ = AuthRocketOrg.objects.get_or_create(
                authrocket_id=membership.org.id, defaults={**fields, "synced_at": now}
            )
            orgs[membership.org.id] = row
        elif assign_changed(row, fields):
            row.synced_at = now
            row.save()
    return orgs


# --- Core API objects (sync engine, webhooks, admin resync) ------------------------------------


def user_info_from_api(obj: Mapping[str, Any]) -> AuthRocketUserInfo:
    """The :class:`AuthRocketUserInfo` of a Core API user object (``GET /users/:id``)."""
    verification = email_verification_of(obj)
    custom = obj.get("custom")
    return AuthRocketUserInfo(
        id=str(obj["id"]),
        email=_api_str(obj, "email"),
        email_verified=None if verification is None else verification == "verified",
        email_verification=verification,
        name=_api_str(obj, "name") or "",
        first_name=_api_str(obj, "first_name") or "",
        last_name=_api_str(obj, "last_name") or "",
        username=_api_str(obj, "username"),
        reference=_api_str(obj, "reference"),
        custom=custom if isinstance(custom, dict) else {},
        realm_id=_api_str(obj, "realm_id"),
    )


def user_fields_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketUser` from a Core API user object.

    The token mapping (:func:`user_fields`) plus what only the API carries: the state, the
    exact email verification, and the dates.
    """
    fields = user_fields(user_info_from_api(obj))
    fields["state"] = _api_str(obj, "state") or "active"
    fields["created_at"] = api_datetime(obj.get("created_at"))
    fields["last_login_at"] = api_datetime(obj.get("last_login_at"))
    return fields


def username_candidates(info: AuthRocketUserInfo, user_model: type[Any]) -> list[str]:
    """The usernames a new local user may get, best first (the login backend and the sync share
    this rule): the email when it is the user model's username, else ``preferred_username``,
    then ``preferred_username-<end of id>``, then the AuthRocket id."""
    username_field = user_model._meta.get_field(user_model.USERNAME_FIELD)
    max_length = getattr(username_field, "max_length", None) or 150
    if user_model.USERNAME_FIELD == "email" and info.email:
        candidates = [info.email.lower()]
    else:
        candidates = [info.username] if info.username else []
        if info.username:
            candidates.append(f"{info.username}-{info.id[-8:]}")
    candidates.append(info.id)
    return list(dict.fromkeys(candidate[:max_length] for candidate in candidates))


def local_user_fields(info: AuthRocketUserInfo, user_model: type[Any]) -> dict[str, Any]:
    """Fields of the local ``AUTH_USER_MODEL`` user that follow AuthRocket (names, email).

    Only fields the model has, and never its ``USERNAME_FIELD`` (that is chosen once, at
    creation).
    """
    wanted: dict[str, Any] = {"first_name": info.first_name, "last_name": info.last_name}
    if info.email is not None:
        wanted["email"] = info.email.lower()
    names = {f.name for f in user_model._meta.get_fields()}
    return {k: v for k, v in wanted.items() if k in names and k != user_model.USERNAME_FIELD}


def org_fields_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketOrg` from a Core API org object."""
    custom = obj.get("custom")
    return {
        "realm_id": _api_str(obj, "realm_id") or "",
        "name": _api_str(obj, "name") or "",
        "state": _api_str(obj, "state") or "active",
        "reference": _api_str(obj, "reference") or "",
        "custom": dict(custom) if isinstance(custom, dict) else {},
        "created_at": api_datetime(obj.get("created_at")),
    }


def membership_fields_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketMembership` from a Core API membership object
    (without ``user`` and ``org``, which the caller resolves from ``user_id``/``org_id``)."""
    permissions = obj.get("permissions")
    return {
        "authrocket_id": str(obj["id"]),
        "permissions": [p for p in permissions if isinstance(p, str)]
        if isinstance(permissions, list)
        else [],
        "selected": obj.get("selected") is True,
        "expires_at": api_datetime(obj.get("expires_at")),
    }


def api_datetime(value: Any) -> datetime | None:
    """An API timestamp (unix seconds, int or float) as an aware datetime; None if absent."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _api_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    # NUL is the one character PostgreSQL's text type cannot store.
    return value.replace("\x00", "") if isinstance(value, str) else None

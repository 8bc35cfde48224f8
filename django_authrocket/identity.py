"""Who is logged in: the values a verified token or a Get Session answer turns into.

AuthRocket 2 tokens, AuthRocket 1 tokens (short claim names) and Core API session objects all
become the same :class:`AuthRocketSession`, so nothing downstream cares which one it came from.

The builders here check types strictly: a claim of the wrong type is an :class:`InvalidClaims`,
never a ``TypeError`` somewhere later; so is a NUL character anywhere in the claims (PostgreSQL
can store it in no text or JSON column, and no genuine AuthRocket value holds one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeGuard

from .exceptions import InvalidClaims

#: The longest id the mirror stores (its ``authrocket_id`` columns, the sync's checkpoint).
ID_MAX_LENGTH: Final = 64
#: AuthRocket's ids (``usr_...``, ``org_...``, ``kss_...``, ``ev_...``): letters, digits, ``_``
#: and ``-``, at most :data:`ID_MAX_LENGTH` characters. What may be stored, or put in a URL's
#: path, as an id.
ID_PATTERN: Final = rf"[A-Za-z0-9_-]{{1,{ID_MAX_LENGTH}}}"
_ID: Final = re.compile(ID_PATTERN)


def is_authrocket_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is text of :data:`ID_PATTERN`'s shape."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


Generation = Literal[1, 2]


@dataclass(frozen=True, slots=True)
class Org:
    """An AuthRocket org (account, team, tenant)."""

    id: str
    name: str = ""
    reference: str | None = None
    custom: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's membership of one org, with the permissions it grants."""

    id: str | None
    org: Org
    permissions: tuple[str, ...] = ()
    selected: bool = False
    custom: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def has_perm(self, permission: str) -> bool:
        """Whether this membership grants ``permission``.

        A granted ``*`` matches everything; a granted ``billing:*`` matches ``billing:read`` and
        ``billing:invoices:read``. Matching is exact otherwise (``ar:admin`` does not grant
        ``ar:owner``).
        """
        return any(permission_matches(granted, permission) for granted in self.permissions)


def permission_matches(granted: str, wanted: str) -> bool:
    """Whether a granted permission tag covers the wanted one (``*`` wildcards)."""
    if granted == wanted or granted == "*":
        return True
    if granted.endswith(":*"):
        return wanted.startswith(granted[:-1])
    return False


@dataclass(frozen=True, slots=True)
class AuthRocketUserInfo:
    """The AuthRocket user as the token or API describes them."""

    id: str
    email: str | None = None
    email_verified: bool | None = None
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    username: str | None = None
    reference: str | None = None
    custom: Mapping[str, Any] = field(default_factory=dict, compare=False)
    realm_id: str | None = None
    #: The Core API's exact ``none``/``requested``/``verified``; None from a token, whose
    #: ``email_verified`` cannot tell ``none`` from ``requested``.
    email_verification: str | None = None

    @classmethod
    def from_api(cls, obj: Mapping[str, Any], *, strict: bool = True) -> AuthRocketUserInfo:
        """Build from a Core API user object (``GET /users/:id``, or the one a session embeds).

        ``strict`` (a login) raises :class:`InvalidClaims` for a member of the wrong type; not
        strict (the mirror's sync) reads such a member as absent and drops NUL characters, so
        one odd field never stops a page of users.
        """
        if strict:
            refuse_nul(obj)
        return cls._read(obj, strict=strict)

    @classmethod
    def _read(cls, obj: Mapping[str, Any], *, strict: bool) -> AuthRocketUserInfo:
        """:meth:`from_api` once NUL characters were refused (a session's answer is walked
        whole, its user included)."""
        text, mapping = (_str, _object) if strict else (_loose_str, _loose_object)
        verification = email_verification_of(obj)
        if verification is not None:
            verified: bool | None = verification == "verified"
        else:  # a user made from a token (get_session.py) knows only verified or not
            value = obj.get("email_verified")
            verified = value if isinstance(value, bool) else None
        return cls(
            id=_required_str(obj, "id") if strict else str(obj["id"]),
            email=text(obj, "email"),
            email_verified=verified,
            email_verification=verification,
            name=text(obj, "name") or "",
            first_name=text(obj, "first_name") or "",
            last_name=text(obj, "last_name") or "",
            username=text(obj, "username"),
            reference=text(obj, "reference"),
            custom=mapping(obj, "custom"),
            realm_id=text(obj, "realm_id"),
        )


@dataclass(frozen=True, slots=True)
class AuthRocketSession:
    """A verified AuthRocket login session: who, in which orgs, until when.

    ``id`` is the session id (``kss_...``; AuthRocket 1: the ``tk`` claim) used to recheck or
    revoke it. ``claims`` holds the raw token claims (or the raw API object).

    ``memberships`` is what the token says about orgs, and None when it says nothing: a realm
    adds org data to its tokens only when its settings ask for it, and LoginRocket's tokens
    then carry the selected org only ("Org data in tokens", docs/templates-and-decorators.md).
    An empty tuple is a token that lists no orgs. Either way the token is not the list of the
    person's orgs: :mod:`django_authrocket.access` answers for the others from the mirror.
    """

    id: str
    user: AuthRocketUserInfo
    memberships: tuple[Membership, ...] | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    generation: Generation = 2
    #: ``"token"`` when built from verified token claims, ``"api"`` from a Get Session answer.
    source: Literal["token", "api"] = "token"
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_org_data(self) -> bool:
        """Whether the token (or answer) says anything about orgs (``memberships`` not None)."""
        return self.memberships is not None

    @property
    def selected_membership(self) -> Membership | None:
        """The membership LoginRocket marked selected, else the first one, else ``None``."""
        for membership in self.memberships or ():
            if membership.selected:
                return membership
        return self.memberships[0] if self.memberships else None

    @property
    def selected_org(self) -> Org | None:
        """The org the person is working in now (see :attr:`selected_membership`)."""
        membership = self.selected_membership
        return membership.org if membership else None

    @property
    def permissions(self) -> tuple[str, ...]:
        """Permissions of the selected membership."""
        membership = self.selected_membership
        return membership.permissions if membership else ()

    def has_perm(self, permission: str, *, org_id: str | None = None) -> bool:
        """Whether the selected membership (or the one for ``org_id``) grants ``permission``,
        as far as the token says: :func:`django_authrocket.access.has_perm` also asks the
        mirror about the orgs the token leaves out."""
        if org_id is None:
            membership = self.selected_membership
            return membership.has_perm(permission) if membership else False
        membership = self.membership_for(org_id)
        return membership.has_perm(permission) if membership else False

    def membership_for(self, org_id: str) -> Membership | None:
        """The token's membership of the org ``org_id``, if it lists one."""
        return next((m for m in self.memberships or () if m.org.id == org_id), None)

    # --- builders -------------------------------------------------------------------------

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> AuthRocketSession:
        """Build from verified claims: AuthRocket 2 (``sub``/``sid``) or 1 (``uid``/``tk``)."""
        refuse_nul(claims)
        if "sub" in claims or "sid" in claims:
            return cls._from_ar2_claims(claims)
        if "uid" in claims or "tk" in claims:
            return cls._from_ar1_claims(claims)
        raise InvalidClaims("not an AuthRocket login token: no sub/sid (or uid/tk) claims")

    @classmethod
    def _from_ar2_claims(cls, claims: Mapping[str, Any]) -> AuthRocketSession:
        user = AuthRocketUserInfo(
            id=_required_str(claims, "sub"),
            email=_str(claims, "email"),
            email_verified=_bool(claims, "email_verified"),
            name=_str(claims, "name") or "",
            first_name=_str(claims, "given_name") or "",
            last_name=_str(claims, "family_name") or "",
            username=_str(claims, "preferred_username"),
            reference=_str(claims, "ref"),
            custom=_object(claims, "cs"),
            realm_id=_str(claims, "rid"),
        )
        memberships = _optional_tuple(
            claims,
            "orgs",
            lambda item: Membership(
                id=_str(item, "mid"),
                org=Org(
                    id=_required_str(item, "oid"),
                    name=_str(item, "name") or "",
                    reference=_str(item, "ref"),
                    custom=_object(item, "cs"),
                ),
                permissions=_str_list(item, "perm"),
                selected=bool(_bool(item, "selected")),
            ),
        )
        return cls(
            id=_required_str(claims, "sid"),
            user=user,
            memberships=memberships,
            issued_at=_timestamp(claims, "iat"),
            expires_at=_timestamp(claims, "exp"),
            generation=2,
            claims=claims,
        )

    @classmethod
    def _from_ar1_claims(cls, claims: Mapping[str, Any]) -> AuthRocketSession:
        first_name = _str(claims, "fn") or ""
        last_name = _str(claims, "ln") or ""
        user = AuthRocketUserInfo(
            id=_required_str(claims, "uid"),
            email=_str(claims, "email"),
            name=_str(claims, "n") or " ".join(p for p in (first_name, last_name) if p),
            first_name=first_name,
            last_name=last_name,
            username=_str(claims, "un"),
            reference=_str(claims, "ref"),
            custom=_object(claims, "cs"),
            realm_id=_str(claims, "aud"),
        )
        memberships = _optional_tuple(
            claims,
            "m",
            lambda item: Membership(
                id=_str(item, "mid"),
                org=Org(
                    id=_required_str(item, "oid"),
                    name=_str(item, "o") or "",
                    custom=_object(item, "ocs"),
                ),
                permissions=_str_list(item, "p"),
                selected=bool(_bool(item, "selected")),
                custom=_object(item, "cs"),
            ),
        )
        return cls(
            id=_required_str(claims, "tk"),
            user=user,
            memberships=memberships,
            issued_at=_timestamp(claims, "iat"),
            expires_at=_timestamp(claims, "exp"),
            generation=1,
            claims=claims,
        )

    @classmethod
    def from_api(
        cls,
        session: Mapping[str, Any],
        *,
        user: Mapping[str, Any] | None = None,
        memberships: Sequence[Mapping[str, Any]] | None = None,
        generation: Generation = 2,
        described_by: AuthRocketSession | None = None,
    ) -> AuthRocketSession:
        """Build from a Core API session object (Get Session) and its user.

        AuthRocket 2's session object names its user by ``user_id`` only: pass the ``user``
        object (``GET /users/:id``) and its ``memberships`` (``GET /memberships?user_id=``)
        read separately. Without them the user embedded in the answer is used (AuthRocket 1
        answers embed it, and :mod:`django_authrocket.get_session` completes an answer that
        way), with the memberships embedded in that user. ``claims`` is always the answer with
        its user embedded, what a login stores and rebuilds. Raises :class:`InvalidClaims` when
        the objects lack what a login needs.

        ``described_by``: the verified token session whose user and memberships the embedded
        user was built from (:func:`django_authrocket.get_session.fetch_answer` says which);
        they are taken from it rather than read back, and only the rest of the answer is read.
        """
        if not isinstance(session, Mapping) or session.get("object", "session") != "session":
            raise InvalidClaims("the Core API answer is not a session object")
        found = session.get("user") if user is None else user
        if not isinstance(found, Mapping):
            raise InvalidClaims("the Core API session object comes without its user")
        user_obj: Mapping[str, Any] = found
        user_id = _required_str(user_obj, "id")
        if _str(session, "user_id") not in (None, user_id):
            raise InvalidClaims("the Core API session object names two different users")
        if described_by is not None and described_by.user.id == user_id:
            # The token's claims passed refuse_nul when it verified: the rest is read here.
            refuse_nul({key: value for key, value in session.items() if key != "user"})
            info, listed = described_by.user, described_by.memberships
        else:
            if memberships is not None:
                user_obj = {**user_obj, "memberships": list(memberships)}
            if user_obj is not session.get("user"):
                session = {**session, "user": user_obj}
            refuse_nul(session)  # the answer and the user (with their memberships) in one walk
            info = AuthRocketUserInfo._read(user_obj, strict=True)
            listed = _optional_tuple(user_obj, "memberships", _membership_from_api)
        return cls(
            id=_required_str(session, "id"),
            user=info,
            memberships=listed,
            issued_at=_timestamp(session, "created_at"),
            expires_at=_timestamp(session, "expires_at"),
            generation=generation,
            source="api",
            claims=session,
        )


def _membership_from_api(item: Mapping[str, Any]) -> Membership:
    org_obj = item.get("org")
    org_id = _required_str(item, "org_id") if "org_id" in item else None
    if isinstance(org_obj, Mapping):
        org = Org(
            id=_required_str(org_obj, "id"),
            name=_str(org_obj, "name") or "",
            reference=_str(org_obj, "reference"),
            custom=_object(org_obj, "custom"),
        )
    elif org_id:
        org = Org(id=org_id)
    else:
        raise InvalidClaims("a membership in the Core API answer has no org")
    return Membership(
        id=_str(item, "id"),
        org=org,
        permissions=_str_list(item, "permissions"),
        selected=bool(_bool(item, "selected")),
        custom=_object(item, "custom"),
    )


# --- strict readers ---------------------------------------------------------------------------


#: The Core API's email verification states; anything else is treated as unknown.
EMAIL_VERIFICATION_STATES = frozenset({"none", "requested", "verified"})


def email_verification_of(user_obj: Mapping[str, Any]) -> str | None:
    """A Core API user object's ``email_verification``, or None when absent or not one of
    :data:`EMAIL_VERIFICATION_STATES` (it goes into a short column: never store the unknown)."""
    value = user_obj.get("email_verification")
    return value if isinstance(value, str) and value in EMAIL_VERIFICATION_STATES else None


def refuse_nul(data: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidClaims` when a NUL character is anywhere in ``data``: in a string,
    a member name, or nested objects and lists (custom attributes too)."""
    if _plain(data):  # every login reads one: no claim paths built unless one is refused
        return
    pending: list[tuple[str, Any]] = [(str(key), value) for key, value in data.items()]
    while pending:
        claim, value = pending.pop()
        if "\x00" in claim:
            raise InvalidClaims(f"claim {claim[:40]!r} has a NUL character in a name")
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidClaims(f"claim {claim[:40]!r} has a NUL character")
        elif isinstance(value, Mapping):
            pending.extend((f"{claim}.{key}", item) for key, item in value.items())
        elif isinstance(value, list | tuple):
            pending.extend((claim, item) for item in value)


def without_nul(value: Any) -> Any:
    """JSON-shaped ``value`` with every NUL character dropped from its strings and member
    names: what PostgreSQL's ``jsonb`` can store (it refuses ``\\u0000``). The very same object
    when it holds none (the common case costs one quick walk, no copy)."""
    try:
        return _without_nul(value)
    except RecursionError:  # nested deeper than any custom attribute: left as it is
        return value


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        if _plain(value):
            return value
        return {
            (key.replace("\x00", "") if isinstance(key, str) else key): _without_nul(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _plain(data: Mapping[str, Any], depth: int = 0) -> bool:
    """True when ``data`` is JSON-shaped (dicts, lists, strings, numbers, booleans, null) with
    no NUL in a string or a member name, nested at most :data:`_PLAIN_DEPTH` deep. False is no
    verdict: :func:`refuse_nul` then walks ``data`` again without recursion, naming what it
    refuses (or passing another kind of mapping or sequence, or deeper data)."""
    if data.__class__ is not dict or depth > _PLAIN_DEPTH:
        return False
    for key in data:
        if key.__class__ is not str or "\x00" in key:
            return False
    return _plain_values(data.values(), depth + 1)


def _plain_values(values: Iterable[Any], depth: int) -> bool:
    """:func:`_plain` for the members of an object or the items of a list."""
    for value in values:
        kind = value.__class__
        if kind is str:
            if "\x00" in value:
                return False
        elif kind is dict:
            if not _plain(value, depth):
                return False
        elif kind is list:
            if depth > _PLAIN_DEPTH or not _plain_values(value, depth + 1):
                return False
        elif kind not in _SCALARS and value is not None:
            return False
    return True


_SCALARS: Final = frozenset({int, float, bool})
#: How deep :func:`_plain` goes (claims and answers nest three or four levels).
_PLAIN_DEPTH: Final = 16


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidClaims(f"claim {key!r} must be a string")


def _loose_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    # NUL is the one character PostgreSQL's text type cannot store.
    return value.replace("\x00", "") if isinstance(value, str) else None


def _loose_object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return dict(without_nul(value)) if isinstance(value, dict) else {}


def _required_str(data: Mapping[str, Any], key: str) -> str:
    value = _str(data, key)
    if not value:
        raise InvalidClaims(f"claim {key!r} is required")
    return value


def _bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise InvalidClaims(f"claim {key!r} must be true or false")


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise InvalidClaims(f"claim {key!r} must be an object")


def _object_list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise InvalidClaims(f"claim {key!r} must be a list of objects")


def _optional_tuple(
    data: Mapping[str, Any], key: str, build: Callable[[Mapping[str, Any]], Membership]
) -> tuple[Membership, ...] | None:
    """``build`` applied to each object of the list ``key``; None when ``data`` has no such
    member (or it is null): no org data, which is not the same as no orgs."""
    if data.get(key) is None:
        return None
    return tuple(build(item) for item in _object_list(data, key))


def _str_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise InvalidClaims(f"claim {key!r} must be a list of strings")


def _timestamp(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidClaims(f"claim {key!r} must be a number of seconds")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidClaims(f"claim {key!r} is out of range") from None

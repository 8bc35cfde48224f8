"""How AuthRocket users, orgs and memberships map onto the mirror's fields (and the local user's).

Two kinds of input: a verified login (:class:`~django_authrocket.identity.AuthRocketSession`,
already type-checked strictly by :mod:`django_authrocket.identity`) and Core API objects, read
here by one lenient reader: a value of the wrong type counts as absent, strings lose NUL (the one
character PostgreSQL's text type cannot store; in custom attributes and permissions too, member
names included, which its ``jsonb`` refuses), and a timestamp that is not a finite number of
seconds in range (NaN, 1e300) is no date. A sync page or a webhook never fails on one odd field.

Emails take one form everywhere (:func:`normalize_email`: NFKC, then casefold), in the mirror
and the local user alike, so a stored address and an address compared with it agree. The local
user's ``email`` takes only an address AuthRocket verified and NFKC leaves alone; any other
leaves it as it is (the mirror row keeps every address, with its ``email_verification``).
Usernames from tokens lose control and invisible format characters and are NFKC-normalised
(:func:`clean_username`), so a look-alike name meets the name it imitates.

A member missing from a Core API object is not an empty one: AuthRocket leaves members out of
some answers (a list without ``expand=custom`` has no ``custom``), so a mapping holds only the
fields whose member is there (or ``null``: that one is empty). A member of the wrong type counts
as missing. The stored value of a field left out stays as it is.

Nothing here touches the database.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from django_authrocket.identity import AuthRocketUserInfo, Membership, Org, without_nul

# --- logins: token claims and Get Session answers ---------------------------------------------


def user_fields(info: AuthRocketUserInfo, *, known_verification: str = "") -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketUser` carried by a token or Get Session answer.

    ``known_verification`` is the mirror's current ``email_verification``: a token's
    ``email_verified: false`` does not turn a known ``requested`` into ``none``.
    """
    fields: dict[str, Any] = {
        "username": clean_username(info.username or ""),
        "name": info.name or "",
        "first_name": info.first_name or "",
        "last_name": info.last_name or "",
        "reference": info.reference or "",
        "custom": dict(info.custom),
    }
    if info.email is not None:  # AuthRocket 1 tokens carry no email: keep the known one
        fields["email"] = normalize_email(info.email)
    if info.realm_id:
        fields["realm_id"] = info.realm_id
    if info.email_verification is not None:
        fields["email_verification"] = info.email_verification
    elif info.email_verified:
        fields["email_verification"] = "verified"
    elif info.email_verified is False:
        fields["email_verification"] = "requested" if known_verification == "requested" else "none"
    return fields


def org_fields(org: Org) -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketOrg` carried by a login: only what it carries (a token
    names the org; its reference and custom attributes only sometimes)."""
    fields: dict[str, Any] = {"name": org.name}
    if org.reference is not None:
        fields["reference"] = org.reference
    if org.custom:
        fields["custom"] = dict(org.custom)
    return fields


def membership_fields(membership: Membership) -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketMembership` carried by a login (without ``user`` and
    ``org``). AuthRocket 1 tokens carry no membership id: the row then keeps the one it has."""
    fields: dict[str, Any] = {
        "permissions": list(membership.permissions),
        "selected": membership.selected,
    }
    if membership.id:
        fields["authrocket_id"] = membership.id
    return fields


# --- Core API objects (sync, webhooks, the admin's resync) --------------------------------------


def user_info_from_api(obj: Mapping[str, Any]) -> AuthRocketUserInfo:
    """The :class:`AuthRocketUserInfo` of a Core API user object (``GET /users/:id``), read
    leniently: a member of the wrong type counts as absent."""
    return AuthRocketUserInfo.from_api(obj, strict=False)


def user_fields_from_api(
    obj: Mapping[str, Any], info: AuthRocketUserInfo | None = None
) -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketUser` from a Core API user object: only those whose
    member the object has (see the module docstring).

    The login mapping (:func:`user_fields`) plus what only the API carries: the state, the
    exact email verification, and the dates. ``info``: the object's
    :func:`user_info_from_api`, when the caller has it already.
    """
    fields = user_fields(info or user_info_from_api(obj))
    fields["state"] = _text(obj, "state") or "active"
    fields["created_at"] = api_datetime(obj.get("created_at"))
    fields["last_login_at"] = api_datetime(obj.get("last_login_at"))
    return _given_only(fields, obj, _USER_MEMBERS)


def local_user_fields_from_api(
    obj: Mapping[str, Any],
    info: AuthRocketUserInfo,
    user_model: type[Any],
    names: Collection[str] | None = None,
) -> dict[str, Any]:
    """:func:`local_user_fields` of a Core API user object (``info``: its
    :func:`user_info_from_api`; ``names``: see :func:`local_user_field_names`), without the
    fields whose member the object lacks."""
    return _given_only(local_user_fields(info, user_model, names), obj, _USER_MEMBERS)


def org_fields_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketOrg` from a Core API org object: only those whose
    member the object has (a list without ``expand=custom`` leaves ``custom`` out)."""
    fields = {
        "realm_id": _text(obj, "realm_id") or "",
        "name": _text(obj, "name") or "",
        "state": _text(obj, "state") or "active",
        "reference": _text(obj, "reference") or "",
        "custom": _object(obj, "custom"),
        "created_at": api_datetime(obj.get("created_at")),
    }
    return _given_only(fields, obj, _ORG_MEMBERS)


def membership_fields_from_api(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Mirror fields of :class:`AuthRocketMembership` from a Core API membership object
    (without ``user`` and ``org``, which the caller resolves from ``user_id``/``org_id``): the
    id, and the others whose member the object has (AuthRocket 2 documents no ``selected``)."""
    fields = {
        "permissions": _strings(obj, "permissions"),
        "selected": obj.get("selected") is True,
        "expires_at": api_datetime(obj.get("expires_at")),
    }
    return {"authrocket_id": str(obj["id"]), **_given_only(fields, obj, _MEMBERSHIP_MEMBERS)}


# The member each mapped field is read from (of the same name), and the JSON types it may have
# (``null`` is always allowed: it is an empty value, not a missing one).
_TEXT = (str,)
_NUMBER = (int, float)
_USER_MEMBERS: Final[dict[str, tuple[type, ...]]] = {
    "email": _TEXT,
    "realm_id": _TEXT,
    "email_verification": _TEXT,
    "username": _TEXT,
    "name": _TEXT,
    "first_name": _TEXT,
    "last_name": _TEXT,
    "reference": _TEXT,
    "custom": (dict,),
    "state": _TEXT,
    "created_at": _NUMBER,
    "last_login_at": _NUMBER,
}
_ORG_MEMBERS: Final[dict[str, tuple[type, ...]]] = {
    "realm_id": _TEXT,
    "name": _TEXT,
    "state": _TEXT,
    "reference": _TEXT,
    "custom": (dict,),
    "created_at": _NUMBER,
}
_MEMBERSHIP_MEMBERS: Final[dict[str, tuple[type, ...]]] = {
    "permissions": (list,),
    "selected": (bool,),
    "expires_at": _NUMBER,
}


def _given_only(
    fields: dict[str, Any],
    obj: Mapping[str, Any],
    members: Mapping[str, tuple[type, ...]],
) -> dict[str, Any]:
    """``fields`` (changed in place) without those whose member ``obj`` lacks (or has with the
    wrong type)."""
    get = obj.get
    for name, types in members.items():
        value = get(name, _ABSENT)
        if value is None or type(value) in types:  # the usual case, decided at once
            continue
        if name in fields and (value is _ABSENT or not _given(obj, name, types)):
            del fields[name]
    return fields


_ABSENT: Final = object()


def _given(obj: Mapping[str, Any], key: str, types: tuple[type, ...]) -> bool:
    if key not in obj:
        return False
    value = obj[key]
    if value is None:
        return True
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def api_datetime(value: Any) -> datetime | None:
    """An API timestamp (unix seconds, int or float) as an aware datetime; None if absent,
    not a number, or not a date (NaN, out of range)."""
    if type(value) not in _NUMBER and (isinstance(value, bool) or not isinstance(value, _NUMBER)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value.replace("\x00", "") if isinstance(value, str) else None


def _object(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return dict(without_nul(value)) if isinstance(value, dict) else {}


def _strings(obj: Mapping[str, Any], key: str) -> list[str]:
    value = obj.get(key)
    if not isinstance(value, list):
        return []
    return [item.replace("\x00", "") for item in value if isinstance(item, str)]


# --- emails and usernames ---------------------------------------------------------------------


def normalize_email(address: str) -> str:
    """The one form an email takes in the mirror, the local user and comparisons: NFKC, then
    casefold. ``"Kate@Example.COM"``, ``"\u212aate@example.com"`` (a Kelvin sign) and
    ``"\uff2bate@example.com"`` (a fullwidth K) are all ``"kate@example.com"``.

    Addresses that differ only in such forms are one address here. So the local user takes
    an address only once AuthRocket has verified it, and never one that NFKC changes
    (:func:`verified_email`): a look-alike's normal form is someone else's address.
    """
    if address.isascii():  # NFKC leaves ASCII alone, and casefolds it as lower() does
        return address.lower()
    return unicodedata.normalize("NFKC", address).casefold()


def clean_username(name: str) -> str:
    """A username from a token or the Core API as it may be stored: without control characters
    (NUL included) and invisible format characters (zero-width space and joiners, bidi marks,
    the byte order mark), then NFKC-normalised as Django normalises usernames. So a fullwidth
    ``"\uff41\uff44\uff41"`` and ``"a\u200bda"`` are ``"ada"`` and meet the existing ``ada``."""
    if name.isascii() and name.isprintable():  # no control character; NFKC leaves it alone
        return name.strip()
    visible = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf"))
    return unicodedata.normalize("NFKC", visible).strip()


def verified_email(info: AuthRocketUserInfo) -> str | None:
    """``info``'s email in its normal form when AuthRocket verified it, else None.

    Also None for an address that NFKC changes (a Kelvin sign, fullwidth letters...): its
    normal form is another address than the one verified, maybe another person's.
    """
    email = info.email
    if not email or not info.email_verified:
        return None
    if not email.isascii() and unicodedata.normalize("NFKC", email) != email:
        return None
    return normalize_email(email)


# --- the local user ---------------------------------------------------------------------------


def local_user_fields(
    info: AuthRocketUserInfo, user_model: type[Any], names: Collection[str] | None = None
) -> dict[str, Any]:
    """Fields of the local ``AUTH_USER_MODEL`` user that follow AuthRocket (names, email).

    Only fields the model has, and never its ``USERNAME_FIELD`` (that is chosen once, at
    creation). The email only when AuthRocket verified it (``email_verified: true``, or
    ``email_verification: "verified"``): an unverified or absent one leaves the local email
    as it is, so nobody gets an address they have not shown they own; so does a look-alike
    address (:func:`verified_email`).
    """
    wanted: dict[str, Any] = {"first_name": info.first_name, "last_name": info.last_name}
    if (email := verified_email(info)) is not None:
        wanted["email"] = email
    names = local_user_field_names(user_model) if names is None else names
    return {k: v for k, v in wanted.items() if k in names}


def local_user_field_names(user_model: type[Any]) -> frozenset[str]:
    """The fields :func:`local_user_fields` may set on ``user_model`` (``names``: pass this to
    it when mapping many users)."""
    names = {f.name for f in user_model._meta.get_fields()}
    return frozenset(names & {"first_name", "last_name", "email"} - {user_model.USERNAME_FIELD})


def free_usernames(candidates: Iterable[str], user_model: type[Any]) -> Iterator[str]:
    """The ``candidates`` no local user holds, in order, each asked of the database when it is
    reached (so its collation decides what is the same name: MySQL's and MariaDB's default ones
    ignore case)."""
    manager = user_model._default_manager
    field = user_model.USERNAME_FIELD
    for name in candidates:
        if not manager.filter(**{field: name}).exists():
            yield name


def username_candidates(info: AuthRocketUserInfo, user_model: type[Any]) -> list[str]:
    """The usernames a new local user may get, best first (a login and a sync share this rule):
    the verified email when it is the user model's username; else ``preferred_username``
    (:func:`clean_username`), then ``preferred_username-<end of id>``, then the verified email
    (:func:`verified_email`: an address nobody proved they own names nobody), then the
    AuthRocket id."""
    max_length = username_length(user_model)
    username = clean_username(info.username or "")
    email = verified_email(info)
    candidates = [username, f"{username}-{info.id[-8:]}"] if username else []
    if user_model.USERNAME_FIELD == "email":
        candidates = []
    if email:
        candidates.append(email)
    candidates.append(info.id)
    return list(dict.fromkeys(candidate[:max_length] for candidate in candidates))


def username_length(user_model: type[Any]) -> int:
    """How long ``user_model``'s usernames may be (150 where the field does not say)."""
    length = _USERNAME_LENGTHS.get(user_model)
    if length is None:
        username_field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        length = _USERNAME_LENGTHS[user_model] = getattr(username_field, "max_length", None) or 150
    return length


_USERNAME_LENGTHS: dict[type[Any], int] = {}


def assign_changed(instance: Any, fields: Mapping[str, Any]) -> list[str]:
    """Set the fields whose value differs; return their names (for ``save(update_fields=...)``)."""
    changed = []
    for name, value in fields.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed

"""Map Core API user objects onto what a bulk write of users needs, the usual ones in one pass.

For each user object a write needs three things: the mirror row's fields
(:func:`~.fields.user_fields_from_api`), the local user's fields
(:func:`~.fields.local_user_fields_from_api`) and the usernames a new local user may take
(:func:`~.fields.username_candidates`). Those functions, through
:class:`~django_authrocket.identity.AuthRocketUserInfo`, are the definition, and they read any
object, however odd. A sync reads thousands of objects that are all alike, though, and that
general path costs more than the database's own writing of them.

:meth:`UserValues.common` reads the usual object straight from its dict, in one function: every
mapped member present; the texts strings or null without NUL; the username, when there is
one, printable ASCII; the email ASCII; ``email_verification`` one of the three states;
``custom`` an object or null; the dates numbers of seconds in range, or null. It gives the same
values the general path gives (``tests/test_user_values.py`` compares them over generated
objects), and returns None for any other object, which :meth:`UserValues.of` then maps through
the general path.

Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Final, NamedTuple

from django_authrocket.identity import EMAIL_VERIFICATION_STATES, without_nul
from django_authrocket.mirror.fields import (
    local_user_field_names,
    local_user_fields_from_api,
    user_fields_from_api,
    user_info_from_api,
    username_candidates,
    username_length,
)


class Mapped(NamedTuple):
    """What a bulk write needs of one Core API user object."""

    #: The mirror row's fields (:func:`~.fields.user_fields_from_api`).
    fields: dict[str, Any]
    #: The local user's (:func:`~.fields.local_user_fields_from_api`).
    local: dict[str, Any]
    #: The usernames a new local user may take, best first (:func:`~.fields.username_candidates`;
    #: a tuple, which the garbage collector stops following once it holds only strings).
    candidates: tuple[str, ...]


#: The members the one-pass reading takes (all of them must be there), texts first.
_TEXTS: Final = (
    "email",
    "username",
    "name",
    "first_name",
    "last_name",
    "reference",
    "realm_id",
    "state",
    "email_verification",
)
_TEXT_MEMBERS: Final = itemgetter(*_TEXTS)
_OTHER_MEMBERS: Final = itemgetter("custom", "created_at", "last_login_at")
_TEXT_TYPES: Final = frozenset({str, type(None)})
_NUMBER_TYPES: Final = frozenset({int, float})
_fromtimestamp: Final = datetime.fromtimestamp


class UserValues:
    """Maps the user objects of one write for ``user_model`` (``names``: the local user's
    fields that follow AuthRocket, :func:`~.fields.local_user_field_names`)."""

    def __init__(self, user_model: type[Any], names: Collection[str] | None = None) -> None:
        self.user_model = user_model
        self.names = local_user_field_names(user_model) if names is None else frozenset(names)
        self._max_length = username_length(user_model)
        self._email_is_username = user_model.USERNAME_FIELD == "email"
        self._first_name = "first_name" in self.names
        self._last_name = "last_name" in self.names
        self._email = "email" in self.names

    def of(self, obj: Mapping[str, Any]) -> Mapped:
        """The values of any Core API user object: :meth:`common`'s, else the general path's."""
        return self.common(obj) or self.general(obj)

    def general(self, obj: Mapping[str, Any]) -> Mapped:
        """The values through :class:`~django_authrocket.identity.AuthRocketUserInfo`: the
        definition, for any object."""
        info = user_info_from_api(obj)
        return Mapped(
            user_fields_from_api(obj, info),
            local_user_fields_from_api(obj, info, self.user_model, self.names),
            tuple(username_candidates(info, self.user_model)),
        )

    def common(self, obj: Mapping[str, Any]) -> Mapped | None:
        """The values of a usual object (see the module docstring) read in one pass; None for
        any other object."""
        try:
            texts = _TEXT_MEMBERS(obj)
            custom, created, last_login = _OTHER_MEMBERS(obj)
        except KeyError:
            return None
        if not set(map(type, texts)) <= _TEXT_TYPES or "\x00" in "".join(filter(None, texts)):
            return None
        (email, username, name, first, last, reference, realm, state, verification) = texts
        if verification not in EMAIL_VERIFICATION_STATES:
            return None
        if username and not (username.isascii() and username.isprintable()):
            return None  # clean_username's general case (invisible characters, NFKC)
        if email and not email.isascii():
            return None  # normalize_email's and verified_email's general case (NFKC)
        if type(custom) is not dict:
            if custom is not None:
                return None
            custom = {}
        try:
            if created is not None:
                if type(created) not in _NUMBER_TYPES:
                    return None
                created = _fromtimestamp(created, UTC)
            if last_login is not None:
                if type(last_login) not in _NUMBER_TYPES:
                    return None
                last_login = _fromtimestamp(last_login, UTC)
        except (OverflowError, OSError, ValueError):
            return None  # NaN, out of range: api_datetime's general case
        username = username.strip() if username else ""
        fields = {
            "username": username,
            "name": name or "",
            "first_name": first or "",
            "last_name": last or "",
            "reference": reference or "",
            "custom": dict(without_nul(custom)) if custom else {},
            "email_verification": verification,
            "state": state or "active",
            "created_at": created,
            "last_login_at": last_login,
        }
        if email is not None:
            email = fields["email"] = email.lower()
        if realm:
            fields["realm_id"] = realm
        verified = email if email and verification == "verified" else None
        local = {}
        if self._first_name:
            local["first_name"] = first or ""
        if self._last_name:
            local["last_name"] = last or ""
        if verified is not None and self._email:
            local["email"] = verified
        id_ = str(obj["id"])
        if username and not self._email_is_username:
            candidates = [username, f"{username}-{id_[-8:]}"]
        else:
            candidates = []
        if verified:
            candidates.append(verified)
        candidates.append(id_)
        length = self._max_length
        return Mapped(fields, local, tuple(dict.fromkeys([c[:length] for c in candidates])))

"""The one-pass reading of usual Core API user objects (mirror/user_values.py) against the
general path, which is the definition: the same mirror fields, local user fields and username
candidates for every object it takes, and every other object declined to the general path.

Objects are generated (hypothesis) and also taken from the emulator over real HTTP.
"""

from __future__ import annotations

import math
import os
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_authrocket.client import EXPAND_CUSTOM, AuthRocketClient
from django_authrocket.mirror.fields import local_user_field_names
from django_authrocket.mirror.local_users import create_local_users
from django_authrocket.mirror.user_values import UserValues
from tests.helpers import EmailKeyedUser

User = get_user_model()

CHECKS = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class ShortUsernameUser:
    """Stands for a user model whose usernames are at most 12 characters long."""

    USERNAME_FIELD = "username"

    class _meta:
        @staticmethod
        def get_field(name: str) -> object:
            return SimpleNamespace(max_length=12)


MAPPERS = {
    "user": UserValues(User),
    "email-keyed": UserValues(EmailKeyedUser, {"first_name", "last_name"}),
    "short-usernames": UserValues(ShortUsernameUser, {"email"}),
}

# --- strategies -------------------------------------------------------------------------------

ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
odd_text = st.text(
    st.one_of(
        st.sampled_from(["\x00", "\t", "\n", "\x7f", "\u200b", "\ufeff", "\u212a", "\uff41", " "]),
        st.characters(codec="utf-8"),
    ),
    max_size=12,
)
texts = st.one_of(ascii_text, odd_text, st.sampled_from(["", " ", "  ada  ", "Kate@Example.COM"]))
emails = st.one_of(
    st.builds(lambda a, b: f"{a}@{b}.example", ascii_text, ascii_text), odd_text, st.just("")
)
wrong_types = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({})
)
seconds = st.one_of(
    st.integers(min_value=0, max_value=4_000_000_000),
    st.floats(min_value=0, max_value=4e9),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 2**70]),
)
customs = st.one_of(
    st.just({}), st.dictionaries(ascii_text, st.one_of(ascii_text, st.integers()), max_size=3)
)
verifications = st.sampled_from(["none", "requested", "verified"])
ids = st.one_of(
    st.just("usr_0123456789abcdef"),
    st.builds(lambda tail: f"usr_{tail}", ascii_text),
    odd_text.map(lambda tail: f"usr_{tail}"),
)

#: Each member's usual values (what the one-pass reading takes), and odd ones.
USUAL: dict[str, Any] = {
    "email": st.one_of(st.none(), emails),
    "username": st.one_of(st.none(), texts),
    "name": st.one_of(st.none(), texts),
    "first_name": st.one_of(st.none(), texts),
    "last_name": st.one_of(st.none(), texts),
    "reference": st.one_of(st.none(), texts),
    "realm_id": st.one_of(st.none(), st.just("rl_1"), st.just("")),
    "state": st.one_of(st.none(), st.sampled_from(["active", "inactive", ""])),
    "email_verification": verifications,
    "custom": st.one_of(st.none(), customs),
    "created_at": st.one_of(st.none(), seconds),
    "last_login_at": st.one_of(st.none(), seconds),
}
ODD = st.one_of(wrong_types, st.sampled_from(["maybe", "VERIFIED", None]), odd_text)


@st.composite
def user_objects(draw: st.DrawFn, *, usual_only: bool = False) -> dict[str, Any]:
    """A Core API user object: each member usual, odd (another type...), or absent."""
    obj: dict[str, Any] = {"object": "user", "id": draw(ids)}
    for member, usual in USUAL.items():
        kind = "usual" if usual_only else draw(st.sampled_from(["usual"] * 4 + ["odd", "absent"]))
        if kind == "usual":
            obj[member] = draw(usual)
        elif kind == "odd":
            obj[member] = draw(ODD)
    return obj


def usual(**changes: Any) -> dict[str, Any]:
    """A usual object, as the emulator lists one, with ``changes``."""
    obj = {
        "object": "user",
        "id": "usr_0123456789abcdef",
        "realm_id": "rl_1",
        "state": "active",
        "email": "Ada@Example.com",
        "email_verification": "verified",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "name": "Ada Lovelace",
        "username": "ada",
        "locale": None,
        "reference": None,
        "custom": {"team": "engines"},
        "created_at": 1_764_000_000.5,
        "last_login_at": None,
    }
    return {**obj, **changes}


# --- the same values ----------------------------------------------------------------------------


@CHECKS
@given(obj=user_objects(), mapper=st.sampled_from(sorted(MAPPERS)))
@example(obj=usual(), mapper="user")
def test_any_object_maps_as_the_general_path_maps_it(obj: dict[str, Any], mapper: str) -> None:
    values = MAPPERS[mapper]
    assert values.of(obj) == values.general(obj)
    common = values.common(obj)
    assert common is None or common == values.general(obj)


@CHECKS
@given(obj=user_objects(usual_only=True), mapper=st.sampled_from(sorted(MAPPERS)))
def test_a_usual_object_with_ascii_names_is_read_in_one_pass(
    obj: dict[str, Any], mapper: str
) -> None:
    """Usual objects whose username and email are printable ASCII never fall back, and the
    reading gives the general path's values."""
    for member in ("username", "email"):
        value = obj[member]
        if value is not None and not (value.isascii() and value.isprintable()):
            obj[member] = "ada"
    if any("\x00" in value for value in obj.values() if isinstance(value, str)):
        obj = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in obj.items()}
    for member in ("created_at", "last_login_at"):
        if isinstance(obj[member], float | int) and not 0 <= obj[member] <= 4e9:
            obj[member] = 1_764_000_000
    values = MAPPERS[mapper]
    common = values.common(obj)
    assert common is not None
    assert common == values.general(obj)


@pytest.mark.parametrize("mapper", sorted(MAPPERS))
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"username": None, "reference": None, "custom": None, "last_login_at": None},
        {"username": "  ada  ", "name": "Jos\u00e9 \u00c5ngstr\u00f6m", "first_name": "Jos\u00e9"},
        {"email": None},
        {"email": ""},
        {"email_verification": "none"},
        {"email_verification": "requested"},
        {"realm_id": ""},
        {"realm_id": None, "state": None, "name": None, "first_name": None, "last_name": None},
        {"created_at": 0, "last_login_at": 1_764_000_000},
        {"username": "a-very-long-username-indeed", "id": "usr_" + "x" * 200},
        {"email": "a-very-long-address@example.com", "username": None},
        {"custom": {"nested": {"deep": [1, 2]}, "nul": "a\x00b"}},
    ],
    ids=repr,
)
def test_usual_objects_and_their_edges_map_alike(changes: dict[str, Any], mapper: str) -> None:
    values = MAPPERS[mapper]
    obj = usual(**changes)
    common = values.common(obj)
    assert common is not None
    assert common == values.general(obj)


def test_the_mapped_values_are_those_a_sync_writes() -> None:
    """What the values are, spelled out once for a usual object (Django's user model)."""
    mapped = MAPPERS["user"].common(usual(username=" ada "))
    assert mapped is not None
    assert mapped.fields["email"] == "ada@example.com"
    assert mapped.fields["username"] == "ada"
    assert mapped.fields["realm_id"] == "rl_1"
    assert mapped.fields["reference"] == ""
    assert mapped.fields["custom"] == {"team": "engines"}
    assert mapped.local == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
    }
    assert mapped.candidates == ("ada", "ada-89abcdef", "ada@example.com", "usr_0123456789abcdef")
    unverified = MAPPERS["user"].common(usual(email_verification="requested"))
    assert unverified is not None
    assert "email" not in unverified.local
    assert "ada@example.com" not in unverified.candidates


# --- what goes the general way -------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        {k: v for k, v in usual().items() if k != "custom"},  # a list without expand=custom
        {k: v for k, v in usual().items() if k != "email"},
        {k: v for k, v in usual().items() if k != "last_login_at"},
        usual(first_name=5),
        usual(name=["Ada"]),
        usual(username=True),
        usual(email={"address": "ada@example.com"}),
        usual(name="Ada\x00"),
        usual(reference="ref\x00"),
        usual(username="a\u200bda"),
        usual(username="ad\x00a"),
        usual(username="ada\n"),
        usual(username="\uff41\uff44\uff41"),
        usual(email="\u212aate@example.com"),
        usual(email_verification=None),
        usual(email_verification="maybe"),
        usual(email_verification=1),
        usual(custom=["a"]),
        usual(created_at=math.nan),
        usual(created_at=1e300),
        usual(created_at=True),
        usual(last_login_at="2026-01-01"),
    ],
    ids=lambda obj: next(
        (f"{k}={obj.get(k, '<absent>')!r}"[:40] for k in USUAL if obj.get(k, 0) != usual().get(k)),
        "?",
    ),
)
def test_unusual_objects_are_declined_to_the_general_path(obj: dict[str, Any]) -> None:
    values = MAPPERS["user"]
    assert values.common(obj) is None
    assert values.of(obj) == values.general(obj)


@pytest.mark.django_db
def test_the_emulators_users_are_read_in_one_pass(authrocket_emulator) -> None:
    """Objects as the Core API lists them (over HTTP, with ``expand=custom``): all usual."""
    authrocket_emulator.create_user("ada@example.com", username="ada", custom={"team": "engines"})
    authrocket_emulator.create_user("bob@example.com", email_verification="none")
    authrocket_emulator.create_user("cy@example.com", first_name="Cy", last_name="Young")
    listed = list(AuthRocketClient.from_settings().paginate("/users", EXPAND_CUSTOM))
    assert len(listed) == 3
    values = UserValues(User, local_user_field_names(User))
    for obj in listed:
        common = values.common(obj)
        assert common is not None
        assert common == values.general(obj)


# --- the usernames new local users take -----------------------------------------------------------


def choose_alone(candidates: list[list[str]], existing: set[str]) -> list[str]:
    """The username rule with every choice's status known at once (the definition)."""
    taken, chosen = set(existing), []
    for names in candidates:
        name = next((n for n in names if n not in taken), names[-1])
        taken.add(name)
        chosen.append(name)
    return chosen


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("existing", "candidates"),
    [
        # A first choice taken, a second one contested by another user's first, a third taken.
        (
            {"ada", "bob-2"},
            [["ada", "bob", "u1"], ["bob", "bob-2", "cy", "u2"], ["dee", "u3"], ["cy", "u4"]],
        ),
        ({"zed"}, [["ann", "u5"], ["ben", "u6"]]),  # nothing contested: one read
        (set(), [["same", "same-1", "u7"], ["same", "same-2", "u8"], ["same-1", "u9"]]),
        ({"x", "x-1", "x-2"}, [["x", "x-1", "u10"], ["x-2", "u11"], ["x", "u10-b"]]),
    ],
)
def test_new_local_users_take_the_usernames_the_rule_gives(
    existing: set[str], candidates: list[list[str]]
) -> None:
    for name in existing:
        User.objects.create(username=name)
    with CaptureQueriesContext(connection) as queries:
        pks = create_local_users(
            [{}] * len(candidates), candidates, User, local_user_field_names(User)
        )
    chosen = [User.objects.get(pk=pk).username for pk in pks]
    assert chosen == choose_alone(candidates, existing)
    reads = [q for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    firsts = [names[0] for names in candidates]
    contested = any(f in existing or firsts.count(f) > 1 for f in firsts) or any(
        f in names[1:] for f in firsts for names in candidates
    )
    assert len(reads) == (2 if contested else 1)

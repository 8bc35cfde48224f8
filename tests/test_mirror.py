"""The mirror package: field mapping, logins recorded in the mirror, bulk page writes.

Core API objects come from the emulator over real HTTP; sessions are built from claims by the
package's own identity code; everything is written to a real database.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_authrocket.client import EXPAND_CUSTOM, AuthRocketClient
from django_authrocket.identity import AuthRocketSession, AuthRocketUserInfo
from django_authrocket.mirror import fields, pages
from django_authrocket.mirror.login import create_user_row, record_login, update_user_row
from django_authrocket.models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser
from django_authrocket.signals import authrocket_user_synced
from django_authrocket.testing import log_in_through_site

User = get_user_model()
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def listed(resource: str) -> list[dict]:
    """Every object of ``resource`` as the Core API lists it (with ``expand=custom``;
    memberships org by org, the way AuthRocket documents the listing)."""
    client = AuthRocketClient.from_settings()
    if resource == "memberships":
        return [m for org in client.iter_orgs() for m in client.iter_memberships(org_id=org["id"])]
    return list(client.paginate(f"/{resource}", EXPAND_CUSTOM))


def write(resource: str, items=None, **options) -> pages.Counts:
    """``pages.write`` in a transaction, as its callers use it."""
    with transaction.atomic():
        return pages.write(resource, listed(resource) if items is None else items, **options)


def write_everything() -> None:
    for resource in ("orgs", "users", "memberships"):
        write(resource)


def claims(**overrides) -> dict:
    """AuthRocket 2 login claims for usr_1 in two orgs."""
    base = {
        "sub": "usr_1",
        "sid": "kss_1",
        "rid": "rl_1",
        "iat": 1_764_000_000,
        "exp": 1_764_003_600,
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "preferred_username": "ada",
        "email": "Ada@Example.com",
        "email_verified": True,
        "orgs": [
            {"mid": "mb_1", "oid": "org_1", "name": "One", "perm": ["a:b"], "selected": False},
            {"mid": "mb_2", "oid": "org_2", "name": "Two", "perm": ["ar:admin"], "selected": True},
        ],
    }
    return {**base, **overrides}


def session(**overrides) -> AuthRocketSession:
    return AuthRocketSession.from_claims(claims(**overrides))


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


# --- fields: logins ---------------------------------------------------------------------------


def test_login_fields_lowercase_the_email_and_keep_an_absent_one() -> None:
    ar2 = fields.user_fields(session().user)
    ar1 = fields.user_fields(AuthRocketUserInfo(id="usr_1", first_name="Bob"))

    assert ar2["email"] == "ada@example.com" and ar2["realm_id"] == "rl_1"
    assert "email" not in ar1 and "realm_id" not in ar1  # an AuthRocket 1 token: keep the known
    assert "email_verification" not in ar1


@pytest.mark.parametrize(
    ("verified", "known", "expected"),
    [(True, "", "verified"), (False, "", "none"), (False, "requested", "requested")],
)
def test_a_tokens_email_verified_maps_to_a_verification_state(verified, known, expected) -> None:
    info = session(email_verified=verified).user

    assert fields.user_fields(info, known_verification=known)["email_verification"] == expected


# --- fields: Core API objects (one lenient reader) ----------------------------------------------


def test_api_users_orgs_and_memberships_map_onto_the_mirror(emulator, ada) -> None:
    [user], [org], [membership] = listed("users"), listed("orgs"), listed("memberships")

    user_fields = fields.user_fields_from_api(user)
    org_fields = fields.org_fields_from_api(org)
    membership_fields = fields.membership_fields_from_api(membership)

    assert user_fields["email"] == "ada@example.com" and user_fields["state"] == "active"
    assert user_fields["username"] == "ada" and user_fields["created_at"] is not None
    assert org_fields["name"] == "Analytical Engines" and org_fields["reference"] == "ae-1"
    assert membership_fields["permissions"] == ["ar:admin", "billing:*"]
    assert membership_fields["selected"] is True
    assert membership_fields["authrocket_id"] == membership["id"]


def test_the_api_reader_treats_wrong_types_as_absent() -> None:
    odd = {
        "id": "usr_9",
        "email": 42,
        "name": ["x"],
        "state": None,
        "custom": ["not", "an", "object"],
        "email_verification": "maybe",
        "created_at": True,
        "last_login_at": "2026-01-01",
    }

    info = fields.user_info_from_api(odd)
    mapped = fields.user_fields_from_api(odd)

    assert info.email is None and info.email_verification is None and info.email_verified is None
    assert mapped["state"] == "active"  # null: empty, so the default
    for absent in ("name", "custom", "created_at", "last_login_at", "email_verification"):
        assert absent not in mapped  # the stored value stays
    membership = fields.membership_fields_from_api(
        {"id": "mb_9", "permissions": ["ok", 1, None], "selected": "yes"}
    )
    assert membership == {"authrocket_id": "mb_9", "permissions": ["ok"]}


@pytest.mark.parametrize(
    "text",
    [
        "Ada",
        " ada ",
        "ada\tx",
        "a\x00da",
        "a\x7fda",
        "a\u200bda",
        "\uff41\uff44\uff41",
        "Kate@Example.COM",
        "\u212aate@example.com",
        "STRASSE@x.example",
        "stra\u00dfe@x.example",
        "",
    ],
)
def test_usernames_and_emails_take_their_documented_form(text) -> None:
    """The shortcuts for ASCII text give what the documented rules give for any text."""
    visible = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf"))
    assert fields.clean_username(text) == unicodedata.normalize("NFKC", visible).strip()
    assert fields.normalize_email(text) == unicodedata.normalize("NFKC", text).casefold()
    info = AuthRocketUserInfo(id="usr_1", email=text, email_verified=True)
    expected = fields.normalize_email(text) if unicodedata.normalize("NFKC", text) == text else None
    assert fields.verified_email(info) == (expected or None)


class _Text(str):
    pass


def test_the_lenient_reader_reads_each_odd_member_leniently() -> None:
    """NUL dropped, str subclasses kept as text, other types absent, the email verification
    only one of its states; on valid members it agrees with the strict reader."""
    odd = {
        "id": "usr_9",
        "email": _Text("a\x00da@example.com"),
        "name": "A\x00da",
        "first_name": 7,
        "last_name": None,
        "username": _Text("ada"),
        "reference": ["x"],
        "realm_id": "rl_\x001",
        "custom": {"k": "v"},
        "email_verification": "verified",
    }
    info = fields.user_info_from_api(odd)

    assert (info.email, info.name, info.first_name, info.last_name) == (
        "ada@example.com",
        "Ada",
        "",
        "",
    )
    assert (info.username, info.reference, info.realm_id) == ("ada", None, "rl_1")
    assert info.custom == {"k": "v"} and info.custom is not odd["custom"]
    assert info.email_verified is True and info.email_verification == "verified"
    unknown = fields.user_info_from_api(
        {"id": "usr_9", "email_verification": "maybe", "email_verified": False}
    )
    assert (unknown.email_verification, unknown.email_verified) == (None, False)
    strict = AuthRocketUserInfo.from_api(
        {
            k: v
            for k, v in odd.items()
            if "\x00" not in str(v) and k not in ("first_name", "reference")
        }
    )
    assert strict.username == info.username and strict.custom == info.custom


def test_a_missing_member_is_left_out_and_null_is_empty() -> None:
    """AuthRocket's lists leave ``custom`` out unless ``expand=custom`` (docs/api/orgs): a
    missing member must not read as an empty one; ``null`` (a documented value) is empty."""
    user = fields.user_fields_from_api({"id": "usr_1", "email": "a@b.example", "reference": None})
    org = fields.org_fields_from_api({"id": "org_1", "name": "One", "custom": None})
    membership = fields.membership_fields_from_api({"id": "mb_1", "expires_at": None})

    assert user == {"email": "a@b.example", "reference": ""}
    assert org == {"name": "One", "custom": {}}
    assert membership == {"authrocket_id": "mb_1", "expires_at": None}


def test_the_api_reader_drops_nul_and_impossible_dates() -> None:
    org = fields.org_fields_from_api(
        {"id": "org_9", "name": "Lo\x00oms", "created_at": float("nan")}
    )

    assert org["name"] == "Looms" and org["created_at"] is None
    for value in (float("nan"), float("inf"), 1e300, -1e300, None, "1"):
        assert fields.api_datetime(value) is None
    assert fields.api_datetime(1_700_000_000) == datetime.fromtimestamp(1_700_000_000, tz=UTC)


# --- fields: the local user ---------------------------------------------------------------------


def test_local_user_fields_never_touch_the_username() -> None:
    info = AuthRocketUserInfo(
        id="usr_1", email="A@B.example", email_verified=True, first_name="A", last_name="B"
    )

    assert fields.local_user_fields(info, User) == {
        "first_name": "A",
        "last_name": "B",
        "email": "a@b.example",
    }
    assert "email" not in fields.local_user_fields(AuthRocketUserInfo(id="usr_1"), User)


def test_username_candidates_prefer_the_username_then_a_suffix_then_the_id() -> None:
    named = AuthRocketUserInfo(id="usr_0123456789abcdef", username="ada")
    unnamed = AuthRocketUserInfo(id="usr_0123456789abcdef")

    assert fields.username_candidates(named, User) == [
        "ada",
        "ada-89abcdef",
        "usr_0123456789abcdef",
    ]
    assert fields.username_candidates(unnamed, User) == ["usr_0123456789abcdef"]


def test_username_candidates_take_the_verified_email_before_the_id() -> None:
    verified = AuthRocketUserInfo(
        id="usr_0123456789abcdef", email="Bob@Example.com", email_verified=True
    )
    unverified = AuthRocketUserInfo(
        id="usr_0123456789abcdef", email="bob@example.com", email_verified=False
    )
    named = AuthRocketUserInfo(
        id="usr_0123456789abcdef", username="bob", email="bob@example.com", email_verified=True
    )

    assert fields.username_candidates(verified, User) == ["bob@example.com", verified.id]
    assert fields.username_candidates(unverified, User) == [unverified.id]
    assert fields.username_candidates(named, User) == [
        "bob",
        "bob-89abcdef",
        "bob@example.com",
        named.id,
    ]


def test_assign_changed_sets_and_names_only_what_differs() -> None:
    row = AuthRocketOrg(name="One", state="active")

    assert fields.assign_changed(row, {"name": "Two", "state": "active"}) == ["name"]
    assert row.name == "Two"


# --- login: the first login ---------------------------------------------------------------------


@pytest.mark.django_db
def test_create_user_row_writes_the_row_its_memberships_and_their_orgs() -> None:
    user = User.objects.create_user("ada")

    with transaction.atomic():
        row = create_user_row(user, session(), now=NOW)

    row.refresh_from_db()
    assert (row.authrocket_id, row.email, row.username) == ("usr_1", "ada@example.com", "ada")
    assert row.user == user and row.last_login_at == row.synced_at == NOW
    assert row.email_verification == "verified"
    memberships = {m.org.authrocket_id: m for m in row.memberships.select_related("org")}
    assert set(memberships) == {"org_1", "org_2"}
    assert memberships["org_2"].permissions == ["ar:admin"] and memberships["org_2"].selected
    assert memberships["org_2"].authrocket_id == "mb_2" and memberships["org_2"].org.name == "Two"


@pytest.mark.django_db
def test_create_user_row_of_a_known_person_raises_integrity_error() -> None:
    create_user_row(User.objects.create_user("ada"), session(), now=NOW)

    with pytest.raises(IntegrityError), transaction.atomic():
        create_user_row(User.objects.create_user("ada2"), session(), now=NOW)


# --- login: later logins ------------------------------------------------------------------------


@pytest.fixture
def row(db) -> AuthRocketUser:
    return create_user_row(User.objects.create_user("ada"), session(), now=NOW)


def test_an_unchanged_login_writes_nothing(row) -> None:
    later = NOW + timedelta(hours=1)

    with CaptureQueriesContext(connection) as queries:
        changed = update_user_row(row, session(), now=later)

    assert changed is False
    assert writes(queries) == []
    assert len(queries.captured_queries) == 1  # one read of the memberships
    row.refresh_from_db()
    assert row.last_login_at == NOW and row.synced_at == NOW  # last_login_at: record_login's


def test_record_login_sets_the_last_login_in_one_statement(row) -> None:
    later = NOW + timedelta(hours=1)

    with CaptureQueriesContext(connection) as queries:
        record_login(row.user_id, now=later)

    assert len(queries.captured_queries) == 1 and "last_login_at" in writes(queries)[0]
    row.refresh_from_db()
    assert row.last_login_at == later and row.synced_at == NOW


def test_a_changed_login_updates_the_row_and_synced_at(row) -> None:
    later = NOW + timedelta(hours=1)

    changed = update_user_row(row, session(given_name="Augusta"), now=later)

    row.refresh_from_db()
    assert changed is True and row.first_name == "Augusta" and row.synced_at == later


def test_a_login_keeps_a_known_requested_verification(row) -> None:
    AuthRocketUser.objects.filter(pk=row.pk).update(email_verification="requested")
    row.refresh_from_db()

    update_user_row(row, session(email_verified=False), now=NOW)
    assert AuthRocketUser.objects.get(pk=row.pk).email_verification == "requested"

    update_user_row(row, session(email_verified=True), now=NOW)
    assert AuthRocketUser.objects.get(pk=row.pk).email_verification == "verified"


def test_a_login_adds_and_updates_memberships_and_orgs_and_removes_none(row) -> None:
    orgs = [
        {"mid": "mb_2", "oid": "org_2", "name": "Two Ltd", "perm": ["x:y"], "selected": True},
        {"mid": "mb_3", "oid": "org_3", "name": "Three", "perm": [], "selected": False},
    ]

    assert update_user_row(row, session(orgs=orgs), now=NOW) is True

    memberships = {m.org.authrocket_id: m for m in row.memberships.select_related("org")}
    # org_1 is not in this token, which is not the list of Ada's orgs: its membership stays.
    assert set(memberships) == {"org_1", "org_2", "org_3"}
    assert memberships["org_1"].permissions == ["a:b"]
    assert memberships["org_2"].permissions == ["x:y"]
    assert memberships["org_2"].org.name == "Two Ltd"
    assert memberships["org_3"].permissions == []


def test_a_token_naming_only_the_selected_org_keeps_the_others_across_a_switch(row) -> None:
    # LoginRocket's token carries the selected org only: switching accounts is no removal.
    one = {"mid": "mb_1", "oid": "org_1", "name": "One", "perm": ["a:b"], "selected": True}
    two = {"mid": "mb_2", "oid": "org_2", "name": "Two", "perm": ["ar:admin"], "selected": True}

    update_user_row(row, session(orgs=[one]), now=NOW)
    first = dict(row.memberships.values_list("org__authrocket_id", "selected"))
    update_user_row(row, session(orgs=[two]), now=NOW)
    second = dict(row.memberships.values_list("org__authrocket_id", "selected"))

    assert first == {"org_1": True, "org_2": False}
    assert second == {"org_1": False, "org_2": True}
    assert row.memberships.get(org__authrocket_id="org_2").permissions == ["ar:admin"]


def test_neither_an_empty_nor_a_missing_membership_list_removes_any(row) -> None:
    without_list = {k: v for k, v in claims().items() if k != "orgs"}

    assert update_user_row(row, AuthRocketSession.from_claims(without_list), now=NOW) is False
    assert row.memberships.count() == 2

    assert update_user_row(row, session(orgs=[]), now=NOW) is False
    assert row.memberships.count() == 2


def test_an_api_session_without_a_membership_list_keeps_the_memberships(row) -> None:
    answer = {
        "object": "session",
        "id": "kss_1",
        "user_id": "usr_1",
        "user": {"object": "user", "id": "usr_1", "email": "ada@example.com"},
    }

    update_user_row(row, AuthRocketSession.from_api(answer), now=NOW)

    assert row.memberships.count() == 2
    answer["user"]["memberships"] = []
    assert update_user_row(row, AuthRocketSession.from_api(answer), now=NOW) is False
    assert row.memberships.count() == 2  # a login never removes: the sync and webhooks do


def test_an_authrocket_1_login_keeps_the_membership_id(row) -> None:
    ar1 = {
        "uid": "usr_1",
        "tk": "kss_9",
        "iat": 1,
        "exp": 2,
        "m": [{"oid": "org_2", "o": "Two", "p": ["ar:admin"], "selected": True}],
    }

    update_user_row(row, AuthRocketSession.from_claims(ar1), now=NOW)

    assert row.memberships.get(org__authrocket_id="org_2").authrocket_id == "mb_2"
    assert row.memberships.count() == 2


# --- pages: users -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_usernames_follow_the_login_rule(emulator) -> None:
    first = emulator.create_user("a@example.com", username="ada")
    second = emulator.create_user("b@example.com", username="ada")
    plain = emulator.create_user("c@example.com")
    unverified = emulator.create_user("d@example.com", email_verification="none")

    assert write("users").created == 4

    usernames = dict(User.objects.values_list("authrocket__authrocket_id", "username"))
    assert usernames[first["id"]] == "ada"
    assert usernames[second["id"]] == f"ada-{second['id'][-8:]}"
    assert usernames[plain["id"]] == "c@example.com"
    assert usernames[unverified["id"]] == unverified["id"]
    assert not any(u.has_usable_password() for u in User.objects.all())


@pytest.mark.django_db
def test_a_user_changed_upstream_is_updated_with_the_local_user(emulator) -> None:
    ada = emulator.create_user("ada@example.com", first_name="Ada")
    emulator.create_user("bob@example.com")
    write("users")
    emulator.update_user(ada["id"], first_name="Augusta", email="augusta@example.com")

    counts = write("users")

    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
    row = AuthRocketUser.objects.select_related("user").get(authrocket_id=ada["id"])
    assert row.first_name == "Augusta" and row.user.first_name == "Augusta"
    assert row.user.email == "augusta@example.com"


@pytest.mark.django_db
def test_a_local_only_change_counts_as_updated(emulator) -> None:
    ada = emulator.create_user("ada@example.com", first_name="Ada")
    write("users")
    User.objects.update(first_name="Someone else")

    counts = write("users")

    assert counts.updated == 1
    assert User.objects.get(authrocket__authrocket_id=ada["id"]).first_name == "Ada"


@pytest.mark.django_db
def test_a_user_who_logged_in_before_is_matched_on_the_authrocket_id(client, emulator) -> None:
    ada = emulator.create_user("ada@example.com", username="ada", first_name="Ada")
    log_in_through_site(client, emulator.mint_token(ada["id"]))

    counts = write("users")

    assert counts.created == 0
    assert User.objects.get().username == "ada"


@pytest.mark.django_db
def test_writing_users_sends_user_synced_for_created_and_updated_users(emulator) -> None:
    ada = emulator.create_user("ada@example.com")
    emulator.create_user("bob@example.com")
    received = []

    def receiver(sender, user, authrocket_user, created, **kwargs):
        received.append((authrocket_user.authrocket_id, created, user.pk, user.last_name))

    authrocket_user_synced.connect(receiver)
    try:
        write("users")
        emulator.update_user(ada["id"], last_name="Lovelace")
        with CaptureQueriesContext(connection) as queries:
            write("users")
    finally:
        authrocket_user_synced.disconnect(receiver)
    assert sorted(created for _, created, _, _ in received) == [False, True, True]
    # The updated user's signal names their local user as written, without a read of its own.
    assert received[-1][:2] == (ada["id"], False) and received[-1][3] == "Lovelace"
    assert received[-1][2] == AuthRocketUser.objects.get(authrocket_id=ada["id"]).user_id
    assert all(pk is not None for _, _, pk, _ in received)
    reads_of_one = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and '"auth_user"."id" = ' in q["sql"]
    ]
    assert not reads_of_one


@pytest.mark.django_db
def test_a_repeated_id_is_written_once_the_last_copy_winning(emulator) -> None:
    emulator.create_user("ada@example.com")
    [ada] = listed("users")

    counts = write("users", [{**ada, "first_name": "Old"}, {**ada, "first_name": "New"}])

    assert counts.created == 1 and AuthRocketUser.objects.get().first_name == "New"


@pytest.mark.django_db
def test_odd_values_are_written_without_failing(emulator) -> None:
    emulator.create_user("ada@example.com")
    [ada] = listed("users")

    write("users", [{**ada, "name": "A\x00da", "created_at": float("nan"), "custom": "x"}])

    row = AuthRocketUser.objects.get()
    assert row.name == "Ada" and row.created_at is None and row.custom == {}


#: Custom attributes with NUL in a value, a nested value and a member name: PostgreSQL's jsonb
#: refuses ``\u0000`` anywhere, so a sync or webhook writing them as they are failed there.
NUL_CUSTOM = {"team\x00": "na\x00vy", "deep": [{"k": "a\x00"}, "b\x00"], "n": 1}
NUL_FREE = {"team": "navy", "deep": [{"k": "a"}, "b"], "n": 1}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["common", "general"])
def test_nul_in_custom_attributes_and_permissions_is_dropped_on_every_database(
    emulator, path
) -> None:
    """Users (through either reading path) and orgs keep their custom attributes, and
    memberships their permissions, without NUL; the rest of each value stays as it was."""
    ada = emulator.create_user("ada@example.com")
    engines = emulator.create_org("Engines")
    emulator.create_membership(ada["id"], engines["id"], permissions=["billing:read"])
    [user], [org], [membership] = listed("users"), listed("orgs"), listed("memberships")
    odd_user = {**user, "custom": NUL_CUSTOM}
    if path == "general":
        odd_user["email_verification"] = "maybe"  # not a state the one-pass reader knows

    write("orgs", [{**org, "custom": NUL_CUSTOM}])
    write("users", [odd_user])
    write("memberships", [{**membership, "permissions": ["bill\x00ing:*"]}])

    assert AuthRocketUser.objects.get().custom == NUL_FREE
    assert AuthRocketOrg.objects.get().custom == NUL_FREE
    assert AuthRocketMembership.objects.get().permissions == ["billing:*"]


@pytest.mark.django_db
@pytest.mark.parametrize("mirrored", [False, True], ids=["new", "mirrored"])
def test_two_memberships_of_one_user_and_org_in_one_write_leave_the_last(
    emulator, mirrored
) -> None:
    """A membership deleted and made again between two reads of one listing: two objects
    with different ids name the same user and org, which the mirror matches rows on. The
    last one is written (PostgreSQL refuses an upsert that writes one row twice)."""
    ada = emulator.create_user("ada@example.com")
    engines = emulator.create_org("Engines")
    emulator.create_membership(ada["id"], engines["id"], permissions=["billing:read"])
    write("users")
    write("orgs")
    [membership] = listed("memberships")
    if mirrored:
        write("memberships", [membership])
    again = {**membership, "id": "mb_madeagain", "permissions": ["billing:*"]}

    write("memberships", [membership, again])

    [row] = AuthRocketMembership.objects.all()
    assert row.authrocket_id == "mb_madeagain" and row.permissions == ["billing:*"]


@pytest.mark.django_db
def test_members_missing_from_an_answer_keep_what_the_mirror_holds(emulator) -> None:
    """Without ``expand=custom`` AuthRocket's lists leave ``custom`` out (docs/api/orgs): such
    an answer, or one missing any other member, never empties a stored value."""
    emulator.create_user("ada@example.com", first_name="Ada", custom={"team": "navy"})
    engines = emulator.create_org("Engines", reference="e-1", custom={"plan": "enterprise"})
    write("users")
    write("orgs")
    [user], [org] = listed("users"), listed("orgs")
    bare_user = {k: v for k, v in user.items() if k not in ("custom", "first_name", "username")}
    bare_org = {k: v for k, v in org.items() if k not in ("custom", "reference", "name")}

    users, orgs = write("users", [bare_user]), write("orgs", [bare_org])

    assert (users.unchanged, orgs.unchanged) == (1, 1)
    row = AuthRocketUser.objects.select_related("user").get()
    assert (row.custom, row.first_name, row.user.first_name) == ({"team": "navy"}, "Ada", "Ada")
    stored = AuthRocketOrg.objects.get(authrocket_id=engines["id"])
    assert (stored.custom, stored.reference, stored.name) == (
        {"plan": "enterprise"},
        "e-1",
        "Engines",
    )
    write("orgs", [{**bare_org, "custom": None}])  # null: emptied
    assert AuthRocketOrg.objects.get().custom == {}


@pytest.mark.django_db
def test_a_membership_answer_without_selected_or_permissions_keeps_them(emulator, ada) -> None:
    """AuthRocket 2's membership fields are id, org_id, user_id, permissions, expires_at
    (docs/api/memberships): no ``selected``; a missing member keeps the stored value."""
    write_everything()
    [membership] = listed("memberships")
    bare = {k: v for k, v in membership.items() if k not in ("selected", "permissions")}

    assert write("memberships", [bare]).unchanged == 1
    stored = AuthRocketMembership.objects.get()
    assert stored.selected is True and stored.permissions == ["ar:admin", "billing:*"]


@pytest.mark.django_db
def test_a_page_of_known_users_reads_rows_and_users_in_two_queries(emulator) -> None:
    for i in range(30):
        emulator.create_user(f"p{i}@example.com")
    items = listed("users")
    write("users", items)

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        counts = pages.write("users", items)

    assert counts.unchanged == 30
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2 and writes(queries) == []


@pytest.mark.django_db
def test_mark_seen_stamps_the_unchanged_rows(emulator) -> None:
    emulator.create_user("ada@example.com")
    write("users")
    AuthRocketUser.objects.update(synced_at=NOW)

    write("users")
    assert AuthRocketUser.objects.get().synced_at == NOW

    write("users", mark_seen=True)
    assert AuthRocketUser.objects.get().synced_at > NOW


# --- pages: orgs and memberships ----------------------------------------------------------------


@pytest.mark.django_db
def test_orgs_are_created_updated_and_left_alone(emulator) -> None:
    looms = emulator.create_org("Looms")
    emulator.create_org("Engines")
    assert write("orgs").created == 2

    emulator.update_org(looms["id"], name="Jacquard Looms", state="closed")
    counts = write("orgs")

    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
    org = AuthRocketOrg.objects.get(authrocket_id=looms["id"])
    assert (org.name, org.state) == ("Jacquard Looms", "closed")


@pytest.mark.django_db
def test_memberships_whose_user_or_org_is_not_mirrored_are_skipped(emulator, ada) -> None:
    write("orgs")

    counts = write("memberships")

    assert counts.skipped == 1 and counts.seen == 1
    assert AuthRocketMembership.objects.count() == 0


@pytest.mark.django_db
def test_a_membership_from_an_authrocket_1_login_is_matched_on_user_and_org(
    client, emulator, ada
) -> None:
    write("orgs")
    write("users")
    [membership] = listed("memberships")
    row = AuthRocketUser.objects.get()
    AuthRocketMembership.objects.create(
        user=row, org=AuthRocketOrg.objects.get(), permissions=["old"]
    )

    counts = write("memberships")

    assert counts.updated == 1
    stored = AuthRocketMembership.objects.get()
    assert stored.authrocket_id == membership["id"]
    assert stored.permissions == ["ar:admin", "billing:*"]


# --- pages: gone upstream -----------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivate_users_deactivates_and_never_deletes(emulator, ada) -> None:
    write_everything()

    assert pages.deactivate_users([ada["id"], "usr_unknown"]) == 1
    assert pages.deactivate_users([ada["id"]]) == 0  # already inactive

    assert not User.objects.get().is_active
    assert AuthRocketMembership.objects.count() == 1


@pytest.mark.django_db
def test_remove_memberships_by_id_and_by_complete_user_list(emulator, ada) -> None:
    looms = emulator.create_org("Looms")
    extra = emulator.create_membership(ada["id"], looms["id"])
    write_everything()
    row = AuthRocketUser.objects.get()
    third = AuthRocketOrg.objects.create(authrocket_id="org_ar1", name="AR1")
    AuthRocketMembership.objects.create(user=row, org=third)  # an AuthRocket 1 row: no id

    assert pages.remove_memberships() == 0
    assert pages.remove_memberships(ids=[extra["id"]]) == 1
    kept = AuthRocketMembership.objects.exclude(authrocket_id=None).get().authrocket_id
    assert pages.remove_memberships(of_users=[ada["id"]], keep=[kept]) == 1  # the id-less row
    assert list(AuthRocketMembership.objects.values_list("authrocket_id", flat=True)) == [kept]
    assert pages.remove_memberships(of_users=[ada["id"]]) == 1


@pytest.mark.django_db
def test_prune_unseen_acts_on_rows_not_stamped_since_the_listing_began(emulator, ada) -> None:
    write_everything()
    started = timezone.now()
    AuthRocketUser.objects.update(synced_at=started - timedelta(seconds=1))
    AuthRocketMembership.objects.update(synced_at=None)

    assert pages.count_unlisted("users", set()).deactivated == 1
    assert pages.count_unlisted("users", {ada["id"]}).deactivated == 0
    assert pages.count_unlisted("memberships", set()).removed == 1
    assert pages.prune_unseen("orgs", started) == pages.Counts()
    assert pages.prune_unseen("users", started).deactivated == 1
    assert pages.prune_unseen("memberships", started).removed == 1
    assert not User.objects.get().is_active and not AuthRocketMembership.objects.exists()


@pytest.mark.django_db
def test_a_login_after_a_sync_changes_nothing(client, emulator, ada) -> None:
    """The login mapping and the API mapping agree: a sync then an authentication of the same
    person writes nothing to the mirror (the login time is written by the login itself)."""
    write_everything()
    token = emulator.mint_token(ada["id"])

    with CaptureQueriesContext(connection) as queries:
        user = authenticate(RequestFactory().get("/"), authrocket_token=token)

    assert user is not None
    assert [sql for sql in writes(queries) if "django_authrocket_authrocket" in sql] == []

"""The mirror's bulk write path: the database's own multi-row upsert (``mirror/upsert.py``).

Pages are written by :func:`django_authrocket.mirror.pages.write` into a real database (SQLite,
or PostgreSQL in CI's second job); objects come from the emulator over real HTTP, and large
pages are copies of one listed object with other ids.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_authrocket.client import EXPAND_CUSTOM, AuthRocketClient
from django_authrocket.mirror import pages, upsert
from django_authrocket.models import AuthRocketOrg, AuthRocketUser
from django_authrocket.signals import authrocket_user_synced

pytestmark = pytest.mark.django_db
User = get_user_model()


def listed(resource: str) -> list[dict]:
    return list(AuthRocketClient.from_settings().paginate(f"/{resource}", EXPAND_CUSTOM))


def write(resource: str, items: list[dict], **options) -> pages.Counts:
    with transaction.atomic():
        return pages.write(resource, items, **options)


def own_statements_only() -> None:
    """Skip on a database the mirror writes through ``bulk_create`` (MySQL, MariaDB...): the
    statements these tests look at are written for SQLite and PostgreSQL."""
    if not upsert.available():
        pytest.skip(
            f"not applicable: {connection.vendor} writes the mirror through Django's bulk_create"
        )


def statements(queries: CaptureQueriesContext, verb: str, model: type) -> list[str]:
    """The captured statements that start with ``verb`` and name ``model``'s table."""
    table = connection.ops.quote_name(model._meta.db_table)
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith(f"{verb} {table}")]


def copies(item: dict, count: int, prefix: str) -> list[dict]:
    """``count`` copies of a listed object, each with its own id, name and creation time."""
    return [
        {**item, "id": f"{prefix}_{n:05d}", "name": f"Name {n}", "created_at": 1_700_000_000 + n}
        for n in range(count)
    ]


def test_the_fast_path_serves_this_database() -> None:
    assert upsert.available() == (connection.vendor in ("sqlite", "postgresql"))


def test_an_unchanged_page_writes_no_mirror_row_and_no_local_user(emulator, ada) -> None:
    users = listed("users")
    write("users", users)
    stamped = AuthRocketUser.objects.get().synced_at

    with CaptureQueriesContext(connection) as queries:
        counts = write("users", users)

    assert counts.unchanged == 1 and counts.updated == counts.created == 0
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPD"))]
    assert writes == []
    assert AuthRocketUser.objects.get().synced_at == stamped


def test_a_changed_row_is_rewritten_and_stamped(emulator, ada) -> None:
    [user] = listed("users")
    write("users", [user])
    before = AuthRocketUser.objects.get()

    counts = write("users", [{**user, "name": "Augusta Ada King", "custom": {"team": "navy"}}])

    row = AuthRocketUser.objects.get()
    assert counts.updated == 1
    assert (row.name, row.custom, row.pk) == ("Augusta Ada King", {"team": "navy"}, before.pk)
    assert row.synced_at > before.synced_at
    assert row.first_name == "Ada" and row.user_id == before.user_id


def test_a_row_that_already_holds_the_values_is_not_rewritten(emulator, ada) -> None:
    """The statement's own ``WHERE``: a row written meanwhile with the same values (a login
    between the page's read and its write) keeps its stamp; a row that differs takes the new
    values and stamp."""
    own_statements_only()
    [user] = listed("users")
    write("users", [user])
    row = AuthRocketUser.objects.get()
    names = [f.attname for f in AuthRocketUser._meta.concrete_fields if not f.primary_key]
    update = pages.SPECS["users"].update_fields
    compared = [name for name in update if name != "synced_at"]
    later = row.synced_at + timedelta(hours=1)
    same = [later if name == "synced_at" else getattr(row, name) for name in names]
    statement = upsert.Upsert(
        AuthRocketUser, names, unique=["authrocket_id"], update=update, compare=compared
    )

    with transaction.atomic():
        statement.write([same])
    assert AuthRocketUser.objects.get().synced_at == row.synced_at

    changed = [
        ("Ada K." if name == "name" else value) for name, value in zip(names, same, strict=True)
    ]
    with transaction.atomic():
        statement.write([changed])
    stored = AuthRocketUser.objects.get()
    assert (stored.name, stored.synced_at) == ("Ada K.", later)


def test_a_member_missing_from_the_answer_keeps_the_stored_value(emulator) -> None:
    emulator.create_user("ada@example.com", first_name="Ada", custom={"team": "navy"})
    [user] = listed("users")
    write("users", [user])
    bare = {k: v for k, v in user.items() if k not in ("custom", "first_name", "created_at")}

    counts = write("users", [{**bare, "last_name": "King"}])

    row = AuthRocketUser.objects.select_related("user").get()
    assert counts.updated == 1
    assert (row.custom, row.first_name, row.last_name) == ({"team": "navy"}, "Ada", "King")
    assert row.created_at is not None and row.user.first_name == "Ada"


def test_a_new_row_missing_members_takes_the_model_defaults(emulator) -> None:
    emulator.create_user("ada@example.com")
    [user] = listed("users")
    bare = {k: v for k, v in user.items() if k not in ("custom", "state", "created_at")}

    write("users", [bare])

    row = AuthRocketUser.objects.get()
    assert (row.custom, row.state, row.created_at) == ({}, "active", None)


def test_email_verification_is_kept_exactly(emulator) -> None:
    emulator.create_user("ada@example.com", email_verification="requested")
    [user] = listed("users")
    write("users", [user])
    write("users", [{k: v for k, v in user.items() if k != "email_verification"}])

    assert AuthRocketUser.objects.get().email_verification == "requested"


def test_odd_characters_are_parameters_and_nul_is_dropped(emulator) -> None:
    emulator.create_user("ada@example.com")
    [user] = listed("users")
    odd = "Robert'); DROP TABLE auth_user; -- %s %% ? \u202e\U0001f600"

    write("users", [{**user, "name": odd + "\x00", "custom": {"quote": "'\"", "odd": odd}}])

    row = AuthRocketUser.objects.get()
    assert row.name == odd and row.custom == {"quote": "'\"", "odd": odd}
    assert User.objects.count() == 1


@pytest.mark.parametrize("extra", [0, 1])
def test_pages_across_a_statements_rows_are_written_whole(emulator, extra) -> None:
    """A page longer than one statement carries (``MAX_ROWS``, or the database's limit of
    parameters) is split; every row on each side of the boundary is written, once."""
    own_statements_only()
    emulator.create_org("Template", reference="t-1", custom={"plan": "gold"})
    [org] = listed("orgs")
    columns = len([f for f in AuthRocketOrg._meta.concrete_fields if not f.primary_key])
    per_statement = min(upsert.MAX_ROWS, upsert.parameter_limit() // columns)
    if connection.vendor == "postgresql":
        per_statement = upsert.MAX_ROWS  # one array per column
    items = copies(org, per_statement + extra, "org")

    with CaptureQueriesContext(connection) as queries:
        counts = write("orgs", items)

    assert counts.created == per_statement + extra
    assert len(statements(queries, "INSERT INTO", AuthRocketOrg)) == 1 + extra
    stored = dict(AuthRocketOrg.objects.values_list("authrocket_id", "name"))
    assert stored == {item["id"]: item["name"] for item in items}
    last = AuthRocketOrg.objects.get(authrocket_id=items[-1]["id"])
    assert last.created_at == datetime.fromtimestamp(items[-1]["created_at"], tz=UTC)
    assert last.custom == {"plan": "gold"} and last.reference == "t-1"


def test_a_page_of_1000_new_users_is_one_insert_per_table(emulator) -> None:
    """Django's ``bulk_create`` sends at most 999 parameters a statement on SQLite (58 mirror
    rows); the database's own upsert takes the page in one statement per table."""
    emulator.create_user("ada@example.com", first_name="Ada")
    [user] = listed("users")
    items = [
        {**user, "id": f"usr_{n:05d}", "email": f"user-{n}@example.com", "username": None}
        for n in range(1000)
    ]

    with CaptureQueriesContext(connection) as queries:
        counts = write("users", items)

    assert counts.created == 1000
    assert len(statements(queries, "INSERT INTO", AuthRocketUser)) == 1
    assert len(statements(queries, "INSERT INTO", User)) == 1
    rows = AuthRocketUser.objects.select_related("user")
    assert {row.authrocket_id: row.user.username for row in rows} == {
        item["id"]: item["email"] for item in items
    }
    local = User.objects.get(username="user-999@example.com")
    assert not local.has_usable_password() and local.is_active and local.date_joined
    assert (local.first_name, local.email) == ("Ada", "user-999@example.com")


def test_new_users_take_free_usernames_and_the_signal_names_each_row(emulator) -> None:
    User.objects.create_user("ada")
    emulator.create_user("ada@example.com", username="ada")
    emulator.create_user("bob@example.com", username="bob")
    seen: list[tuple[str, str, bool, int | None]] = []

    def receiver(sender, user, authrocket_user, created, **kwargs) -> None:
        seen.append((authrocket_user.authrocket_id, user.username, created, authrocket_user.pk))

    authrocket_user_synced.connect(receiver)
    try:
        write("users", listed("users"))
    finally:
        authrocket_user_synced.disconnect(receiver)

    rows = {row.authrocket_id: row for row in AuthRocketUser.objects.select_related("user")}
    assert sorted(seen) == sorted(
        (ar_id, row.user.username, True, row.pk) for ar_id, row in rows.items()
    )
    assert sorted(row.user.username for row in rows.values()) == ["ada-" + _tail(rows), "bob"]


def _tail(rows: dict[str, AuthRocketUser]) -> str:
    [ada_id] = [ar_id for ar_id, row in rows.items() if row.username == "ada"]
    return ada_id[-8:]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 262000, tzinfo=UTC),
        datetime.fromtimestamp(1796402282.262, UTC),
        datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_times_are_prepared_as_django_prepares_them(value) -> None:
    """The preparer's shortcut for UTC times gives Django's own text (or value) exactly."""
    field = AuthRocketUser._meta.get_field("created_at")
    statement = upsert.Insert(AuthRocketUser, ["authrocket_id", "created_at"])

    [prepared] = statement.prepare([("usr_1", value)])[1]

    assert prepared == field.get_db_prep_save(value, connection)
    assert statement.flat([("usr_1", value)]) == ["usr_1", prepared]


def test_rows_of_another_width_are_refused() -> None:
    statement = upsert.Insert(AuthRocketUser, ["authrocket_id", "created_at"])
    with pytest.raises(ValueError):
        statement.flat([("usr_1", None), ("usr_2",)])


def test_each_new_local_user_gets_its_own_unusable_password(emulator) -> None:
    """One random draw serves a page's unusable passwords: each user still has their own,
    of the length and the prefix ``set_unusable_password()`` stores."""
    for _ in range(50):
        emulator.create_user()

    write("users", listed("users"))

    passwords = list(User.objects.values_list("password", flat=True))
    assert len(set(passwords)) == len(passwords) == 50
    assert all(p.startswith(UNUSABLE_PASSWORD_PREFIX) and len(p) == 41 for p in passwords)
    assert not any(user.has_usable_password() for user in User.objects.all())

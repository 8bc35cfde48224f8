"""``bulk_upsert``: the login record's and the mirror's writes on databases without the
statements of ``mirror/upsert.py`` (MySQL and MariaDB through ``ON DUPLICATE KEY UPDATE``,
others one row at a time), run here on whatever database the suite has (CI runs it on SQLite,
PostgreSQL and MariaDB), and ``upsert_one``, the one-row path, on every one of them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import pre_save

from django_authrocket.bulk_upsert import bulk_upsert, upsert_one
from django_authrocket.models import (
    AuthRocketLogin,
    AuthRocketMembership,
    AuthRocketOrg,
    AuthRocketUser,
)

pytestmark = pytest.mark.django_db
REWRITTEN = ["authrocket_session_id", "user", "expires_at", "ref", "source", "data"]
WHEN = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.fixture
def people():  # type: ignore[no-untyped-def]
    users = get_user_model().objects
    return users.create(username="ada"), users.create(username="grace")


def login(key: str | None, user, ref: str, session: str = "kss_1") -> AuthRocketLogin:  # type: ignore[no-untyped-def]
    return AuthRocketLogin(
        session_key=key,
        authrocket_session_id=session,
        user=user,
        expires_at=WHEN,
        ref=ref,
        source="token",
        data={"sid": session},
    )


def stored() -> dict[str, tuple]:
    return {
        row.session_key: (row.authrocket_session_id, row.user.username, row.ref, row.data)
        for row in AuthRocketLogin.objects.select_related("user")
    }


@pytest.mark.parametrize("write", ["bulk_upsert", "upsert_one"])
def test_new_rows_are_inserted_and_a_known_key_is_rewritten(people, write) -> None:
    ada, grace = people

    def upsert(rows: list[AuthRocketLogin]) -> None:
        with transaction.atomic():
            if write == "bulk_upsert":
                bulk_upsert(
                    AuthRocketLogin, rows, unique_fields=["session_key"], update_fields=REWRITTEN
                )
            else:
                for row in rows:
                    upsert_one(row, unique_fields=["session_key"], update_fields=REWRITTEN)

    upsert([login("k1", ada, "r1"), login("k2", grace, "r2")])
    first = AuthRocketLogin.objects.get(session_key="k1").created_at
    upsert([login("k1", grace, "r3", session="kss_2")])

    assert stored() == {
        "k1": ("kss_2", "grace", "r3", {"sid": "kss_2"}),
        "k2": ("kss_1", "grace", "r2", {"sid": "kss_1"}),
    }
    # A column the upsert does not name keeps its value.
    assert AuthRocketLogin.objects.get(session_key="k1").created_at == first


def test_one_row_meeting_another_unique_key_is_refused_and_writes_nothing(people) -> None:
    """The one-row path turns only a conflict on its own key into an update: a new session key
    with a ``ref`` another row holds is an error, and the other row stays as it was."""
    ada, grace = people
    upsert_one(login("k1", ada, "r1"), unique_fields=["session_key"], update_fields=REWRITTEN)

    with pytest.raises(IntegrityError), transaction.atomic():
        upsert_one(login("k2", grace, "r1"), unique_fields=["session_key"], update_fields=REWRITTEN)

    assert stored() == {"k1": ("kss_1", "ada", "r1", {"sid": "kss_1"})}


def test_nothing_to_write_makes_no_query(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        bulk_upsert(AuthRocketLogin, [], unique_fields=["session_key"], update_fields=REWRITTEN)


def test_one_row_of_the_mirror_meets_its_row_on_a_two_column_key(people) -> None:
    """Memberships, as the mirror writes them where Django has no upsert: matched on user and
    org; a row read earlier (its primary key set) and a new one."""
    ada, _ = people
    person = AuthRocketUser.objects.create(user=ada, authrocket_id="usr_ada")
    engines = AuthRocketOrg.objects.create(authrocket_id="org_1", name="Engines")
    looms = AuthRocketOrg.objects.create(authrocket_id="org_2", name="Looms")
    known = AuthRocketMembership.objects.create(user=person, org=engines, permissions=["a"])
    update = ["authrocket_id", "permissions", "selected"]

    known.permissions, known.authrocket_id = ["a", "b"], "mb_1"
    for row in (known, AuthRocketMembership(user=person, org=looms, permissions=["c"])):
        upsert_one(row, unique_fields=["user", "org"], update_fields=update)

    rows = AuthRocketMembership.objects.order_by("org__authrocket_id")
    assert [(r.org.name, r.authrocket_id, r.permissions) for r in rows] == [
        ("Engines", "mb_1", ["a", "b"]),
        ("Looms", None, ["c"]),
    ]
    assert rows[0].pk == known.pk


def test_one_row_with_a_null_key_is_inserted_and_rewrites_no_other(people) -> None:
    """A login row without a session key (signed-cookie sessions): a null matches no other
    row's key, so neither is rewritten."""
    ada, grace = people
    upsert_one(login(None, ada, "r1"), unique_fields=["session_key"], update_fields=REWRITTEN)
    upsert_one(login(None, grace, "r2"), unique_fields=["session_key"], update_fields=REWRITTEN)

    refs = AuthRocketLogin.objects.filter(session_key=None).values_list("user__username", "ref")
    assert sorted(refs) == [("ada", "r1"), ("grace", "r2")]


@pytest.mark.django_db(transaction=True)
def test_one_row_inserted_meanwhile_by_another_writer_is_rewritten(people) -> None:
    """PostgreSQL: another connection commits a row with the same key between this write's
    UPDATE (which found nothing) and its INSERT: the INSERT's conflict turns into the update."""
    if connection.vendor != "postgresql":
        pytest.skip(
            f"not applicable: {connection.vendor} (SQLite has one writer at a time, and "
            "InnoDB's gap lock makes the other INSERT wait for this transaction)"
        )
    ada, grace = people
    raced: list[int] = []

    def other_writer(sender, instance, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if raced:
            return
        raced.append(1)

        def commit() -> None:
            try:
                login("k1", grace, "r-other").save(force_insert=True)
            finally:
                connection.close()

        thread = threading.Thread(target=commit)
        thread.start()
        thread.join(30)

    pre_save.connect(other_writer, sender=AuthRocketLogin)
    try:
        upsert_one(login("k1", ada, "r1"), unique_fields=["session_key"], update_fields=REWRITTEN)
    finally:
        pre_save.disconnect(other_writer, sender=AuthRocketLogin)

    assert raced == [1]
    assert stored() == {"k1": ("kss_1", "ada", "r1", {"sid": "kss_1"})}

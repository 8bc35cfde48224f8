"""``bulk_upsert``: the login record's and the mirror's writes on databases without the
statements of ``mirror/upsert.py`` (MySQL and MariaDB through ``ON DUPLICATE KEY UPDATE``,
others one row at a time), run here on whatever database the suite has (CI runs it on SQLite,
PostgreSQL and MariaDB), and ``upsert_one``, the one-row path, on every one of them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from django_authrocket.bulk_upsert import bulk_upsert, upsert_one
from django_authrocket.models import AuthRocketLogin

pytestmark = pytest.mark.django_db
REWRITTEN = ["authrocket_session_id", "user", "expires_at", "ref", "source", "data"]
WHEN = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.fixture
def people():  # type: ignore[no-untyped-def]
    users = get_user_model().objects
    return users.create(username="ada"), users.create(username="grace")


def login(key: str, user, ref: str, session: str = "kss_1") -> AuthRocketLogin:  # type: ignore[no-untyped-def]
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

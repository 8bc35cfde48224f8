"""A first login commits no more often than a bare ``auth.login()``, and a refusal after the
token check still sends ``user_login_failed`` and keeps what the backend wrote."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import connection
from django.test import Client

from django_authrocket.models import AuthRocketMembership, AuthRocketUser
from tests.helpers import login_with


@pytest.mark.django_db(transaction=True)
def test_a_first_login_commits_twice_like_a_returning_one(emulator, ada) -> None:
    """The new user, its mirror row and membership share the login's transaction (the new
    session, last_login, the login row); the session saved with the answer is the second."""
    # Each write's outermost transaction (its Atomic object, held so no id() is reused).
    writes: list[object | None] = []

    def note(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            blocks = connection.atomic_blocks
            writes.append(blocks[0] if connection.in_atomic_block else None)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        response = login_with(Client(), emulator.mint_token(ada["id"]))

    assert response.status_code == 302
    assert None not in writes  # no write in autocommit
    assert len({id(block) for block in writes}) == 2
    row = AuthRocketUser.objects.get(authrocket_id=ada["id"])
    assert row.user.username == "ada" and row.login_digest
    assert AuthRocketMembership.objects.filter(user=row).count() == 1


@pytest.mark.django_db
def test_an_inactive_users_refusal_is_reported_and_their_mirror_kept(emulator, ada) -> None:
    login_with(Client(), emulator.mint_token(ada["id"]))
    get_user_model().objects.filter(username="ada").update(is_active=False)
    emulator.update_user(ada["id"], first_name="Augusta")
    failed: list[object] = []

    def on_failed(sender, credentials, request, **kwargs):  # type: ignore[no-untyped-def]
        failed.append(credentials)

    user_login_failed.connect(on_failed)
    try:
        response = login_with(Client(), emulator.mint_token(ada["id"]))
    finally:
        user_login_failed.disconnect(on_failed)

    assert response.status_code == 401
    assert len(failed) == 1
    # The mirror follows AuthRocket even for a refused person, as before the refusal.
    assert AuthRocketUser.objects.get(authrocket_id=ada["id"]).first_name == "Augusta"

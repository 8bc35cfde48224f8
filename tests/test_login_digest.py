"""The login digest: an unchanged returning login reads one mirror row, and every other writer of
a person's mirror (sync, webhooks, resync, the admin) makes the next login compare again."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_authrocket.models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser
from django_authrocket.resync import resync_users
from django_authrocket.sync import sync
from tests.helpers import login_with, memberships_of

pytestmark = pytest.mark.django_db

SECRET = "digest-hook-secret"


def mirror_of(user_id: str) -> AuthRocketUser:
    return AuthRocketUser.objects.get(authrocket_id=user_id)


def deliver(emulator: Any, event_type: str) -> None:
    """Post the emulator's latest event of this type to the site's webhook, as AuthRocket would."""
    event = [e for e in emulator.events if e["event_type"] == event_type][-1]
    body = json.dumps(event).encode()
    response = Client().post(f"/webhook/{SECRET}/", body, content_type="application/json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("shape", ["selected", "all"])
def test_an_unchanged_returning_login_reads_one_mirror_row(emulator, ada, shape) -> None:
    emulator.configure(token_orgs=shape)
    looms = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    login_with(Client(), emulator.mint_token(ada["id"]))
    assert mirror_of(ada["id"]).login_digest

    with CaptureQueriesContext(connection) as queries:
        response = login_with(Client(), emulator.mint_token(ada["id"]))

    assert response.status_code == 302
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [s for s in sql if "authrocketmembership" in s or "authrocketorg" in s]
    assert len([s for s in sql if s.startswith("SELECT") and "authrocketuser" in s]) == 1
    expected = {"selected": 1, "all": 2}[shape]
    assert AuthRocketMembership.objects.filter(user__authrocket_id=ada["id"]).count() == expected


def test_a_changed_token_is_compared_and_written(emulator, ada) -> None:
    login_with(Client(), emulator.mint_token(ada["id"]))
    first = mirror_of(ada["id"]).login_digest
    emulator.update_user(ada["id"], first_name="Augusta")
    login_with(Client(), emulator.mint_token(ada["id"]))
    row = mirror_of(ada["id"])
    assert row.first_name == "Augusta" and row.login_digest not in ("", first)


def _membership(emulator: Any, user_id: str) -> dict[str, Any]:
    [membership] = memberships_of(emulator, user_id)
    return membership


def _webhook_removes_membership(emulator: Any, ada: dict[str, Any]) -> None:
    emulator.delete_membership(_membership(emulator, ada["id"])["id"])
    deliver(emulator, "membership.deleted")
    assert not AuthRocketMembership.objects.exists()


def _webhook_changes_membership(emulator: Any, ada: dict[str, Any]) -> None:
    emulator.update_membership(_membership(emulator, ada["id"])["id"], permissions=["x:y"])
    deliver(emulator, "membership.updated")
    assert AuthRocketMembership.objects.get().permissions == ["x:y"]


def _webhook_renames_org(emulator: Any, ada: dict[str, Any]) -> None:
    emulator.update_org(_membership(emulator, ada["id"])["org_id"], name="Difference Engines")
    deliver(emulator, "org.updated")
    assert AuthRocketOrg.objects.get().name == "Difference Engines"


def _resync_removes_membership(emulator: Any, ada: dict[str, Any]) -> None:
    emulator.delete_membership(_membership(emulator, ada["id"])["id"])
    resync_users([ada["id"]])
    assert not AuthRocketMembership.objects.exists()


def _sync_prunes_membership(emulator: Any, ada: dict[str, Any]) -> None:
    # Another member keeps the org's listing non-empty (an empty one prunes nothing).
    grace = emulator.create_user("grace@example.com", first_name="Grace")
    emulator.create_membership(grace["id"], _membership(emulator, ada["id"])["org_id"])
    sync()
    emulator.delete_membership(_membership(emulator, ada["id"])["id"])
    sync(deactivate_missing=True)
    assert not AuthRocketMembership.objects.filter(user__authrocket_id=ada["id"]).exists()


def _sync_changes_user(emulator: Any, ada: dict[str, Any]) -> None:
    emulator.update_user(ada["id"], last_name="Byron")
    sync()
    assert mirror_of(ada["id"]).last_name == "Byron"


def _admin_deletes_membership(emulator: Any, ada: dict[str, Any]) -> None:
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    browser = Client()
    browser.force_login(admin)
    row = AuthRocketMembership.objects.get()
    url = reverse("admin:django_authrocket_authrocketmembership_delete", args=[row.pk])
    assert browser.post(url, {"post": "yes"}).status_code == 302
    assert not AuthRocketMembership.objects.exists()


WRITERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "webhook removes a membership": _webhook_removes_membership,
    "webhook changes a membership": _webhook_changes_membership,
    "webhook renames an org": _webhook_renames_org,
    "resync removes a membership": _resync_removes_membership,
    "sync prunes a membership": _sync_prunes_membership,
    "sync changes the user": _sync_changes_user,
    "admin deletes a membership": _admin_deletes_membership,
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_stale_digest_never_hides_a_change(settings, emulator, ada, writer) -> None:
    """After another writer changed the mirror, a login whose session says what the last one
    said compares again and writes what its session lists, as it would without a digest."""
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    login_with(Client(), emulator.mint_token(ada["id"]))
    said = mirror_of(ada["id"]).login_digest
    assert said
    same = emulator.mint_token(ada["id"])  # minted before the change: says the same again
    before = (mirror_of(ada["id"]).last_name, _membership(emulator, ada["id"]))

    WRITERS[writer](emulator, ada)
    assert mirror_of(ada["id"]).login_digest == ""

    assert login_with(Client(), same).status_code == 302
    row = mirror_of(ada["id"])
    assert row.login_digest == said
    assert row.last_name == before[0]  # the token's, written back
    membership = AuthRocketMembership.objects.select_related("org").get(
        user__authrocket_id=ada["id"]
    )
    assert membership.org.name == "Analytical Engines"
    assert membership.permissions == before[1]["permissions"]

"""The admin actions "Resync from AuthRocket" and "End AuthRocket sessions", posted through the
changelist as a person would."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from django_authrocket.models import AuthRocketOrg, AuthRocketUser
from django_authrocket.sync import sync
from django_authrocket.testing import log_in_through_site

User = get_user_model()
USERS = "/admin/django_authrocket/authrocketuser/"
ORGS = "/admin/django_authrocket/authrocketorg/"

pytestmark = pytest.mark.django_db


def run_action(client: Client, changelist: str, action: str, rows) -> list[tuple[str, str]]:
    response = client.post(
        changelist,
        {"action": action, "_selected_action": [row.pk for row in rows]},
        follow=True,
    )
    assert response.status_code == 200
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def logged_in(emulator, user) -> Client:
    browser = Client()
    assert log_in_through_site(browser, emulator.mint_token(user["id"])).status_code == 302
    return browser


def is_logged_in(browser: Client) -> bool:
    return browser.get("/private/").status_code == 200


@pytest.fixture
def grace(emulator):
    return emulator.create_user("grace@example.com", first_name="Grace", username="grace")


@pytest.fixture
def mirrored(emulator, ada, grace):
    sync()
    return {row.authrocket_id: row for row in AuthRocketUser.objects.all()}


# --- resync -----------------------------------------------------------------------------------


def test_resync_users_reads_the_selected_users_again(admin_client, emulator, ada, mirrored):
    emulator.update_user(ada["id"], first_name="Augusta")

    messages = run_action(admin_client, USERS, "resync_from_authrocket", [mirrored[ada["id"]]])

    assert messages == [
        (
            "success",
            "Resynced 1 users from AuthRocket: users: 0 created, 1 updated, 0 unchanged; "
            "memberships: 0 created, 0 updated, 1 unchanged",
        )
    ]
    assert AuthRocketUser.objects.get(authrocket_id=ada["id"]).first_name == "Augusta"


def test_resync_of_a_user_gone_upstream_deactivates_them(admin_client, emulator, grace, mirrored):
    emulator.delete_user(grace["id"])

    messages = run_action(admin_client, USERS, "resync_from_authrocket", [mirrored[grace["id"]]])

    assert "1 deactivated" in messages[0][1]
    assert not User.objects.get(authrocket__authrocket_id=grace["id"]).is_active


def test_resync_orgs_reads_the_selected_orgs_again(admin_client, emulator, ada, mirrored):
    org = AuthRocketOrg.objects.get()
    emulator.update_org(org.authrocket_id, name="Difference Engines")

    messages = run_action(admin_client, ORGS, "resync_from_authrocket", [org])

    assert messages[0][0] == "success" and "orgs: 0 created, 1 updated" in messages[0][1]
    org.refresh_from_db()
    assert org.name == "Difference Engines"


def test_resync_reports_an_api_failure(admin_client, settings, emulator, ada, mirrored):
    settings.AUTHROCKET_HTTP_RETRIES = 0
    emulator.inject_fault("/api/v2/users/*", status=503, times=None)

    messages = run_action(admin_client, USERS, "resync_from_authrocket", [mirrored[ada["id"]]])

    assert messages[0][0] == "error" and "Could not resync" in messages[0][1]


# --- ending sessions --------------------------------------------------------------------------


def test_end_sessions_revokes_at_authrocket_and_logs_out_only_the_selected(
    admin_client, emulator, ada, grace
) -> None:
    laptop, phone, other = (
        logged_in(emulator, ada),
        logged_in(emulator, ada),
        logged_in(emulator, grace),
    )
    row = AuthRocketUser.objects.get(authrocket_id=ada["id"])

    messages = run_action(admin_client, USERS, "end_authrocket_sessions", [row])

    assert messages == [
        ("success", "Revoked 2 AuthRocket session(s) and ended 2 Django session(s).")
    ]
    assert emulator.count_requests("/api/v2/sessions/*", method="DELETE") == 2
    assert not is_logged_in(laptop) and not is_logged_in(phone)
    assert is_logged_in(other)


def test_end_sessions_still_ends_local_sessions_when_the_api_fails(
    admin_client, settings, emulator, ada
) -> None:
    settings.AUTHROCKET_HTTP_RETRIES = 0
    browser = logged_in(emulator, ada)
    emulator.inject_fault("/api/v2/sessions", status=503, times=None)
    row = AuthRocketUser.objects.get(authrocket_id=ada["id"])

    messages = run_action(admin_client, USERS, "end_authrocket_sessions", [row])

    assert messages[0] == (
        "warning",
        "Revoked 0 AuthRocket session(s) and ended 1 Django session(s).",
    )
    assert messages[1][0] == "error" and "Could not revoke" in messages[1][1]
    assert not is_logged_in(browser)


def test_ending_sessions_needs_the_permission_to_change_users(emulator, ada, mirrored) -> None:
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_authrocketuser"))
    viewer.user_permissions.add(Permission.objects.get(codename="change_authrocketuser"))
    client = Client()
    client.force_login(viewer)

    actions = dict(client.get(USERS).context["action_form"].fields["action"].choices)

    assert "resync_from_authrocket" in actions
    assert "end_authrocket_sessions" not in actions  # that takes changing the local users

"""The Django admin and AuthRocket (issue 14, item 7).

* The admin's login page offers "Log in with AuthRocket" (``AUTHROCKET_ADMIN_LOGIN``), beside
  the password form, whatever the order of ``INSTALLED_APPS``.
* AuthRocket staff are put in ``AUTHROCKET_STAFF_GROUP``, created with the mirror's view
  permissions, so the admin shows them the mirrored users and orgs; losing staff takes them out.
* The admin's "Log out" of an AuthRocket login goes through LoginRocket's logout too.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.checks import Warning, run_checks
from django.core.management.sql import emit_post_migrate_signal
from django.test import Client

from django_authrocket import admin_site, staff_group
from tests.helpers import logged_in, login_with, memberships_of, query_of

pytestmark = pytest.mark.django_db

User = get_user_model()
MIRROR_VIEW_PERMISSIONS = {
    "django_authrocket.view_authrocketuser",
    "django_authrocket.view_authrocketorg",
    "django_authrocket.view_authrocketmembership",
}


@pytest.fixture
def staff_org(emulator, settings):  # type: ignore[no-untyped-def]
    org = emulator.create_org("Site Staff", reference="site-staff")
    settings.AUTHROCKET_STAFF_PERMISSION = "ar:admin"
    settings.AUTHROCKET_STAFF_ORG = org["id"]
    return org


@pytest.fixture
def grace(emulator, staff_org):  # type: ignore[no-untyped-def]
    """Admin of the site's staff org: staff here."""
    user = emulator.create_user("grace@example.com", username="grace")
    emulator.create_membership(user["id"], staff_org["id"], permissions=["ar:admin"], selected=True)
    return user


@pytest.fixture
def mallory(emulator, staff_org):  # type: ignore[no-untyped-def]
    """Owner and admin of her own org: a customer, not staff."""
    user = emulator.create_user("mallory@example.com", username="mallory")
    org = emulator.create_org("Mallory Inc")
    emulator.create_membership(
        user["id"], org["id"], permissions=["ar:owner", "ar:admin"], selected=True
    )
    return user


def in_group(username: str, name: str = "AuthRocket staff") -> bool:
    return User.objects.get(username=username).groups.filter(name=name).exists()


# --- the login page ---------------------------------------------------------------------------


def test_the_admin_login_page_offers_authrocket_with_the_admins_next(client) -> None:
    page = client.get("/admin/login/", {"next": "/admin/django_authrocket/authrocketorg/"})

    assert page.status_code == 200
    html = page.content.decode()
    assert "Log in with AuthRocket" in html
    assert 'href="/login/?next=%2Fadmin%2Fdjango_authrocket%2Fauthrocketorg%2F"' in html
    assert 'id="login-form"' in html  # the password form stays
    assert html.index("Log in with AuthRocket") < html.index('id="login-form"')


def test_without_next_the_button_goes_back_to_the_admin_index(client) -> None:
    html = client.get("/admin/login/").content.decode()

    assert 'href="/login/?next=%2Fadmin%2F"' in html


def test_an_unsafe_next_is_not_carried(client) -> None:
    html = client.get("/admin/login/", {"next": "https://evil.example/"}).content.decode()

    button = html.split('id="authrocket-login"')[1].split("</div>")[0]
    assert "evil" not in button
    assert 'href="/login/?next=%2Fadmin%2F"' in button


def test_the_setting_turns_the_button_off(client, settings) -> None:
    settings.AUTHROCKET_ADMIN_LOGIN = False

    html = client.get("/admin/login/").content.decode()

    assert "Log in with AuthRocket" not in html
    assert 'id="login-form"' in html


def test_the_button_leads_through_loginrocket_into_the_admin(client, emulator, grace) -> None:
    html = client.get("/admin/login/", {"next": "/admin/"}).content.decode()
    login_url = html.split('<a class="button default" href="')[1].split('"')[0]

    start = client.get(login_url)
    assert start["Location"].startswith(f"{emulator.loginrocket_url}/login?")
    back = login_with(client, emulator.mint_token(grace["id"]), next_url="/admin/")

    assert back["Location"] == "/admin/"
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "Log in with AuthRocket" not in index.content.decode()


def test_a_customer_logged_in_through_authrocket_is_not_offered_the_button_again(
    emulator, mallory
) -> None:
    client = logged_in(emulator, mallory)

    page = client.get("/admin/login/", {"next": "/admin/"})

    html = page.content.decode()
    assert "You are authenticated as mallory" in html
    assert "Log in with AuthRocket" not in html


def test_every_admin_site_without_a_template_of_its_own_gets_the_apps() -> None:
    assert admin.site.login_template == admin_site.LOGIN_TEMPLATE
    custom = admin.AdminSite(name="custom_admin")
    mine = admin.AdminSite(name="mine_admin")
    mine.login_template = "mine/login.html"

    admin_site.install()

    assert custom.login_template == admin_site.LOGIN_TEMPLATE
    assert mine.login_template == "mine/login.html"


def test_a_site_with_its_own_login_template_is_warned(settings) -> None:
    gc.collect()  # admin sites other tests made are gone from all_sites
    assert not [m for m in run_checks() if m.id == "authrocket.W030"]
    mine = admin.AdminSite(name="own_template_admin")
    mine.login_template = "mine/login.html"

    warnings = [m for m in run_checks() if m.id == "authrocket.W030"]

    assert len(warnings) == 1 and isinstance(warnings[0], Warning)
    assert "own_template_admin" in warnings[0].msg and "authrocket_admin_login" in warnings[0].hint
    settings.AUTHROCKET_ADMIN_LOGIN = False
    assert not [m for m in run_checks() if m.id == "authrocket.W030"]
    del mine


# --- the staff group --------------------------------------------------------------------------


def test_authrocket_staff_join_the_group_and_see_the_mirror_in_the_admin(emulator, grace) -> None:
    client = logged_in(emulator, grace)

    user = User.objects.get(username="grace")
    assert user.is_staff and in_group("grace")
    assert {p for p in user.get_all_permissions() if p.endswith(("user", "org", "membership"))} >= (
        MIRROR_VIEW_PERMISSIONS
    )
    index = client.get("/admin/").content.decode()
    assert "have permission to view or edit anything" not in index
    assert "/admin/django_authrocket/authrocketuser/" in index
    assert "/admin/django_authrocket/authrocketorg/" in index
    people = client.get("/admin/django_authrocket/authrocketuser/")
    assert people.status_code == 200 and "grace@example.com" in people.content.decode()
    # View only: the mirror is AuthRocket's.
    assert client.post("/admin/django_authrocket/authrocketorg/add/").status_code == 403


def test_the_group_is_created_with_the_mirrors_view_permissions_only(emulator, grace) -> None:
    logged_in(emulator, grace)

    group = Group.objects.get(name="AuthRocket staff")
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert granted == MIRROR_VIEW_PERMISSIONS


def test_a_customer_admin_never_joins_the_group(emulator, mallory) -> None:
    logged_in(emulator, mallory)

    assert not in_group("mallory")
    assert not User.objects.get(username="mallory").is_staff


def test_losing_staff_leaves_the_group(emulator, grace) -> None:
    logged_in(emulator, grace)
    assert in_group("grace")
    [membership] = memberships_of(emulator, grace["id"])
    emulator.update_membership(membership["id"], permissions=["reports:read"])

    logged_in(emulator, grace)

    assert not in_group("grace")
    assert not User.objects.get(username="grace").is_staff


def test_losing_staff_creates_no_group(emulator, grace) -> None:
    logged_in(emulator, grace)
    Group.objects.filter(name="AuthRocket staff").delete()
    [membership] = memberships_of(emulator, grace["id"])
    emulator.update_membership(membership["id"], permissions=["reports:read"])

    logged_in(emulator, grace)

    assert not User.objects.get(username="grace").is_staff
    assert not Group.objects.filter(name="AuthRocket staff").exists()


def test_staff_from_before_the_group_existed_join_it_at_their_next_login(emulator, grace) -> None:
    logged_in(emulator, grace)
    Group.objects.filter(name="AuthRocket staff").delete()

    logged_in(emulator, grace)

    assert in_group("grace")


def test_the_group_name_is_a_setting_and_none_means_no_group(settings, emulator, grace) -> None:
    settings.AUTHROCKET_STAFF_GROUP = "Support desk"
    logged_in(emulator, grace)
    assert in_group("grace", "Support desk")
    assert not Group.objects.filter(name="AuthRocket staff").exists()

    settings.AUTHROCKET_STAFF_GROUP = None
    Group.objects.all().delete()
    logged_in(emulator, grace)

    assert User.objects.get(username="grace").is_staff
    assert not Group.objects.exists()


def test_an_existing_group_is_left_as_the_site_made_it(emulator, grace) -> None:
    group = Group.objects.create(name="AuthRocket staff")
    extra = Permission.objects.get(codename="change_authrocketorg")
    group.permissions.set([extra])

    logged_in(emulator, grace)

    assert list(group.permissions.all()) == [extra]
    assert in_group("grace")


def test_migrate_creates_the_group(settings, staff_org) -> None:
    assert not Group.objects.filter(name="AuthRocket staff").exists()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    group = Group.objects.get(name="AuthRocket staff")
    assert group.permissions.count() == len(MIRROR_VIEW_PERMISSIONS)


def test_migrate_makes_no_group_without_the_staff_rule(settings) -> None:
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert not Group.objects.filter(name="AuthRocket staff").exists()
    assert staff_group.staff_group() is None


# --- logging out of the admin -----------------------------------------------------------------


def admin_logout(client: Client) -> Any:
    return client.post("/admin/logout/")


def test_the_admins_logout_also_logs_out_of_loginrocket(emulator, grace) -> None:
    client = logged_in(emulator, grace)
    session_id = client.get("/private/").json()["authrocket_session"]

    response = admin_logout(client)

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{emulator.loginrocket_url}/logout?")
    assert query_of(location)["session"] == [session_id]
    assert query_of(location)["redirect_uri"] == ["http://testserver/public/"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert client.get("/private/").status_code == 302  # logged out here


def test_the_admins_logout_revokes_the_session_with_logout_revoke(
    settings, emulator, grace
) -> None:
    settings.AUTHROCKET_LOGOUT_REVOKE = True
    client = logged_in(emulator, grace)
    session_id = client.get("/private/").json()["authrocket_session"]

    admin_logout(client)

    assert emulator.count_requests(f"/api/v2/sessions/{session_id}", method="DELETE") == 1


def test_a_password_admins_logout_is_djangos_own(client, settings) -> None:
    User.objects.create_superuser("root", "root@example.com", "a-long-test-password")
    client.login(username="root", password="a-long-test-password")

    response = admin_logout(client)

    assert response.status_code == 302 and response["Location"] == "/public/"
    settings.LOGOUT_REDIRECT_URL = None
    client.login(username="root", password="a-long-test-password")
    page = admin_logout(client)
    assert page.status_code == 200 and "Logged out" in page.content.decode()

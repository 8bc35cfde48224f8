"""The mirror admin: pages load, search and filters work, nothing can be edited or added."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_authrocket.models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser

pytestmark = pytest.mark.django_db

MODELS = ("authrocketuser", "authrocketorg", "authrocketmembership")


@pytest.fixture
def emulator(authrocket_emulator):
    return authrocket_emulator


@pytest.fixture
def ada(emulator) -> AuthRocketUser:
    """Ada, mirrored by a real login: a member of Analytical Engines (selected) and Looms."""
    emulator.configure(token_orgs="all")  # a token listing both orgs
    user = emulator.create_user("ada@example.com", first_name="Ada", last_name="Lovelace")
    engines_org = emulator.create_org("Analytical Engines")
    looms = emulator.create_org("Looms")
    emulator.create_membership(
        user["id"], engines_org["id"], permissions=["ar:admin", "billing:*"], selected=True
    )
    emulator.create_membership(user["id"], looms["id"], permissions=["looms:read"])
    response = Client().get("/login/", {"token": emulator.mint_token(user["id"])})
    assert response.status_code == 302
    return AuthRocketUser.objects.get(authrocket_id=user["id"])


@pytest.fixture
def grace(emulator) -> AuthRocketUser:
    user = emulator.create_user("grace@example.com", first_name="Grace", last_name="Hopper")
    Client().get("/login/", {"token": emulator.mint_token(user["id"])})
    return AuthRocketUser.objects.get(authrocket_id=user["id"])


def url(model: str, action: str = "changelist", *args: object) -> str:
    path = f"/admin/django_authrocket/{model}/"
    if action == "changelist":
        return path
    if action == "add":
        return f"{path}add/"
    return f"{path}{args[0]}/{action}/"


def results(response) -> list[object]:
    return list(response.context["cl"].result_list)


# --- the lists ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_each_list_loads_for_a_superuser(admin_client, ada, model) -> None:
    response = admin_client.get(url(model))
    assert response.status_code == 200
    assert results(response)


def test_users_are_found_by_email_name_authrocket_id_and_org_name(admin_client, ada, grace) -> None:
    for query in ("ada@example", "Lovelace", ada.authrocket_id, "Analytical"):
        assert results(admin_client.get(url("authrocketuser"), {"q": query})) == [ada], query


def test_searching_users_by_org_name_lists_each_user_once(admin_client, ada) -> None:
    # "s" is in the names of both of Ada's orgs: the join must not list her twice.
    assert results(admin_client.get(url("authrocketuser"), {"q": "s"})) == [ada]


def test_orgs_are_found_by_name_and_authrocket_id(admin_client, ada) -> None:
    looms = AuthRocketOrg.objects.get(name="Looms")
    assert results(admin_client.get(url("authrocketorg"), {"q": "loom"})) == [looms]
    assert results(admin_client.get(url("authrocketorg"), {"q": looms.authrocket_id})) == [looms]


def test_the_org_list_counts_members(admin_client, ada, grace) -> None:
    response = admin_client.get(url("authrocketorg"))
    assert {org.name: org._member_count for org in results(response)} == {
        "Analytical Engines": 1,
        "Looms": 1,
    }


def test_memberships_are_found_by_org_name_and_user_email(admin_client, ada) -> None:
    looms = AuthRocketMembership.objects.get(org__name="Looms")
    assert results(admin_client.get(url("authrocketmembership"), {"q": "looms"})) == [looms]
    found = results(admin_client.get(url("authrocketmembership"), {"q": "ada@example.com"}))
    assert len(found) == 2


def test_lists_filter_by_state_realm_and_selected(admin_client, ada, grace) -> None:
    ada.state = "inactive"
    ada.save()
    response = admin_client.get(url("authrocketuser"), {"state__exact": "inactive"})
    assert results(response) == [ada]
    response = admin_client.get(url("authrocketuser"), {"realm_id__exact": ada.realm_id})
    assert len(results(response)) == 2
    response = admin_client.get(url("authrocketmembership"), {"selected__exact": "1"})
    assert [m.org.name for m in results(response)] == ["Analytical Engines"]


@pytest.mark.parametrize("model", MODELS)
def test_a_list_costs_the_same_queries_for_more_rows(admin_client, emulator, ada, model) -> None:
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url(model))
    for n in range(3):
        user = emulator.create_user(f"user{n}@example.com")
        org = emulator.create_org(f"Org {n}")
        emulator.create_membership(user["id"], org["id"], permissions=["x"], selected=True)
        Client().get("/login/", {"token": emulator.mint_token(user["id"])})
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url(model))
    assert len(results(response)) > 3
    assert len(many) == len(few)


# --- read-only ----------------------------------------------------------------------------------


def test_a_user_page_shows_every_mirrored_field_read_only(admin_client, ada) -> None:
    response = admin_client.get(url("authrocketuser", "change", ada.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "ada@example.com" in html and "Analytical Engines" in html and "Looms" in html
    form = response.context["adminform"].form
    assert not form.fields  # nothing editable: every field is displayed read-only
    for name in ("authrocket_id", "email", "name", "state", "realm_id", "user", "custom"):
        assert name in response.context["adminform"].readonly_fields
    assert 'name="_save"' not in html
    (inline,) = response.context["inline_admin_formsets"]
    assert not inline.has_add_permission and not inline.has_change_permission


def test_org_and_membership_pages_are_read_only(admin_client, ada) -> None:
    org = AuthRocketOrg.objects.get(name="Looms")
    membership = AuthRocketMembership.objects.get(org=org)
    for page in (
        url("authrocketorg", "change", org.pk),
        url("authrocketmembership", "change", membership.pk),
    ):
        response = admin_client.get(page)
        assert response.status_code == 200
        assert not response.context["adminform"].form.fields
        assert 'name="_save"' not in response.content.decode()


def test_a_change_cannot_be_posted(admin_client, ada) -> None:
    response = admin_client.post(
        url("authrocketuser", "change", ada.pk), {"email": "mallory@example.com"}
    )
    assert response.status_code == 403
    ada.refresh_from_db()
    assert ada.email == "ada@example.com"


@pytest.mark.parametrize("model", MODELS)
def test_nothing_can_be_added(admin_client, model) -> None:
    assert admin_client.get(url(model, "add")).status_code == 403


def test_a_superuser_may_delete_an_org_row(admin_client, ada) -> None:
    org = AuthRocketOrg.objects.get(name="Looms")
    response = admin_client.post(url("authrocketorg", "delete", org.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not AuthRocketOrg.objects.filter(pk=org.pk).exists()


def test_no_one_deletes_a_person_row_it_would_orphan_the_local_user(admin_client, ada) -> None:
    assert admin_client.get(url("authrocketuser", "delete", ada.pk)).status_code == 403
    response = admin_client.post(url("authrocketuser", "delete", ada.pk), {"post": "yes"})
    assert response.status_code == 403
    assert AuthRocketUser.objects.filter(pk=ada.pk).exists()
    page = admin_client.get(url("authrocketuser", "change", ada.pk)).content.decode()
    assert url("authrocketuser", "delete", ada.pk) not in page
    changelist = admin_client.get(url("authrocketuser"))
    assert "delete_selected" not in dict(changelist.context["action_form"].fields["action"].choices)


def test_a_superuser_deletes_the_local_user_in_the_admin_and_the_row_goes_with_it(
    admin_client, ada
) -> None:
    user_pk = ada.user.pk
    delete = f"/admin/auth/user/{user_pk}/delete/"
    assert admin_client.get(delete).status_code == 200
    response = admin_client.post(delete, {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=user_pk).exists()
    assert not AuthRocketUser.objects.filter(pk=ada.pk).exists()


def test_staff_with_every_permission_may_look_but_not_delete(client, ada) -> None:
    staff = get_user_model().objects.create_user("staff", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="django_authrocket")
    )
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(url("authrocketuser")).status_code == 200
    assert client.get(url("authrocketuser", "change", ada.pk)).status_code == 200
    assert client.get(url("authrocketuser", "delete", ada.pk)).status_code == 403
    assert client.get(url("authrocketuser", "add")).status_code == 403


def test_the_portal_link_follows_the_setting(admin_client, ada, settings) -> None:
    page = url("authrocketuser", "change", ada.pk)
    assert "portal.example" not in admin_client.get(page).content.decode()
    settings.AUTHROCKET_PORTAL_USER_URL = "https://portal.example/{realm_id}/users/{authrocket_id}"
    body = admin_client.get(page).content.decode()
    assert f'href="https://portal.example/{ada.realm_id}/users/{ada.authrocket_id}"' in body
    settings.AUTHROCKET_PORTAL_USER_URL = "https://portal.example/{nope}"
    assert "unknown placeholders" in admin_client.get(page).content.decode()

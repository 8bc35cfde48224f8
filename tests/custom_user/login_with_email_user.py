"""Run by tests/test_custom_user.py under tests.settings_custom_user (a swapped user model)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_authrocket.models import AuthRocketUser
from django_authrocket.testing import log_in_through_site

pytestmark = pytest.mark.django_db


def test_login_creates_an_email_keyed_user(authrocket_emulator) -> None:
    emulator = authrocket_emulator
    ada = emulator.create_user("Ada@Example.com", first_name="Ada", username="ada")
    client = Client()
    response = log_in_through_site(client, emulator.mint_token(ada["id"]), next="/private/")
    assert response.status_code == 302, response.content
    user = get_user_model().objects.get()
    assert user.email == "ada@example.com"
    assert not user.has_usable_password()
    assert AuthRocketUser.objects.get(authrocket_id=ada["id"]).user == user
    assert client.get("/private/").json()["username"] == "ada@example.com"


def test_a_second_login_updates_the_email(authrocket_emulator) -> None:
    emulator = authrocket_emulator
    ada = emulator.create_user("ada@example.com")
    log_in_through_site(Client(), emulator.mint_token(ada["id"]))
    emulator.update_user(ada["id"], email="augusta@example.com")
    log_in_through_site(Client(), emulator.mint_token(ada["id"]))
    mirror = AuthRocketUser.objects.select_related("user").get()
    assert mirror.email == "augusta@example.com"
    assert get_user_model().objects.count() == 1


def test_staff_permission_is_ignored_without_is_staff(settings, authrocket_emulator) -> None:
    settings.AUTHROCKET_STAFF_PERMISSION = "ar:admin"
    emulator = authrocket_emulator
    ada = emulator.create_user("ada@example.com")
    org = emulator.create_org("Engines")
    emulator.create_membership(ada["id"], org["id"], permissions=["ar:admin"], selected=True)
    settings.AUTHROCKET_STAFF_ORG = org["id"]
    assert log_in_through_site(Client(), emulator.mint_token(ada["id"])).status_code == 302

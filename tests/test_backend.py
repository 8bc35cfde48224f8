"""AuthRocketBackend outside the login view: async, concurrency, staff mapping, hooks."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import aauthenticate, authenticate, get_user_model
from django.db import connection
from django.test import RequestFactory

from django_authrocket.backends import AuthRocketBackend, get_backend
from django_authrocket.exceptions import ExpiredToken, InvalidClaims
from django_authrocket.models import AuthRocketUser
from tests.helpers import memberships_of

User = get_user_model()


@pytest.mark.django_db
def test_authenticate_returns_the_user(emulator, ada) -> None:
    request = RequestFactory().get("/")
    user = authenticate(request, authrocket_token=emulator.mint_token(ada["id"]))
    assert user is not None and user.username == "ada"


@pytest.mark.django_db
def test_authenticate_token_returns_the_user_and_its_authrocket_session(emulator, ada) -> None:
    request = RequestFactory().get("/")
    user, session = get_backend().authenticate_token(request, emulator.mint_token(ada["id"]))
    assert user.username == "ada"
    assert session.user.id == ada["id"]


@pytest.mark.django_db
def test_a_refusal_is_a_typed_error_with_its_reason(emulator, ada) -> None:
    request = RequestFactory().get("/")
    token = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=10)
    assert authenticate(request, authrocket_token=token) is None
    with pytest.raises(ExpiredToken) as caught:
        get_backend().authenticate_token(request, token)
    assert caught.value.reason == "expired"
    assert not hasattr(request, "_authrocket_login_failure")  # nothing stuck on the request


@pytest.mark.django_db
def test_username_and_password_are_left_to_other_backends(emulator) -> None:
    User.objects.create_user("local", password="pw-123456")
    assert AuthRocketBackend().authenticate(None, username="local", password="pw-123456") is None
    assert authenticate(None, username="local", password="pw-123456") is not None


@pytest.mark.django_db(transaction=True)
def test_aauthenticate_works_from_async_code(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])

    async def run():
        return await aauthenticate(None, authrocket_token=token)

    user = async_to_sync(run)()
    assert user is not None and user.username == "ada"


@pytest.mark.django_db
def test_staff_permission_grants_and_withdraws_is_staff(settings, emulator, ada) -> None:
    settings.AUTHROCKET_STAFF_PERMISSION = "ar:admin"
    user = authenticate(None, authrocket_token=emulator.mint_token(ada["id"]))
    assert user.is_staff
    mb_id = memberships_of(emulator, ada["id"])[0]["id"]
    emulator.update_membership(mb_id, permissions=["reports:read"])
    user = authenticate(None, authrocket_token=emulator.mint_token(ada["id"]))
    user.refresh_from_db()
    assert not user.is_staff


@pytest.mark.django_db
def test_verify_claims_can_refuse_a_login(emulator, ada, settings) -> None:
    settings.AUTHENTICATION_BACKENDS = ["tests.test_backend.OnlyEnginesBackend"]
    request = RequestFactory().get("/")
    outsider = emulator.create_user("eve@example.com")
    assert authenticate(request, authrocket_token=emulator.mint_token(outsider["id"])) is None
    with pytest.raises(InvalidClaims) as caught:
        get_backend().authenticate_token(request, emulator.mint_token(outsider["id"]))
    assert caught.value.reason == "refused"
    assert authenticate(request, authrocket_token=emulator.mint_token(ada["id"])) is not None


class OnlyEnginesBackend(AuthRocketBackend):
    def verify_claims(self, session):
        return (
            session.selected_org is not None and session.selected_org.name == "Analytical Engines"
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_logins_of_one_person_make_one_user(emulator, ada) -> None:
    tokens = [emulator.mint_token(ada["id"]) for _ in range(8)]
    barrier = threading.Barrier(len(tokens))
    users: list[object] = []

    def first_login(token: str) -> None:
        barrier.wait()
        try:
            users.append(authenticate(None, authrocket_token=token))
        finally:
            connection.close()

    threads = [threading.Thread(target=first_login, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(users) == 8
    assert all(user is not None for user in users), users
    assert {user.pk for user in users} == {users[0].pk}
    assert User.objects.count() == 1
    assert AuthRocketUser.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_a_requested_email_verification_survives_logins(settings, emulator, verify) -> None:
    # A token says only email_verified: false, which is "none" or "requested" at AuthRocket.
    settings.AUTHROCKET_VERIFY = verify
    person = emulator.create_user("hedy@example.com", email_verification="requested")

    def log_in() -> AuthRocketUser:
        token = emulator.mint_token(person["id"])
        assert authenticate(RequestFactory().get("/"), authrocket_token=token) is not None
        return AuthRocketUser.objects.get(authrocket_id=person["id"])

    first = log_in().email_verification
    assert first == ("requested" if verify == "api" else "none")  # a token cannot tell
    AuthRocketUser.objects.filter(authrocket_id=person["id"]).update(
        email_verification="requested"  # as the sync or a webhook records it
    )
    assert log_in().email_verification == "requested"
    emulator.update_user(person["id"], email_verification="verified")
    assert log_in().email_verification == "verified"
    emulator.update_user(person["id"], email_verification="none")
    assert log_in().email_verification == "none"

"""AuthRocketBackend: its steps, async, concurrency, staff mapping, and a site's subclass of it
being the backend that logins, Bearer requests, DRF and rechecks use."""

from __future__ import annotations

import threading
from io import StringIO
from typing import ClassVar

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import aauthenticate, authenticate, get_user_model
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory

from django_authrocket.backends import AuthRocketBackend, backend_path, get_backend
from django_authrocket.exceptions import ExpiredToken, InvalidClaims
from django_authrocket.models import AuthRocketUser
from django_authrocket.testing import recheck_at_next_request
from tests.helpers import bearer_auth, is_logged_in, logged_in, memberships_of

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
    settings.AUTHROCKET_STAFF_ORG = memberships_of(emulator, ada["id"])[0]["org_id"]
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
@pytest.mark.parametrize(
    ("verify", "session_answer", "told"),
    [
        ("jwt", "documented", "none"),
        ("api", "documented", "none"),
        ("api", "without_token", "requested"),
    ],
)
def test_a_requested_email_verification_survives_logins(
    settings, emulator, verify, session_answer, told
) -> None:
    # A token says only email_verified: false, which is "none" or "requested" at AuthRocket;
    # api mode reads the token of a Get Session answer too, and the user only without one.
    settings.AUTHROCKET_VERIFY = verify
    emulator.configure(session_answer=session_answer)
    person = emulator.create_user("hedy@example.com", email_verification="requested")

    def log_in() -> AuthRocketUser:
        token = emulator.mint_token(person["id"])
        assert authenticate(RequestFactory().get("/"), authrocket_token=token) is not None
        return AuthRocketUser.objects.get(authrocket_id=person["id"])

    assert log_in().email_verification == told
    AuthRocketUser.objects.filter(authrocket_id=person["id"]).update(
        email_verification="requested"  # as the sync or a webhook records it
    )
    assert log_in().email_verification == "requested"
    emulator.update_user(person["id"], email_verification="verified")
    assert log_in().email_verification == "verified"
    emulator.update_user(person["id"], email_verification="none")
    assert log_in().email_verification == "none"


# --- a site's subclass is the backend everything uses ------------------------------------------


class RecordingBackend(AuthRocketBackend):
    """A site's subclass: records which of its steps ran, then does what the base class does."""

    calls: ClassVar[list[str]] = []

    def verify_token(self, token, *, max_age=None, single_use=False):  # type: ignore[no-untyped-def]
        self.calls.append("verify_token")
        return super().verify_token(token, max_age=max_age, single_use=single_use)

    def verify_bearer_token(self, token):  # type: ignore[no-untyped-def]
        self.calls.append("verify_bearer_token")
        return super().verify_bearer_token(token)

    def verify_claims(self, session):  # type: ignore[no-untyped-def]
        self.calls.append("verify_claims")
        return super().verify_claims(session)

    def create_user(self, session, *, username):  # type: ignore[no-untyped-def]
        self.calls.append("create_user")
        return super().create_user(session, username=username)

    def update_mirror(self, user, session):  # type: ignore[no-untyped-def]
        self.calls.append("update_mirror")
        return super().update_mirror(user, session)

    def apply_staff_permission(self, user, session, *, save=True):  # type: ignore[no-untyped-def]
        self.calls.append("apply_staff_permission")
        return super().apply_staff_permission(user, session, save=save)


RECORDING = f"{__name__}.RecordingBackend"


@pytest.fixture
def recording(settings, emulator) -> list[str]:
    """RecordingBackend configured as the site's backend; the steps it ran, in order."""
    settings.AUTHENTICATION_BACKENDS = [RECORDING, "django.contrib.auth.backends.ModelBackend"]
    RecordingBackend.calls.clear()
    return RecordingBackend.calls


@pytest.mark.django_db
def test_a_subclass_passes_manage_py_check(recording) -> None:
    errors = [
        message
        for message in run_checks()
        if message.is_serious() and (message.id or "").startswith("authrocket.")
    ]
    assert errors == []
    call_command("check", stdout=StringIO(), stderr=StringIO())  # raises on any error


def test_get_backend_returns_the_configured_subclass(recording) -> None:
    assert isinstance(get_backend(), RecordingBackend)
    assert backend_path() == RECORDING
    assert get_backend() is get_backend()  # one instance per setting value


def test_get_backend_without_an_authrocket_backend_is_improperly_configured(settings) -> None:
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    with pytest.raises(ImproperlyConfigured, match="AUTHENTICATION_BACKENDS"):
        get_backend()
    with pytest.raises(ImproperlyConfigured):
        backend_path()


@pytest.mark.django_db
def test_browser_logins_use_the_subclass(recording, emulator, ada) -> None:
    first = logged_in(emulator, ada)
    assert first.session["_auth_user_backend"] == RECORDING
    assert recording == ["verify_token", "verify_claims", "create_user", "apply_staff_permission"]
    recording.clear()
    logged_in(emulator, ada)
    assert recording == ["verify_token", "verify_claims", "update_mirror", "apply_staff_permission"]
    assert is_logged_in(first)  # the middleware knows the subclass's sessions as its own


@pytest.mark.django_db
def test_bearer_requests_through_the_middleware_use_the_subclass(recording, emulator, ada) -> None:
    response = Client().get("/api/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 200
    assert recording[:2] == ["verify_bearer_token", "verify_claims"]


@pytest.mark.django_db
@pytest.mark.urls("tests.drf_urls")
def test_drf_authentication_uses_the_subclass(recording, settings, emulator, ada) -> None:
    pytest.importorskip("rest_framework", reason="needs the drf extra (installed by make test)")
    # Without the middleware: AuthRocketAuthentication does the work.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "AuthRocketMiddleware" not in m]
    response = Client().get("/drf/me/", **bearer_auth(emulator.mint_token(ada["id"])))
    assert response.status_code == 200, response.content
    assert recording[:2] == ["verify_bearer_token", "verify_claims"]


@pytest.mark.django_db
def test_api_mode_rechecks_use_the_subclass(recording, api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    recording.clear()
    emulator.update_user(ada["id"], first_name="Augusta")
    recheck_at_next_request(client)
    assert client.get("/private/").json()["first_name"] == "Augusta"
    assert recording == ["apply_staff_permission"]

"""Ending logins (signout.py): logout, single sign-out, pruning, revoking at AuthRocket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from django_authrocket import signout
from django_authrocket.models import AuthRocketLogin
from django_authrocket.testing import authrocket_session_id, recheck_at_next_request
from tests.helpers import is_logged_in, logged_in, session_calls

pytestmark = pytest.mark.django_db


def test_single_sign_out_ends_the_django_session(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    sid = authrocket_session_id(client)
    assert AuthRocketLogin.objects.filter(authrocket_session_id=sid).count() == 1
    assert signout.end_sessions_for(sid) == 1
    assert not is_logged_in(client)
    assert not AuthRocketLogin.objects.exists()


@pytest.mark.parametrize("path", ["/cycle/", "/async-cycle/"])
def test_single_sign_out_follows_a_session_key_the_site_cycled(emulator, ada, path) -> None:
    client = logged_in(emulator, ada)
    sid = authrocket_session_id(client)
    old_key = client.session.session_key
    assert client.get(path).status_code == 200
    assert client.session.session_key != old_key
    assert AuthRocketLogin.objects.get().session_key == client.session.session_key
    assert signout.end_sessions_for(sid) == 1
    assert not is_logged_in(client)


def test_ending_a_users_sessions_ends_only_theirs(emulator, ada) -> None:
    first, second = logged_in(emulator, ada), logged_in(emulator, ada)
    grace = logged_in(emulator, emulator.create_user("grace@example.com", username="grace"))
    ada_user = get_user_model().objects.get(username="ada")
    assert signout.end_sessions_for_user(ada_user) == 2
    assert not is_logged_in(first) and not is_logged_in(second)
    assert is_logged_in(grace)


def test_logout_removes_the_single_sign_out_row(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    client.post("/logout/")
    assert not AuthRocketLogin.objects.exists()


def test_prune_expired_drops_only_rows_past_their_expiry(emulator, ada) -> None:
    logged_in(emulator, ada)
    logged_in(emulator, ada)
    old = AuthRocketLogin.objects.first()
    old.expires_at = timezone.now() - timedelta(minutes=1)
    old.save()
    assert signout.prune_expired() == 1
    assert AuthRocketLogin.objects.count() == 1


# --- at AuthRocket ------------------------------------------------------------------------------


def test_a_revoked_session_is_over_at_authrocket_and_for_every_api_mode_worker(
    api_mode, emulator, ada
) -> None:
    client = logged_in(emulator, ada)
    sid = authrocket_session_id(client)
    assert signout.revoke_session(sid)
    assert not emulator.end_session(sid)  # not active any more
    emulator.clear_requests()
    recheck_at_next_request(client)
    assert client.get("/private/").status_code == 302
    assert session_calls(emulator) == 0  # the shared answer said "ended": nobody asked


def test_revoking_a_session_that_ended_already_is_fine(emulator, ada) -> None:
    session, _token = emulator.login(ada["id"])
    emulator.end_session(session["id"])
    assert signout.revoke_session(session["id"])


def test_revoking_every_session_of_a_user_counts_them(emulator, ada) -> None:
    sessions = [emulator.login(ada["id"])[0] for _ in range(2)]
    assert signout.revoke_user_sessions(ada["id"]) == 2
    assert not any(emulator.end_session(session["id"]) for session in sessions)

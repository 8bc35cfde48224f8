"""The login record (logins.py): a small entry in the Django session, the identity in its
AuthRocketLogin row, each worker's memory of identities, and a recheck's refresh of them."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from django_authrocket import logins, signout
from django_authrocket.logins import LoginEntry
from django_authrocket.models import AuthRocketLogin
from django_authrocket.testing import (
    authrocket_session_id,
    expire_login,
    recheck_at_next_request,
)
from tests.helpers import is_logged_in, logged_in

pytestmark = pytest.mark.django_db


# --- the entry: a value -------------------------------------------------------------------------


def test_an_entry_goes_into_a_session_store_and_comes_back_the_same() -> None:
    entry = LoginEntry(ref="r1", version="v1", expires_at=2000.0, next_check_at=1500.0)
    store: dict[str, object] = {}
    entry.save(store)
    assert LoginEntry.of(store) == entry
    confirmed = entry.confirmed(1400.0, next_check=1460.0)
    confirmed.save(store)
    assert LoginEntry.of(store) == confirmed


@pytest.mark.parametrize(
    "store",
    [None, {}, {logins.ENTRY_KEY: "not a dict"}, {logins.ENTRY_KEY: {"v": "1", "exp": 1.0}}],
    ids=["no store", "empty", "not a dict", "no ref"],
)
def test_a_session_authrocket_did_not_log_in_has_no_entry(store) -> None:
    assert LoginEntry.of(store) is None


def test_an_entry_is_expired_past_its_expiry_and_the_leeway(settings) -> None:
    settings.AUTHROCKET_JWT_LEEWAY = 30
    entry = LoginEntry(ref="r", version="v", expires_at=1000.0)
    assert not entry.expired(1030.0)
    assert entry.expired(1030.5)
    assert not entry._replace(expires_at=None).expired(10**12)


def test_a_recheck_is_due_at_its_time_and_changes_return_new_entries() -> None:
    entry = LoginEntry(ref="r", version="v", expires_at=None)
    assert entry.check_due(0.0)  # never checked: due at once
    later = entry.postponed(100.0)
    assert later is not entry and entry.next_check_at is None
    assert not later.check_due(99.9) and later.check_due(100.0)
    assert later.checked_at is None  # postponed is not confirmed
    confirmed = later.confirmed(120.0, next_check=180.0)
    assert (confirmed.checked_at, confirmed.next_check_at) == (120.0, 180.0)
    with pytest.raises(AttributeError):
        entry.ref = "other"  # type: ignore[misc]


# --- where the identity lives ------------------------------------------------------------------


def test_the_session_carries_only_a_small_entry_the_identity_is_in_the_login_row(
    emulator, ada
) -> None:
    client = logged_in(emulator, ada)
    # The session's layout is what this test is about: one small entry, nothing else.
    ours = {k: v for k, v in client.session.items() if k.startswith("_authrocket")}
    assert set(ours) == {logins.ENTRY_KEY}
    assert set(ours[logins.ENTRY_KEY]) == {"ref", "v", "exp"}
    row = AuthRocketLogin.objects.get(ref=LoginEntry.of(client.session).ref)
    assert row.session_key == client.session.session_key
    assert row.data["email"] == "ada@example.com" and row.source == "token"


def test_a_warm_request_costs_the_stock_stacks_two_queries(
    emulator, ada, django_assert_num_queries
) -> None:
    client = logged_in(emulator, ada)
    client.get("/private/")
    with django_assert_num_queries(2):  # the session and the user, as without the middleware
        assert client.get("/private/").json()["org"] is not None


def test_a_worker_that_never_saw_the_login_reads_the_row_once(
    emulator, ada, django_assert_num_queries
) -> None:
    client = logged_in(emulator, ada)
    logins.forget_identities()  # as on another worker, or after a restart
    with django_assert_num_queries(3):
        assert client.get("/private/").json()["org"] is not None
    with django_assert_num_queries(2):
        assert client.get("/private/").json()["org"] is not None


@pytest.mark.parametrize(
    "member",
    [{"ref": ["x"]}, {"v": {"a": 1}}, {"exp": 10**400}, {"next": 10**400}, {"ok": 10**400}],
    ids=["ref a list", "version a dict", "huge expiry", "huge next check", "huge check time"],
)
@pytest.mark.parametrize("mode", ["jwt", "api"])
def test_a_session_entry_of_the_wrong_types_is_a_refusal_not_a_500(
    settings, emulator, ada, member, mode
) -> None:
    """An entry this package did not write (another app's, a hand-edited session): the
    request is answered, never with a server error."""
    settings.AUTHROCKET_VERIFY = mode
    client = logged_in(emulator, ada)
    session = client.session
    session[logins.ENTRY_KEY] = {**session[logins.ENTRY_KEY], **member}
    session.save()
    logins.forget_identities()
    response = client.get("/private/")
    assert response.status_code in (200, 302), response.status_code


def test_a_session_whose_login_row_is_gone_is_logged_out(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    AuthRocketLogin.objects.all().delete()  # ended elsewhere, or pruned
    logins.forget_identities()
    response = client.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/private/"
    assert not is_logged_in(client)


def _rename_at_authrocket_and_recheck(client, emulator, person, first_name: str):
    emulator.update_user(person["id"], first_name=first_name)
    recheck_at_next_request(client)
    return client.get("/private/")


def test_a_changed_identity_keeps_its_row_and_reaches_every_worker(api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    before = LoginEntry.of(client.session)
    stale = logins.identity_of(before)
    response = _rename_at_authrocket_and_recheck(client, emulator, ada, "Augusta")
    assert response.json()["first_name"] == "Augusta"
    after = LoginEntry.of(client.session)
    assert after.ref == before.ref  # the same row, rewritten
    assert after.version != before.version
    assert AuthRocketLogin.objects.get().data["user"]["first_name"] == "Augusta"
    # Another worker remembers the old version: the session's new version is not in its memory,
    # so it reads the row. Only the worker memory itself can hold such a stale copy (nothing
    # public writes one), so this plays that worker through it.
    logins.forget_identities()
    logins._KNOWN[before._memo_key] = stale
    assert client.get("/private/").json()["first_name"] == "Augusta"
    # An unchanged answer writes nothing.
    recheck_at_next_request(client)
    assert client.get("/private/").status_code == 200
    assert LoginEntry.of(client.session).version == after.version


def test_a_concurrent_request_that_saves_the_old_entry_does_not_log_the_person_out(
    api_mode, emulator, ada
) -> None:
    client = logged_in(emulator, ada)
    old_entry = LoginEntry.of(client.session)
    assert _rename_at_authrocket_and_recheck(client, emulator, ada, "Augusta").status_code == 200
    # A request that loaded the session before the recheck saves it after: the old entry is back.
    session = client.session
    old_entry.postponed(time.time() + 60).save(session)
    session.save()
    logins.forget_identities()  # a worker that never saw this login
    response = client.get("/private/")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Augusta"  # the row is the truth


def test_a_recheck_that_finds_the_row_gone_ends_the_session(api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    client.get("/private/")
    AuthRocketLogin.objects.all().delete()  # signed out elsewhere while this worker remembers
    response = _rename_at_authrocket_and_recheck(client, emulator, ada, "Augusta")
    assert response.status_code == 302
    assert not is_logged_in(client)


def test_signed_cookie_sessions_keep_the_identity_out_of_the_cookie(settings, emulator) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    emulator.configure(token_orgs="all")  # a token listing all 20 orgs
    person = emulator.create_user("grace@example.com", first_name="Grace", username="grace")
    for n in range(20):  # many orgs: the cookie must not grow with them
        org = emulator.create_org(f"Org {n}")
        emulator.create_membership(person["id"], org["id"], permissions=["ar:admin"])
    client = logged_in(emulator, person)
    assert client.get("/private/").json()["username"] == "grace"
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert len(cookie) < 400
    row = AuthRocketLogin.objects.get()
    assert row.session_key is None and len(row.data["orgs"]) == 20
    # The testing helpers work on cookie sessions too.
    assert authrocket_session_id(client) == row.authrocket_session_id
    # Nothing on the server to end: single sign-out says so rather than counting it.
    assert signout.end_sessions_for(row.authrocket_session_id) == 0
    client.post("/logout/")
    assert not AuthRocketLogin.objects.exists()


def test_expire_login_works_on_signed_cookie_sessions(settings, emulator, ada) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = logged_in(emulator, ada)
    expire_login(client)
    assert client.get("/private/").status_code == 302


def test_a_session_cycled_while_it_was_signed_out_does_not_survive(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    client.get("/private/")  # this worker now remembers the identity
    AuthRocketLogin.objects.all().delete()  # single sign-out ran, finding the old key
    assert client.get("/cycle/").status_code == 200
    assert not is_logged_in(client)


def test_the_worker_memory_of_identities_is_bounded_and_evicted_logins_are_read_again(
    emulator, ada, monkeypatch
) -> None:
    # The bound is internal (no setting names it): this test shrinks it and fills the memory
    # from eight threads at once, so it touches _KNOWN, _KNOWN_MAX and _keep on purpose.
    client = logged_in(emulator, ada)
    entry = LoginEntry.of(client.session)
    identity = logins.identity_of(entry)
    monkeypatch.setattr(logins, "_KNOWN_MAX", 50)
    monkeypatch.setattr(logins, "_KNOWN", {})

    def keep(n: int) -> None:
        for i in range(200):
            logins._keep(f"{n}-{i}", identity)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(keep, range(8)))  # eight threads inserting and evicting at once
    assert len(logins._KNOWN) == 50
    # The evicted login is read from its row again, once.
    assert client.get("/private/").json()["org"] is not None
    assert entry._memo_key in logins._KNOWN


def test_a_second_login_recorded_under_the_same_session_key_rewrites_its_row(emulator, ada) -> None:
    """remember()'s one-statement upsert: a second login recorded under a session key that has
    a row already takes that row over (its ref, session, identity), never a second row."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    from django_authrocket.backends import get_backend

    backend = get_backend()
    first = backend.check_token(emulator.mint_token(ada["id"]))
    user = backend.user_for_login(None, first)
    request = RequestFactory().get("/")
    request.session = SessionStore()
    one = logins.remember(request, first, "t1", user)
    emulator.update_user(ada["id"], first_name="Augusta")
    second = backend.check_token(emulator.mint_token(ada["id"]))
    two = logins.remember(request, second, "t2", user)

    [row] = AuthRocketLogin.objects.filter(session_key=request.session.session_key)
    assert (row.ref, row.authrocket_session_id) == (two.ref, second.id) != (one.ref, first.id)
    assert row.data["given_name"] == "Augusta" and row.user_id == user.pk
    assert row.created_at is not None and row.expires_at == second.expires_at

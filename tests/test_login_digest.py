"""The login digest: an unchanged returning login reads one mirror row, and every other writer of
a person's mirror (sync, webhooks, resync, the admin) makes the next login compare again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import auth
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_authrocket.backends import AuthRocketBackend
from django_authrocket.mirror import login as mirror_login
from django_authrocket.mirror.login import describes
from django_authrocket.models import AuthRocketMembership, AuthRocketOrg, AuthRocketUser
from django_authrocket.resync import resync_users
from django_authrocket.signals import authrocket_login, authrocket_user_synced
from django_authrocket.sync import sync
from tests.helpers import login_with, memberships_of

pytestmark = pytest.mark.django_db

SECRET = "digest-hook-secret"


def mirror_of(user_id: str) -> AuthRocketUser:
    return AuthRocketUser.objects.get(authrocket_id=user_id)


def mirror_digest(stored: str) -> str:
    """The session digest a stored ``login_digest`` names (without its nonce)."""
    return stored.partition(".")[0]


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
    assert mirror_of(ada["id"]).login_digest not in ("", said)

    assert login_with(Client(), same).status_code == 302
    row = mirror_of(ada["id"])
    assert describes(row.login_digest, mirror_digest(said))
    assert row.last_name == before[0]  # the token's, written back
    membership = AuthRocketMembership.objects.select_related("org").get(
        user__authrocket_id=ada["id"]
    )
    assert membership.org.name == "Analytical Engines"
    assert membership.permissions == before[1]["permissions"]


def _log_in_from(settings, emulator, ada, start: str) -> tuple[str, dict[str, Any], Any]:
    """Ada logged in once (her digest stored), then the token of a second login: the same
    session again (``unchanged``) or one saying a new first name (``changed``). Returns it,
    what the mirror held before, and Django's ``authenticate()`` answer for it."""
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    login_with(Client(), emulator.mint_token(ada["id"]))
    if start == "changed":
        emulator.update_user(ada["id"], first_name="Augusta")
    token = emulator.mint_token(ada["id"])
    before = {"last_name": mirror_of(ada["id"]).last_name, **_membership(emulator, ada["id"])}
    request = RequestFactory().get("/login/")
    request.session = SessionStore()
    user = auth.authenticate(request, authrocket_token=token)
    assert user is not None
    return token, before, (request, user)


@pytest.mark.parametrize("start", ["unchanged", "changed"])
@pytest.mark.parametrize("writer", WRITERS)
def test_a_write_during_a_login_is_not_hidden_by_its_digest(
    settings, emulator, ada, writer, start
) -> None:
    """A login reads the mirror row (``authenticate()``), another writer changes the person's
    mirror and commits, then the login finishes (``auth.login()`` stores its digest): the digest
    must not claim that the mirror matches the login's session, so the next login with that
    session compares again and writes what it lists."""
    token, before, (request, user) = _log_in_from(settings, emulator, ada, start)
    digest = user._authrocket_login_digest
    row = mirror_of(ada["id"])
    assert describes(row.login_digest, digest) or start == "changed"  # "unchanged": skipped

    WRITERS[writer](emulator, ada)  # commits between the login's read and its auth.login()
    auth.login(request, user)

    row = mirror_of(ada["id"])
    assert row.last_login_at is not None and row.last_login_at >= row.synced_at
    assert not describes(row.login_digest, digest)  # the writer's change is not covered by it

    assert login_with(Client(), token).status_code == 302  # the same session, later
    row = mirror_of(ada["id"])
    assert describes(row.login_digest, digest)
    assert row.last_name == before["last_name"]  # the token's, written back
    membership = AuthRocketMembership.objects.select_related("org").get(
        user__authrocket_id=ada["id"]
    )
    assert membership.org.name == "Analytical Engines"
    assert membership.permissions == before["permissions"]


def test_a_login_alone_still_stores_its_digest(settings, emulator, ada) -> None:
    """With no other writer between them, the login's read and its auth.login() store the
    digest (changed session) or leave it (unchanged), so the next such login skips."""
    token, _, (request, user) = _log_in_from(settings, emulator, ada, "changed")
    auth.login(request, user)
    assert describes(mirror_of(ada["id"]).login_digest, user._authrocket_login_digest)
    with CaptureQueriesContext(connection) as queries:
        assert login_with(Client(), token).status_code == 302
    assert not [q for q in queries.captured_queries if "authrocketmembership" in q["sql"]]


def _pid() -> int:
    """The server process (PostgreSQL) or connection (MariaDB, MySQL) of this thread's
    connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid()"
            if connection.vendor == "postgresql"
            else "SELECT CONNECTION_ID()"
        )
        return int(cursor.fetchone()[0])


def _wait_until_blocked(pid: int, seconds: float = 30.0) -> None:
    """Until the connection ``pid`` (:func:`_pid`) waits for a lock: PostgreSQL's pg_locks,
    InnoDB's list of transactions (both live, not snapshots)."""
    if connection.vendor == "postgresql":
        sql, pause = "SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", 0.01
    else:
        # InnoDB refreshes this table only when it was last read, by anyone, 0.1 s ago or
        # more: two xdist workers polling it every 0.15 s kept it stale for good. Every 0.25 s,
        # two of them leave a gap of 0.1 s or more in each round (more workers would not).
        sql, pause = (
            "SELECT count(*) FROM information_schema.INNODB_TRX "
            "WHERE trx_mysql_thread_id = %s AND trx_state = 'LOCK WAIT'",
            0.25,
        )
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(sql, [pid])
            if cursor.fetchone()[0]:
                return
            time.sleep(pause)
    raise AssertionError(f"connection {pid} never waited for a lock")


def _tables_written_by(pid: int) -> set[str]:
    """The tables the backend ``pid`` holds a write lock on (ROW EXCLUSIVE: it wrote to them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND l.granted AND l.mode = 'RowExclusiveLock'",
            [pid],
        )
        return {str(name) for (name,) in cursor.fetchall()}


def _row_locks_only() -> None:
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip(
            f"not applicable: {connection.vendor} locks the whole database, not rows (IMMEDIATE "
            "transactions queue the other writer behind the login's: the interleaving above "
            "covers it)"
        )


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            f"not applicable: these checks read PostgreSQL's pg_locks, not {connection.vendor}'s "
            "(on SQLite, IMMEDIATE transactions queue the other writer behind the login's: the "
            "interleaving above covers it)"
        )


def _log_in_while(token: str, work: Callable[[], None], written: set[str] | None = None) -> int:
    """Log in with ``token``; once the login holds its person (``authrocket_login``, inside its
    transaction), ``work`` starts on another connection, and the login goes on only when
    ``work`` waits for a lock (on PostgreSQL, ``written`` then gets the tables ``work`` has
    written to). The login's status code, once ``work`` has finished too."""
    failures: list[BaseException] = []
    pids: list[int] = []

    def other_worker() -> None:
        try:
            pids.append(_pid())
            work()
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()  # this thread's own connection

    worker = threading.Thread(target=other_worker)

    def during_login(sender: object, **kwargs: Any) -> None:
        assert connection.in_atomic_block  # the login's transaction is open
        worker.start()
        while not pids and worker.is_alive():
            time.sleep(0.005)
        _wait_until_blocked(pids[0])  # on a row this login holds
        if written is not None and connection.vendor == "postgresql":
            written.update(_tables_written_by(pids[0]))

    authrocket_login.connect(during_login, dispatch_uid="test-concurrent-writer")
    try:
        status = login_with(Client(), token).status_code
    finally:
        authrocket_login.disconnect(dispatch_uid="test-concurrent-writer")
    worker.join(timeout=30)
    assert not worker.is_alive() and not failures, failures
    return status


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", WRITERS)
def test_a_writer_during_a_login_waits_for_it_and_stays_visible(
    settings, emulator, ada, writer
) -> None:
    """PostgreSQL and MariaDB, two connections: a login holds its person's mirror row from its
    first read (every writer takes that row first, so none waits on the other in a cycle).
    Another worker's writer started during the login waits for it, commits after it, and its
    change stays visible: the next login compares again and writes back what its session
    lists."""
    _row_locks_only()
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    login_with(Client(), emulator.mint_token(ada["id"]))
    said = mirror_of(ada["id"]).login_digest
    token = emulator.mint_token(ada["id"])
    later = emulator.mint_token(ada["id"])  # the same session, for the next login
    before = {"last_name": mirror_of(ada["id"]).last_name, **_membership(emulator, ada["id"])}
    assert _log_in_while(token, lambda: WRITERS[writer](emulator, ada)) == 302
    assert mirror_of(ada["id"]).login_digest not in (said, "")  # the writer's stamp, after

    assert login_with(Client(), later).status_code == 302
    row = mirror_of(ada["id"])
    assert describes(row.login_digest, mirror_digest(said)) and row.last_name == before["last_name"]
    membership = AuthRocketMembership.objects.select_related("org").get(
        user__authrocket_id=ada["id"]
    )
    assert membership.permissions == before["permissions"]
    assert membership.org.name == "Analytical Engines"


def _local_user(ada: dict[str, Any]) -> Any:
    return mirror_of(ada["id"]).user


def _webhook_deletes_user(emulator: Any, ada: dict[str, Any]) -> None:
    emulator.delete_user(ada["id"])
    deliver(emulator, "user.deleted")


def _resync_finds_user_gone(emulator: Any, ada: dict[str, Any]) -> None:
    emulator.delete_user(ada["id"])
    resync_users([ada["id"]])


def _sync_deactivates_missing_user(emulator: Any, ada: dict[str, Any]) -> None:
    emulator.create_user("grace@example.com", first_name="Grace")  # the listing is not empty
    emulator.delete_user(ada["id"])
    sync(["users"], deactivate_missing=True)


def _edit_local_email(ada: dict[str, Any]) -> None:
    auth.get_user_model()._default_manager.filter(pk=_local_user(ada).pk).update(email="old@x.test")


def _sync_restores_local_email(emulator: Any, ada: dict[str, Any]) -> None:
    _edit_local_email(ada)  # the mirror row stays as it was: only the local user follows
    sync(deactivate_missing=True)  # and the listing stamps the rows it saw


def _resync_restores_local_email_and_membership(emulator: Any, ada: dict[str, Any]) -> None:
    _edit_local_email(ada)
    emulator.update_membership(_membership(emulator, ada["id"])["id"], permissions=["x:y"])
    resync_users([ada["id"]])


LOCAL_USER_WRITERS: dict[str, tuple[Callable[[Any, dict[str, Any]], None], dict[str, Any]]] = {
    "webhook deletes the user": (_webhook_deletes_user, {"is_active": False}),
    "resync finds the user gone": (_resync_finds_user_gone, {"is_active": False}),
    "sync deactivates the missing user": (_sync_deactivates_missing_user, {"is_active": False}),
    "sync restores the local email": (_sync_restores_local_email, {"email": "ada@example.com"}),
    "resync restores the local email and changes a membership": (
        _resync_restores_local_email_and_membership,
        {"email": "ada@example.com"},
    ),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", LOCAL_USER_WRITERS)
def test_a_local_user_writer_during_a_login_waits_for_it(settings, emulator, ada, writer) -> None:
    """PostgreSQL and MariaDB, two connections: a login holds its person's mirror row from its
    first read and writes their local user (``last_login``) last. Another worker's writer of
    that local user (a deactivation, a sync or resync bringing it back in step) takes the
    mirror row first too, so it waits for the login instead of holding the local user while
    the login waits for it in turn (a deadlock: one of the two would fail)."""
    _row_locks_only()
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    login_with(Client(), emulator.mint_token(ada["id"]))
    token = emulator.mint_token(ada["id"])
    sync()  # the mirror as AuthRocket has it: a writer's own sync finds Ada's row unchanged
    write, expected = LOCAL_USER_WRITERS[writer]

    assert _log_in_while(token, lambda: write(emulator, ada)) == 302

    user = _local_user(ada)
    assert {name: getattr(user, name) for name in expected} == expected
    assert user.last_login is not None


def _tables_written_while_held(
    ada: dict[str, Any], work: Callable[..., None], *, later: bool = False
) -> set[str]:
    """Another transaction holds Ada's mirror row (as every writer of her rows takes it first)
    while ``work`` runs on a connection of its own: the tables ``work`` has written to by the
    time it waits for that row. Then the row is let go and ``work`` finishes. ``later``: the
    row is taken when ``work`` calls the function it is given (which returns once it is held),
    not before ``work`` starts."""
    holder_ready, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    pids: list[int] = []

    def holder() -> None:
        try:
            with transaction.atomic():
                AuthRocketUser.objects.filter(authrocket_id=ada["id"]).update(login_digest="~x")
                holder_ready.set()
                release.wait(30)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            holder_ready.set()
            connection.close()  # this thread's own connection

    first = threading.Thread(target=holder)

    def take() -> None:
        if first.ident is None:  # once
            first.start()
        holder_ready.wait(30)

    def worker() -> None:
        try:
            pids.append(_pid())
            work(take) if later else work()
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    if not later:
        take()
    second = threading.Thread(target=worker)
    second.start()
    try:
        while not pids and second.is_alive():
            time.sleep(0.005)
        _wait_until_blocked(pids[0])
        written = _tables_written_by(pids[0])
    finally:
        release.set()
        if first.ident is not None:  # started
            first.join(30)
        second.join(30)
    assert not failures, failures
    return written


PERSON_TABLES = {AuthRocketMembership._meta.db_table, AuthRocketOrg._meta.db_table}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["permissions", "org name"])
def test_a_login_writes_nothing_before_it_holds_its_person(settings, emulator, ada, change) -> None:
    """PostgreSQL, the lock order that keeps a login and a webhook's resync of the same person
    out of a deadlock: another transaction holds Ada's mirror row (as a resync writing her does
    first); a login whose token changes her memberships or an org waits for that row before it
    writes anything, so it holds no membership or org row the other one may want next."""
    _postgresql_only()
    login_with(Client(), emulator.mint_token(ada["id"]))
    membership = _membership(emulator, ada["id"])
    if change == "permissions":
        emulator.update_membership(membership["id"], permissions=["billing:read"])
    else:
        emulator.update_org(membership["org_id"], name="Difference Engines")
    token = emulator.mint_token(ada["id"])
    responses: list[int] = []

    written = _tables_written_while_held(
        ada, lambda: responses.append(login_with(Client(), token).status_code)
    )

    assert not PERSON_TABLES & written
    assert responses == [302]
    row = AuthRocketMembership.objects.select_related("org").get(user__authrocket_id=ada["id"])
    expected = (["billing:read"], "Analytical Engines")
    if change == "org name":
        expected = (membership["permissions"], "Difference Engines")
    assert (row.permissions, row.org.name) == expected


def _webhook_adds_membership_of_new_org(emulator: Any, ada: dict[str, Any]) -> None:
    looms = emulator.create_org("Looms")
    emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    deliver(emulator, "membership.created")  # its org is fetched and inserted too
    assert AuthRocketOrg.objects.filter(name="Looms").exists()


def _admin_deletes_local_user(emulator: Any, ada: dict[str, Any]) -> None:
    mirror_of(ada["id"]).user.delete()  # as Django's UserAdmin deletes one
    assert not AuthRocketMembership.objects.exists()


MORE_WRITERS = {
    "webhook adds a membership of a new org": _webhook_adds_membership_of_new_org,
    "the local user is deleted": _admin_deletes_local_user,
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", [*WRITERS, *MORE_WRITERS])
def test_every_writer_holds_the_person_before_their_memberships_and_orgs(
    settings, emulator, ada, writer
) -> None:
    """PostgreSQL, the same lock order from the other side: while another transaction holds
    Ada's mirror row (as a login does from its first read), a writer of her memberships or
    orgs waits for that row before writing either, so it holds nothing the login wants next
    (a new org too: a login whose session names it would wait for it)."""
    _postgresql_only()
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    login_with(Client(), emulator.mint_token(ada["id"]))
    write = {**WRITERS, **MORE_WRITERS}[writer]

    written = _tables_written_while_held(ada, lambda: write(emulator, ada))

    assert not PERSON_TABLES & written


@pytest.mark.django_db(transaction=True)
def test_a_listing_holds_the_people_of_the_memberships_it_stamps_as_seen(
    settings, emulator, ada
) -> None:
    """PostgreSQL: a sync with ``deactivate_missing`` stamps each membership it lists as seen,
    and in the same page's transaction removes the unlisted memberships of the orgs it
    finished, after taking their people. While another transaction holds Ada's row (as a
    login does), the memberships page waits for it before it stamps any membership, so it holds
    none of hers while it waits for her row (a login switching her selected org writes them)."""
    _postgresql_only()
    login_with(Client(), emulator.mint_token(ada["id"]))
    sync()  # the mirror as AuthRocket has it: the next listing finds her membership unchanged

    def listing(take: Callable[[], None]) -> None:
        def after_page(page: Any) -> None:
            if page.resource == "orgs":  # the memberships come next: her row is held now
                take()

        sync(deactivate_missing=True, on_page=after_page)

    written = _tables_written_while_held(ada, listing, later=True)

    assert AuthRocketMembership._meta.db_table not in written
    assert AuthRocketMembership.objects.filter(user__authrocket_id=ada["id"]).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", ["user.created webhook", "sync"])
def test_a_writer_during_a_first_login_leaves_one_local_user(settings, emulator, writer) -> None:
    """PostgreSQL and MariaDB: a person's first login and another writer of the same new person
    at once (AuthRocket sends ``user.created`` as the person signs up, while LoginRocket sends
    them back with a token; or a sync lists them). The login has inserted their rows and not
    committed: the writer writes the person's local user and mirror row before any org or
    membership, so it waits there and holds nothing the login wants next; once the login
    commits, the writer keeps the login's local user, deletes the one it made meanwhile under
    another username, and reports the person's row as updated, not created."""
    _row_locks_only()
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    grace = emulator.create_user("grace@example.com", first_name="Grace", username="grace")
    looms = emulator.create_org("Looms")
    emulator.create_membership(grace["id"], looms["id"], permissions=["looms:read"], selected=True)
    written: set[str] = set()
    announced: list[tuple[str, bool]] = []
    reports: list[Any] = []

    def synced(sender: object, authrocket_user: Any, created: bool, **kwargs: Any) -> None:
        if (
            threading.current_thread() is not threading.main_thread()
        ):  # the writer's, not the login's
            announced.append((authrocket_user.authrocket_id, created))

    def write() -> None:
        if writer == "sync":
            reports.append(sync(["users"]))
        else:
            deliver(emulator, "user.created")

    authrocket_user_synced.connect(synced, dispatch_uid="test-first-login-race")
    try:
        status = _log_in_while(emulator.mint_token(grace["id"]), write, written)
    finally:
        authrocket_user_synced.disconnect(dispatch_uid="test-first-login-race")

    assert status == 302
    assert not PERSON_TABLES & written
    row = AuthRocketUser.objects.select_related("user").get(authrocket_id=grace["id"])
    users = auth.get_user_model().objects.all()
    assert [user.username for user in users] == ["grace"] and row.user == users[0]
    assert AuthRocketMembership.objects.get(user=row).org.name == "Looms"
    # The writer created nothing: where it made a local user, the row it wrote over is
    # announced and counted as updated; where it waited for the login (on MariaDB a resync's
    # locked read meets the login's insert), it found the row as the login left it.
    assert (grace["id"], True) not in announced
    if connection.vendor == "postgresql" or writer == "sync":
        assert announced == [(grace["id"], False)]
    if reports:
        counts = reports[0].counts["users"]
        assert counts.created == 0 and counts.seen == 1


class RacedBackend(AuthRocketBackend):
    """A first login that another worker's first login of the same person beats while this
    one picks a username: by the time it inserts, the person's rows are committed (its insert
    then fails and it takes theirs), and a third transaction holds their mirror row."""

    hold: threading.Event
    held: threading.Event

    def get_username(self, session: Any) -> str:
        name = super().get_username(session)

        def other_worker() -> None:
            try:
                with transaction.atomic():
                    user = AuthRocketBackend().create_user(session, username=name)
                    mirror_login.create_user_row(user, session, now=timezone.now())
            finally:
                connection.close()

        def holder() -> None:
            try:
                with transaction.atomic():
                    rows = AuthRocketUser.objects.filter(authrocket_id=session.user.id)
                    rows.update(login_digest="~held")
                    type(self).held.set()
                    type(self).hold.wait(30)
            finally:
                type(self).held.set()
                connection.close()

        first = threading.Thread(target=other_worker)
        first.start()
        first.join(30)
        threading.Thread(target=holder).start()
        type(self).held.wait(30)
        return name


@pytest.mark.django_db(transaction=True)
def test_a_first_login_that_lost_the_race_holds_the_person_before_its_user(
    settings, emulator, ada
) -> None:
    """PostgreSQL: a first login whose insert meets the rows a concurrent first login of the
    same person committed reads those rows locked, as every login does, before it writes the
    local user (its last_login): otherwise it would hold the user and wait for the mirror row
    while a later login holding the mirror row waits for the user (CI's twenty parallel first
    logins, tests/test_multiprocess.py, met that deadlock as a 500)."""
    _postgresql_only()
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.RacedBackend"]
    RacedBackend.hold, RacedBackend.held = threading.Event(), threading.Event()
    token = emulator.mint_token(ada["id"])
    pids: list[int] = []
    responses: list[int] = []
    failures: list[BaseException] = []

    def log_in() -> None:
        try:
            pids.append(_pid())
            responses.append(login_with(Client(), token).status_code)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    login = threading.Thread(target=log_in)
    login.start()
    try:
        RacedBackend.held.wait(30)
        while not pids and login.is_alive():
            time.sleep(0.005)
        _wait_until_blocked(pids[0])  # on the mirror row the holder has
        user_pk = AuthRocketUser.objects.get(authrocket_id=ada["id"]).user_id
        with transaction.atomic(), connection.cursor() as cursor:
            # The login has not touched the local user: it can be locked without waiting.
            cursor.execute("SELECT id FROM auth_user WHERE id = %s FOR UPDATE NOWAIT", [user_pk])
    finally:
        RacedBackend.hold.set()
        login.join(30)
    assert not failures, failures
    assert responses == [302]
    assert AuthRocketUser.objects.filter(authrocket_id=ada["id"]).count() == 1


def test_a_digest_stored_again_by_another_login_does_not_let_a_stale_one_in(
    settings, emulator, ada
) -> None:
    """Login 1 (a token listing both orgs) reads the digest a login listing one org stored, and
    finds nothing to write; a webhook removes the second membership; login 2 (one org) stores
    its digest again; login 1 finishes. The value login 1 read came back, but not the same store
    (each carries a nonce), so login 1's digest is not stored over the removal, and the next
    login with its session compares and adds the membership it lists back."""
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    engines = _membership(emulator, ada["id"])["org_id"]
    looms = emulator.create_org("Looms")
    loom = emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    emulator.configure(token_orgs="all")
    token_both = emulator.mint_token(ada["id"], org_id=engines)
    login_with(Client(), emulator.mint_token(ada["id"], org_id=engines))  # both in the mirror
    emulator.configure(token_orgs="selected")
    login_with(Client(), emulator.mint_token(ada["id"], org_id=engines))  # one org's digest
    stored = mirror_of(ada["id"]).login_digest

    request = RequestFactory().get("/login/")
    request.session = SessionStore()
    user = auth.authenticate(request, authrocket_token=token_both)  # login 1 reads
    assert user is not None
    assert mirror_of(ada["id"]).login_digest == stored  # compared, nothing to write

    emulator.delete_membership(loom["id"])
    deliver(emulator, "membership.deleted")  # stamps the row
    login_with(Client(), emulator.mint_token(ada["id"], org_id=engines))  # stores it again
    auth.login(request, user)  # login 1 finishes

    assert not describes(mirror_of(ada["id"]).login_digest, user._authrocket_login_digest)
    assert login_with(Client(), token_both).status_code == 302  # login 1's session, compared
    assert AuthRocketMembership.objects.filter(org__authrocket_id=looms["id"]).exists()

"""The sync engine (listing, pages, checkpoints, pruning) and ``manage.py authrocket_sync``: the
emulator, real HTTP, a real database. How objects map onto rows: test_mirror.py."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models.signals import post_save
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_authrocket.models import (
    AuthRocketMembership,
    AuthRocketOrg,
    AuthRocketSyncCheckpoint,
    AuthRocketUser,
)
from django_authrocket.resync import resync_orgs, resync_users
from django_authrocket.sync import SyncAborted, sync

REPO_ROOT = Path(__file__).resolve().parents[1]
User = get_user_model()

pytestmark = pytest.mark.django_db


def make_users(emulator, count: int, **fields) -> list[dict]:
    return [emulator.create_user(f"person{i}@example.com", **fields) for i in range(count)]


def mirrored_ids() -> set[str]:
    return set(AuthRocketUser.objects.values_list("authrocket_id", flat=True))


def upstream_ids(emulator) -> set[str]:
    return {user.id for user in emulator._store.users}


@pytest.fixture
def fast_retries(settings):
    settings.AUTHROCKET_HTTP_RETRIES = 1
    return settings


# --- a full run -------------------------------------------------------------------------------


def test_a_first_run_mirrors_every_user_org_and_membership(emulator) -> None:
    users = make_users(emulator, 2500, first_name="Ada", last_name="Byron")
    engines = emulator.create_org("Analytical Engines", reference="ae-1")
    for user in users[:300]:
        emulator.create_membership(user["id"], engines["id"], permissions=["ar:admin"])

    report = sync()

    assert mirrored_ids() == {user["id"] for user in users}
    assert report.counts["users"].created == 2500
    assert report.counts["orgs"].created == 1
    assert report.counts["memberships"].created == 300
    assert User.objects.count() == 2500
    row = AuthRocketUser.objects.select_related("user").get(authrocket_id=users[7]["id"])
    assert row.email == "person7@example.com" and row.state == "active"
    assert row.created_at is not None
    assert (row.user.first_name, row.user.last_name, row.user.email) == (
        "Ada",
        "Byron",
        "person7@example.com",
    )
    assert not row.user.has_usable_password()
    assert AuthRocketOrg.objects.get().reference == "ae-1"
    assert AuthRocketMembership.objects.filter(permissions=["ar:admin"]).count() == 300


def test_a_second_run_creates_and_updates_nothing(emulator) -> None:
    make_users(emulator, 1200)
    sync()

    report = sync()

    users = report.counts["users"]
    assert (users.created, users.updated, users.unchanged) == (0, 0, 1200)


def test_an_unchanged_page_writes_nothing_to_the_mirror(emulator) -> None:
    make_users(emulator, 120)
    sync(["users"], batch_size=50)

    with CaptureQueriesContext(connection) as queries:
        sync(["users"], batch_size=50)

    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "authrocketsynccheckpoint" not in q["sql"]
    ]
    assert writes == []


def test_the_number_of_queries_per_page_does_not_depend_on_the_rows(
    emulator, django_assert_max_num_queries
) -> None:
    def fresh_realm(pages: int) -> None:
        emulator.reset()
        User.objects.all().delete()
        AuthRocketSyncCheckpoint.objects.all().delete()
        make_users(emulator, pages * 50, username="same")  # usernames collide: the worst case

    def queries_for(pages: int) -> int:
        fresh_realm(pages)
        with CaptureQueriesContext(connection) as queries:
            sync(["users"], batch_size=50)
        return len(queries.captured_queries)

    two, three = queries_for(2), queries_for(3)
    per_page = three - two
    # With the savepoint around the page's new local users, and on MariaDB the read of the
    # new mirror rows' owners (a first login's race), which PostgreSQL's upsert returns.
    assert per_page <= (10 if connection.vendor in ("sqlite", "postgresql") else 11)

    fresh_realm(4)
    with django_assert_max_num_queries(two + 2 * per_page):
        sync(["users"], batch_size=50)
    assert AuthRocketUser.objects.count() == 200


def test_a_dry_run_reports_and_writes_nothing(emulator) -> None:
    make_users(emulator, 30)

    report = sync(dry_run=True)

    assert report.counts["users"].created == 30
    assert AuthRocketUser.objects.count() == 0 and User.objects.count() == 0
    assert not AuthRocketSyncCheckpoint.objects.exists()


# --- deactivating missing users ---------------------------------------------------------------


def test_deactivate_missing_deactivates_exactly_the_users_removed_upstream(emulator) -> None:
    users = make_users(emulator, 40)
    sync(batch_size=7)
    removed = {users[3]["id"], users[17]["id"], users[39]["id"]}
    for user_id in removed:
        emulator.delete_user(user_id)

    report = sync(batch_size=7, deactivate_missing=True)

    assert report.deactivated == 3
    inactive = set(
        User.objects.filter(is_active=False).values_list("authrocket__authrocket_id", flat=True)
    )
    assert inactive == removed
    assert User.objects.count() == 40  # never deleted


def test_without_the_option_nobody_is_deactivated(emulator) -> None:
    users = make_users(emulator, 5)
    sync()
    emulator.delete_user(users[0]["id"])

    report = sync()

    assert report.deactivated == 0 and not User.objects.filter(is_active=False).exists()


def test_a_dry_run_counts_the_users_it_would_deactivate(emulator) -> None:
    users = make_users(emulator, 5)
    sync()
    emulator.delete_user(users[0]["id"])

    report = sync(dry_run=True, deactivate_missing=True)

    assert report.deactivated == 1
    assert not User.objects.filter(is_active=False).exists()


def test_deactivate_missing_needs_the_users_listing(emulator) -> None:
    with pytest.raises(ValueError, match="users"):
        sync(["orgs"], deactivate_missing=True)


# --- custom attributes: expand=custom -----------------------------------------------------------


@pytest.mark.parametrize("custom_on_get", ["expand", "always"])
def test_custom_attributes_survive_every_sync_and_resync(emulator, custom_on_get) -> None:
    """AuthRocket's lists leave ``custom`` out unless ``expand=custom`` (docs/api/orgs: "expand:
    custom -- Include custom in the response"; the users list documents the same); whether a
    single read includes it is not documented: a realm option, both variants here."""
    emulator.configure(custom_on_get=custom_on_get)
    user = emulator.create_user("ada@example.com", custom={"team": "navy"})
    org = emulator.create_org("Engines", custom={"plan": "enterprise", "seats": 50})
    emulator.create_membership(user["id"], org["id"])

    sync()
    again = sync()
    resync_users([user["id"]])
    resync_orgs([org["id"]])

    assert AuthRocketOrg.objects.get().custom == {"plan": "enterprise", "seats": 50}
    assert AuthRocketUser.objects.get().custom == {"team": "navy"}
    assert (again.counts["users"].unchanged, again.counts["orgs"].unchanged) == (1, 1)
    reads = [r for r in emulator.requests if r.path.startswith(("/api/v2/users", "/api/v2/orgs"))]
    assert reads and all(r.query.get("expand") == ["custom"] for r in reads)


# --- memberships: listed org by org ---------------------------------------------------------------


def member_of(emulator, orgs: int, per_org: int) -> list[dict]:
    """``orgs`` orgs of ``per_org`` members each (users created too); the memberships."""
    memberships = []
    for i in range(orgs):
        org = emulator.create_org(f"Org {i}")
        for j in range(per_org):
            user = emulator.create_user(f"o{i}m{j}@example.com")
            memberships.append(emulator.create_membership(user["id"], org["id"]))
    return memberships


@pytest.mark.parametrize("unfiltered", ["error", "empty"])
def test_memberships_are_listed_org_by_org_never_unfiltered(emulator, unfiltered) -> None:
    """AuthRocket documents ``GET /memberships`` only "for a user or an org"
    (docs/api/memberships); unfiltered, the emulator answers 422 or an empty list."""
    emulator.configure(unfiltered_memberships=unfiltered)
    memberships = member_of(emulator, orgs=3, per_org=4)

    batches = []
    report = sync(batch_size=5, on_page=batches.append)

    assert report.counts["memberships"].created == 12 and report.warnings == []
    sizes = [b.counts.seen for b in batches if b.resource == "memberships"]
    assert sizes == [4, 4, 4]  # one org's page does not fit beside another's in 5
    assert set(AuthRocketMembership.objects.values_list("authrocket_id", flat=True)) == {
        m["id"] for m in memberships
    }
    listings = [r for r in emulator.requests if r.path == "/api/v2/memberships"]
    assert len(listings) == 3 and all(len(r.query["org_id"]) == 1 for r in listings)
    again = sync(batch_size=5, deactivate_missing=True)
    assert again.counts["memberships"].unchanged == 12 and again.warnings == []


def test_deactivate_missing_removes_exactly_the_memberships_removed_upstream(emulator) -> None:
    memberships = member_of(emulator, orgs=4, per_org=3)
    sync(batch_size=4)
    gone = {memberships[1]["id"], memberships[9]["id"]}
    for membership_id in gone:
        emulator.delete_membership(membership_id)

    dry = sync(batch_size=4, deactivate_missing=True, dry_run=True)
    report = sync(batch_size=4, deactivate_missing=True)

    assert dry.counts["memberships"].removed == 2 and AuthRocketMembership.objects.count() == 10
    assert report.counts["memberships"].removed == 2 and report.warnings == []
    left = set(AuthRocketMembership.objects.values_list("authrocket_id", flat=True))
    assert left == {m["id"] for m in memberships} - gone


def empty_answer(emulator, path: str):
    """Every listing at ``path`` answers an empty collection from now on."""
    return emulator.inject_fault(
        path, kind="body", status=200, body=b'{"collection": [], "more_results": false}', times=None
    )


def test_an_empty_memberships_answer_removes_nothing_and_says_so(emulator) -> None:
    member_of(emulator, orgs=2, per_org=3)
    sync()
    empty_answer(emulator, "/api/v2/memberships")

    report = sync(deactivate_missing=True)
    output = run_command("--deactivate-missing")

    assert AuthRocketMembership.objects.count() == 6 and report.counts["memberships"].removed == 0
    [warning] = report.warnings
    assert warning.startswith("memberships: kept every local membership of 2 org(s), as ")
    assert "AuthRocket listed none of the memberships the mirror holds" in warning
    assert f"WARNING: {warning}" in output.splitlines()


def test_the_unfiltered_empty_variant_never_empties_the_mirror(emulator) -> None:
    """The old sync listed memberships unfiltered: against an API that answers that with an
    empty list, ``--deactivate-missing`` removed every membership."""
    emulator.unfiltered_memberships = "empty"
    member_of(emulator, orgs=2, per_org=2)
    sync()

    sync(deactivate_missing=True)

    assert AuthRocketMembership.objects.count() == 4


def test_an_empty_users_answer_deactivates_nobody_and_says_so(emulator) -> None:
    make_users(emulator, 3)
    sync()
    empty_answer(emulator, "/api/v2/users")

    report = sync(deactivate_missing=True)

    assert report.deactivated == 0 and not User.objects.filter(is_active=False).exists()
    assert report.warnings == [
        "users: AuthRocket listed no users while the mirror holds 3: nobody was deactivated "
        "(check AUTHROCKET_URL, the API key and AUTHROCKET_REALM)"
    ]


def test_objects_with_ids_the_mirror_cannot_key_are_skipped_and_said(emulator) -> None:
    """An id with a NUL (which PostgreSQL's text cannot store) or longer than the id columns,
    the page's last one among them: the other objects are written, the run completes, the
    odd ones are named in a warning, and nobody is deactivated on such an answer."""
    from django_authrocket.client import EXPAND_CUSTOM, AuthRocketClient

    [ada, grace] = make_users(emulator, 2)
    sync()
    listed = {
        u["id"]: u for u in AuthRocketClient.from_settings().paginate("/users", EXPAND_CUSTOM)
    }
    good = listed[ada["id"]]
    long_id = "usr_" + "x" * 70
    collection = [good, {**good, "id": "usr_\x00nul"}, {**good, "id": long_id}]
    body = json.dumps({"collection": collection, "more_results": False}).encode()
    emulator.inject_fault("/api/v2/users", kind="body", status=200, body=body, times=None)

    report = sync(deactivate_missing=True)

    assert mirrored_ids() == {ada["id"], grace["id"]}
    assert report.counts["users"].unchanged == 1 and report.deactivated == 0
    assert report.warnings[0].startswith("users: 2 object(s) in AuthRocket's answer were not")
    assert report.warnings[1] == "users: nobody was deactivated, as the listing was unexpected"
    checkpoint = AuthRocketSyncCheckpoint.objects.get(resource="users")
    assert checkpoint.completed_at is not None and checkpoint.last_id == ""


def test_another_orgs_memberships_in_an_answer_are_not_written_and_remove_nothing(
    emulator,
) -> None:
    memberships = member_of(emulator, orgs=2, per_org=2)
    sync()
    stranger = {**memberships[0], "id": "mb_stranger", "org_id": "org_elsewhere"}
    body = json.dumps({"collection": [stranger], "more_results": False}).encode()
    emulator.inject_fault("/api/v2/memberships", kind="body", status=200, body=body, times=None)

    report = sync(deactivate_missing=True)

    assert AuthRocketMembership.objects.count() == 4
    assert not AuthRocketMembership.objects.filter(authrocket_id="mb_stranger").exists()
    assert report.warnings[0].startswith("memberships: 2 object(s) in AuthRocket's answer were")
    assert "mb_stranger of org org_elsewhere" in report.warnings[0]
    assert "as their listings held objects that are not their memberships" in report.warnings[1]


def test_an_org_answering_404_is_skipped_and_its_memberships_kept(emulator) -> None:
    member_of(emulator, orgs=2, per_org=2)
    sync()
    first = AuthRocketOrg.objects.order_by("authrocket_id").first()
    assert first is not None
    emulator.inject_fault("/api/v2/memberships", status=404, times=1)

    report = sync(deactivate_missing=True)

    assert AuthRocketMembership.objects.count() == 4
    assert report.warnings == [
        "memberships: kept every local membership of 1 org(s), as AuthRocket answered 404 for "
        f"their memberships: {first.authrocket_id}"
    ]


def test_a_memberships_listing_resumes_after_the_last_complete_org(fast_retries, emulator) -> None:
    memberships = member_of(emulator, orgs=4, per_org=3)
    sync(["users", "orgs"])
    orgs = list(
        AuthRocketOrg.objects.order_by("authrocket_id").values_list("authrocket_id", flat=True)
    )

    def fail_from_now_on(page):
        if page.resource == "memberships" and page.number == 1:
            emulator.inject_fault("/api/v2/memberships", status=503, times=None)

    with pytest.raises(SyncAborted) as aborted:
        sync(["memberships"], batch_size=4, on_page=fail_from_now_on)
    emulator.clear_faults()
    emulator.clear_requests()
    checkpoint = AuthRocketSyncCheckpoint.objects.get(resource="memberships")

    report = sync(["memberships"], batch_size=4)

    assert aborted.value.resource == "memberships" and aborted.value.after == orgs[0]
    assert "failed at org " + orgs[2] in str(aborted.value)  # org 2 read, not yet written
    assert checkpoint.last_id == orgs[0] and AuthRocketMembership.objects.count() == 12
    assert report.resumed_after == {"memberships": orgs[0]}
    listed = [r.query["org_id"][0] for r in emulator.requests if r.path == "/api/v2/memberships"]
    assert listed == orgs[1:]
    assert {m["id"] for m in memberships} == set(
        AuthRocketMembership.objects.values_list("authrocket_id", flat=True)
    )


def test_a_resync_lists_the_users_memberships_and_trusts_only_their_own(emulator, ada) -> None:
    """The webhook endpoint and the admin's resync list one user's memberships (``user_id``,
    documented); another user's membership in that answer is neither written nor a reason to
    remove the user's own."""
    sync()
    emulator.clear_requests()
    assert resync_users([ada["id"]])["memberships"].unchanged == 1
    [listing] = [r for r in emulator.requests if r.path == "/api/v2/memberships"]
    assert listing.query["user_id"] == [ada["id"]]

    stranger = {"object": "membership", "id": "mb_x", "org_id": "org_x", "user_id": "usr_x"}
    body = json.dumps({"collection": [stranger], "more_results": False}).encode()
    emulator.inject_fault("/api/v2/memberships", kind="body", status=200, body=body)
    resync_users([ada["id"]])

    assert list(AuthRocketMembership.objects.values_list("user__authrocket_id", flat=True)) == [
        ada["id"]
    ]


# --- logins between runs ------------------------------------------------------------------------


def test_logins_between_runs_add_what_their_tokens_say_and_only_the_sync_removes(
    emulator, token_orgs
) -> None:
    """Under each token shape (``token_orgs``): LoginRocket's selected org only, every org, or
    none. A login adds and updates; the next run with ``deactivate_missing`` removes."""
    from tests.helpers import login_with

    ada = emulator.create_user("ada@example.com", username="ada")
    orgs = [emulator.create_org(name) for name in ("Engines", "Looms", "Mills")]
    first, second, third = (
        emulator.create_membership(ada["id"], org["id"], permissions=["ar:admin"]) for org in orgs
    )
    bob = emulator.create_user("bob@example.com")  # no org's listing ever comes back empty
    bobs = {emulator.create_membership(bob["id"], org["id"])["id"] for org in orgs}
    sync(deactivate_missing=True)
    emulator.delete_membership(second["id"])
    emulator.update_membership(first["id"], permissions=["billing:*"])

    token = emulator.mint_token(ada["id"], org_id=orgs[0]["id"])
    assert login_with(Client(), token).status_code == 302

    adas = AuthRocketMembership.objects.filter(user__authrocket_id=ada["id"])
    mirrored = dict(adas.values_list("authrocket_id", "permissions"))
    assert set(mirrored) == {first["id"], second["id"], third["id"]}  # nothing removed
    # The selected org is in every token with org data, its new permission with it.
    assert mirrored[first["id"]] == (["ar:admin"] if token_orgs == "none" else ["billing:*"])

    report = sync(deactivate_missing=True)

    assert report.counts["memberships"].removed == 1 and report.warnings == []
    assert dict(adas.values_list("authrocket_id", "permissions")) == {
        first["id"]: ["billing:*"],
        third["id"]: ["ar:admin"],
    }
    assert (
        set(
            AuthRocketMembership.objects.exclude(user__authrocket_id=ada["id"]).values_list(
                "authrocket_id", flat=True
            )
        )
        == bobs
    )


# --- failures and resuming ----------------------------------------------------------------------


def abort_after_first_page(emulator, **options):
    """Run a sync whose users listing fails for good after its first page (whenever the
    sync fetches the second: it asks for it while writing the first)."""
    emulator.inject_fault("/api/v2/users", status=503, times=None, skip=1)
    with pytest.raises(SyncAborted) as aborted:
        sync(**options)
    emulator.clear_faults()
    return aborted.value


def test_persistent_503s_stop_the_run_with_the_checkpoint_intact(fast_retries, emulator) -> None:
    users = make_users(emulator, 25)
    sync()
    emulator.delete_user(users[-1]["id"])

    error = abort_after_first_page(emulator, batch_size=10, deactivate_missing=True)

    assert "checkpoint is kept" in str(error) and error.resource == "users"
    checkpoint = AuthRocketSyncCheckpoint.objects.get(resource="users")
    assert checkpoint.last_id == users[9]["id"] and checkpoint.completed_at is None
    assert not User.objects.filter(is_active=False).exists()


def test_a_rerun_resumes_after_the_checkpoint(fast_retries, emulator) -> None:
    users = make_users(emulator, 25)
    abort_after_first_page(emulator, batch_size=10)
    assert AuthRocketUser.objects.count() == 10
    emulator.clear_requests()

    report = sync(batch_size=10)

    assert report.resumed_after == {"users": users[9]["id"]}
    first_listing = next(r for r in emulator.requests if r.path == "/api/v2/users")
    assert first_listing.query["after"] == [users[9]["id"]]
    assert report.counts["users"].created == 15
    assert mirrored_ids() == {user["id"] for user in users}
    checkpoint = AuthRocketSyncCheckpoint.objects.get(resource="users")
    assert checkpoint.last_id == "" and checkpoint.completed_at is not None


def test_deactivate_missing_after_a_resumed_run_still_sees_the_first_pages(
    fast_retries, emulator
) -> None:
    users = make_users(emulator, 25)
    sync(batch_size=10)
    emulator.delete_user(users[20]["id"])
    abort_after_first_page(emulator, batch_size=10, deactivate_missing=True)

    report = sync(batch_size=10, deactivate_missing=True)

    assert report.resumed_after == {"users": users[9]["id"]}
    inactive = User.objects.filter(is_active=False)
    assert list(inactive.values_list("authrocket__authrocket_id", flat=True)) == [users[20]["id"]]


def test_an_empty_answer_to_a_resumed_listing_deactivates_nobody_and_says_so(
    fast_retries, emulator
) -> None:
    """A run with --deactivate-missing stopped after its first page; before the rerun, the
    realm or key changed (or AuthRocket answers wrongly): the rest of the listing is empty.
    The 15 people the first run did not reach are not deactivated, and the next run lists
    from the start. (A rest that is truly empty, the run before stopped after its last page,
    looks the same: its deactivations wait for that next run.)"""
    users = make_users(emulator, 25)
    sync(batch_size=10)
    abort_after_first_page(emulator, batch_size=10, deactivate_missing=True)
    empty_answer(emulator, "/api/v2/users")

    report = sync(batch_size=10, deactivate_missing=True)

    assert report.resumed_after == {"users": users[9]["id"]}
    assert report.deactivated == 0 and not User.objects.filter(is_active=False).exists()
    assert report.warnings == [
        f"users: the resumed listing (after {users[9]['id']}) came back empty, and 15 mirrored "
        "user(s) were not listed: nobody was deactivated. The next run with "
        "--deactivate-missing lists from the start (check AUTHROCKET_URL, the API key and "
        "AUTHROCKET_REALM)"
    ]
    emulator.clear_faults()
    emulator.delete_user(users[20]["id"])
    again = sync(batch_size=10, deactivate_missing=True)
    assert again.resumed_after == {}
    inactive = User.objects.filter(is_active=False)
    assert list(inactive.values_list("authrocket__authrocket_id", flat=True)) == [users[20]["id"]]


def test_a_checkpoint_without_seen_marks_is_not_resumed_for_deactivation(
    fast_retries, emulator
) -> None:
    make_users(emulator, 25)
    abort_after_first_page(emulator, batch_size=10)  # a run that did not mark what it saw

    report = sync(batch_size=10, deactivate_missing=True)

    assert report.resumed_after == {}  # listed from the start instead
    assert report.deactivated == 0


# --- the command --------------------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("authrocket_sync", *args, stdout=out)
    return out.getvalue()


def test_the_command_ends_with_a_summary(emulator, ada) -> None:
    output = run_command()

    assert output.splitlines()[-1] == (
        "AuthRocket sync done: users: 1 created, 0 updated, 0 unchanged; "
        "orgs: 1 created, 0 updated, 0 unchanged; memberships: 1 created, 0 updated, 0 unchanged"
    )


def test_the_command_prints_one_line_per_page_at_verbosity_2(emulator) -> None:
    make_users(emulator, 5)

    output = run_command("--users", "--batch-size", "2", "-v", "2")

    assert [line.split(":")[0] for line in output.splitlines()[:3]] == [
        "users page 1",
        "users page 2",
        "users page 3",
    ]


def test_the_command_at_verbosity_0_prints_only_the_summary(emulator) -> None:
    make_users(emulator, 5)
    assert len(run_command("-v", "0").splitlines()) == 1


def test_the_command_restricts_what_it_syncs(emulator, ada) -> None:
    output = run_command("--orgs")

    assert "users" not in output.splitlines()[-1]
    assert AuthRocketOrg.objects.count() == 1 and not AuthRocketUser.objects.exists()


def test_the_command_refuses_a_bad_batch_size(emulator) -> None:
    with pytest.raises(CommandError, match="between 1 and 1000"):
        run_command("--batch-size", "5000")


def test_the_command_refuses_to_deactivate_without_users(emulator) -> None:
    with pytest.raises(CommandError, match="--users"):
        run_command("--orgs", "--deactivate-missing")


def test_the_command_fails_with_a_clear_message_when_the_api_keeps_failing(
    fast_retries, emulator
) -> None:
    make_users(emulator, 3)
    emulator.inject_fault("/api/v2/users", status=503, times=None)

    with pytest.raises(CommandError, match=r"Listing users failed at the first page: .*503"):
        run_command()


def test_the_command_without_an_api_key_says_what_to_set(settings) -> None:
    settings.AUTHROCKET_API_KEY = None
    with pytest.raises(CommandError, match="AUTHROCKET_API_KEY"):
        run_command()


# --- a real kill --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=False)
def test_a_run_killed_mid_way_resumes_to_the_exact_upstream_set(emulator, tmp_path) -> None:
    for _ in range(20_000):
        emulator.create_user()
    database = tmp_path / "killed.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "AUTHROCKET_URL": emulator.api_url(),
        "AUTHROCKET_API_KEY": emulator.api_key,
        "LOGINROCKET_URL": emulator.loginrocket_url,
    }

    def manage(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "django", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    migrate = manage("migrate", "-v", "0")
    assert migrate.wait(timeout=60) == 0, migrate.stderr.read() if migrate.stderr else ""
    emulator.inject_fault("/api/v2/users", kind="latency", delay=0.1, times=None)

    first = manage("authrocket_sync", "--users", "--batch-size", "500")
    pages = wait_for_checkpoint(database, first, at_least=3)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    assert 3 <= pages < 40  # killed mid-run, with a checkpoint that moved

    emulator.clear_faults()
    second = manage("authrocket_sync", "--users")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err

    assert "resumed after" in out
    with sqlite3.connect(database) as db:
        rows = [
            r[0] for r in db.execute("SELECT authrocket_id FROM django_authrocket_authrocketuser")
        ]
        local_users = db.execute("SELECT count(*) FROM auth_user").fetchone()[0]
    assert len(rows) == len(set(rows)) == 20_000
    assert set(rows) == upstream_ids(emulator)
    assert local_users == 20_000  # no local user left behind by the killed page


def wait_for_checkpoint(database: Path, process: subprocess.Popen[str], *, at_least: int) -> int:
    """Poll the checkpoint row until ``at_least`` pages are committed; return how many."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with sqlite3.connect(database, timeout=5) as db:
                row = db.execute(
                    "SELECT pages FROM django_authrocket_authrocketsynccheckpoint "
                    "WHERE resource = 'users'"
                ).fetchone()
        except sqlite3.OperationalError:
            row = None
        if row and row[0] >= at_least:
            return int(row[0])
        time.sleep(0.02)
    raise AssertionError("the checkpoint never moved")


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("AUTHROCKET_SLOW"),
    reason="not applicable: about 30 s; set AUTHROCKET_SLOW=1 to run the 100,000-user sync",
)
def test_a_realm_of_100_000_users_is_mirrored_in_1000_user_pages(emulator) -> None:
    for _ in range(100_000):
        emulator.create_user()
    emulator.clear_requests()

    report = sync(["users"], batch_size=1000)

    assert report.counts["users"].created == 100_000
    assert emulator.count_requests("/api/v2/users", method="GET") == 100
    assert AuthRocketUser.objects.count() == User.objects.count() == 100_000
    assert mirrored_ids() == upstream_ids(emulator)
    again = sync(["users"], batch_size=1000).counts["users"]
    assert (again.created, again.updated, again.unchanged) == (0, 0, 100_000)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_bar(emulator, ada) -> None:
    pytest.importorskip("tqdm", reason="needs tqdm (the progress extra; installed by make test)")
    out = _Terminal()
    call_command("authrocket_sync", stdout=out)
    text = out.getvalue()
    assert "AuthRocket users" in text and " obj" in text  # tqdm's bar, not plain lines
    assert text.rstrip().splitlines()[-1].startswith("AuthRocket sync done:")


def test_a_sync_asks_for_the_largest_page_authrocket_serves(emulator) -> None:
    make_users(emulator, 3)
    emulator.clear_requests()

    sync(["users"], batch_size=5000)

    listings = [r for r in emulator.requests if r.path == "/api/v2/users"]
    assert [r.query["max_results"] for r in listings] == [["1000"]]


def test_the_next_page_is_fetched_while_a_page_is_written(emulator) -> None:
    users = make_users(emulator, 25)
    emulator.clear_requests()
    listed_during_the_first_page = []

    def wait_for_the_second_listing(page) -> None:
        if page.number == 1:
            deadline = time.monotonic() + 5
            while emulator.count_requests("/api/v2/users") < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            listed_during_the_first_page.append(emulator.count_requests("/api/v2/users"))

    report = sync(["users"], batch_size=10, on_page=wait_for_the_second_listing)

    assert listed_during_the_first_page == [2]
    assert report.counts["users"].created == 25
    assert mirrored_ids() == {user["id"] for user in users}


@pytest.mark.parametrize("first_run", [False, True], ids=["checkpoint-reset", "checkpoint-created"])
def test_the_first_page_is_requested_before_the_checkpoint_is_written(emulator, first_run) -> None:
    """The first page's fetch overlaps the checkpoint's write (a commit): its save sees the
    request arrive at AuthRocket (a listing fetched in turn asks only after it). On a
    resource's first run too, where the checkpoint is created: only a read comes before."""
    make_users(emulator, 3)
    if not first_run:
        AuthRocketSyncCheckpoint.objects.create(resource="users", started_at=timezone.now())
    arrived: list[bool] = []

    def wait_for_the_request(sender, instance, created, **kwargs) -> None:
        if arrived:
            return
        deadline = time.monotonic() + 10
        while not emulator.count_requests("/api/*/users", "GET") and time.monotonic() < deadline:
            time.sleep(0.01)
        arrived.append(bool(emulator.count_requests("/api/*/users", "GET")))

    emulator.clear_requests()
    post_save.connect(wait_for_the_request, sender=AuthRocketSyncCheckpoint)
    try:
        report = sync(["users"])
    finally:
        post_save.disconnect(wait_for_the_request, sender=AuthRocketSyncCheckpoint)

    assert arrived == [True]
    assert report.counts["users"].created == 3


# --- usernames the database calls the same --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_username_taken_in_another_case_on_a_case_insensitive_database(emulator) -> None:
    """MariaDB's (and MySQL's) default collation calls "ada" and "Ada" the same, where the
    sync's choice of usernames compares them in Python: the page's new users are then written
    one at a time, each name asked of the database, as a login asks."""
    if connection.vendor != "mysql":
        pytest.skip(
            f"not applicable: {connection.vendor} compares usernames case by case by default"
        )
    User.objects.create(username="Ada")
    ada = emulator.create_user("ada@example.com", first_name="Ada", username="ada")
    emulator.create_user("grace@example.com", first_name="Grace", username="grace")

    report = sync(["users"])

    assert report.counts["users"].created == 2
    names = dict(AuthRocketUser.objects.values_list("authrocket_id", "user__username"))
    assert names[ada["id"]] not in ("ada", "Ada") and names[ada["id"]].startswith("ada")
    assert sorted(User.objects.values_list("username", flat=True))[:1] == ["Ada"]
    assert "grace" in names.values()

"""The sync engine: AuthRocket users, orgs and memberships into the local mirror.

Two ways in, one way of writing:

* :func:`sync` lists whole resources from the Core API (``manage.py authrocket_sync``). Each
  page (up to 1,000 objects) is written in **one transaction** with a number of queries that
  does not depend on how many rows changed or how big the realm is: reads of the rows the page
  names (and their local users), one read of taken usernames, bulk inserts/upserts, and the
  checkpoint. Rows are compared before writing, so an unchanged page writes nothing. The checkpoint
  (:class:`~django_authrocket.models.AuthRocketSyncCheckpoint`) names the last committed page,
  so a run that crashed or was killed resumes where it stopped.
* :mod:`django_authrocket.resync` reads single objects (for the webhook endpoint and the admin's
  resync action) and writes them in one transaction through this module's page writers.

Objects are matched on their AuthRocket ids, never on email. Local users are created the way
the login backend creates them (same username rule, unusable password) and their names and
email follow AuthRocket. Users missing upstream are deactivated (``is_active=False``), never
deleted.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import mirror
from .client import MAX_PAGE_SIZE, AuthRocketClient, Page
from .exceptions import APIError, AuthRocketError
from .identity import AuthRocketUserInfo
from .models import (
    AuthRocketMembership,
    AuthRocketOrg,
    AuthRocketSyncCheckpoint,
    AuthRocketUser,
)
from .signals import authrocket_user_synced

logger = logging.getLogger(__name__)

Resource = Literal["users", "orgs", "memberships"]
#: Every resource, in the order a full sync lists them (memberships need their users and orgs).
RESOURCES: Final[tuple[Resource, ...]] = get_args(Resource)
DEFAULT_BATCH_SIZE: Final = MAX_PAGE_SIZE
#: A page that hit a unique constraint (a concurrent login created the same user or username
#: meanwhile) is read and written again this many times before the run stops.
PAGE_ATTEMPTS: Final = 3

_PATHS: Final[dict[Resource, str]] = {
    "users": "/users",
    "orgs": "/orgs",
    "memberships": "/memberships",
}
_USER_FIELDS: Final = (
    "realm_id",
    "email",
    "username",
    "name",
    "first_name",
    "last_name",
    "state",
    "email_verification",
    "reference",
    "custom",
    "created_at",
    "last_login_at",
    "synced_at",
)
_ORG_FIELDS: Final = (
    "realm_id",
    "name",
    "state",
    "reference",
    "custom",
    "created_at",
    "synced_at",
)
_MEMBERSHIP_FIELDS: Final = ("authrocket_id", "permissions", "selected", "expires_at", "synced_at")


class SyncAborted(AuthRocketError):
    """A listing stopped before its end (the Core API kept failing); the checkpoint is kept."""

    def __init__(self, message: str, *, resource: Resource, after: str | None) -> None:
        super().__init__(message)
        self.resource = resource
        self.after = after


# --- results --------------------------------------------------------------------------------


@dataclass
class Counts:
    """What writing some objects did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Memberships whose user or org is not in the mirror (sync users and orgs first).
    skipped: int = 0
    #: Local users set inactive (gone upstream) / memberships removed (gone upstream).
    deactivated: int = 0
    removed: int = 0

    def add(self, other: Counts) -> None:
        for name in ("created", "updated", "unchanged", "skipped", "deactivated", "removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def seen(self) -> int:
        """Objects read from AuthRocket."""
        return self.created + self.updated + self.unchanged + self.skipped

    def describe(self) -> str:
        parts = [f"{self.created} created", f"{self.updated} updated"]
        parts.append(f"{self.unchanged} unchanged")
        for name in ("skipped", "deactivated", "removed"):
            if getattr(self, name):
                parts.append(f"{getattr(self, name)} {name}")
        return ", ".join(parts)


@dataclass(frozen=True)
class PageResult:
    """One committed (or, in a dry run, rolled back) page, for progress reports."""

    resource: Resource
    number: int
    counts: Counts
    last_id: str | None


@dataclass
class SyncReport:
    """The outcome of :func:`sync`: counts per resource."""

    dry_run: bool = False
    counts: dict[Resource, Counts] = field(default_factory=dict)
    #: The id each resumed listing continued after.
    resumed_after: dict[Resource, str] = field(default_factory=dict)

    @property
    def deactivated(self) -> int:
        return sum(counts.deactivated for counts in self.counts.values())

    def summary(self) -> str:
        """``users: 3 created, 0 updated, 997 unchanged, 2 deactivated; orgs: ...``"""
        text = "; ".join(f"{name}: {counts.describe()}" for name, counts in self.counts.items())
        text = text or "nothing synced"
        return f"{text} (dry run: nothing was written)" if self.dry_run else text


# --- whole listings -------------------------------------------------------------------------


def sync(
    resources: Iterable[Resource] = RESOURCES,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    deactivate_missing: bool = False,
    client: AuthRocketClient | None = None,
    on_page: Callable[[PageResult], None] | None = None,
) -> SyncReport:
    """List ``resources`` from the Core API and write them into the mirror, page by page.

    ``deactivate_missing`` sets ``is_active=False`` on local users whose AuthRocket user was
    not listed (and removes memberships that were not), only after the listing completed.
    ``dry_run`` reads and compares everything, rolls every page back, and ignores and keeps
    the checkpoints. Raises :class:`SyncAborted` when a page cannot be fetched (after the
    client's retries); every page before it stays committed and the checkpoint names it.
    """
    wanted = [resource for resource in RESOURCES if resource in set(resources)]
    if deactivate_missing and "users" not in wanted:
        raise ValueError("deactivate_missing needs the users listing: include 'users'")
    client = client or AuthRocketClient.from_settings()
    report = SyncReport(dry_run=dry_run)
    for resource in wanted:
        listing = _Listing(resource, client, batch_size, dry_run, deactivate_missing, on_page)
        report.counts[resource] = listing.run()
        if listing.resumed_after:
            report.resumed_after[resource] = listing.resumed_after
    return report


def sync_users(**options: Any) -> SyncReport:
    """:func:`sync` of users only."""
    return sync(["users"], **options)


def sync_orgs(**options: Any) -> SyncReport:
    """:func:`sync` of orgs only."""
    return sync(["orgs"], **options)


def sync_memberships(**options: Any) -> SyncReport:
    """:func:`sync` of memberships only."""
    return sync(["memberships"], **options)


class _Listing:
    """One resource listed from start (or checkpoint) to end."""

    def __init__(
        self,
        resource: Resource,
        client: AuthRocketClient,
        batch_size: int,
        dry_run: bool,
        deactivate_missing: bool,
        on_page: Callable[[PageResult], None] | None,
    ) -> None:
        self.resource = resource
        self.client = client
        self.batch_size = max(1, min(int(batch_size), MAX_PAGE_SIZE))
        self.dry_run = dry_run
        # After a complete listing, act on the rows it did not name: found by the synced_at
        # stamp every row seen gets (flat memory, survives a resume), not by a set of ids.
        self.prune = deactivate_missing and resource in ("users", "memberships")
        self.mark_seen = self.prune
        self.on_page = on_page
        self.resumed_after: str | None = None
        self.checkpoint: AuthRocketSyncCheckpoint | None = None
        self.started_at = timezone.now()
        self.seen_in_dry_run: set[str] = set()  # a dry run cannot stamp: it remembers ids

    def run(self) -> Counts:
        total = Counts()
        after = None if self.dry_run else self._start()
        pages = self.client.iter_pages(
            _PATHS[self.resource], {}, page_size=self.batch_size, after=after
        )
        number = 0
        while True:
            page = self._next_page(pages, after)
            if page is None:
                break
            number += 1
            counts = self._commit(page)
            total.add(counts)
            after = page.last_id or after
            if self.on_page is not None:
                self.on_page(PageResult(self.resource, number, counts, page.last_id))
        total.add(self._finish())
        return total

    def _start(self) -> str | None:
        """The id to resume after (None: from the start); creates or resets the checkpoint."""
        checkpoint, _ = AuthRocketSyncCheckpoint.objects.get_or_create(
            resource=self.resource, defaults={"started_at": self.started_at}
        )
        self.checkpoint = checkpoint
        if checkpoint.in_progress and (checkpoint.marks_seen or not self.prune):
            self.resumed_after = checkpoint.last_id
            self.started_at = checkpoint.started_at
            self.mark_seen = checkpoint.marks_seen  # keep the stamps complete for a later prune
            logger.info("Resuming the %s listing after %s", self.resource, checkpoint.last_id)
            return checkpoint.last_id
        if checkpoint.in_progress:
            # That run did not stamp the users it saw, so missing ones cannot be told apart.
            logger.info("Listing %s from the start to find missing ones", self.resource)
        checkpoint.last_id, checkpoint.pages, checkpoint.completed_at = "", 0, None
        checkpoint.started_at, checkpoint.marks_seen = self.started_at, self.mark_seen
        checkpoint.save()
        return None

    def _next_page(self, pages: Iterator[Page], after: str | None) -> Page | None:
        try:
            return next(pages)
        except StopIteration:
            return None
        except APIError as exc:
            where = f"after {after}" if after else "at the first page"
            kept = "" if self.dry_run else "; the checkpoint is kept: run it again to resume"
            raise SyncAborted(
                f"Listing {self.resource} failed {where}: {exc}{kept}",
                resource=self.resource,
                after=after,
            ) from exc

    def _commit(self, page: Page) -> Counts:
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    counts = _WRITERS[self.resource](page.items, mark_seen=self.mark_seen)
                    if self.dry_run:
                        transaction.set_rollback(True)
                    else:
                        self._move_checkpoint(page)
                    if self.dry_run and self.prune:
                        self.seen_in_dry_run.update(str(item["id"]) for item in page.items)
                    return counts
            except IntegrityError:
                if attempt == PAGE_ATTEMPTS:
                    raise
                logger.info("A %s page met a concurrent write; writing it again", self.resource)
        raise AssertionError("unreachable")

    def _move_checkpoint(self, page: Page) -> None:
        checkpoint = self.checkpoint
        if checkpoint is None or page.last_id is None:
            return
        checkpoint.last_id = page.last_id
        checkpoint.pages += 1
        checkpoint.save(update_fields=["last_id", "pages", "updated_at"])

    def _finish(self) -> Counts:
        """After a complete listing: prune what was not seen, mark the checkpoint complete."""
        counts = Counts()
        with transaction.atomic():
            if self.prune:
                counts = self._prune()
            if self.dry_run:
                transaction.set_rollback(True)
            elif self.checkpoint is not None:
                self.checkpoint.last_id, self.checkpoint.completed_at = "", timezone.now()
                self.checkpoint.save(update_fields=["last_id", "completed_at", "updated_at"])
        return counts

    def _prune(self) -> Counts:
        if self.dry_run:
            return _count_unseen(self.resource, self.seen_in_dry_run)
        unseen = Q(synced_at__lt=self.started_at) | Q(synced_at__isnull=True)
        if self.resource == "users":
            return Counts(deactivated=_deactivate(AuthRocketUser.objects.filter(unseen)))
        removed, _ = AuthRocketMembership.objects.filter(unseen).delete()
        return Counts(removed=removed)


def _count_unseen(resource: Resource, seen: set[str]) -> Counts:
    """What pruning would do, for a dry run (whose stamps were rolled back)."""
    if resource == "users":
        users = AuthRocketUser.objects.filter(user__is_active=True)
        ids: Iterator[str | None] = users.values_list("authrocket_id", flat=True).iterator(2000)
        return Counts(deactivated=sum(1 for i in ids if i not in seen))
    memberships = AuthRocketMembership.objects.values_list("authrocket_id", flat=True)
    return Counts(removed=sum(1 for i in memberships.iterator(2000) if i not in seen))


def checkpoints() -> list[AuthRocketSyncCheckpoint]:
    """The stored checkpoints (for reports: which listings would resume, and where)."""
    return list(AuthRocketSyncCheckpoint.objects.order_by("resource"))


def forget_checkpoints() -> int:
    """Delete every checkpoint: the next run lists everything from the start."""
    deleted, _ = AuthRocketSyncCheckpoint.objects.all().delete()
    return deleted


# --- page writers ---------------------------------------------------------------------------


def write_users(items: Sequence[Mapping[str, Any]], *, mark_seen: bool = False) -> Counts:
    """Upsert Core API user objects into the mirror and the local users; a constant number of
    queries whatever the number of items. Call inside a transaction."""
    now = timezone.now()
    user_model = get_user_model()
    items = _unique_by_id(items)
    # Two reads (mirror rows, then their users), not one join: with the statistics of a table
    # that just grew (a first sync, or all of it in one transaction) PostgreSQL can plan the join
    # as a nested loop over sequential scans, seconds per page at 100,000 users.
    existing = {
        row.authrocket_id: row
        for row in AuthRocketUser.objects.filter(authrocket_id__in=[item["id"] for item in items])
    }
    # _base_manager: a default manager that filters rows must not hide a mirrored user here.
    users_by_pk = user_model._base_manager.in_bulk([m.user_id for m in existing.values()])
    for mirrored in existing.values():
        mirrored.user = users_by_pk[mirrored.user_id]
    counts = Counts()
    upserts: list[AuthRocketUser] = []
    changed_users: list[Any] = []
    changed_user_fields: set[str] = set()
    seen: list[int] = []
    created: list[tuple[AuthRocketUserInfo, dict[str, Any]]] = []
    for item in items:
        info = mirror.user_info_from_api(item)
        fields = mirror.user_fields_from_api(item)
        row = existing.get(info.id)
        if row is None:
            created.append((info, fields))
            continue
        changed = mirror.assign_changed(row, fields)
        local = mirror.assign_changed(row.user, mirror.local_user_fields(info, user_model))
        if changed:
            row.synced_at = now
            upserts.append(row)
        else:
            seen.append(row.pk)
        if local:
            changed_users.append(row.user)
            changed_user_fields.update(local)
        if changed or local:
            counts.updated += 1
        else:
            counts.unchanged += 1
    local_users = _create_local_users([info for info, _ in created], user_model)
    for (info, fields), user in zip(created, local_users, strict=True):
        upserts.append(AuthRocketUser(user=user, authrocket_id=info.id, synced_at=now, **fields))
    counts.created = len(created)
    if upserts:
        AuthRocketUser.objects.bulk_create(
            upserts,
            update_conflicts=True,
            unique_fields=["authrocket_id"],
            update_fields=list(_USER_FIELDS),
        )
    if changed_users:
        user_model._default_manager.bulk_update(changed_users, sorted(changed_user_fields))
    if mark_seen and seen:
        AuthRocketUser.objects.filter(pk__in=seen).update(synced_at=now)
    if authrocket_user_synced.has_listeners():
        for row in upserts:
            authrocket_user_synced.send(
                sender=AuthRocketUser,
                user=row.user,
                authrocket_user=row,
                created=row.authrocket_id not in existing,
            )
    return counts


def write_orgs(items: Sequence[Mapping[str, Any]], *, mark_seen: bool = False) -> Counts:
    """Upsert Core API org objects into the mirror (constant queries). Orgs are never pruned:
    AuthRocket closes them rather than deleting them."""
    now = timezone.now()
    items = _unique_by_id(items)
    existing = {
        row.authrocket_id: row
        for row in AuthRocketOrg.objects.filter(authrocket_id__in=[item["id"] for item in items])
    }
    counts = Counts()
    upserts: list[AuthRocketOrg] = []
    for item in items:
        fields = mirror.org_fields_from_api(item)
        row = existing.get(str(item["id"]))
        if row is None:
            upserts.append(AuthRocketOrg(authrocket_id=str(item["id"]), synced_at=now, **fields))
            counts.created += 1
        elif mirror.assign_changed(row, fields):
            row.synced_at = now
            upserts.append(row)
            counts.updated += 1
        else:
            counts.unchanged += 1
    if upserts:
        AuthRocketOrg.objects.bulk_create(
            upserts,
            update_conflicts=True,
            unique_fields=["authrocket_id"],
            update_fields=list(_ORG_FIELDS),
        )
    return counts


def write_memberships(items: Sequence[Mapping[str, Any]], *, mark_seen: bool = False) -> Counts:
    """Upsert Core API membership objects (constant queries). A membership whose user or org
    is not mirrored yet is skipped and counted as such."""
    now = timezone.now()
    items = _unique_by_id(items)
    users = dict(
        AuthRocketUser.objects.filter(
            authrocket_id__in={str(item.get("user_id")) for item in items}
        ).values_list("authrocket_id", "pk")
    )
    orgs = dict(
        AuthRocketOrg.objects.filter(
            authrocket_id__in={str(item.get("org_id")) for item in items}
        ).values_list("authrocket_id", "pk")
    )
    # Matched on the (user, org) pair: rows written by an AuthRocket 1 login have no id.
    existing = {
        (row.user_id, row.org_id): row
        for row in AuthRocketMembership.objects.filter(
            user_id__in=users.values(), org_id__in=orgs.values()
        )
    }
    counts = Counts()
    upserts: list[AuthRocketMembership] = []
    seen: list[int] = []
    for item in items:
        user_pk, org_pk = users.get(str(item.get("user_id"))), orgs.get(str(item.get("org_id")))
        if user_pk is None or org_pk is None:
            counts.skipped += 1
            continue
        fields = mirror.membership_fields_from_api(item)
        row = existing.get((user_pk, org_pk))
        if row is None:
            upserts.append(
                AuthRocketMembership(user_id=user_pk, org_id=org_pk, synced_at=now, **fields)
            )
            counts.created += 1
        elif mirror.assign_changed(row, fields):
            row.synced_at = now
            upserts.append(row)
            counts.updated += 1
        else:
            counts.unchanged += 1
            seen.append(row.pk)
    if upserts:
        AuthRocketMembership.objects.bulk_create(
            upserts,
            update_conflicts=True,
            unique_fields=["user", "org"],
            update_fields=list(_MEMBERSHIP_FIELDS),
        )
    if mark_seen and seen:
        AuthRocketMembership.objects.filter(pk__in=seen).update(synced_at=now)
    return counts


_WRITERS: Final[dict[Resource, Callable[..., Counts]]] = {
    "users": write_users,
    "orgs": write_orgs,
    "memberships": write_memberships,
}


def deactivate_users(authrocket_ids: Iterable[str]) -> int:
    """Set ``is_active=False`` on the local users of these AuthRocket users; never deletes.
    Returns how many were active."""
    return _deactivate(AuthRocketUser.objects.filter(authrocket_id__in=list(authrocket_ids)))


def _deactivate(rows: Any) -> int:
    user_model = get_user_model()
    if not any(f.name == "is_active" for f in user_model._meta.concrete_fields):
        return 0  # a user model without the column cannot be deactivated here
    users = user_model._default_manager.filter(pk__in=rows.values("user_id"), is_active=True)
    deactivated: int = users.update(is_active=False)
    if deactivated:
        logger.info("Deactivated %d local user(s) missing at AuthRocket", deactivated)
    return deactivated


# --- local users ----------------------------------------------------------------------------


def _create_local_users(infos: Sequence[AuthRocketUserInfo], user_model: type[Any]) -> list[Any]:
    """Create the local users of new AuthRocket users: one read for taken usernames, one
    bulk insert. Passwords are unusable: AuthRocket does the logging in."""
    if not infos:
        return []
    username_field = user_model.USERNAME_FIELD
    manager = user_model._default_manager
    candidates = [mirror.username_candidates(info, user_model) for info in infos]
    taken = set(
        manager.filter(
            **{f"{username_field}__in": {name for names in candidates for name in names}}
        ).values_list(username_field, flat=True)
    )
    users = []
    for info, names in zip(infos, candidates, strict=True):
        username = next((name for name in names if name not in taken), names[-1])
        taken.add(username)
        user = user_model(
            **{username_field: username}, **mirror.local_user_fields(info, user_model)
        )
        user.password = _unusable_password()
        users.append(user)
    manager.bulk_create(users)
    if any(user.pk is None for user in users):  # databases that return no ids from a bulk insert
        pks = dict(
            manager.filter(
                **{f"{username_field}__in": [getattr(u, username_field) for u in users]}
            ).values_list(username_field, "pk")
        )
        for user in users:
            user.pk = pks[getattr(user, username_field)]
    return users


def _unusable_password() -> str:
    """What ``set_unusable_password()`` stores (the ``!`` prefix and random characters), made
    with one call to the OS's random source instead of 40: it is a quarter of a page's time."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def _unique_by_id(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The items, the last one winning when an id repeats (bulk upserts need unique keys)."""
    return list({str(item["id"]): item for item in items}.values())

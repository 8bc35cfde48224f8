"""The sync engine: list AuthRocket users, orgs and memberships page by page, with checkpoints.

:func:`sync` lists whole resources from the Core API (``manage.py authrocket_sync``) and hands
each page (up to 1,000 objects) to :func:`django_authrocket.mirror.pages.write`, in **one
transaction** together with the checkpoint, so the queries per page do not depend on how many
rows changed or how big the realm is, and an unchanged page writes nothing but the checkpoint.
The checkpoint (:class:`~django_authrocket.models.AuthRocketSyncCheckpoint`) names the last
committed page, so a run that crashed or was killed resumes where it stopped. After a complete
listing, ``deactivate_missing`` deactivates the local users (never deletes them) and removes the
memberships that were not listed.

Single objects (the webhook endpoint, the admin's resync action) go through
:mod:`django_authrocket.resync`, which writes through the same :mod:`~django_authrocket.mirror`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from .client import MAX_PAGE_SIZE, AuthRocketClient, Page
from .exceptions import APIError, AuthRocketError
from .mirror import pages
from .mirror.pages import Counts, Resource
from .models import AuthRocketSyncCheckpoint

logger = logging.getLogger("django_authrocket.sync")

#: Every resource, in the order a full sync lists them (memberships need their users and orgs).
RESOURCES: Final[tuple[Resource, ...]] = ("users", "orgs", "memberships")
DEFAULT_BATCH_SIZE: Final = MAX_PAGE_SIZE
#: A page that hit a unique constraint (a concurrent login created the same user or username
#: meanwhile) is read and written again this many times before the run stops.
PAGE_ATTEMPTS: Final = 3

_PATHS: Final[dict[Resource, str]] = {
    "users": "/users",
    "orgs": "/orgs",
    "memberships": "/memberships",
}


class SyncAborted(AuthRocketError):
    """A listing stopped before its end (the Core API kept failing); the checkpoint is kept."""

    def __init__(self, message: str, *, resource: Resource, after: str | None) -> None:
        super().__init__(message)
        self.resource = resource
        self.after = after


# --- results --------------------------------------------------------------------------------


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
        listed = self.client.iter_pages(
            _PATHS[self.resource], {}, page_size=self.batch_size, after=after
        )
        number = 0
        while True:
            page = self._next_page(listed, after)
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

    def _next_page(self, listed: Iterator[Page], after: str | None) -> Page | None:
        try:
            return next(listed)
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
                    counts = pages.write(self.resource, page.items, mark_seen=self.mark_seen)
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
            return pages.count_unlisted(self.resource, self.seen_in_dry_run)
        return pages.prune_unseen(self.resource, self.started_at)

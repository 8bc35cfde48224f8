"""The sync engine: list AuthRocket users, orgs and memberships page by page, with checkpoints.

:func:`sync` lists whole resources from the Core API (``manage.py authrocket_sync``) and hands
each page (up to 1,000 objects) to :func:`django_authrocket.mirror.pages.write`, in **one
transaction** together with the checkpoint, so the queries per page do not depend on how many
rows changed or how big the realm is, and an unchanged page writes nothing but the checkpoint.
The checkpoint (:class:`~django_authrocket.models.AuthRocketSyncCheckpoint`) names the last
committed page, so a run that crashed or was killed resumes where it stopped.

Users and orgs are listed with ``expand=custom`` (AuthRocket leaves custom attributes out
otherwise). Memberships are listed the way AuthRocket documents it, "for a user or an org"
(https://authrocket.com/docs/api/memberships): ``GET /memberships?org_id=`` for each mirrored
org in id order (listing by org also embeds each user: unused here). Their pages are gathered
into batches of up to ``batch_size``; the checkpoint names the last org whose memberships are
all committed.

``deactivate_missing`` deactivates the local users (never deletes them) that a complete users
listing did not name, and removes each org's memberships that its complete listing did not name.
An answer that is unexpected (objects of another kind, another org's memberships, a 404 for an
org) or empty where the mirror holds rows removes nothing: the run keeps those rows and says so
in :attr:`SyncReport.warnings` (the command prints each one).

Single objects (the webhook endpoint, the admin's resync action) go through
:mod:`django_authrocket.resync`, which writes through the same :mod:`~django_authrocket.mirror`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from django.db import IntegrityError, transaction
from django.utils import timezone

from .client import EXPAND_CUSTOM, MAX_PAGE_SIZE, AuthRocketClient, Page
from .exceptions import APIError, AuthRocketError, NotFound
from .fetch_ahead import FetchedAhead
from .identity import ID_MAX_LENGTH
from .mirror import pages
from .mirror.pages import Counts, Resource
from .models import AuthRocketOrg, AuthRocketSyncCheckpoint, AuthRocketUser

logger = logging.getLogger("django_authrocket.sync")

#: Every resource, in the order a full sync lists them (memberships need their users and orgs).
RESOURCES: Final[tuple[Resource, ...]] = ("users", "orgs", "memberships")
DEFAULT_BATCH_SIZE: Final = MAX_PAGE_SIZE
#: A page that hit a unique constraint (a concurrent login created the same user or username
#: meanwhile) is read and written again this many times before the run stops.
PAGE_ATTEMPTS: Final = 3
#: How many org ids a warning names before it says "and N more".
NAMED_IN_WARNINGS: Final = 5

_LISTS: Final[dict[Resource, tuple[str, Mapping[str, str]]]] = {
    "users": ("/users", EXPAND_CUSTOM),
    "orgs": ("/orgs", EXPAND_CUSTOM),
}
_OBJECT: Final[dict[Resource, str]] = {"users": "user", "orgs": "org", "memberships": "membership"}


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
    """The outcome of :func:`sync`: counts per resource, and what it refused to act on."""

    dry_run: bool = False
    counts: dict[Resource, Counts] = field(default_factory=dict)
    #: The id each resumed listing continued after (memberships: an org id).
    resumed_after: dict[Resource, str] = field(default_factory=dict)
    #: Answers the run did not trust, one sentence each: objects it did not write, rows it kept
    #: instead of deactivating or removing them.
    warnings: list[str] = field(default_factory=list)

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
    fetch_ahead: bool = True,
) -> SyncReport:
    """List ``resources`` from the Core API and write them into the mirror, page by page.

    ``deactivate_missing`` sets ``is_active=False`` on local users whose AuthRocket user was
    not listed, and removes the memberships an org's listing did not name, each only after
    that listing completed, and never on an answer it does not trust (see
    :attr:`SyncReport.warnings`). ``dry_run`` reads and compares everything, rolls every page
    back, and ignores and keeps the checkpoints. Raises :class:`SyncAborted` when a page cannot
    be fetched (after the client's retries); every page before it stays committed and the
    checkpoint names it. ``fetch_ahead`` (users and orgs) fetches each next page while the
    current one is written; False fetches a page only once the one before is committed (so
    ``on_page`` runs before the next request is sent).
    """
    wanted = [resource for resource in RESOURCES if resource in set(resources)]
    if deactivate_missing and "users" not in wanted:
        raise ValueError("deactivate_missing needs the users listing: include 'users'")
    client = client or AuthRocketClient.from_settings()
    report = SyncReport(dry_run=dry_run)
    for resource in wanted:
        listing = _Listing(resource, client, batch_size, dry_run, deactivate_missing, on_page)
        listing.fetch_ahead = fetch_ahead
        report.counts[resource] = listing.run()
        report.warnings.extend(listing.warnings)
        if listing.resumed_after:
            report.resumed_after[resource] = listing.resumed_after
    return report


@dataclass
class _Batch:
    """Objects written in one transaction, and what that transaction also does."""

    items: list[dict[str, Any]]
    #: The id the checkpoint moves to (None: it stays).
    checkpoint: str | None
    #: Memberships: the orgs whose listing ends in this batch, with how many it named.
    orgs: dict[str, int] = field(default_factory=dict)

    @property
    def last_id(self) -> str | None:
        return str(self.items[-1]["id"]) if self.items else None


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
        # Act on the rows a complete listing did not name: found by the synced_at stamp every
        # row seen gets (flat memory, survives a resume), not by a set of ids.
        self.prune = deactivate_missing and resource in ("users", "memberships")
        self.mark_seen = self.prune
        self.on_page = on_page
        self.fetch_ahead = True
        self.resumed_after: str | None = None
        self.checkpoint: AuthRocketSyncCheckpoint | None = None
        self.started_at = timezone.now()
        self.seen_in_dry_run: set[str] = set()  # a dry run cannot stamp: it remembers ids
        self.warnings: list[str] = []
        self.odd: list[str] = []  # objects not written: what they were
        self.kept: dict[str, str] = {}  # memberships: org id -> why its rows were kept
        self.done: str | None = None  # the last id committed (memberships: the last org)

    def run(self) -> Counts:
        total = Counts()
        after = self.done = None if self.dry_run else self._start()
        listed: FetchedAhead | None = None
        if self.resource == "memberships":
            batches = self._org_batches(after)
        else:
            path, params = _LISTS[self.resource]
            pages = self.client.iter_pages(path, params, page_size=self.batch_size, after=after)
            # The first page is on its way while the checkpoint is reset or created (a commit).
            listed = FetchedAhead(pages) if self.fetch_ahead else None
            batches = self._pages(listed or pages, after)
        try:
            self._reset_checkpoint()
            for number, batch in enumerate(batches, start=1):
                counts = self._commit(batch)
                total.add(counts)
                if self.on_page is not None:
                    self.on_page(PageResult(self.resource, number, counts, batch.last_id))
        finally:
            if listed is not None:
                listed.close()
        total.add(self._finish(total))
        return total

    def _start(self) -> str | None:
        """The id to resume after (None: from the start), from the checkpoint as it stands: a
        read, so the first page is asked for at once (:meth:`_reset_checkpoint` then writes,
        while it is on its way)."""
        checkpoint = AuthRocketSyncCheckpoint.objects.filter(resource=self.resource).first()
        self.checkpoint = checkpoint
        if checkpoint is None:
            return None
        if checkpoint.in_progress and (checkpoint.marks_seen or not self.prune):
            self.resumed_after = checkpoint.last_id
            self.started_at = checkpoint.started_at
            self.mark_seen = checkpoint.marks_seen  # keep the stamps complete for a later prune
            logger.info("Resuming the %s listing after %s", self.resource, checkpoint.last_id)
            return checkpoint.last_id
        if checkpoint.in_progress:
            # That run did not stamp the rows it saw, so missing ones cannot be told apart.
            logger.info("Listing %s from the start to find missing ones", self.resource)
        return None

    def _reset_checkpoint(self) -> None:
        """A listing from the start: its checkpoint (created by a resource's first run) names
        no page yet. A dry run has none."""
        if self.dry_run or self.resumed_after is not None:
            return
        values = {
            "last_id": "",
            "pages": 0,
            "completed_at": None,
            "started_at": self.started_at,
            "marks_seen": self.mark_seen,
        }
        checkpoint = self.checkpoint
        if checkpoint is None:
            checkpoint, created = AuthRocketSyncCheckpoint.objects.get_or_create(
                resource=self.resource, defaults=values
            )
            self.checkpoint = checkpoint
            if created:
                return
        for name, value in values.items():
            setattr(checkpoint, name, value)
        checkpoint.save()

    # -- what is listed ------------------------------------------------------------------------

    def _pages(self, listed: Iterator[Page], after: str | None) -> Iterator[_Batch]:
        """Users and orgs: each page of the listing is a batch."""
        while True:
            page = self._next(listed, f"after {after}" if after else "at the first page", after)
            if page is None:
                return
            yield _Batch(self._expected(page.items), _checkpoint_id(page.items))
            after = page.last_id or after

    def _org_batches(self, after_org: str | None) -> Iterator[_Batch]:
        """Memberships: each mirrored org's listing (``GET /memberships?org_id=``), its pages
        gathered into batches of up to ``batch_size`` objects or orgs."""
        batch, orgs_ended = _Batch([], None), 0
        for org_id in _mirrored_orgs(after_org):
            named = 0
            listed = self.client.iter_pages(
                "/memberships", {"org_id": org_id}, page_size=self.batch_size
            )
            try:
                while (page := self._next(listed, f"at org {org_id}", self.done)) is not None:
                    items = self._expected(page.items, org_id=org_id)
                    if batch.items and len(batch.items) + len(items) > self.batch_size:
                        yield batch  # the checkpoint stays before this org: it is not done
                        batch, orgs_ended = _Batch([], batch.checkpoint), 0
                    batch.items.extend(items)
                    named += len(page.items)
            except _OrgNotFound:
                self.kept[org_id] = "AuthRocket answered 404 for their memberships"
            if org_id not in self.kept:
                batch.orgs[org_id] = named
            batch.checkpoint = after_org = org_id
            orgs_ended += 1
            if orgs_ended >= self.batch_size:
                yield batch
                batch, orgs_ended = _Batch([], batch.checkpoint), 0
        if batch.items or orgs_ended:
            yield batch

    def _next(self, listed: Iterator[Page], where: str, after: str | None) -> Page | None:
        try:
            return next(listed)
        except StopIteration:
            return None
        except NotFound as exc:
            if self.resource == "memberships":
                raise _OrgNotFound from exc
            self._abort(where, exc, after)
        except APIError as exc:
            self._abort(where, exc, after)

    def _abort(self, where: str, exc: APIError, after: str | None) -> NoReturn:
        kept = "" if self.dry_run else "; the checkpoint is kept: run it again to resume"
        raise SyncAborted(
            f"Listing {self.resource} failed {where}: {exc}{kept}",
            resource=self.resource,
            after=after,
        ) from exc

    def _expected(
        self, items: list[dict[str, Any]], *, org_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The items that are what was asked for; notes the others (never written)."""
        kind, good = _OBJECT[self.resource], []
        for item in items:
            if item.get("object", kind) != kind:
                self.odd.append(f"an object of type {str(item.get('object'))[:20]!r}")
            elif not _usable_id(item.get("id")):
                self.odd.append(f"an object with the id {str(item.get('id'))[:ID_MAX_LENGTH]!r}")
            elif org_id is not None and item.get("org_id") != org_id:
                self.odd.append(f"{item['id']} of org {str(item.get('org_id'))[:64]}")
            elif org_id is not None and not _usable_id(item.get("user_id")):
                self.odd.append(f"{item['id']} without a user_id")
            else:
                good.append(item)
                continue
            if org_id is not None:
                self.kept[org_id] = "their listings held objects that are not their memberships"
        return good

    # -- what is written -----------------------------------------------------------------------

    def _commit(self, batch: _Batch) -> Counts:
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    counts = pages.write(self.resource, batch.items, mark_seen=self.mark_seen)
                    if self.dry_run and self.prune:
                        self.seen_in_dry_run.update(str(item["id"]) for item in batch.items)
                    if self.prune and batch.orgs:
                        counts.add(self._prune_orgs(batch.orgs))
                    if self.dry_run:
                        transaction.set_rollback(True)
                    else:
                        self._move_checkpoint(batch.checkpoint)
                    self.done = batch.checkpoint or self.done
                    return counts
            except IntegrityError:
                if attempt == PAGE_ATTEMPTS:
                    raise
                logger.info("A %s page met a concurrent write; writing it again", self.resource)
        raise AssertionError("unreachable")

    def _move_checkpoint(self, last_id: str | None) -> None:
        checkpoint = self.checkpoint
        if checkpoint is None or last_id is None:
            return
        checkpoint.last_id = last_id
        checkpoint.pages += 1
        checkpoint.save(update_fields=["last_id", "pages", "updated_at"])

    def _prune_orgs(self, orgs: dict[str, int]) -> Counts:
        """Remove what these orgs' complete listings did not name; keep (and say so) the rows
        of an org whose listing was empty while the mirror holds some."""
        held = pages.memberships_held([org_id for org_id, named in orgs.items() if not named])
        for org_id in held:
            self.kept[org_id] = "AuthRocket listed none of the memberships the mirror holds"
        complete = [org_id for org_id in orgs if org_id not in held]
        if self.dry_run:
            return pages.count_unlisted("memberships", self.seen_in_dry_run, orgs=complete)
        return pages.prune_unseen("memberships", self.started_at, orgs=complete)

    def _finish(self, total: Counts) -> Counts:
        """After a complete listing: prune what was not seen, mark the checkpoint complete."""
        counts = Counts()
        with transaction.atomic():
            if self.resource == "users" and self.prune and self._trust_users(total):
                counts = self._prune_users()
            if self.dry_run:
                transaction.set_rollback(True)
            elif self.checkpoint is not None:
                self.checkpoint.last_id, self.checkpoint.completed_at = "", timezone.now()
                self.checkpoint.save(update_fields=["last_id", "completed_at", "updated_at"])
        self._warn()
        return counts

    def _trust_users(self, total: Counts) -> bool:
        """Whether the users listing may deactivate the users it did not name."""
        if self.odd:
            self.warnings.append("users: nobody was deactivated, as the listing was unexpected")
            return False
        if total.seen == 0 and not self.resumed_after and AuthRocketUser.objects.exists():
            held = AuthRocketUser.objects.count()
            self.warnings.append(
                f"users: AuthRocket listed no users while the mirror holds {held}: nobody was "
                "deactivated (check AUTHROCKET_URL, the API key and AUTHROCKET_REALM)"
            )
            return False
        if total.seen == 0 and self.resumed_after:
            # The rest of a listing came back empty: maybe it was (the run before was stopped
            # after its last page), maybe the answer is wrong (another realm or key since). The
            # people the run before did not reach would all be deactivated: nobody is.
            unseen = pages.unseen_users(self.started_at)
            if unseen:
                self.warnings.append(
                    f"users: the resumed listing (after {self.resumed_after}) came back empty, "
                    f"and {unseen} mirrored user(s) were not listed: nobody was deactivated. "
                    "The next run with --deactivate-missing lists from the start (check "
                    "AUTHROCKET_URL, the API key and AUTHROCKET_REALM)"
                )
                return False
        return True

    def _prune_users(self) -> Counts:
        if self.dry_run:
            return pages.count_unlisted(self.resource, self.seen_in_dry_run)
        return pages.prune_unseen(self.resource, self.started_at)

    def _warn(self) -> None:
        if self.odd:
            self.warnings.insert(
                0,
                f"{self.resource}: {len(self.odd)} object(s) in AuthRocket's answer were not "
                f"written, as they were not what was asked for (e.g. {self.odd[0]})",
            )
        by_reason: dict[str, list[str]] = {}
        for org_id, reason in self.kept.items():
            by_reason.setdefault(reason, []).append(org_id)
        for reason, org_ids in by_reason.items():
            named = ", ".join(org_ids[:NAMED_IN_WARNINGS])
            if len(org_ids) > NAMED_IN_WARNINGS:
                named += f" and {len(org_ids) - NAMED_IN_WARNINGS} more"
            kept = "kept every local membership of" if self.prune else "skipped"
            self.warnings.append(f"memberships: {kept} {len(org_ids)} org(s), as {reason}: {named}")
        for warning in self.warnings:
            logger.warning("AuthRocket sync: %s", warning)


def _usable_id(value: object) -> bool:
    """Whether the mirror can key a row on ``value``: text, not empty, no longer than its
    columns, without NUL (which PostgreSQL's text cannot store)."""
    return isinstance(value, str) and 0 < len(value) <= ID_MAX_LENGTH and "\x00" not in value


def _checkpoint_id(items: list[dict[str, Any]]) -> str | None:
    """The id a page moves the checkpoint to: its last object's, or the last one the mirror
    can store (a rerun lists the odd ones after it again, and skips them again)."""
    for item in reversed(items):
        if _usable_id(item.get("id")):
            return str(item["id"])
    return None


class _OrgNotFound(Exception):
    """A 404 to one org's memberships listing: that org is skipped, its rows kept."""


def _mirrored_orgs(after: str | None) -> Iterator[str]:
    """The AuthRocket ids of the mirrored orgs, in order, after ``after``; read 1,000 at a time
    (an org mirrored meanwhile is included when its id comes later)."""
    while True:
        rows = AuthRocketOrg.objects.order_by("authrocket_id")
        if after:
            rows = rows.filter(authrocket_id__gt=after)
        chunk = list(rows.values_list("authrocket_id", flat=True)[:1000])
        yield from chunk
        if len(chunk) < 1000:
            return
        after = chunk[-1]

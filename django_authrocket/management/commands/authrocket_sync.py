"""``manage.py authrocket_sync``: copy AuthRocket users, orgs and memberships into the mirror.

Pages of up to 1,000 objects, each written in one transaction; a rerun after a crash or a kill
resumes from the checkpoint; a second run changes nothing. Shows a progress bar on a terminal
when ``tqdm`` is installed, plain lines otherwise (``-v 2``: one per page), a ``WARNING:`` line
for each answer it did not trust (rows kept rather than deactivated or removed), and always
ends with a summary. Exits non-zero when the Core API keeps failing (the checkpoint is kept).
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Protocol, TextIO, cast

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_authrocket.client import MAX_PAGE_SIZE
from django_authrocket.mirror.pages import Counts, Resource
from django_authrocket.sync import DEFAULT_BATCH_SIZE, RESOURCES, PageResult, SyncAborted, sync


class Progress(Protocol):
    """Where page results are reported while the run goes on."""

    def __call__(self, page: PageResult) -> None: ...

    def close(self) -> None: ...


class Command(BaseCommand):
    help = (
        "Copy AuthRocket users, orgs and memberships into the local mirror (bulk, resumable). "
        "Without --users/--orgs/--memberships, all three are synced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would change; write nothing (checkpoints are ignored and kept).",
        )
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="After a complete users listing, set is_active=False on local users missing "
            "at AuthRocket (never deletes), and remove memberships missing from their org's "
            "listing. An empty or unexpected answer removes nothing: a WARNING line says so.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Objects per page and per transaction (1..{MAX_PAGE_SIZE}, default "
            f"{DEFAULT_BATCH_SIZE}).",
        )
        for resource in RESOURCES:
            parser.add_argument(
                f"--{resource}", action="store_true", help=f"Sync {resource} (see above)."
            )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if not 1 <= batch_size <= MAX_PAGE_SIZE:
            raise CommandError(f"--batch-size must be between 1 and {MAX_PAGE_SIZE}")
        resources: list[Resource] = [r for r in RESOURCES if options[r]] or list(RESOURCES)
        if options["deactivate_missing"] and "users" not in resources:
            raise CommandError("--deactivate-missing needs the users listing: add --users")
        progress = self._progress(int(options["verbosity"]))
        try:
            report = sync(
                resources,
                batch_size=batch_size,
                dry_run=options["dry_run"],
                deactivate_missing=options["deactivate_missing"],
                on_page=progress,
            )
        except SyncAborted as exc:
            raise CommandError(str(exc)) from None
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.close()
        for resource, after in report.resumed_after.items():
            self._log(1, f"{resource}: resumed after {after}", options)
        for warning in report.warnings:  # at every verbosity: rows were kept, objects skipped
            self.stdout.write(self.style.WARNING(f"WARNING: {warning}"))
        self.stdout.write(self.style.SUCCESS(f"AuthRocket sync done: {report.summary()}"))

    def _log(self, level: int, text: str, options: dict[str, Any]) -> None:
        if int(options["verbosity"]) >= level:
            self.stdout.write(text)

    def _progress(self, verbosity: int) -> Progress:
        if verbosity >= 1 and self.stdout.isatty():
            # tqdm is optional (the "progress" extra): without it, plain lines.
            with contextlib.suppress(ImportError):
                return BarProgress(cast("TextIO", self.stdout._out))
        return LineProgress(self.stdout.write, verbosity)


class LineProgress:
    """Plain lines: one per page at verbosity 2+, one per resource at verbosity 1."""

    def __init__(self, write: Any, verbosity: int) -> None:
        self.write = write
        self.verbosity = verbosity
        self.seen: dict[Resource, int] = {}

    def __call__(self, page: PageResult) -> None:
        seen = self.seen[page.resource] = self.seen.get(page.resource, 0) + page.counts.seen
        if self.verbosity >= 2:
            self.write(
                f"{page.resource} page {page.number}: {page.counts.describe()} "
                f"({seen} so far, last id {page.last_id})"
            )

    def close(self) -> None:
        if self.verbosity >= 1:
            for resource, seen in self.seen.items():
                self.write(f"{resource}: {seen} read from AuthRocket")


class BarProgress:
    """A tqdm bar per resource (the total is unknown: the API does not count)."""

    def __init__(self, stream: TextIO) -> None:
        # Optional (an extra): imported by name so type checks need neither it nor its stubs.
        self._tqdm = importlib.import_module("tqdm").tqdm
        self.stream = stream
        self.bars: dict[Resource, Any] = {}
        self.totals: dict[Resource, Counts] = {}

    def __call__(self, page: PageResult) -> None:
        bar = self.bars.get(page.resource)
        if bar is None:
            for other in self.bars.values():
                other.close()
            bar = self.bars[page.resource] = self._tqdm(
                desc=f"AuthRocket {page.resource}", unit=" obj", file=self.stream
            )
        total = self.totals.setdefault(page.resource, Counts())
        total.add(page.counts)
        bar.update(page.counts.seen)
        bar.set_postfix_str(total.describe(), refresh=False)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()

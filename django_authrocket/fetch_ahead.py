"""Fetch a listing's next page in a background thread while the caller writes the current one.

:mod:`django_authrocket.sync` reads users and orgs through :class:`FetchedAhead`, so the
database's time and AuthRocket's overlap, from the first page on (it is requested before the
listing's checkpoint is reset or created).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from .client import Page


class FetchedAhead:
    """The pages of a listing, each next one fetched in a background thread while the caller
    writes the one it was given: the database's time and AuthRocket's overlap. The first fetch
    starts at once. Only the HTTP call runs there (no database connection is touched off the
    caller's thread); a failed fetch raises here, after every page before it was handed over,
    in order. :meth:`close` when done (it waits for a fetch under way)."""

    def __init__(self, pages: Iterator[Page]) -> None:
        self._pages = pages
        self._fetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="authrocket-sync")
        self._following = self._submit()

    def _submit(self) -> Future[Page | None]:
        # The caller's context goes along (Django's active language is the Accept-Language).
        return self._fetcher.submit(contextvars.copy_context().run, self._fetch)

    def _fetch(self) -> Page | None:
        return next(self._pages, None)

    def __iter__(self) -> Iterator[Page]:
        return self

    def __next__(self) -> Page:
        page = self._following.result()
        if page is None:
            raise StopIteration
        self._following = self._submit()
        return page

    def close(self) -> None:
        self._fetcher.shutdown(wait=True, cancel_futures=True)

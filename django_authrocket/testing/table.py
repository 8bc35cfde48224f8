"""An insertion-ordered table with keyset pagination that costs O(page), not O(table)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar


class HasId(Protocol):
    """Anything stored in a :class:`Table`: it has a string ``id``."""

    @property
    def id(self) -> str: ...


RowT = TypeVar("RowT", bound=HasId)


class Table(Generic[RowT]):
    """Rows kept in insertion order, found by id in O(1), paged by ``after=<id>`` in O(page).

    Every id ever added keeps its position, even after the row is removed, so a client that
    pages with ``after=<an id that was deleted meanwhile>`` carries on where it was instead of
    starting over. Not thread-safe on its own: the store guards every table with its lock.
    """

    def __init__(self) -> None:
        self._rows: dict[str, RowT] = {}
        self._order: list[str] = []
        self._position: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[RowT]:
        return iter(self._rows.values())

    def __contains__(self, row_id: object) -> bool:
        return row_id in self._rows

    def get(self, row_id: str) -> RowT | None:
        """Return the row with this id, or None."""
        return self._rows.get(row_id)

    def put(self, row: RowT) -> None:
        """Add a row at the end, or replace the row with the same id in place."""
        if row.id not in self._position:
            self._position[row.id] = len(self._order)
            self._order.append(row.id)
        self._rows[row.id] = row

    def remove(self, row_id: str) -> RowT | None:
        """Remove and return the row with this id (None if absent); its position is kept."""
        return self._rows.pop(row_id, None)

    def page(
        self,
        *,
        after: str | None,
        limit: int,
        where: Callable[[RowT], bool] | None = None,
        descending: bool = False,
    ) -> tuple[list[RowT], bool]:
        """Return up to ``limit`` rows after the row ``after`` and whether more rows follow.

        An ``after`` id this table has never seen yields an empty page.
        """
        step = -1 if descending else 1
        if after is None:
            index = len(self._order) - 1 if descending else 0
        elif after in self._position:
            index = self._position[after] + step
        else:
            return [], False
        found: list[RowT] = []
        while 0 <= index < len(self._order):
            row = self._rows.get(self._order[index])
            index += step
            if row is None or (where is not None and not where(row)):
                continue
            if len(found) == limit:
                return found, True
            found.append(row)
        return found, False

"""The log of requests the emulator received, for assertions in tests."""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass


class Headers(dict[str, str]):
    """Request headers as a plain dict (names as sent) with case-insensitive lookups."""

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` in any letter case, or ``default``."""
        lowered = name.lower()
        for key, value in self.items():
            if key.lower() == lowered:
                return value
        return default


@dataclass
class RecordedRequest:
    """One request the emulator received, logged on arrival.

    ``status`` is 0 until an answer is sent, and stays 0 when none is (the ``drop`` fault).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    status: int
    at: float  # arrival, unix seconds
    fault: str | None = None  # the kind of the injected fault that spoiled it, if any
    request_id: str = ""  # the X-Request-ID of the answer

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup: ``req.header("authrocket-api-key")``."""
        return self.headers.get_header(name)


class RequestLog:
    """Thread-safe, append-only list of :class:`RecordedRequest`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def add(self, entry: RecordedRequest) -> None:
        """Record a request."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RecordedRequest]:
        """A copy of the log, oldest first."""
        with self._lock:
            return list(self._entries)

    def count(self, path: str = "*", method: str | None = None) -> int:
        """How many requests matched the fnmatch ``path`` pattern (and ``method``)."""
        wanted = method.upper() if method else None
        with self._lock:
            return sum(
                1
                for entry in self._entries
                if (wanted is None or entry.method == wanted)
                and fnmatch.fnmatchcase(entry.path, path)
            )

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._entries.clear()

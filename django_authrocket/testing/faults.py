"""Fault injection: make chosen requests fail the ways real networks and servers fail."""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field
from typing import Literal, get_args

FaultKind = Literal[
    "status",  # answer `status` with a JSON errors body (and Retry-After when given)
    "latency",  # sleep `delay` seconds, then answer normally
    "drop",  # close the connection without answering
    "reset",  # send the headers and half the body, then close
    "malformed_json",  # 200 with a body that is not JSON
    "truncated_json",  # 200 with the real JSON body cut in half (Content-Length matches)
    "html",  # 200 text/html error page, as a proxy in front of the API would send
    "content_type",  # 200 with the real JSON body but Content-Type text/plain
    "oversize",  # 200 with a ~20 MB JSON body
    "body",  # `status` with exactly `body` labelled `content_type` (set them on the Fault)
]

FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))


@dataclass(eq=False)
class Fault:
    """One injected fault. ``hits`` counts the requests it has spoiled so far.

    ``path`` is an fnmatch pattern on the URL path (no query), ``method`` None means any.
    ``times`` None keeps the fault until cleared; otherwise it is spent after that many hits.
    ``skip`` lets that many matching requests through first (a listing that fails from its
    second page on, whenever the client fetches it).
    ``body`` and ``content_type`` are what the ``body`` kind answers (with ``status``); set
    them on the returned fault, and change them between requests to serve one answer after
    another (fuzzing a client with arbitrary bytes).
    """

    path: str = "*"
    method: str | None = None
    kind: FaultKind = "status"
    status: int = 503
    retry_after: int | str | None = None
    delay: float = 0.0
    times: int | None = 1
    probability: float = 1.0
    body: bytes = b""
    content_type: str | None = "application/json"
    skip: int = 0
    hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(FAULT_KINDS)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or None for 'until cleared'")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.method is not None:
            self.method = self.method.upper()

    @property
    def spent(self) -> bool:
        """True once the fault has been used ``times`` times."""
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (ignores probability and use count)."""
        return (self.method is None or self.method == method) and fnmatch.fnmatchcase(
            path, self.path
        )

    def try_hit(self, method: str, path: str) -> bool:
        """Count a hit and return True when this fault spoils this request."""
        if not self.matches(method, path):
            return False
        with self._lock:
            if self.spent or random.random() >= self.probability:
                return False
            if self.skip > 0:
                self.skip -= 1
                return False
            self.hits += 1
            return True


class FaultList:
    """The faults in force, first injected first tried. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Put a fault in force."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that spoils this request, if any (its hit is counted)."""
        with self._lock:
            self._faults = [fault for fault in self._faults if not fault.spent]
            candidates = list(self._faults)
        return next((fault for fault in candidates if fault.try_hit(method, path)), None)

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for fault in self._faults if not fault.spent)

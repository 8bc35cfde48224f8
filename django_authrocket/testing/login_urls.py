"""The connected app's Login URLs: where LoginRocket may send a browser back to.

LoginRocket sends a person back to the app only at one of the Login URLs configured for the
connected app: the first is the "Default Login URL", used when no ``redirect_uri`` is given,
and a ``redirect_uri`` must match one of them, "equal or more specific"
(authrocket.com/docs/loginrocket_urls, "Redirecting back to your app"). The emulator answers
any other ``redirect_uri`` with an error page, never a redirect.

"More specific" here: the same scheme, host and port, and a path that is the registered path
or goes on below it (``https://app.example/`` allows ``https://app.example/login/?next=/x``;
``https://app.example/login`` allows ``/login/`` and ``/login?next=...`` but not ``/logins``).
A registered query must begin the ``redirect_uri``'s query.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from urllib.parse import SplitResult, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class BadLoginURL(ValueError):
    """A Login URL that is not an absolute http(s) URL."""


class LoginURLs:
    """The registered Login URLs, first one the default; thread-safe."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._urls: list[str] = []
        for url in urls:
            self.add(url)

    def add(self, url: str) -> None:
        """Register ``url`` (after the ones already registered)."""
        if _origin(urlsplit(url)) is None:
            raise BadLoginURL(f"a Login URL must be an absolute http(s) URL, not {url!r}")
        with self._lock:
            if url not in self._urls:
                self._urls.append(url)

    def replace(self, urls: Iterable[str]) -> None:
        """Register exactly ``urls`` (in order), forgetting the others."""
        fresh = LoginURLs(urls)
        with self._lock:
            self._urls = list(fresh._urls)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._urls))

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._urls)

    @property
    def default(self) -> str | None:
        """The Default Login URL: the first registered, None when there is none."""
        with self._lock:
            return self._urls[0] if self._urls else None

    def allows(self, redirect_uri: str) -> bool:
        """Whether ``redirect_uri`` is a registered Login URL or more specific than one."""
        with self._lock:
            urls = list(self._urls)
        return any(_within(redirect_uri, url) for url in urls)


def _origin(parts: SplitResult) -> tuple[str, str, int] | None:
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _within(candidate: str, registered: str) -> bool:
    """``candidate`` equals ``registered`` or is more specific (see the module docstring)."""
    have, want = urlsplit(candidate), urlsplit(registered)
    origin = _origin(have)
    if origin is None or origin != _origin(want):
        return False
    path, base = have.path or "/", want.path or "/"
    if not (path == base or path.startswith(base if base.endswith("/") else base + "/")):
        return False
    return have.query.startswith(want.query) if path == base else not want.query

"""``AUTHROCKET_CACHE`` as the package uses it: a cache that fails is an outage, never a 500.

The replay marks (:mod:`~django_authrocket.verification`), the shared key set and its fetch
throttle (:mod:`~django_authrocket.keys`) and the recheck answers (:mod:`~django_authrocket.
recheck`) all go through :func:`shared_cache`. Any error a backend raises (Django's
``RedisCache`` raises redis-py's ``ConnectionError`` when Redis is down, pymemcache its own,
the database cache a ``DatabaseError``) becomes :class:`~django_authrocket.exceptions.
CacheUnavailable`, an :class:`~django_authrocket.exceptions.APIUnavailable`: the login view and
Bearer answer 503, the api-mode recheck applies ``AUTHROCKET_RECHECK_GRACE``, exactly as when
AuthRocket is unreachable, and the caller's log line says so. Nothing is remembered between
calls, so the site recovers by itself the moment the cache is back. The error names the
backend error's class only: a backend's message may carry its URL and password.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.cache import caches

from .conf import app_settings
from .exceptions import CacheUnavailable


class SharedCache:
    """The few cache operations the package uses, each turning a backend error into
    :class:`CacheUnavailable`."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("get_many", list(keys))
        return found

    def add(self, key: str, value: Any, timeout: float | None) -> bool:
        return bool(self._call("add", key, value, timeout=timeout))

    def set(self, key: str, value: Any, timeout: float | None) -> None:
        self._call("set", key, value, timeout=timeout)

    def set_many(self, values: Mapping[str, Any], timeout: float | None) -> None:
        self._call("set_many", dict(values), timeout=timeout)

    def delete(self, key: str) -> None:
        self._call("delete", key)

    def delete_many(self, keys: Iterable[str]) -> None:
        self._call("delete_many", list(keys))

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(caches[self.alias], operation)  # an unknown alias stays a config error
        try:
            return method(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any backend's failure: Redis down, a DatabaseError
            raise CacheUnavailable(
                f"the cache {self.alias!r} failed ({exc.__class__.__name__} in {operation})"
            ) from None


def shared_cache(alias: str | None = None) -> SharedCache:
    """``AUTHROCKET_CACHE`` (or the cache ``alias``), guarded."""
    return SharedCache(alias if alias is not None else app_settings.CACHE)

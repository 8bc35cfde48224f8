"""One login per token: a LoginRocket token that logged a browser in cannot log in another.

The mark is the token's digest (never the token) in ``AUTHROCKET_CACHE``, kept until the token
expires, so every worker sees it. Keyed by the token itself rather than by session id and issue
time: LoginRocket issues new tokens for the same session (an account switch), and those are
new logins, not replays.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.core.cache import caches
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .conf import app_settings

#: How long a mark lives when the token says nothing about its expiry.
DEFAULT_LIFETIME = 3600.0


@sensitive_variables("token")
def first_use(token: str, expires_at: datetime | None) -> bool:
    """Mark ``token`` as used; False when it already was (a replay)."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    lifetime = DEFAULT_LIFETIME
    if expires_at is not None:
        lifetime = (expires_at - timezone.now()).total_seconds()
    timeout = max(1, int(lifetime) + app_settings.JWT_LEEWAY + 1)
    cache = caches[app_settings.CACHE]
    return bool(cache.add(f"authrocket:used:{digest}", 1, timeout=timeout))

"""HTTP manners shared by the Core API client and the key set fetcher.

Both identify themselves the same way, back off the same way, and read ``Retry-After`` the same
way, so AuthRocket sees one well-behaved library rather than two.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime
from typing import Final

import requests

from . import __version__

#: AuthRocket asks libraries used by third parties to name themselves, their version and a URL.
USER_AGENT: Final = (
    f"django-authrocket/{__version__} (+https://github.com/django-authrocket/django-authrocket)"
)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): 0.25, 0.5, 1... with full jitter.

    The jitter spreads the retries of many workers hit by the same outage.
    """
    return random.uniform(0, 0.25 * 2 ** (attempt - 1))  # noqa: S311 - not for security


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if usable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())

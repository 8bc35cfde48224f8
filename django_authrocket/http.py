"""HTTP manners shared by the Core API client and the key set fetcher.

Both identify themselves the same way, back off the same way, and read ``Retry-After`` the same
way, so AuthRocket sees one well-behaved library rather than two.
"""

from __future__ import annotations

import logging
import random
import re
import time
from email.utils import parsedate_to_datetime
from typing import Final, TypeGuard

import requests

from . import __version__

#: AuthRocket asks libraries used by third parties to name themselves, their version and a URL.
USER_AGENT: Final = (
    f"django-authrocket/{__version__} (+https://github.com/django-authrocket/django-authrocket)"
)


#: A compact JWS: its header is a base64url JSON object, so it starts ``ey`` (``{"`` or ``{ ``)
#: or ``ew`` (``{`` and a line break or tab), then two dots.
_TOKEN = re.compile(r"e[wy][A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
#: The logger whose DEBUG line names every request URL (``"GET /api/v2/sessions/<path>"``).
URLLIB3_LOGGER: Final = "urllib3.connectionpool"


def redact(text: str) -> str:
    """``text`` with every login token in it replaced by ``<token>``."""
    return _TOKEN.sub("<token>", text)


def redact_tokens(record: logging.LogRecord) -> bool:
    """Logging filter: replace login tokens in a record's message and arguments by ``<token>``.

    The app installs it on urllib3's connection pool logger, whose DEBUG line shows each
    request's URL: a Get Session by token (``"api"`` mode, Bearer tokens) has the token in the
    path, because that is how the Core API takes it.
    """
    if isinstance(record.msg, str) and "/" in record.msg:
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple) and any(_is_path(arg) for arg in record.args):
        record.args = tuple(redact(arg) if _is_path(arg) else arg for arg in record.args)
    return True


def _is_path(value: object) -> TypeGuard[str]:
    """A URL or path (not a host name, which could look like a token's first part)."""
    return isinstance(value, str) and "/" in value


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

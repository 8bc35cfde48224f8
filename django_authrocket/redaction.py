"""Keep login tokens out of log lines: :func:`redact` for text, :func:`redact_tokens` as a filter.

The app installs the filter on :data:`FILTERED_LOGGERS` when it starts, so a new project's
``runserver`` log shows ``GET /login/?token=<token>``, never the token. A leaf module: it imports
nothing from the package, so any module (the emulator's request log included) may use it without
pulling in Django settings or the HTTP client.
"""

from __future__ import annotations

import logging
import re
from typing import Final, TypeGuard

#: A compact JWS: its header is a base64url JSON object, so it starts ``ey`` (``{"`` or ``{ ``)
#: or ``ew`` (``{`` and a line break or tab), then two dots.
_TOKEN = re.compile(r"e[wy][A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
#: The logger whose DEBUG line names every request URL (``"GET /api/v2/sessions/<path>"``).
URLLIB3_LOGGER: Final = "urllib3.connectionpool"
#: Every logger the app filters: urllib3's, runserver's request log (``"GET /login/?token=…"``
#: as LoginRocket sends people back) and Django's request errors.
FILTERED_LOGGERS: Final = (URLLIB3_LOGGER, "django.server", "django.request")


def redact(text: str) -> str:
    """``text`` with every login token in it replaced by ``<token>``."""
    return _TOKEN.sub("<token>", text)


def redact_tokens(record: logging.LogRecord) -> bool:
    """Logging filter: replace login tokens in a record's message and arguments by ``<token>``.

    The app installs it on each of :data:`FILTERED_LOGGERS`: urllib3's connection pool logger,
    whose DEBUG line shows each request's URL (a Get Session by token has the token in the path,
    because that is how the Core API takes it), and Django's ``django.server`` and
    ``django.request``, whose lines show the login URL LoginRocket sends people back to. Add it
    to any other logger that writes request URLs: ``logging.getLogger(name).addFilter(...)``.
    """
    if isinstance(record.msg, str) and "/" in record.msg:
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple) and any(_is_path(arg) for arg in record.args):
        record.args = tuple(redact(arg) if _is_path(arg) else arg for arg in record.args)
    return True


def _is_path(value: object) -> TypeGuard[str]:
    """A URL or path (not a host name, which could look like a token's first part)."""
    return isinstance(value, str) and "/" in value

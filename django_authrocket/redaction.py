"""Keep login tokens and session ids out of log lines: :func:`redact`, :func:`shown_session`.

A login token and an AuthRocket session id (``kss_...``) are both credentials: LoginRocket's
API answers ``GET /v2/session?session=kss_...`` with a fresh login token, nothing else needed.
So neither appears in full in a log line, an error message or an admin page: a token becomes
``<token>`` (or ``<token sha256:...>`` where lines must tell tokens apart), a session id
``<session sha256:...>``, the first 12 hex digits of its SHA-256. Support can still match
lines: ``printf %s kss_... | sha256sum | cut -c1-12`` gives the digest of a known id.

The app installs the filter on :data:`FILTERED_LOGGERS` when it starts, so a new project's
``runserver`` log shows ``GET /login/?token=<token>``, never the token. A leaf module: it imports
nothing from the package, so any module (the emulator's request log included) may use it without
pulling in Django settings or the HTTP client.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Final, TypeGuard

#: A compact JWS: its header is a base64url JSON object, so it starts ``ey`` (``{"`` or ``{ ``)
#: or ``ew`` (``{`` and a line break or tab), then two dots.
_TOKEN = re.compile(r"e[wy][A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
#: An AuthRocket session id: ``kss_`` and its random part.
_SESSION_ID = re.compile(r"\bkss_[A-Za-z0-9]{8,}")
#: The logger whose DEBUG line names every request URL (``"GET /api/v2/sessions/<path>"``).
URLLIB3_LOGGER: Final = "urllib3.connectionpool"
#: How many hex digits of a SHA-256 a masked value shows.
DIGEST_LENGTH: Final = 12


def digest(value: str) -> str:
    """The first :data:`DIGEST_LENGTH` hex digits of ``value``'s SHA-256."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_LENGTH]


def shown_session(session_id: str) -> str:
    """``session_id`` as a log line, message or page may show it.

    A session id becomes ``<session sha256:0123456789ab>``; a login token (``"api"`` mode
    rechecks a Bearer token under its own value, see verification.py) becomes
    ``<token sha256:0123456789ab>``. Both still tell two sessions apart.
    """
    kind = "token" if "." in session_id or len(session_id) > 64 else "session"
    return f"<{kind} sha256:{digest(session_id)}>"


#: Every logger the app filters: urllib3's, runserver's request log (``"GET /login/?token=…"``
#: as LoginRocket sends people back) and Django's request errors.
FILTERED_LOGGERS: Final = (URLLIB3_LOGGER, "django.server", "django.request")


def redact(text: str) -> str:
    """``text`` with every login token replaced by ``<token>`` and every session id
    (``kss_...``) by its :func:`shown_session` form."""
    text = _TOKEN.sub("<token>", text)
    if "kss_" in text:
        text = _SESSION_ID.sub(lambda match: shown_session(match.group()), text)
    return text


def redact_tokens(record: logging.LogRecord) -> bool:
    """Logging filter: mask login tokens and session ids in a record's message and arguments.

    The app installs it on each of :data:`FILTERED_LOGGERS`: urllib3's connection pool logger,
    whose DEBUG line shows each request's URL (a Get Session by token has the token in the path,
    because that is how the Core API takes it, and every session call has the session id),
    and Django's ``django.server`` and ``django.request``, whose lines show the login URL
    LoginRocket sends people back to. Add it to any other logger that writes request URLs:
    ``logging.getLogger(name).addFilter(...)``.
    """
    if isinstance(record.msg, str) and "/" in record.msg:
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple) and any(_is_path(arg) for arg in record.args):
        record.args = tuple(redact(arg) if _is_path(arg) else arg for arg in record.args)
    return True


def _is_path(value: object) -> TypeGuard[str]:
    """A URL or path (not a host name, which could look like a token's first part)."""
    return isinstance(value, str) and "/" in value

"""Keep login tokens out of the logs.

LoginRocket sends people back to ``/login/?token=<JWT>``, so every access log line for that
request would hold a live token (and a ``session=`` LoginRocket may add: a session id is a
credential too). Web servers (nginx, gunicorn) need the same treatment; this
filter does it for ``runserver``'s request log.
"""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"([?&](?:token|session)=)[^&\s\"']+")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Replace the value of any ``token=`` or ``session=`` query parameter in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True

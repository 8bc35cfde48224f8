"""The LoginRocket API's HTTP manners: CORS, the per-client rate limit and request bodies.

Sources: "Accessing the LoginRocket API" (AuthRocket 2, /work/shared/seeds/004; AuthRocket 1,
seeds/001): CORS is supported for the realm's configured origins (scheme, host and a
non-default port; no path); calls are "tightly rate limited"; bodies are JSON or url-encoded
forms. authrocket-js loginrocket-js/lib/loginrocket.js sends ``Content-Type``,
``Accept-Language`` and ``LR-Agent`` headers, so a browser preflights every call; it treats
429 as "wait before trying again". The limits' figures, the preflight answer's details and
``Retry-After`` are the emulator's choice (not documented).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .options import RealmOptions
from .records import now
from .store import Store
from .wire import Request

ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOWED_HEADERS = "Accept, Accept-Language, Content-Type, LR-Agent, X-Requested-With"
PREFLIGHT_MAX_AGE = "600"


def allowed_origin(request: Request, options: RealmOptions) -> str | None:
    """The request's ``Origin`` when the realm allows it, else None."""
    origin = (request.header("Origin") or "").strip()
    if not origin or origin == "null":
        return None
    allowed = options.lr_cors_origins
    return origin if "*" in allowed or origin.rstrip("/") in allowed else None


def cors_headers(origin: str | None) -> list[tuple[str, str]]:
    """The CORS headers of an answer to an allowed origin (none for other origins).

    ``Vary: Origin`` always, since the answer depends on it. No ``Allow-Credentials``: the
    API takes the session in the query, never in a cookie or header (seeds/004).
    """
    headers = [("Vary", "Origin")]
    if origin is not None:
        headers += [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Expose-Headers", "X-Request-ID, Retry-After"),
        ]
    return headers


def preflight_headers(origin: str) -> list[tuple[str, str]]:
    """The extra headers of a successful preflight answer."""
    return [
        ("Access-Control-Allow-Methods", ALLOWED_METHODS),
        ("Access-Control-Allow-Headers", ALLOWED_HEADERS),
        ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE),
    ]


def client_address(request: Request, options: RealmOptions) -> str:
    """Whose request this counts as: the TCP peer, or the first ``X-Forwarded-For`` entry."""
    if options.lr_rate_limit_by == "forwarded":
        forwarded = (request.header("X-Forwarded-For") or "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.client or "unknown"


def rate_limited(store: Store, client: str, options: RealmOptions) -> int | None:
    """Count a request from ``client``; the seconds to wait when it is over the limit.

    A sliding window of ``lr_rate_window`` seconds holding at most ``lr_rate_limit``
    requests; refused requests are not counted.
    """
    at = now()
    window, limit = options.lr_rate_window, options.lr_rate_limit
    with store.lock:
        hits = [hit for hit in store.rate_hits.get(client, []) if hit > at - window]
        if len(hits) >= limit:
            store.rate_hits[client] = hits
            return max(1, math.ceil(hits[0] + window - at))
        hits.append(at)
        store.rate_hits[client] = hits
        return None


class BadBody(ValueError):
    """The body is neither a JSON object nor a form."""


def body_fields(request: Request) -> dict[str, Any]:
    """A POST/PUT body as a dict: JSON when it says so (or looks so), else a url-encoded form.

    Query parameters fill in what the body lacks (the session id travels in the query:
    seeds/004 "Authentication"; loginrocket.js sends it in the body of POST and PUT).
    """
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    fields: dict[str, Any]
    text = request.body.strip()
    if content_type == "application/json" or (not content_type and text.startswith(b"{")):
        try:
            fields = json.loads(request.body.decode("utf-8")) if text else {}
        except (UnicodeDecodeError, ValueError) as error:
            raise BadBody("not JSON") from error
        if not isinstance(fields, dict):
            raise BadBody("not a JSON object")
    elif content_type in ("", "application/x-www-form-urlencoded"):
        fields = dict(request.form())
    else:
        raise BadBody(f"unsupported content type {content_type}")
    for name, values in request.query.items():
        if values:
            fields.setdefault(name, values[0])
    return fields

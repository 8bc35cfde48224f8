"""The request and response values passed between the HTTP server and the route handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .recording import Headers

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """An HTTP request as the routes see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes = b""
    client: str = ""  # the TCP peer's address (the LoginRocket API's rate limit counts it)

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A header value (case-insensitive name), or None."""
        return self.headers.get_header(name)

    def form(self) -> dict[str, str]:
        """The body as an ``application/x-www-form-urlencoded`` form (first value of each)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in parsed.items()}


@dataclass
class Response:
    """An HTTP response; ``headers`` holds the extra headers besides the content type."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(
    status: int, data: Any, *, headers: list[tuple[str, str]] | None = None
) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(data).encode(), JSON_TYPE, list(headers or []))


def error_response(status: int, *messages: str) -> Response:
    """AuthRocket's error shape: ``{"errors": ["...", ...]}``."""
    return json_response(status, {"errors": list(messages)})


def html_response(
    status: int, page: str, *, headers: list[tuple[str, str]] | None = None
) -> Response:
    """An HTML page."""
    return Response(status, page.encode(), HTML_TYPE, list(headers or []))


def redirect(location: str, *, headers: list[tuple[str, str]] | None = None) -> Response:
    """A 302 to ``location``."""
    return Response(302, b"", None, [("Location", location), *(headers or [])])

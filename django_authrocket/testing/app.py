"""Routes a request to the JWKS document, the LoginRocket pages or the Core API."""

from __future__ import annotations

import re

from .core_api import CoreAPI
from .options import RealmOptions
from .pages import LoginRocketPages
from .signing import KeyRing
from .wire import Request, Response, error_response, html_response, json_response

_API_PATH = re.compile(r"/api/v(?P<generation>[12])(?:/(?P<rest>.*))?")


class EmulatorApp:
    """The whole emulated service as one callable: ``app(request) -> response``."""

    def __init__(
        self,
        keys: KeyRing,
        pages: LoginRocketPages,
        api: CoreAPI,
        options: RealmOptions | None = None,
    ) -> None:
        self.keys = keys
        self.pages = pages
        self.api = api
        self.options = options or RealmOptions()

    def __call__(self, request: Request) -> Response:
        """Answer one request."""
        if request.path == "/connect/jwks":
            if request.method != "GET":
                return error_response(405, f"Method {request.method} not allowed here")
            minimal = self.options.jwks_shape == "minimal"
            return json_response(
                200, self.keys.jwks(minimal=minimal), headers=[("Cache-Control", "max-age=300")]
            )
        match = _API_PATH.fullmatch(request.path)
        if match:
            return self.api.handle(request, int(match["generation"]), match["rest"] or "")
        if request.path.startswith("/api/"):
            return error_response(404, "Not found: the Core API lives under /api/v2 and /api/v1")
        page = self.pages.handle(request)
        if page is not None:
            return page
        return html_response(404, "<!doctype html><title>Not found</title><h1>Not found</h1>")

"""Routes a request to the JWKS document, the LoginRocket pages and API, or the Core API."""

from __future__ import annotations

import re

from .core_api import CoreAPI
from .loginrocket_api import LoginRocketAPI
from .options import RealmOptions
from .pages import LoginRocketPages
from .signing import KeyRing
from .wire import Request, Response, error_response, html_response, json_response

_API_PATH = re.compile(r"/api/v(?P<generation>[12])(?:/(?P<rest>.*))?")
# The LoginRocket API at <LoginRocket URL>/v2/ ("Accessing the LoginRocket API", AR2); no
# clash with the hosted pages (/login, /signup, ...) or the Core API (/api/v2).
_LR_API_PATH = re.compile(r"/v2(?:/(?P<rest>.*))?")


class EmulatorApp:
    """The whole emulated service as one callable: ``app(request) -> response``."""

    def __init__(
        self,
        keys: KeyRing,
        pages: LoginRocketPages,
        api: CoreAPI,
        options: RealmOptions | None = None,
        loginrocket_api: LoginRocketAPI | None = None,
    ) -> None:
        self.keys = keys
        self.pages = pages
        self.api = api
        self.options = options or RealmOptions()
        self.loginrocket_api = loginrocket_api

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
        lr_match = _LR_API_PATH.fullmatch(request.path)
        if lr_match and self.loginrocket_api is not None:
            return self.loginrocket_api.handle(request, lr_match["rest"] or "")
        if request.path.startswith("/api/"):
            return error_response(404, "Not found: the Core API lives under /api/v2 and /api/v1")
        page = self.pages.handle(request)
        if page is not None:
            return page
        return html_response(404, "<!doctype html><title>Not found</title><h1>Not found</h1>")

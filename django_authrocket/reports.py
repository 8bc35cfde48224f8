"""Keep a login token out of Django's error reports, from the moment the package takes it.

LoginRocket returns people with the token in the URL (``/login/?token=<JWT>``, or any path with
``AUTHROCKET_TOKEN_ANYWHERE``). Django's error reports (the DEBUG page, the ``mail_admins``
e-mail, ``django.request``'s log record) show a request's URL, its GET parameters and its
``QUERY_STRING`` as they are, and ``sensitive_variables`` hides only local variables, and only
with DEBUG off. So when the package takes a token from a request (:func:`take_token`, called by
the middleware and the login view before anything else) it:

* masks the token (and LoginRocket's ``session`` id) in the request itself: ``request.GET``,
  ``QUERY_STRING``, the servers' ``REQUEST_URI``/``RAW_URI`` and an ASGI scope's
  ``query_string``; so ``get_full_path()``, ``repr(request)`` and the report's "Request URL",
  GET and META sections show ``********************``;
* sets ``request.exception_reporter_filter`` to a :class:`TokenReportFilter`, which wraps the
  site's own filter and also replaces the token wherever else a report would show it (any META
  value, any local variable of any frame), with DEBUG on as well as off.

A Bearer token is in a header, which Django's filter hides already; the middleware still
:func:`hides <hide>` it too (:func:`hide_authorization`), for the local variables holding it.

The page that takes the token answers with a redirect or a failure page of its own, so no view
of the site reads the masked request.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable
from pprint import pformat
from typing import Any
from urllib.parse import unquote_plus

from django.http import HttpRequest, QueryDict
from django.views.debug import SafeExceptionReporterFilter, get_exception_reporter_filter

#: What a report shows instead of a secret (Django's own mask).
MASK = SafeExceptionReporterFilter.cleansed_substitute
#: The query parameters whose values are secrets: LoginRocket's login token and session id.
SECRET_PARAMS = ("token", "session")
#: The request headers (META keys) that hold the whole request line, query included.
URI_KEYS = ("REQUEST_URI", "RAW_URI")
#: Shorter values are masked where they are a parameter, not searched for elsewhere in a report.
MIN_SEARCHED_LENGTH = 8


class TokenReportFilter(SafeExceptionReporterFilter):
    """The site's exception reporter filter, plus: these secrets appear nowhere in the report.

    ``inner`` is the filter the request had before (the site's
    ``DEFAULT_EXCEPTION_REPORTER_FILTER``, or a per-request one): everything it hides stays
    hidden, and its output is then searched for the secrets, whatever ``DEBUG`` says.
    """

    def __init__(self, inner: SafeExceptionReporterFilter) -> None:
        self.inner = inner
        #: The values to mask, longest first.
        self.secrets: tuple[str, ...] = ()
        #: The login token :func:`take_token` took from the request, if any.
        self.token: str | None = None

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these values too (shorter ones than ``MIN_SEARCHED_LENGTH`` are not searched)."""
        found = {*self.secrets, *(s for s in secrets if len(s) >= MIN_SEARCHED_LENGTH)}
        self.secrets = tuple(sorted(found, key=len, reverse=True))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self.secrets)} masked value(s)>"

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by the mask."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def is_active(self, request: HttpRequest | None) -> bool:
        return self.inner.is_active(request)

    def get_safe_settings(self) -> dict[str, Any]:
        return self.inner.get_safe_settings()

    def get_safe_cookies(self, request: HttpRequest) -> dict[str, Any]:
        return self.inner.get_safe_cookies(request)

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        return {
            key: self.scrub(value) if isinstance(value, str) else value
            for key, value in self.inner.get_safe_request_meta(request).items()
        }

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, Any]:
        return self.inner.get_post_parameters(request)

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> ItemsView[str, Any]:
        shown = {
            name: self._scrubbed(value)
            for name, value in self.inner.get_traceback_frame_variables(request, tb_frame)
        }
        return shown.items()

    def _scrubbed(self, value: Any) -> Any:
        """``value``, or its printed form with the secrets masked when it shows one."""
        if not self.secrets:
            return value
        try:
            text = pformat(value)  # what the report prints (its ``pprint`` filter)
        except Exception:  # noqa: BLE001 - the report says "Error in formatting" itself
            return value
        scrubbed = self.scrub(text)
        return value if scrubbed == text else _Printed(scrubbed)


class _Printed:
    """A value the report prints as this text (``pformat`` uses ``repr``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def take_token(request: HttpRequest) -> str | None:
    """The request's ``?token=``, masked in the request from now on (see the module docs).

    The first call takes it from ``request.GET`` and masks LoginRocket's parameters; later calls
    (a login view subclass that asks again) return the same token. None when there is none.
    """
    current = get_exception_reporter_filter(request)
    if isinstance(current, TokenReportFilter) and current.token is not None:
        return current.token
    token = request.GET.get("token")
    secrets = [value for name in SECRET_PARAMS for value in request.GET.getlist(name)]
    if not secrets:
        return token
    request.GET = _masked_querydict(request.GET)  # type: ignore[assignment]  # immutable again
    query, raw = _masked_query(request.META.get("QUERY_STRING", ""))
    secrets += raw  # as sent: percent-encoded or not
    request.META["QUERY_STRING"] = query
    for key in URI_KEYS:
        value = request.META.get(key)
        if isinstance(value, str) and "?" in value:
            path, _, uri_query = value.partition("?")
            request.META[key] = f"{path}?{_masked_query(uri_query)[0]}"
    scope = getattr(request, "scope", None)  # ASGI: a server's access log may print it
    if isinstance(scope, dict) and isinstance(scope.get("query_string"), bytes):
        scope["query_string"] = _masked_query(scope["query_string"].decode("latin-1"))[0].encode(
            "latin-1"
        )
    shown = report_filter(request)
    shown.add(secrets)
    shown.token = token
    return token


def hide(request: HttpRequest, *secrets: str) -> None:
    """Mask these values wherever an error report about ``request`` would show them (its META
    and every frame's local variables). The request itself is left as it is."""
    report_filter(request).add(secrets)


def hide_authorization(request: HttpRequest) -> None:
    """:func:`hide` the ``Authorization`` header's credentials (a Bearer token) in the reports
    about ``request``: Django hides the header itself, not the local variables holding its token."""
    value = request.META.get("HTTP_AUTHORIZATION", "")
    hide(request, value, *(part.strip() for part in value.split(None, 1)[1:]))


def report_filter(request: HttpRequest) -> TokenReportFilter:
    """The request's :class:`TokenReportFilter`, set on it (around its filter) if needed."""
    current = get_exception_reporter_filter(request)
    if not isinstance(current, TokenReportFilter):
        current = TokenReportFilter(current)
        request.exception_reporter_filter = current
    return current


def _masked_querydict(params: QueryDict) -> QueryDict:
    masked = params.copy()
    for name in SECRET_PARAMS:
        if name in masked:
            masked.setlist(name, [MASK for _value in masked.getlist(name)])
    masked._mutable = False
    return masked


def _masked_query(query: str) -> tuple[str, list[str]]:
    """A raw query string with the secret parameters' values masked, and those values as sent.

    Split as Django's ``QueryDict`` splits it (on ``&``; the name decoded), so a value is found
    however it was encoded.
    """
    parts: list[str] = []
    values: list[str] = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if equals and unquote_plus(name) in SECRET_PARAMS:
            values.append(value)
            part = f"{name}={MASK}"
        parts.append(part)
    return "&".join(parts), values

"""Django's error reports never show a login token (issue 12, findings 3 and 11).

A server error while a URL carries a login token (the login view's ``?token=``, or any path
with ``AUTHROCKET_TOKEN_ANYWHERE``) used to put the token into the ``mail_admins`` e-mail (the
request URL, GET and ``QUERY_STRING``) and many more times into the DEBUG page (local
variables). Here real requests go through Django's handler and fail for real (a site's
``user_logged_in`` receiver that raises, a cache that cannot be written), and the reports are
rendered as Django renders them: as text and as HTML, with DEBUG on and off, as a page and as
the admins' e-mail. The token appears in none of them, and a token whose login failed that way
cannot be used again. Every answer that takes a token is never cached (finding 11).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import django
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.signals import user_logged_in
from django.core import mail
from django.core.management import call_command
from django.core.signals import got_request_exception
from django.db import connection
from django.test import AsyncClient, Client, RequestFactory
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from django_authrocket import reports
from django_authrocket.signals import authrocket_user_synced
from django_authrocket.testing import start_login
from tests.helpers import follow_refusal
from tests.log_capture import JWT, SecretScanner

pytestmark = pytest.mark.django_db

#: Where a token arrives: the login view (with the middleware, on a site without it, and a
#: site's subclass at its own path), and any path with AUTHROCKET_TOKEN_ANYWHERE.
PATHS = ("login view", "login view, no middleware", "login view subclass", "token anywhere")
MIDDLEWARE = "django_authrocket.middleware.AuthRocketMiddleware"
MASK = SafeExceptionReporterFilter.cleansed_substitute
SESSION_ID = "kss_reportscan0123456789abcdef"


class SiteFailure(RuntimeError):
    """What the site's own ``user_logged_in`` receiver raises."""


@pytest.fixture
def failing_receiver() -> Iterator[None]:
    """A site's ``user_logged_in`` receiver that fails: a 500 in the middle of a login."""

    def fail(**kwargs: Any) -> None:
        raise SiteFailure("the site's login hook failed")

    user_logged_in.connect(fail, dispatch_uid="tests.test_error_reports")
    yield
    user_logged_in.disconnect(dispatch_uid="tests.test_error_reports")


@pytest.fixture
def reported() -> Iterator[list[dict[str, str]]]:
    """Each request exception, rendered by Django's ExceptionReporter as text and as HTML, and
    as the e-mail version, at the moment Django's handler reports it (DEBUG as it is then)."""
    rendered: list[dict[str, str]] = []

    def render(sender: Any, request: Any, **kwargs: Any) -> None:
        exc_type, exc_value, tb = sys.exc_info()
        page = ExceptionReporter(request, exc_type, exc_value, tb)
        email = ExceptionReporter(request, exc_type, exc_value, tb, is_email=True)
        rendered.append(
            {
                "text": page.get_traceback_text(),
                "html": page.get_traceback_html(),
                "email text": email.get_traceback_text(),
                "email html": email.get_traceback_html(),
            }
        )

    got_request_exception.connect(render, dispatch_uid="tests.test_error_reports.render")
    yield rendered
    got_request_exception.disconnect(dispatch_uid="tests.test_error_reports.render")


def arrange(settings: Any, where: str) -> str:
    """Set the site up for ``where``; the path to visit."""
    settings.AUTHROCKET_TOKEN_ANYWHERE = where == "token anywhere"
    if where == "login view, no middleware":
        settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
    if where == "login view subclass":
        settings.ROOT_URLCONF = "tests.extra_urls"
        return "/shop/login/"
    return "/public/" if where == "token anywhere" else "/login/"


def visit(path: str, token: str, **extra: Any) -> Any:
    """GET ``path`` with LoginRocket's parameters, as a browser returning from LoginRocket; a
    refusal's redirect is followed to the failure page (``helpers.follow_refusal``)."""
    params = {"token": token, "account": "org_1", "session": SESSION_ID, "next": "/private/"}
    client = Client(raise_request_exception=False)
    start_login(client, **extra)  # the site's own login start: no confirmation asked
    return follow_refusal(client, client.get(path, params, **extra))


def assert_no_token(text: str, token: str) -> None:
    """Neither the token, nor its signature (the part that makes it usable), nor the session id."""
    assert token not in text, "the token is in the report"
    assert token.rsplit(".", 1)[1] not in text, "the token's signature is in the report"
    assert not JWT.search(text), "a JWT is in the report"
    assert SESSION_ID not in text, "LoginRocket's session id is in the report"


# --- finding 3: the reports ---------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize("where", PATHS)
def test_reports_of_a_failed_login_never_show_the_token(
    settings, emulator, ada, failing_receiver, reported, where, debug
) -> None:
    settings.DEBUG = debug
    path = arrange(settings, where)
    token = emulator.mint_token(ada["id"])

    response = visit(path, token)

    assert response.status_code == 500
    [report] = reported
    for kind, text in report.items():
        assert "the site&#x27;s login hook failed" in text or "the site's login hook failed" in text
        assert f"token={MASK}" in text, kind  # the URL and QUERY_STRING, masked
        assert "/private/" in text, kind  # the other parameters are still shown
        assert_no_token(text, token)
    assert MASK in report["text"].split("GET:")[1].split("POST:")[0]  # GET's token, masked


@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
@pytest.mark.parametrize("where", PATHS)
def test_the_debug_error_page_never_shows_the_token(
    settings, emulator, ada, failing_receiver, where, accept
) -> None:
    settings.DEBUG = True
    path = arrange(settings, where)
    token = emulator.mint_token(ada["id"])

    response = visit(path, token, HTTP_ACCEPT=accept)

    assert response.status_code == 500
    page = response.content.decode()
    assert "SiteFailure" in page and "Request URL" in page  # Django's technical 500 page
    assert_no_token(page, token)


@pytest.mark.django_db(transaction=True)
def test_the_debug_error_page_of_an_asgi_request_never_shows_the_token(
    settings, emulator, ada, failing_receiver
) -> None:
    settings.DEBUG = True
    settings.AUTHROCKET_TOKEN_ANYWHERE = True
    token = emulator.mint_token(ada["id"])

    async def fetch() -> Any:
        client = AsyncClient(raise_request_exception=False)
        await client.get("/login/")  # the site's own login start: no question asked
        return await client.get("/public/", {"token": token, "session": SESSION_ID})

    response = async_to_sync(fetch)()

    assert response.status_code == 500
    page = response.content.decode()
    assert "SiteFailure" in page
    assert_no_token(page, token)


@pytest.fixture
def admins(settings) -> list[Any]:
    """Django's ``mail_admins`` handler is on (ADMINS set, DEBUG off): the mails it sends."""
    # Django 6.0 takes plain addresses (and deprecates the (name, address) pairs 5.2 needs).
    settings.ADMINS = (
        ["admin@example.com"] if django.VERSION >= (6, 0) else [("Admin", "admin@example.com")]
    )
    if django.VERSION >= (6, 1):  # Django 6.1 names its mailers (no default one from 2028)
        settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.DEBUG = False
    mail.outbox = []
    return mail.outbox


@pytest.mark.parametrize("where", PATHS)
def test_the_admins_mail_about_a_failed_login_never_shows_the_token(
    settings, emulator, ada, failing_receiver, admins, where
) -> None:
    path = arrange(settings, where)
    token = emulator.mint_token(ada["id"])

    assert visit(path, token).status_code == 500

    [message] = admins
    assert "Internal Server Error" in message.subject
    assert "SiteFailure" in message.body and f"token={MASK}" in message.body
    assert_no_token(message.subject + message.body, token)


@pytest.fixture
def broken_cache(settings, tmp_path) -> None:
    """``AUTHROCKET_CACHE`` names a real file cache whose directory cannot exist."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(blocker / "cache"),
        },
    }
    settings.AUTHROCKET_CACHE = "broken"


@pytest.mark.parametrize("where", PATHS)
def test_the_admins_mail_about_a_cache_outage_never_shows_the_token(
    settings, emulator, ada, broken_cache, admins, where
) -> None:
    path = arrange(settings, where)
    token = emulator.mint_token(ada["id"])

    response = visit(path, token)

    assert response.status_code >= 500  # a 500 today, a 503 once cache outages are handled
    assert admins, "Django mailed no report"
    for message in admins:
        assert f"token={MASK}" in message.body
        assert_no_token(message.subject + message.body, token)


@pytest.mark.parametrize(
    ("method", "message"),
    [("get", "Unauthorized: /login/failed/"), ("head", "Method Not Allowed (HEAD): /login/")],
)
def test_django_request_log_records_carry_the_masked_request(
    emulator, ada, caplog, method, message
) -> None:
    """``django.request`` attaches the request to its record (AdminEmailHandler and other
    handlers read it): for a refused method (405) it is masked; a refused login's 401 is the
    failure page's, whose request never carried the token."""
    caplog.set_level(logging.INFO, logger="django.request")
    expired = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)
    params = {"token": expired, "session": SESSION_ID}

    client = Client()
    response = follow_refusal(client, getattr(client, method)("/login/", params))

    assert response.status_code in (401, 405)
    [record] = [r for r in caplog.records if r.name == "django.request"]
    request = record.request  # type: ignore[attr-defined]
    assert record.getMessage() == message
    if method == "head":
        assert request.GET["token"] == MASK and request.GET["session"] == MASK
    else:
        assert "token" not in request.GET and "session" not in request.GET
    for shown in (request.get_full_path(), request.META["QUERY_STRING"], repr(request)):
        assert_no_token(shown, expired)


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize("reader", ["middleware", "DRF only"])
def test_reports_of_a_failed_bearer_request_never_show_the_token(
    settings, emulator, ada, reported, debug, reader
) -> None:
    """Django hides the Authorization header itself; the local variables holding its token
    are hidden by the request's filter, whatever DEBUG says (``sensitive_variables`` works
    only with DEBUG off). Read by the middleware, or only by DRF's AuthRocketAuthentication
    (here, without the middleware): ``bearer.authenticate()`` sets the filter for both."""
    settings.DEBUG = debug
    path = "/api/me/"
    if reader == "DRF only":
        pytest.importorskip("rest_framework", reason="needs the drf extra (installed by make test)")
        settings.ROOT_URLCONF = "tests.drf_urls"
        settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
        path = "/drf/me/"
    token = emulator.mint_token(ada["id"])

    def fail(**kwargs: Any) -> None:
        raise SiteFailure("the site's sync hook failed")

    authrocket_user_synced.connect(fail, dispatch_uid="tests.test_error_reports.bearer")
    try:
        response = Client(raise_request_exception=False).get(
            path, HTTP_AUTHORIZATION=f"Bearer {token}"
        )
    finally:
        authrocket_user_synced.disconnect(dispatch_uid="tests.test_error_reports.bearer")

    assert response.status_code == 500
    [report] = reported
    for text in report.values():
        assert "sync hook failed" in text
        assert_no_token(text, token)


# --- the replay mark survives a server error ----------------------------------------------------


@pytest.mark.parametrize("where", PATHS)
def test_a_token_whose_login_ended_in_a_500_cannot_log_in_again(
    settings, emulator, ada, failing_receiver, where
) -> None:
    path = arrange(settings, where)
    token = emulator.mint_token(ada["id"])
    assert visit(path, token).status_code == 500
    user_logged_in.disconnect(dispatch_uid="tests.test_error_reports")  # the site is fixed

    response = visit(path, token)  # someone replays the mailed URL

    assert response.status_code in (401, 403)  # 403: the subclass's own failure answer
    assert b"replayed" in response.content


def test_the_replay_mark_survives_the_rollback_of_an_atomic_request(
    settings, emulator, ada, failing_receiver, monkeypatch
) -> None:
    """With ``ATOMIC_REQUESTS`` the view runs in a transaction that a 500 rolls back; a replay
    mark kept in a database cache must not be rolled back with it."""
    settings.CACHES = {
        **settings.CACHES,
        "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "ar_cache"},
    }
    call_command("createcachetable", "ar_cache", verbosity=0)
    settings.AUTHROCKET_CACHE = "db"
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    token = emulator.mint_token(ada["id"])
    assert visit("/login/", token).status_code == 500
    user_logged_in.disconnect(dispatch_uid="tests.test_error_reports")

    response = visit("/login/", token)

    assert response.status_code == 401
    assert b"replayed" in response.content


# --- the masking itself -------------------------------------------------------------------------


def test_take_token_masks_every_copy_of_the_query_in_the_request() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLXBhcnQ"
    query = f"next=%2Fa%2F&token={token.replace('.', '%2E')}&session={SESSION_ID}&tab=2"
    request = RequestFactory().get(
        f"/here/?{query}", REQUEST_URI=f"/here/?{query}", RAW_URI=f"/here/?{query}"
    )

    assert reports.take_token(request) == token
    assert reports.take_token(request) == token  # again (the login view after the middleware)

    assert request.GET.dict() == {"next": "/a/", "token": MASK, "session": MASK, "tab": "2"}
    assert not request.GET._mutable  # type: ignore[attr-defined]
    expected = f"next=%2Fa%2F&token={MASK}&session={MASK}&tab=2"
    assert request.META["QUERY_STRING"] == expected
    assert request.META["REQUEST_URI"] == request.META["RAW_URI"] == f"/here/?{expected}"
    assert request.get_full_path() == f"/here/?{expected}"


def test_take_token_leaves_a_request_without_one_alone() -> None:
    request = RequestFactory().get("/login/", {"next": "/a/"})
    assert reports.take_token(request) is None
    assert not hasattr(request, "exception_reporter_filter")
    assert request.get_full_path() == "/login/?next=%2Fa%2F"


class SiteFilter(SafeExceptionReporterFilter):
    """A site's own reporter filter: it hides one more META value."""

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        meta["HTTP_X_SITE_SECRET"] = "hidden by the site"
        return meta


def test_the_filter_keeps_what_the_sites_own_filter_hides(settings) -> None:
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "tests.test_error_reports.SiteFilter"
    from django.views.debug import get_default_exception_reporter_filter

    get_default_exception_reporter_filter.cache_clear()
    try:
        token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLXBhcnQ"
        request = RequestFactory().get(
            "/login/", {"token": token}, HTTP_X_SITE_SECRET="s3cr3t", HTTP_X_ECHO=f"t={token}"
        )
        reports.take_token(request)
        try:
            raise SiteFailure("boom")
        except SiteFailure:
            text = ExceptionReporter(request, *sys.exc_info()).get_traceback_text()
    finally:
        get_default_exception_reporter_filter.cache_clear()
    assert "hidden by the site" in text and "s3cr3t" not in text
    assert f"t={MASK}" in text  # any other header that echoes the token
    assert token not in text


# --- the suite-wide log scan looks at the request of a record -----------------------------------


def test_the_log_scan_finds_a_token_in_the_request_attached_to_a_record(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    scanner = SecretScanner()
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Bad: /x/", (), None)
    record.request = RequestFactory().get("/x/", {"token": token})

    scanner.emit(record)

    [offence] = scanner.check("here")
    assert offence.kind == "a JWT" and offence.logger == "django.request"
    assert token not in offence.line  # the report masks what it found

    masked = RequestFactory().get("/x/", {"token": token})
    reports.take_token(masked)
    record.request = masked
    scanner.emit(record)
    assert scanner.check("here") == []


# --- finding 11: never cached -------------------------------------------------------------------


NEVER_CACHE = {"max-age=0", "no-cache", "no-store", "must-revalidate", "private"}


@pytest.mark.parametrize("outcome", ["accepted", "refused", "unavailable"])
@pytest.mark.parametrize("where", [where for where in PATHS if where != "login view subclass"])
def test_every_answer_that_takes_a_token_is_never_cached(
    settings, emulator, ada, where, outcome
) -> None:
    path = arrange(settings, where)
    token = emulator.mint_token(ada["id"])
    if outcome == "refused":
        token = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)
    if outcome == "unavailable":
        settings.AUTHROCKET_VERIFY = "api"
        settings.AUTHROCKET_HTTP_RETRIES = 0
        emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)

    response = visit(path, token)

    assert response.status_code == {"accepted": 302, "refused": 401, "unavailable": 503}[outcome]
    # A refusal: the redirect that took the token, and the failure page it leads to.
    for answer in [response, getattr(response, "refusal", response)]:
        directives = {part.strip() for part in answer["Cache-Control"].split(",")}
        assert directives >= NEVER_CACHE
        assert "Expires" in answer
    assert hasattr(response, "refusal") == (outcome != "accepted")

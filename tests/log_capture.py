"""pytest plugin: every log line of the whole suite is scanned for tokens, API keys and secrets.

Registered from ``tests/conftest.py`` (``pytest_plugins``). For the whole session it:

* sets the root logger to DEBUG and attaches one :class:`SecretScanner` handler to it, so every
  record that propagates to the root (django_authrocket's, Django's, urllib3's, the emulator's,
  from any thread) is formatted once and kept until the end of the current test, together with
  the request attached to it (``record.request``: its full path, GET and raw query string, what
  ``AdminEmailHandler`` would mail; not for a test marked ``token_in_site_url``, which puts a
  token in a URL of the site's own on purpose: the package masks only what it takes);
* learns the secret values the tests use: every ``AUTHROCKET_API_KEY``,
  ``AUTHROCKET_WEBHOOK_SECRET``, ``AUTHROCKET_WEBHOOK_BASIC_AUTH`` and HS256
  ``AUTHROCKET_JWT_KEY`` set through ``settings``/``override_settings`` (Django's
  ``setting_changed`` signal) or found in the environment or settings at the end of a test;
* knows the passwords people type in the suite: the emulator's demo passwords
  (``django_authrocket.testing.demo.DEMO_PASSWORDS``) and :data:`TEST_PASSWORDS`, the ones the
  in-site login forms' tests type (django-authrocket never stores or logs a password);
* at the end of each test (the teardown report) checks that test's lines for a JWT (three
  base64url parts, the first starting ``eyJ``), an AuthRocket API key (``ks_...``), an
  AuthRocket session id (``kss_...``: LoginRocket's API trades one for a login token, so it is
  a credential; the emulator issues ``kss_`` and 22 random characters) or one of the learned
  secret values. A hit fails that test (reported as an error in teardown, naming the
  logger and showing the line with the secret masked), so the offender is named even under
  pytest-randomly's ordering or pytest-xdist's workers;
* at session finish checks the lines logged after the last test (thread shutdowns) and, if
  anything is found there, prints it and sets the exit status to "tests failed".

The cost is one ``Formatter.format`` and two regex searches per record: a few milliseconds for
the whole suite. Loggers that do not propagate (``django.server``, which only ``runserver``
uses) are not seen; subprocesses (the example site, gunicorn) log in their own processes.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

#: A compact JWS: three base64url parts, the header a JSON object (``{"`` is ``eyJ``).
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
#: An AuthRocket API key (``ks_...``; the emulator's are ``ks_emulator_<random>``).
API_KEY = re.compile(r"\bks_[A-Za-z0-9_]{12,}")
#: An AuthRocket session id (``kss_...``; the emulator's are ``kss_`` and 22 random characters).
SESSION_ID = re.compile(r"\bkss_[A-Za-z0-9]{12,}")
#: Settings (and their environment variables) whose values must never reach a log.
SECRET_SETTINGS = (
    "AUTHROCKET_API_KEY",
    "AUTHROCKET_WEBHOOK_SECRET",
    "AUTHROCKET_WEBHOOK_BASIC_AUTH",
    "AUTHROCKET_JWT_KEY",
)
#: Passwords the tests of the in-site forms type (tests/test_login_forms.py and the e2e);
#: with the demo's, never allowed in a log line.
TEST_PASSWORDS = ("ada-password-1", "new-password-42", "signup-password-7")
#: Shorter values are not treated as secrets (they would match ordinary words).
MIN_SECRET_LENGTH = 8
#: AUTHROCKET_JWT_KEY values longer than this are RSA public keys: not secret.
MAX_HS256_SECRET_LENGTH = 256

OUTSIDE_TESTS = "(after the last test)"
#: The marker of a test whose requests the scan does not look at (see pytest_configure).
SITE_URL_MARKER = "token_in_site_url"


@dataclass(frozen=True)
class Offence:
    """One log line holding something secret: where it came from, and what kind."""

    where: str
    logger: str
    level: str
    kind: str
    line: str

    def describe(self) -> str:
        return f"{self.where}: {self.level} {self.logger} logged {self.kind}: {self.line}"


def mask(line: str, secrets: Iterable[str] = ()) -> str:
    """``line`` with every JWT, API key, session id and known secret replaced (safe to print in
    a report)."""
    line = JWT.sub(lambda m: f"<JWT, {len(m.group())} chars>", line)
    line = API_KEY.sub("<API key>", line)
    line = SESSION_ID.sub("<session id>", line)
    for secret in secrets:
        line = line.replace(secret, "<secret>")
    return line[:500]


def secret_kinds(line: str, secrets: Iterable[str] = ()) -> list[str]:
    """What ``line`` leaks: ``"a JWT"``, ``"an API key"``, ``"a session id"``, ``"a configured
    secret"`` (or [])."""
    kinds = []
    if "eyJ" in line and JWT.search(line):
        kinds.append("a JWT")
    if "ks_" in line and API_KEY.search(line):
        kinds.append("an API key")
    if "kss_" in line and SESSION_ID.search(line):
        kinds.append("a session id")
    if any(secret in line for secret in secrets):
        kinds.append("a configured secret")
    return kinds


def is_secret_value(name: str, value: object) -> bool:
    if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
        return False
    if name == "AUTHROCKET_JWT_KEY":  # only an HS256 secret is secret; a public key is not
        return not value.lstrip().startswith("-----") and len(value) <= MAX_HS256_SECRET_LENGTH
    return True


def request_of(record: logging.LogRecord) -> str:
    """What a handler can read of the request attached to ``record`` (``django.request`` and
    ``django.security`` attach it; Django's ``AdminEmailHandler`` mails its URL, GET and META):
    its full path, GET and the raw query, as a suffix of the line ("" without a request)."""
    request = getattr(record, "request", None)
    if request is None or not hasattr(request, "META"):
        return ""
    meta = request.META
    raw = " ".join(str(meta.get(key, "")) for key in ("QUERY_STRING", "REQUEST_URI", "RAW_URI"))
    return f" [request {request.get_full_path()} GET={dict(request.GET.lists())} META={raw}]"


class SecretScanner(logging.Handler):
    """Keeps each formatted log line until the end of the test, then checks it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s [%(threadName)s] %(message)s"))
        #: Every secret value seen in the session (for the summary line).
        self.secrets: set[str] = set()
        #: The secret values of the current test: what it configured, and what is configured.
        self._test_secrets: tuple[str, ...] = ()
        self.offences: list[Offence] = []
        self.records = 0
        #: Off for a test marked ``token_in_site_url`` (see :func:`pytest_runtest_setup`).
        self.scan_requests = True
        self.tests = 0
        self._pending: list[tuple[str, str, str]] = []
        self._pending_lock = threading.Lock()

    # --- learning secrets ---------------------------------------------------------------------

    def learn(self, name: str, value: object) -> None:
        if is_secret_value(name, value):
            secret = str(value).strip()
            self.secrets.add(secret)
            if secret not in self._test_secrets:
                self._test_secrets = (*self._test_secrets, secret)  # replaced whole: thread-safe

    def learn_current(self) -> None:
        """The secrets the environment and Django settings hold right now."""
        for name in SECRET_SETTINGS:
            self.learn(name, os.environ.get(name))
        # The demo people's passwords (the emulator's LoginRocket API): never in a log line.
        from django_authrocket.testing.demo import DEMO_PASSWORDS

        for password in DEMO_PASSWORDS.values():
            self.learn("demo password", password)
        try:
            from django.conf import settings

            if settings.configured:
                for name in SECRET_SETTINGS:
                    self.learn(name, getattr(settings, name, None))
        except Exception:  # Django not usable here: nothing to learn from it
            return

    def on_setting_changed(self, setting: str = "", value: Any = None, **kwargs: Any) -> None:
        if setting in SECRET_SETTINGS:
            self.learn(setting, value)

    # --- collecting and checking --------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + (request_of(record) if self.scan_requests else "")
        except Exception:  # a broken record is the logging module's to report
            return
        with self._pending_lock:
            self.records += 1
            self._pending.append((record.name, record.levelname, line))

    def check(self, where: str) -> list[Offence]:
        """Check the lines logged since the last check against the patterns and the secrets
        learned since then; return (and keep) the offences. A value that some other test
        configured is not a secret here: a test may well use it as a wrong guess."""
        self.learn_current()
        with self._pending_lock:
            pending, self._pending = self._pending, []
        secrets, self._test_secrets = self._test_secrets + known_passwords(), ()
        found = [
            Offence(where, name, level, " and ".join(kinds), mask(line, secrets))
            for name, level, line in pending
            if (kinds := secret_kinds(line, secrets))
        ]
        self.offences.extend(found)
        return found


def known_passwords() -> tuple[str, ...]:
    """The demo people's passwords and :data:`TEST_PASSWORDS`."""
    try:
        from django_authrocket.testing.demo import DEMO_PASSWORDS
    except ImportError:  # an emulator without passwords: only the tests' own
        return TEST_PASSWORDS
    return (*TEST_PASSWORDS, *DEMO_PASSWORDS.values())


_scanner = SecretScanner()


def scanner() -> SecretScanner:
    """The session's scanner (for tests of this plugin)."""
    return _scanner


def _attach() -> None:
    root = logging.getLogger()
    if _scanner not in root.handlers:
        root.addHandler(_scanner)
    if root.level > logging.DEBUG or root.level == logging.NOTSET:
        root.setLevel(logging.DEBUG)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{SITE_URL_MARKER}: the test puts a token in a URL of the site's own, where the package "
        "takes nothing: the log scan checks the lines, not the requests attached to them",
    )
    from django.core.signals import setting_changed

    setting_changed.connect(_scanner.on_setting_changed, dispatch_uid="tests.log_capture")
    _attach()


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_scanner)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _attach()  # a test or a library may have reconfigured logging since
    _scanner.scan_requests = item.get_closest_marker(SITE_URL_MARKER) is None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    _scanner.learn_current()  # before monkeypatch and settings fixtures undo the test's values


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if call.when != "teardown":
        return
    report = outcome.get_result()
    _scanner.tests += 1
    found = _scanner.check(item.nodeid)
    if found and report.passed:
        report.outcome = "failed"
        report.longrepr = "secrets in the logs of this test (tests/log_capture.py):\n" + "\n".join(
            offence.describe() for offence in found
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = _scanner.check(OUTSIDE_TESTS)
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _scanner.records:
        return  # xdist's controller: the workers did the scanning and reported per test
    if _scanner.offences:
        terminalreporter.section("secrets in the logs", sep="=", red=True)
        for offence in _scanner.offences:
            terminalreporter.line(offence.describe())
    verdict = f"{len(_scanner.offences)} line(s) with a secret" if _scanner.offences else "clean"
    terminalreporter.write_line(
        f"log scan: {_scanner.records} log records of {_scanner.tests} tests, "
        f"{len(_scanner.secrets)} secret values known: {verdict}"
    )

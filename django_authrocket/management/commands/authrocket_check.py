"""``manage.py authrocket_check``: is django-authrocket configured, and can it reach AuthRocket?

The report, top to bottom: every AuthRocket setting with its value (secrets masked) and where
the value comes from; the ``authrocket`` system checks; how login tokens are verified; then,
unless ``--no-network``, the live part: LoginRocket's key set is fetched and, when an API key is
configured, one cheap Core API call is made. ``--json`` prints the same report for machines.

The command exits non-zero (``CommandError``) when it found an error, so it can gate a deploy.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_authrocket.checks import DUMMY_CACHE, PER_PROCESS_CACHES
from django_authrocket.client import AuthRocketClient
from django_authrocket.conf import AppSettings, Setting, app_settings
from django_authrocket.exceptions import APIError, APIUnavailable
from django_authrocket.keys import KeyStore, load_static_key, parse_jwks
from django_authrocket.transport import USER_AGENT

Status = Literal["ok", "skipped", "error"]

#: Settings whose values are secrets: only a short prefix and the length are shown.
SECRET_SETTINGS = frozenset(
    {"AUTHROCKET_API_KEY", "AUTHROCKET_WEBHOOK_SECRET", "AUTHROCKET_WEBHOOK_BASIC_AUTH"}
)


@dataclass
class SettingRow:
    name: str
    value: Any
    source: str
    masked: bool = False
    error: str | None = None


@dataclass
class CheckRow:
    """One system check message."""

    id: str | None
    level: str
    message: str
    hint: str | None

    @property
    def is_error(self) -> bool:
        return self.level in ("ERROR", "CRITICAL")


@dataclass
class LiveCheck:
    """One call to AuthRocket and what came of it."""

    name: str
    status: Status
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    settings: list[SettingRow]
    checks: list[CheckRow]
    verification: dict[str, Any]
    live: list[LiveCheck] | None

    @property
    def errors(self) -> int:
        bad_settings = sum(1 for row in self.settings if row.error)
        bad_checks = sum(1 for row in self.checks if row.is_error)
        bad_live = sum(1 for check in self.live or () if check.status == "error")
        return bad_settings + bad_checks + bad_live

    @property
    def warnings(self) -> int:
        return sum(1 for row in self.checks if row.level == "WARNING")

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.errors == 0,
            "errors": self.errors,
            "warnings": self.warnings,
            "settings": [asdict(row) for row in self.settings],
            "checks": [asdict(row) for row in self.checks],
            "verification": self.verification,
            "live": None if self.live is None else [asdict(check) for check in self.live],
        }


def mask(secret: str) -> str:
    """``ks_ab… (40 chars)``: enough to tell keys apart, far too little to use one."""
    return f"{secret[: min(5, len(secret) // 4)]}… ({len(secret)} chars)"


class Command(BaseCommand):
    help = (
        "Report the AuthRocket configuration (settings and their sources, system checks, "
        "verification mode) and test the connection to LoginRocket and the Core API."
    )
    # The system checks are part of the report: they must not stop the command before it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-network",
            action="store_true",
            help="Only report the configuration; make no request to AuthRocket.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the report as JSON (for scripts)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = Report(
            settings=[_setting_row(setting) for setting in AppSettings.all()],
            checks=_system_checks(),
            verification=_verification(),
            live=None if options["no_network"] else [_check_key_set(), _check_core_api()],
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            self._print(report)
        if report.errors:
            raise CommandError(
                f"AuthRocket check found {report.errors} error(s); see the report above."
            )

    # --- text output --------------------------------------------------------------------------

    def _print(self, report: Report) -> None:
        out, style = self.stdout, self.style
        out.write(style.MIGRATE_HEADING("Settings"))
        width = max(len(row.name) for row in report.settings)
        for row in report.settings:
            value = row.error or (row.value if row.masked else repr(row.value))
            line = f"  {row.name:<{width}}  {value}  [{row.source}]"
            out.write(style.ERROR(line) if row.error else line)

        out.write(style.MIGRATE_HEADING("\nSystem checks (tag 'authrocket')"))
        if not report.checks:
            out.write(style.SUCCESS("  OK      no issues"))
        for message in report.checks:
            styled = style.ERROR if message.is_error else style.WARNING
            out.write(styled(f"  {message.level:<7} {message.id}: {message.message}"))
            if message.hint:
                out.write(f"          HINT: {message.hint}")

        out.write(style.MIGRATE_HEADING("\nVerification"))
        for key, value in report.verification.items():
            out.write(f"  {key:<10} {value}")

        out.write(style.MIGRATE_HEADING("\nConnectivity"))
        if report.live is None:
            out.write("  SKIPPED --no-network")
        for check in report.live or ():
            styled = {"ok": style.SUCCESS, "error": style.ERROR}.get(check.status, style.NOTICE)
            out.write(styled(f"  {check.status.upper():<7} {check.name}: {check.summary}"))

        summary = f"\n{report.errors} error(s), {report.warnings} warning(s)."
        out.write(style.ERROR(summary) if report.errors else style.SUCCESS(summary))


# --- the parts of the report -----------------------------------------------------------------


def _setting_row(setting: Setting[Any]) -> SettingRow:
    source = setting.source()
    try:
        value = setting.__get__(app_settings, AppSettings)
    except (TypeError, ValueError) as exc:
        return SettingRow(setting.name, None, source, error=f"cannot be read ({exc})")
    if value is None or value == "":
        return SettingRow(setting.name, value, source)
    if setting.name in SECRET_SETTINGS:
        return SettingRow(setting.name, mask(str(value)), source, masked=True)
    if setting.name == "AUTHROCKET_JWT_KEY":
        return SettingRow(setting.name, _describe_jwt_key(str(value)), source, masked=True)
    if isinstance(value, tuple):
        value = list(value)
    return SettingRow(setting.name, value, source)


def _describe_jwt_key(text: str) -> str:
    """An RSA public key is described; a secret (or anything unreadable) is masked."""
    try:
        key = load_static_key(text)
    except ImproperlyConfigured:
        return f"unreadable key {mask(text)}"
    if key.algorithm == "RS256":
        return f"RSA public key, {key.bits} bits"
    return f"HS256 secret {mask(text)}"


def _system_checks() -> list[CheckRow]:
    return [
        CheckRow(message.id, _level_name(message.level), str(message.msg), message.hint)
        for message in checks.run_checks(tags=["authrocket"])
        if not message.is_silenced()
    ]


def _level_name(level: int) -> str:
    for name in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
        if level >= getattr(checks, name):
            return name
    return "DEBUG"


def _cache() -> str:
    """Which cache holds keys, recheck answers and replay marks, and whether workers share it."""
    alias = app_settings.CACHE
    backend = str(getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "not configured"))
    if backend == DUMMY_CACHE:
        return f"{alias!r}: {backend} (stores nothing: replay protection is off, see E021)"
    if backend in PER_PROCESS_CACHES:
        return f"{alias!r}: {backend} (per process: NOT shared between workers, see W002)"
    return f"{alias!r}: {backend} (shared by every worker that uses it)"


def _verification() -> dict[str, Any]:
    """How a login token is checked, with which key and algorithm, and the cache used."""
    return {**_token_checks(), "cache": _cache()}


def _token_checks() -> dict[str, Any]:
    mode = app_settings.VERIFY
    if mode == "api":
        meaning = "each token is confirmed by the Core API (Get Session); no key is used"
        return {"mode": mode, "meaning": meaning, "algorithm": None, "keys": None}
    meaning = "the token's signature is checked locally"
    if mode != "jwt":
        meaning = "unknown mode, see authrocket.E002"
    configured = app_settings.JWT_KEY
    if not configured:
        algorithm: str | None = "RS256"
        keys = "LoginRocket's key set (JWKS)"
    else:
        try:
            key = load_static_key(configured)
        except ImproperlyConfigured:
            algorithm, keys = None, "AUTHROCKET_JWT_KEY (unreadable, see authrocket.E006)"
        else:
            algorithm = key.algorithm
            kind = "RSA public key" if key.algorithm == "RS256" else "secret"
            keys = f"AUTHROCKET_JWT_KEY ({kind})"
    return {"mode": mode, "meaning": meaning, "algorithm": algorithm, "keys": keys}


def _check_key_set() -> LiveCheck:
    """Fetch ``<LOGINROCKET_URL>/connect/jwks`` now, bypassing the cached copy."""
    name = "key_set"
    if app_settings.VERIFY == "api":
        return LiveCheck(name, "skipped", "AUTHROCKET_VERIFY is 'api'; the key set is not used")
    if app_settings.JWT_KEY:
        return LiveCheck(name, "skipped", "AUTHROCKET_JWT_KEY is set; the key set is not used")
    if not app_settings.LOGINROCKET_URL:
        return LiveCheck(name, "error", "no LoginRocket URL to fetch the key set from")
    store = KeyStore.for_settings()
    details: dict[str, Any] = {"url": store.jwks_url}
    started = time.monotonic()
    try:
        response = requests.get(
            store.jwks_url,
            timeout=float(app_settings.HTTP_TIMEOUT),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        details["http_status"] = response.status_code
        details["elapsed_ms"] = round((time.monotonic() - started) * 1000)
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        keys = parse_jwks(response.json())
    except requests.RequestException as exc:
        details["error"] = exc.__class__.__name__
        summary = unreachable(store.jwks_url, exc, "AUTHROCKET_LOGINROCKET_URL", details)
        return LiveCheck(name, "error", summary, details)
    except ValueError as exc:
        details["error"] = exc.__class__.__name__
        return LiveCheck(name, "error", f"{store.jwks_url} failed: {exc}", details)
    details["keys"] = len(keys)
    details["kids"] = sorted(keys)
    details["cached_kids"] = sorted(store.known_kids())
    if not keys:
        return LiveCheck(name, "error", f"{store.jwks_url} has no usable RS256 key", details)
    kids = ", ".join(sorted(keys))
    return LiveCheck(
        name,
        "ok",
        f"{store.jwks_url}: {len(keys)} key(s) ({kids}) in {details['elapsed_ms']} ms",
        details,
    )


def _check_core_api() -> LiveCheck:
    """List one user: cheap, and it proves the URL, the API key and the realm."""
    name = "core_api"
    url, key = app_settings.URL, app_settings.API_KEY
    if not key and not url:
        status: Status = "error" if app_settings.VERIFY == "api" else "skipped"
        return LiveCheck(name, status, "no AUTHROCKET_API_KEY / AUTHROCKET_URL configured")
    if not key or not url:
        missing = "AUTHROCKET_API_KEY" if not key else "AUTHROCKET_URL"
        return LiveCheck(name, "error", f"{missing} is not set, so the Core API cannot be used")
    client = AuthRocketClient.from_settings()
    details: dict[str, Any] = {"url": client.api_url, "generation": client.generation}
    started = time.monotonic()
    try:
        client.get_page("/users", {"max_results": 1})
    except APIUnavailable as exc:
        # The client keeps the cause to itself: one plain request to the API says why.
        details.update(error=exc.__class__.__name__, http_status=None, request_id=None)
        cause = _no_answer_from(client.api_url)
        if cause is None:
            return LiveCheck(name, "error", f"{exc.__class__.__name__}: {exc}", details)
        summary = unreachable(client.api_url, cause, "AUTHROCKET_URL", details)
        return LiveCheck(name, "error", summary, details)
    except APIError as exc:
        details.update(
            error=exc.__class__.__name__, http_status=exc.status, request_id=exc.request_id
        )
        return LiveCheck(name, "error", f"{exc.__class__.__name__}: {exc}", details)
    details["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    return LiveCheck(
        name, "ok", f"{client.api_url}: API key accepted in {details['elapsed_ms']} ms", details
    )


# --- why a URL cannot be reached --------------------------------------------------------------


def unreachable(
    url: str, error: BaseException, setting: str, details: dict[str, Any] | None = None
) -> str:
    """``cannot reach <host:port> (<reason>). <hint>`` for a request that got no answer.

    The reason is read from the chain of exceptions under ``error`` (requests wraps urllib3,
    which wraps the socket's own error); ``setting`` is the setting that holds the URL, named
    in the hint. ``details`` (the JSON report's) gets ``host``, ``reason`` and ``hint``.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = f"{parts.hostname}:{port}"
    reason, hint = _why(error, setting)
    if details is not None:
        details.update(host=host, reason=reason, hint=hint)
    return f"cannot reach {host} ({reason}) for {url}. {hint}"


def _why(error: BaseException, setting: str) -> tuple[str, str]:
    """The reason a request got no answer, and what to check."""
    causes = list(_chain(error))
    if any(isinstance(c, socket.gaierror) or "NameResolution" in type(c).__name__ for c in causes):
        return (
            "the host name does not resolve",
            f"Check the host in {setting} for typos, and this machine's DNS.",
        )
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return (
            "connection refused: nothing listens on that port",
            f"Check the address and port in {setting}; for the local emulator, start it "
            "(manage.py authrocket_emulator).",
        )
    if any(isinstance(c, requests.Timeout | TimeoutError) for c in causes):
        return (
            f"no answer within {app_settings.HTTP_TIMEOUT} s",
            "A firewall or proxy may hold outgoing connections back; "
            "AUTHROCKET_HTTP_TIMEOUT sets how long to wait.",
        )
    if any(isinstance(c, requests.exceptions.SSLError | ssl.SSLError) for c in causes):
        return (
            "the TLS handshake failed",
            f"Check that {setting} names the host's own https address, and this machine's "
            "CA certificates.",
        )
    if any(isinstance(c, requests.exceptions.ProxyError) for c in causes):
        return (
            "the proxy did not connect",
            "Check the HTTPS_PROXY / HTTP_PROXY / NO_PROXY variables.",
        )
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return (
            "the connection was reset",
            f"Check that {setting} points at AuthRocket (https), not at another service.",
        )
    return (
        error.__class__.__name__,
        f"Check {setting}, and that this machine can reach that host.",
    )


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception under it: causes, contexts, urllib3's ``reason``, args."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        nested += list(current.args)
        pending += [item for item in nested if isinstance(item, BaseException)]


def _no_answer_from(url: str) -> requests.RequestException | None:
    """The error of one plain GET of ``url``, or None when something answered."""
    try:
        response = requests.get(
            url,
            timeout=float(app_settings.HTTP_TIMEOUT),
            headers={"User-Agent": USER_AGENT},
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        return exc
    response.close()
    return None

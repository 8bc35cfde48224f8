"""System checks: configuration mistakes reported by ``manage.py check`` (and at startup).

Every message says how to fix it. Ids are stable and documented in docs/troubleshooting.md:

======== =====================================================================
E001     no LoginRocket URL
E002     AUTHROCKET_VERIFY is neither "jwt" nor "api"
E003     AUTHROCKET_VERIFY = "api" without AUTHROCKET_URL / AUTHROCKET_API_KEY
E004     HS256 secret shorter than 32 bytes
E005     RSA key shorter than 2048 bits
E006     AUTHROCKET_JWT_KEY cannot be read
E007     LoginRocket URL is not https (and DEBUG is off)
E008     Core API URL is not https (and DEBUG is off)
E009     AuthRocketMiddleware placed before AuthenticationMiddleware
E010     AuthRocketBackend (or a subclass) missing from AUTHENTICATION_BACKENDS
E011     AUTHROCKET_CACHE names a cache that is not in CACHES
E012     a numeric setting is negative or not a number
E013     AUTHROCKET_WEBHOOK_SECRET shorter than 32 characters
E014     AUTHROCKET_VERIFY = "api" with AuthRocket 1 (HS256 tokens) and no AUTHROCKET_JWT_KEY
E020     AUTHROCKET_STAFF_PERMISSION set without AUTHROCKET_STAFF_ORG
E021     AUTHROCKET_CACHE is a DummyCache (it stores nothing), whatever DEBUG is
E040     AUTHROCKET_FORMS_SIGNUP or AUTHROCKET_FORMS_THROTTLE has a value it cannot take
W001     AuthRocketMiddleware (or a subclass) missing from MIDDLEWARE
W002     AUTHROCKET_CACHE is a per-process cache (LocMem) and DEBUG is off
W003     AUTHROCKET_URL does not end with /v1 or /v2
W020     AUTHROCKET_ACCEPT_EMULATOR_TOKENS is on and DEBUG is off
W021     AUTHROCKET_CACHE has no atomic ``add`` (FileBasedCache)
W030     an admin site's own login template leaves out "Log in with AuthRocket"
W040     AUTHROCKET_LOGIN_FORMS is on with AuthRocket 1 (its LoginRocket API is not /v2/)
======== =====================================================================

The middleware and backend checks accept subclasses (the documented way to extend them), as
Django's admin checks do: each dotted path is imported and compared with ``issubclass``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .conf import AppSettings, app_settings, valid_forms_throttle
from .keys import load_static_key

MIDDLEWARE_PATH = "django_authrocket.middleware.AuthRocketMiddleware"
BACKEND_PATH = "django_authrocket.backends.AuthRocketBackend"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MIN_SECRET_BYTES = 32
MIN_WEBHOOK_SECRET_LENGTH = 32
MIN_RSA_BITS = 2048
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
#: Stores nothing: every ``add`` succeeds, so replay marks and the key-fetch lock do nothing.
DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"
#: ``add`` is "has_key, then set": two workers can both win it (a token logs in twice).
#: Redis (SET NX), Memcached (its own add), the database cache (a unique key in a transaction)
#: and LocMem (a lock, but per process: W002) have an atomic ``add``.
NON_ATOMIC_ADD_CACHES = ("django.core.cache.backends.filebased.FileBasedCache",)


@register("authrocket")
def check_connection_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """LoginRocket URL, verification mode and Core API settings."""
    messages: list[CheckMessage] = []
    loginrocket_url = app_settings.LOGINROCKET_URL
    if not loginrocket_url:
        messages.append(
            Error(
                "No LoginRocket URL is configured.",
                hint="Set AUTHROCKET_LOGINROCKET_URL in settings, or the LOGINROCKET_URL "
                "environment variable, to your realm's LoginRocket URL (Realm -> Integration).",
                id="authrocket.E001",
            )
        )
    verify = app_settings.VERIFY
    if verify not in ("jwt", "api"):
        messages.append(
            Error(
                f"AUTHROCKET_VERIFY is {verify!r}.",
                hint='Use "jwt" (check the token signature) or "api" (ask the Core API).',
                id="authrocket.E002",
            )
        )
    if verify == "api" and not (app_settings.URL and app_settings.API_KEY):
        messages.append(
            Error(
                'AUTHROCKET_VERIFY = "api" needs the Core API, but AUTHROCKET_URL or '
                "AUTHROCKET_API_KEY is not set.",
                hint='Set both (or their environment variables), or use AUTHROCKET_VERIFY = "jwt".',
                id="authrocket.E003",
            )
        )
    if verify == "api" and app_settings.api_generation == 1 and not app_settings.JWT_KEY:
        # api mode checks each token's signature before it spends a Get Session call, and an
        # AuthRocket 1 realm signs with its HS256 secret, which only the site can supply.
        messages.append(
            Error(
                'AUTHROCKET_VERIFY = "api" with AuthRocket 1 needs AUTHROCKET_JWT_KEY: every '
                "token's signature is checked locally before AuthRocket is asked.",
                hint="Copy the realm's JWT secret (jsk_...) into AUTHROCKET_JWT_KEY, or the "
                "environment variable of the same name.",
                id="authrocket.E014",
            )
        )
    if not settings.DEBUG:
        for name, url, check_id in (
            ("AUTHROCKET_LOGINROCKET_URL", loginrocket_url, "authrocket.E007"),
            ("AUTHROCKET_URL", app_settings.URL, "authrocket.E008"),
        ):
            if url and not _is_https_or_loopback(url):
                messages.append(
                    Error(
                        f"{name} is not an https URL.",
                        hint="Tokens and API keys must not cross the network in clear text; use "
                        "https (plain http is accepted for loopback addresses and with DEBUG).",
                        id=check_id,
                    )
                )
    url = app_settings.URL
    if url and not url.rstrip("/").endswith(("/v1", "/v2")):
        messages.append(
            Warning(
                "AUTHROCKET_URL does not end with /v1 or /v2; AuthRocket 2 (/v2) is assumed.",
                hint="Copy the API URL from Realm -> Integration -> API keys, including /v2.",
                id="authrocket.W003",
            )
        )
    messages.extend(_numeric_setting_errors())
    return messages


@register("authrocket", Tags.security)
def check_jwt_key(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The configured token key is readable and strong enough."""
    configured = app_settings.JWT_KEY
    if not configured:
        return []
    try:
        key = load_static_key(configured)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Copy the key from Realm -> Integration -> JWT key, or unset "
                "AUTHROCKET_JWT_KEY to use LoginRocket's published keys.",
                id="authrocket.E006",
            )
        ]
    if key.algorithm == "HS256" and len(key.key) < MIN_SECRET_BYTES:  # type: ignore[arg-type]
        return [
            Error(
                f"The HS256 secret in AUTHROCKET_JWT_KEY is shorter than {MIN_SECRET_BYTES} bytes.",
                hint="A short secret can be brute-forced from one token. Use the realm's full "
                "jsk_ secret, or switch the realm to RS256.",
                id="authrocket.E004",
            )
        ]
    if key.algorithm == "RS256" and key.bits < MIN_RSA_BITS:
        return [
            Error(
                f"The RSA key in AUTHROCKET_JWT_KEY has {key.bits} bits.",
                hint=f"Use a key of at least {MIN_RSA_BITS} bits.",
                id="authrocket.E005",
            )
        ]
    return []


@register("authrocket", Tags.security)
def check_webhook_secret(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The webhook secret, the only key to the webhook URL, is long enough not to be guessed."""
    secret = app_settings.WEBHOOK_SECRET
    if not secret or len(secret) >= MIN_WEBHOOK_SECRET_LENGTH:
        return []
    return [
        Error(
            f"AUTHROCKET_WEBHOOK_SECRET is shorter than {MIN_WEBHOOK_SECRET_LENGTH} characters.",
            hint="Whoever guesses the webhook URL can post events that deactivate users and end "
            "sessions. Use a long random value, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))', here and in the "
            "webhook URL at AuthRocket.",
            id="authrocket.E013",
        )
    ]


@register("authrocket")
def check_integration(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Middleware, backend and cache are wired in the way the app needs."""
    messages: list[CheckMessage] = []
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    ours = _first_subclass(MIDDLEWARE_PATH, middleware)
    auth = _first_subclass(AUTH_MIDDLEWARE_PATH, middleware)
    if ours is None:
        messages.append(
            Warning(
                "AuthRocketMiddleware is not in MIDDLEWARE: sessions ended at AuthRocket stay "
                "logged in here and Bearer tokens are not accepted.",
                hint=f"Add {MIDDLEWARE_PATH!r} (or your subclass of it) after "
                f"{AUTH_MIDDLEWARE_PATH!r}.",
                id="authrocket.W001",
            )
        )
    elif auth is not None and ours < auth:
        messages.append(
            Error(
                "AuthRocketMiddleware comes before AuthenticationMiddleware.",
                hint="Move it after AuthenticationMiddleware: it needs request.user.",
                id="authrocket.E009",
            )
        )
    backends = list(getattr(settings, "AUTHENTICATION_BACKENDS", []))
    if _first_subclass(BACKEND_PATH, backends) is None:
        messages.append(
            Error(
                "AuthRocketBackend is not in AUTHENTICATION_BACKENDS.",
                hint=f"Add {BACKEND_PATH!r} (or your subclass of it) to AUTHENTICATION_BACKENDS "
                "(keep ModelBackend if you also want password logins, e.g. for the admin).",
                id="authrocket.E010",
            )
        )
    alias = app_settings.CACHE
    caches_setting = getattr(settings, "CACHES", {})
    if alias not in caches_setting:
        messages.append(
            Error(
                f"AUTHROCKET_CACHE is {alias!r}, which is not in CACHES.",
                hint="Name one of the aliases in CACHES.",
                id="authrocket.E011",
            )
        )
    else:
        messages.extend(_cache_backend_messages(alias, caches_setting[alias].get("BACKEND")))
    return messages


def _cache_backend_messages(alias: str, backend: object) -> list[CheckMessage]:
    """E021, W021 and W002 for the backend of ``AUTHROCKET_CACHE`` (subclasses count)."""
    if _is_backend(backend, DUMMY_CACHE):
        return [
            Error(
                f"AUTHROCKET_CACHE ({alias!r}) is a DummyCache, which stores nothing.",
                hint="Replay protection and the throttle on key set fetches for forged kids "
                "rely on the cache: with a DummyCache a used login token logs in again and "
                "every forged kid costs a fetch. Use Redis, Memcached or the database cache "
                "(LocMemCache for a single process).",
                id="authrocket.E021",
            )
        ]
    if any(_is_backend(backend, path) for path in NON_ATOMIC_ADD_CACHES):
        return [
            Warning(
                f"AUTHROCKET_CACHE ({alias!r}) has no atomic add (FileBasedCache).",
                hint="Two concurrent requests can both take a replay mark, so one login token "
                "can log in twice. Use Redis, Memcached or the database cache.",
                id="authrocket.W021",
            )
        ]
    if not settings.DEBUG and any(_is_backend(backend, path) for path in PER_PROCESS_CACHES):
        return [
            Warning(
                f"AUTHROCKET_CACHE ({alias!r}) is a per-process cache.",
                hint="With several workers, each fetches keys and rechecks sessions on its own "
                "and a replayed token is not seen by the others. Use Redis, Memcached or the "
                "database cache.",
                id="authrocket.W002",
            )
        ]
    return []


def _is_backend(backend: object, base_path: str) -> bool:
    """Whether the dotted path ``backend`` names ``base_path``'s class or a subclass of it."""
    if not isinstance(backend, str):
        return False
    if backend == base_path:
        return True
    try:
        candidate = import_string(backend)
    except ImportError:
        return False
    return isinstance(candidate, type) and issubclass(candidate, import_string(base_path))


@register("authrocket", Tags.security)
def check_trust(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Who may become staff, and whether the emulator's tokens are trusted."""
    messages: list[CheckMessage] = []
    if app_settings.STAFF_PERMISSION and not app_settings.STAFF_ORG:
        messages.append(
            Error(
                "AUTHROCKET_STAFF_PERMISSION is set without AUTHROCKET_STAFF_ORG.",
                hint="Permissions such as ar:admin are held by people in their own orgs. Name "
                "your staff org (its id, org_..., or its reference) in AUTHROCKET_STAFF_ORG; "
                "until then no one becomes staff through AuthRocket.",
                id="authrocket.E020",
            )
        )
    if app_settings.ACCEPT_EMULATOR_TOKENS and not settings.DEBUG:
        messages.append(
            Warning(
                "AUTHROCKET_ACCEPT_EMULATOR_TOKENS is on and DEBUG is off.",
                hint="Tokens minted by the local emulator are accepted: any process that runs "
                "one can log in as anyone. Turn it on only in test settings.",
                id="authrocket.W020",
            )
        )
    return messages


@register("authrocket", Tags.admin)
def check_admin_login(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Admin sites whose login page cannot offer "Log in with AuthRocket"."""
    from . import admin_site

    if not app_settings.ADMIN_LOGIN:
        return []
    return [
        Warning(
            f"The admin site {site.name!r} has its own login_template "
            f'({site.login_template!r}): it shows no "Log in with AuthRocket".',
            hint=f"Make that template extend {admin_site.LOGIN_TEMPLATE!r}, or put "
            "{% load authrocket_admin %}{% authrocket_admin_login %} in it (then silence "
            "authrocket.W030); or set AUTHROCKET_ADMIN_LOGIN = False.",
            id="authrocket.W030",
        )
        for site in admin_site.admin_sites()
        if site.login_template not in (None, admin_site.LOGIN_TEMPLATE)
    ]


NUMERIC_SETTINGS = (
    "JWT_LEEWAY",
    "LOGIN_MAX_AGE",
    "RECHECK_INTERVAL",
    "RECHECK_GRACE",
    "HTTP_TIMEOUT",
    "HTTP_RETRIES",
    "JWKS_MAX_AGE",
    "JWKS_MIN_REFETCH_INTERVAL",
)


def _first_subclass(base_path: str, paths: Sequence[Any]) -> int | None:
    """The index of the first of ``paths`` naming ``base_path``'s class or a subclass of it.

    Paths that cannot be imported are skipped: Django reports those itself when it loads them.
    """
    base = import_string(base_path)
    for index, path in enumerate(paths):
        if not isinstance(path, str):
            continue
        try:
            candidate = import_string(path)
        except ImportError:
            continue
        if isinstance(candidate, type) and issubclass(candidate, base):
            return index
    return None


def _numeric_setting_errors() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for attr in NUMERIC_SETTINGS:
        setting = getattr(AppSettings, attr)
        value = getattr(app_settings, attr)
        if value is None and setting.default is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            messages.append(
                Error(
                    f"{setting.name} is {value!r}.",
                    hint=f"Use a number >= 0; the default is {setting.default!r}.",
                    id="authrocket.E012",
                )
            )
    return messages


def _is_https_or_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register("authrocket")
def check_login_forms(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The in-site login forms' settings (docs/login-forms.md)."""
    messages: list[CheckMessage] = []
    signup = getattr(settings, "AUTHROCKET_FORMS_SIGNUP", "open")
    if signup not in ("open", "invitation", None):
        messages.append(
            Error(
                f"AUTHROCKET_FORMS_SIGNUP is {signup!r}.",
                hint="Use 'open', 'invitation' or None, as the realm's signup setting says.",
                id="authrocket.E040",
            )
        )
    throttle = getattr(settings, "AUTHROCKET_FORMS_THROTTLE", None)
    if not valid_forms_throttle(throttle):
        messages.append(
            Error(
                f"AUTHROCKET_FORMS_THROTTLE is {throttle!r}; the default (10, 60) applies.",
                hint="Use (count, seconds), two whole numbers above 0, or None for no limit.",
                id="authrocket.E040",
            )
        )
    if app_settings.LOGIN_FORMS and app_settings.api_generation == 1:
        messages.append(
            Warning(
                "AUTHROCKET_LOGIN_FORMS is on, and AUTHROCKET_URL names AuthRocket 1.",
                hint="The in-site forms call LoginRocket's /v2/ API, AuthRocket 2's; AuthRocket "
                "1's LoginRocket API differs and is not supported. Use the hosted pages "
                "(authrocket:login), or move the realm to AuthRocket 2.",
                id="authrocket.W040",
            )
        )
    return messages

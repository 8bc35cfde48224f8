"""Every django-authrocket setting, in one place.

Each setting is read from Django settings on every access (so ``override_settings`` and the
pytest-django ``settings`` fixture work), falls back to the environment variable the official
AuthRocket libraries read, then to its default. Nothing is read at import time.

Use the module-level :data:`app_settings`::

    from django_authrocket.conf import app_settings
    app_settings.LOGINROCKET_URL

Validation lives in :mod:`django_authrocket.checks`, not here: a bad value is reported by
``manage.py check`` with an id and a fix, instead of an exception at some random request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast, overload

from django.conf import settings as django_settings
from django.test.signals import setting_changed
from django.utils.functional import empty

T = TypeVar("T")

VerifyMode = Literal["jwt", "api"]

_MISSING = object()

#: Values read since settings last changed. Every request reads several settings; most are
#: absent from Django settings, and a miss on ``django.conf.settings`` costs an exception.
#: Forgotten when the settings object is swapped (``override_settings``, pytest-django's
#: ``settings``), on ``setting_changed``, and by :func:`reload` (call it after assigning to
#: ``django.conf.settings`` or changing environment variables at run time).
_read: dict[str, Any] = {}
_read_for: list[object] = [None]
_attribute = object.__getattribute__


def reload(**kwargs: Any) -> None:
    """Forget the values read so far: the next access reads settings and environment again."""
    _forget()
    _read_for[0] = None


def _forget() -> None:
    known = _read.get(_REQUEST_SETTINGS)
    if known is not None:
        known.current = False  # the middleware holding it reads them again
    _read.clear()


_REQUEST_SETTINGS = "<request settings>"


setting_changed.connect(reload, dispatch_uid="authrocket-conf-reload")


def _text(value: str) -> str | None:
    value = value.strip()
    return value or None


def _url(value: str) -> str | None:
    text = _text(value)
    return text.rstrip("/") if text else None


def _int(value: str) -> int:
    return int(value.strip())


def _optional_int(value: str) -> int | None:
    return int(value) if value.strip() else None


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: its Django name, the env vars it falls back to, its default and meaning.

    The docs' settings reference is generated from these objects, so it cannot drift.
    """

    default: T
    doc: str
    env: tuple[str, ...] = ()
    from_env: Callable[[str], Any] = _text
    clean: Callable[[Any], T] | None = None
    name: str = ""

    def __set_name__(self, owner: type, attr: str) -> None:
        object.__setattr__(self, "name", f"AUTHROCKET_{attr}")

    @overload
    def __get__(self, obj: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, obj: AppSettings, owner: type) -> T: ...

    def __get__(self, obj: AppSettings | None, owner: type) -> Setting[T] | T:
        if obj is None:
            return self
        # object.__getattribute__: LazySettings' own __getattribute__ is a Python call, and
        # this runs several times a request. The fast path is one C call and a dict lookup.
        wrapped = _attribute(django_settings, "_wrapped")
        if wrapped is _read_for[0]:
            known = _read.get(self.name, _MISSING)
            if known is not _MISSING:
                return known  # type: ignore[no-any-return]
        if wrapped is not _read_for[0]:
            # override_settings (and pytest-django's settings fixture) swap the settings object.
            _forget()
            _read_for[0] = wrapped
        known = _read.get(self.name, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[no-any-return]
        value = self.read()
        if wrapped is not empty:
            _read[self.name] = value
        return value

    def read(self) -> T:
        """The current value, read from Django settings, the environment, or the default."""
        value = getattr(django_settings, self.name, _MISSING)
        if value is _MISSING:
            value = self._from_environment()
        if value is _MISSING:
            return self.default
        return self.clean(value) if self.clean else cast("T", value)

    def _from_environment(self) -> Any:
        for var in self.env:
            raw = os.environ.get(var)
            if raw is not None and raw.strip():
                return self.from_env(raw)
        return _MISSING

    def source(self) -> str:
        """Where the current value comes from: the Django setting, an env var, or the default."""
        if hasattr(django_settings, self.name):
            return f"settings.{self.name}"
        for var in self.env:
            if os.environ.get(var, "").strip():
                return f"${var}"
        return "default"


def _strip_url(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text.rstrip("/") or None


def _patterns(value: Any) -> tuple[str, ...]:
    """A list of patterns; one string alone is one pattern, not a list of characters."""
    return (value,) if isinstance(value, str) else tuple(value)


def _names(value: Any) -> tuple[str, ...]:
    """One name or several (a list or tuple), stripped, blanks dropped."""
    items = [value] if isinstance(value, str) else list(value or ())
    return tuple(text for item in items if isinstance(item, str) and (text := item.strip()))


#: What a malformed AUTHROCKET_FORMS_THROTTLE means (authrocket.E040 reports it): the default.
_DEFAULT_FORMS_THROTTLE = (10, 60)


def forms_throttle(value: Any) -> tuple[int, int] | None:
    """``(count, seconds)`` of AUTHROCKET_FORMS_THROTTLE, or None (no limit). A malformed value
    keeps the default limit (the forms stay throttled) and fails ``manage.py check``."""
    if value is None:
        return None
    if valid_forms_throttle(value):
        return int(value[0]), int(value[1])
    return _DEFAULT_FORMS_THROTTLE


def valid_forms_throttle(value: Any) -> bool:
    """Whether ``value`` is None or two positive whole numbers."""
    if value is None:
        return True
    return (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)
    )


def _strip_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class AppSettings:
    """django-authrocket's settings, read lazily. Documented in docs/settings.md."""

    LOGINROCKET_URL: Setting[str | None] = Setting(
        None,
        "Base URL of your LoginRocket hosted pages, e.g. ``https://sample.e2.loginrocket.com``. "
        "Required: people are sent there to log in, and RS256 signing keys are fetched from its "
        "``/connect/jwks``.",
        env=("LOGINROCKET_URL", "AUTHROCKET_LOGIN_URL"),
        from_env=_url,
        clean=_strip_url,
    )
    JWT_KEY: Setting[str | None] = Setting(
        None,
        "The realm's token key. An RSA public key (PEM, or its bare base64 body) pins RS256; a "
        "shorter string (the ``jsk_...`` realm secret, used verbatim) pins HS256. ``None`` "
        "verifies RS256 tokens with the keys LoginRocket publishes (JWKS).",
        env=("AUTHROCKET_JWT_KEY", "AUTHROCKET_JWT_SECRET"),
        clean=_strip_text,
    )
    API_KEY: Setting[str | None] = Setting(
        None,
        "Core API key (``ks_...``; AuthRocket 1: ``ko_...``/``key_...``). Needed for "
        "``AUTHROCKET_VERIFY = 'api'``, sync, webhooks re-fetch and server-side logout. Secret.",
        env=("AUTHROCKET_API_KEY",),
        clean=_strip_text,
    )
    URL: Setting[str | None] = Setting(
        None,
        "Core API base, e.g. ``https://api-e2.authrocket.com/v2``. Ending in ``/v1`` selects "
        "AuthRocket 1: its API, headers and token claims (``uid``/``tk``). Any other URL, or "
        "none, means AuthRocket 2, whose tokens (``sub``/``sid``) are then the only ones "
        "accepted.",
        env=("AUTHROCKET_URL",),
        from_env=_url,
        clean=_strip_url,
    )
    REALM: Setting[str | None] = Setting(
        None,
        "Default realm (``rl_...``) sent with API calls. When set, tokens issued for another "
        "realm are refused.",
        env=("AUTHROCKET_REALM",),
        clean=_strip_text,
    )
    VERIFY: Setting[VerifyMode] = Setting(
        "jwt",
        "How a login token is checked: ``'jwt'`` verifies its signature locally; ``'api'`` "
        "verifies it the same way, then asks the Core API (Get Session), which also sees "
        "sessions ended at AuthRocket.",
    )
    JWT_LEEWAY: Setting[int] = Setting(
        5, "Seconds of clock skew tolerated for ``exp``, ``nbf`` and ``iat``."
    )
    LOGIN_MAX_AGE: Setting[int | None] = Setting(
        None,
        "Refuse a ``?token=`` whose ``iat`` is older than this many seconds (``None``: no limit).",
    )
    RECHECK_INTERVAL: Setting[int] = Setting(
        300, "Seconds between Core API rechecks of one session in ``'api'`` mode."
    )
    RECHECK_GRACE: Setting[int] = Setting(
        0,
        "Seconds a session outlives its last good recheck answer (which holds for one "
        "AUTHROCKET_RECHECK_INTERVAL) while the Core API is unreachable. ``0``: log out at the "
        "first failed recheck.",
    )
    CACHE: Setting[str] = Setting(
        "default",
        "Cache alias for signing keys, recheck results and replay marks. Fit backends share "
        "data between workers and have an atomic ``add``: Redis, Memcached and the database "
        "cache. ``LocMemCache`` is fit for one process only (authrocket.W002), "
        "``FileBasedCache`` can let one token log in twice (authrocket.W021), and a "
        "``DummyCache`` turns replay protection off (authrocket.E021).",
    )
    HTTP_TIMEOUT: Setting[float] = Setting(
        5,
        "Seconds before a Core API or JWKS request is abandoned (connect and read); also the "
        "most one web request (a login, a recheck, a Bearer check) sleeps on retries in all.",
    )
    HTTP_RETRIES: Setting[int] = Setting(
        2,
        "Extra attempts for idempotent requests after a connection error, 429, 502, 503 or 504.",
    )
    CREATE_USERS: Setting[bool] = Setting(
        True, "Create a local user the first time an AuthRocket user logs in."
    )
    EXEMPT_URLS: Setting[tuple[str, ...]] = Setting(
        (),
        "What the middleware leaves alone: URL names (``'health'``, ``'api:status'``), exact "
        "paths (``'/healthz'``), path prefixes ending in ``/`` (``'/static/'``), or regexes "
        "starting with ``^``, matched like ``re_path`` against the path without its leading "
        "slash (``'^status/'``).",
        clean=tuple,
    )
    BEARER_URLS: Setting[tuple[str, ...]] = Setting(
        (),
        "Where the middleware accepts ``Authorization: Bearer <token>``: regexes matched like "
        "``re_path`` against the path without its leading slash (``r'^api/'``; anchor them "
        "with ``^``). Default: nowhere, and the header is ignored. Views that list DRF's "
        "``AuthRocketAuthentication`` accept Bearer whatever this says; the Django admin never "
        "does.",
        clean=_patterns,
    )
    TOKEN_ANYWHERE: Setting[bool] = Setting(
        False,
        "Accept LoginRocket's ``?token=`` on any GET path, as the Rails integration does, not "
        "only on the login view.",
    )
    WEBHOOK_SECRET: Setting[str | None] = Setting(
        None,
        "Secret part of the webhook URL, at least 32 characters (``authrocket.E013``). The "
        "webhook endpoint answers 404 while it is unset.",
        env=("AUTHROCKET_WEBHOOK_SECRET",),
        clean=_strip_text,
    )
    WEBHOOK_BASIC_AUTH: Setting[str | None] = Setting(
        None,
        "``'username:password'`` the webhook endpoint also demands as HTTP basic auth (put the "
        "same credentials in the webhook URL at AuthRocket: ``https://user:pass@site/...``). "
        "``None``: the secret in the URL is the only protection. Secret.",
        env=("AUTHROCKET_WEBHOOK_BASIC_AUTH",),
        clean=_strip_text,
    )
    WEBHOOK_REFETCH: Setting[bool | None] = Setting(
        None,
        "Fetch each webhook event again through the Core API (``GET /events/:id``) and use "
        "that copy instead of the posted body. ``None``: on when ``AUTHROCKET_API_KEY`` and "
        "``AUTHROCKET_URL`` are set.",
    )
    LOGIN_CONFIRMATION: Setting[bool] = Setting(
        True,
        "Ask the person to confirm, on a page naming the account (a POST with Django's CSRF "
        "token), before a ``?token=`` logs the browser in when the browser did not start that "
        "login on this site (no login marker cookie) or when it would switch a logged-in person "
        "to another AuthRocket user. Off, any link carrying a valid token logs whoever opens it "
        "in (login CSRF): see docs/security.md.",
    )
    PREVENT_TOKEN_REPLAY: Setting[bool] = Setting(
        True,
        "Refuse a login token that already logged a browser in (a mark in AUTHROCKET_CACHE "
        "until the token expires), so a token leaked from a URL cannot open a second session.",
    )
    LOGOUT_ALLOW_GET: Setting[bool] = Setting(
        False,
        "Also accept GET on the logout view. Off by default: a GET logout can be triggered by "
        "any page that embeds an image pointing at it.",
    )
    LOGOUT_REVOKE: Setting[bool] = Setting(
        False,
        "On logout, also end the session at AuthRocket through the Core API "
        "(``DELETE /sessions/<id>``; needs the API key). Failures are logged, never shown.",
    )
    STAFF_PERMISSION: Setting[str | None] = Setting(
        None,
        "An AuthRocket permission (e.g. ``ar:admin``) that makes the local user ``is_staff`` "
        "while their membership of AUTHROCKET_STAFF_ORG grants it, whichever org is selected: "
        "set at each login and, in api mode, each recheck with changed permissions. Required "
        "with it: AUTHROCKET_STAFF_ORG (authrocket.E020). ``None`` leaves is_staff alone.",
    )
    STAFF_ORG: Setting[tuple[str, ...]] = Setting(
        (),
        "The org(s) whose members may be staff: an org id (``org_...``) or reference, or a "
        "list of them. A value starting with ``org_`` matches an org's id, any other value its "
        "reference. Memberships of other orgs never make anyone staff, so a customer who is "
        "``ar:admin`` of their own org stays a customer. Read from the session, else from the "
        "mirror (AuthRocketMembership rows of that org).",
        clean=_names,
    )
    STAFF_GROUP: Setting[str | None] = Setting(
        "AuthRocket staff",
        "The Django group of the people AUTHROCKET_STAFF_PERMISSION makes staff: they join it "
        "when they get staff status and leave it when they lose it. Created when missing (after "
        "``migrate``, or at a staff login) with the view permissions of the mirror models, so "
        "staff can browse the mirrored users, orgs and memberships in the admin; an existing "
        "group is left as the site made it. ``None``: no group.",
        clean=_strip_text,
    )
    ADMIN_LOGIN: Setting[bool] = Setting(
        True,
        'Offer "Log in with AuthRocket" on the Django admin\'s login page, above its password '
        "form (which stays, for password users such as a ``createsuperuser`` admin).",
    )
    ACCEPT_EMULATOR_TOKENS: Setting[bool] = Setting(
        False,
        "Accept tokens and Get Session answers minted by the emulator "
        "(``django_authrocket.testing``), which carry the ``emu`` claim that real AuthRocket "
        "never sends. Off: they are accepted only with ``DEBUG`` on. The pytest fixture and "
        "``AuthRocketEmulator.settings()`` turn it on for tests; never in production "
        "(authrocket.W020).",
    )
    PORTAL_USER_URL: Setting[str | None] = Setting(
        None,
        "Link to a person in the AuthRocket portal, shown in the admin: a URL with "
        "``{realm_id}`` and ``{authrocket_id}`` placeholders, copied from the portal's address "
        "bar on a user's page. ``None`` shows no link.",
    )
    LOGIN_FORMS: Setting[bool] = Setting(
        False,
        "Serve the in-site login forms (``authrocket:form_login`` and the other ``form_`` "
        "views, docs/login-forms.md), which post passwords to this site and call the "
        "LoginRocket API from the server. Off: every one of them answers 404.",
    )
    FORMS_SIGNUP: Setting[str | None] = Setting(
        "open",
        "What the in-site signup form does, as the realm's signup setting says: ``'open'`` "
        "creates the account (LoginRocket ``POST signup``), ``'invitation'`` asks for an "
        "invitation (``POST signup/request``), ``None`` offers no signup form (404).",
    )
    FORMS_THROTTLE: Setting[tuple[int, int] | None] = Setting(
        (10, 60),
        "The in-site forms' own limit, before LoginRocket's: at most this many posts "
        "``(count, seconds)`` per client address (``REMOTE_ADDR``) and form, counted in "
        "AUTHROCKET_CACHE. The site's server calls the LoginRocket API for everyone, so one "
        "person must not spend its rate limit. ``None``: no limit here.",
        clean=forms_throttle,
    )
    JWKS_MAX_AGE: Setting[int] = Setting(
        3600, "Seconds a fetched LoginRocket key set is used before it is fetched again."
    )
    JWKS_MIN_REFETCH_INTERVAL: Setting[int] = Setting(
        10,
        "Least seconds between two key set fetches triggered by tokens with an unknown ``kid``, "
        "across all workers: a flood of forged kids costs one fetch per interval.",
    )

    @classmethod
    def all(cls) -> Iterator[Setting[Any]]:
        """Every setting, in declaration order (used by checks and the docs)."""
        for value in vars(cls).values():
            if isinstance(value, Setting):
                yield value

    @property
    def api_generation(self) -> int:
        """1 when ``AUTHROCKET_URL`` ends with ``/v1``, else 2."""
        return api_generation_of(self.URL)


def api_generation_of(url: str | None) -> int:
    """The Core API generation a URL names: 1 when it ends with ``/v1``, else 2."""
    return 1 if url and url.rstrip("/").endswith("/v1") else 2


app_settings = AppSettings()


class RequestSettings:
    """The settings the middleware reads on every request, read together and kept by the
    middleware until settings change: each read of a setting costs a few microseconds on a
    request's cold path, this costs one attribute read. ``current`` turns False when the values
    are forgotten (``setting_changed``, :func:`reload`; a settings object swapped without the
    signal, at the next read of any setting)."""

    __slots__ = ("bearer_urls", "current", "exempt_urls", "jwt_leeway", "token_anywhere", "verify")

    def __init__(self) -> None:
        s = app_settings
        self.verify: VerifyMode = s.VERIFY
        self.jwt_leeway: int = s.JWT_LEEWAY
        self.exempt_urls: tuple[str, ...] = s.EXEMPT_URLS
        self.bearer_urls: tuple[str, ...] = s.BEARER_URLS
        self.token_anywhere: bool = s.TOKEN_ANYWHERE
        self.current = True


def request_settings() -> RequestSettings:
    """:class:`RequestSettings` as they are now (the same object until settings change)."""
    app_settings.VERIFY  # noqa: B018  # forgets every read value if the settings object was swapped
    known: RequestSettings | None = _read.get(_REQUEST_SETTINGS)
    if known is None:
        known = RequestSettings()
        if _read_for[0] is not None and _read_for[0] is not empty:
            # One object for every thread: the one _forget() marks is the one they all hold.
            known = _read.setdefault(_REQUEST_SETTINGS, known)
        else:  # settings not configured yet: nothing to keep
            known.current = False
    return known

"""System checks: each misconfiguration yields its id and a hint saying how to fix it."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.cache.backends.dummy import DummyCache
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_authrocket.backends import AuthRocketBackend
from django_authrocket.middleware import AuthRocketMiddleware

MIDDLEWARE = "django_authrocket.middleware.AuthRocketMiddleware"
BACKEND = "django_authrocket.backends.AuthRocketBackend"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class SiteBackend(AuthRocketBackend):
    """A site's extension of the backend, the documented way to change its steps."""


class SiteMiddleware(AuthRocketMiddleware):
    """A site's extension of the middleware."""


class SiteAuthenticationMiddleware(AuthenticationMiddleware):
    """A site's extension of Django's AuthenticationMiddleware."""


SITE_BACKEND = f"{__name__}.SiteBackend"
SITE_MIDDLEWARE = f"{__name__}.SiteMiddleware"
SITE_AUTH_MIDDLEWARE = f"{__name__}.SiteAuthenticationMiddleware"


def check_ids() -> set[str]:
    return {message.id for message in run_checks(tags=["authrocket"]) if message.id}


@pytest.fixture
def good(settings, monkeypatch):
    """A configuration that passes every check; each test breaks one thing."""
    for var in ("LOGINROCKET_URL", "AUTHROCKET_LOGIN_URL", "AUTHROCKET_JWT_KEY", "AUTHROCKET_URL"):
        monkeypatch.delenv(var, raising=False)
    settings.DEBUG = False
    settings.AUTHROCKET_LOGINROCKET_URL = "https://sample.e2.loginrocket.com"
    settings.AUTHROCKET_URL = "https://api-e2.authrocket.com/v2"
    settings.AUTHROCKET_API_KEY = "ks_test"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    settings.AUTHENTICATION_BACKENDS = [BACKEND, MODEL_BACKEND]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "c"}
    }
    return settings


def rsa_pem(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def test_a_good_configuration_passes(good) -> None:
    assert check_ids() == set()


def test_missing_loginrocket_url_is_e001_and_hint_names_both_spellings(good) -> None:
    del good.AUTHROCKET_LOGINROCKET_URL
    [message] = [m for m in run_checks(tags=["authrocket"]) if m.id == "authrocket.E001"]
    assert "AUTHROCKET_LOGINROCKET_URL" in message.hint and "LOGINROCKET_URL" in message.hint


def test_loginrocket_url_from_env_satisfies_e001(good, monkeypatch) -> None:
    del good.AUTHROCKET_LOGINROCKET_URL
    monkeypatch.setenv("LOGINROCKET_URL", "https://sample.e2.loginrocket.com")
    assert "authrocket.E001" not in check_ids()


def test_unknown_verify_mode_is_e002(good) -> None:
    good.AUTHROCKET_VERIFY = "signature"
    assert "authrocket.E002" in check_ids()


@pytest.mark.parametrize("missing", ["AUTHROCKET_URL", "AUTHROCKET_API_KEY"])
def test_api_verification_without_api_settings_is_e003(good, missing) -> None:
    good.AUTHROCKET_VERIFY = "api"
    delattr(good, missing)
    assert "authrocket.E003" in check_ids()


def test_api_verification_with_authrocket_1_needs_the_jwt_secret_e014(good) -> None:
    good.AUTHROCKET_VERIFY = "api"
    good.AUTHROCKET_URL = "https://api-e1.authrocket.com/v1"
    if hasattr(good, "AUTHROCKET_JWT_KEY"):
        delattr(good, "AUTHROCKET_JWT_KEY")
    assert "authrocket.E014" in check_ids()
    good.AUTHROCKET_JWT_KEY = "jsk_" + "s" * 40
    assert "authrocket.E014" not in check_ids()
    good.AUTHROCKET_URL = "https://api-e2.authrocket.com/v2"
    delattr(good, "AUTHROCKET_JWT_KEY")
    assert "authrocket.E014" not in check_ids()


def test_short_hs256_secret_is_e004(good) -> None:
    good.AUTHROCKET_JWT_KEY = "jsk_short"
    assert "authrocket.E004" in check_ids()


def test_full_length_hs256_secret_passes(good) -> None:
    good.AUTHROCKET_JWT_KEY = "jsk_" + "x" * 40
    assert check_ids() == set()


def test_rsa_key_under_2048_bits_is_e005(good) -> None:
    good.AUTHROCKET_JWT_KEY = rsa_pem(1024)
    assert "authrocket.E005" in check_ids()


def test_rsa_key_as_bare_base64_body_is_accepted(good) -> None:
    body = "".join(line for line in rsa_pem(2048).splitlines() if "-----" not in line)
    good.AUTHROCKET_JWT_KEY = body
    assert check_ids() == set()


@pytest.mark.parametrize(
    "value",
    [
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----",
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
        "!" * 400,
    ],
    ids=["garbage-pem", "private-key", "long-non-base64"],
)
def test_unreadable_jwt_key_is_e006(good, value) -> None:
    good.AUTHROCKET_JWT_KEY = value
    assert "authrocket.E006" in check_ids()


def test_plain_http_loginrocket_url_is_e007_unless_debug_or_loopback(good) -> None:
    good.AUTHROCKET_LOGINROCKET_URL = "http://sample.e2.loginrocket.com"
    assert "authrocket.E007" in check_ids()
    good.DEBUG = True
    assert "authrocket.E007" not in check_ids()
    good.DEBUG = False
    for loopback in ("http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765"):
        good.AUTHROCKET_LOGINROCKET_URL = loopback
        assert "authrocket.E007" not in check_ids()


def test_plain_http_api_url_is_e008(good) -> None:
    good.AUTHROCKET_URL = "http://api-e2.authrocket.com/v2"
    assert "authrocket.E008" in check_ids()


def test_middleware_before_authentication_middleware_is_e009(good) -> None:
    good.MIDDLEWARE = [m for m in good.MIDDLEWARE if m != MIDDLEWARE]
    index = good.MIDDLEWARE.index(AUTH_MIDDLEWARE)
    good.MIDDLEWARE = [*good.MIDDLEWARE[:index], MIDDLEWARE, *good.MIDDLEWARE[index:]]
    assert "authrocket.E009" in check_ids()


def test_missing_middleware_is_w001(good) -> None:
    good.MIDDLEWARE = [m for m in good.MIDDLEWARE if m != MIDDLEWARE]
    assert check_ids() == {"authrocket.W001"}


@pytest.mark.django_db  # manage.py check asks the database whether it supports JSONField
def test_missing_backend_is_e010(good) -> None:
    good.AUTHENTICATION_BACKENDS = [MODEL_BACKEND]
    assert check_ids() == {"authrocket.E010"}
    with pytest.raises(SystemCheckError, match=r"authrocket\.E010"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


def replace_middleware(settings, old: str, new: str) -> None:
    settings.MIDDLEWARE = [new if entry == old else entry for entry in settings.MIDDLEWARE]


@pytest.mark.django_db  # manage.py check asks the database whether it supports JSONField
def test_subclasses_of_the_backend_and_middleware_pass_manage_py_check(good) -> None:
    good.AUTHENTICATION_BACKENDS = [SITE_BACKEND, MODEL_BACKEND]
    replace_middleware(good, MIDDLEWARE, SITE_MIDDLEWARE)

    assert check_ids() == set()
    # The whole check command, every app's checks: it raises SystemCheckError on any error.
    call_command("check", stdout=StringIO(), stderr=StringIO())


def test_a_middleware_subclass_before_authentication_middleware_is_e009(good) -> None:
    good.MIDDLEWARE = [m for m in good.MIDDLEWARE if m != MIDDLEWARE]
    index = good.MIDDLEWARE.index(AUTH_MIDDLEWARE)
    good.MIDDLEWARE = [*good.MIDDLEWARE[:index], SITE_MIDDLEWARE, *good.MIDDLEWARE[index:]]
    assert "authrocket.E009" in check_ids()


def test_the_order_check_recognises_a_subclass_of_authentication_middleware(good) -> None:
    replace_middleware(good, AUTH_MIDDLEWARE, SITE_AUTH_MIDDLEWARE)
    assert check_ids() == set()
    good.MIDDLEWARE = [m for m in good.MIDDLEWARE if m != MIDDLEWARE]
    index = good.MIDDLEWARE.index(SITE_AUTH_MIDDLEWARE)
    good.MIDDLEWARE = [*good.MIDDLEWARE[:index], SITE_MIDDLEWARE, *good.MIDDLEWARE[index:]]
    assert check_ids() == {"authrocket.E009"}


def test_unrelated_or_unimportable_entries_do_not_count(good) -> None:
    good.AUTHENTICATION_BACKENDS = ["nowhere.Backend", "tests.test_checks.Nothing", MODEL_BACKEND]
    replace_middleware(good, MIDDLEWARE, "nowhere.AuthRocketMiddleware")
    assert check_ids() == {"authrocket.E010", "authrocket.W001"}


def test_cache_alias_not_in_caches_is_e011(good) -> None:
    good.AUTHROCKET_CACHE = "shared"
    assert "authrocket.E011" in check_ids()


def test_per_process_cache_in_production_is_w002(good) -> None:
    good.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert check_ids() == {"authrocket.W002"}
    good.DEBUG = True
    assert check_ids() == set()


class SiteDummyCache(DummyCache):
    """A site's subclass of the dummy cache: it stores nothing either."""


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "backend", ["django.core.cache.backends.dummy.DummyCache", f"{__name__}.SiteDummyCache"]
)
def test_a_dummy_cache_is_e021_with_debug_on_and_off(good, debug, backend) -> None:
    # A DummyCache keeps no replay marks and no fetch lock: a used token logs in again and
    # every forged kid costs a key set fetch (issue 12, finding 8).
    good.DEBUG = debug
    good.CACHES = {"default": {"BACKEND": backend}}
    assert check_ids() == {"authrocket.E021"}
    with pytest.raises(SystemCheckError, match=r"authrocket\.E021"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize("debug", [False, True])
def test_a_cache_without_atomic_add_is_w021(good, debug, tmp_path) -> None:
    # FileBasedCache.add() is "has_key, then set": two workers can both take one replay mark.
    good.DEBUG = debug
    good.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        }
    }
    assert check_ids() == {"authrocket.W021"}


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.redis.RedisCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.db.DatabaseCache",
    ],
)
def test_shared_caches_with_an_atomic_add_are_fit(good, backend) -> None:
    good.CACHES = {"default": {"BACKEND": backend, "LOCATION": "unused"}}
    assert check_ids() == set()


def test_api_url_without_version_is_w003(good) -> None:
    good.AUTHROCKET_URL = "https://api-e2.authrocket.com"
    assert check_ids() == {"authrocket.W003"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTHROCKET_JWT_LEEWAY", -1),
        ("AUTHROCKET_HTTP_TIMEOUT", "5"),
        ("AUTHROCKET_HTTP_RETRIES", True),
    ],
)
def test_bad_numeric_setting_is_e012(good, name, value) -> None:
    setattr(good, name, value)
    assert "authrocket.E012" in check_ids()


def test_every_message_has_a_hint(good) -> None:
    good.DEBUG = False
    del good.AUTHROCKET_LOGINROCKET_URL
    good.AUTHROCKET_VERIFY = "api"
    del good.AUTHROCKET_API_KEY
    good.AUTHROCKET_JWT_KEY = "short"
    good.AUTHROCKET_URL = "http://api.example.com"
    good.MIDDLEWARE = []
    good.AUTHENTICATION_BACKENDS = []
    messages = run_checks(tags=["authrocket"])
    assert len(messages) >= 6
    assert all(message.hint for message in messages)

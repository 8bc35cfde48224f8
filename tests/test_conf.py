"""Settings: Django setting first, then the official libraries' env vars, then the default."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_authrocket.conf import AppSettings, app_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, settings) -> pytest.MonkeyPatch:
    for setting in AppSettings.all():
        for var in setting.env:
            monkeypatch.delenv(var, raising=False)
    del settings.AUTHROCKET_LOGINROCKET_URL
    return monkeypatch


def test_defaults_match_the_documented_contract(clean_env) -> None:
    assert app_settings.LOGINROCKET_URL is None
    assert app_settings.JWT_KEY is None
    assert app_settings.VERIFY == "jwt"
    assert app_settings.JWT_LEEWAY == 5
    assert app_settings.LOGIN_MAX_AGE is None
    assert app_settings.RECHECK_INTERVAL == 300
    assert app_settings.RECHECK_GRACE == 0
    assert app_settings.CACHE == "default"
    assert (app_settings.HTTP_TIMEOUT, app_settings.HTTP_RETRIES) == (5, 2)
    assert app_settings.CREATE_USERS is True
    assert app_settings.EXEMPT_URLS == ()
    assert app_settings.TOKEN_ANYWHERE is False
    assert app_settings.WEBHOOK_SECRET is None


@pytest.mark.parametrize(
    ("attr", "var", "value", "expected"),
    [
        (
            "LOGINROCKET_URL",
            "LOGINROCKET_URL",
            "https://a.e2.loginrocket.com/",
            "https://a.e2.loginrocket.com",
        ),
        (
            "LOGINROCKET_URL",
            "AUTHROCKET_LOGIN_URL",
            "https://ar1.example.com",
            "https://ar1.example.com",
        ),
        ("JWT_KEY", "AUTHROCKET_JWT_KEY", "jsk_abc", "jsk_abc"),
        ("JWT_KEY", "AUTHROCKET_JWT_SECRET", "jsk_ar1", "jsk_ar1"),
        ("API_KEY", "AUTHROCKET_API_KEY", "ks_key", "ks_key"),
        (
            "URL",
            "AUTHROCKET_URL",
            "https://api-e2.authrocket.com/v2/",
            "https://api-e2.authrocket.com/v2",
        ),
        ("REALM", "AUTHROCKET_REALM", "rl_1", "rl_1"),
        ("WEBHOOK_SECRET", "AUTHROCKET_WEBHOOK_SECRET", "s3cret", "s3cret"),
    ],
)
def test_each_setting_falls_back_to_the_official_env_var(
    clean_env, attr, var, value, expected
) -> None:
    clean_env.setenv(var, value)
    assert getattr(app_settings, attr) == expected


def test_ar2_env_name_wins_over_the_ar1_name(clean_env) -> None:
    clean_env.setenv("AUTHROCKET_LOGIN_URL", "https://old.example.com")
    clean_env.setenv("LOGINROCKET_URL", "https://new.example.com")
    assert app_settings.LOGINROCKET_URL == "https://new.example.com"


def test_django_setting_wins_over_env(clean_env, settings) -> None:
    clean_env.setenv("AUTHROCKET_JWT_KEY", "jsk_from_env")
    settings.AUTHROCKET_JWT_KEY = "jsk_from_settings"
    assert app_settings.JWT_KEY == "jsk_from_settings"
    assert AppSettings.JWT_KEY.source() == "settings.AUTHROCKET_JWT_KEY"


def test_blank_env_var_counts_as_unset(clean_env) -> None:
    clean_env.setenv("AUTHROCKET_API_KEY", "   ")
    assert app_settings.API_KEY is None
    assert AppSettings.API_KEY.source() == "default"


def test_settings_are_read_lazily_so_override_settings_applies() -> None:
    with override_settings(
        AUTHROCKET_JWT_LEEWAY=30, AUTHROCKET_LOGINROCKET_URL="https://x.example/"
    ):
        assert app_settings.JWT_LEEWAY == 30
        assert app_settings.LOGINROCKET_URL == "https://x.example"
    assert app_settings.JWT_LEEWAY == 5


@pytest.mark.parametrize(
    ("url", "generation"),
    [
        ("https://api-e2.authrocket.com/v2", 2),
        ("https://api-e1.authrocket.com/v1", 1),
        ("https://api-e1.authrocket.com/v1/", 1),
        (None, 2),
    ],
)
def test_api_generation_follows_the_url(settings, url, generation) -> None:
    settings.AUTHROCKET_URL = url
    assert app_settings.api_generation == generation


def test_every_setting_is_documented_with_its_env_vars() -> None:
    names = [s.name for s in AppSettings.all()]
    assert len(names) == len(set(names))
    assert all(name.startswith("AUTHROCKET_") for name in names)
    assert all(s.doc for s in AppSettings.all())
    assert "AUTHROCKET_LOGINROCKET_URL" in names and "AUTHROCKET_WEBHOOK_SECRET" in names


def test_importing_the_package_reads_no_settings() -> None:
    import subprocess
    import sys

    code = (
        "import django_authrocket, django_authrocket.tokens, django_authrocket.client, "
        "django_authrocket.keys, django_authrocket.checks, django_authrocket.conf; "
        "from django.conf import settings; assert not settings.configured; print('clean')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": ""}, check=False
    )
    assert result.stdout.strip() == "clean", result.stderr


def test_the_middlewares_settings_are_read_again_when_settings_change(settings) -> None:
    """The middleware keeps one RequestSettings until it goes stale: every way settings
    change marks it so (override_settings, the settings fixture, reload())."""
    from django_authrocket.conf import reload, request_settings

    settings.AUTHROCKET_VERIFY = "jwt"
    held = request_settings()
    assert held.current and held.verify == "jwt"
    assert request_settings() is held  # kept while nothing changes
    with override_settings(AUTHROCKET_VERIFY="api", AUTHROCKET_EXEMPT_URLS=["/health/"]):
        assert not held.current
        inside = request_settings()
        assert (inside.verify, inside.exempt_urls) == ("api", ("/health/",))
    assert not inside.current
    assert request_settings().verify == "jwt"
    again = request_settings()
    settings.AUTHROCKET_JWT_LEEWAY = 7  # the settings fixture sends setting_changed
    assert not again.current and request_settings().jwt_leeway == 7
    kept = request_settings()
    reload()
    assert not kept.current

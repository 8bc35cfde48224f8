"""The pytest plugin's fixtures, run in a separate pytest process as a package user would."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose subprocess can import this checkout and starts with no Django settings."""
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    plugin_args: tuple[str, ...] = ()
    if not importlib.metadata.entry_points(group="pytest11", name="authrocket"):
        plugin_args = ("-p", "django_authrocket.testing.pytest_plugin")  # not pip-installed
    return pytester.runpytest_subprocess(*plugin_args, "-p", "no:randomly", *args)


def test_fixture_hands_out_one_shared_emulator_reset_for_each_test_without_django(
    inner: pytest.Pytester,
) -> None:
    inner.makepyfile(
        """
        import requests

        URLS = []

        def test_first(authrocket_emulator):
            authrocket_emulator.create_user("a@example.com")
            authrocket_emulator.inject_fault(times=None)
            URLS.append(authrocket_emulator.url)

            authrocket_emulator.add_login_url("http://127.0.0.1:8000/")

        def test_second(authrocket_emulator, authrocket_emulator_server):
            assert authrocket_emulator is authrocket_emulator_server
            assert authrocket_emulator.url == URLS[0]
            assert authrocket_emulator.events == []
            response = requests.get(authrocket_emulator.url + "/connect/jwks")
            assert response.status_code == 200

        def test_the_test_client_is_the_registered_login_url(authrocket_emulator):
            assert authrocket_emulator.login_urls == ["http://testserver/"]
            user = authrocket_emulator.create_user()
            back = requests.post(
                authrocket_emulator.url + "/login",
                data={"redirect_uri": "http://testserver/login/", "user_id": user["id"]},
                allow_redirects=False,
            )
            assert back.status_code == 302
        """
    )

    result = run(inner)

    result.assert_outcomes(passed=3)


def test_fixture_points_django_settings_at_the_emulator_and_clears_its_cache(
    inner: pytest.Pytester,
) -> None:
    inner.makepyfile(
        inner_settings="""
        SECRET_KEY = "inner"
        INSTALLED_APPS = []
        CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                        "LOCATION": "default"},
            "authrocket": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                           "LOCATION": "authrocket"},
        }
        AUTHROCKET_CACHE = "authrocket"
        """,
        test_inner="""
        from django.conf import settings as django_settings
        from django.core.cache import caches

        def test_a_previous_test_fills_the_caches():
            caches["authrocket"].set("jwks", "stale")
            caches["default"].set("other", "kept")

        def test_fixture_applies_settings_and_clears_the_authrocket_cache(authrocket_emulator):
            assert django_settings.AUTHROCKET_URL == authrocket_emulator.api_url()
            assert django_settings.AUTHROCKET_API_KEY == authrocket_emulator.api_key
            assert django_settings.AUTHROCKET_LOGINROCKET_URL == authrocket_emulator.url
            assert django_settings.AUTHROCKET_JWT_KEY is None
            assert caches["authrocket"].get("jwks") is None
            assert caches["default"].get("other") == "kept"

        def test_settings_are_restored_after_the_test():
            assert not hasattr(django_settings, "AUTHROCKET_URL")
        """,
    )

    result = run(inner, "--ds=inner_settings")

    result.assert_outcomes(passed=3)

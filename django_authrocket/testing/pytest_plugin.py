"""pytest plugin (entry point ``authrocket``): the ``authrocket_emulator`` fixtures.

``authrocket_emulator_server`` starts one emulator for the whole run. ``authrocket_emulator``
hands it to a test freshly reset and, when Django is configured, with the settings pointing at
it (through pytest-django's ``settings`` fixture, undone after the test) and the
``AUTHROCKET_CACHE`` cache cleared, so keys and results cached by an earlier test cannot leak.
Those settings include ``AUTHROCKET_ACCEPT_EMULATOR_TOKENS``: tests run with DEBUG off, where
the package refuses the emulator's tokens otherwise. Only for the test that asks for the
fixture, so a site's settings never need it.
Works without Django too: then it only resets the emulator.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from .emulator import AuthRocketEmulator

#: Where Django's test client says requests come from: the fixture's registered Login URL.
TEST_CLIENT_URL = "http://testserver/"


@pytest.fixture(scope="session")
def authrocket_emulator_server() -> Iterator[AuthRocketEmulator]:
    """One running emulator shared by the whole test session, whose connected app has the
    Login URL of Django's test client (``http://testserver/``); register a live server's
    with ``add_login_url()``."""
    with AuthRocketEmulator(login_urls=[TEST_CLIENT_URL]) as emulator:
        yield emulator


@pytest.fixture
def authrocket_emulator(
    request: pytest.FixtureRequest, authrocket_emulator_server: AuthRocketEmulator
) -> AuthRocketEmulator:
    """The shared emulator, reset, with Django's settings pointed at it when Django is set up."""
    emulator = authrocket_emulator_server
    emulator.reset()
    _point_django_at(request, emulator)
    return emulator


def _django_configured() -> bool:
    try:
        from django.conf import settings
    except ImportError:
        return False
    return bool(os.environ.get("DJANGO_SETTINGS_MODULE")) or settings.configured


def _point_django_at(request: pytest.FixtureRequest, emulator: AuthRocketEmulator) -> None:
    """Apply ``emulator.settings()`` with pytest-django's ``settings`` and clear the cache."""
    if not _django_configured():
        return
    try:
        settings = request.getfixturevalue("settings")
    except (pytest.FixtureLookupError, pytest.skip.Exception):
        return  # pytest-django is not installed, or Django is not usable in this run
    for name, value in emulator.settings().items():
        setattr(settings, name, value)

    from django.core.cache import caches
    from django.core.cache.backends.base import InvalidCacheBackendError

    alias = getattr(settings, "AUTHROCKET_CACHE", "default")
    # A misconfigured cache alias is for the app's system checks to report, not this fixture.
    with contextlib.suppress(InvalidCacheBackendError):
        caches[alias].clear()

"""Fixtures the emulator's own tests share: one running emulator per module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from django_authrocket.testing import AuthRocketEmulator


@pytest.fixture(scope="module")
def login_urls() -> tuple[str, ...]:
    """The connected app's Login URLs the module's emulator registers (a module overrides it)."""
    return ()


@pytest.fixture(scope="module")
def running(login_urls: tuple[str, ...]) -> Iterator[AuthRocketEmulator]:
    with AuthRocketEmulator(login_urls=login_urls) as emulator:
        yield emulator


@pytest.fixture
def emu(running: AuthRocketEmulator) -> AuthRocketEmulator:
    running.reset()
    return running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # the emulator is on loopback: no proxy
        yield session

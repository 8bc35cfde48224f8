"""Fixtures of the browser tests: Chromium, the emulator and the example site on free ports.

The example site runs as a user runs it: ``manage.py migrate``, ``manage.py authrocket_sync``
(as ``make demo``), then ``manage.py runserver --noreload`` in a subprocess, against a throwaway SQLite database, in its default demo mode
(``DEMO_EMULATOR_URL`` points it at the emulator this process starts on a free port).

Without Playwright or Debian's Chromium the tests skip; with ``AUTHROCKET_CI=1`` (set by
``.ci/run``) that skip is a failure (see tests/conftest.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from django_authrocket.testing import AuthRocketEmulator
from django_authrocket.testing.demo import seed_demo_users
from tests.processes import free_port, inherited_environment

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"
SCREENSHOTS = ROOT / "build" / "e2e-screenshots"

#: example_project/demo_site/settings.py: DEMO_EMULATOR_API_KEY (the site pins it in demo mode).
DEMO_EMULATOR_API_KEY = "ks_demo_example_project_not_secret"
#: ... and the port of its DEMO_EMULATOR_URL default.
DEMO_EMULATOR_PORT = 8765

#: Debian's Chromium as root in a closed network, as .ci/run installs it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT = 20.0


def site_env(database: Path, emulator_url: str, **extra: str) -> dict[str, str]:
    """This environment minus anything configuring Django or AuthRocket, plus the demo's."""
    env = inherited_environment()
    env.update(
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        DATABASE_URL=f"sqlite:///{database}",
        DEMO_EMULATOR_URL=emulator_url,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@dataclass
class ExampleSite:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """Debian's Chromium, and Playwright to drive it; skip (fail in CI) when either is absent."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not on PATH (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and its page, with short explicit timeouts."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def demo_emulator() -> Iterator[AuthRocketEmulator]:
    """The emulator as ``make demo`` runs it (its API key, the demo people).

    On the demo's port 8765 when it is free, so the screenshots show the addresses a newcomer
    sees; on a free port otherwise (a ``make demo`` running alongside, say).
    """
    emulator = AuthRocketEmulator(port=DEMO_EMULATOR_PORT, api_key=DEMO_EMULATOR_API_KEY)
    try:
        emulator.start()
    except OSError:
        emulator = AuthRocketEmulator(api_key=DEMO_EMULATOR_API_KEY).start()
    try:
        seed_demo_users(emulator)
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def example_site(
    demo_emulator: AuthRocketEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExampleSite]:
    """The example site in "api" mode, rechecking the session at every request.

    ``AUTHROCKET_RECHECK_INTERVAL=0`` so that a session ended at AuthRocket ends the Django
    session at the very next request, without waiting in the test.
    """
    folder = tmp_path_factory.mktemp("example_site")
    env = site_env(
        folder / "db.sqlite3",
        demo_emulator.url,
        AUTHROCKET_VERIFY="api",
        AUTHROCKET_RECHECK_INTERVAL="0",
    )
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    # As `make demo` does: the login tokens name the selected org only; the sync brings the
    # others (Ada's staff org, the orgs to switch to).
    synced = subprocess.run(
        [sys.executable, "manage.py", "authrocket_sync"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert synced.returncode == 0, synced.stdout + synced.stderr
    port = free_port()
    demo_emulator.add_login_url(f"http://127.0.0.1:{port}/")  # the site is the connected app
    log = folder / "runserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=EXAMPLE,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    site = ExampleSite(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        wait_until_up(site)
        yield site
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(f"--- runserver output ---\n{site.output()}")  # shown when a test failed


def wait_until_up(site: ExampleSite) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if site.process.poll() is not None:
            pytest.fail(f"runserver exited with {site.process.returncode}:\n{site.output()}")
        try:
            with opener.open(f"{site.url}/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"runserver did not answer within {STARTUP_TIMEOUT:.0f} s:\n{site.output()}")

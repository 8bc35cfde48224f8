"""A real Redis, stopped mid-run and started again: 503s while it is down, no 500, and the site
recovers by itself, with no restart (issue 12, finding 4).

The test starts its own ``redis-server`` on a free loopback port (Debian's ``redis-server``
package; ``.ci/run`` installs it, and CI's PostgreSQL + Redis job runs this file with the rest
of the suite). Without the program, or without redis-py, it skips, which CI turns into a
failure (``AUTHROCKET_CI``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
from django.test import Client

from django_authrocket.testing import recheck_at_next_request
from tests.helpers import bearer_auth, logged_in, login_with

pytestmark = pytest.mark.django_db(transaction=True)

pytest.importorskip("redis", reason="needs redis-py (the `test` extra)")


class RedisServer:
    """One ``redis-server`` process on a fixed loopback port, which can be stopped and started."""

    def __init__(self, binary: str, port: int, folder: str) -> None:
        self.binary, self.port, self.folder = binary, port, folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), *options, "--dir", self.folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs Redis: install redis-server (Debian's package)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    folder = tempfile.mkdtemp(prefix="authrocket-redis-outage-")
    server = RedisServer(binary, port, folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["jwt", "api"])
def site(request, settings, emulator, redis_server):  # type: ignore[no-untyped-def]
    """The test site with its AuthRocket cache in that Redis, in jwt or api mode."""
    settings.CACHES = {
        **settings.CACHES,
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
        },
    }
    settings.AUTHROCKET_CACHE = "redis"
    settings.AUTHROCKET_VERIFY = request.param
    settings.AUTHROCKET_RECHECK_INTERVAL = 1
    settings.AUTHROCKET_RECHECK_GRACE = 0
    settings.AUTHROCKET_BEARER_URLS = [r"^api/"]
    return settings


def test_redis_stopped_mid_run_gives_503s_and_the_site_recovers_without_a_restart(
    site, redis_server, emulator, ada
) -> None:
    browser = logged_in(emulator, ada)
    bearer = emulator.mint_token(ada["id"])
    assert Client().get("/api/me/", **bearer_auth(bearer)).status_code == 200

    redis_server.stop()

    fresh = emulator.mint_token(ada["id"])
    refused = login_with(Client(), fresh)
    assert refused.status_code == 503
    assert b"could not be reached" in refused.content
    answer = Client().get("/api/me/", **bearer_auth(bearer))
    assert answer.status_code == 503 and answer.json()["error"] == "unavailable"
    if site.AUTHROCKET_VERIFY == "api":
        recheck_at_next_request(browser)
        ended = browser.get("/api/me/", HTTP_ACCEPT="application/json")
        assert ended.status_code == 401 and ended.json()["error"] == "unreachable"
        browser = None  # no grace here: fail closed, as when AuthRocket is unreachable
    else:
        assert browser.get("/private/").status_code == 200  # no cache needed

    redis_server.start()  # the same port, an empty Redis: nothing in this process restarts

    again = Client()
    assert login_with(again, fresh).status_code == 302  # the refused token was not spent
    assert again.get("/private/").status_code == 200
    assert Client().get("/api/me/", **bearer_auth(bearer)).status_code == 200
    if browser is not None:
        assert browser.get("/private/").status_code == 200

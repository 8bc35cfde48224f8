"""The example site as it runs in production: gunicorn workers, PostgreSQL, Redis, on loopback.

Used by ``tests/test_multiprocess.py`` and ``benchmarks/load.py``. Everything here is started
and stopped by its caller, on free loopback ports:

* :func:`postgres_admin_url` finds PostgreSQL (``DATABASE_URL`` when it points at PostgreSQL,
  else the CI recipe's ``postgres://ci:ci@127.0.0.1:5432/ci`` when it answers) and
  :func:`fresh_database` creates a throwaway database there, dropped afterwards;
* :func:`redis_server` starts Debian's ``redis-server`` (no persistence);
* :func:`gunicorn_site` runs ``manage.py migrate`` and then ``gunicorn demo_site.wsgi`` from
  ``example_project/`` with several workers, configured through the environment exactly as a
  deployment would be (``DATABASE_URL``, ``CACHE_URL``, ``LOGINROCKET_URL``, ...), pointed at an
  :class:`~django_authrocket.testing.AuthRocketEmulator` running in the caller's process.

Requests go through :func:`fetch` (``http.client``, a new connection each, nothing logged).
Gunicorn's access log records the pid of the worker that served each request and the request's
``X-Probe`` header, so a test can tell which workers served what (:meth:`Site.served_by`).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from tests.processes import free_port, inherited_environment

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "example_project"

#: The role and database .ci/run creates on PostgreSQL 15.
RECIPE_DATABASE_URL = "postgres://ci:ci@127.0.0.1:5432/ci"
#: The webhook secret the site is started with (``AUTHROCKET_WEBHOOK_SECRET``).
WEBHOOK_SECRET = "multiprocess-test-webhook-secret"
#: Worker pid and X-Probe header of each request, one line each, in gunicorn's access log.
ACCESS_LOG_FORMAT = "%(p)s %({x-probe}i)s %(s)s %(m)s %(U)s"
STARTUP_TIMEOUT = 30.0


@dataclass
class Answer:
    """One HTTP answer: status, headers, body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def cookie(self, name: str) -> str | None:
        """The value the answer sets for cookie ``name`` (None when it sets none)."""
        jar: SimpleCookie = SimpleCookie()
        for value in self.headers.get_all("Set-Cookie") or ():
            jar.load(value)
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None


def fetch(
    url: str,
    *,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: object = None,
    timeout: float = 20.0,
) -> Answer:
    """One request on a new loopback connection, redirects not followed.

    Plain ``http.client`` on purpose: no proxy from the environment, no connection reuse (so
    any gunicorn worker may take it), and no request line in any log (urllib3 logs URLs at
    DEBUG, and login URLs carry tokens).
    """
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"loopback only, not {parts.hostname}")
    target = parts.path or "/"
    query = "&".join(q for q in (parts.query, urlencode(params or {})) if q)
    if query:
        target = f"{target}?{query}"
    sent = {"Connection": "close", **(headers or {})}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def login_marker(site_url: str) -> str:
    """Start a login at the site's login view, as a browser does: the ``Cookie`` header value
    of the login marker it leaves, for the request that comes back with the token."""
    start = fetch(f"{site_url}/login/", params={"next": "/dashboard/"})
    marker = start.cookie("authrocket_login")
    if start.status != 302 or not marker:
        raise AssertionError(f"the login view left no login marker ({start.status})")
    return f"authrocket_login={marker}"


# --- what is missing -------------------------------------------------------------------------


def gunicorn_missing() -> str | None:
    if importlib.util.find_spec("gunicorn") is None:
        return "needs gunicorn: .venv/bin/pip install gunicorn"
    return None


def redis_missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "needs redis-server on PATH (apt-get install redis-server)"
    return None


def postgres_admin_url() -> tuple[str | None, str]:
    """A PostgreSQL URL whose role may create databases, or None and why there is none."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://", "pgsql://")):
        candidates = [configured]
    else:
        candidates = [RECIPE_DATABASE_URL]
    try:
        import psycopg
    except ImportError:
        return None, "needs psycopg for PostgreSQL: pip install 'psycopg[binary]'"
    for url in candidates:
        try:
            with psycopg.connect(_libpq(url), connect_timeout=3):
                return url, ""
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return None, (
                f"needs PostgreSQL: {_without_password(url)} did not answer ({reason}); set "
                "DATABASE_URL=postgres://... or start the CI recipe's cluster "
                "(pg_ctlcluster 15 main start)"
            )
    return None, "needs PostgreSQL"  # pragma: no cover - one candidate at least


def _libpq(url: str) -> str:
    """django-environ accepts postgres://, pgsql://; libpq wants postgresql:// or postgres://."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in ("pgsql", "postgres", "postgresql") else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


# --- services --------------------------------------------------------------------------------


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database next to ``admin_url``'s (dropped afterwards); yields its URL."""
    import psycopg
    from psycopg import sql

    name = f"authrocket_mp_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def query_one(database_url: str, statement: str, *params: object) -> object:
    """The first column of the first row of a query on ``database_url`` (psycopg)."""
    import psycopg

    with psycopg.connect(_libpq(database_url)) as connection:
        row = connection.execute(statement, params).fetchone()  # type: ignore[arg-type]
    return None if row is None else row[0]


@contextmanager
def redis_server() -> Iterator[str]:
    """``redis-server`` on a free loopback port, without persistence; yields ``redis://`` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(redis_missing())
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="authrocket-mp-redis-")
    options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]
    process = subprocess.Popen(
        [binary, "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


# --- the site --------------------------------------------------------------------------------


def site_environment(
    emulator_url: str,
    api_key: str,
    realm_id: str,
    *,
    database_url: str,
    cache_url: str,
    verify: str = "jwt",
    recheck_interval: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The example site's environment as a deployment sets it, pointed at the emulator."""
    env = inherited_environment()
    env.update(
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        PYTHONUNBUFFERED="1",
        DEBUG="false",
        SECRET_KEY=f"multiprocess-{uuid.uuid4().hex}",
        SECURE_COOKIES="false",  # plain http on loopback
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
        CACHE_URL=cache_url,
        LOGINROCKET_URL=emulator_url,
        AUTHROCKET_URL=f"{emulator_url}/api/v2",
        AUTHROCKET_API_KEY=api_key,
        AUTHROCKET_REALM=realm_id,
        AUTHROCKET_VERIFY=verify,
        AUTHROCKET_WEBHOOK_SECRET=WEBHOOK_SECRET,
        AUTHROCKET_ACCEPT_EMULATOR_TOKENS="true",  # the emulator's tokens, with DEBUG off
    )
    if recheck_interval is not None:
        env["AUTHROCKET_RECHECK_INTERVAL"] = str(recheck_interval)
    env.update(extra or {})
    return env


def migrate(env: Mapping[str, str]) -> None:
    """``manage.py migrate`` for the site's database; RuntimeError with its output on failure."""
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=EXAMPLE,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout}{result.stderr}")


@dataclass
class Site:
    """A running gunicorn serving the example site."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    access_log: Path
    workers: int
    env: dict[str, str] = field(repr=False)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def access_lines(self) -> list[list[str]]:
        if not self.access_log.exists():
            return []
        return [line.split() for line in self.access_log.read_text().splitlines() if line]

    def served_by(self, probe: str) -> list[tuple[int, int]]:
        """``(worker pid, status)`` of each request sent with header ``X-Probe: <probe>``."""
        return [
            (int(parts[0].strip("<>")), int(parts[2]))
            for parts in self.access_lines()
            if len(parts) >= 3 and parts[1] == probe
        ]

    def worker_pids(self) -> set[int]:
        return {int(parts[0].strip("<>")) for parts in self.access_lines() if parts}


@contextmanager
def gunicorn_site(
    env: Mapping[str, str], folder: Path, *, workers: int = 4, threads: int = 1
) -> Iterator[Site]:
    """Migrate, then serve the example site with gunicorn; yields when every worker answers.

    Sync workers answer one request per connection (no keep-alive), so each request is a new
    connection that any worker may accept.
    """
    migrate(env)
    port = free_port()
    log = folder / "gunicorn.log"
    access_log = folder / "access.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        "--backlog",
        "2048",
    ]
    if threads > 1:
        command += ["--threads", str(threads)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "demo_site.wsgi:application"],
            cwd=EXAMPLE,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    site = Site(f"http://127.0.0.1:{port}", process, log, access_log, workers, dict(env))
    try:
        _wait_for_every_worker(site)
        yield site
    finally:
        process.terminate()  # gunicorn: graceful stop of every worker
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_every_worker(site: Site) -> None:
    """Until each worker has served a request (and loaded Django): concurrent warm-up GETs."""
    from concurrent.futures import ThreadPoolExecutor

    deadline = time.monotonic() + STARTUP_TIMEOUT

    def hit(_: int) -> None:
        try:
            fetch(f"{site.url}/", headers={"X-Probe": "warm-up"}, timeout=5)
        except OSError:
            time.sleep(0.1)

    with ThreadPoolExecutor(max_workers=site.workers * 2) as pool:
        while time.monotonic() < deadline:
            if site.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {site.process.returncode}:\n{site.output()}"
                )
            list(pool.map(hit, range(site.workers * 4)))
            if len({pid for pid, _ in site.served_by("warm-up")}) >= site.workers:
                return
    raise RuntimeError(
        f"not every gunicorn worker answered within {STARTUP_TIMEOUT:.0f} s:\n{site.output()}"
    )

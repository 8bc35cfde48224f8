"""The example site under gunicorn (4 workers) with PostgreSQL, Redis and the emulator.

Each worker is its own process with its own memory, so whatever must hold across workers has to
go through the shared cache (Redis) or the database (PostgreSQL), as in production. The site,
a fresh PostgreSQL database, a Redis server and the AuthRocket emulator are all started (and
stopped) here, on loopback. Requests go out on new connections (gunicorn's sync workers do not
keep connections alive), so any worker may serve any of them; gunicorn's access log says which
worker served which request.

Needs gunicorn, redis-server and PostgreSQL (``DATABASE_URL=postgres://...``, or the CI
recipe's ``postgres://ci:ci@127.0.0.1:5432/ci`` when it answers). Without one of them the tests
skip with the reason, which ``AUTHROCKET_CI=1`` turns into a failure.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from django_authrocket.testing import AuthRocketEmulator
from tests import multiprocess_site as mp

pytestmark = [pytest.mark.shared_cache, pytest.mark.postgres]

WORKERS = 4
#: AUTHROCKET_RECHECK_INTERVAL of the api-mode site (seconds).
RECHECK_INTERVAL = 2
#: AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL's default: after a key set fetch, an unknown kid makes
#: no new fetch for this long (across workers). A key rotation is waited out past it.
JWKS_MIN_REFETCH_INTERVAL = 10

T = TypeVar("T")
R = TypeVar("R")


# --- the services ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> str:
    """A PostgreSQL URL whose role can create databases; skip (fail in CI) without one."""
    missing = [reason for reason in (mp.gunicorn_missing(), mp.redis_missing()) if reason]
    url, why = mp.postgres_admin_url()
    if url is None:
        missing.append(why)
    if missing:
        pytest.skip("; ".join(missing))
    assert url is not None
    return url


@pytest.fixture(scope="module")
def database(postgres: str) -> Iterator[str]:
    with mp.fresh_database(postgres) as url:
        yield url


@pytest.fixture(scope="module")
def redis(postgres: str) -> Iterator[str]:
    with mp.redis_server() as url:
        yield url


@pytest.fixture(scope="module")
def emulator() -> Iterator[AuthRocketEmulator]:
    with AuthRocketEmulator() as emu:
        yield emu


@dataclass
class RunningSite:
    site: mp.Site
    keys_fetched_at: float = 0.0  # monotonic time of the last key set fetch we caused


@contextmanager
def _start(
    emulator: AuthRocketEmulator,
    database: str,
    cache_url: str,
    folder: Path,
    **options: object,
) -> Iterator[mp.Site]:
    env = mp.site_environment(
        emulator.url,
        emulator.api_key,
        emulator.realm_id,
        database_url=database,
        cache_url=cache_url,
        **options,  # type: ignore[arg-type]
    )
    with mp.gunicorn_site(env, folder, workers=WORKERS) as site:
        try:
            yield site
        finally:
            print(f"--- gunicorn output ({folder.name}) ---\n{site.output()[-5000:]}")


@pytest.fixture(scope="module")
def jwt_site(
    emulator: AuthRocketEmulator,
    database: str,
    redis: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningSite]:
    """Tokens verified with LoginRocket's published keys (JWKS), cached in Redis db 0."""
    folder = tmp_path_factory.mktemp("jwt_site")
    with _start(emulator, database, redis, folder, verify="jwt") as site:
        running = RunningSite(site)
        # The first login fetches the current key set: the start of the tests' clock.
        user = emulator.create_user()
        response = login(site, emulator.login(user["id"])[1], "first-fetch")
        assert is_logged_in(response), response.text
        running.keys_fetched_at = time.monotonic()
        yield running


@pytest.fixture(scope="module")
def api_site(
    emulator: AuthRocketEmulator,
    database: str,
    redis: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[mp.Site]:
    """Sessions checked through the Core API, rechecked every 2 s; Redis db 1 as its cache."""
    folder = tmp_path_factory.mktemp("api_site")
    with _start(
        emulator,
        database,
        redis.removesuffix("/0") + "/1",
        folder,
        verify="api",
        recheck_interval=RECHECK_INTERVAL,
    ) as site:
        yield site


# --- helpers ---------------------------------------------------------------------------------


def login(site: mp.Site, token: str, probe: str) -> mp.Answer:
    """Come back from LoginRocket with ``token``, as a browser would (new connection), after
    starting the login at the site (its login marker)."""
    return mp.fetch(
        f"{site.url}/login/",
        params={"token": token, "next": "/dashboard/"},
        headers={"X-Probe": probe, "Cookie": mp.login_marker(site.url)},
    )


def is_logged_in(response: mp.Answer) -> bool:
    return response.status == 302 and response.header("Location") == "/dashboard/"


def dashboard(site: mp.Site, session_cookie: str, probe: str) -> mp.Answer:
    """GET the @login_required dashboard with that session cookie, on a new connection."""
    return mp.fetch(
        f"{site.url}/dashboard/",
        headers={"X-Probe": probe, "Cookie": f"sessionid={session_cookie}"},
    )


def all_at_once(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``func`` on every item, each in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(items))

    def run(item: T) -> R:
        barrier.wait(timeout=10)
        return func(item)

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))


def workers_that_served(site: mp.Site, probe: str, expected: int) -> set[int]:
    """The pids of the workers that served the ``expected`` requests tagged ``probe``."""
    deadline = time.monotonic() + 5  # gunicorn logs a request just after answering it
    while len(served := site.served_by(probe)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(served) == expected, served
    return {pid for pid, _ in served}


def session_cookie_of(response: mp.Answer) -> str:
    cookie = response.cookie("sessionid")
    assert cookie, response.headers
    return cookie


def probe_name(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


# --- the tests ---------------------------------------------------------------------------------


def test_a_key_rotation_costs_one_key_set_fetch_across_all_workers(
    jwt_site: RunningSite, emulator: AuthRocketEmulator
) -> None:
    site = jwt_site.site
    # The workers know the old key set. A fetch marks the key set "just fetched" for
    # AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL, so a rotation is only noticed after it: wait it out.
    wait = jwt_site.keys_fetched_at + JWKS_MIN_REFETCH_INTERVAL + 0.5 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    new_kid = emulator.rotate_keys()
    users = [emulator.create_user() for _ in range(8)]
    tokens = [emulator.login(user["id"])[1] for user in users for _ in range(4)]  # 32 tokens
    # The fetch takes a while, so workers that see the new kid meanwhile must wait, not fetch.
    emulator.inject_fault("/connect/jwks", kind="latency", delay=0.3, times=None)
    emulator.clear_requests()
    probe = probe_name("rotation")
    try:
        responses = all_at_once(lambda token: login(site, token, probe), tokens)
    finally:
        emulator.clear_faults()

    assert [r.status for r in responses] == [302] * len(tokens)
    assert all(is_logged_in(r) for r in responses)
    assert emulator.count_requests("/connect/jwks") == 1
    assert new_kid in {key["kid"] for key in emulator.jwks["keys"]}
    assert len(workers_that_served(site, probe, len(tokens))) == WORKERS
    jwt_site.keys_fetched_at = time.monotonic()


def test_at_most_one_get_session_call_per_session_per_recheck_interval(
    api_site: mp.Site, emulator: AuthRocketEmulator
) -> None:
    user = emulator.create_user(first_name="Katherine", last_name="Johnson")
    session, token = emulator.login(user["id"])
    logged_in = login(api_site, token, probe_name("recheck-login"))
    assert is_logged_in(logged_in), logged_in.text
    cookie = session_cookie_of(logged_in)
    # A slow answer keeps the first caller busy while every other worker wants the same answer.
    emulator.inject_fault(
        f"/api/v2/sessions/{session['id']}", kind="latency", delay=0.3, times=None
    )
    try:
        for round_ in range(2):
            time.sleep(RECHECK_INTERVAL * 1.1 + 0.3)  # the last answer is stale everywhere
            emulator.clear_requests()
            probe = probe_name(f"recheck-{round_}")
            responses = all_at_once(
                lambda _, probe=probe: dashboard(api_site, cookie, probe), range(40)
            )

            assert [r.status for r in responses] == [200] * 40
            assert all("Katherine" in r.text for r in responses)
            assert emulator.count_requests(f"/api/v2/sessions/{session['id']}") == 1
            assert len(workers_that_served(api_site, probe, 40)) == WORKERS
    finally:
        emulator.clear_faults()


def test_twenty_parallel_first_logins_of_one_person_make_one_user(
    jwt_site: RunningSite, emulator: AuthRocketEmulator, database: str
) -> None:
    site = jwt_site.site
    tag = uuid.uuid4().hex[:8]
    email = f"grace-{tag}@example.com"
    person = emulator.create_user(email, first_name="Grace", username=f"grace-{tag}")
    tokens = [emulator.login(person["id"])[1] for _ in range(20)]
    probe = probe_name("first-logins")

    responses = all_at_once(lambda token: login(site, token, probe), tokens)

    assert [r.status for r in responses] == [302] * 20, [r.text[:300] for r in responses]
    assert all(is_logged_in(r) for r in responses)
    assert len({session_cookie_of(r) for r in responses}) == 20  # twenty browsers
    mirror_rows = mp.query_one(
        database,
        "SELECT count(*) FROM django_authrocket_authrocketuser WHERE authrocket_id = %s",
        person["id"],
    )
    users = mp.query_one(
        database,
        "SELECT count(*) FROM auth_user WHERE email = %s OR username IN (%s, %s)",
        email,
        f"grace-{tag}",
        person["id"],
    )
    linked = mp.query_one(
        database,
        "SELECT count(DISTINCT user_id) FROM django_authrocket_authrocketlogin"
        " WHERE user_id IN (SELECT id FROM auth_user WHERE email = %s)",
        email,
    )
    assert (mirror_rows, users, linked) == (1, 1, 1)
    assert len(workers_that_served(site, probe, 20)) >= 2


def test_a_session_deleted_webhook_on_one_worker_logs_the_browser_out_on_every_worker(
    jwt_site: RunningSite, emulator: AuthRocketEmulator
) -> None:
    site = jwt_site.site
    user = emulator.create_user(first_name="Alan")
    session, token = emulator.login(user["id"])
    logged_in = login(site, token, probe_name("signout-login"))
    assert is_logged_in(logged_in), logged_in.text
    cookie = session_cookie_of(logged_in)
    before = probe_name("signout-before")
    seen = all_at_once(lambda _: dashboard(site, cookie, before), range(16))
    assert [r.status for r in seen] == [200] * 16  # logged in, on every worker
    assert len(workers_that_served(site, before, 16)) == WORKERS

    emulator.end_session(session["id"])
    event = next(
        e
        for e in reversed(emulator.events)
        if e["event_type"] == "session.deleted" and e.get("session_id") == session["id"]
    )
    hook_probe = probe_name("signout-webhook")
    hook = mp.fetch(
        f"{site.url}/webhook/{mp.WEBHOOK_SECRET}/",
        method="POST",
        json_body=event,
        headers={"X-Probe": hook_probe},
    )
    assert hook.status == 200, hook.text
    assert hook.json()["outcome"] == "1 Django session(s) ended"
    (hook_worker,) = workers_that_served(site, hook_probe, 1)

    after = probe_name("signout-after")
    responses = all_at_once(lambda _: dashboard(site, cookie, after), range(16))

    assert [r.status for r in responses] == [302] * 16
    assert {r.header("Location") for r in responses} == {"/login/?next=/dashboard/"}
    served = workers_that_served(site, after, 16)
    assert len(served) == WORKERS and hook_worker in served

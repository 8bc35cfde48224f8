"""Load run: logged-in requests on the example site under gunicorn, in jwt and api mode.

The example site runs as in production: ``gunicorn demo_site.wsgi`` with 4 sync workers, on
PostgreSQL (a throwaway database) with Redis as the shared cache, pointed at the AuthRocket
emulator in this process. Without PostgreSQL or redis-server it runs on SQLite + LocMem
instead, and says so (each worker then has its own cache: a recheck per worker, not per site).
Everything is on loopback and stopped at the end.

For each mode it logs ``--sessions`` browsers in, then ``wrk`` sends ``GET /dashboard/`` (a
``@login_required`` page) with their session cookies, round robin, from ``--connections``
connections for ``--duration`` seconds. In api mode the session is rechecked through the Core
API every ``AUTHROCKET_RECHECK_INTERVAL`` (2 s here, so there are many rechecks) and the
emulator answers 1% of the Get Session calls with a 503.

It prints requests/s, p50/p99 latency, the answers that were not 200 and the 5xx among them,
socket errors, and the Core API calls made. It exits 1 when any answer is a 5xx: the target is
zero 5xx caused by this package (a fault at AuthRocket must never become a server error).

The ``cache-outage`` cell (PostgreSQL + Redis only) runs jwt mode on a Redis of its own, stops
that Redis for the middle third of the run and starts it again on the same port: the logged-in
traffic sees no 5xx, a login during the outage answers 503 (never 500), and a login after it
succeeds, with no restart of the site. It fails when any of that does not hold.

    .venv/bin/python benchmarks/load.py            # 30 s per mode      (make load)
    .venv/bin/python benchmarks/load.py --quick    # 5 s per mode, CI   (make load-quick)

Needs gunicorn (``pip install gunicorn``) and wrk (``apt-get install wrk``); without wrk a
slower Python client (threads) is used and named in the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from django_authrocket.testing import AuthRocketEmulator  # noqa: E402
from tests import multiprocess_site as mp  # noqa: E402
from tests.processes import free_port  # noqa: E402

WORKERS = 4
RECHECK_INTERVAL = 2
FAULT_PROBABILITY = 0.01

WRK_SCRIPT = r"""
-- Round robin over the session cookies in args[1]; counts answers by status class.
local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   cookies = {}
   for line in io.lines(args[1]) do
      if #line > 0 then table.insert(cookies, line) end
   end
   n = id
   s2, s3, s4, s5 = 0, 0, 0, 0
end

function request()
   n = (n % #cookies) + 1
   return wrk.format("GET", wrk.path, {["Cookie"] = "sessionid=" .. cookies[n]})
end

function response(status, headers, body)
   if status >= 500 then s5 = s5 + 1
   elseif status >= 400 then s4 = s4 + 1
   elseif status >= 300 then s3 = s3 + 1
   else s2 = s2 + 1 end
end

function done(summary, latency, requests)
   local t = {s2 = 0, s3 = 0, s4 = 0, s5 = 0}
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"s2xx": %d, "s3xx": %d, "s4xx": %d, "s5xx": %d, "socket_errors": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      t.s2, t.s3, t.s4, t.s5, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Result:
    mode: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    status: dict[str, int]
    socket_errors: int
    get_session_calls: int
    injected_503: int
    jwks_fetches: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def not_200(self) -> int:
        return self.status["3xx"] + self.status["4xx"] + self.status["5xx"]


# --- the backends ---------------------------------------------------------------------------


@contextmanager
def backends(stack: ExitStack, wanted: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(description, [(database URL, cache URL) per mode]) for PostgreSQL + Redis or SQLite."""
    reasons = [r for r in (mp.redis_missing(),) if r]
    admin_url, why = mp.postgres_admin_url()
    if admin_url is None:
        reasons.append(why)
    if wanted == "postgres" and reasons:
        raise SystemExit("--backend postgres: " + "; ".join(reasons))
    if wanted != "sqlite" and not reasons:
        assert admin_url is not None
        database = stack.enter_context(mp.fresh_database(admin_url))
        redis = stack.enter_context(mp.redis_server())
        cache_base = redis.removesuffix("/0")
        version = mp.query_one(database, "SHOW server_version")
        yield (
            f"PostgreSQL {str(version).split()[0]} + Redis (django.core.cache RedisCache)",
            [(database, f"{cache_base}/0"), (database, f"{cache_base}/1")],
        )
        return
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="authrocket-load-")))
    why_not = f" ({'; '.join(reasons)})" if reasons and wanted != "sqlite" else ""
    yield (
        f"SQLite + LocMem: one cache per worker{why_not}",
        [
            (f"sqlite:///{folder / 'jwt.sqlite3'}", "locmemcache://load-jwt"),
            (f"sqlite:///{folder / 'api.sqlite3'}", "locmemcache://load-api"),
        ],
    )


# --- one mode ------------------------------------------------------------------------------


def log_in(site: mp.Site, emulator: AuthRocketEmulator, count: int) -> list[str]:
    """Log ``count`` browsers in (one person each); their session cookies."""
    people = [emulator.create_user() for _ in range(count)]

    def one(person: dict) -> str:
        token = emulator.login(person["id"])[1]
        answer = mp.fetch(
            f"{site.url}/login/",
            params={"token": token, "next": "/dashboard/"},
            headers={"Cookie": mp.login_marker(site.url)},  # as a browser: started here
        )
        cookie = answer.cookie("sessionid")
        if answer.status != 302 or not cookie:
            raise SystemExit(
                f"login failed ({answer.status}):\n{answer.text[:300]}\n"
                f"--- gunicorn output ---\n{site.output()[-5000:]}"
            )
        return cookie

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, people))


def run_wrk(url: str, cookies: list[str], folder: Path, duration: int, connections: int) -> dict:
    cookie_file = folder / "cookies.txt"
    cookie_file.write_text("\n".join(cookies) + "\n")
    script = folder / "load.lua"
    script.write_text(WRK_SCRIPT)
    threads = max(1, min(2, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    out = subprocess.run(
        [*command, "--timeout", "10s", "-s", str(script), url, "--", str(cookie_file)],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_RESULT "))
    return json.loads(line.removeprefix("WRK_RESULT "))


def run_python_client(url: str, cookies: list[str], duration: int, connections: int) -> dict:
    """The fallback without wrk: ``connections`` threads, one request per connection."""
    latencies: list[float] = []
    counts = {"s2xx": 0, "s3xx": 0, "s4xx": 0, "s5xx": 0, "socket_errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker(offset: int) -> None:
        n = offset
        while time.monotonic() < deadline:
            n = (n + 1) % len(cookies)
            start = time.perf_counter()
            try:
                status = mp.fetch(url, headers={"Cookie": f"sessionid={cookies[n]}"}).status
                key = f"s{status // 100}xx"
            except OSError:
                key = "socket_errors"
            elapsed = time.perf_counter() - start
            with lock:
                counts[key] = counts.get(key, 0) + 1
                latencies.append(elapsed)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(latencies),
        "duration_us": int(seconds * 1e6),
        "p50_us": int(cuts[49] * 1e6),
        "p99_us": int(cuts[98] * 1e6),
        **counts,
    }


def run_mode(
    mode: str,
    emulator: AuthRocketEmulator,
    database_url: str,
    cache_url: str,
    args: argparse.Namespace,
) -> Result:
    with tempfile.TemporaryDirectory(prefix=f"authrocket-load-{mode}-") as tmp:
        folder = Path(tmp)
        env = mp.site_environment(
            emulator.url,
            emulator.api_key,
            emulator.realm_id,
            database_url=database_url,
            cache_url=cache_url,
            verify=mode,
            recheck_interval=RECHECK_INTERVAL if mode == "api" else None,
            extra={"LOG_LEVEL": "WARNING"},
        )
        if args.conn_max_age and database_url.startswith("postgres"):
            # Persistent connections, as production runs PostgreSQL (django-environ reads it).
            env["DATABASE_URL"] = f"{database_url}?conn_max_age={args.conn_max_age}"
        with mp.gunicorn_site(env, folder, workers=args.workers) as site:
            cookies = log_in(site, emulator, args.sessions)
            emulator.clear_faults()
            fault = None
            if mode == "api":
                fault = emulator.inject_fault(
                    "/api/v2/sessions/*", status=503, times=None, probability=FAULT_PROBABILITY
                )
            emulator.clear_requests()
            url = f"{site.url}/dashboard/"
            if args.client == "wrk":
                raw = run_wrk(url, cookies, folder, args.duration, args.connections)
            else:
                raw = run_python_client(url, cookies, args.duration, args.connections)
            emulator.clear_faults()
            if raw["s5xx"]:
                print(f"--- gunicorn output ({mode}) ---\n{site.output()[-8000:]}")
            return Result(
                mode=mode,
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                status={k: raw[f"s{k}"] for k in ("2xx", "3xx", "4xx", "5xx")},
                socket_errors=raw["socket_errors"],
                get_session_calls=emulator.count_requests("/api/v2/sessions/*", "GET"),
                injected_503=fault.hits if fault is not None else 0,
                jwks_fetches=emulator.count_requests("/connect/jwks"),
            )


# --- the cache-outage cell ---------------------------------------------------------------------


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """``redis-server`` on ``port`` (loopback, no persistence), once it accepts connections."""
    binary = shutil.which("redis-server")
    assert binary is not None, mp.redis_missing()
    options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)]
    process = subprocess.Popen(
        [binary, "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if port_open(port):
            return process
        time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_redis(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def login_status(site: mp.Site, emulator: AuthRocketEmulator) -> int:
    """The final status of a fresh login: 302 when it worked, else its failure page's status."""
    token = emulator.login(emulator.create_user()["id"])[1]
    answer = mp.fetch(
        f"{site.url}/login/",
        params={"token": token, "next": "/dashboard/"},
        headers={"Cookie": mp.login_marker(site.url)},  # as a browser: started here
    )
    location = answer.header("Location") or ""
    if answer.status == 303 and location.startswith("/"):
        return mp.fetch(f"{site.url}{location}").status
    return answer.status


@dataclass
class Outage:
    """What the cache-outage cell saw besides the load: fresh logins during and after it."""

    seconds: float
    during: list[int]
    after: list[int]

    @property
    def ok(self) -> bool:
        return set(self.during) == {503} and set(self.after) == {302}


def run_cache_outage(
    emulator: AuthRocketEmulator, database_url: str, args: argparse.Namespace
) -> tuple[Result, Outage]:
    with tempfile.TemporaryDirectory(prefix="authrocket-load-outage-") as tmp:
        folder = Path(tmp)
        port = free_port()
        redis = start_redis(port, folder)
        env = mp.site_environment(
            emulator.url,
            emulator.api_key,
            emulator.realm_id,
            database_url=database_url,
            cache_url=f"redis://127.0.0.1:{port}/0",
            verify="jwt",
            extra={"LOG_LEVEL": "WARNING"},
        )
        try:
            with mp.gunicorn_site(env, folder, workers=args.workers) as site:
                cookies = log_in(site, emulator, args.sessions)
                emulator.clear_faults()
                emulator.clear_requests()
                third = args.duration / 3
                outage = Outage(seconds=third, during=[], after=[])

                def break_and_mend() -> None:
                    nonlocal redis
                    time.sleep(third)
                    stop_redis(redis)
                    outage.during.extend(login_status(site, emulator) for _ in range(4))
                    time.sleep(third)
                    redis = start_redis(port, folder)
                    outage.after.extend(login_status(site, emulator) for _ in range(4))

                mender = threading.Thread(target=break_and_mend)
                mender.start()
                url = f"{site.url}/dashboard/"
                if args.client == "wrk":
                    raw = run_wrk(url, cookies, folder, args.duration, args.connections)
                else:
                    raw = run_python_client(url, cookies, args.duration, args.connections)
                mender.join()
                if raw["s5xx"] or not outage.ok:
                    print(f"--- gunicorn output (cache-outage) ---\n{site.output()[-8000:]}")
        finally:
            stop_redis(redis)
        result = Result(
            mode="cache",
            requests=raw["requests"],
            seconds=raw["duration_us"] / 1e6,
            p50_ms=raw["p50_us"] / 1000,
            p99_ms=raw["p99_us"] / 1000,
            status={k: raw[f"s{k}"] for k in ("2xx", "3xx", "4xx", "5xx")},
            socket_errors=raw["socket_errors"],
            get_session_calls=emulator.count_requests("/api/v2/sessions/*", "GET"),
            injected_503=0,
            jwks_fetches=emulator.count_requests("/connect/jwks"),
        )
        return result, outage


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s per mode (CI)")
    parser.add_argument("--duration", type=int, help="seconds per mode (default 30, quick 5)")
    parser.add_argument("--sessions", type=int, default=64, help="logged-in browsers")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn workers")
    parser.add_argument(
        "--conn-max-age", type=int, default=60,
        help="PostgreSQL CONN_MAX_AGE (0: a new connection per request)",
    )  # fmt: skip
    parser.add_argument(
        "--modes", default="jwt,api,cache-outage",
        help="comma-separated: jwt, api, cache-outage (PostgreSQL + Redis only)",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=("auto", "postgres", "sqlite"), default="auto",
        help="auto: PostgreSQL + Redis when both are there, else SQLite + LocMem",
    )  # fmt: skip
    args = parser.parse_args()
    args.duration = args.duration or (5 if args.quick else 30)
    args.client = "wrk" if shutil.which("wrk") else "python"
    if mp.gunicorn_missing():
        raise SystemExit(mp.gunicorn_missing())
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    results: list[Result] = []
    outage: Outage | None = None
    with ExitStack() as stack:
        emulator = stack.enter_context(AuthRocketEmulator())
        description, urls = stack.enter_context(backends(stack, args.backend))
        if args.client == "wrk":
            version = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
            client = version.stdout.splitlines()[0] if version.stdout else "wrk"
        else:
            client = "Python threads (wrk not found: apt-get install wrk)"
        print(
            f"load: example site, gunicorn {args.workers} sync workers, {description}"
            + (f", CONN_MAX_AGE={args.conn_max_age}" if "PostgreSQL" in description else "")
            + "\n"
            f"      {args.sessions} logged-in sessions, {args.connections} connections, "
            f"{args.duration} s per mode, client: {client.split(' [')[0].strip()}\n"
            f"      api mode: recheck every {RECHECK_INTERVAL} s, "
            f"{FAULT_PROBABILITY:.0%} of Get Session calls answered 503\n"
            f"      machine: {os.cpu_count()} CPU(s), {platform.platform()}, "
            f"Python {platform.python_version()}"
        )
        for mode in modes:
            database_url, cache_url = urls[0 if mode == "jwt" else 1]
            if mode != "cache-outage":
                results.append(run_mode(mode, emulator, database_url, cache_url, args))
            elif "PostgreSQL" in description:
                result, outage = run_cache_outage(emulator, database_url, args)
                results.append(result)
            else:
                print("cache-outage: not run (it needs PostgreSQL + Redis)")

    print()
    print(
        f"{'mode':<5} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'non-200':>8} {'5xx':>4} {'sock err':>8} {'Get Session':>11} {'503 inj.':>8} "
        f"{'JWKS':>5}"
    )
    for r in results:
        print(
            f"{r.mode:<5} {r.requests:>9} {r.rate:>8.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} "
            f"{r.not_200:>8} {r.status['5xx']:>4} {r.socket_errors:>8} "
            f"{r.get_session_calls:>11} {r.injected_503:>8} {r.jwks_fetches:>5}"
        )
    if outage is not None:
        print(
            f"\ncache: jwt mode, Redis stopped for {outage.seconds:.1f} s mid-run, then started "
            f"again; fresh logins during the outage answered {outage.during} (want 503), "
            f"after it {outage.after} (want 302)"
        )
    five_xx = sum(r.status["5xx"] for r in results)
    print()
    if five_xx:
        print(f"FAIL: {five_xx} 5xx answer(s); the target is none")
        return 1
    if outage is not None and not outage.ok:
        print("FAIL: the cache outage was not answered 503, or the site did not recover")
        return 1
    print(
        "OK: zero 5xx answers"
        + (", and the cache outage answered 503 then recovered" if outage else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

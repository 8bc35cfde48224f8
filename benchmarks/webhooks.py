"""Webhook bursts: 1,000 AuthRocket events in 10 s at the example site under gunicorn.

The example site runs as in production (``gunicorn demo_site.wsgi``, 4 sync workers) on
PostgreSQL (a throwaway database) with Redis as the shared cache, pointed at the AuthRocket
emulator, with the webhook endpoint's defaults: each event is fetched again by id through the
Core API (``AUTHROCKET_WEBHOOK_REFETCH``) and the user it names (with their memberships) is
read through the Core API before the mirror is written. The emulator runs in a process of its
own, as a remote AuthRocket would: it shares no interpreter lock with the sending threads.
Without PostgreSQL or redis-server it runs on SQLite + LocMem and says so.

The burst: ``--events`` ``user.updated`` events (each a change of one of ``--people`` people's
first name at the emulator), posted to ``/webhook/<secret>/`` from 16 connections at a steady
pace over ``--seconds``, plus one redelivery of every tenth event (AuthRocket retries). Before
it, ``--baseline`` earlier changes of the same people (50) are posted one at a time at 10/s:
the same site's latency with no queue, in the same run. Then it checks that every event was
applied exactly once: one ``AuthRocketWebhookEvent`` row per event id, and every person's
mirror row holding their last first name.

It prints the answers by status, p50/p99 latency and the checks (issue 16's target 5: every
event applied exactly once, p99 under 100 ms, no 5xx), then where the CPU went during the
burst (the site's workers, their PostgreSQL backends, the emulator, the senders, per event)
and the load average, since the machine may be shared. It exits 1 on a 5xx or a failed
check, never on the latency.

    .venv/bin/python benchmarks/webhooks.py [--quick] [--backend auto|postgres|sqlite]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402  # benchmarks/load.py: the backends it starts

from django_authrocket.testing import AuthRocketEmulator  # noqa: E402
from tests import multiprocess_site as mp  # noqa: E402

WORKERS = 4
CONNECTIONS = 16
P99_GOAL_MS = 100.0
#: How long the emulator process may take to make the people and their changes.
STARTUP_SECONDS = 120


def deliver(
    url: str, events: list[dict[str, Any]], seconds: float, *, connections: int = CONNECTIONS
) -> list[tuple[float, int]]:
    """Post the events at a steady pace over ``seconds``; (latency, status) of each."""
    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    start = time.perf_counter()
    gap = seconds / max(1, len(events))

    def post(index: int) -> None:
        due = start + index * gap
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent = time.perf_counter()
        answer = mp.fetch(url, method="POST", json_body=events[index])
        with lock:
            results.append((time.perf_counter() - sent, answer.status))

    with ThreadPoolExecutor(max_workers=connections) as pool:
        list(pool.map(post, range(len(events))))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 events in 2 s (CI)")
    parser.add_argument("--events", type=int, help="events in the burst (default 1,000)")
    parser.add_argument("--seconds", type=float, help="length of the burst (default 10)")
    parser.add_argument("--people", type=int, default=50, help="people the events concern")
    parser.add_argument(
        "--baseline", type=int, default=50,
        help="events delivered first at 10/s, one connection, on the same site (0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=("auto", "postgres", "sqlite"), default="auto",
        help="auto: PostgreSQL + Redis when both are there, else SQLite + LocMem",
    )  # fmt: skip
    args = parser.parse_args()
    count = args.events or (200 if args.quick else 1000)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    if mp.gunicorn_missing():
        raise SystemExit(mp.gunicorn_missing())

    with ExitStack() as stack:
        made = args.baseline + count
        emulator = stack.enter_context(_EmulatorProcess(args.people, made))
        description, urls = stack.enter_context(load.backends(stack, args.backend))
        database_url, cache_url = urls[0]
        people, earlier, events = (
            emulator.people,
            emulator.events[: args.baseline],
            emulator.events[args.baseline :],
        )
        assert len(events) == count, (len(events), count)
        burst = events + events[::10]  # every tenth event delivered twice, as a retry would
        burst.sort(key=lambda event: events.index(event))
        env = mp.site_environment(
            emulator.url,
            emulator.api_key,
            emulator.realm_id,
            database_url=database_url,
            cache_url=cache_url,
            extra={"LOG_LEVEL": "WARNING"},
        )
        if database_url.startswith("postgres"):
            env["DATABASE_URL"] = f"{database_url}?conn_max_age=60"
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="authrocket-wh-")))
        site = stack.enter_context(mp.gunicorn_site(env, folder, workers=WORKERS))
        url = f"{site.url}/webhook/{mp.WEBHOOK_SECRET}/"
        calm = _latencies(deliver(url, earlier, len(earlier) / 10.0, connections=1))
        emulator.call("clear")
        cpu = _CpuMeter(site.process.pid, database_url)
        load_before = os.getloadavg()
        started = time.perf_counter()
        results = deliver(url, burst, seconds)
        took = time.perf_counter() - started
        spent = cpu.spent()
        load_after = os.getloadavg()
        refetches, reads, listings, emulator_cpu = emulator.call("count")
        spent["emulator"] = emulator_cpu

        table = "django_authrocket_authrocketwebhookevent"
        rows = _rows(database_url, f"SELECT count(*), count(DISTINCT event_id) FROM {table}")
        recorded = (int(rows[0][0]), int(rows[0][1]))
        mirrored = dict(
            _rows(
                database_url,
                "SELECT authrocket_id, first_name FROM django_authrocket_authrocketuser",
            )
        )
        wrong = [p["id"] for p in people if mirrored.get(p["id"]) != _last_name(p, people, made)]

    latencies = _latencies(results)
    statuses: dict[int, int] = {}
    for _, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    five_xx = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"webhooks: example site, gunicorn {WORKERS} sync workers, {description}; "
        f"{os.cpu_count()} CPU(s), {platform.platform()}, Python {platform.python_version()}"
    )
    print(
        f"  {count} user.updated events of {len(people)} people and {len(burst) - count} "
        f"redeliveries, {len(burst)} posts from {CONNECTIONS} connections in {took:.1f} s "
        f"(paced over {seconds:g} s)"
    )
    if calm:
        print(
            f"  first, {len(calm)} events at 10/s from one connection (the same site, no "
            f"queue): p50 {_percentile(calm, 50):.1f} ms, p99 {_percentile(calm, 99):.1f} ms"
        )
    print(f"  answers: {dict(sorted(statuses.items()))}; p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"  Core API: {refetches} event re-fetches, {reads} user reads, "
        f"{listings} membership listings"
    )
    print(
        f"  webhook event rows: {recorded[0]} ({recorded[1]} event ids); "
        f"mirror rows not at their last name: {len(wrong)}"
    )
    posts = len(burst)
    print(
        "  CPU during the burst: "
        + ", ".join(
            f"{name} {seconds_:.2f} s ({seconds_ / posts * 1000:.1f} ms per post)"
            for name, seconds_ in spent.items()
            if seconds_ is not None
        )
    )
    print(
        "  load average (1 min) before/after the burst: "
        f"{load_before[0]:.2f}/{load_after[0]:.2f} on {os.cpu_count()} CPU(s)"
    )
    once = not wrong and recorded == (made, made)
    print(
        f"TARGET 5 webhook burst: applied exactly once: {'yes' if once else 'NO'}; "
        f"p99 {p99:.1f} ms (goal < {P99_GOAL_MS:.0f} ms); 5xx {five_xx} (goal 0)"
    )
    return 1 if five_xx or not once else 0


class _EmulatorProcess:
    """The AuthRocket emulator in a process of its own (``spawn``), with the people and events
    of the burst made there; :meth:`call` asks it to ``clear`` its request log or ``count``."""

    def __init__(self, people: int, count: int) -> None:
        self._size = (people, count)

    def __enter__(self) -> _EmulatorProcess:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve_emulator, args=(child, *self._size))
        self._process.start()
        if not self._pipe.poll(STARTUP_SECONDS):
            self._process.terminate()
            raise RuntimeError(f"the emulator process was not ready in {STARTUP_SECONDS} s")
        ready = self._pipe.recv()  # EOFError if it died
        self.url, self.api_key, self.realm_id = ready["url"], ready["api_key"], ready["realm_id"]
        self.people: list[dict[str, Any]] = ready["people"]
        self.events: list[dict[str, Any]] = ready["events"]
        return self

    def call(self, command: str) -> Any:
        self._pipe.send(command)
        return self._pipe.recv()

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()


def _serve_emulator(pipe: Connection, people_count: int, count: int) -> None:
    """The emulator process: make the people and their ``count`` changes, then serve."""
    with AuthRocketEmulator() as emulator:
        people = [emulator.create_user() for _ in range(people_count)]
        for number in range(count):
            emulator.update_user(people[number % people_count]["id"], first_name=f"Name{number}")
        events = [e for e in emulator.events if e.get("event_type") == "user.updated"][-count:]
        pipe.send(
            {
                "url": emulator.url,
                "api_key": emulator.api_key,
                "realm_id": emulator.realm_id,
                "people": people,
                "events": events,
            }
        )
        since = time.process_time()
        while (command := pipe.recv()) != "stop":
            if command == "clear":
                emulator.clear_requests()
                since = time.process_time()
                pipe.send(None)
            elif command == "count":
                pipe.send(
                    (
                        emulator.count_requests("/api/v2/events/*", "GET"),
                        emulator.count_requests("/api/v2/users/*", "GET"),
                        emulator.count_requests("/api/v2/memberships", "GET"),
                        time.process_time() - since,
                    )
                )


class _CpuMeter:
    """CPU seconds spent from now on by the gunicorn workers, their PostgreSQL backends and
    this process's senders (from ``/proc``: None where it is not there)."""

    def __init__(self, master_pid: int, database_url: str) -> None:
        self._master = master_pid
        self._postgres = database_url.startswith("postgres")
        self._database = database_url.rsplit("/", 1)[-1].split("?")[0]
        self._start = self._sample()

    def _sample(self) -> dict[str, float | None]:
        workers = postgres = 0.0
        proc = Path("/proc")
        if not proc.is_dir():
            return {"site workers": None, "PostgreSQL": None, "senders": time.process_time()}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            used = (int(fields[11]) + int(fields[12])) / tick
            if int(fields[1]) == self._master:
                workers += used
            elif command.startswith("postgres:") and f" {self._database} " in command:
                postgres += used
        return {
            "site workers": workers,
            "PostgreSQL": postgres if self._postgres else None,
            "senders": time.process_time(),
        }

    def spent(self) -> dict[str, float | None]:
        end = self._sample()
        spent: dict[str, float | None] = {}
        for name, value in end.items():
            start = self._start[name]
            spent[name] = None if value is None or start is None else value - start
        return spent


def _latencies(results: list[tuple[float, int]]) -> list[float]:
    return sorted(latency for latency, _ in results)


def _percentile(ordered: list[float], percent: int) -> float:
    """The ``percent`` percentile of sorted seconds, in ms (the median for 50)."""
    if percent == 50:
        return statistics.median(ordered) * 1000
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))] * 1000


def _last_name(person: dict[str, Any], people: list[dict[str, Any]], count: int) -> str:
    index = people.index(person)
    last = max(n for n in range(count) if n % len(people) == index)
    return f"Name{last}"


def _rows(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    """The rows of a query on the site's database."""
    if database_url.startswith("postgres"):
        import psycopg

        with psycopg.connect(mp._libpq(database_url)) as connection:
            return list(connection.execute(statement).fetchall())  # type: ignore[arg-type]
    import sqlite3

    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        return list(connection.execute(statement).fetchall())


if __name__ == "__main__":
    sys.exit(main())

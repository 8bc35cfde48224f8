"""How the cost grows: login time against the memberships in a token, recheck time against workers.

Two tables (issue 16, target 6); the third, sync time against the number of users, is
``benchmarks/sync.py``'s second part.

1. **Login against memberships.** Returning logins in jwt mode (``GET /login/?token=``) of three
   people with 1, 10 and 100 memberships, the realm's tokens carrying every one of them (the
   emulator's ``token_orgs="all"``), interleaved in rounds; the median time, queries, and the
   ratio to the one-membership login.
2. **Recheck against workers.** api-mode rechecks (:func:`django_authrocket.recheck.check_session`,
   one Get Session call each, the answer shared through the cache) run by 1 and 4 worker threads
   at once: N distinct sessions (every one a call; the time per recheck and the wall time per
   recheck), and one session asked by every worker at once (one call; the others wait for its
   answer). Threads of one process share its interpreter lock, and the emulator answers in
   the same process: the 4-worker rows show the coordination and the waiting, not 4 cores.

    .venv/bin/python benchmarks/growth.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # benchmarks/peers.py: the same site, clients and settings

MEMBERSHIPS = (1, 10, 100)
WORKERS = (1, 4)


def login_table(emulator: Any, rounds: int) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    emulator.configure(token_orgs="all")
    peers.use_mode("jwt")
    people = {}
    for count in MEMBERSHIPS:
        person = emulator.create_user(f"m{count}@example.com", first_name="Ada")
        for number in range(count):
            org = emulator.create_org(f"Org {count}-{number}")
            emulator.create_membership(
                person["id"], org["id"], permissions=["ar:admin"], selected=number == 0
            )
        people[count] = person["id"]

    def login(count: int, queries: bool = False) -> tuple[float, int]:
        from django_authrocket.testing import start_login

        client = peers.new_client(peers.OURS_STACK)
        start_login(client)  # as a browser: the login started here (its marker), untimed
        url = "/login/?" + urlencode({"token": emulator.mint_token(people[count])})
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - start
        peers.assert_landed(response, f"{count} memberships")
        return elapsed, len(captured.captured_queries)

    counted = {count: login(count)[1] for count in MEMBERSHIPS}  # first logins, outside the timing
    counted = {count: login(count)[1] for count in MEMBERSHIPS}
    samples: dict[int, list[float]] = {count: [] for count in MEMBERSHIPS}
    for number in range(rounds):
        order = MEMBERSHIPS if number % 2 else MEMBERSHIPS[::-1]
        for count in order:
            samples[count].append(login(count)[0])
    base = samples[MEMBERSHIPS[0]]
    lines = [
        "| memberships in the token | returning login, jwt mode | queries "
        "| ratio to 1 membership |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for count in MEMBERSHIPS:
        ratio = statistics.median(a / b for a, b in zip(samples[count], base, strict=True))
        lines.append(
            f"| {count} | {statistics.median(samples[count]) * 1e3:.2f} ms | {counted[count]} "
            f"| {ratio:.2f}x |"
        )
    emulator.configure(token_orgs="selected")
    return lines


def recheck_table(emulator: Any, sessions: int, repeats: int) -> list[str]:
    from django.core.cache import caches

    from django_authrocket import recheck
    from django_authrocket.conf import app_settings

    peers.use_mode("api")
    person = emulator.create_user("rechecked@example.com")
    cache = caches[app_settings.CACHE]

    def run(workers: int, session_ids: list[str]) -> tuple[list[float], float]:
        """Every worker takes sessions from the list until it is empty; latencies, wall time."""
        todo, lock, latencies = list(session_ids), threading.Lock(), []

        def worker() -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    session_id = todo.pop()
                start = time.perf_counter()
                assert recheck.check_session(session_id).alive
                with lock:
                    latencies.append(time.perf_counter() - start)

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return latencies, time.perf_counter() - start

    rows: dict[tuple[str, int], list[tuple[list[float], float, int]]] = {}
    for number in range(repeats):
        for workers in WORKERS if number % 2 else WORKERS[::-1]:
            distinct = [emulator.create_session(person["id"])["id"] for _ in range(sessions)]
            cache.clear()
            emulator.clear_requests()
            latencies, wall = run(workers, distinct)
            calls = emulator.count_requests("/api/v2/sessions/*")
            rows.setdefault(("distinct", workers), []).append((latencies, wall, calls))
            shared = emulator.create_session(person["id"])["id"]
            cache.clear()
            emulator.clear_requests()
            latencies, wall = run(workers, [shared] * workers)
            calls = emulator.count_requests("/api/v2/sessions/*")
            rows.setdefault(("shared", workers), []).append((latencies, wall, calls))
    lines = [
        "| rechecks | workers | Get Session calls | time per recheck (median) | wall time per "
        "recheck |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for (kind, workers), runs in sorted(rows.items()):
        latencies = [value for run_latencies, _, _ in runs for value in run_latencies]
        count = sessions if kind == "distinct" else workers
        walls = statistics.median(wall / count for _, wall, _ in runs)
        calls = statistics.median(calls for _, _, calls in runs)
        what = f"{sessions} sessions" if kind == "distinct" else "one session, every worker"
        lines.append(
            f"| {what} | {workers} | {calls:g} | {statistics.median(latencies) * 1e3:.2f} ms "
            f"| {walls * 1e3:.2f} ms |"
        )
    return lines


def main() -> None:
    quick = "--quick" in sys.argv
    peers.configure(0)
    from django.conf import settings

    from django_authrocket.conf import reload
    from django_authrocket.testing import AuthRocketEmulator

    with AuthRocketEmulator() as emulator:
        for name, value in emulator.settings().items():
            setattr(settings, name, value)
        reload()
        started = time.perf_counter()
        logins = login_table(emulator, 20 if quick else 200)
        rechecks = recheck_table(emulator, 50 if quick else 200, 3 if quick else 5)
        seconds = time.perf_counter() - started
    print(f"growth: {seconds:.0f} s. {peers.machine()}")
    print("TARGET 6 login time against the memberships in the token:")
    print("\n".join(logins))
    print("TARGET 6 recheck time against the number of workers:")
    print("\n".join(rechecks))
    print("(sync time against the number of users: benchmarks/sync.py, second part)")


urlpatterns: list[object] = []

if __name__ == "__main__":
    main()

"""The sync engine against the database's own bulk upsert of the same rows, and its memory.

1. **Speed.** A child process (AuthRocket, here the emulator, stays in this process, as it is
   another machine in production) mirrors N emulator users into empty tables, alternating in
   each round:

   - the same rows a sync writes (per user, a local user and a mirror row), mapped beforehand
     from the same pages, written with the database's own bulk statement (one multi-row
     ``INSERT ... ON CONFLICT DO UPDATE`` per table with prepared parameters, and one read of
     the users' ids), one transaction per 1,000 users, no HTTP;
   - the same rows through Django's ``bulk_create(update_conflicts=True)`` (on PostgreSQL it
     sends one array per column through ``UNNEST``, faster than the multi-row statement);
   - the **baseline** of the round is the faster of those two;
   - :func:`django_authrocket.sync.sync` end to end (HTTP pages of 1,000, parse, compare,
     write), into empty tables, then again over its own unchanged rows.

   Prints users/second, each round's ratio sync/baseline and their median (target: at least
   0.5).
2. **Memory and size.** A child process syncs 10,000 and then 100,000 users (``--quick``:
   2,000 and 20,000) and reports its peak RSS growth (``VmHWM`` over its own baseline after
   start-up) and the time; with ``--tracemalloc`` also the Python heap's peak (of the smaller
   run: it slows a sync down several times). Target:
   under 100 MB, flat with N; the time near-linear. Then, in the same process, it times the
   database's own multi-row upsert of the same rows into emptied tables, so that the sync's
   growth reads next to the database's own.

    .venv/bin/python benchmarks/sync.py [--quick] [--rounds N] [--database-url postgres://...]

SQLite files in a temporary folder by default; ``--database-url`` (or ``DATABASE_URL``) runs it
on another database, e.g. PostgreSQL. Each run starts from empty tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEED_TARGET = 0.5
MEMORY_TARGET_MB = 100


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from django_authrocket.conf import reload

    reload()
    call_command("migrate", verbosity=0)


def empty_tables() -> None:
    from django.contrib.auth import get_user_model

    from django_authrocket.models import AuthRocketSyncCheckpoint, AuthRocketUser

    AuthRocketUser.objects.all().delete()
    get_user_model().objects.all().delete()
    AuthRocketSyncCheckpoint.objects.all().delete()


# --- the baselines: the same rows, no HTTP -----------------------------------------------------


class SameRows:
    """The rows a sync of ``pages`` writes, mapped beforehand: per page, the local users and
    the mirror rows (model instances, and the same as prepared parameters)."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.utils import timezone

        from django_authrocket.mirror import fields
        from django_authrocket.mirror.local_users import _unusable_password
        from django_authrocket.mirror.pages import SPECS
        from django_authrocket.models import AuthRocketUser

        self.user_model = user_model = get_user_model()
        now = timezone.now()
        self.pages = []
        for items in pages:
            users, rows = [], []
            for item in items:
                info = fields.user_info_from_api(item)
                user = user_model(username=info.id, **fields.local_user_fields(info, user_model))
                user.password = _unusable_password()
                users.append(user)
                rows.append(
                    AuthRocketUser(
                        authrocket_id=info.id,
                        synced_at=now,
                        **fields.user_fields_from_api(item, info),
                    )
                )
            self.pages.append((users, rows))
        self.user_fields = [f for f in user_model._meta.concrete_fields if not f.primary_key]
        self.row_fields = [f for f in AuthRocketUser._meta.concrete_fields if not f.primary_key]
        self.update_users = [f.name for f in self.user_fields if f.name != "username"]
        self.update_rows = list(SPECS["users"].update_fields)
        self.user_sql = self._upsert_sql(user_model, self.user_fields, ["username"])
        self.row_sql = self._upsert_sql(AuthRocketUser, self.row_fields, ["authrocket_id"])
        self.user_id_at = [f.attname for f in self.row_fields].index("user_id")
        self.username_at = [f.name for f in self.user_fields].index("username")
        self.params = [
            (
                [
                    [
                        f.get_db_prep_save(getattr(u, f.attname), connection)
                        for f in self.user_fields
                    ]
                    for u in users
                ],
                [
                    [f.get_db_prep_save(getattr(r, f.attname), connection) for f in self.row_fields]
                    for r in rows
                ],
            )
            for users, rows in self.pages
        ]

    @staticmethod
    def _upsert_sql(model: Any, fields: list[Any], unique: list[str]) -> tuple[str, str, str]:
        """The statement's head, one row's placeholders and its ON CONFLICT tail."""
        from django.db import connection
        from django.db.models.constants import OnConflict

        quote = connection.ops.quote_name
        by_name = {f.name: f for f in fields}
        update = [f for f in fields if f.name not in unique]
        suffix = connection.ops.on_conflict_suffix_sql(
            fields,
            OnConflict.UPDATE,
            [f.column for f in update],
            [by_name[name].column for name in unique],
        )
        columns = ", ".join(quote(f.column) for f in fields)
        head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "
        return head, "(" + ", ".join(["%s"] * len(fields)) + ")", suffix

    @staticmethod
    def _upsert(cursor: Any, sql: tuple[str, str, str], rows: list[list[Any]]) -> None:
        """One multi-row INSERT ... ON CONFLICT DO UPDATE statement for all ``rows``."""
        head, row, suffix = sql
        cursor.execute(
            head + ", ".join([row] * len(rows)) + " " + suffix,
            [value for params in rows for value in params],
        )

    def raw(self) -> None:
        """The database's own bulk upsert: one multi-row statement per table and page, with
        prepared parameters, and one read of the users' ids."""
        from django.db import connection, transaction

        table = connection.ops.quote_name(self.user_model._meta.db_table)
        for user_params, row_params in self.params:
            with transaction.atomic(), connection.cursor() as cursor:
                self._upsert(cursor, self.user_sql, user_params)
                names = [params[self.username_at] for params in user_params]
                marks = ", ".join(["%s"] * len(names))
                cursor.execute(
                    f"SELECT username, id FROM {table} WHERE username IN ({marks})", names
                )
                ids = dict(cursor.fetchall())
                for params, user in zip(row_params, user_params, strict=True):
                    params[self.user_id_at] = ids[user[self.username_at]]
                self._upsert(cursor, self.row_sql, row_params)

    def django(self) -> None:
        """Django's bulk upsert (``bulk_create(update_conflicts=True)``) of the same rows."""
        from django.db import transaction

        from django_authrocket.models import AuthRocketUser

        manager = self.user_model._default_manager
        for users, rows in self.pages:
            with transaction.atomic():
                for user in users:
                    user.pk = None
                manager.bulk_create(
                    users,
                    update_conflicts=True,
                    unique_fields=["username"],
                    update_fields=self.update_users,
                )
                if any(user.pk is None for user in users):
                    pks = dict(
                        manager.filter(username__in=[u.username for u in users]).values_list(
                            "username", "pk"
                        )
                    )
                    for user in users:
                        user.pk = pks[user.username]
                for row, user in zip(rows, users, strict=True):
                    row.pk, row.user = None, user
                AuthRocketUser.objects.bulk_create(
                    rows,
                    update_conflicts=True,
                    unique_fields=["authrocket_id"],
                    update_fields=self.update_rows,
                )


# --- the child processes -----------------------------------------------------------------------


def speed_child(database_url: str, count: int, rounds: int) -> dict[str, Any]:
    setup_django(database_url)
    from django.db import connection

    from django_authrocket.client import EXPAND_CUSTOM, AuthRocketClient
    from django_authrocket.sync import sync

    client = AuthRocketClient.from_settings()
    pages = [p.items for p in client.iter_pages("/users", EXPAND_CUSTOM, page_size=1000)]
    assert sum(map(len, pages)) == count, "the emulator holds another number of users"
    same = SameRows(pages)
    samples: dict[str, list[float]] = {"baseline": [], "django": [], "sync": [], "sync_rerun": []}

    def timed(name: str, func: Any) -> None:
        started = time.perf_counter()
        func()
        samples[name].append(count / (time.perf_counter() - started))

    for number in range(rounds + 1):  # round 0 warms up and is dropped
        # Alternate the order, so whatever drifts during a round hits each alike.
        order = [
            ("baseline", same.raw),
            ("django", same.django),
            ("sync", lambda: sync(["users"], client=client)),
        ]
        if number % 2:
            order.reverse()
        for name, func in order:
            empty_tables()
            timed(name, func)
        timed("sync_rerun", lambda: sync(["users"], client=client))
        if number == 0:
            for values in samples.values():
                values.clear()
    # The ceiling of each round: the faster of the two bulk upserts (on PostgreSQL Django's,
    # which sends one array per column through UNNEST, beats a multi-row VALUES statement).
    ceiling = [max(pair) for pair in zip(samples["baseline"], samples["django"], strict=True)]
    samples["ceiling"] = ceiling
    ratios = [s / b for s, b in zip(samples["sync"], ceiling, strict=True)]
    return {
        "vendor": connection.vendor,
        "version": _database_version(connection),
        "samples": samples,
        "ratios": ratios,
    }


def memory_child(database_url: str, use_tracemalloc: bool) -> dict[str, Any]:
    """Set up, note the RSS, sync, report the growth (and the heap's peak) as JSON."""
    setup_django(database_url)
    empty_tables()
    import tracemalloc

    from django_authrocket.models import AuthRocketUser
    from django_authrocket.sync import sync

    before = current_rss_mb()
    reset_peak_rss()  # start-up (migrations...) peaked higher than a sync might: forget it
    if use_tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    sync(["users"])
    seconds = time.perf_counter() - started
    heap_mb = tracemalloc.get_traced_memory()[1] / 2**20 if use_tracemalloc else None
    growth = peak_rss_mb() - before
    users = AuthRocketUser.objects.count()
    if use_tracemalloc:
        tracemalloc.stop()
    return {
        "growth_mb": growth,
        "heap_mb": heap_mb,
        "seconds": seconds,
        "baseline_seconds": _baseline_seconds(),
        "users": users,
    }


def _baseline_seconds() -> float:
    """The database's own bulk upsert (:meth:`SameRows.raw`) of the rows the sync just wrote,
    mapped beforehand, into emptied tables: how the database's part of the time grows with the
    tables (after the sync's memory was measured; the mapped rows take memory of their own)."""
    from django_authrocket.client import EXPAND_CUSTOM, AuthRocketClient

    client = AuthRocketClient.from_settings()
    same = SameRows([p.items for p in client.iter_pages("/users", EXPAND_CUSTOM, page_size=1000)])
    empty_tables()
    started = time.perf_counter()
    same.raw()
    return time.perf_counter() - started


def _database_version(connection: Any) -> str:
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version" if connection.vendor == "postgresql" else "SELECT 1")
        return f"{connection.vendor} {cursor.fetchone()[0]}"


def run_child(emulator: Any, *args: str) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env={
            **os.environ,
            "AUTHROCKET_URL": emulator.api_url(),
            "AUTHROCKET_API_KEY": emulator.api_key,
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
    )
    if child.returncode:
        sys.stderr.write(child.stderr)
        raise SystemExit(f"the child process failed ({child.returncode})")
    return json.loads(child.stdout.strip().splitlines()[-1])


def fill(emulator: Any, count: int) -> None:
    emulator.reset()
    for _ in range(count):
        emulator.create_user(first_name="Ada", last_name="Lovelace")


# --- RSS ---------------------------------------------------------------------------------------


def _proc_status_mb(field: str) -> float | None:
    """``VmRSS``/``VmHWM`` of this process from /proc (Linux), in MB."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


def current_rss_mb() -> float:
    return _proc_status_mb("VmRSS") or peak_rss_mb()


def reset_peak_rss() -> None:
    """Reset the kernel's peak RSS mark (Linux: ``5`` to /proc/self/clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# --- the report --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Smaller runs (for CI).")
    parser.add_argument("--rounds", type=int, help="speed rounds (default 5, quick 3)")
    parser.add_argument("--users", type=int, help="users in the speed rounds (default 5,000)")
    parser.add_argument("--tracemalloc", action="store_true", help="also the Python heap's peak")
    parser.add_argument("--skip-memory", action="store_true", help="the speed rounds only")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, database_url, *rest = args.child
        if kind == "speed":
            result = speed_child(database_url, int(rest[0]), int(rest[1]))
        else:
            result = memory_child(database_url, rest[0] == "1")
        print(json.dumps(result))
        return

    from django_authrocket.testing import AuthRocketEmulator

    folder = tempfile.mkdtemp(prefix="authrocket-bench-")
    database_url = args.database_url or f"sqlite:///{folder}/sync.sqlite3"
    speed_count = args.users or (2000 if args.quick else 5000)
    rounds = args.rounds or (3 if args.quick else 5)
    memory_counts = (2_000, 20_000) if args.quick else (10_000, 100_000)

    with AuthRocketEmulator() as emulator:
        fill(emulator, speed_count)
        speed = run_child(emulator, "speed", database_url, str(speed_count), str(rounds))
        print(
            f"sync: {speed['version']}, {speed_count:,} users, pages of 1,000, {rounds} rounds; "
            f"Python {platform.python_version()}, {os.cpu_count()} cores"
        )
        for name, label in (
            ("baseline", "multi-row INSERT ... ON CONFLICT, no HTTP"),
            ("django", "Django bulk_create(update_conflicts), no HTTP"),
            ("ceiling", "baseline: the faster of the two, per round"),
            ("sync", "sync(), empty tables"),
            ("sync_rerun", "sync(), unchanged rerun"),
        ):
            values = speed["samples"][name]
            low, high = min(values), max(values)
            print(
                f"  {label:<48} {statistics.median(values):>8,.0f} users/s "
                f"(rounds {low:,.0f}-{high:,.0f})"
            )
        ratios = speed["ratios"]
        print(
            f"  TARGET 4 sync / baseline: {statistics.median(ratios):.2f} (goal >= {SPEED_TARGET}; "
            f"rounds {', '.join(f'{r:.2f}' for r in ratios)})"
        )
        if args.skip_memory:
            return
        print("sync time and peak RSS growth against the number of users (child process):")
        grown: list[tuple[int, float, float]] = []
        for count in memory_counts:
            fill(emulator, count)
            # tracemalloc slows a sync down several times: the smaller count only.
            traced = args.tracemalloc and count == memory_counts[0]
            result = run_child(emulator, "memory", database_url, "1" if traced else "0")
            assert result["users"] == count, result
            heap = f", Python heap peak {result['heap_mb']:.1f} MB" if result["heap_mb"] else ""
            seconds, growth = result["seconds"], result["growth_mb"]
            baseline = result["baseline_seconds"]
            print(
                f"  {count:>7,} users: {seconds:6.1f} s ({count / seconds:,.0f} users/s), "
                f"RSS growth {growth:5.1f} MB (goal < {MEMORY_TARGET_MB} MB){heap}; "
                f"the same rows' multi-row upsert {baseline:.2f} s, "
                f"sync / it {seconds / baseline:.1f}x"
            )
            grown.append((count, seconds, baseline))
        (small, sync_small, base_small), (large, sync_large, base_large) = grown
        print(
            f"  {large // small}x the users: sync {sync_large / sync_small:.1f}x the time, "
            f"the database's own upsert of the same rows {base_large / base_small:.1f}x"
        )


if __name__ == "__main__":
    main()

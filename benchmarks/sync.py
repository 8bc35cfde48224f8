"""The bulk sync engine against a naive per-user ``update_or_create`` loop, and its memory.

1. **Speed.** The same 5,000 emulator users are mirrored into an empty database twice in one
   run: by :func:`django_authrocket.sync.sync` (bulk, one transaction per 1,000-user page) and
   by a naive loop (``update_or_create`` of the local user and of the mirror row, per user, one
   transaction per page too, so only the per-row queries differ). Both read the same pages
   from the same emulator; the write phase alone is timed as well, from pages read beforehand.
   Prints users/second and the ratio (target: at least 10x). The naive loop also runs in
   autocommit, as such loops are usually written (one commit per query).
2. **Memory.** A child process syncs N users (10,000 and 100,000; ``--quick``: 2,000 and
   20,000) from an emulator in this process, and reports its peak RSS growth over its own
   baseline after start-up (target: under 100 MB, flat with N).

    .venv/bin/python benchmarks/sync.py [--quick] [--database-url postgres://...]

SQLite files in a temporary folder by default; ``--database-url`` (or ``DATABASE_URL``) runs it
on another database, e.g. PostgreSQL. Each run starts from empty tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django(database_url: str, emulator: Any) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ["AUTHROCKET_URL"] = emulator.api_url()
    os.environ["AUTHROCKET_API_KEY"] = emulator.api_key
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


def naive_write(items: list[dict[str, Any]], *, atomic: bool = True) -> None:
    """What a first version would do: two ``update_or_create`` calls per user (in one
    transaction per page, or with ``atomic=False`` in autocommit, as such loops are written)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from django_authrocket.mirror import fields
    from django_authrocket.models import AuthRocketUser

    user_model = get_user_model()
    with transaction.atomic() if atomic else contextlib.nullcontext():
        for item in items:
            info = fields.user_info_from_api(item)
            user, created = user_model.objects.update_or_create(
                username=info.id, defaults=fields.local_user_fields(info, user_model)
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            AuthRocketUser.objects.update_or_create(
                authrocket_id=info.id,
                defaults={"user": user, **fields.user_fields_from_api(item)},
            )


def bulk_write(items: list[dict[str, Any]]) -> None:
    from django.db import transaction

    from django_authrocket.mirror import pages

    with transaction.atomic():
        pages.write("users", items)


def speed(count: int) -> dict[str, float]:
    from django_authrocket.client import AuthRocketClient
    from django_authrocket.sync import sync

    client = AuthRocketClient.from_settings()
    pages = [page.items for page in client.iter_pages("/users", {}, page_size=1000)]
    figures: dict[str, float] = {}

    empty_tables()
    started = time.perf_counter()
    sync(["users"], client=client)
    figures["bulk end to end"] = count / (time.perf_counter() - started)

    empty_tables()
    started = time.perf_counter()
    for page in client.iter_pages("/users", {}, page_size=1000):
        naive_write(page.items)
    figures["naive end to end"] = count / (time.perf_counter() - started)

    empty_tables()
    started = time.perf_counter()
    for items in pages:
        naive_write(items, atomic=False)
    figures["naive in autocommit"] = count / (time.perf_counter() - started)

    for name, write in (("bulk writes only", bulk_write), ("naive writes only", naive_write)):
        empty_tables()
        started = time.perf_counter()
        for items in pages:
            write(items)
        figures[name] = count / (time.perf_counter() - started)

    started = time.perf_counter()
    for items in pages:
        bulk_write(items)
    figures["bulk, unchanged rerun"] = count / (time.perf_counter() - started)
    return figures


def memory(count: int, database_url: str, emulator: Any) -> tuple[float, float]:
    """Peak RSS growth (MB) of a child process syncing ``count`` users, and its seconds."""
    emulator.reset()
    for _ in range(count):
        emulator.create_user()
    child = subprocess.run(
        [sys.executable, __file__, "--child", database_url],
        env={
            **os.environ,
            "AUTHROCKET_URL": emulator.api_url(),
            "AUTHROCKET_API_KEY": emulator.api_key,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["users"] == count, result
    return float(result["growth_mb"]), float(result["seconds"])


def child(database_url: str) -> None:
    """Runs in the child: set up, note the peak RSS, sync, print the growth as JSON."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    empty_tables()
    from django_authrocket.models import AuthRocketUser
    from django_authrocket.sync import sync

    before = current_rss_mb()
    reset_peak_rss()  # start-up (migrations...) peaked higher than a sync might: forget it
    started = time.perf_counter()
    sync(["users"])
    seconds = time.perf_counter() - started
    growth = peak_rss_mb() - before
    users = AuthRocketUser.objects.count()
    print(json.dumps({"growth_mb": growth, "seconds": seconds, "users": users}))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Smaller runs (for CI).")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    from django_authrocket.testing import AuthRocketEmulator

    folder = tempfile.mkdtemp(prefix="authrocket-bench-")
    database_url = args.database_url or f"sqlite:///{folder}/sync.sqlite3"
    speed_count = 1000 if args.quick else 5000
    memory_counts = (2_000, 20_000) if args.quick else (10_000, 100_000)

    with AuthRocketEmulator() as emulator:
        setup_django(database_url, emulator)
        from django.db import connection

        print(f"database: {connection.vendor}, {speed_count} users, pages of 1000")
        for _ in range(speed_count):
            emulator.create_user(first_name="Ada", last_name="Lovelace")
        figures = speed(speed_count)
        for name, per_second in figures.items():
            print(f"  {name:<24} {per_second:>9,.0f} users/s")
        for kind, bulk, naive in (
            ("end to end", "bulk end to end", "naive end to end"),
            ("writes only", "bulk writes only", "naive writes only"),
            ("vs autocommit", "bulk end to end", "naive in autocommit"),
        ):
            ratio = figures[bulk] / figures[naive]
            print(f"  ratio bulk/naive, {kind:<13} {ratio:>6.1f}x (target >= 10x)")

        print("peak RSS growth of a sync (child process):")
        for count in memory_counts:
            growth, seconds = memory(count, database_url, emulator)
            print(
                f"  {count:>7,} users: {growth:6.1f} MB (target < 100 MB), "
                f"synced in {seconds:.1f} s ({count / seconds:,.0f} users/s)"
            )


if __name__ == "__main__":
    main()

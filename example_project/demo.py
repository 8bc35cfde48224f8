"""``make demo``: the example site and a local AuthRocket emulator, together, on loopback.

1. migrates the example site's database (SQLite by default);
2. starts the AuthRocket emulator on http://127.0.0.1:8765 with demo people and orgs, in a
   thread of this process (skipped when LOGINROCKET_URL points the site at a real realm), and
   syncs them into the mirror: LoginRocket's token names the selected org only, so a site
   learns the others (Ada's staff org) from the sync or webhooks;
3. starts ``manage.py runserver 127.0.0.1:8000`` as a child process (its own output shows);
4. prints where to click, then waits. Ctrl+C (or SIGTERM) stops both; a second Ctrl+C while
   they stop only says so.

``DEMO_SITE_ADDRESS`` moves the site (default ``127.0.0.1:8000``), ``DEMO_EMULATOR_URL`` the
emulator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
SITE_ADDRESS = os.environ.get("DEMO_SITE_ADDRESS", "127.0.0.1:8000")
SITE_URL = f"http://{SITE_ADDRESS}/"
STARTUP_TIMEOUT = 30.0


def main() -> int:
    sys.path.insert(0, str(HERE))
    os.environ["DJANGO_SETTINGS_MODULE"] = "demo_site.settings"  # also for runserver
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from django_authrocket.conf import app_settings

    print("Migrating the example database...", flush=True)
    call_command("migrate", interactive=False, verbosity=0)

    # Ctrl+C and SIGTERM both stop everything (SIGINT too when a shell started us ignoring it).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_keyboard_interrupt)
    emulator, users = None, []
    if not settings.DEMO_USES_EMULATOR and not app_settings.LOGINROCKET_URL:
        print(
            "No LOGINROCKET_URL, and DEBUG is off: the demo uses the local emulator only with "
            "DEBUG on. Set DEBUG=true, or LOGINROCKET_URL to your realm.",
            file=sys.stderr,
        )
        return 1
    if settings.DEMO_USES_EMULATOR:
        try:
            emulator, users = start_emulator(settings)
        except OSError as exc:
            print(
                f"Cannot start the AuthRocket emulator on {settings.DEMO_EMULATOR_URL}: {exc}.\n"
                "Is another demo (or `manage.py authrocket_emulator`) already running? Stop it, "
                "or move this demo's emulator: DEMO_EMULATOR_URL=http://127.0.0.1:8766 make demo",
                file=sys.stderr,
            )
            return 1
    server = None
    try:
        server = start_site()
        if not wait_until_up(server):
            print(f"The site did not start on {SITE_URL}; see the messages above.", flush=True)
            return 1
        print_welcome(emulator, users)
        while server.poll() is None:
            time.sleep(0.5)
        print("The site stopped; stopping the demo.", flush=True)
        return server.returncode or 1
    except KeyboardInterrupt:
        print("\nStopping the demo...", flush=True)
        return 0
    finally:
        # A second Ctrl+C while stopping must not interrupt the clean-up with a traceback.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _still_stopping)
        if server is not None:
            stop_site(server)
        if emulator is not None:
            emulator.stop()


def start_emulator(settings: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The emulator the settings point at (fixed port and API key), running, and its users."""
    from django_authrocket.testing import AuthRocketEmulator
    from django_authrocket.testing.demo import seed_demo_users

    address = urlsplit(settings.DEMO_EMULATOR_URL)
    emulator = AuthRocketEmulator(
        host=address.hostname or "127.0.0.1",
        port=address.port or 8765,
        api_key=settings.DEMO_EMULATOR_API_KEY,
        login_urls=[SITE_URL],  # the connected app's Login URL: this site
    )
    from django.core.management import call_command

    users = seed_demo_users(emulator)
    emulator.start()
    call_command("authrocket_sync", verbosity=0)  # every org, not only the token's selected one
    return emulator, users


def start_site() -> subprocess.Popen[bytes]:
    """``manage.py runserver`` (with its autoreloader) in a process group of its own.

    Its own group, so that stopping the demo can stop the reloader *and* the server process it
    spawns in one go, however the demo was stopped.
    """
    command = [sys.executable, "manage.py", "runserver", SITE_ADDRESS]
    return subprocess.Popen(command, cwd=HERE, start_new_session=os.name == "posix")


def stop_site(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    if os.name == "posix":
        os.killpg(server.pid, signal.SIGTERM)
    else:
        server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            os.killpg(server.pid, signal.SIGKILL)
        else:
            server.kill()
        server.wait()


def wait_until_up(server: subprocess.Popen[bytes]) -> bool:
    """True once the site answers; False when runserver exits first or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(SITE_URL, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answered, if not with a 200
        except OSError:
            time.sleep(0.3)
    return False


def print_welcome(emulator: Any, users: list[dict[str, Any]]) -> None:
    lines = [
        "",
        "=" * 72,
        "  django-authrocket demo",
        "",
        f"  Open {SITE_URL} and click Log in.",
        f"  Dashboard: {SITE_URL}dashboard/   Admin: {SITE_URL}admin/",
        f"  Admin area (ar:admin only): {SITE_URL}admin-area/   JSON API: {SITE_URL}api/me/",
    ]
    if emulator is not None:
        lines += [
            f"  LoginRocket and the Core API: the emulator at {emulator.url}",
            "",
            "  Demo users (pick one on the emulator's login page, or type any email):",
        ]
        for user in users:
            state = "" if user["state"] == "active" else "  (inactive: cannot log in)"
            lines.append(f"    {user['name']:<16} {user['email']:<20}{state}".rstrip())
        lines.append(
            "  Ada is an admin of Site Staff, the site's staff org, so she also gets into the"
        )
        lines.append("  Django admin; Grace, admin of her own org Difference Ltd, does not.")
    else:
        from django_authrocket.conf import app_settings

        lines.append(f"  Logging in through your realm at {app_settings.LOGINROCKET_URL}")
    lines += ["", "  Ctrl+C stops everything.", "=" * 72, ""]
    print("\n".join(lines), flush=True)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    # Only once: from here on, another Ctrl+C just says the demo is on its way out.
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, _still_stopping)
    raise KeyboardInterrupt


def _still_stopping(signum: int, frame: object) -> None:
    print("Still stopping the demo (the site and the emulator)...", flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl+C before the demo was up (say, while migrating)
        print("\nDemo stopped.", file=sys.stderr)
        sys.exit(130)

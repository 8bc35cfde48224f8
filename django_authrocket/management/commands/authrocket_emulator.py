"""``manage.py authrocket_emulator``: run the local AuthRocket emulator in the foreground.

The same server and options as the ``authrocket-emulator`` console script, from inside a Django
project. It prints the settings (and environment variables) that point the site at it, and stops
cleanly on Ctrl+C or SIGTERM.

The emulator lets anyone who can reach it log in as anyone, so it listens on loopback only;
another address needs ``--allow-remote``. It is imported when the command runs, never when
Django loads the app: production code paths do not touch it.
"""

from __future__ import annotations

import ipaddress
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

DEFAULT_PORT = 8765  # the console script's default (django_authrocket.testing.cli.DEFAULT_PORT)
ALGORITHMS = ("RS256", "HS256")  # what AuthRocketEmulator signs with


class Command(BaseCommand):
    help = (
        "Run a local AuthRocket + LoginRocket emulator for development (never in production). "
        "Prints the settings that point this site at it."
    )
    # It serves another process's logins: the site's own configuration does not matter here.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1)."
        )
        parser.add_argument(
            "--port", type=int, default=DEFAULT_PORT, help=f"Port (default {DEFAULT_PORT}; 0: any)."
        )
        parser.add_argument("--realm", default="rl_emulator", help="Realm id (rl_emulator).")
        parser.add_argument(
            "--algorithm", choices=ALGORITHMS, default="RS256", help="Token signing (RS256)."
        )
        parser.add_argument("--jwt-secret", help="HS256 realm secret (default: random jsk_...).")
        parser.add_argument("--api-key", help="Core API key (default: random ks_emulator_...).")
        parser.add_argument(
            "--seed-demo-users",
            action="store_true",
            help="Create the demo users and orgs at start.",
        )
        parser.add_argument(
            "--allow-remote",
            action="store_true",
            help="Allow a non-loopback --host. Anyone who can reach the emulator can log in as "
            "anyone: never expose it to a network you do not control.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host: str = options["host"]
        if not options["allow_remote"] and not _is_loopback(host):
            raise CommandError(
                f"Refusing to listen on {host}: anyone who can reach the emulator can log in as "
                "anyone. Use a loopback address, or pass --allow-remote if you really mean it."
            )
        # Imported here, not at module level: the app must not load the emulator on its own.
        from django_authrocket.testing.cli import describe
        from django_authrocket.testing.demo import seed_demo_users
        from django_authrocket.testing.emulator import AuthRocketEmulator

        emulator = AuthRocketEmulator(
            host=host,
            port=options["port"],
            realm_id=options["realm"],
            algorithm=options["algorithm"],
            jwt_secret=options["jwt_secret"],
            api_key=options["api_key"],
        )
        users = seed_demo_users(emulator) if options["seed_demo_users"] else []
        try:
            emulator.start()
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{options['port']}: {exc}") from None
        try:
            self.stdout.write(describe(emulator))
            if users:
                self.stdout.write("\nDemo users:")
                for user in users:
                    note = "" if user["state"] == "active" else f" ({user['state']})"
                    self.stdout.write(f"    {user['name']} <{user['email']}> {user['id']}{note}")
            self.stdout.flush()
            _wait_for_interrupt()
        finally:
            emulator.stop()
        self.stdout.write("AuthRocket emulator stopped.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _wait_for_interrupt() -> None:
    """Block until Ctrl+C, or SIGTERM (treated the same way)."""
    # Signal handlers can only be installed (and signals only arrive) in the main thread.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt) if in_main_thread else None
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt

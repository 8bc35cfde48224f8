"""``manage.py authrocket_emulator``: run the local AuthRocket emulator in the foreground.

The ``authrocket-emulator`` console script from inside a Django project: the same options, the
same loopback guard (another address needs ``--allow-remote``: anyone who can reach the emulator
can log in as anyone), the same output. It prints the settings (and environment variables) that
point the site at it, and stops cleanly on Ctrl+C or SIGTERM.

The emulator is imported when the command runs, never when Django loads the app: production
code paths do not touch it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Run a local AuthRocket + LoginRocket emulator for development (never in production). "
        "Prints the settings that point this site at it."
    )
    # It serves another process's logins: the site's own configuration does not matter here.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        from django_authrocket.testing.cli import add_arguments

        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        from django_authrocket.testing.cli import Refused, serve

        def write(text: str) -> None:
            self.stdout.write(text)
            self.stdout.flush()

        try:
            serve(options, write)
        except Refused as error:
            raise CommandError(str(error)) from None

"""``authrocket-emulator``: run the emulator in the foreground and print the settings to use.

The console script and ``manage.py authrocket_emulator`` are this one module: the same options
(:func:`add_arguments`), the same loopback guard (:func:`refusal`) and the same serving loop
(:func:`serve`).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .demo import DEMO_PASSWORDS, DEMO_TOTP_SECRET, seed_demo_users
from .emulator import ALGORITHMS, AuthRocketEmulator

DEFAULT_PORT = 8765
#: The Login URLs registered when no ``--login-url`` is given: ``runserver``'s addresses.
DEFAULT_LOGIN_URLS = ("http://127.0.0.1:8000/", "http://localhost:8000/")

# Settings name -> the environment variable the app falls back to.
_ENV_NAMES = {
    "AUTHROCKET_LOGINROCKET_URL": "LOGINROCKET_URL",
    "AUTHROCKET_URL": "AUTHROCKET_URL",
    "AUTHROCKET_API_KEY": "AUTHROCKET_API_KEY",
    "AUTHROCKET_REALM": "AUTHROCKET_REALM",
    "AUTHROCKET_JWT_KEY": "AUTHROCKET_JWT_KEY",
}


class Refused(Exception):
    """The emulator cannot start as asked (a public address without --allow-remote, a busy
    port); the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options, for the console script and the management command alike."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )
    parser.add_argument("--realm", default="rl_emulator", help="realm id (default rl_emulator)")
    parser.add_argument(
        "--algorithm", choices=ALGORITHMS, default="RS256", help="token signing (default RS256)"
    )
    parser.add_argument("--jwt-secret", help="HS256 realm secret (default: random jsk_...)")
    parser.add_argument("--api-key", help="Core API key (default: random ks_emulator_...)")
    parser.add_argument(
        "--login-url",
        action="append",
        metavar="URL",
        help="a Login URL of your app (repeatable; the first is the default): the hosted pages "
        "send browsers back only there or below (default: runserver's "
        + " and ".join(DEFAULT_LOGIN_URLS)
        + ")",
    )
    parser.add_argument(
        "--seed-demo-users", action="store_true", help="create demo users and orgs at start"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host. Anyone who can reach the emulator can log in as "
        "anyone: never expose it to a network you do not control",
    )


def build_parser() -> argparse.ArgumentParser:
    """The console script's command line."""
    parser = argparse.ArgumentParser(
        prog="authrocket-emulator",
        description="Run a local AuthRocket + LoginRocket emulator (for development and tests).",
    )
    add_arguments(parser)
    return parser


def refusal(host: str, *, allow_remote: bool) -> str | None:
    """Why the emulator must not listen on ``host``, or None."""
    if allow_remote or _is_loopback(host):
        return None
    return (
        f"Refusing to listen on {host}: anyone who can reach the emulator can log in as "
        "anyone. Use a loopback address, or pass --allow-remote if you really mean it."
    )


def serve(options: dict[str, Any], write: Callable[[str], object]) -> None:
    """Start the emulator as ``options`` (parsed :func:`add_arguments`) say, print where it runs
    and the settings to use, and serve until Ctrl+C or SIGTERM. Raises :class:`Refused`."""
    host: str = options["host"]
    reason = refusal(host, allow_remote=bool(options.get("allow_remote")))
    if reason:
        raise Refused(reason)
    emulator = AuthRocketEmulator(
        host=host,
        port=options["port"],
        realm_id=options["realm"],
        algorithm=options["algorithm"],
        jwt_secret=options["jwt_secret"],
        api_key=options["api_key"],
    )
    for url in options.get("login_url") or DEFAULT_LOGIN_URLS:
        emulator.add_login_url(url)
    users = seed_demo_users(emulator) if options["seed_demo_users"] else []
    try:
        emulator.start()
    except OSError as error:
        message = f"cannot listen on {host}:{options['port']}: {error.strerror or error}"
        if error.errno == errno.EADDRINUSE:
            message += (
                ". Another emulator (or `make demo`) may be running there: stop it, or choose "
                f"another port with --port {options['port'] + 1} (--port 0 picks a free one)."
            )
        raise Refused(message) from None
    try:
        write(describe(emulator))
        if users:
            write("\nDemo users:")
            for user in users:
                note = "" if user["state"] == "active" else f" ({user['state']})"
                password = DEMO_PASSWORDS.get(user["email"], "")
                write(f"    {user['name']} <{user['email']}> {user['id']}{note} {password}")
            write(f"    (Grace's second factor: TOTP secret {DEMO_TOTP_SECRET})")
        _wait_for_interrupt()
    finally:
        emulator.stop()
    write("AuthRocket emulator stopped.")


def describe(emulator: AuthRocketEmulator) -> str:
    """The text printed at start: where it runs and the settings to point an app at it."""
    settings = emulator.settings()
    lines = [
        f"AuthRocket emulator running at {emulator.url} (realm {emulator.realm_id}, "
        f"{emulator.algorithm})",
        f"Login URLs of your app: {', '.join(emulator.login_urls) or 'none'}",
        "",
        "Django settings:",
        *(f"    {name} = {value!r}" for name, value in settings.items()),
        "",
        "or environment:",
        *(
            f"    export {env}={value}"
            for name, env in _ENV_NAMES.items()
            if (value := settings[name]) is not None and "\n" not in str(value)
        ),
        "",
        f"LoginRocket API: {emulator.loginrocket_api_url}",
        "",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted."""
    args = build_parser().parse_args(argv)
    try:
        serve(vars(args), lambda text: print(text, flush=True))
    except Refused as error:
        print(f"authrocket-emulator: {error}", file=sys.stderr)
        return 1
    return 0


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
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the emulator as cleanly as Ctrl+C."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())

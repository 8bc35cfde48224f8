"""``authrocket-emulator``: run the emulator in the foreground and print the settings to use."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .demo import seed_demo_users
from .emulator import ALGORITHMS, AuthRocketEmulator

DEFAULT_PORT = 8765

# Settings name -> the environment variable the app falls back to.
_ENV_NAMES = {
    "AUTHROCKET_LOGINROCKET_URL": "LOGINROCKET_URL",
    "AUTHROCKET_URL": "AUTHROCKET_URL",
    "AUTHROCKET_API_KEY": "AUTHROCKET_API_KEY",
    "AUTHROCKET_REALM": "AUTHROCKET_REALM",
    "AUTHROCKET_JWT_KEY": "AUTHROCKET_JWT_KEY",
}


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="authrocket-emulator",
        description="Run a local AuthRocket + LoginRocket emulator (for development and tests).",
    )
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
        "--seed-demo-users", action="store_true", help="create demo users and orgs at start"
    )
    return parser


def describe(emulator: AuthRocketEmulator) -> str:
    """The text printed at start: where it runs and the settings to point an app at it."""
    settings = emulator.settings()
    lines = [
        f"AuthRocket emulator running at {emulator.url} (realm {emulator.realm_id}, "
        f"{emulator.algorithm})",
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
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted."""
    args = build_parser().parse_args(argv)
    emulator = AuthRocketEmulator(
        host=args.host,
        port=args.port,
        realm_id=args.realm,
        algorithm=args.algorithm,
        jwt_secret=args.jwt_secret,
        api_key=args.api_key,
    )
    if args.seed_demo_users:
        seed_demo_users(emulator)
    try:
        emulator.start()
    except OSError as error:
        print(
            f"authrocket-emulator: cannot listen on {args.host}:{args.port}: {error}",
            file=sys.stderr,
        )
        return 1
    print(describe(emulator), flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the emulator as cleanly as Ctrl+C."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())

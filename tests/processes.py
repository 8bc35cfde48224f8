"""What tests that start other processes (the example site, the emulator's command line) share."""

from __future__ import annotations

import os
import socket

#: Variables that configure Django, AuthRocket or the demo: a child process gets only the ones a
#: test sets, never the ones this test run happens to have (CI's DATABASE_URL, say).
_CONFIGURING_PREFIXES = ("AUTHROCKET_", "LOGINROCKET_", "DJANGO_", "DEMO_")
_CONFIGURING_NAMES = ("DATABASE_URL", "CACHE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def inherited_environment() -> dict[str, str]:
    """This process's environment minus anything configuring Django, AuthRocket or the demo."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_CONFIGURING_PREFIXES) and name not in _CONFIGURING_NAMES
    }

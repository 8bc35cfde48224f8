"""Random identifiers in AuthRocket's style (``usr_0v1zUpWdE4IiFc2w5ynShf``)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.digits + string.ascii_letters


def random_token(length: int) -> str:
    """Return ``length`` random base-62 characters from a CSPRNG."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    """Return a fresh id such as ``usr_...``; ``prefix`` is given without the underscore."""
    return f"{prefix}_{random_token(22)}"

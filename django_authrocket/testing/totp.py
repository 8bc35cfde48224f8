"""RFC 6238 time-based one-time passwords (HMAC-SHA1, 30-second steps, 6 digits).

Written from the RFCs (RFC 4226 section 5.3 for the truncation, RFC 6238 section 4 for the
time steps), the defaults authenticator apps use. No third-party library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time

STEP_SECONDS = 30
DIGITS = 6


def decode_secret(secret: str) -> bytes:
    """The key bytes of a base32 secret (spaces and letter case ignored, padding optional)."""
    cleaned = secret.replace(" ", "").upper()
    cleaned += "=" * (-len(cleaned) % 8)
    try:
        return base64.b32decode(cleaned)
    except (binascii.Error, ValueError) as error:
        raise ValueError("a TOTP secret is base32 text") from error


def time_step(at: float | None = None) -> int:
    """The RFC 6238 counter T for unix time ``at`` (now by default)."""
    return int((time.time() if at is None else at) // STEP_SECONDS)


def hotp(key: bytes, counter: int) -> str:
    """RFC 4226 HOTP: dynamic truncation of HMAC-SHA1(key, counter) to :data:`DIGITS` digits."""
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def totp(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows for ``secret`` at unix time ``at`` (now)."""
    return hotp(decode_secret(secret), time_step(at))


def matching_step(
    secret: str, code: str, *, at: float | None = None, window: int = 1
) -> int | None:
    """The time step whose code is ``code``, looking ``window`` steps either side; else None.

    RFC 6238 section 5.2 allows a step or so of clock drift; the comparison is constant-time.
    """
    if not isinstance(code, str) or len(code) != DIGITS or not code.isdigit():
        return None
    key = decode_secret(secret)
    now_step = time_step(at)
    found = None
    for step in range(now_step - window, now_step + window + 1):
        if hmac.compare_digest(hotp(key, step), code):
            found = step
    return found

"""What people prove themselves with (passwords, TOTP) and the tokens mailed to them.

The data lives in the :class:`Store` under its lock (so ``Store.clear`` forgets it). Passwords
are kept only as salted scrypt hashes (``hashlib.scrypt``) and compared in constant time; no
password, code or token is ever logged. Mail is not sent: each message lands in the store's
``outbox`` as ``{"to", "kind", "token", "user_id", "at"}`` for tests to read (the emulator's
stand-in for the emails AuthRocket sends; the Core API hands the same tokens to an app:
authrocket-js authrocket-node ``users.generatePasswordToken`` and
``users.requestEmailVerification``, used by loginrocket-js/test/loginrocket_test.js).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from . import totp
from .ids import new_id, random_token
from .records import UserRecord, now
from .store import Invalid, NotFound, Store

#: Kinds of mailed tokens.
PASSWORD_RESET = "password_reset"
VERIFY_EMAIL = "verify_email"
INVITATION = "invitation"
MAIL_KINDS = (PASSWORD_RESET, VERIFY_EMAIL, INVITATION)

#: Lifetimes (emulator's choice, not documented): a reset link an hour, a verification link
#: and an invitation a week, a half-done login (password given, code not yet) ten minutes.
TOKEN_TTL = {PASSWORD_RESET: 3600, VERIFY_EMAIL: 7 * 24 * 3600, INVITATION: 7 * 24 * 3600}
PENDING_LOGIN_TTL = 600
#: Emulator's choice (realms configure their own rules; not documented here).
MIN_PASSWORD_LENGTH = 8

# scrypt cost: small, since this is a test double (a real service would use more).
_SCRYPT = {"n": 2**12, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """``scrypt$<salt>$<hash>`` of a password with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (constant-time comparison)."""
    try:
        _, salt, digest = stored.split("$")
        again = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32, **_SCRYPT)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again, base64.b64decode(digest))


class Credentials:
    """Passwords, TOTP secrets, half-done logins and mailed tokens of one realm."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- passwords ----------------------------------------------------------------------------

    def set_password(self, user_id: str, password: str) -> None:
        """Give the user this password (hashed)."""
        if not isinstance(password, str) or not password:
            raise Invalid("Password can't be blank")
        hashed = hash_password(password)
        with self.store.lock:
            user = self.store.get_user(user_id)
            self.store.password_hashes[user.id] = hashed

    def check_password(self, user_id: str, password: str) -> bool:
        """Whether the user has a password and ``password`` is it."""
        with self.store.lock:
            stored = self.store.password_hashes.get(user_id)
        return (
            stored is not None and isinstance(password, str) and password_matches(password, stored)
        )

    # -- the second factor --------------------------------------------------------------------

    def enable_totp(self, user_id: str, secret: str | None = None) -> str:
        """Turn on TOTP for the user; returns the base32 secret (a new one unless given)."""
        secret = secret or base64.b32encode(secrets.token_bytes(20)).decode()
        totp.decode_secret(secret)  # refuse a secret that is not base32
        with self.store.lock:
            user = self.store.get_user(user_id)
            self.store.totp_secrets[user.id] = secret
            self.store.totp_used_steps.pop(user.id, None)
        return secret

    def totp_secret(self, user_id: str) -> str | None:
        """The user's TOTP secret, None without a second factor."""
        with self.store.lock:
            return self.store.totp_secrets.get(user_id)

    def totp_code(self, user_id: str, at: float | None = None) -> str:
        """The code the user's authenticator app shows at ``at`` (now)."""
        secret = self.totp_secret(user_id)
        if secret is None:
            raise NotFound("User has no second factor")
        return totp.totp(secret, at)

    def check_totp(self, user_id: str, code: str) -> bool:
        """Accept a code once: one step of drift either way, never the same step twice.

        RFC 6238 section 5.2: a verifier must not accept a second use of the same code.
        """
        with self.store.lock:
            secret = self.store.totp_secrets.get(user_id)
            if secret is None:
                return False
            step = totp.matching_step(secret, code)
            if step is None or step <= self.store.totp_used_steps.get(user_id, -1):
                return False
            self.store.totp_used_steps[user_id] = step
            return True

    def start_pending_login(self, user_id: str) -> str:
        """A login waiting for its second factor; returns its id (``kss_...`` in form only)."""
        pending_id = new_id("kss")
        with self.store.lock:
            self.store.pending_logins[pending_id] = (user_id, now() + PENDING_LOGIN_TTL)
        return pending_id

    def pending_login_user(self, pending_id: str) -> str | None:
        """The user of a live half-done login, None when unknown or expired."""
        with self.store.lock:
            entry = self.store.pending_logins.get(pending_id)
        if entry is None or entry[1] <= now():
            return None
        return entry[0]

    def finish_pending_login(self, pending_id: str) -> None:
        """Forget a half-done login (it completed)."""
        with self.store.lock:
            self.store.pending_logins.pop(pending_id, None)

    # -- mail ---------------------------------------------------------------------------------

    def mail_token(self, kind: str, to: str, subject_id: str, user_id: str | None = None) -> str:
        """Mail a single-use token of ``kind`` about ``subject_id`` to ``to``; returns it."""
        if kind not in MAIL_KINDS:
            raise ValueError(f"kind must be one of {MAIL_KINDS}")
        token = f"{kind[:2]}t_{random_token(32)}"
        at = now()
        with self.store.lock:
            self.store.emailed_tokens[token] = (kind, subject_id, at + TOKEN_TTL[kind])
            self.store.outbox.append(
                {"to": to, "kind": kind, "token": token, "user_id": user_id, "at": at}
            )
        return token

    def mail_user_token(self, kind: str, user: UserRecord) -> str:
        """Mail a token about the user to their address."""
        return self.mail_token(kind, user.email, user.id, user.id)

    def peek(self, kind: str, token: object) -> str | None:
        """What a live token of ``kind`` is about (without using it up), None when not valid."""
        if not isinstance(token, str):
            return None
        with self.store.lock:
            entry = self.store.emailed_tokens.get(token)
            if entry is None or entry[0] != kind or entry[2] <= now():
                return None
            return entry[1]

    def redeem(self, kind: str, token: object) -> str | None:
        """Use up a live token of ``kind``; returns what it is about, None when not valid."""
        with self.store.lock:
            subject = self.peek(kind, token)
            if subject is not None:
                del self.store.emailed_tokens[str(token)]
            return subject

    def outbox(self) -> list[dict[str, Any]]:
        """Every message mailed since the last reset, oldest first (copies)."""
        with self.store.lock:
            return [dict(message) for message in self.store.outbox]

    def last_token(self, kind: str, to: str | None = None) -> str:
        """The newest token of ``kind`` (mailed to ``to``, any case); LookupError when none."""
        wanted = to.strip().lower() if to else None
        for message in reversed(self.outbox()):
            if message["kind"] == kind and (wanted is None or message["to"] == wanted):
                return str(message["token"])
        raise LookupError(f"no {kind} mail" + (f" to {to}" if to else ""))

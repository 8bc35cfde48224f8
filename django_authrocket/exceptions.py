"""The errors django-authrocket raises.

Two families, because callers handle them differently:

* :class:`InvalidToken` and its subclasses: the token a browser or API client sent cannot be
  trusted. The caller answers "not logged in" (a login page or a 401), never a 500.
* :class:`APIError` and its subclasses: a Core API call failed. Each carries the HTTP status and
  AuthRocket's ``X-Request-ID`` so a log line can be matched with AuthRocket's support.

Messages never contain a token, an API key or a secret: they are safe to log.
"""

from __future__ import annotations


class AuthRocketError(Exception):
    """Base class of every error raised by django-authrocket."""


# --- tokens ---------------------------------------------------------------------------------


class InvalidToken(AuthRocketError):
    """A login or bearer token was refused.

    ``reason`` is a short, stable, log-safe code (``"expired"``, ``"bad_signature"``...); the
    message explains it in words. Neither ever includes the token.
    """

    reason = "invalid"

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(message or self.reason.replace("_", " "))


class MalformedToken(InvalidToken):
    """Not a compact JWS with a JSON object header and JSON object claims."""

    reason = "malformed"


class TokenTooLarge(MalformedToken):
    """Longer than the size cap; refused before any parsing."""

    reason = "too_large"


class DisallowedAlgorithm(InvalidToken):
    """The header names an algorithm other than the one pinned by the configured key."""

    reason = "disallowed_algorithm"


class UnsupportedHeader(InvalidToken):
    """The header asks for something we refuse to honour (``crit``, ``b64``...)."""

    reason = "unsupported_header"


class UnknownKey(InvalidToken):
    """No published signing key has the token's ``kid`` (or it has none, in key set mode)."""

    reason = "unknown_key"


class KeysUnavailable(InvalidToken):
    """The signing keys could not be fetched from LoginRocket and none were cached."""

    reason = "keys_unavailable"


class InvalidSignature(InvalidToken):
    """The signature does not match the configured or published key."""

    reason = "bad_signature"


class InvalidClaims(InvalidToken):
    """A claim is missing, of the wrong type, or not an AuthRocket claims set."""

    reason = "invalid_claims"


class InvalidIssuer(InvalidClaims):
    """``iss`` is not exactly ``https://authrocket.com``."""

    reason = "bad_issuer"


class WrongRealm(InvalidClaims):
    """The token was issued for another realm than ``AUTHROCKET_REALM``."""

    reason = "wrong_realm"


class ExpiredToken(InvalidToken):
    """``exp`` is in the past (beyond the configured leeway)."""

    reason = "expired"


class ImmatureToken(InvalidToken):
    """``nbf`` or ``iat`` is in the future (beyond the configured leeway)."""

    reason = "not_yet_valid"


class TokenTooOld(InvalidToken):
    """``iat`` is older than the ``max_age`` the caller demanded (a fresh login is required)."""

    reason = "too_old"


class ReplayedToken(InvalidToken):
    """The login token was already used to log a browser in."""

    reason = "replayed"


# --- Core API -------------------------------------------------------------------------------


class APIError(AuthRocketError):
    """A Core API call failed.

    ``status`` is the HTTP status (``None`` when no response arrived), ``request_id`` the
    ``X-Request-ID`` AuthRocket sent, ``errors`` the messages of a 409/422 answer.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        errors: tuple[str, ...] = (),
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.request_id = request_id
        self.errors = errors
        self.method = method
        self.path = path
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        where = f"{self.method} {self.path}" if self.method and self.path else None
        details = [d for d in (where, f"status {self.status}" if self.status else None) if d]
        if self.request_id:
            details.append(f"request id {self.request_id}")
        return f"{text} ({', '.join(details)})" if details else text


class APIUnavailable(APIError):
    """No usable answer: connection refused or reset, timeout."""


class CacheUnavailable(APIUnavailable):
    """``AUTHROCKET_CACHE`` failed (Redis or Memcached down, a database cache's error).

    The replay marks, the shared key set and the recheck answers live there, so a login, a
    recheck or a Bearer check cannot be done safely without it: it is answered like AuthRocket
    unreachable (a 503, or the recheck's grace rule), never a 500. ``status`` is ``None``.
    """


class InvalidResponse(APIError):
    """An answer arrived but is not what the Core API sends (not JSON, wrong type, too large)."""


class AuthenticationFailed(APIError):
    """401/403: the API key is wrong, lacks permission, or an authenticate call failed."""


class PaymentRequired(APIError):
    """402: the AuthRocket subscription is inactive."""


class NotFound(APIError):
    """404: no such object (for a session: it ended or never existed)."""


class ValidationFailed(APIError):
    """409/422: AuthRocket refused the data; ``errors`` lists why."""


class RateLimited(APIError):
    """429 after all retries. ``retry_after`` is the server's hint in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class ServerError(APIError):
    """5xx after all retries."""

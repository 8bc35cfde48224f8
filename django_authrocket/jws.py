"""The compact JWS layer: split, decode strictly, check one signature.

Written out here rather than delegated to ``jwt.decode`` because a login token is hostile input
and we want every rule visible and stricter than the RFC's "be liberal":

* the token is capped in size and must be ASCII before anything is decoded;
* base64url must be canonical (no padding, no stray characters, no non-zero spare bits);
* header and claims must be JSON objects without duplicate names (``{"alg":"RS256","alg":"none"}``
  means two different things to two parsers), without ``NaN``, and not absurdly nested;
* ``crit`` and ``b64`` are refused (we implement no extension), and ``jku``/``x5u``/``jwk``/``x5c``
  are never looked at: keys come from configuration only;
* only RS256 (PKCS#1 v1.5, SHA-256) and HS256 exist, and the caller pins which one.

The signature is checked before the claims are parsed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .exceptions import (
    DisallowedAlgorithm,
    InvalidSignature,
    MalformedToken,
    TokenTooLarge,
    UnsupportedHeader,
)

Algorithm = Literal["RS256", "HS256"]

#: Longest token accepted, in characters. A token is about 600 characters plus about 150 per
#: org the person belongs to (more with custom attributes): someone in 60 orgs passes 8 KiB.
#: The cap bounds the work of a hostile token (hashing and parsing 64 KiB takes well under a
#: millisecond), so it should never be what refuses a real person; the web server's limit on
#: the request line or a header usually comes first (see the troubleshooting page).
MAX_TOKEN_LENGTH = 65536
#: Deepest JSON nesting accepted in a header or claims (AuthRocket claims nest about 4 deep).
#: Checked explicitly: the recursion limit differs between Python versions.
MAX_JSON_DEPTH = 32

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_REFUSED_HEADERS = ("crit", "b64")


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A parsed, not yet verified, compact JWS."""

    header: dict[str, Any]
    signing_input: bytes
    payload_segment: str
    signature: bytes

    @property
    def algorithm(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    def claims(self) -> dict[str, Any]:
        """The payload as a JSON object. Call only after :func:`verify_signature`."""
        return loads_object(b64url_decode(self.payload_segment), "claims")


def parse(token: object, *, max_length: int = MAX_TOKEN_LENGTH) -> CompactJWS:
    """Split and decode a compact JWS; raise :class:`MalformedToken` for anything else."""
    if not isinstance(token, str):
        raise MalformedToken("token is not a string")
    if len(token) > max_length:
        raise TokenTooLarge(f"token is longer than {max_length} characters")
    if not token.isascii():
        raise MalformedToken("token is not ASCII")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken("token is not a compact JWS (three dot-separated parts)")
    header_segment, payload_segment, signature_segment = parts
    header = loads_object(b64url_decode(header_segment), "header")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedToken("header has no 'alg'")
    if "kid" in header and not isinstance(header["kid"], str):
        raise MalformedToken("header 'kid' is not a string")
    for name in _REFUSED_HEADERS:
        if name in header:
            raise UnsupportedHeader(f"header parameter {name!r} is not supported")
    b64url_decode(payload_segment)  # reject malformed payload encoding before any crypto
    return CompactJWS(
        header=header,
        signing_input=f"{header_segment}.{payload_segment}".encode("ascii"),
        payload_segment=payload_segment,
        signature=b64url_decode(signature_segment),
    )


def verify_signature(jws: CompactJWS, algorithm: Algorithm, key: RSAPublicKey | bytes) -> None:
    """Check ``jws`` was signed with ``key`` under the pinned ``algorithm``.

    The token's own ``alg`` must equal the pinned one: it selects nothing.
    """
    if jws.algorithm != algorithm:
        raise DisallowedAlgorithm(
            f"token algorithm {jws.algorithm[:20]!r} is not the configured {algorithm}"
        )
    if algorithm == "HS256":
        if not isinstance(key, bytes):
            raise TypeError("HS256 needs a bytes secret")
        expected = hmac.new(key, jws.signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, jws.signature):
            raise InvalidSignature("signature does not match the HS256 secret")
        return
    if not isinstance(key, RSAPublicKey):
        raise TypeError("RS256 needs an RSA public key")
    try:
        key.verify(jws.signature, jws.signing_input, padding.PKCS1v15(), hashes.SHA256())
    except _CryptoInvalidSignature:
        raise InvalidSignature("signature does not match the RS256 key") from None


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded, canonical base64url (RFC 7515 section 2), or raise MalformedToken."""
    if len(segment) % 4 == 1 or not _BASE64URL.fullmatch(segment):
        raise MalformedToken("token part is not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise MalformedToken("token part is not base64url") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode("ascii"):
        raise MalformedToken("token part is not canonical base64url")
    return raw


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def loads_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object strictly: UTF-8, no duplicate names, no NaN/Infinity, sane depth."""
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
        )
    except RecursionError:
        raise MalformedToken(f"token {what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, duplicates, big ints
        reason = "has duplicate names" if "duplicate" in str(exc) else "is not valid JSON"
        raise MalformedToken(f"token {what} {reason}") from None
    if not isinstance(value, dict):
        raise MalformedToken(f"token {what} is not a JSON object")
    if data.count(b"{") + data.count(b"[") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        raise MalformedToken(f"token {what} is nested too deeply")
    return value


def _depth(value: object) -> int:
    """Nesting depth of parsed JSON, without recursion (so it cannot hit the recursion limit)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest

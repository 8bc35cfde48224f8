"""Mint test tokens with real keys: PyJWT for well-formed tokens, hand-made segments for the rest.

Nothing here imports django_authrocket: the tokens are built independently of the code under test,
so a bug in the verifier cannot be mirrored by the same bug in the factory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = "https://authrocket.com"
#: An HS256 realm secret as AuthRocket prints it (used verbatim, prefix included).
HS256_SECRET = "jsk_7mC2fX9qLr4Tz8WbN1vYp6KdHs3Ge5Ua0RjQ"
#: A second realm secret (an attacker's, or another realm's).
OTHER_HS256_SECRET = "jsk_attackerA1b2C3d4E5f6G7h8I9j0KlMnOpQr"

Signer = bytes | str | rsa.RSAPrivateKey | None
#: Pass as a claim override to leave the claim out.
DROP: Any = object()


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Lenient base64url decoding for test data (keys in JWKs)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: Any) -> str:
    """Encode one JWS segment: bytes as is, ``str`` as raw JSON text, anything else as JSON."""
    if isinstance(value, bytes):
        return b64url(value)
    if isinstance(value, str):
        return b64url(value.encode("utf-8"))
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def signature(signing_input: bytes, alg: str, key: Signer) -> bytes:
    """Sign ``signing_input`` with HS256 (bytes/str secret), RS256 (private key) or nothing."""
    if alg == "none" or key is None:
        return b""
    if alg == "HS256":
        secret = key.encode("utf-8") if isinstance(key, str) else key
        assert isinstance(secret, bytes)
        return hmac.new(secret, signing_input, hashlib.sha256).digest()
    if alg == "RS256":
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError(f"the factory cannot sign {alg}")


def sign_segments(header_segment: str, payload_segment: str, alg: str, key: Signer) -> str:
    """A token from already encoded (possibly malformed) segments, signed over them literally."""
    signing_input = f"{header_segment}.{payload_segment}".encode("latin-1")
    sig = signature(signing_input, alg, key)
    return f"{header_segment}.{payload_segment}.{b64url(sig)}"


def assemble(header: Any, payload: Any, key: Signer, *, alg: str | None = None) -> str:
    """A token from a header and payload given as dicts, raw JSON text or raw bytes.

    ``alg`` is the algorithm actually used to sign (default: the header's ``alg``), so a token
    can claim one algorithm and be signed with another.
    """
    if alg is None:
        alg = header["alg"] if isinstance(header, Mapping) else "none"
    return sign_segments(segment(header), segment(payload), alg, key)


def mint(
    claims: Mapping[str, Any],
    key: bytes | str | rsa.RSAPrivateKey,
    algorithm: str,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """A well-formed token, minted by PyJWT (an independent implementation)."""
    return jwt.encode(dict(claims), key, algorithm=algorithm, headers=dict(headers or {}))


@dataclass(frozen=True)
class RSAKeyPair:
    """A real RSA key pair and every spelling of its public key that a site might configure."""

    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @cached_property
    def spki_der(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @cached_property
    def spki_pem(self) -> str:
        """``-----BEGIN PUBLIC KEY-----`` ... with a trailing newline."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    @cached_property
    def pkcs1_pem(self) -> str:
        """``-----BEGIN RSA PUBLIC KEY-----`` ... with a trailing newline."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ).decode("ascii")

    @cached_property
    def body(self) -> str:
        """The bare base64 body of the SPKI PEM, on one line (what AuthRocket shows)."""
        return base64.b64encode(self.spki_der).decode("ascii")

    @cached_property
    def jwk(self) -> dict[str, str]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }


@cache
def rsa_key(name: str = "realm") -> RSAKeyPair:
    """A 2048-bit key pair per ``name``, generated once per test session."""
    del name  # only the cache key
    return RSAKeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ar2_claims(**overrides: Any) -> dict[str, Any]:
    """A plausible AuthRocket 2 claims set, valid now. ``name=DROP`` in overrides drops a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "iat": now,
        "exp": now + 3600,
        "sub": "usr_0vDhKeQy5gH4nR1tL8mZ2c",
        "sid": "kss_0vDhKf2aX9bW3pQ7sJ6nV1",
        "rid": "rl_0vDhK7uY3tM8eC4xF2aZ9q",
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "preferred_username": "ada",
        "email": "ada@example.com",
        "email_verified": True,
    }
    return _apply(claims, overrides)


def ar1_claims(**overrides: Any) -> dict[str, Any]:
    """A plausible AuthRocket 1 claims set (short names, no ``iss``), valid now."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iat": now,
        "exp": now + 3600,
        "uid": "usr_0uBcD3fG5hJ7kL9mN1pQ3r",
        "tk": "kss_0uBcD4gH6jK8lM0nP2qR4s",
        "aud": "rl_0uBcD2eF4gH6jK8lM0nP2q",
        "un": "grace",
        "fn": "Grace",
        "ln": "Hopper",
        "n": "Grace Hopper",
    }
    return _apply(claims, overrides)


def _apply(claims: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for name, value in overrides.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims

"""Signing keys (RS256 key ring with rotation, HS256 secret), the JWKS document, JWS signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .ids import random_token

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """One RSA key pair of the realm and its key id."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh RSA 2048 key with a random ``kid``."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=f"kid_{random_token(22)}", private_key=private_key)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The public half."""
        return self.private_key.public_key()

    @property
    def public_key_pem(self) -> str:
        """The public key as a SubjectPublicKeyInfo PEM (what ``AUTHROCKET_JWT_KEY`` holds)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def jwk(self, *, minimal: bool = False) -> dict[str, Any]:
        """The JWKS entry: LoginRocket puts a bare SPKI (not a certificate) in ``x5c[0]``.

        ``minimal``: only ``kid``, ``alg`` and ``x5c``, what the official libraries read
        (realm option ``jwks_shape``, see options.py).
        """
        spki_der = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        entry: dict[str, Any] = {
            "kid": self.kid,
            "alg": "RS256",
            "x5c": [base64.b64encode(spki_der).decode("ascii")],
        }
        if minimal:
            return entry
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            **entry,
            "use": "sig",
            "n": _int_b64url(numbers.n),
            "e": _int_b64url(numbers.e),
        }


class KeyRing:
    """The realm's keys: the current RSA key, the previous ones still published, the HS secret."""

    def __init__(self, *, jwt_secret: str) -> None:
        self.jwt_secret = jwt_secret
        self._lock = threading.Lock()
        self._current = SigningKey.generate()
        self._previous: list[SigningKey] = []

    @property
    def current(self) -> SigningKey:
        """The key new RS256 tokens are signed with."""
        return self._current

    @property
    def published(self) -> list[SigningKey]:
        """Every key in the JWKS document, current first."""
        with self._lock:
            return [self._current, *self._previous]

    def rotate(self, *, keep_previous: bool = True) -> SigningKey:
        """Make a new current key; the old ones stay published only when ``keep_previous``."""
        new_key = SigningKey.generate()
        with self._lock:
            self._previous = [self._current, *self._previous] if keep_previous else []
            self._current = new_key
        return new_key

    def jwks(self, *, minimal: bool = False) -> dict[str, Any]:
        """The document served at ``/connect/jwks`` (``minimal``: see :meth:`SigningKey.jwk`)."""
        return {"keys": [key.jwk(minimal=minimal) for key in self.published]}

    def decode(self, token: str, *, verify_exp: bool = True) -> dict[str, Any] | None:
        """Claims of a token this realm signed and (unless not ``verify_exp``) that has not
        expired; None otherwise.

        Used by Get Session, which accepts the full login token in place of a session id.
        """
        options: jwt.types.Options = {
            "require": ["exp"],
            "verify_aud": False,
            "verify_exp": verify_exp,
        }
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        try:
            if header.get("alg") == "HS256":
                return jwt.decode(
                    token,
                    self.jwt_secret,
                    algorithms=["HS256"],
                    options=options,
                )
            key = next((k for k in self.published if k.kid == header.get("kid")), None)
            if key is None or header.get("alg") != "RS256":
                return None
            return jwt.decode(
                token,
                key.public_key,
                algorithms=["RS256"],
                options=options,
            )
        except jwt.PyJWTError:
            return None


def sign_jws(
    claims: Mapping[str, Any],
    *,
    algorithm: str,
    key: object,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Serialize a compact JWS: sign ``claims`` with ``algorithm`` and ``key``.

    The header starts as ``{"alg": algorithm, "typ": "JWT"}``; ``headers`` is merged over it
    (a None value removes the entry), so a test can forge any header, e.g. ``alg`` differing
    from the algorithm actually used. Supported: HS256/384/512 (key: str or bytes, used
    verbatim), RS256/384/512 and PS256/384/512 (RSA private key or PEM), ES256/384/512 (EC
    private key or PEM) and ``none`` (empty signature).
    """
    header: dict[str, Any] = {"alg": algorithm, "typ": "JWT"}
    for name, value in (headers or {}).items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    ).encode("ascii")
    signature = _sign(signing_input, algorithm, key)
    return signing_input.decode("ascii") + "." + b64url(signature)


def _sign(data: bytes, algorithm: str, key: object) -> bytes:
    family, bits = algorithm[:2], algorithm[2:]
    if algorithm == "none":
        return b""
    if bits not in _HASHES:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    digest = _HASHES[bits]
    if family == "HS":
        if isinstance(key, str):
            key = key.encode()
        if not isinstance(key, bytes):
            raise TypeError("an HS* key must be str or bytes")
        return hmac.new(key, data, getattr(hashlib, f"sha{bits}")).digest()
    private_key = _private_key(key)
    if family in ("RS", "PS") and isinstance(private_key, rsa.RSAPrivateKey):
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if family == "RS"
            else padding.PSS(mgf=padding.MGF1(digest()), salt_length=digest().digest_size)
        )
        return private_key.sign(data, pad, digest())
    if family == "ES" and isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(digest())))
        size = (private_key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise TypeError(f"{type(key).__name__} cannot sign {algorithm}")


def _private_key(key: object) -> object:
    if isinstance(key, SigningKey):
        return key.private_key
    if isinstance(key, str):
        key = key.encode()
    if isinstance(key, bytes):
        return serialization.load_pem_private_key(key, password=None)
    return key

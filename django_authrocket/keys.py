"""Where token signing keys come from: the configured key, or LoginRocket's published key set.

:func:`load_static_key` turns ``AUTHROCKET_JWT_KEY`` into a :class:`SigningKey`; the key type pins
the algorithm (an RSA key means RS256 only, a secret means HS256 only).

:class:`KeyStore` serves LoginRocket's JWKS (``<LOGINROCKET_URL>/connect/jwks``). The fetched set
lives in the Django cache so every worker shares one copy and one fetch. On top of that each
process keeps the parsed keys for a short while, so the common case (a known ``kid``) costs no
cache read. An unknown ``kid`` triggers a refetch at most once per
``AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL`` across all workers (a cache ``add`` is the lock), so a
flood of forged kids cannot become a flood of fetches. The interval counts from the start of the
last fetch, so neither forged kids nor a slow or failing LoginRocket push the next fetch back: a
rotated-in key is picked up within one interval (plus one fetch). When LoginRocket is
unreachable the last good set keeps working. When the cache fails
(:mod:`~django_authrocket.shared_cache`) a lookup that needs it raises
:class:`~django_authrocket.exceptions.CacheUnavailable` (answered 503): without the shared
throttle, forged kids would each cost a fetch.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha256
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from django.core.exceptions import ImproperlyConfigured

from .conf import app_settings
from .exceptions import KeysUnavailable, UnknownKey
from .jws import Algorithm
from .shared_cache import SharedCache, shared_cache
from .transport import SERVER_ERRORS, USER_AGENT, Exchange, HTTPSession, read_body, send

logger = logging.getLogger("django_authrocket.keys")

#: A key string longer than this is an RSA public key body, shorter is an HS256 secret
#: (the rule the official AuthRocket libraries use).
RSA_KEY_MIN_CHARS = 256
#: Smallest RSA key accepted from a published key set.
MIN_RSA_BITS = 2048
#: How long a process trusts its parsed copy of the shared key set before looking at the cache.
LOCAL_TTL = 60.0
#: Largest key set document read from LoginRocket.
MAX_JWKS_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A verification key and the one algorithm it may be used with."""

    algorithm: Algorithm
    key: rsa.RSAPublicKey | bytes
    kid: str | None = None

    @property
    def bits(self) -> int:
        """Key size in bits (for an HS256 secret: its length in bits)."""
        if isinstance(self.key, bytes):
            return len(self.key) * 8
        return self.key.key_size

    def __repr__(self) -> str:  # never show secret material
        return f"SigningKey({self.algorithm}, {self.bits} bits, kid={self.kid!r})"


@lru_cache(maxsize=16)
def load_static_key(text: str) -> SigningKey:
    """Read ``AUTHROCKET_JWT_KEY``: an RSA public key (PEM or bare base64 body), else HS256 secret.

    Raises :class:`ImproperlyConfigured` for a PEM that is not an RSA public key.
    """
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        return SigningKey("RS256", _rsa_key_from_pem(stripped))
    if len(stripped) > RSA_KEY_MIN_CHARS:
        try:
            der = base64.b64decode("".join(stripped.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(
                "AUTHROCKET_JWT_KEY is longer than an HS256 secret but not a base64 RSA public "
                "key; paste the PEM or its base64 body from the realm's JWT settings."
            ) from None
        return SigningKey("RS256", _rsa_key_from_der(der))
    # HS256: the realm secret ("jsk_...") is used verbatim, prefix included.
    return SigningKey("HS256", stripped.encode("utf-8"))


def _rsa_key_from_pem(pem: str) -> rsa.RSAPublicKey:
    if "PRIVATE KEY" in pem.split("\n", 1)[0]:
        raise ImproperlyConfigured(
            "AUTHROCKET_JWT_KEY holds a private key. Use the realm's public key; never deploy "
            "a private key to the app."
        )
    try:
        if "CERTIFICATE" in pem.split("\n", 1)[0]:
            key: object = x509.load_pem_x509_certificate(pem.encode()).public_key()
        else:
            key = load_pem_public_key(pem.encode())
    except ValueError:
        raise ImproperlyConfigured("AUTHROCKET_JWT_KEY is not a readable PEM public key.") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ImproperlyConfigured("AUTHROCKET_JWT_KEY must be an RSA public key (RS256).")
    return key


def _rsa_key_from_der(der: bytes) -> rsa.RSAPublicKey:
    try:
        key: object = load_der_public_key(der)
    except ValueError:
        try:
            key = x509.load_der_x509_certificate(der).public_key()
        except ValueError:
            raise ImproperlyConfigured(
                "AUTHROCKET_JWT_KEY is not an RSA public key (expected a SubjectPublicKeyInfo)."
            ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ImproperlyConfigured("AUTHROCKET_JWT_KEY must be an RSA public key (RS256).")
    return key


def rsa_key_from_jwk(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    """Read an RSA JWK: ``x5c[0]`` (LoginRocket puts a bare SPKI there) or ``n``/``e``.

    ``kty`` may be absent when the type is evident: ``alg`` RS256, an ``x5c`` (whose key must
    then be RSA), or ``n`` and ``e``. The official libraries read only ``kid``, ``alg`` and
    ``x5c`` (authrocket-ruby lib/authrocket/session.rb ``load_jwk_set``, authrocket-node
    lib/loginrocket.js ``loadJwkSet``), so a key set without ``kty`` works with them.
    Raises ``ValueError`` with a log-safe reason when the entry is unusable.
    """
    kty = jwk.get("kty")
    if kty is None:
        if not (jwk.get("alg") == "RS256" or "x5c" in jwk or ("n" in jwk and "e" in jwk)):
            raise ValueError("no kty, and neither alg RS256, x5c nor n/e says it is RSA")
    elif kty != "RSA":
        raise ValueError(f"kty {str(kty)[:10]!r} is not RSA")
    x5c = jwk.get("x5c")
    if isinstance(x5c, list) and x5c and isinstance(x5c[0], str):
        try:
            der = base64.b64decode(x5c[0], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("x5c[0] is not base64") from None
        try:
            return _rsa_key_from_der(der)
        except ImproperlyConfigured:
            raise ValueError("x5c[0] is not an RSA public key") from None
    n, e = jwk.get("n"), jwk.get("e")
    if not isinstance(n, str) or not isinstance(e, str):
        raise ValueError("no x5c and no n/e")
    try:
        numbers = rsa.RSAPublicNumbers(_b64url_int(e), _b64url_int(n))
        return numbers.public_key()
    except ValueError:
        raise ValueError("n/e do not form an RSA public key") from None


def _b64url_int(value: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    if not raw:
        raise ValueError("empty integer")
    return int.from_bytes(raw, "big")


def parse_jwks(document: object) -> dict[str, SigningKey]:
    """The usable RS256 keys of a JWKS document, by ``kid``; unusable entries are skipped."""
    keys: dict[str, SigningKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("JWKS document has no 'keys' list")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if entry.get("alg", "RS256") != "RS256" or entry.get("use", "sig") != "sig":
            continue
        key_ops = entry.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
            continue
        try:
            key = _parse_jwk_cached(json.dumps(entry, sort_keys=True))
        except ValueError as exc:
            logger.warning("Ignoring LoginRocket signing key %s: %s", kid[:40], exc)
            continue
        if key.key_size < MIN_RSA_BITS:
            logger.warning(
                "Ignoring LoginRocket signing key %s: only %d bits", kid[:40], key.key_size
            )
            continue
        keys[kid] = SigningKey("RS256", key, kid)
    return keys


@lru_cache(maxsize=64)
def _parse_jwk_cached(entry_json: str) -> rsa.RSAPublicKey:
    return rsa_key_from_jwk(json.loads(entry_json))


def forget_stores(**kwargs: object) -> None:
    """Drop every store's per-process state (connected to ``setting_changed``: tests, reloads)."""
    with KeyStore._stores_lock:
        KeyStore._stores.clear()


class KeyStore:
    """LoginRocket's signing keys for one LoginRocket URL, shared through one Django cache.

    Get the store for the current settings with :meth:`for_settings`; then :meth:`get` a key by
    ``kid``. Safe to use from many threads.
    """

    _stores: dict[tuple[str, str], KeyStore] = {}
    _stores_lock = threading.Lock()

    def __init__(self, loginrocket_url: str, cache_alias: str = "default") -> None:
        self.jwks_url = f"{loginrocket_url.rstrip('/')}/connect/jwks"
        self.cache_alias = cache_alias
        digest = sha256(self.jwks_url.encode()).hexdigest()[:16]
        self._doc_key = f"authrocket:jwks:{digest}"
        self._fetch_key = f"authrocket:jwks-fetch:{digest}"
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at = 0.0
        self._local_until = 0.0
        self._lock = threading.Lock()
        self._http = HTTPSession()
        self._http.headers["User-Agent"] = USER_AGENT
        self._http.headers["Accept"] = "application/json"

    @classmethod
    def for_settings(cls) -> KeyStore:
        """The store for ``AUTHROCKET_LOGINROCKET_URL`` and ``AUTHROCKET_CACHE``."""
        url = app_settings.LOGINROCKET_URL
        if not url:
            raise ImproperlyConfigured(
                "AUTHROCKET_LOGINROCKET_URL is not set (nor LOGINROCKET_URL): it is needed to "
                "fetch LoginRocket's signing keys. Set it, or set AUTHROCKET_JWT_KEY."
            )
        ident = (url, app_settings.CACHE)
        store = cls._stores.get(ident)
        if store is None:
            with cls._stores_lock:
                store = cls._stores.setdefault(ident, cls(*ident))
        return store

    @property
    def cache(self) -> SharedCache:
        return shared_cache(self.cache_alias)

    def get(self, kid: str) -> SigningKey:
        """The published key ``kid``; raise :class:`UnknownKey` or :class:`KeysUnavailable`."""
        key = self._keys.get(kid)
        if key is not None and time.monotonic() < self._local_until:
            return key  # hot path: no cache read, no I/O
        self._load_shared()
        key = self._keys.get(kid)
        stale = time.time() - self._fetched_at > app_settings.JWKS_MAX_AGE
        if key is not None and not stale:
            return key
        self._refetch(kid)
        key = self._keys.get(kid)
        if key is not None:
            return key
        if not self._keys:
            raise KeysUnavailable("LoginRocket's signing keys could not be fetched")
        raise UnknownKey(f"no published signing key has kid {kid[:40]!r}")

    def known_kids(self) -> list[str]:
        """The kids currently trusted (after reading the shared cache)."""
        self._load_shared()
        return list(self._keys)

    def clear(self) -> None:
        """Forget the keys, here and in the shared cache (tests, key compromise)."""
        with self._lock:
            self.cache.delete_many([self._doc_key, self._fetch_key])
            self._keys, self._fetched_at, self._local_until = {}, 0.0, 0.0

    # --- internals ------------------------------------------------------------------------

    def _load_shared(self) -> None:
        doc = self.cache.get(self._doc_key)
        if isinstance(doc, dict) and doc.get("fetched_at", 0) > self._fetched_at:
            try:
                self._keys = parse_jwks(doc.get("jwks"))
            except ValueError:
                self._keys = {}
            self._fetched_at = float(doc["fetched_at"])
        self._local_until = time.monotonic() + LOCAL_TTL

    def _refetch(self, kid: str) -> None:
        """Fetch the key set unless another worker just did (or is doing) it.

        The fetch mark (a cache ``add``) is the lock. When the fetch did not find ``kid`` (a
        forged or foreign kid: throttle the next ones) or failed (do not hammer LoginRocket),
        the mark stays until ``AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL`` after the fetch *started*,
        never longer: a flood of forged kids gets one fetch per interval, and the fetch after
        a genuine rotation is never pushed back by the time the previous fetches took. A fetch
        that found ``kid`` was a real rotation or refresh, so the next new kid may fetch again
        at once.
        """
        seen = self._fetched_at
        with self._lock:  # threads of this process coalesce on one fetch
            self._load_shared()
            if self._fetched_at > seen:
                return  # another thread or worker fetched while we waited
            interval = max(1, app_settings.JWKS_MIN_REFETCH_INTERVAL)
            started = time.monotonic()
            if not self.cache.add(self._fetch_key, "fetching", timeout=interval):
                self._wait_for_other_fetch(seen)
                return
            try:
                document = self._fetch()
            except (requests.RequestException, ValueError) as exc:
                logger.warning(
                    "Could not fetch LoginRocket signing keys from %s (%s); %s",
                    self.jwks_url,
                    exc.__class__.__name__,
                    "keeping the last good keys" if self._keys else "no keys cached",
                )
                self._hold_mark("failed", started, interval)
                return
            now = time.time()
            self.cache.set(self._doc_key, {"fetched_at": now, "jwks": document}, timeout=None)
            self._keys = parse_jwks(document)
            if kid in self._keys:
                self.cache.delete(self._fetch_key)
            else:
                self._hold_mark("done", started, interval)
            self._fetched_at = now
            self._local_until = time.monotonic() + LOCAL_TTL
            logger.info("Fetched %d LoginRocket signing key(s)", len(self._keys))

    def _hold_mark(self, state: str, started: float, interval: int) -> None:
        """Keep the fetch mark, now saying ``state``, until ``interval`` after ``started``."""
        left = started + interval - time.monotonic()
        if left <= 0:  # the fetch took the whole interval: the next one may start now
            self.cache.delete(self._fetch_key)
        else:  # cache timeouts are whole seconds on most backends: round up, never down
            self.cache.set(self._fetch_key, state, timeout=math.ceil(left))

    def _wait_for_other_fetch(self, seen: float) -> None:
        """Another worker holds the fetch mark: wait for its result if it is still fetching."""
        deadline = time.monotonic() + float(app_settings.HTTP_TIMEOUT)
        while time.monotonic() < deadline and self.cache.get(self._fetch_key) == "fetching":
            time.sleep(0.02)
        self._load_shared()

    def _fetch(self) -> dict[str, Any]:
        """GET the key set: retried on no answer, 429 and any 5xx, the API client's way.

        Raises :class:`requests.RequestException` when LoginRocket gave no answer, ``ValueError``
        when its answer is not a usable key set.
        """
        exchange = send(
            self._fetch_once,
            retries=max(0, int(app_settings.HTTP_RETRIES)),
            idempotent=True,
            retry_statuses=SERVER_ERRORS,
        )
        status = exchange.status
        if status == 429 or status >= 500:
            raise ValueError("LoginRocket answered with a server error")
        if status != 200:
            raise ValueError(f"HTTP {status}")
        if exchange.body is None:
            raise ValueError("key set document is too large")
        try:
            document = json.loads(exchange.body)
        except RecursionError:
            raise ValueError("key set document is nested too deeply") from None
        parse_jwks(document)  # raises ValueError when it is not a key set
        return dict(document)

    def _fetch_once(self) -> Exchange:
        """One GET; only a 200's body is read (a reset mid-body is a retryable error)."""
        timeout = float(app_settings.HTTP_TIMEOUT)
        with self._http.get(self.jwks_url, timeout=timeout, stream=True) as response:
            if response.status_code != 200:
                return Exchange(response, b"")
            return Exchange(response, read_body(response, MAX_JWKS_BYTES))

"""``verify_token``: turn a LoginRocket token into an :class:`AuthRocketSession`, or refuse it.

The rules, in the order they are applied:

1. at most :data:`~django_authrocket.jws.MAX_TOKEN_LENGTH` characters, ASCII, compact JWS, strict
   base64url and JSON (see :mod:`django_authrocket.jws`);
2. the algorithm comes from the configured key, never from the token: an RSA key or LoginRocket's
   key set means RS256 only, a realm secret means HS256 only;
3. in key set mode the ``kid`` header picks the key; no ``kid``, no key;
4. the signature is checked before the claims are read;
5. ``exp`` and ``iat`` are required numbers; ``exp``, ``nbf`` and ``iat`` are checked with
   ``AUTHROCKET_JWT_LEEWAY`` seconds of skew; ``max_age`` bounds the age of ``iat``;
6. the claims have the shape of the site's AuthRocket generation (``AUTHROCKET_URL`` ending in
   ``/v1`` means AuthRocket 1, anything else or no URL AuthRocket 2): ``sub``/``sid`` for
   AuthRocket 2, ``uid``/``tk`` for AuthRocket 1, never the other one's;
7. an AuthRocket 2 token must carry ``iss == "https://authrocket.com"`` exactly; an AuthRocket 1
   token has no ``iss`` (if it has one, the same rule);
8. with ``AUTHROCKET_REALM`` set, the token's realm (``rid``; AuthRocket 1: ``aud``) must match.
9. a token the emulator minted (it carries :data:`EMULATOR_CLAIM`, which AuthRocket never sends)
   is refused unless ``DEBUG`` or ``AUTHROCKET_ACCEPT_EMULATOR_TOKENS`` is on.

Every refusal is an :class:`~django_authrocket.exceptions.InvalidToken` subclass whose message
is safe to log: it never contains the token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from .conf import app_settings
from .exceptions import (
    DisallowedAlgorithm,
    ExpiredToken,
    ImmatureToken,
    InvalidClaims,
    InvalidIssuer,
    TokenTooOld,
    UnknownKey,
    WrongRealm,
)
from .identity import AuthRocketSession
from .jws import CompactJWS, parse, verify_signature
from .keys import KeyStore, SigningKey, load_static_key

#: The only issuer of AuthRocket 2 tokens.
AUTHROCKET_ISSUER = "https://authrocket.com"

#: The claim the emulator (:mod:`django_authrocket.testing`) puts into every token and Get
#: Session answer it makes. No AuthRocket token or API object has it: AuthRocket 2 tokens carry
#: ``iss``/``iat``/``exp``/``sub``/``sid``/``rid``, profile claims and ``orgs``; AuthRocket 1
#: tokens the short names (``uid``, ``tk``, ``aud``, ``m``...).
EMULATOR_CLAIM = "emu"


@sensitive_variables("token")
def verify_token(token: str, *, max_age: int | None = None) -> AuthRocketSession:
    """Verify a LoginRocket login token (AuthRocket 2 or 1) and describe its session.

    ``max_age`` (seconds) refuses a token issued longer ago than that, to demand a fresh login.
    Raises :class:`~django_authrocket.exceptions.InvalidToken` (or a subclass) for every bad
    token, and :class:`~django.core.exceptions.ImproperlyConfigured` when neither
    ``AUTHROCKET_JWT_KEY`` nor ``AUTHROCKET_LOGINROCKET_URL`` is set.
    """
    jws = parse(token)
    signing_key = _signing_key_for(jws)
    verify_signature(jws, signing_key.algorithm, signing_key.key)
    claims = jws.claims()
    check_claims(claims, leeway=app_settings.JWT_LEEWAY, max_age=max_age)
    return AuthRocketSession.from_claims(claims)


def _signing_key_for(jws: CompactJWS) -> SigningKey:
    configured = app_settings.JWT_KEY
    if configured:
        return load_static_key(configured)
    if jws.algorithm != "RS256":
        # Checked before the key lookup so that 'alg: none' and friends never cause a fetch.
        raise DisallowedAlgorithm(f"token algorithm {jws.algorithm[:20]!r} is not RS256")
    kid = jws.kid
    if not kid:
        raise UnknownKey("token has no 'kid' header, which LoginRocket's key set requires")
    return KeyStore.for_settings().get(kid)


def check_claims(
    claims: Mapping[str, Any],
    *,
    leeway: float,
    max_age: int | None = None,
    now: float | None = None,
    generation: int | None = None,
) -> None:
    """Apply the time, shape, issuer, realm and emulator rules to verified claims (rules 5-9
    above).

    ``generation`` is the site's AuthRocket generation (default: the one ``AUTHROCKET_URL``
    names, see :attr:`~django_authrocket.conf.AppSettings.api_generation`).
    """
    check_lifetime(
        expires=_required_number(claims, "exp"),
        issued=_required_number(claims, "iat"),
        not_before=_number(claims, "nbf"),
        leeway=leeway,
        max_age=max_age,
        now=now,
    )
    check_generation(claims, app_settings.api_generation if generation is None else generation)
    is_ar2 = "sub" in claims or "sid" in claims
    if is_ar2 or "iss" in claims:
        iss = claims.get("iss")
        if iss != AUTHROCKET_ISSUER:
            raise InvalidIssuer(f"token issuer is not {AUTHROCKET_ISSUER}")
    check_realm(claims.get("rid" if is_ar2 else "aud"))
    check_not_emulator(claims)


def check_not_emulator(claims: Mapping[str, Any]) -> None:
    """Refuse claims (or a Get Session answer) the emulator made, unless ``DEBUG`` or
    ``AUTHROCKET_ACCEPT_EMULATOR_TOKENS`` is on (rule 9): a site that trusts a local emulator
    by mistake must not let any process on that port log anyone in."""
    if EMULATOR_CLAIM in claims and not (settings.DEBUG or app_settings.ACCEPT_EMULATOR_TOKENS):
        raise InvalidClaims(
            "token was made by the django-authrocket emulator, which is trusted only with "
            "DEBUG or AUTHROCKET_ACCEPT_EMULATOR_TOKENS",
            reason="emulator_token",
        )


def check_generation(claims: Mapping[str, Any], generation: int) -> None:
    """Only ``generation``'s claim shape (rule 6): an AuthRocket 1 token (``uid``/``tk``) is
    refused where AuthRocket 2 is configured, and an AuthRocket 2 token (``sub``/``sid``)
    where AuthRocket 1 is. Claims of neither shape are left to
    :meth:`~django_authrocket.identity.AuthRocketSession.from_claims`, which refuses them."""
    if "sub" in claims or "sid" in claims:
        shape = 2
    elif "uid" in claims or "tk" in claims:
        shape = 1
    else:
        return
    if shape != generation:
        raise InvalidClaims(
            f"an AuthRocket {shape} token, but this site uses AuthRocket {generation} "
            "(AUTHROCKET_URL ending in /v1 means AuthRocket 1)",
            reason="wrong_generation",
        )


def check_lifetime(
    *,
    expires: float | None,
    issued: float | None,
    not_before: float | None = None,
    leeway: float,
    max_age: int | None = None,
    now: float | None = None,
) -> None:
    """The time rules (rule 5), shared by tokens and Get Session answers (``"api"`` mode).

    ``None`` is a time the caller does not have: a token always has ``exp`` and ``iat``
    (:func:`check_claims` requires them); a Get Session answer may lack one.
    """
    now = time.time() if now is None else now
    if expires is not None and now > expires + leeway:
        raise ExpiredToken("token has expired")
    if not_before is not None and now + leeway < not_before:
        raise ImmatureToken("token is not valid yet (nbf is in the future)")
    if issued is not None and now + leeway < issued:
        raise ImmatureToken("token was issued in the future (iat)")
    if max_age is not None and issued is not None and now - issued > max_age + leeway:
        raise TokenTooOld(f"token was issued more than {max_age} seconds ago; log in again")


def check_realm(realm_id: object, *, absent_ok: bool = False) -> None:
    """With ``AUTHROCKET_REALM`` set, ``realm_id`` must be that realm (rule 7).

    ``absent_ok``: a Get Session answer without a realm id came through the site's own API
    key, which AuthRocket scopes to its realm; a token without one proves nothing.
    """
    realm = app_settings.REALM
    if not realm or (absent_ok and realm_id is None):
        return
    if realm_id != realm:
        raise WrongRealm("token was issued for another realm than AUTHROCKET_REALM")


def _required_number(claims: Mapping[str, Any], name: str) -> float:
    value = _number(claims, name)
    if value is None:
        raise InvalidClaims(f"token has no {name!r} claim")
    return value


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidClaims(f"claim {name!r} must be a number")
    try:
        return float(value)
    except OverflowError:
        raise InvalidClaims(f"claim {name!r} is out of range") from None

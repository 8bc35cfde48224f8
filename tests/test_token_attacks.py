"""The JWT attack catalogue against ``verify_token``, with real keys, in every static key mode.

Modes: ``hs256`` (a realm secret), ``rs256-pem`` (SPKI PEM) and ``rs256-body`` (the bare base64
body AuthRocket shows). Every refusal goes through :func:`refused`, which pins the exception class
and checks that the message never repeats the token or its signature.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_authrocket.exceptions import (
    DisallowedAlgorithm,
    ExpiredToken,
    ImmatureToken,
    InvalidClaims,
    InvalidIssuer,
    InvalidSignature,
    InvalidToken,
    MalformedToken,
    TokenTooLarge,
    TokenTooOld,
    UnsupportedHeader,
    WrongRealm,
)
from django_authrocket.identity import AuthRocketSession
from django_authrocket.jws import MAX_TOKEN_LENGTH
from django_authrocket.tokens import verify_token
from tests.jwt_factory import (
    DROP,
    HS256_SECRET,
    ISSUER,
    OTHER_HS256_SECRET,
    RSAKeyPair,
    Signer,
    ar1_claims,
    ar2_claims,
    b64url,
    b64url_decode,
    mint,
    segment,
    sign_segments,
    signature,
)
from tests.jwt_factory import rsa_key as _rsa_key

REALM = "rl_0vDhK7uY3tM8eC4xF2aZ9q"
AR1_API_URL = "https://api-e1.authrocket.com/v1"
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# --- modes and helpers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    """One way a site configures AUTHROCKET_JWT_KEY, and how a genuine token is signed for it."""

    name: str
    alg: str
    configured: str
    signing_key: Signer
    pair: RSAKeyPair | None = None

    def header(self, **extra: Any) -> dict[str, Any]:
        return {"alg": self.alg, "typ": "JWT", **extra}

    def mint(self, claims: dict[str, Any], **headers: Any) -> str:
        """A genuine token (PyJWT) signed with the configured realm key."""
        assert self.signing_key is not None
        return mint(claims, self.signing_key, self.alg, headers)  # type: ignore[arg-type]

    def sign(self, header: Any, payload: Any) -> str:
        """Hand-assembled token (header/payload as dict, raw JSON text or bytes), genuinely signed."""
        return sign_segments(segment(header), segment(payload), self.alg, self.signing_key)

    def sign_segments(self, header_segment: str, payload_segment: str) -> str:
        return sign_segments(header_segment, payload_segment, self.alg, self.signing_key)


def make_mode(name: str) -> Mode:
    if name == "hs256":
        return Mode(name, "HS256", HS256_SECRET, HS256_SECRET)
    pair = _rsa_key("realm")
    configured = {
        "rs256-pem": pair.spki_pem,
        "rs256-body": pair.body,
        "rs256-pkcs1-pem": pair.pkcs1_pem,
    }[name]
    return Mode(name, "RS256", configured, pair.private_key, pair)


def ar1_site(settings: Any) -> None:
    """Configure an AuthRocket 1 site: only AuthRocket 1 tokens (``uid``/``tk``) are accepted."""
    settings.AUTHROCKET_URL = AR1_API_URL


def configure(settings: Any, mode: Mode) -> Mode:
    settings.AUTHROCKET_JWT_KEY = mode.configured
    settings.AUTHROCKET_REALM = None
    settings.AUTHROCKET_JWT_LEEWAY = 5
    return mode


@pytest.fixture(params=["hs256", "rs256-pem", "rs256-body"])
def mode(request: pytest.FixtureRequest, settings: Any) -> Mode:
    return configure(settings, make_mode(request.param))


@pytest.fixture(params=["rs256-pem", "rs256-body"])
def rsa_mode(request: pytest.FixtureRequest, settings: Any) -> Mode:
    return configure(settings, make_mode(request.param))


@pytest.fixture
def hs_mode(settings: Any) -> Mode:
    return configure(settings, make_mode("hs256"))


def assert_log_safe(exc: BaseException, token: object) -> None:
    """The message must not repeat the token, nor any long segment of it (the signature...)."""
    if isinstance(token, bytes | bytearray):
        token = bytes(token).decode("latin-1")
    if not isinstance(token, str):
        return
    texts = [str(exc), repr(exc), *(str(arg) for arg in exc.args)]
    secrets = [token] if len(token) >= 16 else []
    parts = token.split(".")
    secrets += [part for part in parts if len(part) >= 16]
    if len(parts) >= 3 and len(parts[2]) >= 8:
        secrets.append(parts[2])  # the signature segment, even a short one
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"exception message leaks token material: {text!r}"


def refused(
    token: object,
    expected: type[InvalidToken],
    *,
    exact: bool = True,
    max_age: int | None = None,
) -> InvalidToken:
    """verify_token must raise ``expected`` (exactly, unless ``exact=False``), log-safely."""
    with pytest.raises(InvalidToken) as info:
        verify_token(token, max_age=max_age)  # type: ignore[arg-type]
    exc = info.value
    if exact:
        assert type(exc) is expected, f"{type(exc).__name__} ({exc}) is not {expected.__name__}"
    else:
        assert isinstance(exc, expected), f"{type(exc).__name__} ({exc})"
    assert_log_safe(exc, token)
    return exc


def accepted(token: str, *, max_age: int | None = None) -> AuthRocketSession:
    session = verify_token(token, max_age=max_age)
    assert isinstance(session, AuthRocketSession)
    return session


def now() -> int:
    return int(time.time())


def with_raw(claims: dict[str, Any], raw_member: str) -> str:
    """The claims as JSON text with one more member written by hand (duplicates, NaN, 1e400...)."""
    return json.dumps(claims)[:-1] + ", " + raw_member + "}"


# --- positive mapping -------------------------------------------------------------------------


def test_ar2_token_with_orgs_maps_into_a_session(mode: Mode) -> None:
    claims = ar2_claims(
        ref="crm-42",
        cs={"plan": "gold", "seats": 3},
        orgs=[
            {
                "mid": "mb_first",
                "oid": "org_first",
                "name": "First Org",
                "perm": ["ar:admin"],
                "selected": False,
                "ref": "acct-1",
                "cs": {"tier": "free"},
            },
            {
                "mid": "mb_second",
                "oid": "org_second",
                "name": "Second Org",
                "perm": ["billing:*", "reports:read"],
                "selected": True,
                "cs": {"tier": "pro"},
            },
        ],
    )
    session = accepted(mode.mint(claims))

    assert session.id == claims["sid"]
    assert session.generation == 2
    user = session.user
    assert user.id == claims["sub"]
    assert user.email == "ada@example.com"
    assert user.email_verified is True
    assert (user.name, user.first_name, user.last_name) == ("Ada Lovelace", "Ada", "Lovelace")
    assert user.username == "ada"
    assert user.reference == "crm-42"
    assert dict(user.custom) == {"plan": "gold", "seats": 3}
    assert user.realm_id == REALM
    assert session.issued_at == datetime.fromtimestamp(claims["iat"], tz=UTC)
    assert session.expires_at == datetime.fromtimestamp(claims["exp"], tz=UTC)
    assert session.expires_at.tzinfo is not None
    assert dict(session.claims) == claims

    first, second = session.memberships
    assert (first.id, first.org.id, first.org.name, first.org.reference) == (
        "mb_first",
        "org_first",
        "First Org",
        "acct-1",
    )
    assert first.permissions == ("ar:admin",)
    assert first.selected is False
    assert dict(first.org.custom) == {"tier": "free"}
    assert (second.id, second.org.id, second.selected) == ("mb_second", "org_second", True)
    assert second.permissions == ("billing:*", "reports:read")

    assert session.selected_membership == second
    assert session.selected_org == second.org
    assert session.permissions == ("billing:*", "reports:read")
    assert session.has_perm("billing:read")
    assert session.has_perm("billing:invoices:read")
    assert session.has_perm("reports:read")
    assert not session.has_perm("billing")
    assert not session.has_perm("billingx:read")
    assert not session.has_perm("reports:write")
    assert not session.has_perm("ar:admin")  # granted in the other, unselected org
    assert session.has_perm("ar:admin", org_id="org_first")
    assert not session.has_perm("ar:owner", org_id="org_first")  # ar:admin is not ar:owner
    assert session.membership_for("org_first") == first
    assert session.membership_for("org_nope") is None


def test_ar2_token_without_orgs_has_no_membership(mode: Mode) -> None:
    claims = ar2_claims(email_verified=DROP, name=DROP, given_name=DROP, family_name=DROP)
    session = accepted(mode.mint(claims))
    assert session.memberships is None and not session.has_org_data  # no org data: not "none"
    assert session.selected_membership is None
    assert session.selected_org is None
    assert not session.has_perm("anything")
    assert session.user.email_verified is None
    assert (session.user.name, session.user.first_name) == ("", "")


def test_ar2_selected_membership_falls_back_to_the_first(mode: Mode) -> None:
    orgs = [{"oid": "org_a", "perm": ["*"]}, {"oid": "org_b", "perm": []}]
    session = accepted(mode.mint(ar2_claims(orgs=orgs)))
    assert session.selected_org is not None
    assert session.selected_org.id == "org_a"
    assert session.has_perm("ar:owner")  # '*' grants everything
    assert session.memberships[0].id is None


def test_ar1_token_maps_into_a_session(mode: Mode, settings: Any) -> None:
    ar1_site(settings)
    claims = ar1_claims(
        cs={"favourite": "cobol"},
        m=[
            {
                "oid": "org_navy",
                "o": "US Navy",
                "p": ["ar:owner", "billing:*"],
                "cs": {"rank": "admiral"},
                "ocs": {"fleet": "pacific"},
            },
            {"oid": "org_harvard", "o": "Harvard", "p": []},
        ],
    )
    session = accepted(mode.mint(claims))
    assert session.generation == 1
    assert session.id == claims["tk"]
    assert session.user.id == claims["uid"]
    assert session.user.realm_id == claims["aud"]
    assert (session.user.first_name, session.user.last_name) == ("Grace", "Hopper")
    assert session.user.name == "Grace Hopper"
    assert session.user.username == "grace"
    assert dict(session.user.custom) == {"favourite": "cobol"}
    navy, harvard = session.memberships
    assert (navy.org.id, navy.org.name) == ("org_navy", "US Navy")
    assert navy.permissions == ("ar:owner", "billing:*")
    assert dict(navy.custom) == {"rank": "admiral"}
    assert dict(navy.org.custom) == {"fleet": "pacific"}
    assert (harvard.org.name, harvard.permissions) == ("Harvard", ())
    assert session.selected_membership == navy  # AR1 has no 'selected': the first one
    assert session.has_perm("billing:refunds")
    assert session.has_perm("ar:owner")
    assert not session.has_perm("ar:owner", org_id="org_harvard")
    assert session.issued_at == datetime.fromtimestamp(claims["iat"], tz=UTC)


def test_ar1_name_falls_back_to_first_and_last_name(hs_mode: Mode, settings: Any) -> None:
    ar1_site(settings)
    session = accepted(hs_mode.mint(ar1_claims(n=DROP)))
    assert session.user.name == "Grace Hopper"


def test_pkcs1_rsa_public_key_pem_is_accepted_as_configuration(settings: Any) -> None:
    mode = configure(settings, make_mode("rs256-pkcs1-pem"))
    assert accepted(mode.mint(ar2_claims())).user.id == ar2_claims()["sub"]


# --- algorithm attacks ----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature_kind", ["empty", "junk", "genuine-mac-or-rsa"])
def test_alg_none_is_refused_in_any_case(mode: Mode, alg: str, signature_kind: str) -> None:
    header_segment = segment({"alg": alg, "typ": "JWT"})
    payload_segment = segment(ar2_claims())
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    sig = {
        "empty": b"",
        "junk": b"\x00" * 32,
        "genuine-mac-or-rsa": signature(signing_input, mode.alg, mode.signing_key),
    }[signature_kind]
    refused(f"{header_segment}.{payload_segment}.{b64url(sig)}", DisallowedAlgorithm)


@pytest.mark.parametrize(
    "alg", ["", "hs256", "rs256", "HS256 ", " RS256", "HS384", "HS512", "RS512", "PS256", "ES256"]
)
def test_algorithm_names_are_matched_exactly(mode: Mode, alg: str) -> None:
    token = sign_segments(segment({"alg": alg}), segment(ar2_claims()), mode.alg, mode.signing_key)
    refused(token, DisallowedAlgorithm)


def _hmac_secret_spellings(pair: RSAKeyPair) -> dict[str, bytes]:
    pkcs1_der = base64.b64decode("".join(pair.pkcs1_pem.strip().splitlines()[1:-1]))
    return {
        "spki-pem": pair.spki_pem.encode(),
        "spki-pem-no-trailing-newline": pair.spki_pem.rstrip("\n").encode(),
        "spki-pem-crlf": pair.spki_pem.replace("\n", "\r\n").encode(),
        "pkcs1-rsa-public-key-pem": pair.pkcs1_pem.encode(),
        "pkcs1-pem-no-trailing-newline": pair.pkcs1_pem.rstrip("\n").encode(),
        "bare-base64-body": pair.body.encode(),
        "bare-base64-body-newline": (pair.body + "\n").encode(),
        "spki-der": pair.spki_der,
        "pkcs1-der": pkcs1_der,
        "jwk-json": json.dumps(pair.jwk).encode(),
    }


HMAC_SPELLINGS = [
    "spki-pem",
    "spki-pem-no-trailing-newline",
    "spki-pem-crlf",
    "pkcs1-rsa-public-key-pem",
    "pkcs1-pem-no-trailing-newline",
    "bare-base64-body",
    "bare-base64-body-newline",
    "spki-der",
    "pkcs1-der",
    "jwk-json",
]


@pytest.mark.parametrize("configured", ["rs256-pem", "rs256-body", "rs256-pkcs1-pem"])
@pytest.mark.parametrize("spelling", HMAC_SPELLINGS)
def test_hs256_token_keyed_with_the_rsa_public_key_is_refused(
    settings: Any, configured: str, spelling: str
) -> None:
    mode = configure(settings, make_mode(configured))
    assert mode.pair is not None
    secret = _hmac_secret_spellings(mode.pair)[spelling]
    token = sign_segments(
        segment({"alg": "HS256", "typ": "JWT"}), segment(ar2_claims()), "HS256", secret
    )
    refused(token, DisallowedAlgorithm)


def test_rs256_token_is_refused_when_configured_with_an_hs256_secret(hs_mode: Mode) -> None:
    pair = _rsa_key("realm")
    refused(mint(ar2_claims(), pair.private_key, "RS256"), DisallowedAlgorithm)
    # Even an RS256 header over a genuine HS256 MAC is refused on the algorithm.
    token = sign_segments(segment({"alg": "RS256"}), segment(ar2_claims()), "HS256", HS256_SECRET)
    refused(token, DisallowedAlgorithm)


def test_token_signed_by_a_foreign_rsa_key_is_refused(rsa_mode: Mode) -> None:
    foreign = _rsa_key("attacker")
    refused(mint(ar2_claims(), foreign.private_key, "RS256"), InvalidSignature)


def test_token_signed_with_another_realm_secret_is_refused(hs_mode: Mode) -> None:
    refused(mint(ar2_claims(), OTHER_HS256_SECRET, "HS256"), InvalidSignature)
    refused(mint(ar2_claims(), HS256_SECRET + " ", "HS256"), InvalidSignature)
    refused(mint(ar2_claims(), HS256_SECRET.removeprefix("jsk_"), "HS256"), InvalidSignature)


def test_foreign_kid_header_is_ignored_in_static_mode(mode: Mode) -> None:
    for kid in ("attacker-kid", "../../../etc/passwd", "", "x" * 200):
        assert accepted(mode.mint(ar2_claims(), kid=kid)).user.id == ar2_claims()["sub"]
    if mode.alg == "RS256":
        foreign = _rsa_key("attacker")
        token = mint(ar2_claims(), foreign.private_key, "RS256", {"kid": "realm-key"})
    else:
        token = mint(ar2_claims(), OTHER_HS256_SECRET, "HS256", {"kid": "realm-key"})
    refused(token, InvalidSignature)


def _key_bearing_headers(attacker: RSAKeyPair, attacker_secret: str) -> dict[str, dict[str, Any]]:
    return {
        "jwk-rsa": {"jwk": attacker.jwk},
        "jwk-oct": {"jwk": {"kty": "oct", "k": b64url(attacker_secret.encode())}},
        "x5c": {"x5c": [attacker.body]},
        "jku": {"jku": "https://attacker.example/jwks.json", "kid": "a"},
        "x5u": {"x5u": "https://attacker.example/cert.pem"},
        "all": {
            "jwk": attacker.jwk,
            "x5c": [attacker.body],
            "jku": "https://attacker.example/jwks.json",
            "x5u": "https://attacker.example/cert.pem",
            "kid": "a",
        },
    }


KEY_HEADERS = ["jwk-rsa", "jwk-oct", "x5c", "jku", "x5u", "all"]


@pytest.mark.parametrize("carrier", KEY_HEADERS)
def test_key_bearing_headers_do_not_choose_the_key(mode: Mode, carrier: str) -> None:
    attacker = _rsa_key("attacker")
    headers = _key_bearing_headers(attacker, OTHER_HS256_SECRET)[carrier]
    if mode.alg == "RS256":
        token = mint(ar2_claims(), attacker.private_key, "RS256", headers)
    else:
        token = mint(ar2_claims(), OTHER_HS256_SECRET, "HS256", headers)
    refused(token, InvalidSignature)


@pytest.mark.parametrize("carrier", KEY_HEADERS)
def test_key_bearing_headers_are_ignored_on_a_genuine_token(mode: Mode, carrier: str) -> None:
    headers = _key_bearing_headers(_rsa_key("attacker"), OTHER_HS256_SECRET)[carrier]
    accepted(mode.mint(ar2_claims(), **headers))


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"], "exp": 1},
        {"crit": []},
        {"crit": ["b64"], "b64": False},
        {"b64": False},
        {"b64": True},
    ],
    ids=["crit-exp", "crit-empty", "crit-b64", "b64-false", "b64-true"],
)
def test_crit_and_b64_headers_are_unsupported(mode: Mode, extra: dict[str, Any]) -> None:
    refused(mode.sign(mode.header(**extra), ar2_claims()), UnsupportedHeader)


# --- time claims --------------------------------------------------------------------------------


def test_token_without_exp_is_refused(mode: Mode) -> None:
    refused(mode.mint(ar2_claims(exp=DROP)), InvalidClaims)
    refused(mode.sign(mode.header(), json.dumps({**ar2_claims(), "exp": None})), InvalidClaims)


def test_token_without_iat_is_refused(mode: Mode) -> None:
    refused(mode.mint(ar2_claims(iat=DROP)), InvalidClaims)


@pytest.mark.parametrize(
    "exp",
    ["9999999999", "1e10", True, False, [9999999999], {"t": 9999999999}],
    ids=["numeric-string", "exponent-string", "true", "false", "list", "object"],
)
def test_exp_must_be_a_json_number(mode: Mode, exp: Any) -> None:
    refused(mode.mint(ar2_claims(exp=exp)), InvalidClaims)


def test_exp_as_numeric_string_is_refused(mode: Mode) -> None:
    refused(mode.mint(ar2_claims(exp="9999999999")), InvalidClaims)


def test_exp_as_bool_is_refused(mode: Mode) -> None:
    refused(mode.mint(ar2_claims(exp=True)), InvalidClaims)


@pytest.mark.parametrize("name", ["iat", "nbf"])
@pytest.mark.parametrize("value", ["1700000000", True, None], ids=["string", "bool", "null"])
def test_iat_and_nbf_must_be_numbers(mode: Mode, name: str, value: Any) -> None:
    claims = {**ar2_claims(), name: value}
    if name == "nbf" and value is None:
        accepted(mode.sign(mode.header(), claims))  # nbf: null is "no nbf"
        return
    refused(mode.sign(mode.header(), claims), InvalidClaims)


def test_exp_overflowing_to_infinity_is_refused(mode: Mode) -> None:
    payload = with_raw(ar2_claims(exp=DROP), '"exp": 1e400')
    refused(mode.sign(mode.header(), payload), InvalidClaims)


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
def test_time_claim_too_large_for_a_float_is_refused(mode: Mode, name: str) -> None:
    claims = ar2_claims(**{name: DROP})
    payload = with_raw(claims, f'"{name}": 1{"0" * 400}')
    refused(mode.sign(mode.header(), payload), InvalidClaims)


def test_expired_token_is_refused_beyond_leeway(mode: Mode, settings: Any) -> None:
    refused(mode.mint(ar2_claims(iat=now() - 3600, exp=now() - 10)), ExpiredToken)
    refused(mode.mint(ar2_claims(iat=now() - 7200, exp=now() - 3600)), ExpiredToken)
    settings.AUTHROCKET_JWT_LEEWAY = 0
    refused(mode.mint(ar2_claims(iat=now() - 3600, exp=now() - 2)), ExpiredToken)
    settings.AUTHROCKET_JWT_LEEWAY = 60
    refused(mode.mint(ar2_claims(iat=now() - 3600, exp=now() - 90)), ExpiredToken)


def test_expired_token_within_leeway_is_accepted(mode: Mode, settings: Any) -> None:
    accepted(mode.mint(ar2_claims(iat=now() - 3600, exp=now() - 2)))  # default leeway 5 s
    settings.AUTHROCKET_JWT_LEEWAY = 60
    accepted(mode.mint(ar2_claims(iat=now() - 3600, exp=now() - 30)))


def test_future_nbf_is_refused(mode: Mode) -> None:
    refused(mode.mint(ar2_claims(nbf=now() + 60)), ImmatureToken)


def test_nbf_within_leeway_is_accepted(mode: Mode) -> None:
    accepted(mode.mint(ar2_claims(nbf=now() + 2)))


def test_future_iat_beyond_leeway_is_refused(mode: Mode, settings: Any) -> None:
    refused(mode.mint(ar2_claims(iat=now() + 60)), ImmatureToken)
    settings.AUTHROCKET_JWT_LEEWAY = 0
    refused(mode.mint(ar2_claims(iat=now() + 3)), ImmatureToken)


def test_future_iat_within_leeway_is_accepted(mode: Mode) -> None:
    accepted(mode.mint(ar2_claims(iat=now() + 2)))


def test_max_age_refuses_an_old_iat(mode: Mode) -> None:
    token = mode.mint(ar2_claims(iat=now() - 600))
    refused(token, TokenTooOld, max_age=300)
    accepted(token, max_age=900)
    accepted(token)  # no max_age, no limit
    accepted(mode.mint(ar2_claims(iat=now() - 302)), max_age=300)  # within leeway


# --- issuer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example",
        "https://authrocket.com/",
        "http://authrocket.com",
        "https://AUTHROCKET.COM",
        " https://authrocket.com",
        "https://authrocket.com ",
        "https://authrocket.com.evil.example",
        "https://evil.example/https://authrocket.com",
        "xhttps://authrocket.com",
        "https://authrocket.co",
        "https://authrocket.com\u0000",
        "",
        ["https://authrocket.com"],
        {"url": "https://authrocket.com"},
        1,
        None,
    ],
    ids=[
        "other",
        "trailing-slash",
        "http",
        "upper-case",
        "leading-space",
        "trailing-space",
        "suffix-domain",
        "prefix-path",
        "prefix-char",
        "truncated",
        "nul-suffix",
        "empty",
        "list",
        "object",
        "number",
        "null",
    ],
)
def test_wrong_issuer_is_refused(mode: Mode, iss: Any) -> None:
    refused(mode.sign(mode.header(), {**ar2_claims(), "iss": iss}), InvalidIssuer)


def test_ar2_token_without_iss_is_refused(mode: Mode) -> None:
    refused(mode.mint(ar2_claims(iss=DROP)), InvalidIssuer)
    refused(mode.mint(ar2_claims(iss=DROP, sub=DROP)), InvalidIssuer)  # 'sid' alone is AR2


def test_ar1_token_without_iss_is_accepted(mode: Mode, settings: Any) -> None:
    ar1_site(settings)
    assert "iss" not in ar1_claims()
    assert accepted(mode.mint(ar1_claims())).generation == 1


def test_ar1_token_with_a_wrong_iss_is_refused(mode: Mode, settings: Any) -> None:
    ar1_site(settings)
    refused(mode.mint(ar1_claims(iss="https://evil.example")), InvalidIssuer)
    accepted(mode.mint(ar1_claims(iss=ISSUER)))


# --- realm ------------------------------------------------------------------------------------


def test_token_for_another_realm_is_refused(mode: Mode, settings: Any) -> None:
    settings.AUTHROCKET_REALM = REALM
    accepted(mode.mint(ar2_claims(rid=REALM)))
    refused(mode.mint(ar2_claims(rid="rl_other")), WrongRealm)
    refused(mode.mint(ar2_claims(rid=REALM.upper())), WrongRealm)
    refused(mode.mint(ar2_claims(rid=DROP)), WrongRealm)
    # AR2 realm claim is 'rid': an AR2 token does not get in through a matching 'aud'.
    refused(mode.mint(ar2_claims(rid="rl_other", aud=REALM)), WrongRealm)


def test_ar1_token_for_another_realm_is_refused(mode: Mode, settings: Any) -> None:
    ar1_site(settings)
    settings.AUTHROCKET_REALM = REALM
    accepted(mode.mint(ar1_claims(aud=REALM)))
    refused(mode.mint(ar1_claims(aud="rl_other")), WrongRealm)
    refused(mode.mint(ar1_claims(aud=DROP)), WrongRealm)
    refused(mode.mint(ar1_claims(aud=["rl_other"])), WrongRealm)


def test_realm_claim_as_a_list_is_refused(mode: Mode, settings: Any) -> None:
    # check_claims lets a list containing the realm pass, the claims mapper then refuses it:
    # the outcome is a refusal either way (AuthRocket never sends a list here).
    settings.AUTHROCKET_REALM = REALM
    refused(mode.mint(ar2_claims(rid=[REALM])), InvalidClaims, exact=False)
    ar1_site(settings)
    refused(mode.mint(ar1_claims(aud=[REALM])), InvalidClaims, exact=False)


# --- claims of the wrong type ---------------------------------------------------------------------

WRONG_TYPES: dict[str, Callable[[], dict[str, Any]]] = {
    "ar2-orgs-string": lambda: ar2_claims(orgs="org_1"),
    "ar2-orgs-object": lambda: ar2_claims(orgs={"oid": "org_1"}),
    "ar2-orgs-list-of-strings": lambda: ar2_claims(orgs=["org_1"]),
    "ar2-org-oid-number": lambda: ar2_claims(orgs=[{"oid": 5}]),
    "ar2-org-oid-missing": lambda: ar2_claims(orgs=[{"name": "x"}]),
    "ar2-perm-with-number": lambda: ar2_claims(orgs=[{"oid": "org_1", "perm": ["ar:admin", 1]}]),
    "ar2-perm-string": lambda: ar2_claims(orgs=[{"oid": "org_1", "perm": "ar:admin"}]),
    "ar2-selected-string": lambda: ar2_claims(orgs=[{"oid": "org_1", "selected": "true"}]),
    "ar2-org-cs-list": lambda: ar2_claims(orgs=[{"oid": "org_1", "cs": []}]),
    "ar2-sub-int": lambda: ar2_claims(sub=123),
    "ar2-sub-empty": lambda: ar2_claims(sub=""),
    "ar2-sid-int": lambda: ar2_claims(sid=123),
    "ar2-sid-missing": lambda: ar2_claims(sid=DROP),
    "ar2-email-int": lambda: ar2_claims(email=1),
    "ar2-email-verified-string": lambda: ar2_claims(email_verified="yes"),
    "ar2-name-list": lambda: ar2_claims(name=["Ada"]),
    "ar2-cs-list": lambda: ar2_claims(cs=["x"]),
    "ar2-rid-int": lambda: ar2_claims(rid=7),
    "ar1-uid-int": lambda: ar1_claims(uid=5),
    "ar1-tk-missing": lambda: ar1_claims(tk=DROP),
    "ar1-m-string": lambda: ar1_claims(m="org_1"),
    "ar1-p-with-number": lambda: ar1_claims(m=[{"oid": "org_1", "p": [1]}]),
    "ar1-ocs-string": lambda: ar1_claims(m=[{"oid": "org_1", "ocs": "x"}]),
    "ar1-aud-int": lambda: ar1_claims(aud=5),
    "no-subject-at-all": lambda: {"iat": now(), "exp": now() + 60},
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_claims_of_wrong_type_are_refused(mode: Mode, case: str, settings: Any) -> None:
    if case.startswith("ar1-"):
        ar1_site(settings)
    refused(mode.mint(WRONG_TYPES[case]()), InvalidClaims)


# --- duplicates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "duplicate",
    [
        '"sub": "usr_attacker"',
        '"exp": 9999999999',
        '"iss": "https://evil.example"',
        '"s\\u0075b": "usr_escaped"',
        '"orgs": [{"oid": "org_1", "oid": "org_2"}]',
    ],
    ids=["sub", "exp", "iss", "escaped-sub", "nested-oid"],
)
def test_duplicate_claims_are_refused_even_when_signed(mode: Mode, duplicate: str) -> None:
    refused(mode.sign(mode.header(), with_raw(ar2_claims(), duplicate)), MalformedToken)


@pytest.mark.parametrize(
    "header",
    [
        '{"alg":"none","alg":"{alg}"}',
        '{"alg":"{alg}","alg":"none"}',
        '{"alg":"{alg}","alg":"{alg}"}',
        '{"alg":"{alg}","a\\u006cg":"none"}',
        '{"alg":"{alg}","kid":"a","kid":"b"}',
    ],
    ids=["none-then-alg", "alg-then-none", "same-twice", "escaped-alg", "kid-twice"],
)
def test_duplicate_header_names_are_refused_even_when_signed(mode: Mode, header: str) -> None:
    refused(mode.sign(header.replace("{alg}", mode.alg), ar2_claims()), MalformedToken)


# --- size -----------------------------------------------------------------------------------


def test_oversize_token_is_refused_before_parsing(mode: Mode) -> None:
    over = MAX_TOKEN_LENGTH + 1
    token = mode.mint(ar2_claims(cs={"blob": "x" * over}))
    assert len(token) > MAX_TOKEN_LENGTH
    refused(token, TokenTooLarge)
    # Refused on size before anything else is looked at: these would otherwise be malformed.
    for junk in ("A" * over, "é" * over, "." * over, token + "\u00e9"):
        refused(junk, TokenTooLarge)
    refused(("A" * (MAX_TOKEN_LENGTH + 1)).encode(), MalformedToken)  # bytes are not a token


def _token_of_length(mode: Mode, length: int) -> str:
    """A valid token of exactly ``length`` characters: padding in a custom attribute gets close
    (the claims grow 4 characters per 3 bytes), the kid's length hits the exact residue."""

    def mint(pad: int, kid_len: int) -> str:
        return mode.mint(ar2_claims(cs={"p": "x" * pad}), kid="k" * kid_len)

    base = len(mint(0, 0))
    for kid_len in range(4):
        start = max(0, (length - base) * 3 // 4 - 8)
        for pad in range(start, start + 24):
            token = mint(pad, kid_len)
            if len(token) == length:
                return token
            if len(token) > length:
                break
    raise AssertionError(f"could not build a token of exactly {length} characters")


def test_token_at_the_size_cap_is_accepted(mode: Mode) -> None:
    accepted(_token_of_length(mode, MAX_TOKEN_LENGTH))
    refused(_token_of_length(mode, MAX_TOKEN_LENGTH + 1), TokenTooLarge)


# --- malformed encodings --------------------------------------------------------------------


def _segment_not_multiple_of_4(claims: dict[str, Any]) -> str:
    """A payload segment whose length is 2 or 3 mod 4 (so it has spare bits and would pad)."""
    text = json.dumps(claims)
    while len(segment(text)) % 4 == 0:
        text += " "
    return segment(text)


def _flip_spare_bits(seg: str) -> str:
    """Same decoded bytes, non-canonical encoding: set a spare bit in the last character."""
    assert len(seg) % 4 in (2, 3)
    index = B64URL_ALPHABET.index(seg[-1])
    return seg[:-1] + B64URL_ALPHABET[index | 1]


def _segment_with(char: str, without: str) -> str:
    """An AR2 payload segment containing ``char`` but not ``without`` (to swap alphabets)."""
    for pad in range(4):
        for filler in ("???", ">>>", "?>", ">?", "~~~", "\u00ff\u00fe"):
            seg = segment(json.dumps({**ar2_claims(), "x" * pad: filler}))
            if char in seg and without not in seg:
                return seg
    raise AssertionError(f"no payload segment with {char!r} and without {without!r}")


def _malformed_encodings(mode: Mode) -> dict[str, str]:
    header = segment(mode.header())
    header_padded = segment(json.dumps(mode.header()) + " ")
    while len(header_padded) % 4 == 0:
        header_padded = segment(b64url_decode(header_padded) + b" ")
    payload = _segment_not_multiple_of_4(ar2_claims())
    genuine = mode.sign_segments(header, payload)
    sig = genuine.rsplit(".", 1)[1]
    with_dash = _segment_with("-", without="_")
    with_underscore = _segment_with("_", without="-")
    return {
        "payload-padding": mode.sign_segments(header, payload + "=" * (-len(payload) % 4)),
        "header-padding": mode.sign_segments(
            header_padded + "=" * (-len(header_padded) % 4), payload
        ),
        "signature-padding": f"{header}.{payload}.{sig}{'=' * (-len(sig) % 4)}",
        "payload-plus": mode.sign_segments(header, with_dash.replace("-", "+")),
        "payload-slash": mode.sign_segments(header, with_underscore.replace("_", "/")),
        "payload-space": mode.sign_segments(header, payload[:10] + " " + payload[10:]),
        "payload-newline": mode.sign_segments(header, payload[:10] + "\n" + payload[10:]),
        "payload-tab": mode.sign_segments(header, payload[:10] + "\t" + payload[10:]),
        "signature-space": f"{header}.{payload}.{sig[:8]} {sig[8:]}",
        "trailing-newline": genuine + "\n",
        "leading-space": " " + genuine,
        "trailing-crlf": genuine + "\r\n",
        "payload-non-canonical": mode.sign_segments(header, _flip_spare_bits(payload)),
        "header-non-canonical": mode.sign_segments(_flip_spare_bits(header_padded), payload),
        "signature-non-canonical": f"{header}.{payload}.{_flip_spare_bits(sig)}",
        "payload-length-1-mod-4": mode.sign_segments(
            header, payload + "A" * ((1 - len(payload)) % 4 or 4)
        ),
        "percent-encoded-dash": mode.sign_segments(header, with_dash.replace("-", "%2D")),
    }


MALFORMED_ENCODINGS = [
    "payload-padding",
    "header-padding",
    "signature-padding",
    "payload-plus",
    "payload-slash",
    "payload-space",
    "payload-newline",
    "payload-tab",
    "signature-space",
    "trailing-newline",
    "leading-space",
    "trailing-crlf",
    "payload-non-canonical",
    "header-non-canonical",
    "signature-non-canonical",
    "payload-length-1-mod-4",
    "percent-encoded-dash",
]


@pytest.mark.parametrize("variant", MALFORMED_ENCODINGS)
def test_malformed_base64_is_refused(mode: Mode, variant: str) -> None:
    token = _malformed_encodings(mode)[variant]
    refused(token, MalformedToken)


def test_malformed_base64_fixtures_are_what_they_claim(mode: Mode) -> None:
    """The variants decode to the same bytes under a lenient decoder, so only strictness stops them."""
    variants = _malformed_encodings(mode)
    assert set(variants) == set(MALFORMED_ENCODINGS)
    genuine_payload = variants["payload-padding"].split(".")[1].rstrip("=")
    lenient = base64.urlsafe_b64decode(genuine_payload + "==")
    non_canonical = variants["payload-non-canonical"].split(".")[1]
    assert non_canonical != genuine_payload
    assert base64.urlsafe_b64decode(non_canonical + "==") == lenient
    for variant, std, url in (("payload-plus", "+", "-"), ("payload-slash", "/", "_")):
        seg = variants[variant].split(".")[1]
        assert std in seg
        assert base64.b64decode(seg + "==", validate=False) == base64.urlsafe_b64decode(
            seg.replace(std, url) + "=="
        )


@pytest.mark.parametrize(
    "payload",
    [
        '{"sub":',
        '{"sub": "usr_1",}',
        "{'sub': 'usr_1'}",
        "",
        '{"sub": "usr_1"} trailing',
        '{"sub": "usr_1"}{"sub": "usr_2"}',
        b"\xff\xfe{}",
        b'{"sub": "\xc3"}',
        "\ufeff{}",
    ],
    ids=[
        "truncated",
        "trailing-comma",
        "single-quotes",
        "empty",
        "trailing-garbage",
        "two-objects",
        "not-utf8",
        "broken-utf8-in-string",
        "bom",
    ],
)
def test_malformed_json_is_refused_even_when_signed(mode: Mode, payload: Any) -> None:
    refused(mode.sign(mode.header(), payload), MalformedToken)


@pytest.mark.parametrize(
    "value",
    ["[]", '["sub"]', '"usr_1"', "42", "null", "true", "[{}]"],
    ids=["empty-array", "array", "string", "number", "null", "true", "array-of-object"],
)
@pytest.mark.parametrize("where", ["header", "payload"])
def test_header_or_payload_that_is_not_an_object_is_refused(
    mode: Mode, where: str, value: str
) -> None:
    header, payload = (value, ar2_claims()) if where == "header" else (mode.header(), value)
    token = mode.sign(header, payload)
    refused(token, MalformedToken)


@pytest.mark.parametrize(
    "raw",
    ['"exp": NaN', '"exp": Infinity', '"exp": -Infinity', '"cs": {"x": [NaN]}'],
    ids=["nan-exp", "infinity-exp", "minus-infinity-exp", "nested-nan"],
)
def test_nan_and_infinity_in_claims_are_refused(mode: Mode, raw: str) -> None:
    claims = ar2_claims(exp=DROP) if raw.startswith('"exp"') else ar2_claims()
    payload = with_raw(claims, raw)
    refused(mode.sign(mode.header(), payload), MalformedToken)


@pytest.mark.parametrize(
    "header",
    [{"typ": "JWT"}, {"alg": None}, {"alg": ["HS256"]}, {"alg": 256}, {"alg": "{alg}", "kid": 1}],
    ids=["no-alg", "null-alg", "list-alg", "number-alg", "number-kid"],
)
def test_header_without_a_string_alg_or_kid_is_refused(mode: Mode, header: dict[str, Any]) -> None:
    header = {k: (mode.alg if v == "{alg}" else v) for k, v in header.items()}
    refused(mode.sign(header, ar2_claims()), MalformedToken)


def test_non_ascii_token_is_refused(mode: Mode) -> None:
    token = mode.mint(ar2_claims())
    h, p, s = token.split(".")
    for bad in (
        f"{h}.{p}.{s}\u00e9",
        f"{h}\uff0e{p}.{s}",  # full-width full stop
        f"{h}.{p[:5]}\u0410{p[6:]}.{s}",  # Cyrillic A for Latin A
        f"{h}.{p}.{s}\u200b",  # zero-width space
    ):
        refused(bad, MalformedToken)
    refused(token.encode() + b"\xe9", MalformedToken)
    refused("é".encode() + token.encode(), MalformedToken)


def test_token_given_as_bytes_is_refused(mode: Mode) -> None:
    refused(mode.mint(ar2_claims()).encode("ascii"), MalformedToken)


@pytest.mark.parametrize(
    "token",
    [None, 0, 123, 1.5, True, [], ["a", "b", "c"], {"token": "x"}, bytearray(b"a.b.c"), object()],
    ids=[
        "none",
        "zero",
        "int",
        "float",
        "bool",
        "empty-list",
        "list",
        "dict",
        "bytearray",
        "object",
    ],
)
def test_non_string_token_is_refused(hs_mode: Mode, token: Any) -> None:
    refused(token, MalformedToken)


def test_wrong_number_of_segments_is_refused(mode: Mode) -> None:
    token = mode.mint(ar2_claims())
    h, p, s = token.split(".")
    for bad in (
        "",
        ".",
        "..",
        "...",
        h,
        f"{h}.{p}",
        f"{h}.{p}.{s}.",
        f"{token}.{s}",
        f"{h}.{h}.{p}.{s}",
        f"{h}.{p}.{s}.{h}.{p}",  # JWE-shaped
        f"{token}.{token}",
    ):
        refused(bad, MalformedToken, exact=False)


def test_empty_payload_or_signature_segment_is_refused(mode: Mode) -> None:
    token = mode.mint(ar2_claims())
    h, p, s = token.split(".")
    refused(f"{h}..{s}", InvalidSignature)  # the signature is checked before the claims
    refused(mode.sign_segments(h, ""), MalformedToken)  # signed, but no claims
    refused(f"{h}.{p}.", InvalidSignature)
    refused(f".{p}.{s}", MalformedToken)


# --- nesting ----------------------------------------------------------------------------------


def _largest_nested_token(mode: Mode, open_: str, close: str) -> str:
    """A genuinely signed AR2 token whose 'cs' claim nests as deep as the size cap allows."""
    head = json.dumps(ar2_claims())[:-1] + ', "cs": {"n": '
    depth = 6000
    while True:
        payload = head + open_ * depth + "0" + close * depth + "}}"
        token = mode.sign(mode.header(), payload)
        if len(token) <= MAX_TOKEN_LENGTH:
            return token
        depth = int(depth * 0.97)


@pytest.mark.parametrize("shape", ["arrays", "objects", "unclosed-5000-arrays"])
def test_deeply_nested_claims_are_refused_without_recursion_error(mode: Mode, shape: str) -> None:
    if shape == "arrays":
        token = _largest_nested_token(mode, "[", "]")
    elif shape == "objects":
        token = _largest_nested_token(mode, '{"":', "}")
    else:
        token = mode.sign(mode.header(), '{"sub": "usr_1", "cs": ' + "[" * 5000)
    assert len(token) <= MAX_TOKEN_LENGTH
    refused(token, MalformedToken)


@pytest.fixture
def high_recursion_limit() -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_nesting_depth_is_bounded_independently_of_the_recursion_limit(
    hs_mode: Mode, high_recursion_limit: None
) -> None:
    depth = 1000
    payload = with_raw(ar2_claims(), '"cs": ' + '{"":' * depth + "0" + "}" * depth)
    token = hs_mode.sign(hs_mode.header(), payload)
    assert len(token) <= MAX_TOKEN_LENGTH
    refused(token, MalformedToken)


# --- log safety -----------------------------------------------------------------------------


def test_refusal_messages_never_contain_token_material(mode: Mode) -> None:
    """A direct check of the helper's rule on a few refusals with attacker-chosen text."""
    long_alg = "A" * 64
    token = mode.sign({"alg": long_alg, "kid": "k" * 64}, ar2_claims())
    exc = refused(token, DisallowedAlgorithm)
    assert long_alg not in str(exc)
    signature_segment = mode.mint(ar2_claims()).rsplit(".", 1)[1]
    forged = mode.mint(ar2_claims(iss="https://evil.example/" + signature_segment))
    assert signature_segment not in str(refused(forged, InvalidIssuer))


# --- property: any mutation is refused ----------------------------------------------------------

_CHARS = st.sampled_from([*B64URL_ALPHABET, ".", "=", "+", "/", " ", "\n", "é", "\x00", "%"])


@st.composite
def _mutations(draw: st.DrawFn, token: str) -> str | bytes:
    result = token
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["flip", "truncate", "insert", "delete", "dot", "duplicate", "swap"])
        )
        n = len(result)
        if kind == "flip" and n:
            i = draw(st.integers(0, n - 1))
            result = result[:i] + draw(_CHARS) + result[i + 1 :]
        elif kind == "truncate":
            result = result[: draw(st.integers(0, n))]
        elif kind == "insert":
            i = draw(st.integers(0, n))
            result = result[:i] + draw(st.text(_CHARS, min_size=1, max_size=4)) + result[i:]
        elif kind == "delete" and n:
            i = draw(st.integers(0, n - 1))
            result = result[:i] + result[i + 1 :]
        elif kind == "dot":
            i = draw(st.integers(0, n))
            result = result[:i] + "." + result[i:]
        elif kind == "duplicate":
            parts = result.split(".")
            i = draw(st.integers(0, len(parts) - 1))
            parts.insert(i, parts[i])
            result = ".".join(parts)
        elif kind == "swap":
            parts = result.split(".")
            if len(parts) >= 2:
                i, j = draw(st.permutations(range(len(parts))))[:2]
                parts[i], parts[j] = parts[j], parts[i]
            result = ".".join(parts)
    if draw(st.booleans()) and result:
        raw = bytearray(result.encode("utf-8"))
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] ^= draw(st.integers(1, 255))  # always a change
        return bytes(raw)
    return result


@pytest.fixture(params=["hs256", "rs256-pem"])
def property_mode(request: pytest.FixtureRequest, settings: Any) -> Mode:
    return configure(settings, make_mode(request.param))


_PROPERTY_TOKENS: dict[str, tuple[str, dict[str, Any]]] = {}


def _property_token(mode: Mode) -> tuple[str, dict[str, Any]]:
    if mode.name not in _PROPERTY_TOKENS:
        claims = ar2_claims(exp=now() + 86400, orgs=[{"oid": "org_1", "perm": ["a:*"]}])
        _PROPERTY_TOKENS[mode.name] = (mode.mint(claims), claims)
    return _PROPERTY_TOKENS[mode.name]


@hypothesis_settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_mutation_of_a_valid_token_is_refused(property_mode: Mode, data: st.DataObject) -> None:
    token, claims = _property_token(property_mode)
    mutated = data.draw(_mutations(token))
    if mutated == token:
        assert dict(accepted(token).claims) == claims
        return
    try:
        session = verify_token(mutated)  # type: ignore[arg-type]
    except InvalidToken as exc:
        assert_log_safe(exc, mutated)
    else:
        raise AssertionError(f"a mutated token was accepted: {mutated!r} -> {session!r}")

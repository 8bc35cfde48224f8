"""Independent test vectors against the JWS layer, the key set parser and ``verify_token``.

Sources (copied unchanged under ``tests/vectors``, with their notices: see its README):

* C2SP Wycheproof ``json_web_signature_test.json`` and ``json_web_key_test.json``;
* the JOSE cookbook (RFC 7520 4.1 RS256, 4.4 HS256) and RFC 7515 Appendix A.1/A.2.

The JWS layer must give Wycheproof's verdict for every HS256/RS256 vector (with the documented
exceptions of ``KNOWN_ISSUES.json``), and ``verify_token`` must refuse every one of these tokens,
since none carries an AuthRocket claims set, always with an ``InvalidToken`` subclass.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_authrocket.exceptions import (
    DisallowedAlgorithm,
    ExpiredToken,
    InvalidClaims,
    InvalidSignature,
    InvalidToken,
    MalformedToken,
)
from django_authrocket.jws import parse, verify_signature
from django_authrocket.keys import SigningKey, parse_jwks, rsa_key_from_jwk
from django_authrocket.tokens import check_claims, verify_token
from tests.jwt_factory import HS256_SECRET, b64url_decode, rsa_key

VECTORS = Path(__file__).resolve().parent / "vectors"


@cache
def require(relative: str) -> Any:
    """A vector file of ``tests/vectors``, parsed (read once)."""
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


def _case_id(tc_id: int, comment: str) -> str:
    return f"tc{tc_id}-{re.sub(r'[^A-Za-z0-9]+', '_', comment).strip('_')}"


# --- Wycheproof json_web_signature_test.json ----------------------------------------------------

SIGNATURE_FILE = "wycheproof/json_web_signature_test.json"

#: Expected number of vectors the key-type rule below selects (README: HS256 groups 0, 12, 16, 21
#: = 17 + 1 + 1 + 21; RS256 groups 2, 3, 9, 13, 17, 19 = 226 + 5 + 1 + 1 + 1 + 1).
EXPECTED_HS256_VECTORS = 40
EXPECTED_RS256_VECTORS = 235

#: KNOWN_ISSUES.json "suspect_labels": the jws string is byte-identical to tcId 357 (ValidMac).
MISLABELLED_INVALID = {
    367: "labelled invalidBase64Padding but byte-identical to tcId 357 (valid)",
    370: "labelled invalidBase64PaddingInPayload but byte-identical to tcId 357 (valid)",
}
#: KNOWN_ISSUES.json: a '?' inside a segment, labelled valid; a strict base64url parser rejects.
EITHER_OUTCOME = {
    372: "'?' inside the header segment: either outcome is acceptable (we reject, the safer one)",
    373: "'?' inside the payload segment: either outcome is acceptable (we reject, the safer one)",
}
#: KNOWN_ISSUES.json "not_applicable_to_pem_or_secret_keys": the JWK says use=enc / key_ops
#: without verify. The JWS layer takes a raw key (the JWK's use/key_ops are not its business;
#: ``parse_jwks`` filters key sets, see below), so the signature, which is genuine, verifies.
RAW_KEY_IGNORES_JWK_USE = {
    353: "rejectWrongUse: JWK use=enc; a raw RSA key has no 'use', the signature is genuine",
    355: "rejectWrongKeyOps: JWK key_ops=[encrypt]; a raw RSA key has no key_ops",
}
#: Not selected at all (the key-type rule skips them): 346/350 (PS384 token, PS256 JWK) and
#: 354/356 (EC keys), every ES/PS/RS384/RS512 group, and tcId 332 (an RS256 token in the PS512
#: group, "WrongPrimitive" only relative to the JWK's alg). tcId 17 (JSON serialization, not a
#: string) is selected and must be rejected, as labelled.


@dataclass(frozen=True)
class SignatureCase:
    tc_id: int
    comment: str
    jws: Any
    result: str
    alg: str  # pinned from the group key type, never from the token
    jwk: dict[str, Any]

    @property
    def expected(self) -> str:
        if self.tc_id in MISLABELLED_INVALID or self.tc_id in RAW_KEY_IGNORES_JWK_USE:
            return "valid"
        if self.tc_id in EITHER_OUTCOME:
            return "either"
        return self.result


def signature_cases() -> list[SignatureCase]:
    document = require(SIGNATURE_FILE)
    cases = []
    for group in document["testGroups"]:
        jwk = group.get("public") or group["private"]
        if jwk["kty"] == "oct" and jwk.get("alg", "HS256") == "HS256":
            alg = "HS256"
        elif jwk["kty"] == "RSA" and jwk.get("alg", "RS256") == "RS256":
            alg = "RS256"
        else:
            continue  # ES*, PS*, RS384/RS512 groups: not an algorithm this app accepts
        cases.extend(
            SignatureCase(t["tcId"], t["comment"], t["jws"], t["result"], alg, jwk)
            for t in group["tests"]
        )
    return cases


SIGNATURE_CASES = signature_cases()


@cache
def _rsa_key(n: str, e: str) -> rsa.RSAPublicKey:
    return rsa_key_from_jwk({"kty": "RSA", "n": n, "e": e})


def raw_key(case: SignatureCase) -> rsa.RSAPublicKey | bytes:
    if case.alg == "HS256":
        return b64url_decode(case.jwk["k"])
    return _rsa_key(case.jwk["n"], case.jwk["e"])


def _signature_params() -> list[Any]:
    return [pytest.param(c, id=_case_id(c.tc_id, c.comment)) for c in SIGNATURE_CASES]


def test_wycheproof_selection_is_complete() -> None:
    """Guards the loader: a bug that selects nothing (or too much) must not pass silently."""
    by_alg = Counter(c.alg for c in SIGNATURE_CASES)
    assert by_alg == {"HS256": EXPECTED_HS256_VECTORS, "RS256": EXPECTED_RS256_VECTORS}
    assert len({c.tc_id for c in SIGNATURE_CASES}) == len(SIGNATURE_CASES)
    selected = {c.tc_id for c in SIGNATURE_CASES}
    special = MISLABELLED_INVALID | EITHER_OUTCOME | RAW_KEY_IGNORES_JWK_USE
    assert set(special) <= selected
    assert 17 in selected  # the JSON-serialized JWS
    assert not selected & {31, 332, 346, 350, 354, 356}
    expected = Counter(c.expected for c in SIGNATURE_CASES)
    # Labelled: 18 valid (16 + 372/373), 257 invalid; 367/370/353/355 move to valid.
    assert expected == {"valid": 20, "invalid": 253, "either": 2}


@pytest.mark.parametrize("case", _signature_params())
def test_jws_layer_gives_the_wycheproof_verdict(case: SignatureCase) -> None:
    key = raw_key(case)

    def run() -> None:
        verify_signature(parse(case.jws), case.alg, key)  # type: ignore[arg-type]

    if case.expected == "valid":
        run()
    elif case.expected == "invalid":
        with pytest.raises(InvalidToken):
            run()
    else:  # EITHER_OUTCOME: accepting is allowed; refusing must be an InvalidToken
        with contextlib.suppress(InvalidToken):
            run()


def test_mislabelled_vectors_are_byte_identical_to_the_valid_mac() -> None:
    """Backs the KNOWN_ISSUES.json claim we rely on for 367 and 370."""
    by_id = {c.tc_id: c for c in SIGNATURE_CASES}
    assert by_id[367].jws == by_id[357].jws == by_id[370].jws
    assert by_id[357].result == "valid"


def test_wycheproof_hs256_token_forged_with_ec_key_bytes_is_refused_by_an_rsa_pin() -> None:
    """tcId 31 (HS256 over the EC key bytes): with an RS256 pin the token is refused on alg."""
    document = require(SIGNATURE_FILE)
    (tc31,) = [t for g in document["testGroups"] for t in g["tests"] if t["tcId"] == 31]
    with pytest.raises(DisallowedAlgorithm):
        verify_signature(parse(tc31["jws"]), "RS256", rsa_key().public_key)


# --- Wycheproof json_web_key_test.json -> parse_jwks ---------------------------------------------

KEY_FILE = "wycheproof/json_web_key_test.json"

#: Usable-by-us outcome per tcId when the keyset goes through parse_jwks and the token through
#: the JWS layer with the key its kid selects. Only RS256 keys survive parse_jwks (LoginRocket
#: publishes RS256 keys only), so Wycheproof's valid HS256/384/512 cases (2, 13, 14, 15) find no
#: key: refusing them is correct for this app.
JWK_EXPECTED = {5: "valid"}
JWK_EITHER = {
    7: "ROCA-weak RSA key: no ROCA fingerprint check (PyJWT has none either); either outcome",
}


def jwk_cases() -> list[tuple[int, str, str, Any, dict[str, Any]]]:
    document = require(KEY_FILE)
    return [
        (t["tcId"], t["comment"], t["result"], t["jws"], group)
        for group in document["testGroups"]
        for t in group["tests"]
    ]


JWK_CASES = jwk_cases()


def _jwk_params() -> list[Any]:
    return [pytest.param(c, id=_case_id(c[0], c[1])) for c in JWK_CASES]


def _check_parsed_keyset(keys: dict[str, SigningKey]) -> None:
    for kid, signing_key in keys.items():
        assert isinstance(signing_key, SigningKey)
        assert signing_key.algorithm == "RS256"
        assert isinstance(signing_key.key, rsa.RSAPublicKey)
        assert signing_key.key.key_size >= 2048
        assert signing_key.kid == kid


def test_wycheproof_jwk_selection_is_complete() -> None:
    assert len(JWK_CASES) == 26
    assert Counter(c[2] for c in JWK_CASES) == {"valid": 5, "invalid": 21}


@pytest.mark.parametrize("case", _jwk_params())
def test_parse_jwks_keeps_only_usable_rsa_keys(case: Any) -> None:
    tc_id, _comment, _result, token, group = case
    keysets = [group[name] for name in ("public", "private") if name in group]
    for keyset in keysets:
        try:
            keys = parse_jwks(keyset)
        except ValueError:
            keys = {}
        _check_parsed_keyset(keys)

    keys = parse_jwks(keysets[0])
    try:
        jws = parse(token)
        signing_key = keys.get(jws.kid or "")
        if signing_key is None:
            outcome = "invalid"  # no usable key for this kid
        else:
            verify_signature(jws, signing_key.algorithm, signing_key.key)
            outcome = "valid"
    except InvalidToken:
        outcome = "invalid"
    if tc_id in JWK_EITHER:
        return
    assert outcome == JWK_EXPECTED.get(tc_id, "invalid")


def test_parse_jwks_skips_weak_and_non_signing_keys() -> None:
    document = require(KEY_FILE)
    by_comment = {g["comment"]: g for g in document["testGroups"]}
    assert parse_jwks(by_comment["keysize_too_small"]["public"]) == {}  # 1024 bits
    assert parse_jwks(by_comment["exponentOne"]["public"]) == {}  # e = 1
    assert parse_jwks(by_comment["jws_mixedSymmetryKeyset"]["private"]) == {}  # oct + EC
    assert parse_jwks(by_comment["wrong_kty"]["public"]) == {}  # kty RSA holding EC x/y
    rs256 = [g for g in document["testGroups"] if g["comment"] == "rs256"]
    usable = [parse_jwks(g["public"]) for g in rs256]
    assert [list(keys) for keys in usable] == [["kid-rsa-sign"], []]  # the second has use=enc


def test_parse_jwks_skips_keys_whose_key_ops_exclude_verify() -> None:
    document = require(SIGNATURE_FILE)
    (group,) = [g for g in document["testGroups"] if g["tests"][0]["tcId"] == 355]
    assert parse_jwks({"keys": [group["public"]]}) == {}


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        "keys",
        {},
        {"keys": None},
        {"keys": {"kid": "a"}},
        {"keys": [1, "x", None, [], {}]},
        {"keys": [{"kty": "RSA", "kid": "a", "n": 1, "e": 2}]},
        {"keys": [{"kty": "RSA", "kid": "a", "n": "", "e": ""}]},
        {"keys": [{"kty": "RSA", "kid": "a", "n": "é", "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": "a", "x5c": []}]},
        {"keys": [{"kty": "RSA", "kid": "a", "x5c": [123]}]},
        {"keys": [{"kty": "RSA", "kid": "a", "x5c": ["!!!"]}]},
        {"keys": [{"kty": "RSA", "kid": "a", "x5c": ["AAAA"]}]},
        {"keys": [{"kty": "EC", "kid": "a", "crv": "P-256", "x": "AA", "y": "AA"}]},
        {"keys": [{"kty": "RSA", "kid": 7, "n": "AQAB", "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": "a", "alg": ["RS256"], "n": "AQAB", "e": "AQAB"}]},
    ],
)
def test_parse_jwks_refuses_junk_with_value_error_only(document: Any) -> None:
    try:
        keys = parse_jwks(document)
    except ValueError:
        return
    _check_parsed_keyset(keys)
    assert keys == {}


def test_parse_jwks_reads_loginrocket_x5c_and_n_e_entries() -> None:
    pair = rsa_key("jwks")
    document = {
        "keys": [
            {"kid": "x5c", "kty": "RSA", "alg": "RS256", "use": "sig", "x5c": [pair.body]},
            {"kid": "ne", **pair.jwk},
            {"kid": "hs", "kty": "oct", "k": "c2VjcmV0"},
        ]
    }
    keys = parse_jwks(document)
    _check_parsed_keyset(keys)
    assert set(keys) == {"x5c", "ne"}
    expected = pair.public_key.public_numbers()
    assert all(k.key.public_numbers() == expected for k in keys.values())  # type: ignore[union-attr]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
_jwk_like = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.sampled_from(["RSA", "oct", "EC"]) | _json,
        "kid": st.text(max_size=4) | _json,
        "alg": st.sampled_from(["RS256", "HS256"]) | _json,
        "use": st.sampled_from(["sig", "enc"]) | _json,
        "n": st.text(max_size=12) | _json,
        "e": st.sampled_from(["AQAB", "Aw", ""]) | _json,
        "x5c": st.lists(st.text(max_size=12) | _json, max_size=2) | _json,
    },
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.fixed_dictionaries({"keys": st.lists(_jwk_like, max_size=4)}) | _json)
def test_parse_jwks_raises_nothing_but_value_error(document: Any) -> None:
    try:
        keys = parse_jwks(document)
    except ValueError:
        return
    _check_parsed_keyset(keys)


# --- JOSE cookbook (RFC 7520) and RFC 7515 Appendix A ---------------------------------------------

COOKBOOK_RS256 = "jose-cookbook/jws/4_1.rsa_v15_signature.json"
COOKBOOK_HS256 = "jose-cookbook/jws/4_4.hmac-sha2_integrity_protection.json"
RFC7515 = "jose-cookbook/rfc7515_appendix_a.json"


def _spki_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _appendix(case_id: str) -> dict[str, Any]:
    document = require(RFC7515)
    (case,) = [c for c in document["cases"] if c["id"] == case_id]
    return case


def test_jws_layer_accepts_rfc7520_rs256_example() -> None:
    example = require(COOKBOOK_RS256)
    key = rsa_key_from_jwk(example["input"]["key"])
    verify_signature(parse(example["output"]["compact"]), "RS256", key)


def test_jws_layer_accepts_rfc7520_hs256_example() -> None:
    example = require(COOKBOOK_HS256)
    key = b64url_decode(example["input"]["key"]["k"])
    verify_signature(parse(example["output"]["compact"]), "HS256", key)


def test_jws_layer_accepts_rfc7515_appendix_a1_hs256() -> None:
    case = _appendix("rfc7515-A.1")
    verify_signature(parse(case["jws"]), "HS256", b64url_decode(case["jwk"]["k"]))


def test_jws_layer_accepts_rfc7515_appendix_a2_rs256() -> None:
    case = _appendix("rfc7515-A.2")
    jws = parse(case["jws"])
    verify_signature(jws, "RS256", rsa_key_from_jwk(case["jwk"]))
    assert jws.claims()["exp"] == 1300819380  # CRLF-laden JSON still parses


def test_jws_layer_refuses_cookbook_examples_under_the_other_algorithm() -> None:
    rs = require(COOKBOOK_RS256)
    hs = require(COOKBOOK_HS256)
    with pytest.raises(DisallowedAlgorithm):
        verify_signature(parse(rs["output"]["compact"]), "HS256", b"k" * 32)
    with pytest.raises(DisallowedAlgorithm):
        verify_signature(parse(hs["output"]["compact"]), "RS256", rsa_key().public_key)


def test_verify_token_refuses_rfc7520_rs256_example_as_not_claims(settings) -> None:
    example = require(COOKBOOK_RS256)
    settings.AUTHROCKET_JWT_KEY = _spki_pem(rsa_key_from_jwk(example["input"]["key"]))
    # The signature verifies with this key; the payload is prose, not a JSON object.
    with pytest.raises(MalformedToken):
        verify_token(example["output"]["compact"])


def test_verify_token_refuses_rfc7515_appendix_a2_as_expired(settings) -> None:
    case = _appendix("rfc7515-A.2")
    settings.AUTHROCKET_JWT_KEY = case["public_key_pem"]
    # The signature verifies. The claims expired in 2011, and carry no 'iat', which verify_token
    # also requires (and checks first), so either refusal is right; nothing else is.
    with pytest.raises((ExpiredToken, InvalidClaims)):
        verify_token(case["jws"])
    # With an 'iat' the same claims fail on expiry.
    claims = parse(case["jws"]).claims()
    with pytest.raises(ExpiredToken):
        check_claims({**claims, "iat": claims["exp"] - 60}, leeway=5)


@pytest.mark.parametrize("source", [COOKBOOK_HS256, RFC7515])
def test_verify_token_refuses_hs256_examples_under_any_configured_key(settings, source) -> None:
    # The RFC HMAC keys are random bytes that are not valid UTF-8 (0x84..., 0x03 0x23 ... 0xa5),
    # and AUTHROCKET_JWT_KEY is text, so no site can configure them: the only check possible at
    # the verify_token level is that the tokens are refused under whatever key is configured.
    document = require(source)
    if source == RFC7515:
        token = _appendix("rfc7515-A.1")["jws"]
        raw = b64url_decode(_appendix("rfc7515-A.1")["jwk"]["k"])
    else:
        token = document["output"]["compact"]
        raw = b64url_decode(document["input"]["key"]["k"])
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    settings.AUTHROCKET_JWT_KEY = HS256_SECRET
    with pytest.raises(InvalidSignature):
        verify_token(token)
    settings.AUTHROCKET_JWT_KEY = rsa_key().spki_pem
    with pytest.raises(DisallowedAlgorithm):
        verify_token(token)


@pytest.mark.parametrize("serialization_name", ["json", "json_flat"])
def test_verify_token_refuses_json_serialized_cookbook_examples(settings, serialization_name):
    settings.AUTHROCKET_JWT_KEY = HS256_SECRET
    for source in (COOKBOOK_RS256, COOKBOOK_HS256):
        output = require(source)["output"]
        for token in (output[serialization_name], json.dumps(output[serialization_name])):
            with pytest.raises(MalformedToken):
                verify_token(token)


# --- verify_token against every Wycheproof token ------------------------------------------------


def _all_wycheproof_tokens() -> list[tuple[str, Any]]:
    tokens = []
    for name in (SIGNATURE_FILE, KEY_FILE):
        document = require(name)
        tokens.extend(
            (f"{name.split('/')[-1]}#{t['tcId']}", t["jws"])
            for g in document["testGroups"]
            for t in g["tests"]
        )
    return tokens


def _configured_keys() -> dict[str, str]:
    document = require(SIGNATURE_FILE)
    groups = {g["tests"][0]["tcId"]: g for g in document["testGroups"]}
    wycheproof_rsa = rsa_key_from_jwk(groups[33]["public"])  # signs tcId 33-258
    all_zero_hs256 = b64url_decode(groups[357]["private"]["k"])  # signs tcId 357-377
    return {
        "realm-hs256-secret": HS256_SECRET,
        "static-rsa-key": rsa_key().spki_pem,
        # Keys under which Wycheproof's valid signatures verify, so the refusal must come from
        # the claims step (payloads like "foo" are not JSON objects):
        "wycheproof-rsa-key": _spki_pem(wycheproof_rsa),
        "wycheproof-all-zero-hs256-key": all_zero_hs256.decode("ascii"),
    }


@pytest.mark.parametrize(
    "configured",
    ["realm-hs256-secret", "static-rsa-key", "wycheproof-rsa-key", "wycheproof-all-zero-hs256-key"],
)
def test_verify_token_refuses_every_wycheproof_token(settings, configured: str) -> None:
    tokens = _all_wycheproof_tokens()
    assert len(tokens) == 401 + 26
    settings.AUTHROCKET_JWT_KEY = _configured_keys()[configured]
    failures = []
    for name, token in tokens:
        try:
            session = verify_token(token)
        except InvalidToken:
            continue
        except Exception as exc:  # the point is to catch anything else
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{name}: accepted as {session!r}")
    assert failures == []

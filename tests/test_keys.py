"""LoginRocket's key set: shared through the cache, throttled refetch, rotation, outages."""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from django_authrocket.exceptions import KeysUnavailable, UnknownKey
from django_authrocket.keys import KeyStore, parse_jwks
from django_authrocket.tokens import verify_token

JWKS = "/connect/jwks"


@pytest.fixture
def emulator(authrocket_emulator, settings):
    """The emulator in key set mode, with a cold key store."""
    settings.AUTHROCKET_JWT_KEY = None
    settings.AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL = 1
    KeyStore.for_settings().clear()
    authrocket_emulator.clear_requests()
    return authrocket_emulator


@pytest.fixture
def user(emulator):
    return emulator.create_user("ada@example.com", first_name="Ada", last_name="Lovelace")


def jwks_fetches(emulator) -> int:
    return emulator.count_requests(JWKS, method="GET")


def test_a_token_verifies_with_the_published_key(emulator, user) -> None:
    session = verify_token(emulator.mint_token(user["id"]))
    assert session.user.email == "ada@example.com"
    assert jwks_fetches(emulator) == 1


def test_known_kids_need_no_further_fetch(emulator, user) -> None:
    for _ in range(50):
        verify_token(emulator.mint_token(user["id"]))
    assert jwks_fetches(emulator) == 1


def test_a_token_without_kid_is_refused_in_key_set_mode(emulator, user) -> None:
    token = emulator.mint_token(user["id"], headers={"kid": None})
    with pytest.raises(UnknownKey):
        verify_token(token)
    assert jwks_fetches(emulator) == 0


def test_a_thousand_random_kids_cause_only_a_handful_of_fetches(emulator, user) -> None:
    verify_token(emulator.mint_token(user["id"]))
    forged = [
        emulator.mint_token(user["id"], kid=f"forged-{secrets.token_hex(8)}") for _ in range(1000)
    ]
    refused = 0
    started = time.monotonic()
    for token in forged:
        with pytest.raises(UnknownKey):
            verify_token(token)
        refused += 1
    elapsed = time.monotonic() - started
    assert refused == 1000
    # One fetch to warm up, then at most one per (one-second) refetch interval of the flood,
    # however long the machine took to verify the thousand tokens.
    assert jwks_fetches(emulator) <= 2 + int(elapsed)


def test_a_key_rotation_is_picked_up_and_the_old_kid_stays_valid(emulator, user) -> None:
    old_token = emulator.mint_token(user["id"])
    verify_token(old_token)
    old_kid = emulator.current_kid
    new_kid = emulator.rotate_keys(keep_previous=True)
    assert new_kid != old_kid
    time.sleep(1.05)  # past the refetch interval of the warm-up fetch
    new_token = emulator.mint_token(user["id"])
    assert verify_token(new_token).user.id == user["id"]
    assert verify_token(old_token).user.id == user["id"]
    assert jwks_fetches(emulator) == 2


def test_a_retired_key_is_refused_after_the_key_set_is_refetched(emulator, user, settings) -> None:
    old_token = emulator.mint_token(user["id"])
    verify_token(old_token)
    emulator.rotate_keys(keep_previous=False)
    settings.AUTHROCKET_JWKS_MAX_AGE = 0  # every lookup finds the set stale
    time.sleep(1.05)
    with pytest.raises(UnknownKey):
        verify_token(old_token)


def test_last_good_keys_survive_a_loginrocket_outage(emulator, user, settings, caplog) -> None:
    token = emulator.mint_token(user["id"])
    verify_token(token)
    emulator.inject_fault(JWKS, status=503, times=None)
    settings.AUTHROCKET_JWKS_MAX_AGE = 0
    time.sleep(1.05)
    with caplog.at_level(logging.WARNING, logger="django_authrocket.keys"):
        assert verify_token(token).user.id == user["id"]
    assert "keeping the last good keys" in caplog.text
    assert jwks_fetches(emulator) == 1 + 3  # the refetch tried 1 + AUTHROCKET_HTTP_RETRIES times


def test_no_keys_and_loginrocket_down_is_keys_unavailable(emulator, user) -> None:
    emulator.inject_fault(JWKS, kind="drop", times=None)
    with pytest.raises(KeysUnavailable):
        verify_token(emulator.mint_token(user["id"]))


@pytest.mark.parametrize("kind", ["malformed_json", "html", "truncated_json", "oversize"])
def test_a_broken_key_set_answer_is_not_trusted(emulator, user, kind) -> None:
    emulator.inject_fault(JWKS, kind=kind, times=None)
    with pytest.raises(KeysUnavailable):
        verify_token(emulator.mint_token(user["id"]))


def test_concurrent_misses_coalesce_into_one_fetch(emulator, user) -> None:
    emulator.inject_fault(JWKS, kind="latency", delay=0.3, times=1)
    token = emulator.mint_token(user["id"])
    results: list[object] = []

    def verify() -> None:
        try:
            results.append(verify_token(token).user.id)
        except Exception as exc:  # recorded, then asserted below
            results.append(exc)

    threads = [threading.Thread(target=verify) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [user["id"]] * 20
    assert jwks_fetches(emulator) == 1


def test_a_key_set_fetch_is_retried_after_a_server_error(emulator, user) -> None:
    emulator.inject_fault(JWKS, status=502, times=1)
    assert verify_token(emulator.mint_token(user["id"])).user.id == user["id"]
    assert jwks_fetches(emulator) == 2
    assert emulator.requests[-1].header("User-Agent").startswith("django-authrocket/")


def test_changing_settings_forgets_the_per_process_keys(emulator, user, settings) -> None:
    verify_token(emulator.mint_token(user["id"]))
    first = KeyStore.for_settings()
    settings.AUTHROCKET_JWKS_MAX_AGE = 7200
    assert KeyStore.for_settings() is not first


def test_workers_share_one_fetch_through_the_cache(emulator, user, settings) -> None:
    token = emulator.mint_token(user["id"])
    verify_token(token)
    # A second store on the same URL and cache stands in for another worker process.
    other_worker = KeyStore(settings.AUTHROCKET_LOGINROCKET_URL, "default")
    assert other_worker.get(emulator.current_kid).kid == emulator.current_kid
    assert jwks_fetches(emulator) == 1


# --- parsing published key sets ---------------------------------------------------------------


def _spki_b64(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_key_set_entries_are_read_from_x5c_or_n_and_e() -> None:
    a = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    b = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    numbers = b.public_numbers()
    keys = parse_jwks(
        {
            "keys": [
                {"kty": "RSA", "kid": "a", "alg": "RS256", "use": "sig", "x5c": [_spki_b64(a)]},
                {
                    "kty": "RSA",
                    "kid": "b",
                    "alg": "RS256",
                    "n": _b64url_uint(numbers.n),
                    "e": _b64url_uint(numbers.e),
                },
            ]
        }
    )
    assert keys["a"].key.public_numbers() == a.public_numbers()
    assert keys["b"].key.public_numbers() == numbers


def test_unusable_key_set_entries_are_skipped(caplog) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    keys = parse_jwks(
        {
            "keys": [
                {"kty": "RSA", "kid": "weak", "x5c": [_spki_b64(weak)]},
                {"kty": "EC", "kid": "ec", "x5c": [_spki_b64(ec_key)]},
                {"kty": "RSA", "kid": "ec-in-rsa", "x5c": [_spki_b64(ec_key)]},
                {"kty": "RSA", "kid": "enc", "use": "enc", "x5c": [_spki_b64(good)]},
                {"kty": "RSA", "kid": "hs", "alg": "HS256", "x5c": [_spki_b64(good)]},
                {"kty": "RSA", "kid": "junk", "x5c": ["%%%"]},
                {"kty": "RSA", "x5c": [_spki_b64(good)]},
                "not an object",
                {"kty": "RSA", "kid": "good", "x5c": [_spki_b64(good)]},
            ]
        }
    )
    assert list(keys) == ["good"]


def test_a_key_without_kty_is_read_when_its_type_is_evident() -> None:
    # The official libraries read only kid, alg and x5c (authrocket-ruby
    # lib/authrocket/session.rb load_jwk_set; authrocket-node lib/loginrocket.js loadJwkSet).
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]
    a, b, c = (key.public_key() for key in keys)
    numbers = c.public_numbers()
    parsed = parse_jwks(
        {
            "keys": [
                {"kid": "alg-and-x5c", "alg": "RS256", "x5c": [_spki_b64(a)]},
                {"kid": "x5c-only", "x5c": [_spki_b64(b)]},
                {"kid": "n-and-e", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)},
            ]
        }
    )
    assert parsed["alg-and-x5c"].key.public_numbers() == a.public_numbers()
    assert parsed["x5c-only"].key.public_numbers() == b.public_numbers()
    assert parsed["n-and-e"].key.public_numbers() == numbers


def test_a_key_without_kty_is_still_refused_when_not_for_signing_or_weak() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    keys = parse_jwks(
        {
            "keys": [
                {"kid": "weak", "alg": "RS256", "x5c": [_spki_b64(weak)]},
                {"kid": "enc", "alg": "RS256", "use": "enc", "x5c": [_spki_b64(good)]},
                {"kid": "ops", "alg": "RS256", "key_ops": ["encrypt"], "x5c": [_spki_b64(good)]},
                {"kid": "es", "alg": "ES256", "x5c": [_spki_b64(ec_key)]},
                {"kid": "ec-in-x5c", "x5c": [_spki_b64(ec_key)]},
                {"kid": "nothing", "alg": "RS256"},
                {"kid": "no-evidence", "use": "sig"},
                {"kid": "other-kty", "kty": "oct", "x5c": [_spki_b64(good)]},
                {"kid": "good", "alg": "RS256", "use": "sig", "x5c": [_spki_b64(good)]},
            ]
        }
    )
    assert list(keys) == ["good"]


def test_logins_verify_against_a_key_set_of_kid_alg_and_x5c_only(emulator, user) -> None:
    emulator.configure(jwks_shape="minimal")  # what the official libraries need, nothing more
    assert all(set(entry) == {"kid", "alg", "x5c"} for entry in emulator.jwks["keys"])
    assert verify_token(emulator.mint_token(user["id"])).user.id == user["id"]
    emulator.rotate_keys()
    assert verify_token(emulator.mint_token(user["id"])).user.id == user["id"]


@pytest.mark.parametrize("document", [None, [], {"keys": "x"}, {"nokeys": []}])
def test_a_document_that_is_not_a_key_set_is_a_value_error(document) -> None:
    with pytest.raises(ValueError, match="keys"):
        parse_jwks(document)


def test_a_rotation_right_after_a_fetch_is_accepted_at_once(emulator, user, settings) -> None:
    settings.AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL = 30
    verify_token(emulator.mint_token(user["id"]))  # the first fetch
    emulator.rotate_keys()
    assert verify_token(emulator.mint_token(user["id"])).user.id == user["id"]  # no waiting
    assert jwks_fetches(emulator) == 2


def test_after_a_fetch_that_did_not_help_unknown_kids_are_throttled(
    emulator, user, settings
) -> None:
    settings.AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL = 30
    verify_token(emulator.mint_token(user["id"]))
    for _ in range(3):
        with pytest.raises(UnknownKey):
            verify_token(emulator.mint_token(user["id"], kid=f"forged-{secrets.token_hex(4)}"))
    assert jwks_fetches(emulator) == 2  # the first forged kid fetched once, the others waited
    emulator.rotate_keys()
    with pytest.raises(UnknownKey):  # a real rotation now waits out the throttle
        verify_token(emulator.mint_token(user["id"]))


def test_a_forged_kid_flood_does_not_delay_a_genuine_rotation(emulator, user, settings) -> None:
    # Issue 12 (key rotation): the refetch interval counts from the start of the last fetch,
    # so a stream of forged kids fetching through a slow LoginRocket cannot push the fetch that
    # brings a rotated-in key past one interval. Before, each forged fetch re-armed the
    # throttle when it *ended*: the genuine key waited interval + fetch time.
    interval, fetch_time = 2, 1.0
    settings.AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL = interval
    settings.AUTHROCKET_HTTP_RETRIES = 0
    verify_token(emulator.mint_token(user["id"]))  # warm up
    emulator.inject_fault(JWKS, kind="latency", delay=fetch_time, times=None)
    with pytest.raises(UnknownKey):  # a forged kid fetches (slowly) and arms the throttle
        verify_token(emulator.mint_token(user["id"], kid=f"forged-{secrets.token_hex(8)}"))
    emulator.rotate_keys()
    rotated_at = time.monotonic()
    genuine = emulator.mint_token(user["id"])
    stop = threading.Event()
    forged_refused: list[bool] = []

    def flood() -> None:
        while not stop.is_set():
            token = emulator.mint_token(user["id"], kid=f"forged-{secrets.token_hex(8)}")
            try:
                verify_token(token)
            except UnknownKey:
                forged_refused.append(True)
            time.sleep(0.01)

    flooders = [threading.Thread(target=flood) for _ in range(3)]
    for thread in flooders:
        thread.start()
    accepted_after = None
    try:
        while time.monotonic() - rotated_at < interval + 2 * fetch_time + 1:
            try:
                assert verify_token(genuine).user.id == user["id"]
            except UnknownKey:
                time.sleep(0.05)
                continue
            accepted_after = time.monotonic() - rotated_at
            break
    finally:
        stop.set()
        for thread in flooders:
            thread.join()
    assert forged_refused  # the flood was on the whole time
    assert accepted_after is not None
    # The next fetch starts one interval after the forged one started (~1 s after the
    # rotation) and takes fetch_time: about one interval. Before the change: interval + 1 s.
    assert accepted_after < interval + fetch_time / 2
    assert jwks_fetches(emulator) <= 4  # warm-up, the forged fetch, one per interval after

"""verify_token against a bare ``jwt.decode`` with the same key and options, in one run.

Prints the median time per call of each and their ratio, for RS256 (LoginRocket key set, warm)
and HS256 (realm secret). Target: ratio <= 1.3.

    .venv/bin/python benchmarks/verify_token.py [--quick]
"""

from __future__ import annotations

import sys
import time

import jwt
from _setup import configure_django, interleaved
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HS256_SECRET = "jsk_" + "b" * 40


def claims() -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": "https://authrocket.com",
        "iat": now,
        "exp": now + 3600,
        "sub": "usr_0vdzLVOsRjUkmjmxSG6DAn",
        "sid": "kss_0vdzLVOsRxSp3Kh8s3Jqeh",
        "rid": "rl_0vdzLVOr8bbF1BQNzeXgWy",
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "preferred_username": "ada",
        "email": "ada@example.com",
        "email_verified": True,
        "orgs": [
            {
                "mid": "mb_0vdzLVOsS8RWhNHJzY7Wbh",
                "oid": "org_0vdzLVOsRJBSSgx8Y0q1W4",
                "name": "Analytical Engines",
                "perm": ["ar:admin", "billing:*"],
                "selected": True,
            }
        ],
    }


def main() -> None:
    quick = "--quick" in sys.argv
    rounds, number = (5, 100) if quick else (15, 400)
    from django_authrocket.tokens import verify_token

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    options = {"require": ["exp", "iat"], "verify_signature": True}
    results = []

    # RS256, static public key: the same key object for both.
    rs_token = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "k1"})
    configure_django(AUTHROCKET_JWT_KEY=pem)

    def rs_baseline() -> object:
        return jwt.decode(
            rs_token,
            public,
            algorithms=["RS256"],
            options=options,
            leeway=5,
            issuer="https://authrocket.com",
        )

    results.append(
        (
            "RS256 static key",
            *interleaved(rs_baseline, lambda: verify_token(rs_token), rounds=rounds, number=number),
        )
    )

    # HS256 with the realm secret.
    from django.conf import settings

    from django_authrocket.conf import reload as reload_settings

    settings.AUTHROCKET_JWT_KEY = HS256_SECRET
    reload_settings()
    hs_token = jwt.encode(claims(), HS256_SECRET, algorithm="HS256")

    def hs_baseline() -> object:
        return jwt.decode(
            hs_token,
            HS256_SECRET,
            algorithms=["HS256"],
            options=options,
            leeway=5,
            issuer="https://authrocket.com",
        )

    results.append(
        (
            "HS256 secret",
            *interleaved(hs_baseline, lambda: verify_token(hs_token), rounds=rounds, number=number),
        )
    )

    # RS256 through LoginRocket's key set (warm): keys served by the emulator.
    from django_authrocket.testing import AuthRocketEmulator

    with AuthRocketEmulator() as emulator:
        settings.AUTHROCKET_JWT_KEY = None
        settings.AUTHROCKET_LOGINROCKET_URL = emulator.loginrocket_url
        settings.AUTHROCKET_ACCEPT_EMULATOR_TOKENS = True  # its tokens, with DEBUG off
        reload_settings()
        user = emulator.create_user("ada@example.com", first_name="Ada", last_name="Lovelace")
        token = emulator.mint_token(user["id"])
        verify_token(token)  # warm the key set
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        jwks_public = load_pem_public_key(emulator.public_key_pem.encode())

        def jwks_baseline() -> object:
            return jwt.decode(
                token,
                jwks_public,
                algorithms=["RS256"],
                options=options,
                leeway=5,
                issuer="https://authrocket.com",
            )

        results.append(
            (
                "RS256 key set (warm)",
                *interleaved(
                    jwks_baseline, lambda: verify_token(token), rounds=rounds, number=number
                ),
            )
        )

    print(f"{'case':24} {'jwt.decode':>12} {'verify_token':>13} {'ratio':>6}")
    for name, base, ours in results:
        print(f"{name:24} {base * 1e6:10.1f}us {ours * 1e6:11.1f}us {ours / base:6.2f}")


if __name__ == "__main__":
    main()

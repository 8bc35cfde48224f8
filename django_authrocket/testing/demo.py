"""Demo data for the emulator: a realm with a few people and three orgs, for trying the app."""

from __future__ import annotations

from typing import Any

from .emulator import AuthRocketEmulator

#: The reference of the demo realm's staff org: the example site's ``AUTHROCKET_STAFF_ORG``.
DEMO_STAFF_ORG = "site-staff"
#: The demo people's passwords for the LoginRocket API (logins in the site's own forms), shown
#: on the example site's home page. Demo data only: never a real password.
DEMO_PASSWORDS: dict[str, str] = {
    "ada@example.com": "analytical-engine",
    "grace@example.com": "cobol-compiler",
    "alan@example.com": "enigma-bombe",
    "isaac@example.com": "inactive-isaac",
}
#: Grace logs in with a second factor: an authenticator app code for this base32 secret
#: (``emulator.totp_code(user_id)`` computes the current one).
DEMO_TOTP_EMAIL = "grace@example.com"
DEMO_TOTP_SECRET = "GRACEHOPPERCOBOL"


def seed_demo_users(emulator: AuthRocketEmulator) -> list[dict[str, Any]]:
    """Create the demo users and orgs and return the users.

    * Ada Lovelace: owner of Analytical Engines (selected), member of Difference Ltd, and
      owner and admin of Site Staff, the site's own staff org (reference ``site-staff``);
    * Grace Hopper: admin of Difference Ltd (a customer's admin: not the site's staff);
    * Alan Turing: no org at all;
    * Inactive Isaac: an inactive user (LoginRocket refuses to log him in).

    Each has the password of :data:`DEMO_PASSWORDS`; Grace also has a TOTP second factor
    (:data:`DEMO_TOTP_SECRET`).
    """
    engines = emulator.create_org("Analytical Engines", reference="org-engines")
    difference = emulator.create_org("Difference Ltd", custom={"plan": "pro"})
    staff = emulator.create_org("Site Staff", reference=DEMO_STAFF_ORG)
    ada = emulator.create_user(
        "ada@example.com", first_name="Ada", last_name="Lovelace", username="ada"
    )
    grace = emulator.create_user("grace@example.com", first_name="Grace", last_name="Hopper")
    alan = emulator.create_user("alan@example.com", first_name="Alan", last_name="Turing")
    isaac = emulator.create_user("isaac@example.com", name="Inactive Isaac", state="inactive")
    emulator.create_membership(
        ada["id"], engines["id"], permissions=["ar:owner", "ar:admin"], selected=True
    )
    emulator.create_membership(ada["id"], difference["id"], permissions=["billing:read"])
    emulator.create_membership(ada["id"], staff["id"], permissions=["ar:owner", "ar:admin"])
    emulator.create_membership(grace["id"], difference["id"], permissions=["ar:admin"])
    for user in (ada, grace, alan, isaac):
        emulator.set_password(user["id"], DEMO_PASSWORDS[user["email"]])
    emulator.enable_totp(grace["id"], DEMO_TOTP_SECRET)
    return [ada, grace, alan, isaac]

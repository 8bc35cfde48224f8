"""Demo data for the emulator: a realm with a few people and two orgs, for trying the app."""

from __future__ import annotations

from typing import Any

from .emulator import AuthRocketEmulator


def seed_demo_users(emulator: AuthRocketEmulator) -> list[dict[str, Any]]:
    """Create the demo users and orgs and return the users.

    * Ada Lovelace: owner of Analytical Engines (selected) and member of Difference Ltd;
    * Grace Hopper: admin of Difference Ltd;
    * Alan Turing: no org at all;
    * Inactive Isaac: an inactive user (LoginRocket refuses to log him in).
    """
    engines = emulator.create_org("Analytical Engines", reference="org-engines")
    difference = emulator.create_org("Difference Ltd", custom={"plan": "pro"})
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
    emulator.create_membership(grace["id"], difference["id"], permissions=["ar:admin"])
    return [ada, grace, alan, isaac]

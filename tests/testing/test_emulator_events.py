"""The emulator makes every AuthRocket event type, each from the step that makes it upstream."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from django_authrocket.testing import AuthRocketEmulator


def api_get(emu: AuthRocketEmulator, path: str) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False  # the emulator is on loopback: no proxy
        return http.get(
            emu.api_url() + path,
            headers={"Authrocket-Api-Key": emu.api_key, "Accept": "application/json"},
        )


def types_since(emu: AuthRocketEmulator, before: int) -> list[str]:
    return [event["event_type"] for event in emu.events[before:]]


def test_an_org_invitation_goes_through_every_step_and_makes_a_membership(emu) -> None:
    ada = emu.create_user("ada@example.com")
    bob = emu.create_user("bob@example.com")
    looms = emu.create_org("Looms")

    invitation = emu.create_invitation(
        "org",
        "Bob@Example.com",
        org_id=looms["id"],
        permissions=["looms:read"],
        inviting_user_id=ada["id"],
    )
    emu.update_invitation(invitation["id"], permissions=["looms:write"])
    sent = emu.send_invitation(invitation["id"])
    before = len(emu.events)
    membership = emu.accept_invitation(invitation["id"], bob["id"])

    assert invitation["id"].startswith("nvt_") and invitation["email"] == "bob@example.com"
    assert sent["invited_at"] is not None
    assert membership is not None and membership["permissions"] == ["looms:write"]
    assert types_since(emu, before) == ["membership.created", "invitation.org.accepted"]
    accepted = emu.events[-1]
    assert (accepted["invitation_id"], accepted["org_id"]) == (invitation["id"], looms["id"])
    assert (accepted["user_id"], accepted["membership_id"]) == (bob["id"], membership["id"])
    assert api_get(emu, "/events/" + accepted["id"]).json() == accepted
    assert api_get(emu, "/invitations/" + invitation["id"]).status_code == 404  # used up
    assert [e["event_type"] for e in emu.events if e.get("invitation_id")] == [
        "invitation.org.created",
        "invitation.org.updated",
        "invitation.org.invited",
        "invitation.org.accepted",
    ]


def test_an_org_invitation_accepted_by_a_member_names_no_membership(emu) -> None:
    ada = emu.create_user("ada@example.com")
    looms = emu.create_org("Looms")
    emu.create_membership(ada["id"], looms["id"])
    invitation = emu.create_invitation("org", "ada@example.com", org_id=looms["id"])

    assert emu.accept_invitation(invitation["id"], ada["id"]) is None
    assert emu.events[-1]["event_type"] == "invitation.org.accepted"
    assert "membership_id" not in emu.events[-1]


@pytest.mark.parametrize("kind", ["preverify", "referral", "request"])
def test_other_invitation_types_emit_their_own_family(emu, kind: str) -> None:
    first = emu.create_invitation(kind, "carol@example.com", locale="en")
    emu.update_invitation(first["id"], locale="fr")
    emu.send_invitation(first["id"])
    assert emu.accept_invitation(first["id"]) is None
    second = emu.create_invitation(kind, "dan@example.com")
    served = api_get(emu, "/invitations/" + second["id"])
    emu.expire_invitation(second["id"])

    assert types_since(emu, 0) == [
        f"invitation.{kind}.{step}"
        for step in ("created", "updated", "invited", "accepted", "created", "expired")
    ]
    assert served.status_code == 200 and served.json()["invitation_type"] == kind
    assert served.json()["locale"] is None and served.json()["org_id"] is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda emu, org: emu.create_invitation("team", "a@example.com"), "invitation_type"),
        (lambda emu, org: emu.create_invitation("org", "a@example.com"), "org_id"),
        (
            lambda emu, org: emu.create_invitation("request", "a@example.com", org_id=org),
            "org_id",
        ),
        (lambda emu, org: emu.create_invitation("request", "nobody"), "Email"),
        (
            lambda emu, org: emu.create_invitation(
                "org", "a@example.com", org_id=org, permissions="x"
            ),
            "list",
        ),
        (lambda emu, org: emu.accept_invitation("nvt_missing"), "not found"),
    ],
)
def test_invitations_refuse_what_authrocket_refuses(emu, call: Any, message: str) -> None:
    org = emu.create_org("Looms")["id"]

    with pytest.raises((ValueError, LookupError), match=message):
        call(emu, org)


def test_an_org_invitation_needs_the_accepting_user(emu) -> None:
    invitation = emu.create_invitation("org", "a@example.com", org_id=emu.create_org("L")["id"])

    with pytest.raises(ValueError, match="user_id"):
        emu.accept_invitation(invitation["id"])


def test_an_email_change_applies_when_verified(emu) -> None:
    ada = emu.create_user("ada@example.com")
    emu.create_user("taken@example.com")

    with pytest.raises(ValueError, match="taken"):
        emu.request_email_change(ada["id"], "taken@example.com")
    emu.request_email_change(ada["id"], "Ada@Lovelace.example")
    unchanged = emu.get_user(ada["id"])
    verifying = emu.request_email_verification(ada["id"])
    verified = emu.verify_email(ada["id"])
    again = emu.verify_email(ada["id"])

    assert unchanged["email"] == "ada@example.com"
    assert verifying["email_verification"] == "requested"
    assert (verified["email"], verified["email_verification"]) == (
        "ada@lovelace.example",
        "verified",
    )
    assert again["email"] == "ada@lovelace.example"
    assert types_since(emu, 2) == [
        "user.email.updating",
        "user.email.verifying",
        "user.email.verified",
        "user.email.verified",
    ]


def test_logins_passwords_and_profile_edits_emit_their_events(emu) -> None:
    ada = emu.create_user("ada@example.com", first_name="Ada")
    before = len(emu.events)

    emu.start_login(ada["id"])
    emu.fail_login(ada["id"])
    emu.login(ada["id"])
    emu.request_password_reset(ada["id"])
    emu.change_password(ada["id"])
    edited = emu.update_profile(ada["id"], first_name="Augusta")

    assert edited["first_name"] == "Augusta"
    assert types_since(emu, before) == [
        "user.login.initiated",
        "user.login.failed",
        "user.login.succeeded",
        "user.password.resetting",
        "user.password.updated",
        "user.profile.updated",
    ]
    assert {e["user_id"] for e in emu.events[before:]} == {ada["id"]}
    with pytest.raises(ValueError, match="state"):
        emu.update_profile(ada["id"], state="inactive")  # not the user's to change
    with pytest.raises(LookupError):
        emu.fail_login("usr_missing")


def test_any_type_can_be_emitted_and_is_served_like_the_others(emu) -> None:
    event = emu.emit_event("widget.created", org_id="org_1")

    assert event["event_type"] == "widget.created" and event["org_id"] == "org_1"
    assert api_get(emu, "/events/" + event["id"]).json() == event
    with pytest.raises(ValueError, match="widget_id"):
        emu.emit_event("widget.created", widget_id="w_1")


def test_reset_forgets_invitations_and_pending_email_changes(emu) -> None:
    ada = emu.create_user("ada@example.com")
    invitation = emu.create_invitation("request", "carol@example.com")
    emu.request_email_change(ada["id"], "ada@lovelace.example")

    emu.reset()
    ada = emu.create_user("ada@example.com")

    assert api_get(emu, "/invitations/" + invitation["id"]).status_code == 404
    assert emu.verify_email(ada["id"])["email"] == "ada@example.com"

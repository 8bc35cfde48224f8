"""Every AuthRocket event type at the webhook: its answer, its Core API cost, its mirror change.

Each event is made by the emulator the way AuthRocket makes it (a user edits their profile, an
invitation is accepted...), so with re-fetch on the endpoint finds it at ``GET /events/:id``.
The Core API calls counted are the emulator's request log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_authrocket import webhook_events
from django_authrocket.models import (
    AuthRocketMembership,
    AuthRocketOrg,
    AuthRocketUser,
    AuthRocketWebhookEvent,
)
from django_authrocket.signals import authrocket_event
from django_authrocket.sync import sync
from django_authrocket.testing import authrocket_session_id, log_in_through_site

User = get_user_model()
SECRET = "whsec-7d2e91c04b6a4f3e8a10"
URL = f"/webhook/{SECRET}/"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "webhooks.md"

pytestmark = pytest.mark.django_db

#: AuthRocket's event types as issue 18 lists them, from the official Ruby gem
#: (authrocket/authrocket-ruby, lib/authrocket/hook.rb, ``Hook.event_types``).
DOCUMENTED_TYPES = sorted(
    [
        *(
            f"invitation.{kind}.{step}"
            for kind in ("org", "preverify", "referral", "request")
            for step in ("created", "updated", "invited", "accepted", "expired")
        ),
        "membership.created",
        "membership.updated",
        "membership.deleted",
        "org.created",
        "org.updated",
        "org.closed",
        "session.deleted",
        "user.created",
        "user.updated",
        "user.deleted",
        "user.email.updating",
        "user.email.verifying",
        "user.email.verified",
        "user.login.succeeded",
        "user.login.failed",
        "user.login.initiated",
        "user.password.resetting",
        "user.password.updated",
        "user.profile.updated",
    ]
)


# --- the realm every case starts from -------------------------------------------------------


@dataclass
class World:
    """Ada (member of Analytical Engines), Bob (no org) and the Looms org, all mirrored."""

    emulator: Any
    ada: dict[str, Any]
    bob: dict[str, Any]
    looms: dict[str, Any]
    engines_membership: str
    browser: Client | None = None
    made: dict[str, Any] = field(default_factory=dict)

    def invitation(self, kind: str, **fields: Any) -> dict[str, Any]:
        org_id = self.looms["id"] if kind == "org" else None
        permissions = ["looms:read"] if kind == "org" else ()
        return self.emulator.create_invitation(
            kind,
            "charles@example.com",
            org_id=org_id,
            permissions=permissions,
            inviting_user_id=self.ada["id"],
            **fields,
        )


@pytest.fixture
def world(settings, emulator, ada) -> World:
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    settings.AUTHROCKET_WEBHOOK_REFETCH = True
    bob = emulator.create_user("bob@example.com", first_name="Bob", username="bob")
    looms = emulator.create_org("Looms")
    sync()
    engines = AuthRocketMembership.objects.get(user__authrocket_id=ada["id"])
    return World(emulator, ada, bob, looms, engines.authrocket_id)


def mirror_digest() -> str:
    rows = [
        list(AuthRocketUser.objects.order_by("pk").values()),
        list(AuthRocketOrg.objects.order_by("pk").values()),
        list(AuthRocketMembership.objects.order_by("pk").values()),
        list(User.objects.order_by("pk").values()),
    ]
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()


def latest(emulator, event_type: str) -> dict[str, Any]:
    return [e for e in emulator.events if e["event_type"] == event_type][-1]


def post(event: dict[str, Any] | bytes) -> Any:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return Client().post(URL, body, content_type="application/json")


@pytest.fixture
def signalled() -> Iterator[list[str]]:
    seen: list[str] = []

    def receiver(sender, event, event_type, **kwargs):
        seen.append(event_type)

    authrocket_event.connect(receiver)
    yield seen
    authrocket_event.disconnect(receiver)


# --- how each type is made, what it may cost and what it must change ------------------------


def log_ada_in(w: World) -> None:
    w.browser = Client()
    token = w.emulator.mint_token(w.ada["id"])
    assert log_in_through_site(w.browser, token).status_code == 302
    w.emulator.end_session(authrocket_session_id(w.browser))


def invitation_step(kind: str, step: str) -> Callable[[World], None]:
    def make(w: World) -> None:
        invitation = w.invitation(kind)
        if step == "updated":
            w.emulator.update_invitation(invitation["id"], locale="fr")
        elif step == "invited":
            w.emulator.send_invitation(invitation["id"])
        elif step == "accepted":
            w.emulator.accept_invitation(invitation["id"], w.bob["id"] if kind == "org" else None)
        elif step == "expired":
            w.emulator.expire_invitation(invitation["id"])

    return make


def ada_row(w: World) -> AuthRocketUser:
    return AuthRocketUser.objects.select_related("user").get(authrocket_id=w.ada["id"])


def bob_is_in_looms(w: World) -> None:
    row = AuthRocketMembership.objects.get(
        user__authrocket_id=w.bob["id"], org__authrocket_id=w.looms["id"]
    )
    assert row.permissions == ["looms:read"]


def looms_row(w: World) -> AuthRocketOrg:
    return AuthRocketOrg.objects.get(authrocket_id=w.looms["id"])


def new_email(w: World) -> None:
    w.emulator.request_email_change(w.ada["id"], "ada@lovelace.example")
    w.emulator.verify_email(w.ada["id"])


@dataclass(frozen=True)
class Case:
    """``calls``: Core API requests with re-fetch on (one fewer with it off, if any)."""

    make: Callable[[World], None]
    calls: int = 0
    changed: Callable[[World], None] | None = None  # None: the mirror must not change


CASES: dict[str, Case] = {
    **{
        f"invitation.{kind}.{step}": Case(invitation_step(kind, step))
        for kind in ("org", "preverify", "referral", "request")
        for step in ("created", "updated", "invited", "accepted", "expired")
    },
    # event + membership (its user and org are mirrored)
    "invitation.org.accepted": Case(invitation_step("org", "accepted"), 2, bob_is_in_looms),
    "membership.created": Case(
        lambda w: w.emulator.create_membership(
            w.bob["id"], w.looms["id"], permissions=["looms:read"]
        ),
        2,
        bob_is_in_looms,
    ),
    "membership.updated": Case(
        lambda w: w.emulator.update_membership(w.engines_membership, permissions=["billing:read"]),
        2,
        lambda w: _assert(
            AuthRocketMembership.objects.get(authrocket_id=w.engines_membership).permissions
            == ["billing:read"]
        ),
    ),
    "membership.deleted": Case(
        lambda w: w.emulator.delete_membership(w.engines_membership),
        2,
        lambda w: _assert(
            not AuthRocketMembership.objects.filter(authrocket_id=w.engines_membership).exists()
        ),
    ),
    # event + org
    "org.created": Case(
        lambda w: w.emulator.create_org("Gears"),
        2,
        lambda w: _assert(AuthRocketOrg.objects.filter(name="Gears").exists()),
    ),
    "org.updated": Case(
        lambda w: w.emulator.update_org(w.looms["id"], name="Jacquard Looms"),
        2,
        lambda w: _assert(looms_row(w).name == "Jacquard Looms"),
    ),
    "org.closed": Case(
        lambda w: w.emulator.update_org(w.looms["id"], state="closed"),
        2,
        lambda w: _assert(looms_row(w).state == "closed"),
    ),
    # event only: the sign-out is local
    "session.deleted": Case(log_ada_in, 1, None),
    # event + user + the user's memberships (their orgs are mirrored)
    "user.created": Case(
        lambda w: w.emulator.create_user("grace@example.com"),
        3,
        lambda w: _assert(AuthRocketUser.objects.filter(email="grace@example.com").exists()),
    ),
    "user.updated": Case(
        lambda w: w.emulator.update_user(w.ada["id"], first_name="Augusta"),
        3,
        lambda w: _assert(ada_row(w).user.first_name == "Augusta"),
    ),
    # event + user (404)
    "user.deleted": Case(
        lambda w: w.emulator.delete_user(w.bob["id"]),
        2,
        lambda w: _assert(not User.objects.get(authrocket__authrocket_id=w.bob["id"]).is_active),
    ),
    "user.email.updating": Case(
        lambda w: w.emulator.request_email_change(w.ada["id"], "ada@lovelace.example")
    ),
    "user.email.verifying": Case(lambda w: w.emulator.request_email_verification(w.ada["id"])),
    "user.email.verified": Case(
        new_email, 3, lambda w: _assert(ada_row(w).email == "ada@lovelace.example")
    ),
    "user.login.succeeded": Case(lambda w: w.emulator.create_session(w.ada["id"])),
    "user.login.failed": Case(lambda w: w.emulator.fail_login(w.ada["id"])),
    "user.login.initiated": Case(lambda w: w.emulator.start_login(w.ada["id"])),
    "user.password.resetting": Case(lambda w: w.emulator.request_password_reset(w.ada["id"])),
    "user.password.updated": Case(lambda w: w.emulator.change_password(w.ada["id"])),
    "user.profile.updated": Case(
        lambda w: w.emulator.update_profile(w.ada["id"], first_name="Augusta"),
        3,
        lambda w: _assert(ada_row(w).first_name == "Augusta"),
    ),
    # a family this version has never heard of
    "widget.created": Case(lambda w: w.emulator.emit_event("widget.created", user_id=w.ada["id"])),
}


def _assert(condition: bool) -> None:
    assert condition


def test_the_cases_cover_every_documented_type_and_the_table_knows_exactly_those() -> None:
    assert sorted(CASES) == sorted([*DOCUMENTED_TYPES, "widget.created"])
    assert sorted(webhook_events.EVENT_TYPES) == sorted([*DOCUMENTED_TYPES, "ping"])


@pytest.mark.parametrize("refetch", [True, False], ids=["refetch", "no-refetch"])
@pytest.mark.parametrize("event_type", sorted(CASES))
def test_every_event_type_is_answered_200_at_its_cost(
    world, settings, signalled, event_type: str, refetch: bool
) -> None:
    case = CASES[event_type]
    settings.AUTHROCKET_WEBHOOK_REFETCH = refetch
    case.make(world)
    event = latest(world.emulator, event_type)
    before = mirror_digest()
    world.emulator.clear_requests()

    response = post(event)

    calls = [f"{r.method} {r.path}" for r in world.emulator.requests]
    assert response.status_code == 200, response.content
    assert len(calls) == (case.calls - 1 if case.calls and not refetch else case.calls), calls
    assert all(call.split(" ", 1)[1].startswith("/api/v2/") for call in calls)
    assert ("GET /api/v2/events/" + event["id"] in calls) == (refetch and case.calls > 0)
    assert AuthRocketWebhookEvent.objects.get(event_id=event["id"]).event_type == event_type
    assert signalled == [event_type]
    if case.changed is None:
        assert mirror_digest() == before
    else:
        case.changed(world)
    if event_type == "session.deleted":
        assert response.json()["outcome"] == "1 Django session(s) ended"
        assert world.browser is not None and world.browser.get("/private/").status_code == 302


def test_a_burst_of_200_logins_makes_no_core_api_call(world, signalled) -> None:
    for _ in range(200):
        world.emulator.create_session(world.ada["id"])
    logins = [e for e in world.emulator.events if e["event_type"] == "user.login.succeeded"]
    before = mirror_digest()
    world.emulator.clear_requests()

    answers = [post(event) for event in logins]

    assert len(logins) == 200
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["outcome"] for a in answers} == {"nothing to do"}
    assert world.emulator.requests == []
    assert AuthRocketWebhookEvent.objects.filter(event_type="user.login.succeeded").count() == 200
    assert signalled == ["user.login.succeeded"] * 200
    assert mirror_digest() == before


def test_an_accepted_org_invitation_that_created_no_membership_costs_nothing(world) -> None:
    engines = AuthRocketMembership.objects.get(authrocket_id=world.engines_membership).org
    invitation = world.emulator.create_invitation(
        "org", "ada@example.com", org_id=engines.authrocket_id
    )
    assert world.emulator.accept_invitation(invitation["id"], world.ada["id"]) is None
    event = latest(world.emulator, "invitation.org.accepted")
    world.emulator.clear_requests()

    response = post(event)

    assert "membership_id" not in event
    assert response.status_code == 200 and response.json()["outcome"] == "nothing to do"
    assert world.emulator.requests == []


# --- the type is decided again on AuthRocket's own copy ---------------------------------------


@pytest.mark.parametrize(
    ("real_type", "recorded", "outcome"),
    [
        ("widget.created", "widget.created", "unknown event type: acknowledged and ignored"),
        ("user.login.succeeded", "user.login.succeeded", "nothing to do"),
        ("Widget Created!", "unreadable", "unknown event type: acknowledged and ignored"),
        ("ping", "ping", "unknown event type: acknowledged and ignored"),
    ],
)
def test_a_body_is_judged_by_the_type_of_authrocket_s_copy(
    world, signalled, real_type: str, recorded: str, outcome: str
) -> None:
    real = world.emulator.emit_event(real_type, user_id=world.ada["id"])
    forged = {"id": real["id"], "event_type": "user.updated", "user_id": world.ada["id"]}
    before = mirror_digest()
    world.emulator.clear_requests()

    response = post(forged)

    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == outcome
    assert [r.path for r in world.emulator.requests] == [f"/api/v2/events/{real['id']}"]
    assert AuthRocketWebhookEvent.objects.get(event_id=real["id"]).event_type == recorded
    assert signalled == [recorded]
    assert mirror_digest() == before


# --- unknown types ----------------------------------------------------------------------------


def test_an_unknown_type_is_logged_once_at_info(world, caplog) -> None:
    kind = f"gadget{uuid.uuid4().hex[:10]}"  # new to this process, whatever ran before
    caplog.set_level(logging.DEBUG, logger="django_authrocket.webhooks")

    answers = [
        post(world.emulator.emit_event(f"{kind}.created", user_id=world.ada["id"]))
        for _ in range(3)
    ] + [post(world.emulator.emit_event(f"{kind}.deleted"))]

    infos = [
        r.getMessage()
        for r in caplog.records
        if r.name == "django_authrocket.webhooks" and r.levelno == logging.INFO
    ]
    assert {a.status_code for a in answers} == {200}
    assert [m for m in infos if f"{kind}.created" in m] == [
        f"AuthRocket webhook: event type '{kind}.created' is not one this version knows; "
        "acknowledged and ignored (the authrocket_event signal still fires). "
        "Logged once per process."
    ]
    assert len([m for m in infos if f"{kind}.deleted" in m]) == 1
    assert AuthRocketWebhookEvent.objects.filter(event_type__startswith=kind).count() == 4


@pytest.mark.parametrize(
    "body",
    [
        {"id": "ev_1", "event_type": "x" * 65},
        {"id": "ev_1", "event_type": "Widget.Created"},
        {"id": "ev_1", "event_type": "a.b.c.d.e.f"},
        {"id": "ev_1", "event_type": "widget.created", "object": "user"},
        {"event_type": "widget.created"},
        [{"id": "ev_1", "event_type": "widget.created"}],
    ],
    ids=["type-too-long", "type-upper-case", "type-six-words", "not-an-event", "no-id", "list"],
)
def test_a_body_that_is_not_an_event_is_still_400(world, body) -> None:
    response = post(body)

    assert response.status_code == 400
    assert not AuthRocketWebhookEvent.objects.exists()


# --- the docs ---------------------------------------------------------------------------------


def test_the_webhook_page_lists_every_type_with_what_the_package_does() -> None:
    text = DOCS.read_text()

    for event_type in webhook_events.EVENT_TYPES:
        assert f"`{event_type}`" in text, event_type
    for action in {*webhook_events.EVENT_TYPES.values(), webhook_events.UNKNOWN}:
        assert action.does in text, action.name

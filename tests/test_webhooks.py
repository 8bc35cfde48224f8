"""The webhook endpoint: real events from the emulator, posted through Django's test client."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth import get_user_model
from django.db.models.signals import pre_save
from django.test import Client

from django_authrocket.models import (
    AuthRocketMembership,
    AuthRocketOrg,
    AuthRocketUser,
    AuthRocketWebhookEvent,
)
from django_authrocket.signals import authrocket_event, authrocket_user_synced
from django_authrocket.sync import sync
from django_authrocket.testing import authrocket_session_id, log_in_through_site
from django_authrocket.webhooks import MAX_BODY_BYTES

User = get_user_model()
SECRET = "whsec-4f1c0e9a7b2d4c39a1e5"
URL = f"/webhook/{SECRET}/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook_settings(settings, emulator):
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    return settings


def post(client: Client, event, url: str = URL, **extra):
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.post(url, body, content_type="application/json", **extra)


def last_event(emulator, event_type: str) -> dict:
    return [e for e in emulator.events if e["event_type"] == event_type][-1]


def deliver(client: Client, emulator, event_type: str):
    """Post the emulator's latest event of this type, as AuthRocket would."""
    response = post(client, last_event(emulator, event_type))
    assert response.status_code == 200, response.content
    return response


# --- who may post -----------------------------------------------------------------------------


def test_ping_answers_200(client, webhook_settings) -> None:
    response = post(client, {"id": "ev_ping", "event_type": "ping"})

    assert response.status_code == 200 and response.json()["outcome"] == "pong"


def test_a_wrong_secret_is_404(client, webhook_settings) -> None:
    assert post(client, {"id": "ev_1", "event_type": "ping"}, "/webhook/guess/").status_code == 404


def test_a_wrong_secret_is_404_for_a_get_too(client, webhook_settings) -> None:
    assert client.get("/webhook/guess/").status_code == 404


def test_no_configured_secret_means_no_endpoint(client, settings, emulator) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = None
    assert post(client, {"id": "ev_1", "event_type": "ping"}).status_code == 404


def test_only_post_is_accepted(client, webhook_settings) -> None:
    assert client.get(URL).status_code == 405


def test_the_endpoint_needs_no_csrf_token(webhook_settings) -> None:
    client = Client(enforce_csrf_checks=True)
    assert post(client, {"id": "ev_1", "event_type": "ping"}).status_code == 200


def test_basic_auth_is_demanded_when_configured(client, webhook_settings) -> None:
    webhook_settings.AUTHROCKET_WEBHOOK_BASIC_AUTH = "authrocket:pa55word"
    ping = {"id": "ev_1", "event_type": "ping"}

    missing = post(client, ping)
    wrong = post(client, ping, HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"a:b").decode())
    right = post(
        client,
        ping,
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"authrocket:pa55word").decode(),
    )

    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Basic")
    assert wrong.status_code == 401
    assert right.status_code == 200


# --- bad bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"event_type": "user.created"}', "'id'"),
        (b'{"id": "ev_1"}', "'event_type'"),
        (b'{"id": "ev_1", "event_type": "user.created"}', "'user_id'"),
    ],
)
def test_a_malformed_body_is_400_with_a_reason(
    client, webhook_settings, settings, body, reason
) -> None:
    settings.AUTHROCKET_WEBHOOK_REFETCH = False
    response = post(client, body)

    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert not AuthRocketWebhookEvent.objects.exists()


def test_an_oversize_body_is_413(client, webhook_settings) -> None:
    body = json.dumps({"id": "ev_1", "event_type": "ping", "pad": "x" * MAX_BODY_BYTES})

    response = post(client, body.encode())

    assert response.status_code == 413


def test_an_unknown_event_type_is_acknowledged_and_recorded(client, webhook_settings) -> None:
    # AuthRocket retries anything but a 2xx for two days: a family it adds later gets a 200.
    response = post(client, {"id": "ev_1", "event_type": "invoice.paid"})

    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown event type: acknowledged and ignored"
    assert AuthRocketWebhookEvent.objects.get().event_type == "invoice.paid"


def test_an_event_authrocket_does_not_know_is_refused(client, webhook_settings, ada) -> None:
    forged = {"id": "ev_forged", "event_type": "user.deleted", "user_id": ada["id"]}

    response = post(client, forged)

    assert response.status_code == 400 and "does not know event" in response.json()["error"]


# --- users ------------------------------------------------------------------------------------


def test_user_created_creates_the_local_user_from_the_api(client, webhook_settings, emulator, ada):
    response = deliver(client, emulator, "user.created")

    row = AuthRocketUser.objects.select_related("user").get(authrocket_id=ada["id"])
    assert row.user.username == "ada" and row.email == "ada@example.com"
    assert row.memberships.get().org.name == "Analytical Engines"
    assert AuthRocketWebhookEvent.objects.get().event_type == "user.created"
    assert "users: 1 created" in response.json()["outcome"]


def test_user_updated_rereads_the_user_not_the_body(client, webhook_settings, emulator, ada):
    sync()
    emulator.update_user(ada["id"], first_name="Augusta")
    event = dict(last_event(emulator, "user.updated"), first_name="Mallory")
    webhook_settings.AUTHROCKET_WEBHOOK_REFETCH = False

    assert post(client, event).status_code == 200

    row = AuthRocketUser.objects.select_related("user").get(authrocket_id=ada["id"])
    assert row.first_name == "Augusta" and row.user.first_name == "Augusta"


def test_user_deleted_deactivates_the_local_user(client, webhook_settings, emulator, ada):
    sync()
    emulator.delete_user(ada["id"])

    deliver(client, emulator, "user.deleted")

    user = User.objects.get(authrocket__authrocket_id=ada["id"])  # kept, not deleted
    assert not user.is_active


def test_a_failed_login_changes_nothing(client, webhook_settings, emulator, ada) -> None:
    event = {"id": "ev_failed", "event_type": "user.login.failed", "user_id": ada["id"]}
    webhook_settings.AUTHROCKET_WEBHOOK_REFETCH = False
    emulator.clear_requests()

    response = post(client, event)

    assert response.status_code == 200 and response.json()["outcome"] == "nothing to do"
    assert emulator.requests == []


def test_without_an_api_key_a_deletion_still_deactivates(client, webhook_settings, emulator, ada):
    sync()
    emulator.delete_user(ada["id"])
    event = last_event(emulator, "user.deleted")
    webhook_settings.AUTHROCKET_API_KEY = None

    assert post(client, event).status_code == 200

    assert not User.objects.get(authrocket__authrocket_id=ada["id"]).is_active


# --- orgs and memberships ---------------------------------------------------------------------


def test_org_events_update_the_org(client, webhook_settings, emulator, ada) -> None:
    looms = emulator.create_org("Looms")
    deliver(client, emulator, "org.created")
    assert AuthRocketOrg.objects.get(authrocket_id=looms["id"]).name == "Looms"

    emulator.update_org(looms["id"], name="Jacquard Looms")
    deliver(client, emulator, "org.updated")
    assert AuthRocketOrg.objects.get(authrocket_id=looms["id"]).name == "Jacquard Looms"

    emulator.update_org(looms["id"], state="closed")
    deliver(client, emulator, "org.closed")
    assert AuthRocketOrg.objects.get(authrocket_id=looms["id"]).state == "closed"


def test_membership_events_update_the_memberships(client, webhook_settings, emulator, ada):
    sync()
    looms = emulator.create_org("Looms")
    membership = emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])

    deliver(client, emulator, "membership.created")
    row = AuthRocketMembership.objects.get(authrocket_id=membership["id"])
    assert row.org.name == "Looms" and row.permissions == ["looms:read"]

    emulator.update_membership(membership["id"], permissions=["looms:write"])
    deliver(client, emulator, "membership.updated")
    row.refresh_from_db()
    assert row.permissions == ["looms:write"]

    emulator.delete_membership(membership["id"])
    deliver(client, emulator, "membership.deleted")
    assert not AuthRocketMembership.objects.filter(authrocket_id=membership["id"]).exists()
    assert AuthRocketMembership.objects.count() == 1  # Analytical Engines stays


def test_a_user_event_removes_only_the_memberships_authrocket_no_longer_lists(
    client, webhook_settings, emulator, ada
):
    looms = emulator.create_org("Looms")
    gone = emulator.create_membership(ada["id"], looms["id"], permissions=["looms:read"])
    sync()
    assert AuthRocketMembership.objects.filter(user__authrocket_id=ada["id"]).count() == 2
    emulator.delete_membership(gone["id"])  # its membership.deleted is never delivered
    emulator.update_user(ada["id"], first_name="Augusta")

    response = deliver(client, emulator, "user.updated")

    held = AuthRocketMembership.objects.filter(user__authrocket_id=ada["id"])
    assert list(held.values_list("org__name", flat=True)) == ["Analytical Engines"]
    assert "memberships: 0 created, 0 updated, 1 unchanged, 1 removed" in response.json()["outcome"]


def test_a_user_event_with_every_membership_listed_removes_none(
    client, webhook_settings, emulator, ada
):
    sync()
    emulator.update_user(ada["id"], first_name="Augusta")

    response = deliver(client, emulator, "user.updated")

    assert AuthRocketMembership.objects.filter(user__authrocket_id=ada["id"]).count() == 1
    assert "removed" not in response.json()["outcome"]


# --- idempotency and atomicity ----------------------------------------------------------------


def test_a_redelivered_event_answers_200_and_does_nothing(client, webhook_settings, emulator, ada):
    sync()
    emulator.update_user(ada["id"], first_name="Augusta")
    event = last_event(emulator, "user.updated")
    assert post(client, event).status_code == 200
    emulator.update_user(ada["id"], first_name="Ada")
    emulator.clear_requests()

    again = post(client, event)

    assert again.status_code == 200 and again.json()["outcome"] == "already processed"
    assert AuthRocketUser.objects.get(authrocket_id=ada["id"]).first_name == "Augusta"
    assert emulator.requests == []  # not even read again
    assert AuthRocketWebhookEvent.objects.count() == 1


def test_a_delivery_that_loses_the_race_for_its_record_applies_nothing(
    client, webhook_settings, emulator, ada
):
    """Two deliveries of one event at once: the one whose record insert finds the id taken
    (here another delivery's row appears just before it) answers 200 and changes nothing."""
    sync()
    emulator.update_user(ada["id"], first_name="Augusta")
    event = last_event(emulator, "user.updated")
    sent = []

    def the_other_delivery_wins(sender, instance, **kwargs):
        if instance._state.adding and not sent:
            sent.append("race")
            AuthRocketWebhookEvent.objects.bulk_create(  # bulk_create sends no pre_save
                [AuthRocketWebhookEvent(event_id=instance.event_id, event_type="user.updated")]
            )

    def on_event(**kwargs):
        sent.append("signal")

    pre_save.connect(the_other_delivery_wins, sender=AuthRocketWebhookEvent)
    authrocket_event.connect(on_event)
    try:
        response = post(client, event)
    finally:
        pre_save.disconnect(the_other_delivery_wins, sender=AuthRocketWebhookEvent)
        authrocket_event.disconnect(on_event)

    assert response.status_code == 200 and response.json()["outcome"] == "already processed"
    assert sent == ["race"]  # no authrocket_event from the loser
    assert AuthRocketUser.objects.get(authrocket_id=ada["id"]).first_name == "Ada"


def test_an_api_outage_is_503_and_the_redelivery_works(client, webhook_settings, emulator, ada):
    webhook_settings.AUTHROCKET_HTTP_RETRIES = 0
    event = last_event(emulator, "user.created")
    emulator.inject_fault("/api/v2/users/*", status=503, times=None)

    assert post(client, event).status_code == 503
    assert not AuthRocketWebhookEvent.objects.exists()

    emulator.clear_faults()
    assert post(client, event).status_code == 200
    assert AuthRocketUser.objects.filter(authrocket_id=ada["id"]).exists()


def test_a_failure_while_applying_leaves_nothing_half_applied(webhook_settings, emulator, ada):
    def broken_receiver(**kwargs):
        raise RuntimeError("receiver failed")

    authrocket_event.connect(broken_receiver)
    try:
        response = post(Client(raise_request_exception=False), last_event(emulator, "user.created"))
    finally:
        authrocket_event.disconnect(broken_receiver)

    assert response.status_code == 500  # AuthRocket delivers it again later
    assert not AuthRocketUser.objects.exists() and not User.objects.exists()
    assert not AuthRocketWebhookEvent.objects.exists()


def test_signals_are_sent(client, webhook_settings, emulator, ada) -> None:
    events, synced = [], []

    def on_event(sender, event, event_type, **kwargs):
        events.append(event_type)

    def on_synced(sender, user, authrocket_user, created, **kwargs):
        synced.append((authrocket_user.authrocket_id, created))

    authrocket_event.connect(on_event)
    authrocket_user_synced.connect(on_synced)
    try:
        deliver(client, emulator, "user.created")
    finally:
        authrocket_event.disconnect(on_event)
        authrocket_user_synced.disconnect(on_synced)

    assert events == ["user.created"]
    assert synced == [(ada["id"], True)]


# --- single sign-out --------------------------------------------------------------------------


def logged_in(emulator, user) -> Client:
    browser = Client()
    response = log_in_through_site(browser, emulator.mint_token(user["id"]))
    assert response.status_code == 302
    return browser


def test_session_deleted_logs_out_that_browser_and_only_it(client, webhook_settings, emulator, ada):
    laptop, phone = logged_in(emulator, ada), logged_in(emulator, ada)
    assert laptop.get("/private/").status_code == phone.get("/private/").status_code == 200
    emulator.end_session(authrocket_session_id(laptop))

    response = deliver(client, emulator, "session.deleted")

    assert response.json()["outcome"] == "1 Django session(s) ended"
    assert laptop.get("/private/").status_code == 302
    assert phone.get("/private/").status_code == 200

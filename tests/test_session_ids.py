"""AuthRocket session ids are credentials (issue 12, finding 10): masked in logs, messages and
the admin, and sent in a URL only where LoginRocket needs one, with no ``Referer`` after it.

LoginRocket's browser API answers ``GET /v2/session?session=kss_...`` with a full login token
and asks for nothing else, so a ``kss_`` id is as sensitive as the token itself.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_authrocket import redaction
from django_authrocket.client import AuthRocketClient
from django_authrocket.exceptions import NotFound
from django_authrocket.models import AuthRocketLogin
from django_authrocket.redaction import URLLIB3_LOGGER, redact_tokens, shown_session
from django_authrocket.testing import (
    authrocket_session_id,
    expire_login,
    recheck_at_next_request,
)
from tests.helpers import logged_in, query_of
from tests.log_capture import SESSION_ID, mask, secret_kinds

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec-session-ids-8e1f4c2a9b7d3e65"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_masked(logs: pytest.LogCaptureFixture, session_id: str) -> str:
    """No log line names ``session_id`` (nor any other ``kss_`` id); its digest is there."""
    text = logs.text
    assert session_id not in text, mask(text)
    assert not SESSION_ID.search(text), mask(text)
    assert shown_session(session_id) in text
    return text


# --- the masked form --------------------------------------------------------------------------


def test_a_session_id_is_shown_as_a_digest_and_a_token_as_a_token_digest(emulator, ada) -> None:
    shown = shown_session("kss_0vDhKf2aX9bW3pQ7sJ6nV1")
    assert shown == f"<session sha256:{redaction.digest('kss_0vDhKf2aX9bW3pQ7sJ6nV1')}>"
    assert "kss_" not in shown and len(shown) == len("<session sha256:>") + 12
    assert shown != shown_session("kss_0vDhKf2aX9bW3pQ7sJ6nV2")  # still tells sessions apart
    token = emulator.mint_token(ada["id"])
    assert shown_session(token).startswith("<token sha256:") and token not in shown_session(token)


def test_the_log_scan_treats_a_session_id_as_a_secret() -> None:
    assert secret_kinds("Ending Django session: AuthRocket session kss_0vDhKf2aX9bW3pQ7sJ6nV1") == [
        "a session id"
    ]
    assert secret_kinds("GET /logout?session=kss_0vDhKf2aX9bW3pQ7sJ6nV1") == ["a session id"]
    assert secret_kinds(f"session {shown_session('kss_0vDhKf2aX9bW3pQ7sJ6nV1')} ended") == []


# --- log lines --------------------------------------------------------------------------------


def test_api_mode_recheck_and_its_end_log_no_session_id(logs, api_mode, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    session_id = authrocket_session_id(client)
    assert session_id and session_id.startswith("kss_")
    emulator.end_session(session_id)
    recheck_at_next_request(client)

    assert client.get("/private/").status_code == 302  # ended at AuthRocket: logged out

    text = assert_masked(logs, session_id)
    assert f"AuthRocket session {shown_session(session_id)} has ended" in text
    assert f"Ending Django session: AuthRocket session {shown_session(session_id)}" in text
    # urllib3's DEBUG request line: GET /api/v2/sessions/<digest>
    urllib3_lines = [r.getMessage() for r in logs.records if r.name == URLLIB3_LOGGER]
    assert any(f"/sessions/{shown_session(session_id)}" in line for line in urllib3_lines)


def test_an_unreachable_recheck_logs_no_session_id(logs, api_mode, emulator, ada) -> None:
    api_mode.AUTHROCKET_HTTP_RETRIES = 0
    api_mode.AUTHROCKET_RECHECK_GRACE = 600
    client = logged_in(emulator, ada)
    session_id = authrocket_session_id(client)
    assert session_id
    recheck_at_next_request(client)
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)

    assert client.get("/private/").status_code == 200  # kept within its grace

    text = assert_masked(logs, session_id)
    assert f"keeping session {shown_session(session_id)} within its grace" in text
    assert f"GET /sessions/{shown_session(session_id)}, status 503" in text  # the error's path


def test_an_expired_login_logs_no_session_id(logs, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    session_id = authrocket_session_id(client)
    assert session_id
    expire_login(client)
    assert client.get("/private/").status_code == 302
    assert_masked(logs, session_id)


def test_a_failed_revoke_logs_no_session_id(logs, settings, emulator, ada) -> None:
    settings.AUTHROCKET_LOGOUT_REVOKE = True
    settings.AUTHROCKET_HTTP_RETRIES = 0
    client = logged_in(emulator, ada)
    session_id = authrocket_session_id(client)
    assert session_id
    emulator.inject_fault("/api/v2/sessions/*", method="DELETE", status=500, times=None)
    assert client.post("/logout/").status_code == 302
    text = assert_masked(logs, session_id)
    assert f"Could not revoke AuthRocket session {shown_session(session_id)}" in text


def test_a_session_deleted_webhook_logs_no_session_id(logs, settings, emulator, ada) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = WEBHOOK_SECRET
    client = logged_in(emulator, ada)
    session_id = authrocket_session_id(client)
    assert session_id
    emulator.end_session(session_id)  # AuthRocket emits session.deleted
    event = [e for e in emulator.events if e["event_type"] == "session.deleted"][-1]
    response = Client().post(
        f"/webhook/{WEBHOOK_SECRET}/", json.dumps(event), content_type="application/json"
    )
    assert response.status_code == 200
    assert client.get("/private/").status_code == 302
    text = logs.text
    assert session_id not in text and not SESSION_ID.search(text), mask(text)


def test_core_api_errors_name_the_session_call_by_digest(emulator) -> None:
    client = AuthRocketClient.from_settings()
    with pytest.raises(NotFound) as caught:
        client.get_session("kss_0vDhKf2aX9bW3pQ7sJ6nV1")
    message = str(caught.value)
    assert "kss_0vDhKf2aX9bW3pQ7sJ6nV1" not in message
    assert f"GET /sessions/{shown_session('kss_0vDhKf2aX9bW3pQ7sJ6nV1')}" in message
    assert caught.value.path == f"/sessions/{shown_session('kss_0vDhKf2aX9bW3pQ7sJ6nV1')}"


def test_the_urllib3_filter_masks_a_session_id_in_the_url() -> None:
    session_id = "kss_0vDhKf2aX9bW3pQ7sJ6nV1"
    url = f"/v2/sessions/{session_id}"
    args = ("https", "api-e2.authrocket.com", 443, "DELETE", url, "HTTP/1.1", 204, 0)
    template = '%s://%s:%s "%s %s %s" %s %s'
    record = logging.LogRecord(URLLIB3_LOGGER, logging.DEBUG, __file__, 1, template, args, None)
    redact_tokens(record)
    assert session_id not in record.getMessage()
    assert shown_session(session_id) in record.getMessage()


# --- the admin --------------------------------------------------------------------------------


def test_the_admin_shows_a_login_row_with_its_session_id_masked(
    admin_client, emulator, ada
) -> None:
    browser = logged_in(emulator, ada)
    session_id = authrocket_session_id(browser)
    assert session_id
    row = AuthRocketLogin.objects.get()
    assert session_id not in str(row) and shown_session(session_id) in str(row)

    # Deleting the local user lists the rows that go with it: the login row among them.
    user = get_user_model().objects.get(username="ada")
    page = admin_client.get(f"/admin/auth/user/{user.pk}/delete/").content.decode()
    assert "AuthRocket login" in page
    assert session_id not in page
    assert shown_session(session_id).replace("<", "&lt;").replace(">", "&gt;") in page


# --- URLs and Referer -------------------------------------------------------------------------


def test_only_the_logout_url_carries_the_session_id_and_none_sends_a_referer(emulator, ada) -> None:
    client = logged_in(emulator, ada)
    session_id = authrocket_session_id(client)
    assert session_id

    for path in ("/profile/", "/accounts/", "/accounts/org_1/"):
        response = client.get(path)
        assert response.status_code == 302
        assert session_id not in response["Location"], path
        assert "session" not in query_of(response["Location"]), path
        assert response["Referrer-Policy"] == "no-referrer", path

    logout = client.post("/logout/")
    assert logout.status_code == 302
    assert logout["Location"].startswith(f"{emulator.loginrocket_url}/logout?")
    assert query_of(logout["Location"])["session"] == [session_id]  # LoginRocket ends that one
    assert logout["Referrer-Policy"] == "no-referrer"

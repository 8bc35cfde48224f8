"""No token, API key or webhook secret reaches a log line.

Two layers. The tests here drive the failure paths that log (refused logins, refused Bearer
tokens, Core API errors, webhook refusals) with every logger at DEBUG and look at what was
logged. And ``tests/log_capture.py`` scans every log line of every test of the suite; the last
tests here check that the scan is really attached and really finds what it looks for.
"""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from django_authrocket.redaction import URLLIB3_LOGGER, shown_session
from django_authrocket.signals import authrocket_event
from django_authrocket.testing import authrocket_session_id
from tests.helpers import login_with
from tests.log_capture import (
    API_KEY,
    JWT,
    SESSION_ID,
    SecretScanner,
    mask,
    scanner,
    secret_kinds,
)

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec-logscan-5b7e0d2c9a1f4e83"
WEBHOOK_URL = f"/webhook/{WEBHOOK_SECRET}/"
WRONG_API_KEY = "ks_logscan_wrong_key_0123456789"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record, DEBUG and up, of every logger that propagates to the root."""
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_secrets(logs: pytest.LogCaptureFixture, *secrets: str) -> str:
    """The captured text holds no JWT, no API key, no session id and none of ``secrets``;
    return it."""
    assert logs.records, "nothing was logged: the test would prove nothing"
    text = logs.text
    assert not JWT.search(text), mask(text)
    assert not API_KEY.search(text), mask(text)
    assert not SESSION_ID.search(text), mask(text)
    for secret in secrets:
        assert secret not in text, mask(text, secrets)
    return text


def logged_by(logs: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [record.getMessage() for record in logs.records if record.name == name]


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- logins -----------------------------------------------------------------------------------


def test_refused_logins_log_the_reason_never_the_token(logs, emulator, ada) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = [
        emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60),  # expired
        emulator.mint_token(ada["id"], key=foreign),  # bad signature
        emulator.mint_token(ada["id"])[:-8] + "AAAAAAAA",  # tampered
    ]
    for token in tokens:
        assert login_with(Client(), token).status_code == 401

    text = assert_no_secrets(logs, *tokens)
    assert "AuthRocket login refused (expired)" in text
    assert "AuthRocket login refused (bad_signature)" in text


def test_api_mode_logins_log_no_token_even_in_urllib3s_debug_lines(
    logs, settings, emulator, ada
) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_HTTP_RETRIES = 1
    good = emulator.mint_token(ada["id"])
    session, ended = emulator.login(ada["id"])
    emulator.end_session(session["id"])
    assert Client().get("/login/", {"token": good}).status_code == 302
    assert login_with(Client(), ended).status_code == 401
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)
    down = emulator.mint_token(ada["id"])
    assert login_with(Client(), down).status_code == 503

    assert_no_secrets(logs, good, ended, down, emulator.api_key)
    # The Core API takes the token in the path (GET /sessions/<token>); urllib3 logs each URL
    # at DEBUG, and the app's filter (apps.py, redaction.redact_tokens) masks it there.
    requests_logged = logged_by(logs, URLLIB3_LOGGER)
    assert any("/api/v2/sessions/<token>" in line for line in requests_logged), requests_logged
    # The emulator's request log (AuthRocket's side) masks it too.
    assert any("/sessions/<token>" in line for line in logged_by(logs, "django_authrocket.testing"))
    assert any("retrying" in line for line in logged_by(logs, "django_authrocket.client"))


# --- Bearer tokens ----------------------------------------------------------------------------


def test_refused_bearer_tokens_log_no_token(logs, settings, emulator, ada) -> None:
    expired = emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60)
    header, payload, _ = emulator.mint_token(ada["id"]).split(".")
    forged = f"{header}.{payload}.{'A' * 342}"
    for token in (expired, forged):
        assert Client().get("/api/me/", **bearer(token)).status_code == 401

    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_HTTP_RETRIES = 0
    session, ended = emulator.login(ada["id"])
    emulator.end_session(session["id"])
    assert Client().get("/api/me/", **bearer(ended)).status_code == 401
    emulator.inject_fault("/api/v2/sessions/*", status=503, times=None)
    down = emulator.mint_token(ada["id"])
    assert Client().get("/api/me/", **bearer(down)).status_code == 503

    text = assert_no_secrets(logs, expired, forged, ended, down)
    assert "Bearer token refused (expired)" in text
    # In "api" mode a Bearer token is rechecked under its own value (bearer.py): the recheck's
    # log lines name a digest of it, never the token.
    recheck_lines = logged_by(logs, "django_authrocket.recheck")
    assert any("has ended" in line and "<token sha256:" in line for line in recheck_lines)
    assert any(
        "could not be rechecked" in line and "<token sha256:" in line for line in recheck_lines
    )


# --- Core API errors --------------------------------------------------------------------------


def test_a_rejected_api_key_is_not_logged(logs, settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_API_KEY = WRONG_API_KEY
    token = emulator.mint_token(ada["id"])

    assert login_with(Client(), token).status_code == 503

    text = assert_no_secrets(logs, WRONG_API_KEY, emulator.api_key, token)
    assert "AuthRocket login could not be checked" in text
    assert "GET /sessions/<token>, status 40" in text  # what support needs: call and status
    assert "request id rq_" in text


def test_a_failed_logout_revoke_logs_a_digest_of_the_session_id_not_the_id_or_api_key(
    logs, settings, emulator, ada
) -> None:
    settings.AUTHROCKET_LOGOUT_REVOKE = True
    settings.AUTHROCKET_HTTP_RETRIES = 0
    client = Client()
    assert client.get("/login/", {"token": emulator.mint_token(ada["id"])}).status_code == 302
    session_id = authrocket_session_id(client)
    emulator.inject_fault("/api/v2/sessions/*", method="DELETE", status=503, times=None)

    assert client.post("/logout/").status_code == 302

    text = assert_no_secrets(logs, emulator.api_key, session_id)
    assert f"Could not revoke AuthRocket session {shown_session(session_id)}" in text
    assert f"DELETE /sessions/{shown_session(session_id)}" in text  # the error's path, masked


# --- webhooks ---------------------------------------------------------------------------------


def post_event(url: str, event: object, **extra: object):
    import json

    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    client = Client(raise_request_exception=False)
    return client.post(url, body, content_type="application/json", **extra)


def test_webhook_refusals_never_log_the_secret(logs, settings, emulator, ada) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = WEBHOOK_SECRET
    created = [e for e in emulator.events if e["event_type"] == "user.created"][-1]

    # A wrong secret: 404 like any unknown URL (Django logs the path: the guess, not the secret).
    assert (
        post_event("/webhook/not-the-secret/", {"id": "ev_1", "event_type": "ping"}).status_code
        == 404
    )
    # The right secret, and every refusal the endpoint answers with.
    assert Client().get(WEBHOOK_URL).status_code == 405
    assert post_event(WEBHOOK_URL, b"{not json").status_code == 400
    assert post_event(WEBHOOK_URL, {"id": "ev_2", "event_type": "Not An Event"}).status_code == 400
    emulator.inject_fault("/api/v2/events/*", status=503, times=None)
    settings.AUTHROCKET_HTTP_RETRIES = 0
    assert post_event(WEBHOOK_URL, created).status_code == 503
    settings.AUTHROCKET_WEBHOOK_BASIC_AUTH = "hook:basic-auth-password-123"
    assert post_event(WEBHOOK_URL, {"id": "ev_3", "event_type": "ping"}).status_code == 401

    text = assert_no_secrets(logs, WEBHOOK_SECRET, "basic-auth-password-123", emulator.api_key)
    assert "AuthRocket webhook refused" in text


def test_a_webhook_that_fails_unexpectedly_is_logged_without_the_secret(
    logs, settings, emulator, ada
) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = WEBHOOK_SECRET
    created = [e for e in emulator.events if e["event_type"] == "user.created"][-1]

    def broken_receiver(**kwargs: object) -> None:
        raise RuntimeError("receiver failed")

    authrocket_event.connect(broken_receiver)
    try:
        response = post_event(WEBHOOK_URL, created)
    finally:
        authrocket_event.disconnect(broken_receiver)

    assert response.status_code == 500  # AuthRocket delivers it again later
    text = assert_no_secrets(logs, WEBHOOK_SECRET)
    assert "AuthRocket webhook failed" in text and "RuntimeError: receiver failed" in text
    assert not [r for r in logs.records if r.name == "django.request"]


# --- the suite-wide scan (tests/log_capture.py) -----------------------------------------------


def test_the_suite_wide_scan_listens_to_the_root_logger_at_debug() -> None:
    root = logging.getLogger()
    assert scanner() in root.handlers
    assert root.getEffectiveLevel() <= logging.DEBUG
    assert scanner().level == logging.DEBUG


def test_the_scan_learns_secrets_set_in_settings(settings) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = "whsec-learned-by-the-scan-42"
    settings.AUTHROCKET_API_KEY = "ks_learned_by_the_scan_0123456789"
    assert "whsec-learned-by-the-scan-42" in scanner().secrets
    assert "ks_learned_by_the_scan_0123456789" in scanner().secrets


def test_the_scanner_reports_tokens_keys_and_secrets_and_masks_them(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    probe = SecretScanner()
    probe.learn("AUTHROCKET_WEBHOOK_SECRET", "whsec-probe-secret-value")
    logger = logging.getLogger("tests.log_capture.probe")
    logger.propagate = False  # these lines are meant to offend: keep them from the real scan
    logger.setLevel(logging.DEBUG)
    logger.addHandler(probe)
    try:
        logger.debug("GET /sessions/%s", token)
        logger.info("key %s", emulator.api_key)
        logger.warning("Not Found: /webhook/whsec-probe-secret-value/")
        logger.warning("AuthRocket session kss_0123456789abcdef (request id rq_abc): <token>")
        logger.info("AuthRocket session <session sha256:0123456789ab> has ended")
    finally:
        logger.removeHandler(probe)

    offences = probe.check("probe")

    assert [offence.kind for offence in offences] == [
        "a JWT",
        "an API key and a configured secret",  # the emulator's key is the configured one
        "a configured secret",
        "a session id",  # LoginRocket trades a session id for a login token: a credential
    ]
    report = "\n".join(offence.describe() for offence in offences)
    assert token not in report and emulator.api_key not in report
    assert "whsec-probe-secret-value" not in report
    assert "kss_0123456789abcdef" not in report
    assert probe.check("probe again") == []  # each line is checked once


def test_secret_kinds_leaves_ordinary_lines_alone() -> None:
    for line in (
        "Fetched 2 LoginRocket signing key(s)",
        "AuthRocket GET /sessions/<token> -> 200 in 3 ms (request id rq_123)",
        "Ending Django session: AuthRocket session kss_8d1f0c (expired)",
        "AuthRocket session <token sha256:0123456789ab> has ended",
        "tasks_are_done and weeks_of_work",
    ):
        assert secret_kinds(line) == [], line


# --- the in-site login forms (docs/login-forms.md) -------------------------------------------


def test_in_site_logins_log_no_password_token_or_session_id(logs, settings, emulator, ada) -> None:
    from tests.log_capture import TEST_PASSWORDS

    password = TEST_PASSWORDS[0]
    settings.AUTHROCKET_LOGIN_FORMS = True
    emulator.set_password(ada["id"], password)
    emulator.enable_totp(ada["id"])
    client = Client(raise_request_exception=False)
    # A wrong password, a wrong code, a good login with its second factor, LoginRocket away.
    client.post("/form/login/", {"login": "ada", "password": f"{password}-wrong"})
    client.post("/form/login/", {"login": "ada", "password": password})
    client.post("/form/login/verify/", {"code": "000000"})
    assert (
        client.post("/form/login/verify/", {"code": emulator.totp_code(ada["id"])}).status_code
        == 303
    )
    emulator.inject_fault("/v2/session", kind="drop")
    client.post("/logout/")
    emulator.inject_fault("/v2/login", status=500)
    assert client.post("/form/login/", {"login": "ada", "password": password}).status_code == 503

    text = assert_no_secrets(logs, password, f"{password}-wrong")
    assert "LoginRocket POST login" in text
    assert "Could not end the LoginRocket session <session sha256:" in text


def test_the_scan_knows_the_demo_passwords() -> None:
    from django_authrocket.testing.demo import DEMO_PASSWORDS
    from tests.log_capture import known_passwords

    assert set(DEMO_PASSWORDS.values()) <= set(known_passwords())
    probe = SecretScanner()
    logger = logging.getLogger("tests.log_capture.probe")
    logger.propagate = False  # these lines are meant to offend: keep them from the real scan
    logger.setLevel(logging.DEBUG)
    logger.addHandler(probe)
    try:
        logger.info("posted password=%s", DEMO_PASSWORDS["ada@example.com"])
    finally:
        logger.removeHandler(probe)

    offences = probe.check("probe")

    assert [offence.kind for offence in offences] == ["a configured secret"]
    assert DEMO_PASSWORDS["ada@example.com"] not in offences[0].line

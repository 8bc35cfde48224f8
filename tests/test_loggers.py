"""Each concern logs under its own logger, whichever module does the work.

``django_authrocket.login`` (logins refused, sessions ended by sign-out), ``.recheck`` (sessions
the middleware or a recheck ends), ``.sync``, ``.webhooks``, ``.client`` (Core API calls) and
``.keys`` (LoginRocket's signing keys): a site routes or silences one concern by its name. No
record of the package comes from a logger named after a module instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_authrocket import signout
from django_authrocket.sync import sync
from django_authrocket.testing import authrocket_session_id, expire_login
from tests.helpers import logged_in, login_with

pytestmark = pytest.mark.django_db

CONCERNS = {
    f"django_authrocket.{concern}"
    for concern in ("login", "recheck", "sync", "webhooks", "client", "keys")
}
#: The emulator's own records (the test double, not the app).
EMULATOR = "django_authrocket.testing"


def refuse_a_login(settings, emulator, ada) -> None:
    login_with(Client(), emulator.mint_token(ada["id"], issued_at=1_700_000_000, ttl=60))


def end_an_expired_session(settings, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    expire_login(client)
    client.get("/private/")


def recheck_a_session_ended_at_authrocket(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_RECHECK_INTERVAL = 1
    client = logged_in(emulator, ada)
    emulator.end_session(authrocket_session_id(client))
    time.sleep(1.05)
    client.get("/private/")


def sign_out_everywhere(settings, emulator, ada) -> None:
    signout.end_sessions_for(authrocket_session_id(logged_in(emulator, ada)))


def deactivate_a_user_missing_upstream(settings, emulator, ada) -> None:
    logged_in(emulator, ada)
    emulator.create_user()  # an empty listing would deactivate nobody (it is not trusted)
    emulator.delete_user(ada["id"])
    sync(deactivate_missing=True)


def refuse_a_webhook(settings, emulator, ada) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = "whsec-loggers-test-0123456789"
    Client().get("/webhook/whsec-loggers-test-0123456789/")  # AuthRocket only ever POSTs


def call_the_core_api(settings, emulator, ada) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    logged_in(emulator, ada)


def fetch_signing_keys(settings, emulator, ada) -> None:
    logged_in(emulator, ada)


@pytest.mark.parametrize(
    ("action", "logger", "text"),
    [
        (refuse_a_login, "django_authrocket.login", "AuthRocket login refused (expired)"),
        (end_an_expired_session, "django_authrocket.recheck", "Ending Django session"),
        (recheck_a_session_ended_at_authrocket, "django_authrocket.recheck", "has ended"),
        (sign_out_everywhere, "django_authrocket.login", "after AuthRocket sign-out"),
        (deactivate_a_user_missing_upstream, "django_authrocket.sync", "Deactivated 1"),
        (refuse_a_webhook, "django_authrocket.webhooks", "webhook refused a GET request"),
        (call_the_core_api, "django_authrocket.client", "AuthRocket GET /sessions/"),
        (fetch_signing_keys, "django_authrocket.keys", "Fetched 1 LoginRocket signing key"),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)
def test_each_concern_logs_under_its_logger(
    caplog, settings, emulator, ada, action: Callable[..., Any], logger: str, text: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="django_authrocket")
    action(settings, emulator, ada)
    ours = [
        r
        for r in caplog.records
        if r.name.startswith("django_authrocket") and not r.name.startswith(EMULATOR)
    ]
    assert any(r.name == logger and text in r.getMessage() for r in ours), [
        (r.name, r.getMessage()) for r in ours
    ]
    assert {r.name for r in ours} <= CONCERNS

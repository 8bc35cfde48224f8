"""A failing ``AUTHROCKET_CACHE`` is an outage, answered like AuthRocket unreachable, never a 500
(issue 12, finding 4).

The failing cache is real: Django's ``RedisCache`` pointed at a loopback port where nothing
listens, so every call raises redis-py's ``ConnectionError``, as when Redis is down. (The test
that stops a running Redis and starts it again is tests/test_redis_outage.py.)
"""

from __future__ import annotations

import logging
import socket

import pytest
from django.test import Client

from django_authrocket.testing import recheck_at_next_request
from tests.helpers import bearer_auth, follow_refusal, is_logged_in, logged_in, login_with

pytestmark = pytest.mark.django_db

pytest.importorskip("redis", reason="needs redis-py (the `test` extra)")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cache_down(settings):  # type: ignore[no-untyped-def]
    """Switch ``AUTHROCKET_CACHE`` to a Redis cache where nothing listens (call it)."""

    def down() -> None:
        settings.CACHES = {
            **settings.CACHES,
            "redis_down": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            },
        }
        settings.AUTHROCKET_CACHE = "redis_down"

    return down


@pytest.fixture(params=["jwt", "api"])
def mode(request, settings, emulator):  # type: ignore[no-untyped-def]
    settings.AUTHROCKET_VERIFY = request.param
    settings.AUTHROCKET_RECHECK_INTERVAL = 1
    return request.param


def assert_no_token_logged(caplog: pytest.LogCaptureFixture, token: str) -> None:
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert token not in text and token.rsplit(".", 1)[-1] not in text


def test_a_login_with_the_cache_down_is_a_503_and_the_token_still_works_later(
    mode, cache_down, settings, emulator, ada, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="django_authrocket")
    token = emulator.mint_token(ada["id"])
    cache_down()
    client = Client()

    response = login_with(client, token, "/private/")

    assert response.status_code == 503
    assert b"could not be reached" in response.content
    assert "_auth_user_id" not in client.session
    assert_no_token_logged(caplog, token)
    # The cache is back: the same token logs in (it was never marked as used).
    settings.AUTHROCKET_CACHE = "default"
    assert login_with(client, token).status_code == 302
    assert is_logged_in(client)


def test_a_login_with_warm_keys_and_the_cache_down_is_a_503(
    cache_down, settings, emulator, ada
) -> None:
    # jwt mode, the keys already in this process: only the replay mark needs the cache.
    logged_in(emulator, ada)
    cache_down()
    settings.AUTHROCKET_PREVENT_TOKEN_REPLAY = True
    response = login_with(Client(), emulator.mint_token(ada["id"]))
    assert response.status_code == 503


def test_a_bearer_request_with_the_cache_down_is_a_503(
    mode, cache_down, emulator, ada, caplog
) -> None:
    token = emulator.mint_token(ada["id"])
    cache_down()

    response = Client().get("/api/me/", **bearer_auth(token))

    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert_no_token_logged(caplog, token)


def test_an_api_mode_recheck_with_the_cache_down_follows_the_grace_rule(
    settings, cache_down, emulator, ada
) -> None:
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_RECHECK_INTERVAL = 1
    settings.AUTHROCKET_RECHECK_GRACE = 60
    kept = logged_in(emulator, ada)
    recheck_at_next_request(kept)
    cache_down()

    assert kept.get("/private/").status_code == 200  # within its grace, as in an outage

    settings.AUTHROCKET_RECHECK_GRACE = 0
    recheck_at_next_request(kept)
    response = kept.get("/api/me/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401  # no grace: fail closed, as in an outage
    assert response.json()["error"] == "unreachable"


def test_a_jwt_mode_session_keeps_working_with_the_cache_down(cache_down, emulator, ada) -> None:
    client = logged_in(emulator, ada)
    cache_down()
    assert client.get("/private/").status_code == 200  # nothing to ask: no cache needed


def test_a_logout_with_the_cache_down_still_logs_out(cache_down, settings, emulator, ada) -> None:
    settings.AUTHROCKET_LOGOUT_REVOKE = True
    client = logged_in(emulator, ada)
    cache_down()
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# --- the in-site login forms (AUTHROCKET_LOGIN_FORMS) -------------------------------------------


@pytest.fixture
def ada_with_password(settings, emulator, ada):  # type: ignore[no-untyped-def]
    from tests.log_capture import TEST_PASSWORDS

    settings.AUTHROCKET_LOGIN_FORMS = True
    emulator.set_password(ada["id"], TEST_PASSWORDS[0])
    return TEST_PASSWORDS[0]


def test_an_in_site_form_login_with_the_cache_down_is_a_503(
    cache_down, emulator, ada_with_password
) -> None:
    cache_down()
    client = Client()
    posted = client.post("/form/login/", {"login": "ada", "password": ada_with_password})
    response = follow_refusal(client, posted)
    assert response.status_code == 503
    assert "_auth_user_id" not in client.session


def test_an_in_site_second_factor_step_with_the_cache_down_is_a_503(
    cache_down, emulator, ada, ada_with_password
) -> None:
    emulator.enable_totp(ada["id"])
    cache_down()
    client = Client()
    response = client.post("/form/login/", {"login": "ada", "password": ada_with_password})
    assert response.status_code == 503  # the pending login cannot be kept
    assert b"could not be reached" in response.content

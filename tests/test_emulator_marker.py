"""The emulator's tokens are trusted only in development and tests (issue 12, finding 9).

Every token and Get Session answer the emulator makes carries the ``emu`` claim, which
AuthRocket never sends. The verifier refuses it unless ``DEBUG`` or
``AUTHROCKET_ACCEPT_EMULATOR_TOKENS`` is on; ``AuthRocketEmulator.settings()`` (and so the
pytest fixture) turns the setting on, and a system check warns when it is on with DEBUG off.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.checks import Warning, run_checks

from django_authrocket import tokens
from django_authrocket.exceptions import InvalidClaims
from django_authrocket.jws import parse
from django_authrocket.testing.issuer import EMULATOR_MARKER
from django_authrocket.tokens import verify_token
from django_authrocket.verification import verify_bearer_token, verify_login_token
from tests.helpers import bearer_auth, login_with

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The marker claim (``tokens.EMULATOR_CLAIM``), spelled out: it is part of the documented contract.
EMULATOR_CLAIM = "emu"


@pytest.fixture
def production(settings, emulator):  # type: ignore[no-untyped-def]
    """A site with DEBUG off that trusts the emulator's keys but not its tokens (the default)."""
    settings.DEBUG = False
    settings.AUTHROCKET_ACCEPT_EMULATOR_TOKENS = False
    return settings


def test_every_token_and_session_answer_of_the_emulator_carries_the_marker(emulator, ada) -> None:
    assert EMULATOR_MARKER == tokens.EMULATOR_CLAIM == EMULATOR_CLAIM
    for generation in (1, 2):
        session, token = emulator.login(ada["id"], generation=generation)
        assert parse(token).claims()[EMULATOR_CLAIM] is True
        answer = requests.get(
            f"{emulator.api_url(generation)}/sessions/{session['id']}",
            headers={
                "Authrocket-Api-Key"
                if generation == 2
                else "X-Authrocket-Api-Key": emulator.api_key,
                "Accept": "application/json",
            },
            timeout=5,
        ).json()
        assert answer[EMULATOR_CLAIM] is True


@pytest.mark.parametrize("generation", [1, 2])
def test_the_verifier_refuses_emulator_tokens_with_debug_off(
    production, emulator, ada, generation
) -> None:
    if generation == 1:  # an AuthRocket 1 site: its realm secret and its /v1 Core API
        production.AUTHROCKET_JWT_KEY = emulator.jwt_secret
        production.AUTHROCKET_URL = emulator.api_url(1)
    token = emulator.mint_token(ada["id"], generation=generation)

    with pytest.raises(InvalidClaims) as refused:
        verify_token(token)

    assert refused.value.reason == "emulator_token"
    assert "emulator" in str(refused.value)


@pytest.mark.django_db
@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_the_login_view_refuses_emulator_tokens_in_both_modes(
    client, production, emulator, ada, verify
) -> None:
    production.AUTHROCKET_VERIFY = verify

    response = login_with(client, emulator.mint_token(ada["id"]))

    assert response.status_code == 401
    assert response.context["reason"] == "emulator_token"
    assert not get_user_model().objects.exists()
    with pytest.raises(InvalidClaims):
        verify_login_token(emulator.mint_token(ada["id"]))


@pytest.mark.django_db
@pytest.mark.parametrize("verify", ["jwt", "api"])
def test_bearer_requests_refuse_emulator_tokens_in_both_modes(
    client, production, emulator, ada, verify
) -> None:
    production.AUTHROCKET_VERIFY = verify
    token = emulator.mint_token(ada["id"])

    with pytest.raises(InvalidClaims):
        verify_bearer_token(token)
    assert client.get("/api/me/", **bearer_auth(token)).status_code == 401


def test_debug_on_accepts_emulator_tokens(production, emulator, ada) -> None:
    production.DEBUG = True

    assert verify_token(emulator.mint_token(ada["id"])).user.id == ada["id"]


def test_the_testing_setting_accepts_emulator_tokens_with_debug_off(
    production, emulator, ada
) -> None:
    production.AUTHROCKET_ACCEPT_EMULATOR_TOKENS = True

    assert verify_token(emulator.mint_token(ada["id"])).user.id == ada["id"]


def test_a_token_without_the_marker_is_judged_on_its_signature_alone(
    production, emulator, ada
) -> None:
    # What a real AuthRocket token looks like to the verifier: no emu claim.
    token = emulator.mint_token(ada["id"], drop_claims=[EMULATOR_CLAIM])

    assert verify_token(token).user.id == ada["id"]


def test_the_emulator_settings_and_the_fixture_turn_the_setting_on(emulator, settings) -> None:
    assert emulator.settings()["AUTHROCKET_ACCEPT_EMULATOR_TOKENS"] is True
    assert settings.AUTHROCKET_ACCEPT_EMULATOR_TOKENS is True  # applied by authrocket_emulator
    assert settings.DEBUG is False  # so the suite runs what production runs


def test_accepting_emulator_tokens_with_debug_off_is_a_check_warning(settings) -> None:
    settings.AUTHROCKET_ACCEPT_EMULATOR_TOKENS = True
    settings.DEBUG = False

    warnings = [m for m in run_checks() if m.id == "authrocket.W020"]

    assert len(warnings) == 1 and isinstance(warnings[0], Warning)
    settings.DEBUG = True
    assert not [m for m in run_checks() if m.id == "authrocket.W020"]
    settings.DEBUG = False
    settings.AUTHROCKET_ACCEPT_EMULATOR_TOKENS = False
    assert not [m for m in run_checks() if m.id == "authrocket.W020"]


def test_a_sites_own_tests_verify_emulator_tokens_through_the_fixture(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package user's suite: DEBUG off, no AuthRocket setting of its own."""
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    pytester.makepyfile(
        user_settings="""
        SECRET_KEY = "user-tests"
        DEBUG = False
        INSTALLED_APPS = []
        CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        """,
        test_user="""
        import pytest
        from django.conf import settings as django_settings

        from django_authrocket.exceptions import InvalidClaims
        from django_authrocket.tokens import verify_token

        def test_with_the_fixture(authrocket_emulator):
            user = authrocket_emulator.create_user("ada@example.com")
            token = authrocket_emulator.mint_token(user["id"])
            assert verify_token(token).user.id == user["id"]

        def test_outside_the_fixture_the_setting_is_gone(authrocket_emulator_server, settings):
            assert not hasattr(django_settings, "AUTHROCKET_ACCEPT_EMULATOR_TOKENS")
            for name, value in authrocket_emulator_server.settings().items():
                if name != "AUTHROCKET_ACCEPT_EMULATOR_TOKENS":
                    setattr(settings, name, value)
            user = authrocket_emulator_server.create_user()
            with pytest.raises(InvalidClaims):
                verify_token(authrocket_emulator_server.mint_token(user["id"]))
        """,
    )
    plugin_args: tuple[str, ...] = ()
    if not importlib.metadata.entry_points(group="pytest11", name="authrocket"):
        plugin_args = ("-p", "django_authrocket.testing.pytest_plugin")

    result = pytester.runpytest_subprocess(
        *plugin_args, "-p", "no:randomly", "--ds=user_settings", "-p", "no:cacheprovider"
    )

    result.assert_outcomes(passed=2)

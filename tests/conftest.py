"""Suite-wide fixtures and the CI rule that a skipped test is a failed test."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.log_capture"]  # every log line of the suite is scanned for secrets

#: Set by .ci/run: a test that would skip for a missing service or browser fails instead.
STRICT = os.environ.get("AUTHROCKET_CI", "") not in ("", "0")
#: Skips whose reason starts with this are by design (say, a Django version gate), not missing
#: dependencies, and stay skips in CI.
NOT_APPLICABLE = "not applicable:"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        if not reason.removeprefix("Skipped: ").startswith(NOT_APPLICABLE):
            report.outcome = "failed"
            report.longrepr = f"skipped in CI (AUTHROCKET_CI is set): {reason}"


@pytest.fixture
def emulator(authrocket_emulator):  # type: ignore[no-untyped-def]
    """The AuthRocket emulator, reset, with Django's settings pointed at it."""
    return authrocket_emulator


@pytest.fixture
def ada(emulator):  # type: ignore[no-untyped-def]
    """Ada Lovelace (username ``ada``): admin of Analytical Engines (selected), with billing:*."""
    user = emulator.create_user(
        "ada@example.com", first_name="Ada", last_name="Lovelace", username="ada"
    )
    org = emulator.create_org("Analytical Engines", reference="ae-1")
    emulator.create_membership(
        user["id"], org["id"], permissions=["ar:admin", "billing:*"], selected=True
    )
    return user


@pytest.fixture
def api_mode(settings, emulator):  # type: ignore[no-untyped-def]
    """``"api"`` verification with a one-second recheck interval."""
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_RECHECK_INTERVAL = 1
    return settings


@pytest.fixture
def ended(emulator, ada):  # type: ignore[no-untyped-def]
    """A client logged in as Ada whose session the middleware ends at its next request."""
    from django_authrocket.testing import expire_login
    from tests.helpers import logged_in

    client = logged_in(emulator, ada)
    expire_login(client, seconds_ago=60)
    return client


#: The realm's token shapes (realm option ``token_orgs``): LoginRocket's selected org only (the
#: default), every org, and no org data (a realm whose settings leave it out).
TOKEN_ORGS = ("selected", "all", "none")


@pytest.fixture(params=TOKEN_ORGS)
def token_orgs(request, emulator) -> str:  # type: ignore[no-untyped-def]
    """Run the test under each token shape in turn; the value is the shape."""
    emulator.configure(token_orgs=request.param)
    return str(request.param)

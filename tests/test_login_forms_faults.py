"""Every in-site form view against every way the LoginRocket API fails, over real HTTP.

The emulator's fault injection on each view's own endpoint: no answer, a 500, a 502, an HTML
page, a body that is not JSON, a 429, a 403 and a 404. Each gives a clear page with its own
status, never a 500, and each is one call to LoginRocket: nothing retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.log_capture import TEST_PASSWORDS

pytestmark = pytest.mark.django_db

PASSWORD, NEW_PASSWORD, _ = TEST_PASSWORDS


@dataclass
class Step:
    """One view: how to reach it, what to post, and the endpoint it calls."""

    url_name: str
    data: dict[str, str]
    api_path: str
    method: str
    prepare: Callable[[Any, Client], None] = lambda emulator, client: None


def logged_in(emulator: Any, client: Client) -> None:
    assert client.post("/form/login/", {"login": "ada", "password": PASSWORD}).status_code == 303


def pending_second_factor(emulator: Any, client: Client) -> None:
    emulator.enable_totp(emulator.get_user("ada@example.com")["id"])
    response = client.post("/form/login/", {"login": "ada", "password": PASSWORD})
    assert response["Location"] == reverse("authrocket:form_verify")


def reset_link(emulator: Any, client: Client) -> None:
    token = emulator.generate_password_token(emulator.get_user("ada@example.com")["id"])
    client.get(reverse("authrocket:form_reset_password_link", args=[token]))


def verify_link(emulator: Any, client: Client) -> None:
    client.get(reverse("authrocket:form_verify_email_link", args=["some-emailed-token"]))


NEW = {"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}
STEPS = {
    "login": Step(
        "authrocket:form_login", {"login": "ada", "password": PASSWORD}, "/v2/login", "POST"
    ),
    "verify": Step(
        "authrocket:form_verify",
        {"code": "123456"},
        "/v2/login/verify",
        "POST",
        pending_second_factor,
    ),
    "signup": Step(
        "authrocket:form_signup", {"email": "new@example.com", **NEW}, "/v2/signup", "POST"
    ),
    "forgot_password": Step(
        "authrocket:form_forgot_password",
        {"email": "ada@example.com"},
        "/v2/password/forgot",
        "POST",
    ),
    "reset_password": Step(
        "authrocket:form_reset_password", NEW, "/v2/password/reset", "POST", reset_link
    ),
    "verify_email": Step(
        "authrocket:form_verify_email", {}, "/v2/email/verify", "POST", verify_link
    ),
    "password": Step(
        "authrocket:form_password",
        {"current_password": PASSWORD, **NEW},
        "/v2/profile/password",
        "POST",
        logged_in,
    ),
    "profile": Step(
        "authrocket:form_profile",
        {"first_name": "Ada", "last_name": "King", "email": "ada@example.com"},
        "/v2/profile",
        "PUT",
        logged_in,
    ),
    "orgs": Step("authrocket:form_orgs", {"account": "<first>"}, "/v2/session", "GET", logged_in),
}
FAULTS = {
    "unreachable": ({"kind": "drop"}, 503, b"could not be reached"),
    "500": ({"kind": "status", "status": 500}, 503, b"could not be reached"),
    "502": ({"kind": "status", "status": 502}, 503, b"could not be reached"),
    "html": ({"kind": "html"}, 503, b"could not be reached"),
    "not-json": ({"kind": "malformed_json"}, 503, b"could not be reached"),
    # JSON nested past the parser's limit (RecursionError, not ValueError).
    "too deep": (
        {"kind": "body", "status": 200, "body": b"[" * 50_000 + b"]" * 50_000},
        503,
        b"could not be reached",
    ),
    "429": ({"kind": "status", "status": 429, "retry_after": 5}, 429, b"wait a moment"),
    "403": ({"kind": "status", "status": 403}, 403, b"session has expired"),
    "404": ({"kind": "status", "status": 404}, 404, b"no longer valid"),
}


@pytest.mark.parametrize("fault_name", FAULTS)
@pytest.mark.parametrize("step_name", STEPS)
def test_every_view_gives_a_clear_page_for_every_failure(
    settings, emulator, ada, step_name, fault_name
) -> None:
    settings.AUTHROCKET_LOGIN_FORMS = True
    emulator.set_password(ada["id"], PASSWORD)
    step, (fault, status, text) = STEPS[step_name], FAULTS[fault_name]
    client = Client(raise_request_exception=False)
    step.prepare(emulator, client)
    data = dict(step.data)
    if data.get("account") == "<first>":
        data["account"] = client.get("/private/").wsgi_request.authrocket.memberships[0].org.id
    emulator.inject_fault(step.api_path, method=step.method, times=None, **fault)
    before = emulator.count_requests(step.api_path, method=step.method)

    response = client.post(reverse(step.url_name), data)

    assert response.status_code == status, response.content[:500]
    assert text in response.content
    assert b"<form" in response.content  # the form again, to try once more
    assert emulator.count_requests(step.api_path, method=step.method) == before + 1

"""The fault matrix: every AuthRocket call path against every way AuthRocket can fail.

Call paths (rows): the JWKS fetch at a login in jwt mode with a cold key store, Get Session at a
login in api mode, the api-mode recheck of a logged-in browser (fail closed, and with
``AUTHROCKET_RECHECK_GRACE``), a sync page, the webhook's re-fetch of the event and its read of
the object the event names, and the revoke call of a logout (``AUTHROCKET_LOGOUT_REVOKE``).

Faults (columns): latency beyond ``AUTHROCKET_HTTP_TIMEOUT``, 500, 502, 503, 429 with and
without ``Retry-After``, connection refused (nothing listens), connection dropped before an
answer, connection reset mid-body, truncated JSON, malformed JSON, an HTML error page with 200,
the right JSON with a wrong content type, and an oversize body.

Every cell asserts: no 500 and no unhandled exception; fail closed (no login, session ended,
sync stopped with its checkpoint intact, webhook answered 503 so AuthRocket delivers again,
logout completed locally); grace where configured; nothing lost (the login token still works
once AuthRocket is back, no half-written sync page, a failed webhook event is not recorded as
processed and its redelivery works); ``Retry-After`` honoured; and no token, API key or webhook
secret in anything logged. ``docs/faults.md`` is the table of what these tests prove.

Each cell's test id names the call path, the fault and the outcome the cell expects, e.g.
``test_fault[jwks_503-login_503_token_kept]``: the call path function checks exactly the outcome
its id names.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_authrocket.client import AuthRocketClient
from django_authrocket.keys import KeyStore
from django_authrocket.models import (
    AuthRocketLogin,
    AuthRocketSyncCheckpoint,
    AuthRocketUser,
    AuthRocketWebhookEvent,
)
from django_authrocket.redaction import shown_session
from django_authrocket.sync import SyncAborted, sync
from django_authrocket.testing import (
    authrocket_session_id,
    recheck_at_next_request,
    start_login,
)
from tests.helpers import follow_refusal

pytestmark = pytest.mark.django_db

User = get_user_model()
SECRET = "whsec-fault-matrix-7c1d93be52a04f68"
WEBHOOK_URL = f"/webhook/{SECRET}/"
#: Read timeout for every call in this file; the latency fault waits longer than this.
TIMEOUT = 0.3
LATENCY = 1.0
RETRY_AFTER = 1


# --- the faults -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One column of the matrix: an emulator fault kind, or ``refused`` (nothing listens)."""

    name: str
    kind: str | None
    status: int = 503
    retry_after: int | None = None

    @property
    def rate_limited(self) -> bool:
        return self.kind == "status" and self.status == 429

    @property
    def harmless_for_key_set(self) -> bool:
        """The right key set with a wrong content type: the keys are still the keys."""
        return self.kind == "content_type"


FAULTS = [
    Fault("latency", "latency"),
    Fault("500", "status", 500),
    Fault("502", "status", 502),
    Fault("503", "status", 503),
    Fault("429", "status", 429),
    Fault("429-retry-after", "status", 429, retry_after=RETRY_AFTER),
    Fault("refused", None),
    Fault("drop", "drop"),
    Fault("reset", "reset"),
    Fault("truncated-json", "truncated_json"),
    Fault("malformed-json", "malformed_json"),
    Fault("html-200", "html"),
    Fault("content-type", "content_type"),
    Fault("oversize", "oversize"),
]


#: Faults that spoil the body of the real answer; an empty (204) answer comes through whole.
BODY_FAULTS = frozenset({"reset", "truncated_json", "content_type"})


def dead_url() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- one cell ---------------------------------------------------------------------------------


@dataclass
class Cell:
    """The state of one matrix cell: the emulator, the settings, the fault and what was logged."""

    emulator: Any
    settings: Any
    fault: Fault
    caplog: pytest.LogCaptureFixture
    user: dict[str, Any]
    #: The outcome this cell proves (the last part of its test id); see ``CallPath.outcome``.
    expected: str = ""
    secrets: list[str] = field(default_factory=list)
    restore: list[Callable[[], None]] = field(default_factory=list)

    def break_(self, path: str, method: str, *, setting: str | None = None, skip: int = 0) -> None:
        """Spoil every ``method path`` call from now on (``refused``: point ``setting`` nowhere),
        but the first ``skip`` of them."""
        fault = self.fault
        if fault.kind is None:
            assert setting is not None, "this path cannot be refused through a setting"
            good = getattr(self.settings, setting)
            base = self.emulator.url
            setattr(self.settings, setting, good.replace(base, dead_url()))
            self.restore.append(lambda: setattr(self.settings, setting, good))
            return
        self.emulator.inject_fault(
            path,
            method=method,
            kind=fault.kind,
            status=fault.status,
            retry_after=fault.retry_after,
            delay=LATENCY,
            times=None,
            skip=skip,
        )

    def heal(self) -> None:
        """AuthRocket is back."""
        self.emulator.clear_faults()
        for undo in self.restore:
            undo()
        self.restore.clear()

    def token(self) -> str:
        token = self.emulator.mint_token(self.user["id"])
        self.secrets += [token, token.rsplit(".", 1)[-1]]
        return token

    def spoiled(self) -> list[Any]:
        """The requests the emulator spoiled with the injected fault."""
        return [r for r in self.emulator.requests if r.fault]

    def logged(self) -> str:
        """Every captured log line of the app (and Django), emulator chatter left out."""
        return "\n".join(
            f"{r.levelname} {r.name}: {r.getMessage()} {r.exc_text or ''}"
            for r in self.caplog.records
            if not r.name.startswith("django_authrocket.testing")
        )

    def warned(self, text: str) -> bool:
        return any(
            text in r.getMessage() and r.levelno >= logging.WARNING
            for r in self.caplog.records
            if r.name.startswith("django_authrocket")
        )


@pytest.fixture
def cell_factory(settings, emulator, ada, caplog):
    settings.AUTHROCKET_HTTP_TIMEOUT = TIMEOUT
    settings.AUTHROCKET_HTTP_RETRIES = 0
    settings.AUTHROCKET_WEBHOOK_SECRET = SECRET
    caplog.set_level(logging.DEBUG, logger="django_authrocket")
    caplog.set_level(logging.INFO, logger="django_authrocket.testing")
    cells: list[Cell] = []

    def make(fault: Fault, expected: str = "") -> Cell:
        if fault.rate_limited:
            settings.AUTHROCKET_HTTP_RETRIES = 1  # one retry: enough to see Retry-After honoured
        cell = Cell(emulator, settings, fault, caplog, ada, expected)
        cell.secrets += [emulator.api_key, SECRET]
        cells.append(cell)
        return cell

    yield make
    for cell in cells:
        cell.heal()


def assert_retry_after_honoured(cell: Cell, *, budget: float | None = None) -> None:
    """A 429 was retried once, after the server's ``Retry-After`` when it sent one.

    ``budget``: the call path runs in a web request, whose retry pauses may add up to that
    many seconds (``AUTHROCKET_HTTP_TIMEOUT``). A ``Retry-After`` beyond it is not waited for:
    the request gives up at once (AuthRocket unreachable), after one call.
    """
    if not cell.fault.rate_limited:
        return
    retry_after = cell.fault.retry_after
    if budget is not None and retry_after is not None and retry_after > budget:
        assert len(cell.spoiled()) == 1
        return
    first, second = cell.spoiled()
    assert second.path == first.path
    if cell.fault.retry_after is not None:
        assert second.at - first.at >= cell.fault.retry_after * 0.9


def assert_nothing_secret_logged(cell: Cell) -> None:
    text = cell.logged()
    for secret in cell.secrets:
        assert secret not in text, "a token, the API key or the webhook secret was logged"


def assert_bounded(started: float, cell: Cell) -> None:
    """The call path gave up in time: one timeout per attempt, plus Retry-After waits (a web
    request's pauses are capped lower still, at ``AUTHROCKET_HTTP_TIMEOUT`` in all)."""
    waits = RETRY_AFTER + 0.5 if cell.fault.rate_limited else 0
    assert time.monotonic() - started < 2 * TIMEOUT + waits + 1.5


def login(client: Client, token: str, **params: str):
    """The login view's answer; a refusal is followed to the failure page."""
    start_login(client)  # as a browser: the site's login start leaves the login marker
    return follow_refusal(client, client.get("/login/", {"token": token, **params}))


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- the call paths ---------------------------------------------------------------------------


def jwks_fetch(cell: Cell) -> None:
    """A login in jwt mode with no keys cached: the key set must be fetched first."""
    KeyStore.for_settings().clear()
    token = cell.token()
    cell.break_("/connect/jwks", "GET", setting="AUTHROCKET_LOGINROCKET_URL")
    client = Client()
    started = time.monotonic()

    response = login(client, token, next="/private/")

    assert_bounded(started, cell)
    if cell.expected == "login_succeeds":
        # The key set is parsed and checked as a key set; a proxy's text/plain label on the
        # right document changes nothing.
        assert response.status_code == 302 and is_logged_in(client)
        return
    assert cell.expected == "login_503_token_kept"
    assert response.status_code == 503
    assert b"could not be reached" in response.content
    assert not is_logged_in(client)
    assert cell.warned("Could not fetch LoginRocket signing keys")
    assert_retry_after_honoured(cell, budget=TIMEOUT)
    # Nothing lost: the refused token was not spent, and logs in once LoginRocket is back.
    cell.heal()
    KeyStore.for_settings().clear()
    assert login(client, token).status_code == 302 and is_logged_in(client)


def get_session_at_login(cell: Cell) -> None:
    """A login in api mode: Get Session with the token."""
    cell.settings.AUTHROCKET_VERIFY = "api"
    token = cell.token()
    cell.break_("/api/v2/sessions/*", "GET", setting="AUTHROCKET_URL")
    client = Client()
    started = time.monotonic()

    response = login(client, token, next="/private/")

    assert_bounded(started, cell)
    assert response.status_code == 503
    assert b"could not be reached" in response.content
    assert not is_logged_in(client) and not AuthRocketLogin.objects.exists()
    assert cell.warned("AuthRocket login could not be checked")
    assert_retry_after_honoured(cell, budget=TIMEOUT)
    cell.heal()
    assert login(client, token).status_code == 302 and is_logged_in(client)


def _logged_in_past_next_check(cell: Cell) -> Client:
    cell.settings.AUTHROCKET_VERIFY = "api"
    client = Client()
    assert login(client, cell.token()).status_code == 302
    recheck_at_next_request(client)
    cell.emulator.clear_requests()
    return client


def recheck(cell: Cell) -> None:
    """api mode, no grace: a browser whose session is due for its recheck."""
    client = _logged_in_past_next_check(cell)
    cell.break_("/api/v2/sessions/*", "GET", setting="AUTHROCKET_URL")
    started = time.monotonic()

    response = client.get("/private/")

    assert_bounded(started, cell)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/private/"
    assert not is_logged_in(client) and not AuthRocketLogin.objects.exists()
    assert cell.warned("could not be rechecked")
    assert cell.warned("AuthRocket unreachable; ending session")
    assert_retry_after_honoured(cell, budget=TIMEOUT)


def recheck_api_client(cell: Cell) -> None:
    """The same, for a fetch()/API caller: a 401 JSON answer instead of a redirect."""
    client = _logged_in_past_next_check(cell)
    cell.break_("/api/v2/sessions/*", "GET", setting="AUTHROCKET_URL")

    response = client.get("/api/me/", HTTP_ACCEPT="application/json")

    assert response.status_code == 401
    assert response.json()["error"] == "unreachable"
    assert not is_logged_in(client)


def recheck_grace(cell: Cell) -> None:
    """api mode with ``AUTHROCKET_RECHECK_GRACE``: the session outlives the outage."""
    cell.settings.AUTHROCKET_RECHECK_GRACE = 60
    client = _logged_in_past_next_check(cell)
    cell.break_("/api/v2/sessions/*", "GET", setting="AUTHROCKET_URL")

    response = client.get("/private/")

    assert response.status_code == 200 and response.json()["username"] == "ada"
    assert is_logged_in(client)
    assert cell.warned("keeping session")
    assert_retry_after_honoured(cell, budget=TIMEOUT)
    # The next request inside the grace asks nobody again (the next check was moved on).
    calls = len(cell.emulator.requests)
    assert client.get("/private/").status_code == 200
    assert len(cell.emulator.requests) == calls


def bearer_api(cell: Cell) -> None:
    """An API call with ``Authorization: Bearer <token>`` in api mode: Get Session fails."""
    cell.settings.AUTHROCKET_VERIFY = "api"
    token = cell.token()
    cell.break_("/api/v2/sessions/*", "GET", setting="AUTHROCKET_URL")
    started = time.monotonic()

    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_bounded(started, cell)
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable" and response["Retry-After"] == "5"
    assert cell.warned("Bearer token could not be checked")
    assert_retry_after_honoured(cell, budget=TIMEOUT)


def sync_page(cell: Cell) -> None:
    """``sync()`` of users, two per page: the second page fails for good."""
    users = [cell.user] + [
        cell.emulator.create_user(f"person{i}@example.com", username=f"person{i}") for i in range(4)
    ]
    settings = cell.settings
    client = AuthRocketClient(
        settings.AUTHROCKET_URL,
        settings.AUTHROCKET_API_KEY,
        realm=settings.AUTHROCKET_REALM,
        timeout=TIMEOUT,
        retries=settings.AUTHROCKET_HTTP_RETRIES,
    )

    committed: dict[str, Any] = {}

    def fail_after_first(page: Any) -> None:
        if page.number == 1:
            committed["last_id"] = page.last_id
            committed["ids"] = set(AuthRocketUser.objects.values_list("authrocket_id", flat=True))
            if cell.fault.kind is None:
                client.api_url = dead_url() + "/api/v2"

    # The sync asks for page 2 while it writes page 1: a fault breaks every listing after the
    # first from the start. A refused connection is a dead URL swapped in once page 1 is
    # committed, so that run fetches each page only after the one before.
    if cell.fault.kind is not None:
        cell.break_("/api/v2/users", "GET", skip=1)
    cell.emulator.clear_requests()
    started = time.monotonic()
    with pytest.raises(SyncAborted) as aborted:
        sync(
            ["users"],
            batch_size=2,
            client=client,
            on_page=fail_after_first,
            fetch_ahead=cell.fault.kind is not None,
        )

    assert_bounded(started, cell)
    assert "checkpoint is kept" in str(aborted.value)
    checkpoint = AuthRocketSyncCheckpoint.objects.get(resource="users")
    assert checkpoint.last_id == committed["last_id"] and checkpoint.completed_at is None
    # Exactly the committed page: nothing of the failed page was half written.
    assert len(committed["ids"]) == 2
    assert set(AuthRocketUser.objects.values_list("authrocket_id", flat=True)) == committed["ids"]
    assert User.objects.count() == 2
    assert_secret_free(str(aborted.value), cell)
    assert_retry_after_honoured(cell)
    # Nothing lost: the next run resumes after the checkpoint and completes.
    cell.heal()
    report = sync(["users"], batch_size=2)
    assert report.resumed_after == {"users": committed["last_id"]}
    assert AuthRocketUser.objects.count() == len(users)


def assert_secret_free(text: str, cell: Cell) -> None:
    for secret in cell.secrets:
        assert secret not in text


def _post_event(client: Client, event: dict[str, Any]):
    return client.post(WEBHOOK_URL, json.dumps(event).encode(), content_type="application/json")


def _renamed_ada_event(cell: Cell) -> dict[str, Any]:
    sync(["users"])
    cell.emulator.update_user(cell.user["id"], first_name="Augusta")
    event = [e for e in cell.emulator.events if e["event_type"] == "user.updated"][-1]
    cell.emulator.clear_requests()
    return event


def _webhook_fails_then_redelivery_works(cell: Cell, event: dict[str, Any]) -> None:
    client = Client()
    started = time.monotonic()

    response = _post_event(client, event)

    assert_bounded(started, cell)
    assert response.status_code == 503  # AuthRocket delivers it again later
    assert "deliver again later" in response.json()["error"]
    assert not AuthRocketWebhookEvent.objects.filter(event_id=event["id"]).exists()
    assert User.objects.get(authrocket__authrocket_id=cell.user["id"]).first_name == "Ada"
    assert cell.warned("AuthRocket will retry")
    assert_retry_after_honoured(cell)
    cell.heal()
    redelivered = _post_event(client, event)
    assert redelivered.status_code == 200, redelivered.content
    assert AuthRocketWebhookEvent.objects.filter(event_id=event["id"]).exists()
    assert User.objects.get(authrocket__authrocket_id=cell.user["id"]).first_name == "Augusta"


def webhook_refetch(cell: Cell) -> None:
    """A ``user.updated`` event with ``AUTHROCKET_WEBHOOK_REFETCH``: ``GET /events/:id`` fails."""
    cell.settings.AUTHROCKET_WEBHOOK_REFETCH = True
    event = _renamed_ada_event(cell)
    cell.break_("/api/v2/events/*", "GET", setting="AUTHROCKET_URL")
    _webhook_fails_then_redelivery_works(cell, event)


def webhook_read(cell: Cell) -> None:
    """The same event without re-fetch: reading the user it names (``GET /users/:id``) fails."""
    cell.settings.AUTHROCKET_WEBHOOK_REFETCH = False
    event = _renamed_ada_event(cell)
    cell.break_("/api/v2/users/*", "GET", setting="AUTHROCKET_URL")
    _webhook_fails_then_redelivery_works(cell, event)


def logout_revoke(cell: Cell) -> None:
    """``POST /logout/`` with ``AUTHROCKET_LOGOUT_REVOKE``: ``DELETE /sessions/:id`` fails."""
    cell.settings.AUTHROCKET_LOGOUT_REVOKE = True
    client = Client()
    assert login(client, cell.token()).status_code == 302
    session_id = authrocket_session_id(client)
    cell.emulator.clear_requests()
    cell.break_("/api/v2/sessions/*", "DELETE", setting="AUTHROCKET_URL")
    started = time.monotonic()

    response = client.post("/logout/")

    assert_bounded(started, cell)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{cell.emulator.loginrocket_url}/logout?session=")
    assert not is_logged_in(client) and not AuthRocketLogin.objects.exists()
    assert client.get("/private/").status_code == 302
    deletes = cell.emulator.count_requests(f"/api/v2/sessions/{session_id}", "DELETE")
    if cell.expected == "logout_completes_revoke_succeeds":
        # AuthRocket did end the session and its answer has no body to spoil: a success.
        assert not cell.warned("Could not revoke")
        assert deletes == 1
        return
    assert cell.expected == "logout_completes_revoke_warned"
    assert cell.warned(f"Could not revoke AuthRocket session {shown_session(session_id)}")
    assert_retry_after_honoured(cell)
    if not cell.fault.rate_limited and cell.fault.kind is not None:
        assert deletes == 1  # not idempotent: never sent twice, even with retries configured


@dataclass(frozen=True)
class CallPath:
    """One row of the matrix: the function that drives it, and what it expects under a fault."""

    run: Callable[[Cell], None]
    outcome: Callable[[Fault], str]


def _always(outcome: str) -> Callable[[Fault], str]:
    return lambda fault: outcome


PATHS: dict[str, CallPath] = {
    "jwks": CallPath(
        jwks_fetch,
        lambda fault: "login_succeeds" if fault.harmless_for_key_set else "login_503_token_kept",
    ),
    "login-api": CallPath(get_session_at_login, _always("login_503_token_kept")),
    "recheck": CallPath(recheck, _always("session_ends_redirect_to_login")),
    "recheck-json": CallPath(recheck_api_client, _always("session_ends_401_json")),
    "recheck-grace": CallPath(recheck_grace, _always("session_kept_within_grace")),
    "bearer-api": CallPath(bearer_api, _always("api_503_with_retry_after")),
    "sync": CallPath(sync_page, _always("sync_stops_checkpoint_kept_then_resumes")),
    "webhook-refetch": CallPath(webhook_refetch, _always("webhook_503_redelivery_applied")),
    "webhook-read": CallPath(webhook_read, _always("webhook_503_redelivery_applied")),
    "logout-revoke": CallPath(
        logout_revoke,
        lambda fault: (
            "logout_completes_revoke_succeeds"
            if fault.kind in BODY_FAULTS
            else "logout_completes_revoke_warned"
        ),
    ),
}


def matrix_cells() -> list[Any]:
    """Every (call path, fault) pair with the outcome it expects, ids like
    ``jwks_503-login_503_token_kept``: the scenario, then the expectation."""
    cells = []
    for path, call in PATHS.items():
        for fault in FAULTS:
            expected = call.outcome(fault)
            scenario = f"{path}_{fault.name}".replace("-", "_")
            cells.append(pytest.param(path, fault, expected, id=f"{scenario}-{expected}"))
    return cells


@pytest.mark.parametrize(("path", "fault", "expected"), matrix_cells())
def test_fault(cell_factory, path: str, fault: Fault, expected: str) -> None:
    cell = cell_factory(fault, expected)

    PATHS[path].run(cell)

    assert_nothing_secret_logged(cell)
    assert not any(r.exc_info for r in cell.caplog.records if r.name.startswith("django"))
    assert cell.emulator.server_errors == []


# --- beyond the cells -------------------------------------------------------------------------


def test_the_sync_command_reports_a_failed_page_without_a_traceback(cell_factory, emulator) -> None:
    from django.core.management import CommandError, call_command

    cell = cell_factory(Fault("503", "status", 503))
    cell.break_("/api/v2/users", "GET")
    with pytest.raises(CommandError, match="checkpoint is kept"):
        call_command("authrocket_sync", "--users")
    assert AuthRocketSyncCheckpoint.objects.get(resource="users").completed_at is None
    assert_nothing_secret_logged(cell)


def test_a_failed_key_fetch_is_not_repeated_by_every_login(cell_factory, emulator, ada) -> None:
    """While LoginRocket is down, logins wait for the refetch interval instead of piling on."""
    cell = cell_factory(Fault("503", "status", 503))
    KeyStore.for_settings().clear()
    cell.break_("/connect/jwks", "GET")
    for _ in range(5):
        assert login(Client(), cell.token()).status_code == 503
    assert emulator.count_requests("/connect/jwks") == 1


def test_one_recheck_outage_answer_is_shared_by_every_request(cell_factory, emulator) -> None:
    """With grace, a second browser of the same session does not ask the API again."""
    cell = cell_factory(Fault("503", "status", 503))
    cell.settings.AUTHROCKET_RECHECK_GRACE = 60
    client = _logged_in_past_next_check(cell)
    cell.break_("/api/v2/sessions/*", "GET")
    assert client.get("/private/").status_code == 200
    recheck_at_next_request(client)
    assert client.get("/private/").status_code == 200
    assert emulator.count_requests("/api/v2/sessions/*") == 1


def test_a_key_set_retry_after_beyond_the_limit_is_not_waited_for(cell_factory, emulator) -> None:
    cell = cell_factory(Fault("429-long", "status", 429, retry_after=120))
    KeyStore.for_settings().clear()
    cell.break_("/connect/jwks", "GET")
    started = time.monotonic()

    assert login(Client(), cell.token()).status_code == 503

    assert time.monotonic() - started < 2
    assert emulator.count_requests("/connect/jwks") == 1


@pytest.mark.parametrize(
    ("case", "status"),
    [
        pytest.param(case, status, id=f"{case.replace('-', '_')}-refused_{status}")
        for case, status in [
            ("get", 405),
            ("basic-auth", 401),
            ("too-large", 413),
            ("not-json", 400),
            ("not-an-event", 400),
        ]
    ],
)
def test_webhook_refusals_log_the_reason_but_never_the_secret(
    cell_factory, settings, case: str, status: int
) -> None:
    cell = cell_factory(Fault("none", None))
    client = Client()
    body: bytes = json.dumps({"id": "ev_1", "event_type": "invoice.paid"}).encode()
    if case == "basic-auth":
        settings.AUTHROCKET_WEBHOOK_BASIC_AUTH = "authrocket:hook-password-1"
        cell.secrets.append("hook-password-1")
    elif case == "too-large":
        body = b" " * (256 * 1024 + 1)
    elif case == "not-json":
        body = b"{"
    elif case == "not-an-event":  # an unknown type is acknowledged: only a non-event is refused
        body = json.dumps({"id": "ev_1", "event_type": "invoice.paid", "object": "user"}).encode()
    if case == "get":
        response = client.get(WEBHOOK_URL)
    else:
        response = client.post(WEBHOOK_URL, body, content_type="application/json")

    assert response.status_code == status
    assert cell.warned("AuthRocket webhook refused")
    assert_nothing_secret_logged(cell)
    assert not AuthRocketWebhookEvent.objects.exists()

"""Token redaction in log lines: ``redact``, the logger filter, and that the module is a leaf."""

from __future__ import annotations

import ast
import base64
import json
import logging
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIRequestHandler

from django_authrocket import redaction
from django_authrocket.redaction import FILTERED_LOGGERS, URLLIB3_LOGGER, redact, redact_tokens


def test_redact_masks_tokens_and_session_ids_and_leaves_other_ids_alone(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    assert redact(f"GET /v2/sessions/{token} HTTP/1.1") == "GET /v2/sessions/<token> HTTP/1.1"
    assert redact(f"/login/?token={token}&next=/") == "/login/?token=<token>&next=/"
    # A session id is a credential too (LoginRocket trades one for a token): a digest remains.
    masked = f"<session sha256:{redaction.digest('kss_1234567890abcdef')}>"
    assert redact("GET /v2/sessions/kss_1234567890abcdef HTTP/1.1") == (
        f"GET /v2/sessions/{masked} HTTP/1.1"
    )
    assert redact("/logout?session=kss_1234567890abcdef&x=1") == f"/logout?session={masked}&x=1"
    for harmless in (
        "GET /v2/users/usr_1234567890abcdef HTTP/1.1",
        "/static/app.min.js",
        "tasks_are_done",
    ):
        assert redact(harmless) == harmless


def test_redact_masks_a_token_whose_header_json_starts_with_a_line_break() -> None:
    def part(data: object) -> str:
        text = json.dumps(data, indent=1)  # "{\n ...": base64url starts "ew", not "ey"
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'RS256'})}.{part({'sub': 'usr_1'})}.c2lnbmF0dXJl"
    assert token.startswith("ew")
    assert redact(f"GET /v2/sessions/{token}") == "GET /v2/sessions/<token>"


def test_the_urllib3_filter_masks_the_url_argument_only(emulator, ada) -> None:
    token = emulator.mint_token(ada["id"])
    record = logging.LogRecord(
        URLLIB3_LOGGER,
        logging.DEBUG,
        __file__,
        1,
        '%s://%s:%s "%s %s %s" %s %s',
        (
            "https",
            "eyeglasses-shop.example.com",
            443,
            "GET",
            f"/v2/sessions/{token}",
            "HTTP/1.1",
            200,
            10,
        ),
        None,
    )
    assert redact_tokens(record) is True
    assert record.getMessage() == (
        'https://eyeglasses-shop.example.com:443 "GET /v2/sessions/<token> HTTP/1.1" 200 10'
    )
    assert redact_tokens in logging.getLogger(URLLIB3_LOGGER).filters  # installed by apps.py


class Lines(logging.Handler):
    """The formatted lines a logger writes."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.mark.parametrize("status", ["302", "401", "500"])
def test_runservers_request_log_shows_no_token(emulator, ada, status) -> None:
    """Django's own request log line, as runserver writes it for LoginRocket's return."""
    token = emulator.mint_token(ada["id"])
    lines = Lines()
    server_log = logging.getLogger("django.server")
    server_log.addHandler(lines)
    handler = object.__new__(WSGIRequestHandler)  # just enough of one to call log_message
    handler.request = None
    try:
        handler.log_message(
            '"%s" %s %s', f"GET /login/?next=%2F&token={token} HTTP/1.1", status, "0"
        )
    finally:
        server_log.removeHandler(lines)

    assert lines.lines == [f'"GET /login/?next=%2F&token=<token> HTTP/1.1" {status} 0']


def test_the_app_filters_urllib3_and_djangos_request_loggers() -> None:
    assert set(FILTERED_LOGGERS) == {URLLIB3_LOGGER, "django.server", "django.request"}
    for name in FILTERED_LOGGERS:
        assert logging.getLogger(name).filters.count(redact_tokens) == 1, name


def test_redaction_is_a_leaf_module_that_imports_nothing_from_the_package() -> None:
    tree = ast.parse(Path(redaction.__file__).read_text())
    imported = [
        node.module or "" if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative
    assert not [name for name in imported if name.split(".")[0] == "django_authrocket"]

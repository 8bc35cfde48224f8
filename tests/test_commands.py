"""The management commands: ``authrocket_check`` and ``authrocket_emulator``."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from django.core.management import CommandError, call_command

from tests.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]


def check_report(*args: str) -> tuple[dict[str, Any], CommandError | None]:
    """Run ``authrocket_check --json``: the report, and the CommandError if it failed."""
    out = io.StringIO()
    try:
        call_command("authrocket_check", "--json", *args, stdout=out)
    except CommandError as exc:
        return json.loads(out.getvalue()), exc
    return json.loads(out.getvalue()), None


def live(report: dict[str, Any], name: str) -> dict[str, Any]:
    [check] = [check for check in report["live"] if check["name"] == name]
    return check


def setting(report: dict[str, Any], name: str) -> dict[str, Any]:
    [row] = [row for row in report["settings"] if row["name"] == name]
    return row


# --- authrocket_check -------------------------------------------------------------------------


def test_check_against_a_working_realm_reports_ok(authrocket_emulator) -> None:
    report, error = check_report()

    assert error is None
    assert report["ok"] is True and report["errors"] == 0
    key_set = live(report, "key_set")
    assert key_set["status"] == "ok"
    # The emulator is shared by the whole run: earlier tests may have rotated its keys.
    assert sorted(key_set["details"]["kids"]) == sorted(
        k["kid"] for k in authrocket_emulator.jwks["keys"]
    )
    assert live(report, "core_api")["status"] == "ok"
    assert report["verification"] == {
        "mode": "jwt",
        "meaning": "the token's signature is checked locally",
        "algorithm": "RS256",
        "keys": "LoginRocket's key set (JWKS)",
        "cache": report["verification"]["cache"],  # see test_the_report_says_whether_...
    }


def test_check_reports_each_setting_with_its_source(
    authrocket_emulator, settings, monkeypatch
) -> None:
    del settings.AUTHROCKET_LOGINROCKET_URL
    monkeypatch.delenv("LOGINROCKET_URL", raising=False)
    monkeypatch.setenv("AUTHROCKET_LOGIN_URL", authrocket_emulator.loginrocket_url)

    report, _ = check_report("--no-network")

    assert setting(report, "AUTHROCKET_LOGINROCKET_URL") == {
        "name": "AUTHROCKET_LOGINROCKET_URL",
        "value": authrocket_emulator.loginrocket_url,
        "source": "$AUTHROCKET_LOGIN_URL",
        "masked": False,
        "error": None,
    }
    assert setting(report, "AUTHROCKET_URL")["source"] == "settings.AUTHROCKET_URL"
    assert setting(report, "AUTHROCKET_JWT_LEEWAY")["source"] == "default"
    assert setting(report, "AUTHROCKET_JWT_LEEWAY")["value"] == 5


def test_check_masks_secrets_in_both_reports(authrocket_emulator, settings) -> None:
    settings.AUTHROCKET_WEBHOOK_SECRET = "whs_0123456789abcdefghijklmnopqrstuvwxyz"
    text = io.StringIO()
    call_command("authrocket_check", stdout=text)
    report, _ = check_report()

    for output in (text.getvalue(), json.dumps(report, ensure_ascii=False)):
        assert authrocket_emulator.api_key not in output
        assert settings.AUTHROCKET_WEBHOOK_SECRET not in output
    api_key = setting(report, "AUTHROCKET_API_KEY")
    assert api_key["masked"] is True
    assert api_key["value"] == f"ks_em… ({len(authrocket_emulator.api_key)} chars)"


def test_an_hs256_secret_is_masked_and_the_key_set_is_not_fetched(
    authrocket_emulator, settings
) -> None:
    settings.AUTHROCKET_JWT_KEY = secret = "jsk_" + "s3cr3t" * 8

    report, error = check_report()

    assert error is None
    assert secret not in json.dumps(report)
    assert setting(report, "AUTHROCKET_JWT_KEY")["value"].startswith("HS256 secret jsk_")
    assert report["verification"]["algorithm"] == "HS256"
    assert live(report, "key_set")["status"] == "skipped"
    assert authrocket_emulator.count_requests("/connect/jwks") == 0


def test_in_api_mode_only_the_core_api_is_called(authrocket_emulator, settings) -> None:
    settings.AUTHROCKET_VERIFY = "api"

    report, error = check_report()

    assert error is None
    assert report["verification"]["algorithm"] is None
    assert live(report, "key_set")["status"] == "skipped"
    assert live(report, "core_api")["status"] == "ok"
    assert authrocket_emulator.count_requests("/connect/jwks") == 0


def test_an_unreachable_key_set_is_an_error(authrocket_emulator) -> None:
    authrocket_emulator.inject_fault("/connect/jwks", status=503, times=None)

    report, error = check_report()

    assert error is not None
    assert report["ok"] is False
    key_set = live(report, "key_set")
    assert key_set["status"] == "error"
    assert key_set["details"]["http_status"] == 503
    assert live(report, "core_api")["status"] == "ok"


def test_an_unreachable_loginrocket_url_names_the_host_the_reason_and_a_hint(
    authrocket_emulator, settings
) -> None:
    port = free_port()  # nothing listens there
    settings.AUTHROCKET_LOGINROCKET_URL = f"http://127.0.0.1:{port}"

    report, error = check_report()

    assert error is not None
    key_set = live(report, "key_set")
    assert key_set["status"] == "error"
    assert key_set["summary"].startswith(f"cannot reach 127.0.0.1:{port} (connection refused")
    assert "AUTHROCKET_LOGINROCKET_URL" in key_set["summary"]
    assert "authrocket_emulator" in key_set["summary"]  # the hint
    assert key_set["details"]["host"] == f"127.0.0.1:{port}"
    assert key_set["details"]["error"] == "ConnectionError"


def test_an_unreachable_core_api_names_the_host_the_reason_and_a_hint(
    authrocket_emulator, settings
) -> None:
    port = free_port()
    settings.AUTHROCKET_URL = f"http://127.0.0.1:{port}/v2"
    settings.AUTHROCKET_HTTP_RETRIES = 0

    report, error = check_report()

    assert error is not None
    core_api = live(report, "core_api")
    assert core_api["summary"].startswith(f"cannot reach 127.0.0.1:{port} (connection refused")
    assert "AUTHROCKET_URL" in core_api["summary"]
    assert core_api["details"]["error"] == "APIUnavailable"
    assert live(report, "key_set")["status"] == "ok"


def test_a_loginrocket_url_that_never_answers_is_a_timeout_with_a_hint(
    authrocket_emulator, settings
) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        settings.AUTHROCKET_LOGINROCKET_URL = f"http://127.0.0.1:{port}"
        settings.AUTHROCKET_HTTP_TIMEOUT = 0.3

        report, _ = check_report()

    summary = live(report, "key_set")["summary"]
    assert summary.startswith(f"cannot reach 127.0.0.1:{port} (no answer within 0.3 s)")
    assert "AUTHROCKET_HTTP_TIMEOUT" in summary


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (socket.gaierror(-2, "Name or service not known"), "the host name does not resolve"),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (ssl.SSLError(1, "certificate verify failed"), "the TLS handshake failed"),
        (ConnectionResetError(104, "Connection reset by peer"), "the connection was reset"),
        (OSError("something else"), "ConnectionError"),
    ],
)
def test_the_reason_is_read_from_under_requests_own_error(cause, reason) -> None:
    """requests wraps urllib3's error, which wraps (or names as ``reason``) the socket's."""
    from django_authrocket.management.commands.authrocket_check import unreachable

    try:
        try:
            raise cause
        except OSError as inner:
            raise urllib3.exceptions.NewConnectionError(None, "failed") from inner
    except urllib3.exceptions.NewConnectionError as connection_error:
        wrapped = urllib3.exceptions.MaxRetryError(None, "/connect/jwks", connection_error)
    error = requests.ConnectionError(wrapped)

    message = unreachable("https://realm.example.com/connect/jwks", error, "SOME_URL")

    assert message.startswith(f"cannot reach realm.example.com:443 ({reason}")
    assert "SOME_URL" in message


def test_a_wrong_api_key_is_an_error_with_the_request_id(authrocket_emulator, settings) -> None:
    settings.AUTHROCKET_API_KEY = wrong = "ks_wrong_0123456789abcdef"

    report, error = check_report()

    assert error is not None
    core_api = live(report, "core_api")
    assert core_api["status"] == "error"
    assert core_api["details"]["error"] == "AuthenticationFailed"
    assert core_api["details"]["http_status"] in (401, 403)
    assert core_api["details"]["request_id"].startswith("rq_")
    assert core_api["details"]["request_id"] in core_api["summary"]
    assert wrong not in json.dumps(report)


def test_a_failed_system_check_is_reported_and_fails_the_command(
    authrocket_emulator, settings
) -> None:
    settings.AUTHROCKET_VERIFY = "signature"

    report, error = check_report("--no-network")

    assert error is not None
    assert "authrocket.E002" in {check["id"] for check in report["checks"]}


def test_no_network_makes_no_request(authrocket_emulator) -> None:
    report, _ = check_report("--no-network")

    assert report["live"] is None
    assert authrocket_emulator.count_requests() == 0


def test_the_text_report_has_every_section(authrocket_emulator) -> None:
    out = io.StringIO()
    call_command("authrocket_check", stdout=out)

    text = out.getvalue()
    for heading in ("Settings", "System checks", "Verification", "Connectivity"):
        assert heading in text
    published = len(authrocket_emulator.jwks["keys"])
    assert f"OK      key_set: {authrocket_emulator.url}/connect/jwks: {published} key(s)" in text
    assert "0 error(s)" in text


# --- authrocket_emulator ----------------------------------------------------------------------


def test_emulator_command_serves_until_sigterm() -> None:
    port = free_port()
    command = [sys.executable, "-m", "django", "authrocket_emulator", "--port", str(port)]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        jwks = None
        deadline = time.monotonic() + 15
        with requests.Session() as http:
            http.trust_env = False
            while jwks is None and time.monotonic() < deadline and process.poll() is None:
                try:
                    jwks = http.get(f"http://127.0.0.1:{port}/connect/jwks", timeout=1)
                except requests.ConnectionError:
                    time.sleep(0.1)
        assert jwks is not None, process.stderr.read() if process.poll() is not None else ""
        assert jwks.status_code == 200 and jwks.json()["keys"]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        stdout = process.stdout.read()
        assert f"running at http://127.0.0.1:{port}" in stdout
        assert f"export LOGINROCKET_URL=http://127.0.0.1:{port}" in stdout
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])
def test_emulator_command_refuses_a_public_address_without_allow_remote(host) -> None:
    with pytest.raises(CommandError, match="--allow-remote"):
        call_command("authrocket_emulator", "--host", host)


def test_emulator_command_and_console_script_take_the_same_options() -> None:
    from django_authrocket.management.commands.authrocket_emulator import Command
    from django_authrocket.testing.cli import build_parser

    ours = build_parser().parse_args([]).__dict__
    command = Command().create_parser("manage.py", "authrocket_emulator").parse_args([]).__dict__
    assert ours.items() <= command.items()  # every option, with the same default
    assert ours["port"] == 8765
    assert ours["allow_remote"] is False


def test_the_console_script_refuses_a_public_address_without_allow_remote(capsys) -> None:
    from django_authrocket.testing.cli import main

    assert main(["--host", "0.0.0.0", "--port", "0"]) == 1
    assert "--allow-remote" in capsys.readouterr().err


def test_loading_the_commands_does_not_import_the_emulator() -> None:
    code = (
        "import sys, django; django.setup()\n"
        "from django.core.management import load_command_class\n"
        "load_command_class('django_authrocket', 'authrocket_check').create_parser('m', 'c')\n"
        "load_command_class('django_authrocket', 'authrocket_emulator')\n"
        "print(sorted(m for m in sys.modules if m.startswith('django_authrocket.testing')))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_the_report_says_whether_the_cache_is_shared(settings, authrocket_emulator) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    report, _ = check_report("--no-network")
    assert "NOT shared" in report["verification"]["cache"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "c"}
    }
    report, _ = check_report("--no-network")
    assert "shared by every worker" in report["verification"]["cache"]

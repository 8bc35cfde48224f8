"""The ``authrocket-emulator`` command and its demo data."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from django_authrocket.testing import AuthRocketEmulator
from django_authrocket.testing.cli import describe, main
from django_authrocket.testing.demo import DEMO_STAFF_ORG, seed_demo_users

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_command_serves_until_terminated_and_prints_the_settings() -> None:
    command = [sys.executable, "-m", "django_authrocket.testing.cli", "--port", "0"]
    command += ["--api-key", "ks_cli", "--seed-demo-users", "--login-url", "https://site.example/"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        match = re.search(r"running at (http://127\.0\.0\.1:\d+)", first_line)
        assert match, first_line
        url = match[1]
        with requests.Session() as http:
            http.trust_env = False
            users = http.get(
                url + "/api/v2/users",
                headers={"Authrocket-Api-Key": "ks_cli", "Accept": "application/json"},
            )
        process.send_signal(signal.SIGTERM)
        rest = process.stdout.read()
        assert process.wait(timeout=10) == 0

    assert users.status_code == 200
    assert len(users.json()["collection"]) == 4
    assert f"AUTHROCKET_URL = '{url}/api/v2'" in rest
    assert f"export LOGINROCKET_URL={url}" in rest
    assert "Login URLs of your app: https://site.example/\n" in rest
    assert f"LoginRocket API: {url}/v2/" in first_line + rest
    assert "analytical-engine" in rest  # the demo passwords are shown, as on the demo page


def test_description_of_an_hs256_emulator_includes_its_secret() -> None:
    with AuthRocketEmulator(algorithm="HS256") as emu:
        text = describe(emu)

    assert f"AUTHROCKET_JWT_KEY = '{emu.jwt_secret}'" in text
    assert f"export AUTHROCKET_JWT_KEY={emu.jwt_secret}" in text


def test_command_reports_a_busy_port_suggests_another_and_exits_1(capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        assert main(["--port", str(port)]) == 1

    error = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in error
    assert f"--port {port + 1}" in error and "--port 0" in error
    assert "Traceback" not in error


def test_demo_users_cover_owners_admins_loners_and_inactive_people() -> None:
    with AuthRocketEmulator(login_urls=["https://app.example/"]) as emu:
        ada, grace, alan, isaac = seed_demo_users(emu)
        with requests.Session() as http:
            http.trust_env = False
            refused = http.post(
                emu.url + "/login",
                data={"redirect_uri": "https://app.example/", "user_id": isaac["id"]},
                allow_redirects=False,
            )
            listed = http.get(
                emu.api_url() + "/memberships",
                params={"user_id": ada["id"]},
                headers={"Authrocket-Api-Key": emu.api_key, "Accept": "application/json"},
            ).json()

    assert refused.status_code == 403
    memberships = listed["collection"]  # listed by user, each with its org
    assert [m["org"]["name"] for m in memberships if m["selected"]] == ["Analytical Engines"]
    assert len(memberships) == 3
    staff = next(m for m in memberships if m["org"]["reference"] == DEMO_STAFF_ORG)
    assert not staff["selected"] and "ar:admin" in staff["permissions"]  # the site's staff org
    assert {grace["state"], alan["state"], isaac["state"]} == {"active", "inactive"}

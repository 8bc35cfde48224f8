"""The example site: it passes its checks, and a person can log in through the emulator.

These run the site as a user would (``manage.py`` in subprocesses, a real ``runserver``), with
the emulator in this process and a throwaway SQLite database.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from django_authrocket.testing import AuthRocketEmulator
from django_authrocket.testing.demo import seed_demo_users
from tests.processes import free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "example_project"


def clean_env(database: Path) -> dict[str, str]:
    """This environment without anything that configures Django or AuthRocket."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AUTHROCKET_", "LOGINROCKET_", "DJANGO_"))
        and name not in ("DATABASE_URL", "CACHE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")
    }
    env.update(DJANGO_SETTINGS_MODULE="demo_site.settings", DATABASE_URL=f"sqlite:///{database}")
    return env


def site_env(emulator: AuthRocketEmulator, database: Path) -> dict[str, str]:
    """The environment of the example site, pointed at ``emulator`` as at a real realm."""
    env = clean_env(database)
    env.update(
        LOGINROCKET_URL=emulator.loginrocket_url,
        AUTHROCKET_URL=emulator.api_url(),
        AUTHROCKET_API_KEY=emulator.api_key,
        AUTHROCKET_REALM=emulator.realm_id,
    )
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[AuthRocketEmulator]:
    # The demo site's emulator API key (demo_site/settings.py), so that its sync can read.
    with AuthRocketEmulator(api_key="ks_demo_example_project_not_secret") as emu:
        seed_demo_users(emu)
        yield emu


def test_the_example_site_passes_its_checks(emulator, tmp_path) -> None:
    result = manage(site_env(emulator, tmp_path / "db.sqlite3"), "check")

    assert result.returncode == 0, result.stderr
    assert "authrocket.E" not in result.stdout + result.stderr


def test_without_authrocket_variables_the_site_uses_the_demo_emulator(tmp_path) -> None:
    result = manage(
        clean_env(tmp_path / "db.sqlite3"), "authrocket_check", "--no-network", "--json"
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    values = {row["name"]: (row["value"], row["source"]) for row in report["settings"]}
    assert values["AUTHROCKET_LOGINROCKET_URL"] == (
        "http://127.0.0.1:8765",
        "settings.AUTHROCKET_LOGINROCKET_URL",
    )
    assert values["AUTHROCKET_URL"][0] == "http://127.0.0.1:8765/api/v2"
    assert values["AUTHROCKET_JWT_KEY"][0] is None  # keys from the emulator's /connect/jwks
    assert report["verification"]["keys"] == "LoginRocket's key set (JWKS)"


def test_with_debug_off_the_site_never_falls_back_to_the_emulator(tmp_path) -> None:
    env = clean_env(tmp_path / "db.sqlite3")
    env.update(DEBUG="false", SECRET_KEY="x" * 50)

    result = manage(env, "authrocket_check", "--no-network", "--json")

    assert result.returncode != 0  # E001: no LoginRocket URL, as for any site
    report = json.loads(result.stdout)
    values = {row["name"]: row["value"] for row in report["settings"]}
    assert values["AUTHROCKET_LOGINROCKET_URL"] is None
    assert values["AUTHROCKET_URL"] is None and values["AUTHROCKET_API_KEY"] is None
    assert values["AUTHROCKET_ACCEPT_EMULATOR_TOKENS"] is False
    assert "authrocket.E001" in {check["id"] for check in report["checks"]}


LOG_IN_AND_REPORT = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
for token in TOKENS:
    assert Client().get("/login/", {"token": token}).status_code == 302
users = get_user_model().objects.select_related("authrocket")
print("RESULT", json.dumps({u.email: [u.is_staff, u.is_superuser] for u in users}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("superusers", [None, "true"])
def test_in_the_demo_only_the_staff_org_makes_staff_and_superusers_are_opt_in(
    emulator, tmp_path, superusers
) -> None:
    env = clean_env(tmp_path / "db.sqlite3")
    env.update(DEMO_EMULATOR_URL=emulator.url, ALLOWED_HOSTS="testserver")
    if superusers:
        env["STAFF_ORG_OWNERS_ARE_SUPERUSERS"] = superusers
    assert manage(env, "migrate", "--no-input").returncode == 0
    # Mallory created an org of her own: owner and admin there, and nothing to this site.
    mallory = emulator.create_user(f"mallory-{tmp_path.name}@example.com")
    own = emulator.create_org(f"Mallory Inc {tmp_path.name}")
    emulator.create_membership(
        mallory["id"], own["id"], permissions=["ar:owner", "ar:admin"], selected=True
    )
    people = [emulator.get_user(email) for email in ("ada@example.com", "grace@example.com")]
    tokens = [emulator.mint_token(person["id"]) for person in [*people, mallory]]
    # As `make demo` does: the tokens name the selected org only; the sync brings the others.
    assert manage(env, "authrocket_sync").returncode == 0

    script = f"TOKENS = {tokens!r}\n{LOG_IN_AND_REPORT}"  # on stdin, never on a command line
    result = subprocess.run(
        [sys.executable, "manage.py", "shell"],
        cwd=EXAMPLE,
        env=env,
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    flags = json.loads(line.removeprefix("RESULT "))
    # Ada: admin (and owner) of the site's staff org, with her customer org selected.
    assert flags["ada@example.com"] == [True, bool(superusers)]
    # Grace: admin of her own org Difference Ltd; Mallory: owner of the org she made.
    assert flags["grace@example.com"] == [False, False]
    assert flags[mallory["email"]] == [False, False]


@pytest.mark.slow
def test_a_person_logs_in_through_loginrocket_and_sees_the_dashboard(emulator, tmp_path) -> None:
    env = site_env(emulator, tmp_path / "db.sqlite3")
    migrated = manage(env, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    emulator.add_login_url(f"{site}/")  # the site is the connected app
    log = (tmp_path / "runserver.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=EXAMPLE,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with requests.Session() as browser:
            browser.trust_env = False
            wait_until_up(browser, site, server, tmp_path / "runserver.log")
            ada = emulator.get_user("ada@example.com")

            login_page = browser.get(f"{site}/dashboard/", timeout=5)
            assert login_page.url.startswith(f"{emulator.loginrocket_url}/login?")
            redirect_uri = html.unescape(
                re.search(r'name="redirect_uri" value="([^"]+)"', login_page.text)[1]
            )
            assert redirect_uri == f"{site}/login/?next=%2Fdashboard%2F"

            # Ada is chosen on the (emulated) LoginRocket page; the browser follows it back.
            dashboard = browser.post(
                f"{emulator.loginrocket_url}/login",
                data={"redirect_uri": redirect_uri, "user_id": ada["id"]},
                timeout=5,
            )

            assert dashboard.status_code == 200
            assert dashboard.url == f"{site}/dashboard/"
            assert "token=" not in dashboard.url
            assert "Ada Lovelace" in dashboard.text
            assert ada["id"] in dashboard.text
            assert "Analytical Engines" in dashboard.text and "ar:owner" in dashboard.text
            # Said the way a person says it, not "0 minutes ago".
            assert '<dd id="logged-in">just now</dd>' in dashboard.text

            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', dashboard.text)[1]
            home = browser.post(
                f"{site}/logout/",
                data={"csrfmiddlewaretoken": csrf},
                headers={"Referer": f"{site}/dashboard/"},
                timeout=5,
            )
            assert home.url == f"{site}/"
            again = browser.get(f"{site}/dashboard/", allow_redirects=False, timeout=5)
            assert again.status_code == 302
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    served = (tmp_path / "runserver.log").read_text()
    assert "GET /login/?next=%2Fdashboard%2F&token=<token>" in served  # no token in logs
    assert "token=ey" not in served


def wait_until_up(
    browser: requests.Session, site: str, server: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"runserver exited:\n{log.read_text()}")
        try:
            browser.get(f"{site}/", timeout=1)
        except requests.ConnectionError:
            time.sleep(0.1)
        else:
            return
    pytest.fail("runserver did not answer within 15 s")


def test_the_dashboard_says_when_you_logged_in_as_a_person_would() -> None:
    spec = importlib.util.spec_from_file_location(
        "demo_site_tags", EXAMPLE / "demo_site" / "templatetags" / "demo_site.py"
    )
    assert spec is not None and spec.loader is not None
    tags = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tags)
    now = timezone.now()

    assert tags.ago(now - timedelta(seconds=20)) == "just now"
    assert tags.ago(now - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"  # as timesince
    assert tags.ago(None) == ""

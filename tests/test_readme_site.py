"""The README's set-up, pasted into a brand-new ``django-admin startproject`` site, works.

The code blocks are read from README.md itself (not a copy): the Python block is appended to
the new site's ``settings.py`` and ``urls.py`` (split at its ``# settings.py`` / ``# urls.py``
lines), the shell block is run as written, with ``LOGINROCKET_URL`` pointed at the emulator.
Then, on ``runserver``: a person logs in through LoginRocket (the emulator), logs out and lands
on a real page, and a login without ``next`` lands on a real page too; the admin's login page
offers "Log in with AuthRocket", and a superuser logs into the admin with a password; and the
request log holds no token.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from django_authrocket.testing import AuthRocketEmulator
from tests.processes import free_port
from tests.test_example_project import wait_until_up

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SUPERUSER = ("root", "root@example.com", "a-long-password-for-the-admin-test")


def code_blocks(text: str, language: str) -> list[str]:
    """The bodies of the fenced code blocks of ``language``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.M | re.S)


def snippet_by_file(block: str) -> dict[str, str]:
    """``{"settings.py": ..., "urls.py": ...}`` from a block with ``# <file>.py`` lines."""
    parts = re.split(r"^# (\w+\.py)\n", block, flags=re.M)
    assert parts[0].strip() == "", "the block must start with a '# <file>.py' line"
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def readme_setup() -> tuple[dict[str, str], list[str], list[str]]:
    """The README's Python snippet by file, the variables it exports, and its commands."""
    text = README.read_text(encoding="utf-8")
    snippets = [snippet_by_file(b) for b in code_blocks(text, "python") if b.startswith("# ")]
    assert len(snippets) == 1, "one Python block of '# settings.py' / '# urls.py' parts"
    [shell] = [b for b in code_blocks(text, "sh") if "manage.py" in b]
    lines = [line.split("  #")[0].strip() for line in shell.splitlines()]
    exported = [line.split()[1].split("=")[0] for line in lines if line.startswith("export ")]
    commands = [line for line in lines if line and not line.startswith("export ")]
    return snippets[0], exported, commands


def test_the_readme_has_the_setup_this_test_reads() -> None:
    files, exported, commands = readme_setup()

    assert set(files) == {"settings.py", "urls.py"}
    assert "include" in files["urls.py"] and "ModelBackend" in files["settings.py"]
    assert exported == ["LOGINROCKET_URL"]
    assert any("migrate" in command for command in commands)


@pytest.fixture(scope="module")
def emulator() -> Iterator[AuthRocketEmulator]:
    with AuthRocketEmulator() as emu:
        yield emu


def site_env(emulator: AuthRocketEmulator) -> dict[str, str]:
    """A clean environment: no Django or AuthRocket variable but the README's one."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AUTHROCKET_", "LOGINROCKET_", "DJANGO_"))
        and name not in ("DATABASE_URL", "CACHE_URL")
    }
    # `python` is this interpreter, and it imports this checkout of the package.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["LOGINROCKET_URL"] = emulator.loginrocket_url
    return env


def new_site(tmp_path: Path, env: dict[str, str]) -> Path:
    """``django-admin startproject mysite`` with the README's snippet pasted at the end."""
    site = tmp_path / "mysite"
    site.mkdir()
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(site)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    files, _, _ = readme_setup()
    for name, code in files.items():
        with (site / "mysite" / name).open("a", encoding="utf-8") as file:
            file.write(f"\n{code}")
    return site


@pytest.mark.slow
def test_the_readme_snippet_makes_a_working_site(emulator, tmp_path) -> None:
    env = site_env(emulator)
    site_dir = new_site(tmp_path, env)
    _, _, commands = readme_setup()
    for command in commands:  # as pasted: `python manage.py migrate && ... authrocket_check`
        ran = subprocess.run(
            ["bash", "-c", command],
            cwd=site_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, f"{command}\n{ran.stdout}\n{ran.stderr}"
    username, email, password = SUPERUSER
    created = subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--no-input"],
        cwd=site_dir,
        env={
            **env,
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_EMAIL": email,
            "DJANGO_SUPERUSER_PASSWORD": password,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr

    port = free_port()
    site = f"http://127.0.0.1:{port}"
    emulator.add_login_url(f"{site}/")  # the new site is the connected app
    log_path = tmp_path / "runserver.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=site_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with requests.Session() as probe:
                probe.trust_env = False
                wait_until_up(probe, site, server, log_path)
            token = a_person_logs_in_and_out(emulator, site)
            a_superuser_logs_into_the_admin_with_a_password(site, username, password)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    served = log_path.read_text()
    assert "GET /login/?next=%2Fadmin%2F&token=<token>" in served
    assert token not in served and "token=ey" not in served


def a_person_logs_in_and_out(emulator: AuthRocketEmulator, site: str) -> str:
    """Log in through the emulator's LoginRocket page, then out; the login token used."""
    person = emulator.create_user("grace@example.com", first_name="Grace", last_name="Hopper")
    with requests.Session() as browser:
        browser.trust_env = False
        login_page = browser.get(f"{site}/login/?next=/admin/", timeout=5)
        assert login_page.url.startswith(f"{emulator.loginrocket_url}/login?")
        redirect_uri = html.unescape(
            re.search(r'name="redirect_uri" value="([^"]+)"', login_page.text)[1]
        )

        landed = browser.post(
            f"{emulator.loginrocket_url}/login",
            data={"redirect_uri": redirect_uri, "user_id": person["id"]},
            timeout=5,
        )

        [back] = [r for r in landed.history if "token=" in r.url]
        token = re.search(r"[?&]token=([^&]+)", back.url)[1]
        assert back.status_code == 302  # the login view accepted the token
        assert "token=" not in landed.url
        # Not staff: the admin says who is logged in and that it is not for them.
        assert landed.status_code == 200
        assert "You are authenticated as" in landed.text
        assert "sessionid" in browser.cookies

        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', landed.text)[1]
        after = browser.post(f"{site}/logout/", data={"csrfmiddlewaretoken": csrf}, timeout=5)

        # Through LoginRocket's logout and back: a startproject site has no "/".
        assert after.status_code == 200, after.url
        assert after.url == f"{site}/logged-out/"
        assert "You are logged out" in after.text
        assert "sessionid" not in browser.cookies

        # A login without ?next= lands on a real page (Django's /accounts/profile/ is none here).
        again = browser.get(f"{site}/login/", timeout=5)
        redirect_uri = html.unescape(
            re.search(r'name="redirect_uri" value="([^"]+)"', again.text)[1]
        )
        landed = browser.post(
            f"{emulator.loginrocket_url}/login",
            data={"redirect_uri": redirect_uri, "user_id": person["id"]},
            timeout=5,
        )
        assert landed.status_code == 200, landed.url
        assert landed.url == f"{site}/logged-in/"
        assert "You are logged in" in landed.text
    return token


def a_superuser_logs_into_the_admin_with_a_password(
    site: str, username: str, password: str
) -> None:
    with requests.Session() as browser:
        browser.trust_env = False
        form = browser.get(f"{site}/admin/login/?next=/admin/", timeout=5)
        # The app comes after the admin in INSTALLED_APPS (`+=`), and its button is there.
        assert 'href="/login/?next=%2Fadmin%2F"' in form.text
        assert "Log in with AuthRocket</a>" in form.text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]

        admin = browser.post(
            f"{site}/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": csrf,
                "username": username,
                "password": password,
                "next": "/admin/",
            },
            headers={"Referer": f"{site}/admin/login/"},
            timeout=5,
        )

        assert admin.status_code == 200
        assert admin.url == f"{site}/admin/"
        assert "Site administration" in admin.text

"""The login flow with a swapped AUTH_USER_MODEL, run in its own pytest process (a user model
cannot be swapped inside one Django process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_login_flow_works_with_a_custom_user_model() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_custom_user"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "--ds",
            "tests.settings_custom_user",
            "tests/custom_user/login_with_email_user.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout

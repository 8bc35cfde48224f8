"""``make demo`` (example_project/demo.py): it starts, and Ctrl+C stops it without a traceback.

The demo runs as a newcomer runs it, in a subprocess, on free ports (``DEMO_SITE_ADDRESS``,
``DEMO_EMULATOR_URL``) and a throwaway SQLite database.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import free_port, inherited_environment

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "example_project" / "demo.py"


@pytest.mark.slow
def test_a_second_ctrl_c_while_the_demo_stops_prints_no_traceback(tmp_path) -> None:
    site, emulator = f"127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    env = {
        **inherited_environment(),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DEMO_SITE_ADDRESS": site,
        "DEMO_EMULATOR_URL": emulator,
    }
    output = tmp_path / "demo.log"
    with output.open("w") as log:
        demo = subprocess.Popen(
            [sys.executable, str(DEMO)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while "Ctrl+C stops everything" not in output.read_text():
                assert demo.poll() is None, output.read_text()
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(0.1)

            demo.send_signal(signal.SIGINT)
            time.sleep(0.05)  # the demo is stopping the site and the emulator now
            demo.send_signal(signal.SIGINT)
            code = demo.wait(timeout=30)
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()

    text = output.read_text()
    assert code == 0, text
    assert f"Open http://{site}/" in text
    assert "Stopping the demo..." in text
    assert "Still stopping the demo" in text  # the second Ctrl+C arrived while it stopped
    assert "Traceback" not in text
    assert "KeyboardInterrupt" not in text

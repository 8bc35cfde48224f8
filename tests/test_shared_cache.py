"""Several worker processes, one Redis cache: one Core API call, one key set fetch."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.shared_cache import redis_url  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.shared_cache


@pytest.fixture
def shared(settings, authrocket_emulator, redis_url):  # noqa: F811
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        },
    }
    settings.AUTHROCKET_CACHE = "shared"
    settings.AUTHROCKET_VERIFY = "api"
    settings.AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL = 30
    return {
        "CACHES": settings.CACHES,
        "AUTHROCKET_CACHE": "shared",
        "AUTHROCKET_VERIFY": "api",
        "AUTHROCKET_JWKS_MIN_REFETCH_INTERVAL": 30,
        **authrocket_emulator.settings(verify="api"),
    }


def run_in_two_processes(op: dict, threads: int = 25) -> list[str]:
    """Run ``op`` from ``threads`` threads here and in a second process, all at one instant."""
    start_at = time.time() + 1.5  # time for the other interpreter to start and import Django
    config = {**op, "start_at": start_at, "threads": threads}
    other = subprocess.Popen(
        [sys.executable, "-m", "tests.herd_worker", json.dumps(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    from tests.herd_worker import run

    results = run(config)
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    return results + json.loads(out.strip().splitlines()[-1])


def test_fifty_concurrent_rechecks_across_two_processes_make_one_call(
    shared, authrocket_emulator
) -> None:
    emulator = authrocket_emulator
    user = emulator.create_user("ada@example.com")
    session, _ = emulator.login(user["id"])
    emulator.inject_fault("/api/v2/sessions/*", kind="latency", delay=0.4, times=None)
    emulator.clear_requests()
    results = run_in_two_processes(
        {"op": "recheck", "session_id": session["id"], "settings": shared}
    )
    assert results == ["alive"] * 50
    assert emulator.count_requests(f"/api/v2/sessions/{session['id']}") == 1


def test_an_ended_session_is_seen_by_every_worker_after_one_call(
    shared, authrocket_emulator
) -> None:
    emulator = authrocket_emulator
    user = emulator.create_user("ada@example.com")
    session, _ = emulator.login(user["id"])
    emulator.end_session(session["id"])
    emulator.clear_requests()
    results = run_in_two_processes(
        {"op": "recheck", "session_id": session["id"], "settings": shared}, threads=10
    )
    assert results == ["dead"] * 20
    assert emulator.count_requests("/api/v2/sessions/*") == 1


def test_a_key_rotation_costs_one_key_set_fetch_across_workers(shared, authrocket_emulator) -> None:
    emulator = authrocket_emulator
    user = emulator.create_user("ada@example.com")
    emulator.rotate_keys()
    token = emulator.mint_token(user["id"])
    emulator.inject_fault("/connect/jwks", kind="latency", delay=0.4, times=None)
    emulator.clear_requests()
    settings_for_jwt = {**shared, "AUTHROCKET_VERIFY": "jwt"}
    results = run_in_two_processes({"op": "verify", "token": token, "settings": settings_for_jwt})
    assert results == [user["id"]] * 50
    assert emulator.count_requests("/connect/jwks") == 1

"""A second worker process for tests/test_shared_cache.py (run with ``python -m``).

It points Django at the same emulator and Redis as the test, waits for a common start time,
then runs the requested operation from many threads at once and prints one line per result.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def main() -> None:
    config = json.loads(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.test import override_settings

    with override_settings(**config["settings"]):
        results = run(config)
    print(json.dumps(results))


def run(config: dict) -> list[str]:
    from django_authrocket import recheck
    from django_authrocket.exceptions import AuthRocketError
    from django_authrocket.tokens import verify_token

    results: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        delay = config["start_at"] - time.time()
        if delay > 0:
            time.sleep(delay)
        try:
            if config["op"] == "recheck":
                outcome = "alive" if recheck.check_session(config["session_id"]).alive else "dead"
            else:
                outcome = verify_token(config["token"]).user.id
        except AuthRocketError as exc:
            outcome = f"error: {exc.__class__.__name__}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(config["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


if __name__ == "__main__":
    main()

"""Shared set-up for the benchmarks: a configured Django with the test settings."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def configure_django(**overrides: object) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.conf import settings

    django.setup()
    for name, value in overrides.items():
        setattr(settings, name, value)
    from django_authrocket.conf import reload

    reload()  # settings assigned at run time: forget values read before


def median_seconds(func: Callable[[], object], *, rounds: int, number: int) -> float:
    """Median over ``rounds`` of the mean time of ``number`` calls (warm-up round discarded)."""
    for _ in range(number):
        func()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def interleaved(
    baseline: Callable[[], object], ours: Callable[[], object], *, rounds: int, number: int
) -> tuple[float, float]:
    """Median per-call times of both, measured in alternating rounds so noise hits both alike."""
    base_samples, our_samples = [], []
    for func in (baseline, ours):
        for _ in range(number):
            func()
    for _ in range(rounds):
        for func, samples in ((baseline, base_samples), (ours, our_samples)):
            start = time.perf_counter()
            for _ in range(number):
                func()
            samples.append((time.perf_counter() - start) / number)
    return statistics.median(base_samples), statistics.median(our_samples)

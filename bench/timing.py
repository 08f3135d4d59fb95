"""Small timing helpers: percentiles and best-of-N wall times."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def percentile_ms(seconds: list[float], q: float) -> float:
    """The q-th percentile of durations given in seconds, in milliseconds."""
    return float(np.percentile(np.asarray(seconds) * 1000.0, q))


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """The shortest wall time of `repeats` calls: the least disturbed by other work on the machine."""
    return min(timed(fn)[0] for _ in range(repeats))

"""Timing helpers: medians of repeats, each repeat long enough to beat timer noise."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(run: Callable[[], object], *, repeat: int = 15,
                   min_repeat_seconds: float = 0.005) -> float:
    """Median wall time of one ``run()``, over ``repeat`` repeats of ``number`` calls each.

    ``number`` is chosen after a warm-up call so that one repeat lasts at least
    ``min_repeat_seconds``.
    """
    start = time.perf_counter()
    run()  # warm-up (caches, thread pool)
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(min_repeat_seconds / once))
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            run()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)

"""Interleaved timing: every contestant of a workload sampled once per round, medians.

Interleaving shares a slow phase of the machine among all contestants. The runtimes keep their
default thread pools (TVM's, onnxruntime's and torch's OpenMP threads busy-wait a while after
a call) and all assume the cores are theirs: run on an otherwise idle machine.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

from ..timing import Timing

MIN_SAMPLE_SECONDS = 0.05  # one sample repeats a call until it lasts this long: timer noise
# and a rarely descheduled OpenMP thread (~8 ms here) are averaged out (5 ms samples were not)

# TVM's thread pool and PyTorch's OpenMP threads spin for a while after a parallel region
# (~300k iterations each by default): a contestant timed right after another one shares the
# cores with its spinning threads (measured here: torch's layer norm 0.56 ms alone, 0.8-1.5 ms
# right after a TVM kernel). A pause before each sample lets them go to sleep.
SETTLE_SECONDS = 0.05

# Every contestant that allocates its output per call (numpy, onnxruntime, torch, Relax, the
# public call) gets it from a warm heap: otherwise glibc hands big blocks back to the kernel
# and page-faults them in again on the next call, more or less often depending on what ran
# before (measured here: torch's layer norm 0.57 ms alone, 2-6 ms between other contestants).
# These are the environment variables MALLOC_MMAP_MAX_=0 and MALLOC_TRIM_THRESHOLD_ set via
# mallopt for this process (the threshold is an int there: 2 GiB - 1 instead of 1 TiB).
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
WARM_HEAP = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: (1 << 31) - 1}


def warm_heap() -> str:
    """Serve big allocations from glibc's heap and never trim it (``mallopt``), for this
    process from now on; returns what was done, for the report's header."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = all(libc.mallopt(param, value) == 1 for param, value in WARM_HEAP.items())
    except (OSError, AttributeError):
        ok = False
    if not ok:
        return "warm heap: not set (no glibc mallopt): per-call outputs may page-fault"
    return ("warm heap: mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=2^31-1) (as MALLOC_MMAP_MAX_=0 "
            "MALLOC_TRIM_THRESHOLD_ do): per-call outputs come from a warm heap")


def call_sampler(run: Callable[[], object],
                 min_seconds: float = MIN_SAMPLE_SECONDS) -> Callable[[], float]:
    """A sample function for :func:`interleaved_medians`: seconds per call of ``run``, over
    as many calls as fill ``min_seconds`` (the count fixed after one warm-up call).

    A sample of several calls starts with one untimed call, as ``CompiledGraph.benchmark``
    does: the previous contestant left its data in the caches and its thread pool awake, not
    this one's (a call that fills the sample alone is DRAM-bound and gets no warm-up)."""
    start = time.perf_counter()
    run()
    number = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-7)))

    def sample() -> float:
        if number > 1:
            run()
        start = time.perf_counter()
        for _ in range(number):
            run()
        return (time.perf_counter() - start) / number
    return sample


def relative_range(timing: Timing) -> float:
    """(max - min) / median of a contestant's samples over the rounds."""
    return (max(timing.samples) - min(timing.samples)) / timing.median


def interleaved_medians(samplers: dict[str, Callable[[], float]], repeat: int,
                        progress: Callable[[str], None] | None = None) -> dict[str, Timing]:
    """Each of ``repeat`` rounds takes one sample of every contestant in turn (after
    ``SETTLE_SECONDS`` of quiet), so a slow phase of the machine hits all of them alike."""
    samples: dict[str, list[float]] = {label: [] for label in samplers}
    for round_number in range(repeat):
        if progress:
            progress(f"round {round_number + 1}/{repeat}")
        for label, sample in samplers.items():
            time.sleep(SETTLE_SECONDS)  # the previous contestant's spinning threads go idle
            samples[label].append(sample())
    return {label: Timing(tuple(values)) for label, values in samples.items()}

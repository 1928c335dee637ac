"""Timing helpers: medians of repeats, interleaved contests, ratios with their spread.

- :func:`sample_seconds` / :func:`median_seconds`: seconds per ``run()``, each repeat long
  enough to beat timer noise.
- :func:`interleaved`: several contestants sampled in turn within each round, so a slow
  phase of the (shared, 2-core) machine hits all of them alike (each round starts with the
  next contestant, so none always runs first); per contestant the median and spread over
  the rounds.
- :func:`compare`: two contestants' per-round ratios as text: ``"1.23x (1.18-1.27 over 7
  rounds)"``, or ``"same within noise (...)"`` when the ratios straddle 1.
- :class:`ForeignLoad`: how many cores other processes kept busy meanwhile.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_EFFECT = 0.02  # a median ratio within 2 % of 1 is never called a difference
CALIBRATION_CALLS = 5  # timed calls, at most, that choose the calls per repeat
# cores other processes may keep busy while something is timed: above, a parallel kernel's
# call waits for a scheduler slice (~4 ms) and the times are the scheduler's (ForeignLoad)
BUSY_CORES = 0.25


def sample_seconds(run: Callable[[], object], *, repeat: int = 15,
                   min_repeat_seconds: float = 0.005) -> list[float]:
    """Seconds per ``run()`` in each of ``repeat`` repeats of ``number`` calls.

    ``number`` is chosen after a warm-up call so that a repeat lasts at least
    ``min_repeat_seconds``, from the fastest of 2 to ``CALIBRATION_CALLS`` timed calls:
    one call that waited for a core (another process on it; measured here, a parallel
    kernel's call then takes a 4 ms scheduler tick instead of 0.3 ms) made every repeat one
    call long, so the samples timed the scheduler.
    """
    run()  # warm-up (caches, thread pool)
    once, spent = math.inf, 0.0
    for calls in range(1, CALIBRATION_CALLS + 1):
        start = time.perf_counter()
        run()
        took = time.perf_counter() - start
        once, spent = min(once, took), spent + took
        if calls >= 2 and spent >= min_repeat_seconds:
            break
    number = max(1, int(min_repeat_seconds / max(once, 1e-7)))
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            run()
        samples.append((time.perf_counter() - start) / number)
    return samples


def median_seconds(run: Callable[[], object], *, repeat: int = 15,
                   min_repeat_seconds: float = 0.005) -> float:
    """Median of :func:`sample_seconds`."""
    return statistics.median(sample_seconds(run, repeat=repeat,
                                            min_repeat_seconds=min_repeat_seconds))


@dataclass(frozen=True)
class Timing:
    """One contestant's samples (seconds per call), one per round."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> tuple[float, float]:
        """The interquartile range of the samples (seconds)."""
        return quartiles(self.samples)


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """``(first quartile, third quartile)``; both the value itself for one value."""
    if len(values) == 1:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def interleaved(samplers: Sequence[Callable[[], float]], rounds: int = 7) -> list[Timing]:
    """Sample every contestant once per round, in turn; one :class:`Timing` per sampler.

    A sampler returns one measurement in seconds, e.g.
    ``lambda: median_seconds(run, repeat=3)`` or ``lambda: fn.benchmark(**arrays, repeat=3)``.
    Round ``r`` starts with sampler ``r mod n``: no contestant always runs first, after the
    previous round's last one (on emeraldrapids the first of three, always run after numpy,
    measured 4 % slower than in second place).
    """
    if rounds < 1:
        raise ValueError(f"interleaved: rounds must be >= 1, got {rounds}")
    samples: list[list[float]] = [[] for _ in samplers]
    for r in range(rounds):
        for k in range(len(samplers)):
            i = (r + k) % len(samplers)
            samples[i].append(float(samplers[i]()))
    return [Timing(tuple(values)) for values in samples]


@dataclass(frozen=True)
class Comparison:
    """How much slower ``b`` is than ``a`` per round: ratio = b / a (> 1: ``a`` is faster)."""

    ratio: float  # median of the per-round ratios
    low: float  # their first quartile
    high: float  # their third quartile
    rounds: int

    @property
    def significant(self) -> bool:
        """The middle half of the per-round ratios lies on one side of 1, and the median
        is at least ``MIN_EFFECT`` away from it."""
        return (self.low > 1 or self.high < 1) and abs(self.ratio - 1) >= MIN_EFFECT

    def short(self) -> str:
        """For a table cell: ``"1.23x [1.18-1.27]"`` or ``"same [0.99-1.02]"``."""
        spread = f"[{self.low:.2f}-{self.high:.2f}]"
        return f"{self.ratio:.2f}x {spread}" if self.significant else f"same {spread}"

    def __str__(self) -> str:
        spread = f"{self.low:.2f}-{self.high:.2f} IQR over {self.rounds} rounds"
        if not self.significant:
            return f"same within noise ({self.ratio:.2f}x, {spread})"
        return f"{self.ratio:.2f}x ({spread})"


def ratios(a: Timing, b: Timing) -> Comparison:
    """Per-round ratios ``b / a`` (the two timed in the same rounds by :func:`interleaved`)."""
    if len(a.samples) != len(b.samples):
        raise ValueError(f"compare: {len(a.samples)} vs {len(b.samples)} rounds; time both "
                         "with one interleaved() call")
    per_round = [tb / ta for ta, tb in zip(a.samples, b.samples)]
    low, high = quartiles(per_round)
    return Comparison(statistics.median(per_round), low, high, len(per_round))


def compare(a: Timing, b: Timing) -> str:
    """``b``'s time over ``a``'s, as printed: ``"1.23x (1.18-1.27 IQR over 7 rounds)"``, or
    ``"same within noise (...)"``."""
    return str(ratios(a, b))


class ForeignLoad:
    """Cores kept busy by other processes since it was made: /proc/stat's busy time of the
    whole machine minus this process's CPU time. Parallel runtimes suffer from it (torch's
    OpenMP regions and TVM's parallel loops wait a scheduler slice, ~4-5 ms, for a thread
    that shares its core): the bench report says how loaded the machine was, and the
    transfer check refuses to decide on a busy machine. ``None`` without /proc."""

    def __init__(self) -> None:
        self._start = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(v) for v in stat.readline().split()[1:]]
        except OSError:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / ticks  # all but idle and iowait
        own = os.times()
        return time.monotonic(), busy, own.user + own.system

    def cores(self) -> float | None:
        """Average cores used by other processes since the start."""
        now = self._now()
        if now is None or self._start is None or now[0] <= self._start[0]:
            return None
        wall, busy, own = (b - a for a, b in zip(self._start, now))
        return max(0.0, (busy - own) / wall)

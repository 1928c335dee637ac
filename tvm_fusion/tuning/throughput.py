"""Builds and measurements counted where they happen: builder results and runner results.

Trials are records; a round of 8 trials may build 8 candidates and measure 7 (one failed to
build) or re-run one on another server. :class:`CountingBuilder` and :class:`CountingRunner`
wrap MetaSchedule's builder and runner and count each result once; the RPC runner
(``farm.FarmRunner``) counts its own, re-runs included. The tuner hands a :class:`Throughput`
snapshot to its ``progress`` callback and keeps one in each ``GroupTuning``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.builder import PyBuilder
from tvm.s_tir.meta_schedule.runner import PyRunner, PyRunnerFuture


@dataclass(frozen=True)
class Throughput:
    """What one group's tuning built and measured so far (default schedule included)."""

    builds: int  # candidates built (failed builds included)
    build_errors: int
    measurements: int  # candidates measured successfully
    measure_errors: int  # candidates whose measurement failed (after re-runs)
    elapsed_s: float
    reruns: int = 0  # measurements run again on another server after a failure

    @property
    def builds_per_minute(self) -> float:
        return 60.0 * self.builds / max(self.elapsed_s, 1e-9)

    @property
    def measurements_per_minute(self) -> float:
        return 60.0 * self.measurements / max(self.elapsed_s, 1e-9)


class Counters:
    """Thread-safe counters behind :class:`Throughput` (the RPC runner counts from threads)."""

    def __init__(self) -> None:
        self.start = time.time()
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("builds", "build_errors", "measurements", "measure_errors", "reruns"), 0)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                self._counts[name] += count

    def snapshot(self) -> Throughput:
        with self._lock:
            return Throughput(elapsed_s=time.time() - self.start, **self._counts)


@derived_object
class CountingBuilder(PyBuilder):
    """``inner``'s builds, counted."""

    def __init__(self, inner, counters: Counters) -> None:
        super().__init__()
        self.inner = inner
        self.counters = counters
        self.max_workers = getattr(inner, "max_workers", None)

    def build(self, build_inputs) -> list:
        results = self.inner.build(build_inputs)
        failed = sum(1 for result in results if result.error_msg is not None)
        self.counters.add(builds=len(results), build_errors=failed)
        return list(results)


@derived_object
class CountingFuture(PyRunnerFuture):
    """A runner future whose result is counted once."""

    def __init__(self, inner, counters: Counters) -> None:
        super().__init__()
        self.inner = inner
        self.counters = counters
        self.counted = False

    def done(self) -> bool:
        return self.inner.done()

    def result(self):
        result = self.inner.result()
        if not self.counted:
            self.counted = True
            if result.error_msg is None:
                self.counters.add(measurements=1)
            else:
                self.counters.add(measure_errors=1)
        return result


@derived_object
class CountingRunner(PyRunner):
    """``inner``'s measurements, counted (the local runner)."""

    def __init__(self, inner, counters: Counters) -> None:
        super().__init__()
        self.inner = inner
        self.counters = counters

    def run(self, runner_inputs) -> list:
        return [CountingFuture(future, self.counters)
                for future in self.inner.run(runner_inputs)]

    def close(self) -> None:
        pool = getattr(self.inner, "pool", None)
        if pool is not None:
            pool.shutdown(wait=False)

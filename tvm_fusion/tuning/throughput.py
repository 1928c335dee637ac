"""Builds and measurements counted where they happen: builder results and runner results.

Trials are records; a round of 8 trials may build 8 candidates and measure 7 (one failed to
build) or re-run one on another server. :class:`CountingBuilder` and :class:`CountingRunner`
wrap MetaSchedule's builder and runner and count each result once; the RPC runner
(``farm.FarmRunner``) counts its own, re-runs included. The local runner's errors are
rewritten into one line each (``faults.explain``: crashed with its signal, timed out, wrong
results) before MetaSchedule logs them, and every failure is counted by kind
(``Throughput.failures``). The tuner hands a :class:`Throughput` snapshot to its
``progress`` callback and keeps one in each ``GroupTuning``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.builder import PyBuilder
from tvm.s_tir.meta_schedule.runner import PyRunner, PyRunnerFuture, RunnerResult

from .faults import explain, remove_files


@dataclass(frozen=True)
class Throughput:
    """What one group's tuning built and measured so far (default schedule included)."""

    builds: int  # candidates built (failed builds included)
    build_errors: int
    measurements: int  # candidates measured successfully
    measure_errors: int  # candidates whose measurement failed (after re-runs)
    elapsed_s: float
    reruns: int = 0  # measurements run again on another server after a failure
    # failures by kind ("build failed", "crashed", "timed out", "wrong results", "run
    # failed"), each with how many and the first one's message
    failures: tuple[tuple[str, int, str], ...] = ()

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
        self._failures: dict[str, list] = {}  # kind -> [count, first message]

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                self._counts[name] += count

    def failed(self, kind: str, message: str) -> None:
        with self._lock:
            self._failures.setdefault(kind, [0, message])[0] += 1

    def snapshot(self) -> Throughput:
        with self._lock:
            failures = tuple((kind, n, first) for kind, (n, first) in self._failures.items())
            return Throughput(elapsed_s=time.time() - self.start, failures=failures,
                              **self._counts)


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
        failed = [result for result in results if result.error_msg is not None]
        self.counters.add(builds=len(results), build_errors=len(failed))
        for result in failed:
            lines = [line for line in str(result.error_msg).splitlines() if line.strip()]
            self.counters.failed("build failed", lines[-1].strip() if lines else "")
        return list(results)


@derived_object
class CountingFuture(PyRunnerFuture):
    """A runner future whose result is counted once; ``explained``: its error in one line
    (``faults.explain``) for the local runner, whose errors do not say what happened."""

    def __init__(self, inner, counters: Counters, evaluator=None,
                 timeout_s: float | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.counters = counters
        self.counted = False
        self.evaluator = evaluator
        self.timeout_s = timeout_s
        self.explained = None

    def done(self) -> bool:
        return self.inner.done()

    def result(self):
        if self.explained is not None:
            return self.explained
        result = self.inner.result()
        if not self.counted:
            self.counted = True
            if result.error_msg is None:
                self.counters.add(measurements=1)
                return result
            self.counters.add(measure_errors=1)
            if self.timeout_s is not None:  # the local runner: say what happened
                message, kind = explain(result.error_msg, self.evaluator, self.timeout_s)
                self.counters.failed(kind, message)
                self.explained = RunnerResult(run_secs=None, error_msg=message)
                return self.explained
        return result


@derived_object
class CountingRunner(PyRunner):
    """``inner``'s measurements, counted (the local runner, whose ``f_run_evaluator`` is a
    ``faults.CheckedEvaluator`` and whose timeout is ``timeout_s``)."""

    def __init__(self, inner, counters: Counters, evaluator=None,
                 timeout_s: float = 30.0) -> None:
        super().__init__()
        self.inner = inner
        self.counters = counters
        self.evaluator = evaluator
        self.timeout_s = timeout_s

    def run(self, runner_inputs) -> list:
        # One input at a time (the local runner runs them one after another anyway), each
        # explained before the next run can overwrite the worker's fault report.
        futures = []
        for runner_input in runner_inputs:
            (inner,) = self.inner.run([runner_input])
            future = CountingFuture(inner, self.counters, self.evaluator, self.timeout_s)
            future.result()
            futures.append(future)
        return futures

    def close(self) -> None:
        pool = getattr(self.inner, "pool", None)
        if pool is not None:
            pool.shutdown(wait=False)
        if self.evaluator is not None:
            remove_files(self.evaluator)
            self.evaluator = None

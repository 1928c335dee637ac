"""Candidates that crash, hang or compute wrong numbers: failed with a reason, never shipped.

MetaSchedule's local runner runs each candidate in a worker process and scores every failure
1e10 s, with an error that does not say what happened: a kernel that segfaults kills the
worker ("LocalRunner: An exception occurred / Subprocess terminated"), one that hangs is
killed after the runner's timeout ("LocalRunner: Timeout, killed after 30 seconds"), and one
that computes wrong numbers is timed like any other and can win the search (nothing checks a
tuned kernel's numbers: apache/tvm #17947 is an open wrong-results-after-tuning bug). Here:

- :class:`CheckedEvaluator` is the local runner's evaluator (it runs in the worker): it
  arms ``faulthandler`` into a file, so the parent can name the signal a crash died of, and,
  once the default schedule's outputs are known (:func:`expect_outputs`), runs the candidate
  once on the runner's arguments and compares every parameter (outputs, and inputs a kernel
  must not touch) with the default schedule's before timing it: a mismatch fails the
  candidate (:class:`WrongResults`);
- :func:`explain` turns the runner's error into one line (crash with its signal, timeout
  with its length, wrong results with where), which ``trials.jsonl`` and the tuner's counts
  (``throughput.Throughput.failures``) carry;
- :func:`first_mismatch` is the comparison, shared with the in-process check before a
  record is applied (``verify.check_in_process``).
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

# Allowed error relative to an output's magnitude: |tuned - default| <= tol * (|default| +
# max |default|). Schedules reorder float sums (partial vector sums, core splits), which moves
# the last bits of a float32 result; a skipped row or a wrong value is off by O(1).
TOLERANCE = {"float16": 1e-2, "bfloat16": 2e-2, "float32": 1e-4, "float64": 1e-10}
RUN_TIMEOUT_S = 30.0  # MetaSchedule's default: a hung candidate is killed after this
KINDS = ("build failed", "crashed", "timed out", "wrong results", "run failed")


class WrongResults(ValueError):
    """A candidate's outputs differ from the default schedule's on the same arguments."""


def first_mismatch(actual: list[np.ndarray], expected: list[np.ndarray],
                   names: list[str]) -> str | None:
    """``None`` when every array matches, else one line naming the worst element."""
    for name, got, want in zip(names, actual, expected):
        error = _element_errors(got, want)
        if error is None:
            continue
        index = np.unravel_index(int(np.argmax(error)), want.shape) if want.ndim else ()
        worst = float(error[index])
        where = f"'{name}'[{', '.join(str(int(i)) for i in index)}]"
        return (f"max abs error {worst:.3g} at {where} (tuned {_number(got[index])}, "
                f"default schedule {_number(want[index])}; allowed "
                f"{_allowed(want, index):.2g})")
    return None


def _number(value) -> str:
    return f"{float(value):.6g}" if value.dtype.kind in "fc" else str(value.item())


def _element_errors(got: np.ndarray, want: np.ndarray) -> np.ndarray | None:
    """Per element: the error where it is too large (inf for a NaN/inf mismatch), else 0;
    ``None`` when nothing is too large."""
    if got.dtype.kind not in "fc":  # integers and bools: exact
        wrong = got != want
        return np.where(wrong, np.abs(got.astype(np.float64) - want), 0.0) if wrong.any() \
            else None
    got64, want64 = got.astype(np.float64), want.astype(np.float64)
    same_special = (np.isnan(got64) & np.isnan(want64)) | (
        np.isinf(want64) & (got64 == want64))
    finite = np.isfinite(want64) & np.isfinite(got64)
    scale = float(np.max(np.abs(want64[np.isfinite(want64)]), initial=0.0))
    tol = TOLERANCE.get(str(want.dtype), 1e-4)
    error = np.where(finite, np.abs(got64 - want64), np.inf)
    wrong = ~same_special & (error > tol * (np.abs(np.where(finite, want64, 0)) + scale))
    return np.where(wrong, error, 0.0) if wrong.any() else None


def _allowed(want: np.ndarray, index) -> float:
    if want.dtype.kind not in "fc":
        return 0.0
    want64 = want.astype(np.float64)
    scale = float(np.max(np.abs(want64[np.isfinite(want64)]), initial=0.0))
    return TOLERANCE.get(str(want.dtype), 1e-4) * (abs(float(np.nan_to_num(want64[index])))
                                                   + scale)


class CheckedEvaluator:
    """The local runner's ``f_run_evaluator`` (picklable: it runs in the runner's worker).

    ``crash_file``: where ``faulthandler`` writes if the kernel kills the worker. With
    ``expected`` (an ``.npz`` of every parameter after the default schedule ran, keyed
    ``p<position>``), the candidate runs once first and must match it (:class:`WrongResults`).
    """

    def __init__(self, crash_file: str, expected: str | None = None,
                 names: tuple[str, ...] = ()) -> None:
        self.crash_file = crash_file
        self.expected = expected
        self.names = names

    def __call__(self, rt_mod, device, evaluator_config, repeated_args) -> list[float]:
        from tvm.s_tir.meta_schedule.runner.utils import run_evaluator_common

        with open(self.crash_file, "w") as report:
            faulthandler.enable(file=report)
            try:
                if self.expected is not None:
                    self._check(rt_mod, repeated_args[0])
                return run_evaluator_common(rt_mod, device, evaluator_config, repeated_args)
            finally:
                faulthandler.disable()

    def _check(self, rt_mod, args) -> None:
        rt_mod[rt_mod.entry_name](*args)
        with np.load(self.expected) as expected:
            wanted = [expected[f"p{i}"] for i in range(len(args))]
        names = list(self.names) or [f"argument {i}" for i in range(len(args))]
        mismatch = first_mismatch([a.numpy() for a in args], wanted, names)
        if mismatch:
            raise WrongResults(f"wrong results: {mismatch}")


def make_evaluator() -> CheckedEvaluator:
    """An evaluator with its own crash-report file (removed by :func:`remove_files`)."""
    folder = tempfile.mkdtemp(prefix="tvm-fusion-runner-")
    evaluator = CheckedEvaluator(os.path.join(folder, "fault.txt"))
    # a runner nobody closes (a caller's own make_runner) still leaves no folder behind
    weakref.finalize(evaluator, shutil.rmtree, folder, ignore_errors=True)
    return evaluator


def expect_outputs(evaluator: CheckedEvaluator, arrays: list[np.ndarray],
                   names: list[str]) -> None:
    """From now on, candidates must leave every parameter as ``arrays`` (the default
    schedule's run on the runner's arguments); ``names``: the parameters' names."""
    path = Path(evaluator.crash_file).with_name("expected.npz")
    np.savez(path, **{f"p{i}": a for i, a in enumerate(arrays)})
    evaluator.expected = str(path)
    evaluator.names = tuple(names)


def remove_files(evaluator: CheckedEvaluator) -> None:
    shutil.rmtree(Path(evaluator.crash_file).parent, ignore_errors=True)


def explain(error: str | None, evaluator: CheckedEvaluator | None,
            timeout_s: float) -> tuple[str | None, str]:
    """``(one-line error, kind)`` for a runner error (``kind`` in :data:`KINDS`)."""
    if not error:
        return error, ""
    text = str(error)
    if "LocalRunner: Timeout" in text:
        return (f"timed out: still running after the runner's timeout of {timeout_s:g} s, "
                "killed (a hang, or a kernel slower than that: tune(run_timeout_s=) raises "
                "it)"), "timed out"
    if "Subprocess terminated" in text:
        return f"crashed: {_crash(evaluator)}", "crashed"
    marker = text.rfind("wrong results: ")
    if marker >= 0:
        return text[marker:].splitlines()[0], "wrong results"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else text), "run failed"


def _crash(evaluator: CheckedEvaluator | None) -> str:
    report = ""
    if evaluator is not None:
        try:
            report = Path(evaluator.crash_file).read_text()
        except OSError:
            pass
    fatal = next((line.split("Fatal Python error:", 1)[1].strip()
                  for line in report.splitlines() if "Fatal Python error:" in line), None)
    if fatal:
        return (f"the kernel killed the runner's worker process ({fatal}: an out-of-bounds "
                "or wild memory access); scored as failed, the search goes on")
    return ("the runner's worker process died without a fault report (killed by a signal "
            "faulthandler does not catch, e.g. SIGKILL from the out-of-memory killer); "
            "scored as failed, the search goes on")

"""A schedule's outputs: run once here, compared, and a record that gives wrong ones marked.

``run_once`` runs a scheduled kernel on the runner's arguments (``measure.KernelArguments``)
in this process and returns every parameter afterwards; ``check_outputs`` hands the default
schedule's to the local runner, which then fails a candidate that differs
(``faults.CheckedEvaluator``); ``demote`` marks a record that gives wrong results failed in
its database (``verify.check_in_process``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import tvm
import tvm_ffi

from .faults import expect_outputs
from .measure import KernelArguments, build_kernel, kernel_arguments
from .records import RECORD_FILE, is_measured

FAILED_SECONDS = 1e10  # MetaSchedule's score of a failed candidate


_BUILT: dict = {}  # (structural hash, target) -> compiled function: the check builds each once


def built(mod: tvm.IRModule, target):
    """``mod`` compiled as the tuner's builder compiles it (cached in this process)."""
    key = (tvm_ffi.structural_hash(mod), str(target))
    if key not in _BUILT:
        if len(_BUILT) > 32:
            _BUILT.clear()
        _BUILT[key] = (mod, build_kernel(mod, target)["main"])
    cached, function = _BUILT[key]
    return function if tvm_ffi.structural_equal(cached, mod) else \
        build_kernel(mod, target)["main"]


def run_once(scheduled: tvm.IRModule, mod: tvm.IRModule, target,
             arguments: KernelArguments | None) -> list[np.ndarray]:
    """Every parameter of ``mod`` after ``scheduled`` ran once on the runner's arguments."""
    args = kernel_arguments(mod, arguments)
    built(scheduled, target)(*args)
    return [a.numpy() for a in args]


def parameter_names(mod: tvm.IRModule) -> list[str]:
    return [p.name for p in mod["main"].params]  # lower.py names them after the tensors


def best_records(database, mod: tvm.IRModule, count: int) -> list:
    """The ``count`` best measured records of ``mod``'s workload, best first."""
    records = database.get_top_k(database.commit_workload(mod), count)
    return [r for r in records if is_measured(r.run_secs)]


def replay(record, mod: tvm.IRModule) -> tvm.IRModule:
    """The scheduled module of ``record`` (its trace applied to ``mod``)."""
    from tvm import s_tir

    sch = s_tir.Schedule(mod)
    record.trace.apply_to_schedule(sch, remove_postproc=False)
    return sch.mod


def demote(folder: Path, record) -> None:
    """Mark ``record`` failed in ``folder``'s database: its measurements become MetaSchedule's
    failure score (it gives wrong results: no query returns it, no cost model learns from it).

    The record file is rewritten to a temporary name and renamed over the old one: a kill
    leaves the old file or the new one, never half of either.
    """
    path = folder / RECORD_FILE
    seconds = np.float32([float(s) for s in record.run_secs])  # records hold float32
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        try:
            entry = json.loads(line)
            logged = [float(s) for s in entry[1][1]]
        except (ValueError, IndexError, TypeError):
            continue
        if len(logged) == len(seconds) and (np.float32(logged) == seconds).all():
            entry[1][1] = [FAILED_SECONDS] * len(logged)
            lines[i] = json.dumps(entry) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "w") as f:
        f.write("".join(lines))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_outputs(runner, reference: tvm.IRModule, mod: tvm.IRModule, target) -> None:
    """From now on the local ``runner`` fails a candidate whose parameters, after one run on
    its arguments, differ from ``reference``'s (run here once; an RPC runner's target may
    not run here, so it is left unchecked, and ``check_in_process`` does not run either)."""
    evaluator = getattr(runner, "evaluator", None)
    if evaluator is None:
        return
    arrays = run_once(reference, mod, target, runner.inner.f_alloc_argument)
    expect_outputs(evaluator, arrays, parameter_names(mod))

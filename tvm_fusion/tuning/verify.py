"""What the tuner measures must predict what the call runs.

- :func:`group_arguments`: the runner's arguments for one group: index inputs hold the
  workload's own values when given, else unique in-range positions from the graph's index
  checks, so a scatter's updates land where the call's would (not all on row 0).
- :func:`measure_default` and :func:`confirm_best`: the default schedule and the best
  records measured (again) through the tuner's builder and runner.
- :func:`check_in_process`: after a group is tuned, its best record is first run once here
  on the runner's arguments and its outputs compared with the default schedule's: a record
  that gives wrong results is marked failed in the database (``demote``: its latency becomes
  MetaSchedule's failure score, so nothing applies or learns from it) and the next best is
  considered (nothing checked a tuned kernel's numbers before: apache/tvm #17947 is an open
  wrong-results-after-tuning bug). The best correct record and the template's
  default schedule are then built as ``compile`` builds them and timed in this process, on the
  same arguments, in interleaved rounds (``tvm_fusion.timing.interleaved``). The record is
  applied by ``compile(tuning_logs=)`` only when it is faster beyond noise; otherwise the
  folder's verdict says the default stays, and why (``records.write_verdict``). The runner
  ranks candidates one after another, so a busy spell of the shared machine can crown a
  candidate measured in a quiet one (seen: a W5 record 1.7x slower than the default in
  process); interleaving makes both contestants share every spell.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tvm
import tvm_ffi

from ..describe import template_context
from ..graph import Graph
from ..guards import index_checks
from ..lower import LoweredKernel
from ..target import as_target
from ..timing import interleaved, median_seconds, ratios
from .durable import fsync_folder
from .faults import first_mismatch
from .measure import (
    KernelArguments,
    RPCSettings,
    close_runner,
    kernel_arguments,
    make_builder,
    make_runner,
)
from .outputs import (
    best_records,
    built,
    check_outputs,
    demote,
    parameter_names,
    replay,
    run_once,
)
from .records import (
    RECORD_FILE,
    VERDICT_FILE,
    WORKLOAD_FILE,
    is_measured,
    open_database,
    record_seconds,
    write_verdict,
)


class TuningError(RuntimeError):
    """A tuning round produced no measured record."""


ROUNDS = 7  # interleaved rounds of the in-process check
CHECKED = 4  # records whose outputs the in-process check compares before it gives up
SAMPLE_REPEATS = 3  # one round's sample: median of 3 repeats of >= 5 ms each


def group_arguments(graph: Graph, kernel: LoweredKernel,
                    inputs: dict[str, np.ndarray] | None = None,
                    seed: int = 0) -> KernelArguments:
    """In-range index values for ``kernel``'s integer parameters (see the module doc)."""
    rng = np.random.default_rng(seed)
    bounds = {c.tensor: c.bounds for c in index_checks(graph)}
    values = {}
    for position, name in enumerate(kernel.inputs):
        tensor = graph.tensors[name]
        if "int" not in tensor.dtype:
            continue
        if inputs is not None and name in inputs:
            values[position] = np.asarray(inputs[name])
        elif name in bounds:
            values[position] = unique_positions(rng, bounds[name], tensor.shape)
    return KernelArguments(values, seed)


def unique_positions(rng, bounds: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Index values of ``shape`` in range of ``bounds`` (one bound for every value, or one
    per entry of the last axis), distinct positions while there are enough of them."""
    columns = max(1, len(bounds))
    count = int(np.prod(shape)) // columns
    total = int(np.prod(bounds))
    flat = rng.choice(total, size=count, replace=count > total)
    if columns == 1:
        return flat.reshape(shape).astype(np.int64)
    return np.stack(np.unravel_index(flat, bounds), axis=-1).reshape(shape).astype(np.int64)


@dataclass(frozen=True)
class InProcess:
    """The in-process check of a group's best record against its default schedule."""

    applies: bool
    why: str  # printed by the tuner and by compile's notice
    default_seconds: float
    tuned_seconds: float


def check_in_process(folder: Path, mod: tvm.IRModule, default_mod: tvm.IRModule, target,
                     arguments: KernelArguments, *, rounds: int = ROUNDS) -> InProcess:
    """Check ``folder``'s best record against ``default_mod`` here; write the verdict.

    The best measured records are run once on ``arguments`` and compared with the default
    schedule's outputs, best first; one that gives wrong results is marked failed in the
    database (:func:`demote`), up to ``CHECKED`` of them. The first correct one is then timed
    against the default in interleaved rounds.

    Parameters
    ----------
    folder : Path
        The group's records folder.
    mod : tvm.IRModule
        The group's unscheduled kernel (the workload the records are keyed by).
    default_mod : tvm.IRModule
        The template's default schedule of ``mod``.
    target : tvm.target.Target
        The tuning target (the host).
    arguments : KernelArguments
        The runner's arguments: both contestants run on the very same arrays.
    rounds : int
        Interleaved rounds.

    Returns
    -------
    InProcess
    """
    default_hash = tvm_ffi.structural_hash(default_mod)
    database = open_database(folder)
    if database.query_schedule(mod, target, "main") is None:  # an older lowering's records
        why = ("no record matches the kernel as it is lowered now (the records are for an "
               "older lowering): re-tune")
        write_verdict(folder, applies=False, why=why, tuned_hash=0, default_hash=default_hash)
        return InProcess(False, why, float("nan"), float("nan"))
    expected = run_once(default_mod, mod, target, arguments)
    names = parameter_names(mod)
    rejected = []
    for record in best_records(database, mod, CHECKED):
        tuned = replay(record, mod)
        if tvm_ffi.structural_equal(tuned, default_mod):
            break
        mismatch = first_mismatch(run_once(tuned, mod, target, arguments), expected, names)
        if mismatch is None:
            break
        rejected.append(f"tuned record gives wrong results: {mismatch}")
        demote(folder, record)
    schedule = open_database(folder).query_schedule(mod, target, "main")
    if schedule is None or not is_measured(
            open_database(folder).query_tuning_record(mod, target, "main").run_secs):
        why = f"{_rejections(rejected)}; default stays (no other measured record)"
        write_verdict(folder, applies=False, why=why, tuned_hash=0, default_hash=default_hash)
        return InProcess(False, why, float("nan"), float("nan"))
    tuned_hash = tvm_ffi.structural_hash(schedule.mod)
    if len(rejected) == CHECKED:  # the next one is unchecked: it does not apply either
        why = f"{_rejections(rejected)}; default stays (no checked record left)"
        write_verdict(folder, applies=False, why=why, tuned_hash=tuned_hash,
                      default_hash=default_hash)
        return InProcess(False, why, float("nan"), float("nan"))
    applies, why, default, tuned = _timed_verdict(schedule.mod, default_mod, mod, target,
                                                  arguments, rounds)
    if rejected:
        why = f"{_rejections(rejected)}; {'next best record' if applies else 'default stays'}"\
              f": {why}"
    write_verdict(folder, applies=applies, why=why, tuned_hash=tuned_hash,
                  default_hash=default_hash)
    return InProcess(applies, why, default, tuned)


def _rejections(rejected: list[str]) -> str:
    more = f" (and {len(rejected) - 1} more records: marked failed)" if len(rejected) > 1 \
        else " (marked failed)"
    return rejected[0] + more


def _timed_verdict(tuned_mod, default_mod, mod, target, arguments, rounds):
    """``(applies, why, default seconds, tuned seconds)`` from interleaved rounds."""
    args = kernel_arguments(mod, arguments)
    functions = [built(m, target) for m in (default_mod, tuned_mod)]
    samplers = [lambda f=f: median_seconds(lambda: f(*args), repeat=SAMPLE_REPEATS)
                for f in functions]
    default, tuned = interleaved(samplers, rounds)
    comparison = ratios(tuned, default)  # default / tuned: > 1 when the record is faster
    timed = (f"tuned {tuned.median * 1e6:.1f} us vs default {default.median * 1e6:.1f} us "
             "in process")
    if tvm_ffi.structural_equal(tuned_mod, default_mod):
        applies, why = False, f"the best record is the default schedule ({timed})"
    elif comparison.significant and comparison.ratio > 1:
        applies, why = True, f"{timed}: {comparison} faster"
    elif comparison.significant:
        applies, why = False, (f"the best record is slower than the default "
                               f"({timed}: {ratios(default, tuned)} slower)")
    else:
        applies, why = False, (f"the best record is not faster than the default "
                               f"({timed}: {comparison})")
    return applies, why, default.median, tuned.median


def measure(builder, runner, mod, target, args_info, runs: int = 1) -> list[float]:
    """Build ``mod`` once and run it ``runs`` times through ``runner``; the measurements."""
    from tvm.s_tir import meta_schedule as ms

    (built,) = builder.build([ms.builder.BuilderInput(mod, target)])
    if built.error_msg:
        return []
    device = "cpu" if target.kind.name == "llvm" else target.kind.name
    seconds = []
    for _ in range(runs):
        (future,) = runner.run([ms.runner.RunnerInput(built.artifact_path, device, args_info)])
        run_secs = future.result().run_secs
        if is_measured(run_secs):
            seconds += [float(s) for s in run_secs]
    return seconds


@dataclass(frozen=True)
class DefaultMeasurement:
    trace: object  # the template's default schedule, as a trace
    mod: tvm.IRModule  # and as the scheduled module
    run_secs: list
    args_info: list


def measure_default(mod, group, target, template, builder, runner) -> DefaultMeasurement:
    """The template's default schedule, measured through the tuner's own builder and runner
    (so its latency compares like for like with the records)."""
    from tvm import s_tir
    from tvm.s_tir import meta_schedule as ms

    sch = s_tir.Schedule(mod)
    template.apply(sch, template_context(group, target))
    args_info = ms.arg_info.ArgInfo.from_prim_func(mod["main"])
    seconds = measure(builder, runner, sch.mod, target, args_info)
    if not seconds:
        raise TuningError(f"group {group.name}: the default schedule failed to build or run "
                          "in the tuner's builder and runner")
    check_outputs(runner, sch.mod, mod, target)
    return DefaultMeasurement(sch.trace, sch.mod, seconds, args_info)


def confirm_best(folder: Path, *, target=None, keep: int = 1, candidates: int = 4,
                 runs: int = 3, runner: str | RPCSettings = "local",
                 arguments: KernelArguments | None = None,
                 reference: tvm.IRModule | None = None) -> list[float]:
    """Re-measure the best records of ``folder`` and keep the ``keep`` best of them.

    The best of many noisy measurements is biased low (the winner's curse: on this noisy
    2-core machine the logged best of 64 trials measured 0.97-1.44x its logged latency when
    run again). The ``candidates`` best logged records are each built once and run
    ``runs`` more times through the same runner; they are re-ranked on the median of those new
    measurements, and the ``keep`` best are written back with the new measurements as their
    ``run_secs`` (the old ones are dropped), so a shipped record's latency is one it
    reproduces. ``arguments``: the runner's arguments (``group_arguments``; default: no
    index values known). With the local runner each candidate's outputs must match
    ``reference``'s on those arguments (the default schedule: ``tune`` passes it; default:
    the unscheduled kernel), else it fails its re-measurement (wrong results) and is dropped.
    The in-process verdict is dropped: the best record may have
    changed (``tune(keep_best=)`` checks again). Returns the kept records' new median
    latencies, best first.
    """

    target = as_target(target)
    database = open_database(folder)
    records = [r for r in database.get_all_tuning_records() if is_measured(r.run_secs)]
    records.sort(key=lambda r: record_seconds(r.run_secs))
    builder, run = make_builder(), make_runner(runner, arguments)
    confirmed = []
    try:
        if records:  # a record giving other numbers than the reference is not re-measured
            workload = records[0].workload.mod
            check_outputs(run, reference or workload, workload, target)
        for record in records[:max(candidates, keep)]:
            candidate = record.as_measure_candidate()
            seconds = measure(builder, run, candidate.sch.mod, target, candidate.args_info,
                              runs)
            if seconds:
                confirmed.append((record_seconds(seconds), record, seconds))
    finally:
        close_runner(run)
    confirmed.sort(key=lambda item: item[0])
    if not confirmed:
        raise TuningError(f"{folder}: no record could be re-measured")
    _replace_records(folder, [(record, seconds) for _, record, seconds in confirmed[:keep]])
    shutil.rmtree(folder / "work", ignore_errors=True)
    (folder / VERDICT_FILE).unlink(missing_ok=True)
    return [median for median, _, _ in confirmed[:keep]]


def _replace_records(folder: Path, kept) -> None:
    """The records file replaced by ``kept`` in one rename: they are written to a database in
    a staging folder holding a copy of the workload file (same workload indices), then its
    records file takes the old one's place, so a kill at any moment leaves the old records or
    the new ones, never none."""
    from tvm.s_tir import meta_schedule as ms

    staging = folder / ".confirm"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    shutil.copyfile(folder / WORKLOAD_FILE, staging / WORKLOAD_FILE)
    fresh = ms.database.JSONDatabase(path_workload=str(staging / WORKLOAD_FILE),
                                     path_tuning_record=str(staging / RECORD_FILE))
    for record, seconds in kept:
        workload = fresh.commit_workload(record.workload.mod)
        fresh.commit_tuning_record(ms.database.TuningRecord(
            record.trace, workload, seconds, record.target, record.args_info))
    with open(staging / RECORD_FILE) as f:
        os.fsync(f.fileno())
    os.replace(staging / RECORD_FILE, folder / RECORD_FILE)
    fsync_folder(folder)
    shutil.rmtree(staging, ignore_errors=True)

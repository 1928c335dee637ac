"""``tvm_fusion.tuning``: MetaSchedule's evolutionary search over each group's template space.

Thin on purpose: MetaSchedule brings the builder, runner, JSON database, XGBoost cost model
and evolutionary search. What it does silently, we make explicit:

- the space is ``ScheduleFn(template applied with tuning=True)`` with its postprocessors and
  mutators set explicitly (a bare callable gets none, and search degrades to re-sampling):
  ``MutateTileSize`` plus our ``MutateTemplateDecision``, which also mutates the categorical
  knobs and re-runs the template so the Python they steer follows (see ``mutator.py``);
- ``XGBModel`` predicts at random until it has seen ``num_warmup_samples`` results (100 by
  default: more than a whole 64-trial budget); ours starts ranking after the first round;
- ``tune_tir`` starts a new, untrained cost model on every call; we keep one model per group
  across rounds and train it on the records already in the database before the first new
  round (resume);
- the template's default schedule is measured through the same builder and runner (the
  ``default_seconds`` reported) and committed as the first record, so the search starts from
  the heuristic;
- the runner measures what the call runs: the workload's own index values (or unique
  in-range ones), timed like the process times (``measure.py``); and the best record is then
  timed in this process against the default, interleaved, and applied by ``compile`` only
  when faster beyond noise (``verify.py``);
- tuning runs in rounds of ``batch`` trials, each committed to the JSON database before the
  next starts, so a killed run loses at most the round in flight, and a rerun continues the
  trial count from the records; every commit is checked on disk (MetaSchedule's C++ writer
  ignores a full disk): ``RecordsWriteError`` names the file and the records kept;
- a round whose candidates all fail raises ``TuningError``; a round that finds no new
  candidate (a small space fully measured) stops the group and says so;
- builder, runner and evaluator settings: ``measure.py``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import schedules
from ..describe import template_context
from ..fusion import FusionGroup, fuse, live_nodes
from ..graph import Graph
from ..lower import lower
from ..ops.fp16 import native_fp16
from ..target import as_target
from .bandwidth import record_roofline
from .farm import FarmError, RPCSettings, check_farm
from .intrinsics import without_tensor_intrinsics
from .measure import close_runner, make_builder, make_runner
from .records import count_records, open_database, record_dir, record_seconds, write_manifest
from .search import best_seconds, search
from .throughput import Counters, Throughput
from .verify import (
    InProcess,
    TuningError,
    check_in_process,
    confirm_best,
    group_arguments,
    measure_default,
)


@dataclass(frozen=True)
class GroupTuning:
    group: str
    template: str
    folder: Path | None
    trials: int  # records in the database after this run
    new_trials: int
    default_seconds: float
    best_seconds: float | None
    wall_seconds: float
    warm_start: int = 0  # measured records the cost model was trained on before round one
    stopped: str = ""  # why the group stopped: trials reached, time budget, space exhausted
    in_process: InProcess | None = None  # best record vs default timed here (local runner)
    throughput: Throughput | None = None  # this group's builds and measurements (and failures)
    transferred: int = 0  # other CPUs' records measured here in the first round (transfer.py)
    explored: int = 0  # candidates drawn at random: the search proposed only measured ones


@without_tensor_intrinsics()  # 20-50 s per process otherwise (intrinsics.py)
def tune(graph: Graph, *, target=None, trials: int = 64, time_budget_s: float | None = None,
         log_dir: str | Path = "tuning_logs", runner: str | RPCSettings = "local",
         seed: int = 0, batch: int = 8,
         progress: Callable[..., None] | None = None,
         inputs: dict[str, np.ndarray] | None = None, keep_best: int | None = None,
         template=None, run_timeout_s: float | None = None,
         transfer=True) -> list[GroupTuning]:
    """Tune every fusion group of ``graph``; records go to ``log_dir``.

    Parameters
    ----------
    graph : Graph
        The graph to tune.
    target : optional
        As for :func:`tvm_fusion.compile` (default: the host CPU).
    trials : int
        Total measured trials per group, counting records already in ``log_dir`` (a rerun
        continues up to this count).
    time_budget_s : float, optional
        Stop starting new rounds after this many seconds.
    log_dir : str or Path
        Root of the records (``<log_dir>/<target key>/<workload key>/``).
    runner : "local" or RPCSettings
        Where candidates run: this machine, or the devices behind a TVM RPC tracker (all its
        free servers with the key at once, unless ``max_workers`` says otherwise). With
        RPCSettings the farm is checked first (:func:`~tvm_fusion.tuning.farm.check_farm`),
        and :class:`~tvm_fusion.tuning.farm.FarmError` is raised when the tracker or every
        server stops answering (after a bounded wait, see ``farm.py``).
    seed : int
        Search seed (each round uses ``seed + trials so far``).
    batch : int
        Trials per round: the most a killed run can lose.
    progress : callable, optional
        ``progress(group, done, total, best_seconds, elapsed_seconds, new_trials, stats)``
        after each round (``done`` counts earlier records too; ``new_trials`` only this
        run's; ``stats``: the group's :class:`~tvm_fusion.tuning.throughput.Throughput`,
        builds and measurements counted from the builder's and runner's results). A
        function of six positional parameters is called without ``stats``.
    inputs : dict, optional
        The graph's inputs by name (e.g. ``workloads.inputs(name)``): integer (index) inputs
        are measured with these values; without them, unique in-range positions.
    keep_best : int, optional
        Afterwards, re-measure the best records through the runner and keep this many
        (:func:`confirm_best`).
    template : module or str, optional
        Force a schedule template (a module of ``tvm_fusion.schedules`` or its name, or a
        user module with ``NAME`` and ``apply``, e.g. from
        ``tvm_fusion.apps.explore.load_template(path)``), as ``compile(template=)`` does; it
        must apply to every group (``schedules.TemplateMismatch`` otherwise). Its ``NAME``
        keys the records folder.
    run_timeout_s : float, optional
        The local runner kills a candidate still running after this many seconds and
        records it as timed out (default 30, as MetaSchedule's).

    transfer : bool or sequence of str
        A group without records of this CPU starts from other CPUs' records (those whose
        features this CPU has): its first round measures their best records here, and the
        cost model is trained on all their records, scaled per CPU by what was measured here
        (``tuning/transfer.py``). ``True`` (default): the other CPUs of ``log_dir`` and of
        the shipped records; a sequence: those records folders; ``False``: start cold.

    Returns
    -------
    list[GroupTuning]
        With the local runner, each group's best record was then timed in this process
        against the default schedule (``in_process``): ``compile(tuning_logs=)`` applies it
        only when it was faster beyond noise.
    """
    target = as_target(target)
    from ..guards import check_memory  # the arguments of every group are allocated below
    from ..settings import machine_memory

    check_memory(graph, live_nodes(graph), machine_memory())
    if isinstance(runner, RPCSettings):
        check_farm(runner)  # fail now, with the commands to run, not after the first build
    start = time.time()
    report = _progress_reporter(progress)
    results = []
    for group in fuse(graph, live_nodes(graph)):
        group_start = time.time()
        counters = Counters()
        builder = make_builder(counters)
        template = _template_for(group, target, template)
        kernel = lower(group.nodes, group.outputs, native_fp16=native_fp16(target))
        arguments = group_arguments(graph, kernel, inputs, seed)
        group_runner = make_runner(runner, arguments, counters=counters,
                                   timeout_s=run_timeout_s)
        try:
            try:
                default = measure_default(kernel.mod, group, target, template, builder,
                                          group_runner)
            except TuningError:
                if getattr(group_runner, "dead", ""):  # the RPC farm stopped answering
                    raise FarmError(f"group {group.name}: {group_runner.dead}") from None
                raise
            if template is schedules.fallback:  # no knobs: nothing to search
                results.append(GroupTuning(group.name, template.NAME, None, 0, 0,
                                           record_seconds(default.run_secs), None,
                                           time.time() - group_start,
                                           throughput=counters.snapshot()))
                continue
            folder = record_dir(log_dir, target, group, template.NAME)
            write_manifest(folder, graph.name, group, template.NAME)
            record_roofline(folder, group)  # the report's % of roofline (bandwidth.py)
            before, done, warm, stopped, transferred, explored = search(
                group, template, kernel.mod, default, folder, target, trials, batch, seed,
                builder, group_runner, lambda: time_budget_s is not None and
                time.time() - start > time_budget_s,
                report and (lambda d, b, new, name=group.name, c=counters: report(
                    name, d, trials, b, time.time() - start, new, c.snapshot())),
                _transfer_sources(transfer, log_dir))
        finally:
            close_runner(group_runner)
        searched = counters.snapshot()  # the search's rates, not the checks' after it
        default_seconds = record_seconds(default.run_secs)
        if keep_best:
            confirm_best(folder, target=target, keep=keep_best, runner=runner,
                         arguments=arguments, reference=default.mod)
        checked = None
        if runner == "local":
            checked = check_in_process(folder, kernel.mod, default.mod, target, arguments)
        database = open_database(folder)
        results.append(GroupTuning(group.name, template.NAME, folder, count_records(folder),
                                   done - before, default_seconds,
                                   best_seconds(database, kernel.mod, target),
                                   time.time() - group_start, warm, stopped, checked,
                                   searched, transferred, explored))
    return results


def _transfer_sources(transfer, log_dir) -> tuple[str, ...]:
    """The records folders whose other CPUs' records seed a new group: ``log_dir`` and the
    shipped records (``transfer=True``), none (``False``), or the folders given."""
    if transfer is True:
        from ..settings import shipped_logs

        return tuple(dict.fromkeys((str(log_dir), str(shipped_logs()))))
    return tuple(str(f) for f in transfer) if transfer else ()


def _template_for(group: FusionGroup, target, forced):
    """The group's template: ``forced`` (checked to apply) or the first that matches."""
    ctx = template_context(group, target)
    if forced is None:
        return schedules.choose(ctx)
    template = schedules.by_name(forced) if isinstance(forced, str) else forced
    schedules.check_forced(template, ctx, group.name)
    return template


def _progress_reporter(progress):
    """``progress`` as a 7-argument function (older callers take six: no ``stats``)."""
    if progress is None:
        return None
    try:
        parameters = inspect.signature(progress).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: the documented seven
        return progress
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return progress
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY,
                                                      p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 7:
        return progress
    return lambda *args: progress(*args[:6])

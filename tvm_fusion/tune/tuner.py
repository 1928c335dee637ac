"""``tvm_fusion.tune``: MetaSchedule's evolutionary search over each group's template space.

Thin on purpose: MetaSchedule brings the builder, runner, JSON database, XGBoost cost model
and evolutionary search. What it does silently, we make explicit:

- the space is ``ScheduleFn(template applied with tuning=True)`` with its postprocessors and
  mutators set explicitly (a bare callable gets none, and search degrades to re-sampling);
- tuning runs in rounds of ``batch`` trials, each committed to the JSON database before the
  next starts, so a killed run loses at most the round in flight, and a rerun continues the
  trial count from the records;
- a round that adds no record (every build failed or timed out) raises ``TuningError``;
- measurements: ``EvaluatorConfig(number=..., repeat=5, min_repeat_ms=20)``, the median of 5
  repeats of >= 20 ms each, so timer noise does not pick the winner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tvm

from .. import schedules
from ..build import build_group, template_context
from ..fuse import FusionGroup, fuse, live_nodes
from ..graph import Graph
from ..lower import lower
from ..target import as_target
from ..timing import median_seconds
from .measure import alloc_in_range_arguments
from .records import (count_records, count_valid_records, open_database, record_dir,
                      write_manifest)

BUILD_TIMEOUT_S = 120  # the first build of a worker imports TVM's tensor intrinsics (~30 s here)


class TuningError(RuntimeError):
    """A tuning round produced no measured record."""


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


def template_space(group: FusionGroup, target, template):
    from tvm.s_tir import meta_schedule as ms

    def space(sch) -> None:
        template.apply(sch, template_context(group, target, tuning=True))

    return ms.space_generator.ScheduleFn(
        space,
        sch_rules=[],
        postprocs=[ms.postproc.DisallowDynamicLoop(),
                   ms.postproc.RewriteParallelVectorizeUnroll(),
                   ms.postproc.RewriteReductionBlock()],
        mutator_probs={ms.mutator.MutateTileSize(): 1.0},
    )


def _time_function(function, mod: tvm.IRModule, repeat: int = 9) -> float:
    """Median seconds of a kernel on random arguments shaped like ``mod``'s parameters."""
    rng = np.random.default_rng(0)
    args = []
    for param in mod["main"].params:
        shape = tuple(int(d) for d in param.shape)
        dtype = str(param.dtype)
        value = np.zeros(shape, dtype) if "int" in dtype else rng.standard_normal(shape).astype(
            dtype)
        args.append(tvm.runtime.tensor(value))
    return median_seconds(lambda: function(*args), repeat=repeat)


def tune(graph: Graph, *, target=None, trials: int = 64, time_budget_s: float | None = None,
         log_dir: str | Path = "tuning_logs", seed: int = 0, batch: int = 8,
         progress: Callable[[str, int, int, float | None, float], None] | None = None,
         ) -> list[GroupTuning]:
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
    seed : int
        Search seed (each round uses ``seed + trials so far``).
    batch : int
        Trials per round: the most a killed run can lose.
    progress : callable, optional
        ``progress(group, done, total, best_seconds, elapsed_seconds)`` after each round.

    Returns
    -------
    list[GroupTuning]
    """
    from tvm.s_tir import meta_schedule as ms

    target = as_target(target)
    start = time.time()
    _quiet_metaschedule_console()
    builder = ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S)
    runner = ms.runner.LocalRunner(
        evaluator_config=ms.runner.EvaluatorConfig(number=3, repeat=5, min_repeat_ms=20,
                                                   enable_cpu_cache_flush=False),
        f_alloc_argument=alloc_in_range_arguments)
    results = []
    for group in fuse(graph, live_nodes(graph)):
        group_start = time.time()
        ctx = template_context(group, target)
        template = schedules.choose(ctx)
        default = build_group(group, target)
        default_seconds = _time_function(default.function, default.scheduled)
        if template is schedules.fallback:  # no knobs: nothing to search
            results.append(GroupTuning(group.name, template.NAME, None, 0, 0, default_seconds,
                                       None, time.time() - group_start))
            continue
        folder = record_dir(log_dir, target, group, template.NAME)
        write_manifest(folder, graph.name, group, template.NAME)
        database = open_database(folder)
        mod = lower(group.nodes, group.outputs).mod
        before = done = count_records(folder)
        valid_before = count_valid_records(folder)
        space = template_space(group, target, template)
        while done < trials:
            if time_budget_s is not None and time.time() - start > time_budget_s:
                break
            n = min(batch, trials - done)
            ms.tune_tir(mod, target, str(folder / "work"), max_trials_global=n,
                        num_trials_per_iter=n, space=space, database=database,
                        cost_model="xgb", builder=builder, runner=runner, seed=seed + done)
            now, valid = count_records(folder), count_valid_records(folder)
            if valid == valid_before or now == done:
                raise TuningError(
                    f"group {group.name}: a round of {n} trials measured nothing (every "
                    f"candidate failed to build or run); see {folder / 'work' / 'logs'}")
            done, valid_before = now, valid
            if progress:
                progress(group.name, done, trials, _best_seconds(database, mod, target),
                         time.time() - start)
        results.append(GroupTuning(group.name, template.NAME, folder, done, done - before,
                                   default_seconds, _best_seconds(database, mod, target),
                                   time.time() - group_start))
    return results


def _quiet_metaschedule_console() -> None:
    """MetaSchedule logs every round to stdout; keep that in its work-dir log files.

    Also drop unnamed handlers (pytest adds some): MetaSchedule rebuilds its logging config
    from handler names on every ``tune_tir`` and crashes on a ``None`` name.
    """
    logger = logging.getLogger("tvm.s_tir.meta_schedule")
    logger.handlers = [h for h in logger.handlers if h.get_name()]
    if logger.level in (logging.NOTSET, logging.DEBUG, logging.INFO):
        logger.setLevel(logging.WARNING)


def _best_seconds(database, mod, target) -> float | None:
    record = database.query_tuning_record(mod, target, "main")
    if record is None or not record.run_secs:
        return None
    return float(np.median([float(s) for s in record.run_secs]))

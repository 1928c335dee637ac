"""Transfer tuning: a group's tuning on a CPU without records of its own starts from the
records other CPUs tuned (the sources of ``transfer.py``).

:func:`seed`: the tuner's first round measures the sources' best records here (committed and
logged as trials), then the cost model is trained on all the sources' measurements, each
source's latencies scaled by the median ratio here/there of its records measured in that
round (absolute times differ between CPUs; the ranking is what carries over). A source's
measurements are its records and every trial of its ``trials.jsonl`` whose decisions this
CPU's template reproduces (a folder shipped with ``--keep-best 1`` keeps one record, but its
trial log keeps the whole search).
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics

from .mutator import as_decisions, trace_decisions
from .records import is_measured, record_seconds
from .transfer import MAX_CANDIDATES, candidates, read_records
from .trials import read_trials

TRAIN_PER_SOURCE = 256  # source records the tuner's cost model is trained on, per source
LOG = logging.getLogger(__name__)


def seed(log_dirs, target, workload: str, mod, measure_round, model, context,
         budget: int = MAX_CANDIDATES, replay=None) -> tuple[int, int]:
    """Start a group's tuning from other CPUs' records: ``measure_round(schedules)`` measures
    each source's best records here (the tuner's first round; it returns the seconds
    measured, ``None`` for a failure), then ``model`` is trained on every source record and
    logged trial (``replay(decisions)``: the template's schedule with a trial's decisions
    forced, ``ValueError`` when it does not reproduce them; ``None``: records only), its
    latency scaled by the source's median ratio here/there. ``budget``: the most records
    measured (the trials left). ``(measured, trained)``."""
    from tvm import s_tir
    from tvm.s_tir import meta_schedule as ms

    found, refused = candidates(log_dirs, target, workload, mod)
    for why in refused:  # a source that is there but cannot seed: say so, not nothing
        LOG.warning("transfer tuning of %s: %s", workload, why)
    found = found[:min(budget, MAX_CANDIDATES)]
    schedules = []
    for candidate in found:
        sch = s_tir.Schedule(mod)
        try:
            candidate.record.trace.apply_to_schedule(sch, remove_postproc=False)
        except Exception:  # noqa: BLE001, S112 - a trace of another template version
            continue
        schedules.append((candidate, sch))
    if not schedules:
        if found:
            LOG.warning("transfer tuning of %s: none of the %d records of other CPUs replays "
                        "on this template (tuned with another version of it): the search "
                        "starts cold", workload, len(found))
        return 0, 0
    seconds = measure_round([sch for _, sch in schedules])
    scale: dict[str, list[float]] = {}
    for (candidate, _), here in zip(schedules, seconds):
        if here is not None:
            scale.setdefault(candidate.source, []).append(here / candidate.seconds)
    seen = {_key(trace_decisions(sch.trace)) for _, sch in schedules}  # measured here
    trained, results = [], []
    for source, factors in scale.items():
        folder = next(c.folder for c in found if c.source == source)
        there = _measurements(folder, mod, replay, seen)[:TRAIN_PER_SOURCE]
        factor = statistics.median(factors)  # here/there: absolute times differ
        trained += [candidate for candidate, _ in there]
        results += [ms.runner.RunnerResult(run_secs=[s * factor], error_msg=None)
                    for _, s in there]
    if trained:
        model.update(context, trained, results)
    return sum(s is not None for s in seconds), len(trained)


def _key(decisions) -> tuple:
    return tuple(as_decisions(decisions))


def _measurements(folder, mod, replay, seen: set) -> list:
    """``(MeasureCandidate, seconds there)`` of a source folder, fastest first: its records,
    then the trials of its log that ``replay`` reproduces here, each schedule once and none
    in ``seen`` (updated)."""
    from tvm.s_tir import meta_schedule as ms

    found = []
    for seconds, record, _ in read_records(folder, mod):
        key = _key(trace_decisions(record.trace))
        if key not in seen:
            seen.add(key)
            found.append((record.as_measure_candidate(), seconds))
    if replay is None:
        return found
    args_info = ms.arg_info.ArgInfo.from_prim_func(mod["main"])
    trials = [t for t in read_trials(folder) if t.get("seconds") and not t.get("error")]
    for trial in sorted(trials, key=lambda t: t["seconds"]):
        key = _key(trial.get("decisions") or ())
        if key in seen:
            continue
        seen.add(key)
        try:
            sch, _ = replay(trial["decisions"])
        except Exception:  # noqa: BLE001, S112 - another branch or another CPU's template
            continue
        found.append((ms.MeasureCandidate(sch, args_info), trial["seconds"]))
    return sorted(found, key=lambda pair: pair[1])


def measure_round(builder, runner, target, args_info, commit):
    """A function measuring schedules through the tuner's ``builder`` and ``runner`` as one
    round, committed and logged by ``commit`` (the tuner's ``CommitRound``); it returns
    each schedule's median seconds, or ``None`` when it failed."""
    from tvm.s_tir import meta_schedule as ms

    device = "cpu" if target.kind.name == "llvm" else target.kind.name

    def run(schedules) -> list[float | None]:
        built = builder.build([ms.builder.BuilderInput(s.mod, target) for s in schedules])
        results = []
        for result in built:
            if result.error_msg:
                results.append(ms.runner.RunnerResult(run_secs=None,
                                                      error_msg=result.error_msg))
                continue
            (future,) = runner.run([ms.runner.RunnerInput(result.artifact_path, device,
                                                          args_info)])
            results.append(future.result())
            shutil.rmtree(os.path.dirname(result.artifact_path), ignore_errors=True)
        commit.commit_measured([ms.MeasureCandidate(s, args_info) for s in schedules], built,
                               results)
        return [record_seconds(r.run_secs) if r.run_secs and is_measured(r.run_secs)
                else None for r in results]

    return run

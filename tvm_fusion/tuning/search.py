"""The rounds of one group's search (``tune`` calls :func:`search` per group): the default
schedule committed as the first record, other CPUs' records measured first on a CPU without
records of its own (``seeding.py``), the cost model warm-started from the records, then
MetaSchedule's evolutionary search in rounds of ``batch`` trials, each committed and checked
before the next; a round measuring nothing raises, a small space fully measured stops."""

from __future__ import annotations

import logging

from .durable import AppendCheck
from .farm import FarmError
from .records import (
    RECORD_FILE,
    commit_workload,
    count_records,
    count_valid_records,
    open_database,
    record_seconds,
)
from .seeding import measure_round
from .seeding import seed as transfer_seed
from .space import (
    cost_model,
    knob_values,
    quiet_metaschedule_console,
    replay,
    template_space,
    warm_start,
)
from .strategy import EXPLORE_DRAWS, UnmeasuredSearch
from .trials import CommitRound, TrialLog
from .verify import TuningError

# A template space holds tens to hundreds of points, not the generic space's millions: a
# population of 128 (MetaSchedule's default: 512) covers it, and each member costs a Python
# template run (~5 ms), so the default population made the search 10 s of a 14 s round.
# MetaSchedule's eps_greedy (0.05) keeps int(0.05 * 8) = 0 random picks in a round of 8:
# every pick is the cost model's. 0.25 (2 random picks a round) was tried on P5 (the cold
# 64-trial best read 890 and 907 us with seeds 1 and 2, against 896 and 821 with 0.05) and
# gained nothing measurable, so MetaSchedule's value stays. Exploration comes instead where the
# search has none left: a round it leaves short is filled at random (``strategy.py``).
SEARCH = {"population_size": 128, "init_min_unmeasured": 32}



def search(group, template, mod, default, folder, target, trials, batch, seed, builder,
            runner, out_of_time, progress, transfer=()) -> tuple[int, int, int, str, int, int]:
    """The rounds of one group: ``(records before, records after, warm start, why it
    stopped, records of other CPUs measured first, candidates drawn at random because the
    search proposed only measured ones)``; ``transfer``: the records folders
    whose other CPUs' records seed a group without records (``transfer.py``)."""
    from tvm.s_tir import meta_schedule as ms

    database = open_database(folder, mod)  # bad lines moved aside before any append
    before = done = count_records(folder)
    valid_before = count_valid_records(folder)
    space = template_space(group, target, template, seed)
    model = cost_model(warmup=min(batch, trials))
    log = TrialLog(folder, lambda trace: knob_values(group, target, template, mod, trace),
                   unlogged=done)
    workload = commit_workload(database, mod, folder)  # checked: MetaSchedule's C++ is not
    records = AppendCheck(folder / RECORD_FILE)  # every commit checked (durable.py)
    if done == 0:  # the search starts from the heuristic, and never ships worse than it
        database.commit_tuning_record(ms.database.TuningRecord(
            default.trace, workload, default.run_secs, target, default.args_info))
        records.committed(1)
        done = count_records(folder)
        log.append([(record_seconds(default.run_secs), None, default.trace, True)])
    commit = CommitRound(database, workload, target, log, records)  # once each, checked
    transferred = (0, 0)
    if before == 0 and transfer and done < trials:  # no records of this CPU: other CPUs'
        context = ms.TuneContext(mod=mod, target=target, space_generator=space,
                                 task_name="main", num_threads=1)
        transferred = transfer_seed(transfer, target, folder.name, mod, measure_round(
            builder, runner, target, default.args_info, commit), model, context,
            budget=trials - done,
            replay=lambda decisions: replay(group, target, template, mod, decisions))
        done = count_records(folder)
    warm = transferred[1] + (warm_start(model, database, mod, target, space)
                             if done < trials else 0)
    stopped = "trials reached"
    measured_any = False  # a round of this run measured a candidate
    explored = 0
    while done < trials:
        if out_of_time():
            stopped = "time budget"
            break
        n = min(batch, trials - done)
        quiet_metaschedule_console()  # every tune_tir call resets its loggers to DEBUG
        strategy = UnmeasuredSearch(ms.search_strategy.EvolutionarySearch(**SEARCH),
                                    commit.seen)
        ms.tune_tir(mod, target, str(folder / "work"), max_trials_global=n,
                    num_trials_per_iter=n, space=space, database=database,
                    cost_model=model, builder=builder, runner=runner, seed=seed + done,
                    strategy=strategy,
                    measure_callbacks=[commit, ms.measure_callback.RemoveBuildArtifact(),
                                       ms.measure_callback.UpdateCostModel()])
        explored += strategy.explored
        if commit.failure is not None:  # a full disk: the round's records did not all land
            raise commit.failure
        if getattr(runner, "dead", ""):  # the RPC farm stopped answering (farm.py)
            raise FarmError(f"group {group.name}: {runner.dead}; the records measured so far "
                            f"are in {folder}")
        now, valid = count_records(folder), count_valid_records(folder)
        if now == done:
            stopped = "space exhausted"
            logging.getLogger(__name__).warning(
                "group %s: neither the search nor %d random draws of the template found an "
                "unmeasured candidate after %d trials; stopping (the template's space is "
                "small)", group.name, EXPLORE_DRAWS * n, done)
            break
        if valid == valid_before and not measured_any:  # nothing works: say so, loudly
            raise TuningError(
                f"group {group.name}: a round of {n} trials measured nothing (every "
                f"candidate failed to build or run); see {folder / 'trials.jsonl'}")
        if valid == valid_before:  # earlier rounds measured: bad candidates, not a bad setup
            logging.getLogger(__name__).warning(
                "group %s: every candidate of a round of %d trials failed (reasons in %s); "
                "the search goes on", group.name, n, folder / "trials.jsonl")
        measured_any |= valid > valid_before
        done, valid_before = now, valid
        if progress:
            progress(done, best_seconds(database, mod, target), done - before)
    return before, done, warm, stopped, transferred[0], explored


def best_seconds(database, mod, target) -> float | None:
    record = database.query_tuning_record(mod, target, "main")
    if record is None or not record.run_secs:
        return None
    return record_seconds(record.run_secs)

"""Tuning faults (issue 14): a candidate that segfaults, hangs or computes wrong numbers is
failed with its reason and the search goes on; a record giving wrong results never applies.

The candidates come from ``faulty_template.py`` (its knob ``fault``): real kernels, built by
the tuner's builder and run by its runner in real worker processes (a real SIGSEGV, a real
timeout kill). ``TVM_FUSION_FAULT_ROUNDS=full`` runs the tuning run with all three faults
(about two minutes here) instead of the wrong-results one only.
"""

import os
import re
import time

import numpy as np
import pytest
from tvm import s_tir
from tvm.s_tir import meta_schedule as ms

import tvm_fusion as tf
from tests.tuning import faulty_template
from tvm_fusion.build import schedule_group, template_context
from tvm_fusion.fusion import fuse
from tvm_fusion.lower import lower
from tvm_fusion.target import host_target
from tvm_fusion.timing import median_seconds
from tvm_fusion.tuning import tune
from tvm_fusion.tuning.measure import KernelArguments, close_runner, make_builder, make_runner
from tvm_fusion.tuning.records import count_records, is_measured, open_database, record_dir
from tvm_fusion.tuning.throughput import Counters
from tvm_fusion.tuning.trials import read_trials
from tvm_fusion.tuning.verify import (
    best_records,
    built,
    check_in_process,
    confirm_best,
    measure_default,
    run_once,
)

SHAPE = (53, 96)  # a prime row count; the last extent splits into the template's 4-tiles
SEGFAULT, HANG, WRONG = 1, 2, 3


def relu_graph() -> tf.Graph:
    g = tf.Graph("faulty-relu")
    x = g.input("x", SHAPE, "float32")
    g.output(g.relu(x))
    return g


@pytest.fixture(scope="module")
def workload():
    graph = relu_graph()
    (group,) = fuse(graph)
    target = host_target()
    mod = lower(group.nodes, group.outputs).mod
    return graph, group, target, mod


def schedule(workload, fault: int, vector: int | None = None) -> s_tir.Schedule:
    _, group, target, mod = workload
    decisions = (("fault", fault),) + ((("vector", vector),) if vector else ())
    sch = s_tir.Schedule(mod)
    faulty_template.apply(sch, template_context(group, target, decisions=decisions))
    return sch


def relu_of_arguments(mod) -> tuple[np.ndarray, np.ndarray]:
    x, _ = run_once(mod, mod, host_target(), KernelArguments())  # unscheduled: plain TVM
    return x, np.maximum(x, 0)


def test_runner_fails_a_crash_a_hang_and_wrong_results_with_reasons_and_goes_on(workload):
    _, group, target, mod = workload
    counters = Counters()
    builder = make_builder(counters)
    runner = make_runner("local", KernelArguments(), counters=counters, timeout_s=2)
    candidates = [schedule(workload, f) for f in (SEGFAULT, HANG, WRONG)]
    candidates.append(schedule(workload, 0, vector=1))  # correct, measured after the faults
    start = time.time()
    try:
        default = measure_default(mod, group, target, faulty_template, builder, runner)
        results = builder.build([ms.builder.BuilderInput(c.mod, target) for c in candidates])
        assert [r.error_msg for r in results] == [None] * 4
        ran = [f.result() for f in runner.run([
            ms.runner.RunnerInput(r.artifact_path, "cpu", default.args_info) for r in results])]
    finally:
        close_runner(runner)
    crash, hang, wrong, correct = (r.error_msg for r in ran)
    assert crash == ("crashed: the kernel killed the runner's worker process (Segmentation "
                     "fault: an out-of-bounds or wild memory access); scored as failed, the "
                     "search goes on")
    assert hang == ("timed out: still running after the runner's timeout of 2 s, killed (a "
                    "hang, or a kernel slower than that: tune(run_timeout_s=) raises it)")
    assert correct is None and is_measured(ran[3].run_secs)  # the runner went on
    assert time.time() - start < 60, "the hung candidate was killed, not waited for"
    # the wrong candidate's message names its worst element, as numpy sees it
    found = re.fullmatch(r"wrong results: max abs error (\S+) at 'relu_0'\[(\d+), (\d+)\] "
                         r"\(tuned (\S+), default schedule (\S+); allowed (\S+)\)", wrong)
    assert found, wrong
    _, tuned_out = run_once(candidates[2].mod, mod, target, KernelArguments())
    _, expected = relu_of_arguments(mod)
    error = np.abs(tuned_out - expected)
    row, column = np.unravel_index(np.argmax(error), error.shape)
    assert (int(found[2]), int(found[3])) == (row, column)
    assert float(found[1]) == pytest.approx(error.max(), rel=1e-2)
    assert float(found[5]) == pytest.approx(expected[row, column], rel=1e-4)
    stats = counters.snapshot()
    assert {kind: n for kind, n, _ in stats.failures} == {
        "crashed": 1, "timed out": 1, "wrong results": 1}
    assert (stats.measurements, stats.measure_errors) == (2, 3)  # the default and the correct


def _commit_measured(database, workload, sch, repeat=15) -> float:
    """Commit ``sch`` as a record timed here (as a record tuned elsewhere would arrive)."""
    _, _, target, mod = workload
    args = run_once_arguments(mod)
    function = built(sch.mod, target)
    seconds = median_seconds(lambda: function(*args), repeat=repeat)
    database.commit_tuning_record(ms.database.TuningRecord(
        sch.trace, database.commit_workload(mod), [seconds] * 3, target,
        ms.arg_info.ArgInfo.from_prim_func(mod["main"])))
    return seconds


def run_once_arguments(mod):
    from tvm_fusion.tuning.measure import kernel_arguments

    return kernel_arguments(mod, KernelArguments())


@pytest.fixture
def poisoned_logs(tmp_path, workload):
    """A records folder whose best record gives wrong results (tuned elsewhere: a farm
    without the check, an older version, a miscompiling TVM), next to correct ones."""
    _, group, target, _ = workload
    folder = record_dir(tmp_path, target, group, faulty_template.NAME)
    database = open_database(folder)
    default = schedule(workload, 0)
    _commit_measured(database, workload, default)
    _commit_measured(database, workload, schedule(workload, 0, vector=1))
    # compile's default: the shipped injective template's (the verdict must be about it)
    shipped_default = schedule_group(lower(group.nodes, group.outputs), group, target).mod
    # logged as the fastest, as a wrong kernel that skips work often is
    wrong = schedule(workload, WRONG)
    database.commit_tuning_record(ms.database.TuningRecord(
        wrong.trace, database.commit_workload(workload[3]), [1e-9] * 3, target,
        ms.arg_info.ArgInfo.from_prim_func(workload[3]["main"])))
    assert float(best_records(open_database(folder), workload[3], 1)[0].run_secs[0]) == \
        pytest.approx(1e-9)
    return tmp_path, folder, shipped_default


def test_a_record_giving_wrong_results_never_applies_even_when_fastest(workload,
                                                                       poisoned_logs):
    graph, _, target, mod = workload
    logs, folder, default_mod = poisoned_logs
    checked = check_in_process(folder, mod, default_mod, target, KernelArguments(), rounds=3)
    assert checked.why.startswith("tuned record gives wrong results: max abs error "), \
        checked.why
    assert " at 'relu_0'[" in checked.why and "(marked failed); " in checked.why
    assert count_records(folder) == 3  # nothing lost: the wrong record is kept, as failed
    remaining = best_records(open_database(folder), mod, 8)
    assert len(remaining) == 2 and all(float(r.run_secs[0]) > 1e-8 for r in remaining)
    fn = tf.compile(graph, tuning_logs=str(logs))
    x = np.random.default_rng(3).standard_normal(SHAPE).astype("float32")
    np.testing.assert_array_equal(fn(x=x)[0], np.maximum(x, 0))
    if checked.applies:  # the next best, correct record won in process: it is the one applied
        assert fn.schedules == ("tuned:injective",), fn.notices
    else:
        assert fn.schedules == ("injective",) and "tuned record gives wrong results" in \
            fn.notices[0]


def test_confirm_best_drops_a_record_giving_wrong_results(workload, poisoned_logs):
    _, _, target, mod = workload
    _, folder, default_mod = poisoned_logs
    kept = confirm_best(folder, target=target, keep=3, runs=1, arguments=KernelArguments(),
                        reference=default_mod)
    assert len(kept) == 2  # the wrong record failed its re-measurement: not kept
    records = best_records(open_database(folder), mod, 8)
    assert len(records) == 2
    for record in records:
        _, out = run_once(_replayed(record, mod), mod, target, KernelArguments())
        np.testing.assert_array_equal(out, relu_of_arguments(mod)[1])


def _replayed(record, mod):
    from tvm_fusion.tuning.verify import replay

    return replay(record, mod)


PLANS = {"wrong": [0, WRONG, 0], "full": [0, SEGFAULT, HANG, WRONG, 0]}  # 7 correct tiles
ERRORS = {SEGFAULT: "crashed: the kernel killed the runner's worker process (Segmentation "
                    "fault", HANG: "timed out: still running after the runner's timeout of 3 s",
          WRONG: "wrong results: max abs error"}


def test_tuning_run_fails_bad_candidates_with_reasons_and_ships_a_correct_record(tmp_path):
    rounds = os.environ.get("TVM_FUSION_FAULT_ROUNDS", "wrong")
    plan = PLANS[rounds]
    faulty_template.PLAN, faulty_template.ROUND = plan, 0

    graph = relu_graph()
    (group,) = fuse(graph)
    folder = record_dir(tmp_path, host_target(), group, faulty_template.NAME)

    def next_round(*_):
        # a fault round is repeated until its candidate was measured: MetaSchedule's search
        # may fill a round with re-proposed records first
        fault = plan[min(faulty_template.ROUND, len(plan) - 1)]
        if fault == 0 or any(t["decisions"] == [] and t["error"] and
                             t["error"].startswith(ERRORS[fault]) for t in read_trials(folder)):
            faulty_template.ROUND += 1

    try:
        (result,) = tune(graph, trials=4 * len(plan), batch=4, log_dir=tmp_path, transfer=False,
                         template=faulty_template, run_timeout_s=3, progress=next_round)
    finally:
        faulty_template.PLAN = None
    trials = read_trials(result.folder)
    failed = [t for t in trials if t["error"]]
    for start in (ERRORS[f] for f in set(plan) - {0}):
        assert any(t["error"].startswith(start) for t in failed), (start, failed)
    first_failure = min(t["trial"] for t in failed)
    assert any(t["seconds"] for t in trials if t["trial"] > first_failure), \
        "the search goes on: trials after a failure are measured"
    kinds = {kind for kind, _, _ in result.throughput.failures}
    assert "wrong results" in kinds and result.best_seconds is not None
    fn = tf.compile(graph, tuning_logs=str(tmp_path))
    x = np.random.default_rng(5).standard_normal(SHAPE).astype("float32")
    np.testing.assert_array_equal(fn(x=x)[0], np.maximum(x, 0))

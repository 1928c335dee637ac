"""Real tuning runs with tiny budgets (never skipped): records, resume, apply-best, SIGKILL."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion import cli, workloads
from tvm_fusion.fusion import fuse
from tvm_fusion.target import host_target, target_key
from tvm_fusion.tuning import confirm_best, record_dir, tune, workload_key
from tvm_fusion.tuning.records import (
    RECORD_FILE,
    best_logged_seconds,
    count_records,
    count_valid_records,
)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    graph, arrays = workloads.load("W1s")
    first = tune(graph, trials=8, log_dir=logs, transfer=False)
    return logs, graph, arrays, first


def test_records_are_written_in_metaschedule_format(tuned):
    logs, graph, _, (result,) = tuned
    (group,) = fuse(graph)
    folder = record_dir(logs, host_target(), group, "reduction-rooted")
    assert folder == logs / target_key(host_target()) / workload_key(group, "reduction-rooted")
    assert result.folder == folder and result.trials == count_records(folder) >= 1
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["template"] == "reduction-rooted" and manifest["inputs"]["x"]["shape"] == [
        8, 16, 16, 32]
    for line in (folder / RECORD_FILE).read_text().splitlines():
        json.loads(line)  # MetaSchedule's JSON database: one JSON record per line
    assert result.best_seconds is not None and result.best_seconds > 0


def test_resume_continues_the_trial_count(tuned):
    logs, graph, _, (first,) = tuned
    valid = count_valid_records(first.folder)
    (again,) = tune(graph, trials=first.trials + 4, log_dir=logs, transfer=False)
    assert again.trials > first.trials and again.new_trials == again.trials - first.trials
    assert again.warm_start == valid >= 1  # the cost model saw the old records first
    (done,) = tune(graph, trials=again.trials, log_dir=logs, transfer=False)
    assert done.new_trials == 0  # nothing left to do: no new round


def test_best_record_is_applied_and_matches_numpy(tuned):
    logs, graph, arrays, _ = tuned
    fn = tf.compile(graph, tuning_logs=str(logs))
    assert fn.schedules == ("tuned:reduction-rooted",)
    assert "records applied" in fn.notices[0]
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-5)


def test_records_of_another_target_or_shape_are_never_applied(tuned):
    logs, graph, _, _ = tuned
    other_target = {"kind": "llvm", "mcpu": host_target().attrs["mcpu"], "num-cores": 1}
    fn = tf.compile(graph, target=other_target, tuning_logs=str(logs), transfer=False)
    assert fn.schedules == ("reduction-rooted",) and "no tuning record" in fn.notices[0]
    g = tf.Graph("W1s-other-shape")
    x = g.input("x", (8, 16, 16, 16), "float32")
    g.output(g.transpose(g.reduce_sum(x, axes=[2], keepdims=True), perm=(0, 3, 1, 2)))
    fn = tf.compile(g, tuning_logs=str(logs))
    assert fn.schedules == ("reduction-rooted",) and "no tuning record" in fn.notices[0]


def test_truncated_last_line_is_skipped_with_a_warning(tuned):
    logs, graph, arrays, _ = tuned
    (group,) = fuse(graph)
    path = record_dir(logs, host_target(), group, "reduction-rooted") / RECORD_FILE
    path.write_text(path.read_text() + '[0, [["sample_perfect_tile"')  # killed mid-write
    lines = path.read_text().count("\n") + 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn = tf.compile(graph, tuning_logs=str(logs))
        fn(**arrays)
    assert any(f"{RECORD_FILE}:{lines}" in str(w.message) for w in caught)
    assert fn.schedules == ("tuned:reduction-rooted",)


def test_sigkill_mid_run_then_rerun_continues(tmp_path):
    command = [sys.executable, "-m", "tvm_fusion.cli", "tune", "W3s", "--trials", "40",
               "--logs", str(tmp_path), "--no-transfer"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 400
    records = []
    while time.time() < deadline and not records:
        records = [p for p in tmp_path.rglob(RECORD_FILE) if count_records(p.parent) >= 1]
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)  # the run and its worker processes
    process.wait()
    assert records, "no record was written before the deadline"
    folder = records[0].parent
    killed_at = count_records(folder)
    assert 1 <= killed_at < 40
    graph = workloads.graph("W3s")
    (result,) = tune(graph, trials=killed_at + 4, log_dir=tmp_path, transfer=False)
    assert result.folder == folder and result.trials > killed_at
    assert result.new_trials == result.trials - killed_at
    assert os.path.exists(folder / "manifest.json")


def test_confirmed_records_are_re_measured_and_still_apply(tuned, tmp_path):
    logs, graph, arrays, (first,) = tuned
    shutil.copytree(logs, tmp_path / "logs")
    folder = tmp_path / "logs" / first.folder.relative_to(logs)
    assert count_valid_records(folder) >= 2
    (kept,) = confirm_best(folder, keep=1, candidates=2, runs=2)
    assert count_records(folder) == 1 and best_logged_seconds(folder) == pytest.approx(kept)
    run_secs = json.loads((folder / RECORD_FILE).read_text())[1][1]
    assert len(run_secs) == 2 * 5  # the new measurements (2 runs x 5 repeats), not the old
    assert not (folder / "work").exists()
    fn = tf.compile(graph, tuning_logs=str(tmp_path / "logs"))
    assert "best of 1 records applied" in fn.notices[0]
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-5)


def test_cli_compile_says_which_record_it_applied(tuned, capsys):
    logs, _, _, _ = tuned
    assert cli.main(["compile", "W1s", "--logs", str(logs), "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "tuned:reduction-rooted" in out and "records applied" in out
    assert "check against numpy: ok" in out
    assert "faster" in out  # the in-process check the record passed
    # tuned and default timed in interleaved rounds: a ratio with its spread, or no difference
    assert re.search(r"default/tuned (\d+\.\d\dx|same within noise) \(.*IQR over 3 rounds", out)
    assert cli.main(["compile", "W1s", "--no-logs", "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "(reduction-rooted)" in out and "records applied" not in out


def test_demo_runs_tuned_kernels_from_the_logs(tuned, capsys):
    logs, _, _, _ = tuned
    assert cli.main(["demo", "W1s", "--logs", str(logs), "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "tuned:reduction-rooted" in out and "records applied" in out

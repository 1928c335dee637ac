"""trials.jsonl: one line per measured trial, in order, across reruns, matching the records."""

import json

from tvm_fusion import workloads
from tvm_fusion.tuning import tune
from tvm_fusion.tuning.records import RECORD_FILE, count_records, record_seconds
from tvm_fusion.tuning.trials import TRIALS_FILE, read_trials


def _record_medians(folder) -> list[float]:
    lines = (folder / RECORD_FILE).read_text().splitlines()
    return sorted(record_seconds(json.loads(line)[1][1]) for line in lines if line.strip())


def test_every_measured_trial_is_logged_in_order_across_reruns(tmp_path):
    graph = workloads.graph("W1s")
    (first,) = tune(graph, trials=4, log_dir=tmp_path, transfer=False)
    trials = read_trials(first.folder)
    assert [t["trial"] for t in trials] == [1, 2, 3, 4] == list(range(1, count_records(
        first.folder) + 1))
    assert trials[0]["default"] and not any(t["default"] for t in trials[1:])
    assert trials[0]["knobs"], "the default schedule's decisions by knob name"
    assert all(t["decisions"] for t in trials)
    (again,) = tune(graph, trials=8, log_dir=tmp_path, transfer=False)  # a rerun continues the log
    trials = read_trials(again.folder)
    assert [t["trial"] for t in trials] == list(range(1, 9))
    elapsed = [t["elapsed_s"] for t in trials]
    assert elapsed == sorted(elapsed) and elapsed[0] == 0.0
    logged = sorted(t["seconds"] for t in trials if t["seconds"] is not None)
    assert logged == _record_medians(again.folder)  # the same measurements as the records
    with open(again.folder / TRIALS_FILE, "a") as f:
        f.write('{"trial": 9, "elaps')  # a line cut by a kill is skipped, not fatal
    assert len(read_trials(again.folder)) == 8

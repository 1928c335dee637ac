"""Tuning searches the row-reduction template's knobs (a real run with a tiny budget)."""

import json

import numpy as np

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.tuning import tune
from tvm_fusion.tuning.records import RECORD_FILE, read_verdict, write_verdict


def test_softmax_tunes_over_its_knobs_applies_and_matches_numpy(tmp_path):
    graph, arrays = workloads.load("P1s")
    (result,) = tune(graph, trials=16, log_dir=tmp_path, transfer=False)
    assert result.trials >= 9 and result.best_seconds is not None
    records = [json.loads(line) for line in
               (result.folder / RECORD_FILE).read_text().splitlines() if line.strip()]
    decisions = {json.dumps(record[1][0][1]) for record in records}  # the trace's decisions
    assert len(decisions) >= 2, "the search measured only one schedule"
    # the record applies only if it beat the default in process; either way compile says so
    fn = tf.compile(graph, tuning_logs=str(tmp_path))
    verdict = read_verdict(result.folder)
    assert verdict["applies"] == result.in_process.applies
    expected = ("tuned:row-reduction",) if verdict["applies"] else ("row-reduction",)
    assert fn.schedules == expected, fn.notices
    # the best record replays and computes the right result (applied whatever it measured)
    default_hash = int(verdict["default_hash"])  # the default schedule it was checked against
    write_verdict(result.folder, applies=True, why="applied by the test", tuned_hash=0,
                  default_hash=default_hash)
    fn = tf.compile(graph, tuning_logs=str(tmp_path))
    assert fn.schedules == ("tuned:row-reduction",), fn.notices
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("P1s", arrays),
                               rtol=1e-5, atol=1e-7)
    # a verdict won against another default schedule (the template changed since) is stale
    write_verdict(result.folder, applies=True, why="applied by the test", tuned_hash=0,
                  default_hash=default_hash + 1)
    fn = tf.compile(graph, tuning_logs=str(tmp_path))
    assert fn.schedules == ("row-reduction",), fn.notices
    assert "beat an older default schedule, not today's" in fn.notices[0]
    assert "tvm-fusion tune <workload> --trials 1" in fn.notices[0]

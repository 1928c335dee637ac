"""Records of another CPU (tuning/transfer.py): a second "CPU" is made on this machine by
tuning under an older x86-64 level whose features this CPU has; a CPU whose features this
one lacks (it could not run here) is a copy of those records under its name and target."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tvm

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.fusion import fuse
from tvm_fusion.target import host_target, target_key
from tvm_fusion.tuning import record_dir, tune
from tvm_fusion.tuning.records import RECORD_FILE, WORKLOAD_FILE, count_records
from tvm_fusion.tuning.transfer import TRANSFER_FILE, isa_features
from tvm_fusion.tuning.trials import read_trials

NEWER = ("diamondrapids", "graniterapids", "sapphirerapids", "znver5", "znver4")


def level_this_cpu_has() -> str:
    for cpu in ("x86-64-v3", "x86-64-v2"):
        if isa_features(host_target(cpu=cpu)) <= isa_features(host_target()):
            return cpu
    raise AssertionError("this CPU has neither x86-64-v3's nor x86-64-v2's features")


def cpu_this_one_lacks() -> tuple[str, list[str]]:
    here = isa_features(host_target())
    for cpu in NEWER:
        if tvm.target.codegen.llvm_is_valid_cpu(cpu, tvm.target.codegen.llvm_get_system_triple()):
            missing = sorted(isa_features(host_target(cpu=cpu)) - here)
            if missing:
                return cpu, missing
    raise AssertionError(f"this CPU has every feature of {NEWER}: name a newer one")


@pytest.fixture(scope="module")
def other_cpu(tmp_path_factory):
    """Records of W1s tuned under an older x86-64 level, plus (in ``foreign``) the same
    records as if tuned on a CPU whose features this one lacks."""
    logs = tmp_path_factory.mktemp("other_cpu")
    graph, arrays = workloads.load("W1s")
    level = host_target(cpu=level_this_cpu_has())
    (result,) = tune(graph, target=level, trials=4, batch=4, log_dir=logs, transfer=False)
    assert count_records(result.folder) >= 2
    foreign = tmp_path_factory.mktemp("foreign")
    cpu, missing = cpu_this_one_lacks()
    copy = foreign / target_key(host_target(cpu=cpu)) / result.folder.name
    shutil.copytree(result.folder, copy)
    source_key = json.dumps(level.attrs["mcpu"])
    text = (copy / RECORD_FILE).read_text().replace(f'"mcpu":{source_key}', f'"mcpu":"{cpu}"')
    assert f'"mcpu":"{cpu}"' in text
    (copy / RECORD_FILE).write_text(text)
    return logs, foreign, graph, arrays, target_key(level), (cpu, missing)


def cache_file(logs, graph):
    (group,) = fuse(graph)
    return record_dir(logs, host_target(), group, "reduction-rooted") / TRANSFER_FILE


def test_a_transferred_record_is_verified_and_applied_only_when_faster(other_cpu):
    logs, _, graph, arrays, source, _ = other_cpu
    fn = tf.compile(graph, tuning_logs=str(logs))
    (notice,) = fn.notices
    verdict = json.loads(cache_file(logs, graph).read_text())
    assert verdict["source"] == source and f"{source}'s record" in verdict["why"]
    assert "us vs default" in verdict["why"] and "IQR over 7 rounds" in verdict["why"]
    if verdict["applies"]:  # faster beyond noise: the notice names the CPU and the gain
        assert verdict["gain"] > 1.02 and " faster" in verdict["why"]
        assert fn.schedules == ("tuned:reduction-rooted",)
        assert f"record transferred from {source} applied" in notice
    else:
        assert fn.schedules == ("reduction-rooted",)
        assert "no transferred record applied" in notice and notice.endswith("default schedule")
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-5)


def test_the_cached_verdict_is_reused_and_an_applied_one_runs_the_record(other_cpu):
    logs, _, graph, arrays, source, _ = other_cpu
    tf.compile(graph, tuning_logs=str(logs))
    path = cache_file(logs, graph)
    verdict = json.loads(path.read_text())
    fn = tf.compile(graph, tuning_logs=str(logs))
    assert "verdict cached in" in fn.notices[0] and "not measured again" in fn.notices[0]
    assert json.loads(path.read_text()) == verdict
    # the applied branch, whatever this machine measured: the same verdict saying "faster"
    path.write_text(json.dumps({**verdict, "applies": True, "why": "said faster"}))
    fn = tf.compile(graph, tuning_logs=str(logs))
    assert fn.schedules == ("tuned:reduction-rooted",)
    assert f"record transferred from {source} applied: said faster" in fn.notices[0]
    assert fn.kernels[0].trace  # the source record's trace, replayed on this kernel
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-5)
    path.write_text(json.dumps({**verdict, "key": "another default schedule"}))
    fn = tf.compile(graph, tuning_logs=str(logs))  # a stale key: measured again
    assert "verdict kept in" in fn.notices[0]
    assert json.loads(path.read_text())["key"] == verdict["key"]


def test_a_busy_machine_gets_no_verdict_and_none_is_kept(other_cpu):
    """Two processes spinning on the two cores: the check's timings are the scheduler's,
    so it decides nothing, keeps nothing and says why; the default schedule runs."""
    logs, _, graph, arrays, _, _ = other_cpu
    path = cache_file(logs, graph)
    path.unlink(missing_ok=True)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        fn = tf.compile(graph, tuning_logs=str(logs))
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    (notice,) = fn.notices
    assert "no transferred record applied: NOT decided: other processes kept" in notice
    assert "compile again when the machine is idle" in notice
    assert "not kept: measured again by the next compile" in notice
    assert fn.schedules == ("reduction-rooted",) and not path.exists()
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-5)


def test_a_record_whose_features_this_cpu_lacks_is_never_applied(other_cpu):
    _, foreign, graph, arrays, _, (cpu, missing) = other_cpu
    fn = tf.compile(graph, tuning_logs=str(foreign))
    assert fn.schedules == ("reduction-rooted",)
    key = target_key(host_target(cpu=cpu))
    assert f"{key}'s record is for a CPU with {', '.join(missing)}, which this CPU lacks" \
        in fn.notices[0]
    assert not cache_file(foreign, graph).exists()  # nothing measured, nothing to cache
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-5)


def test_transfer_false_and_shipped_folders_are_left_alone(other_cpu):
    logs, _, graph, _, _, _ = other_cpu
    fn = tf.compile(graph, tuning_logs=str(logs), transfer=False)
    assert fn.schedules == ("reduction-rooted",) and "transferred" not in fn.notices[0]
    assert fn.notices[0].startswith("reduce_sum_0+transpose_1: no tuning record")


def test_tuning_starts_from_the_other_cpus_records(other_cpu, tmp_path):
    logs, _, graph, _, _, _ = other_cpu
    (group,) = fuse(graph)
    source_folder = record_dir(logs, host_target(cpu=level_this_cpu_has()), group,
                               "reduction-rooted")
    (result,) = tune(graph, trials=4, batch=4, log_dir=tmp_path, transfer=[logs])
    assert result.transferred >= 1  # the first round measured the source's best records
    trials = read_trials(result.folder)
    assert trials[0]["default"] and not trials[1]["default"]
    source_traces = [json.loads(line)[1][0] for line in
                     (source_folder / RECORD_FILE).read_text().splitlines()]
    own = [json.loads(line)[1][0] for line in
           (result.folder / RECORD_FILE).read_text().splitlines()]
    assert any(trace in source_traces for trace in own[1:1 + result.transferred])
    (cold,) = tune(graph, trials=2, batch=2, log_dir=tmp_path / "cold", transfer=False)
    assert cold.transferred == 0


def test_demo_says_per_group_where_its_record_came_from(other_cpu, capsys):
    from tvm_fusion import cli

    logs = other_cpu[0]
    assert cli.main(["demo", "W1s", "--repeat", "3", "--logs", str(logs)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("workload "))
    assert header.split()[:4] == ["workload", "computation", "schedule", "record"]
    (row,) = [line for line in out.splitlines() if line.startswith("W1s ")]
    (notice,) = [line for line in out.splitlines() if line.startswith("  W1s ")]
    source = row[header.index("record"):].split()[0]
    if source == "none":  # nothing applied: the notice says why, fused is the untuned kernel
        assert "default schedule" in notice and "= fused" in row
    elif source == "own":  # this CPU has shipped records of W1s (not the case on znver4)
        assert "records applied" in notice
    else:  # a record of another CPU: named in the notice with its measured gain
        assert source.startswith("llvm-") and f"record transferred from {source}" in notice
        assert " faster" in notice and "tuned:" in row


def test_records_of_a_kernel_lowered_otherwise_are_named_not_ignored(other_cpu, tmp_path):
    """A source folder whose workload is not this kernel as lowered now (another version,
    or fp16 lowered for AVX512-FP16) is not used, and the notice says it is there."""
    logs, _, graph, arrays, source, _ = other_cpu
    (group,) = fuse(graph)
    folder = record_dir(logs, host_target(cpu=level_this_cpu_has()), group, "reduction-rooted")
    stale = tmp_path / source / folder.name
    shutil.copytree(folder, stale)
    other_graph, _ = workloads.load("W3s")  # another kernel's workload line in its place
    (other,) = tune(other_graph, trials=1, log_dir=tmp_path / "w3s", transfer=False)
    shutil.copy(other.folder / WORKLOAD_FILE, stale / WORKLOAD_FILE)
    fn = tf.compile(graph, tuning_logs=str(tmp_path))
    assert fn.schedules == ("reduction-rooted",)
    held = len((stale / RECORD_FILE).read_text().splitlines())
    assert f"{source} holds {held} record(s) of this workload, but of the kernel as another " \
        "version of tvm-fusion" in fn.notices[0], fn.notices[0]
    assert not (tmp_path / target_key(host_target()) / folder.name / TRANSFER_FILE).exists()
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-5)


def _keep_best_record(folder) -> None:
    """The folder as ``tune --keep-best 1`` ships it: one record, the whole trial log."""
    lines = (folder / RECORD_FILE).read_text().splitlines()
    best = min(lines, key=lambda line: sum(json.loads(line)[1][1]) or float("inf"))
    (folder / RECORD_FILE).write_text(best + "\n")


def test_the_cost_model_is_trained_on_the_sources_whole_trial_log(other_cpu, tmp_path):
    """A source shipped with one record still carries its search in ``trials.jsonl``: transfer
    tuning trains the cost model on every logged trial this CPU's template reproduces, not
    only on the record (without the log: on nothing but what it measured)."""
    logs, _, graph, _, _, _ = other_cpu
    (group,) = fuse(graph)
    source = tmp_path / "source"
    shutil.copytree(logs, source)
    folder = record_dir(source, host_target(cpu=level_this_cpu_has()), group,
                        "reduction-rooted")
    _keep_best_record(folder)
    logged = {json.dumps(t["decisions"]) for t in read_trials(folder)
              if t["seconds"] and not t["error"]}
    assert len(logged) >= 3, logged

    def trained(log_dir) -> int:  # 2 trials: the default and the source's record measured
        (result,) = tune(graph, trials=2, batch=2, log_dir=log_dir, transfer=[source])
        assert result.transferred == 1
        return result.warm_start  # no round follows: only what the seed trained on

    with_log = trained(tmp_path / "with_log")
    assert 1 <= with_log <= len(logged) - 1  # the measured record is not trained on twice
    (folder / "trials.jsonl").unlink()
    assert trained(tmp_path / "without_log") == 0

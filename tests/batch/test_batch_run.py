"""`tvm-fusion batch` for real (tiny budgets, s forms): jobs tuned, compiled, exported and
verified; finished jobs skipped; a SIGKILL at random moments loses nothing and duplicates
nothing; a bad job fails alone; two processes on one manifest split the jobs."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

import tvm_fusion as tf
from tests.tuning.crash import record_key
from tvm_fusion import workloads
from tvm_fusion.tuning.records import count_records, open_database

TRIALS = 4


def _write(tmp_path, jobs: list[tuple[str, str]], trials: int = TRIALS):
    lines = ['log_dir = "logs"', 'output_dir = "out"']
    for name, source in jobs:
        key = "onnx" if source.endswith(".onnx") else "workload"
        lines += ["[[jobs]]", f'name = "{name}"', f'{key} = "{source}"', f"trials = {trials}"]
    path = tmp_path / "jobs.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _batch(path, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "tvm_fusion.cli", "batch", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kwargs)


def _finish(process, timeout=600) -> tuple[int, str]:
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def _summary(tmp_path) -> dict:
    return {r["job"]: r for r in json.loads((tmp_path / "out" / "summary.json").read_text())
            ["jobs"]}


def _record_counts(tmp_path) -> dict:
    """Records per records folder; every database loads and every line parses."""
    counts = {}
    for folder in sorted((tmp_path / "logs").glob("*/*")):
        records = folder / "database_tuning_record.json"
        keys = [record_key(line) for line in records.read_text().splitlines()]  # all whole
        assert len(set(keys)) == len(keys), f"a record twice in {folder}"  # same trace, args
        open_database(folder).get_all_tuning_records()
        counts[folder.name] = count_records(folder)
    return counts


def test_batch_tunes_exports_and_skips_finished_jobs(tmp_path):
    path = _write(tmp_path, [("w1s", "W1s"), ("w4s", "W4s")])
    code, out = _finish(_batch(path))
    assert code == 0, out
    summary = _summary(tmp_path)
    assert [r["status"] for r in summary.values()] == ["done", "done"], out
    for job, workload in (("w1s", "W1s"), ("w4s", "W4s")):
        row = summary[job]
        assert row["trials"] == TRIALS and row["default_s"] > 0 and row["best_s"] > 0
        module = tf.load(row["export"])
        arrays = workloads.inputs(workload)
        np.testing.assert_allclose(module(**arrays)[0], workloads.reference(workload, arrays),
                                   rtol=1e-5, atol=1e-6)
    assert "job" in out and "speedup" in out and "summary:" in out  # the table
    assert set(_record_counts(tmp_path).values()) == {TRIALS}
    start = time.time()
    code, out = _finish(_batch(path))
    assert code == 0, out
    assert out.count("done earlier, skipped") == 2 and time.time() - start < 30
    assert set(_record_counts(tmp_path).values()) == {TRIALS}


def test_sigkill_at_random_moments_then_rerun_loses_and_duplicates_nothing(tmp_path):
    path = _write(tmp_path, [("w1s", "W1s"), ("w3s", "W3s")], trials=8)
    rng = random.Random(os.getpid())
    for _ in range(3):
        process = _batch(path)
        time.sleep(rng.uniform(4, 25))
        os.killpg(process.pid, signal.SIGKILL)  # the batch and its build/run workers
        process.wait()
    code, out = _finish(_batch(path))
    assert code == 0, out
    assert [r["status"] for r in _summary(tmp_path).values()] == ["done", "done"]
    assert set(_record_counts(tmp_path).values()) == {8}  # an uninterrupted run's count


def _bad_model(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])
    node = helper.make_node("Hardmax", ["x"], ["y"], name="hardmax0")  # no converter planned
    model = helper.make_model(helper.make_graph([node], "bad", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)


def test_a_bad_job_fails_alone_with_its_reason(tmp_path):
    _bad_model(tmp_path / "bad.onnx")
    path = _write(tmp_path, [("bad", "bad.onnx"), ("w4s", "W4s")])
    code, out = _finish(_batch(path))
    assert code == 1, out
    summary = _summary(tmp_path)
    assert summary["bad"]["status"] == "failed"
    assert "OnnxImportError" in summary["bad"]["reason"] and "Hardmax" in summary["bad"]["reason"]
    assert summary["w4s"]["status"] == "done"
    assert "bad: FAILED: OnnxImportError" in out


def test_two_processes_on_one_manifest_split_the_jobs(tmp_path):
    jobs = [("w1s", "W1s"), ("w3s", "W3s"), ("w4s", "W4s")]
    path = _write(tmp_path, jobs)
    first = _batch(path)
    time.sleep(1.0)
    second = _batch(path)
    (code1, out1), (code2, out2) = _finish(first), _finish(second)
    assert code1 == code2 == 0, (out1, out2)
    for name, _ in jobs:  # each job done exactly once, by one of them
        done = [out for out in (out1, out2) if f"{name}: done, exported" in out]
        assert len(done) == 1, (name, out1, out2)
    assert "held by pid" in out1 + out2
    assert [r["status"] for r in _summary(tmp_path).values()] == ["done"] * 3
    assert set(_record_counts(tmp_path).values()) == {TRIALS}

"""`tvm-fusion batch` measuring on a real loopback farm: a tracker and two servers (their own
logs show who measured what); one of them killed mid-job; a farm that is not there."""

import json
import signal
import subprocess
import sys

import numpy as np

import tvm_fusion as tf
from tests.farm import KEY
from tvm_fusion import workloads


def _manifest(tmp_path, port, jobs, extra=""):
    lines = ['log_dir = "logs"', 'output_dir = "out"', "[runner]", 'kind = "rpc"',
             f'tracker = "127.0.0.1:{port}"', f'key = "{KEY}"', extra]
    for name, workload in jobs:
        lines += ["[[jobs]]", f'name = "{name}"', f'workload = "{workload}"', "trials = 8"]
    path = tmp_path / "jobs.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _batch(path):
    return subprocess.run([sys.executable, "-m", "tvm_fusion.cli", "batch", str(path)],
                          capture_output=True, text=True, timeout=600, check=False)


def _summary(tmp_path) -> dict:
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())["jobs"]
    return {r["job"]: r for r in rows}


def _check_exports(tmp_path, jobs):
    for name, workload in jobs:
        module = tf.load(_summary(tmp_path)[name]["export"])
        arrays = workloads.inputs(workload)
        np.testing.assert_allclose(module(**arrays)[0], workloads.reference(workload, arrays),
                                   rtol=1e-5, atol=1e-6)


def test_a_two_job_batch_measures_on_both_servers(farm, tmp_path):
    farm.add_servers(2)
    jobs = [("w1s", "W1s"), ("w4s", "W4s")]
    run = _batch(_manifest(tmp_path, farm.port, jobs))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"farm: 2 server(s) with key '{KEY}'" in run.stdout
    assert farm.sessions(0) >= 1 and farm.sessions(1) >= 1, "both servers measured"
    assert "measurements/min" in run.stdout  # the throughput on the progress line
    assert [r["status"] for r in _summary(tmp_path).values()] == ["done", "done"]
    _check_exports(tmp_path, jobs)


def test_a_server_killed_mid_job_and_the_batch_completes(farm, tmp_path):
    farm.add_servers(2)
    sent = farm.signal_when(0, 2, signal.SIGKILL)
    jobs = [("w1s", "W1s"), ("w3s", "W3s")]
    run = _batch(_manifest(tmp_path, farm.port, jobs,
                           "session_timeout_s = 10\nserver_wait_s = 10"))
    assert sent.is_set()
    assert run.returncode == 0, run.stdout + run.stderr
    summary = _summary(tmp_path)
    assert [r["status"] for r in summary.values()] == ["done", "done"]
    assert farm.sessions(1) >= 1  # the survivor measured the rest
    lost = summary["w1s"]["throughput"]  # the server died during the first job
    assert lost["reruns"] + lost["measure_errors"] >= 1, "re-run elsewhere or failed"
    _check_exports(tmp_path, jobs)


def test_no_farm_fails_fast_with_the_commands(farm, tmp_path):
    farm.wait_until(lambda status: status.total == 0)
    run = _batch(_manifest(tmp_path, farm.port, [("w1s", "W1s")]))
    assert run.returncode == 2
    assert f"no RPC server with key '{KEY}'" in run.stderr
    assert "python -m tvm.exec.rpc_server --tracker" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "out").exists()

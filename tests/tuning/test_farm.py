"""Distributed measurement through a real TVM RPC tracker and real servers (loopback only).

Each test starts a tracker and servers as subprocesses in their own process groups and kills
the groups (servers' session processes included) on teardown, pass or fail. The servers log
every session ("load_module" once per measured candidate): that is how a test sees which
server measured what, and when to kill one mid-measurement.
"""

import signal
import time

import numpy as np
import pytest

import tvm_fusion as tf
from tests.farm import KEY, free_port
from tvm_fusion import workloads
from tvm_fusion.tuning import FarmError, RPCSettings, check_farm, tune
from tvm_fusion.tuning.records import count_records


def _check_numpy(logs, name="W1s"):
    graph, arrays = workloads.load(name)
    fn = tf.compile(graph, tuning_logs=str(logs))
    assert fn.schedules == ("tuned:reduction-rooted",)
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference(name, arrays),
                               rtol=1e-5, atol=1e-5)


def _accounted(stats) -> None:
    """Every candidate built was measured or reported failed: none lost silently."""
    assert stats.measurements + stats.measure_errors == stats.builds - stats.build_errors


def test_both_servers_measure_candidates_at_once(farm, tmp_path):
    farm.add_servers(2)
    assert check_farm(farm.settings()).free == 2  # max_workers defaults to this
    graph = workloads.graph("W1s")
    calls = []
    (result,) = tune(graph, trials=8, log_dir=tmp_path / "logs", transfer=False, runner=farm.settings(),
                     progress=lambda *args: calls.append(args))
    assert result.trials == count_records(result.folder) == 8
    assert farm.sessions(0) >= 1 and farm.sessions(1) >= 1, "both servers measured"
    stats = result.throughput
    assert stats.measurements == farm.sessions(0) + farm.sessions(1)
    assert stats.builds >= 8 and stats.measure_errors == 0 and stats.reruns == 0
    _accounted(stats)
    assert calls and calls[-1][6].measurements_per_minute > 0  # 7th argument: the stats
    _check_numpy(tmp_path / "logs")


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
def test_a_server_lost_mid_job_is_rerun_elsewhere(farm, tmp_path, signum):
    farm.add_servers(2)
    settings = farm.settings(session_timeout_s=10, server_wait_s=10)
    sent = farm.signal_when(0, 2, signum)  # its first candidate after the default
    start = time.time()
    (result,) = tune(workloads.graph("W1s"), trials=8, log_dir=tmp_path / "logs", transfer=False,
                     runner=settings)
    assert sent.is_set()
    assert time.time() - start < 120
    stats = result.throughput
    assert stats.reruns + stats.measure_errors >= 1, "the lost candidate was re-run or failed"
    assert stats.reruns >= stats.measure_errors  # a lost server's candidate is re-run first
    _accounted(stats)
    assert result.trials == 8 and result.best_seconds is not None
    _check_numpy(tmp_path / "logs")


def test_preflight_names_the_farm_and_the_commands(farm, tmp_path):
    farm.wait_until(lambda status: status.total == 0)  # the tracker answers, no server
    start = time.time()
    with pytest.raises(FarmError) as error:
        tune(workloads.graph("W1s"), trials=8, log_dir=tmp_path, transfer=False, runner=farm.settings())
    assert time.time() - start < 5
    text = str(error.value)
    assert f"no RPC server with key {KEY!r}" in text and f"127.0.0.1:{farm.port}" in text
    assert f"python -m tvm.exec.rpc_tracker --host 0.0.0.0 --port {farm.port}" in text
    assert f"python -m tvm.exec.rpc_server --tracker 127.0.0.1:{farm.port} --key {KEY}" in text

    closed = RPCSettings("127.0.0.1", free_port(), KEY, connect_timeout_s=2)
    with pytest.raises(FarmError, match="no TVM RPC tracker answered at 127.0.0.1:"):
        check_farm(closed)


def test_a_farm_whose_only_server_dies_fails_within_the_bound(farm, tmp_path):
    farm.add_servers(1)
    settings = farm.settings(session_timeout_s=10, server_wait_s=5)
    sent = farm.signal_when(0, 2, signal.SIGKILL)
    with pytest.raises(FarmError, match=rf"no server with key '{KEY}' answered for 5 s"):
        tune(workloads.graph("W1s"), trials=16, log_dir=tmp_path, transfer=False, runner=settings)
    assert sent.is_set()
    waited = time.time() - farm.signalled_at[0]
    assert waited < settings.session_timeout_s + settings.server_wait_s + 5  # the documented bound

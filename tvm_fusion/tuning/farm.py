"""Measuring on a farm of devices behind a TVM RPC tracker (see docs/distributed.md).

MetaSchedule's ``RPCRunner`` measures one candidate at a time unless told how many servers
there are (``max_workers=1``, apache/tvm #10240), and it waits without a bound: a candidate
whose server hangs (stopped, unplugged: its TCP connections stay open) blocks the round
forever, and so does a tracker request for a key whose servers all died (apache/tvm #12330);
verified here with a real tracker and two servers (docs/distributed.md). What we add, and
nothing else (the session, upload, argument and timing code is MetaSchedule's
``rpc_runner._worker_func``):

- :func:`check_farm`: the tracker answers within ``connect_timeout_s`` and a server with the
  key is registered, else :class:`FarmError` with the commands that start them; the number of
  free servers is the runner's default ``max_workers``;
- :class:`FarmRunner`: each candidate runs in a worker process with a wall-clock deadline
  (``session_timeout_s``; the server gets the same session timeout), and a failed candidate is
  run once more on whichever server the tracker hands out next. After a failure the runner
  waits up to ``server_wait_s`` for a sign of life (a free server with the key, or another
  candidate measured meanwhile); without one the farm is declared dead: the remaining
  candidates fail at once and the tuner raises :class:`FarmError` after the round. The wait
  for a dead farm is thus bounded by ``session_timeout_s + server_wait_s``.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.runner import PyRunner, PyRunnerFuture, RunnerResult

POLL_S = 0.5  # how often a waiting runner asks the tracker for a free server


class FarmError(RuntimeError):
    """The tracker or its servers cannot measure: the message says which and what to run."""


@dataclass(frozen=True)
class RPCSettings:
    """Measure on devices registered with a TVM RPC tracker under ``device_key``.

    ``max_workers``: candidates measured at once (default: the servers with the key that are
    free when the runner starts; one server runs one session at a time).
    ``session_timeout_s``: the most one candidate may take, tracker request to result (and the
    session timeout the server enforces). ``server_wait_s``: after a failure, how long to wait
    for a server with the key to answer before the farm is declared dead.
    ``connect_timeout_s``: the bound on reaching the tracker. ``retries``: how often a failed
    candidate is run again (on the next server the tracker hands out).
    """

    tracker_host: str
    tracker_port: int
    device_key: str
    session_timeout_s: float = 60.0
    max_workers: int | None = None
    server_wait_s: float = 30.0
    connect_timeout_s: float = 5.0
    retries: int = 1

    @property
    def tracker(self) -> str:
        return f"{self.tracker_host}:{self.tracker_port}"


@dataclass(frozen=True)
class FarmStatus:
    """Servers registered with the tracker under one key, and how many are free now."""

    free: int
    total: int
    pending: int = 0  # requests waiting for a server (ours and other clients')

    @property
    def workers(self) -> int:
        """Candidates to measure at once: the free servers (the registered ones when all are
        busy, then requests queue at the tracker)."""
        return max(1, self.free or self.total)


def start_commands(settings: RPCSettings) -> str:
    """The commands that start a tracker and a server for ``settings``."""
    return (f"start a tracker:   python -m tvm.exec.rpc_tracker --host 0.0.0.0 --port "
            f"{settings.tracker_port}\n"
            f"and on each device: python -m tvm.exec.rpc_server --tracker {settings.tracker} "
            f"--key {settings.device_key}\n"
            f"then check:        python -m tvm.exec.query_rpc_tracker --host "
            f"{settings.tracker_host} --port {settings.tracker_port}")


def farm_status(settings: RPCSettings) -> FarmStatus:
    """Ask the tracker for its summary, bounded by ``settings.connect_timeout_s``.

    ``rpc.connect_tracker`` retries a refused connection for 60 s and then blocks without a
    timeout; this speaks the same protocol (``tvm.rpc.base``) on a socket with a timeout.
    Raises :class:`FarmError` when the tracker does not answer.
    """
    from tvm.rpc import base

    address = (settings.tracker_host, settings.tracker_port)
    try:
        with socket.create_connection(address, timeout=settings.connect_timeout_s) as sock:
            sock.settimeout(settings.connect_timeout_s)
            sock.sendall(struct.pack("<i", base.RPC_TRACKER_MAGIC))
            if struct.unpack("<i", base.recvall(sock, 4))[0] != base.RPC_TRACKER_MAGIC:
                raise FarmError(f"{settings.tracker} is not a TVM RPC tracker")
            base.sendjson(sock, [base.TrackerCode.SUMMARY])
            code, summary = base.recvjson(sock)
    except (OSError, RuntimeError, ValueError) as error:
        raise FarmError(f"no TVM RPC tracker answered at {settings.tracker} within "
                        f"{settings.connect_timeout_s:g} s ({error})\n"
                        f"{start_commands(settings)}") from None
    if code != base.TrackerCode.SUCCESS:
        raise FarmError(f"the tracker at {settings.tracker} refused a summary request")
    total = sum(1 for info in summary["server_info"]
                if info.get("key") == f"server:{settings.device_key}")
    queue = summary["queue_info"].get(settings.device_key, {})
    return FarmStatus(free=queue.get("free", 0), total=total, pending=queue.get("pending", 0))


def check_farm(settings: RPCSettings) -> FarmStatus:
    """Pre-flight: the tracker answers and a server with the key is registered.

    Parameters
    ----------
    settings : RPCSettings
        The tracker and device key.

    Returns
    -------
    FarmStatus
        The servers with the key: ``free`` now and ``total`` registered.

    Raises
    ------
    FarmError
        The tracker does not answer within ``connect_timeout_s``, or no server is registered
        with the key; the message names both and the commands that start them.
    """
    status = farm_status(settings)
    if status.total == 0:
        raise FarmError(f"no RPC server with key {settings.device_key!r} is registered with "
                        f"the tracker at {settings.tracker}\n{start_commands(settings)}")
    return status


@derived_object
class FarmFuture(PyRunnerFuture):
    """A candidate measured by :class:`FarmRunner` (a thread's future)."""

    def __init__(self, future) -> None:
        super().__init__()
        self.future = future

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> RunnerResult:
        return self.future.result()


@derived_object
class FarmRunner(PyRunner):
    """MetaSchedule's RPC measurement with a deadline per candidate, a re-run on another
    server, and a bounded wait for a dead farm (see the module doc).

    ``counters`` (a ``throughput.Counters``) counts measurements, failures and re-runs;
    ``dead`` is why the farm was declared dead ("" while it answers).
    """

    def __init__(self, settings: RPCSettings, *, evaluator_config, f_alloc_argument,
                 workers: int, counters) -> None:
        from tvm.s_tir.meta_schedule.runner import RPCConfig
        from tvm.support.popen_pool import PopenPoolExecutor

        super().__init__()
        self.settings = settings
        self.rpc_config = RPCConfig(tracker_host=settings.tracker_host,
                                    tracker_port=settings.tracker_port,
                                    tracker_key=settings.device_key,
                                    session_timeout_sec=settings.session_timeout_s)
        self.evaluator_config = evaluator_config
        self.f_alloc_argument = f_alloc_argument
        self.counters = counters
        self.workers = workers
        # The pool's timeout kills a worker stuck on a hung server (RPCRunner's pool has none)
        self.pool = PopenPoolExecutor(max_workers=workers, timeout=settings.session_timeout_s)
        self.threads = ThreadPoolExecutor(max_workers=workers)
        self.dead = ""
        self.last_measured = time.time()
        self.lock = threading.Lock()

    def run(self, runner_inputs) -> list:
        return [FarmFuture(self.threads.submit(self._measure, runner_input))
                for runner_input in runner_inputs]

    def close(self) -> None:
        self.pool.shutdown(wait=False)
        self.threads.shutdown(wait=False, cancel_futures=True)

    def _measure(self, runner_input) -> RunnerResult:
        from tvm.s_tir.meta_schedule.runner.rpc_runner import RPCRunnerFuture, _worker_func

        arguments = (None, None, self.f_alloc_argument, None, None, self.rpc_config,
                     self.evaluator_config, 1, str(runner_input.artifact_path),
                     str(runner_input.device_type),
                     tuple(info.as_json() for info in runner_input.args_info))
        errors = []
        for attempt in range(1 + self.settings.retries):
            if self.dead:
                errors.append(self.dead)
                break
            if attempt:
                self.counters.add(reruns=1)
            future = self.pool.submit(_worker_func, *arguments)
            result = RPCRunnerFuture(future, self.settings.session_timeout_s).result()
            if result.error_msg is None:
                self.last_measured = time.time()
                self.counters.add(measurements=1)
                return result
            errors.append(result.error_msg)
            if not self._wait_for_server():
                errors.append(self.dead)
                break
        self.counters.add(measure_errors=1)
        return RunnerResult(None, error_msg=f"FarmRunner: failed {len(errors)} time(s): "
                                            + "\n".join(errors))

    def _wait_for_server(self) -> bool:
        """After a failure: True once a server with the key is free or another candidate was
        measured; False (and the farm declared dead) after ``server_wait_s`` without."""
        start = time.time()
        seen = "no answer"
        while time.time() - start < self.settings.server_wait_s:
            if self.dead:
                return False
            if self.last_measured > start:
                return True
            try:
                status = farm_status(self.settings)
            except FarmError:
                seen = "the tracker did not answer"
            else:
                if status.free:
                    return True
                seen = f"{status.total} registered, none free"
            time.sleep(POLL_S)
        with self.lock:
            self.dead = self.dead or (
                f"no server with key {self.settings.device_key!r} answered for "
                f"{self.settings.server_wait_s:g} s (tracker {self.settings.tracker}: {seen})")
        return False

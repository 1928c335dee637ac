"""A real TVM RPC tracker and servers on 127.0.0.1 for tests (the ``farm`` fixture in
``tests/conftest.py``): each a subprocess in its own process group, logging to a file, killed
(groups and all) on teardown, pass or fail. The servers log every session ("load_module" once
per measured candidate): that is how a test sees which server measured what, and when to kill
one mid-measurement."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from tvm_fusion.tuning import FarmError, RPCSettings
from tvm_fusion.tuning.farm import farm_status

KEY = "tvm-fusion-farm-test"
SESSION_MARK = "load_module"  # a server's log line when a session loads a candidate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Farm:
    """A tracker and servers on 127.0.0.1, each logging to a file."""

    def __init__(self, folder):
        self.folder = folder
        self.processes = []
        self.port = free_port()
        self._start("tracker", ["tvm.exec.rpc_tracker", "--host", "127.0.0.1",
                                "--port", str(self.port), "--port-end", str(self.port + 1)])
        self.servers = []
        self.signalled_at = {}  # server index -> when the signal was sent

    def _start(self, name, args):
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - closed by the child
        process = subprocess.Popen([sys.executable, "-m", *args], stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def add_servers(self, count: int) -> None:
        for _ in range(count):
            port = free_port()
            self.servers.append(self._start(
                f"server{len(self.servers)}",
                ["tvm.exec.rpc_server", "--host", "127.0.0.1", "--port", str(port),
                 "--port-end", str(port + 1), "--tracker", f"127.0.0.1:{self.port}",
                 "--key", KEY]))
        self.wait_until(lambda status: status.free == len(self.servers))

    def settings(self, **overrides) -> RPCSettings:
        return RPCSettings("127.0.0.1", self.port, KEY, **overrides)

    def wait_until(self, ready, timeout_s: float = 60) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            try:
                if ready(farm_status(self.settings())):
                    return
            except FarmError:  # the tracker or the servers are still starting
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the farm did not come up in {timeout_s} s")

    def sessions(self, index: int) -> int:
        return (self.folder / f"server{index}.log").read_text().count(SESSION_MARK)

    def signal_when(self, index: int, sessions: int, signum) -> threading.Event:
        """Send ``signum`` to server ``index``'s process group once it has loaded
        ``sessions`` candidates (mid-measurement); the event is set when it was sent."""
        sent = threading.Event()

        def watch():
            while not sent.is_set() and self.servers[index].poll() is None:
                if self.sessions(index) >= sessions:
                    os.killpg(self.servers[index].pid, signum)
                    self.signalled_at[index] = time.time()
                    sent.set()
                    return
                time.sleep(0.01)

        threading.Thread(target=watch, daemon=True).start()
        return sent

    def close(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # stopped ones too
            except ProcessLookupError:
                pass
            process.wait()

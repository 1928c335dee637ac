"""A job's state file (written atomically) and the locks that give each job one owner.

State: ``<output_dir>/<job>/state.json``, replaced by writing a temporary file in the same
folder, ``fsync``, ``rename`` and an ``fsync`` of the folder: a SIGKILL at any moment leaves
either the old state or the new one, never half of either.

Locks: ``fcntl.flock`` on a file in the folder, held while a process works on it and released
by the kernel when the process dies (SIGKILL included), so a crashed owner never blocks a
rerun. The holder writes its pid, host and start time into the lock file, so a process that
finds the lock taken can say who holds it. ``flock`` works across processes of one machine,
and across machines on file systems that support it (NFS with lockd, most cluster file
systems).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path


def write_json(path: Path, value: dict) -> None:
    """Replace ``path`` with ``value`` as JSON, atomically and durably."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: Path) -> dict:
    """The JSON object in ``path``, or ``{}`` when it does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


class Lock:
    """An exclusive ``flock`` on ``path`` (created if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock; ``False`` if another process holds it (and not ``blocking``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{time.strftime('%H:%M:%S')}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it ("pid 123 on host since 10:02:03")."""
        try:
            return self.path.read_text().strip() or "another process"
        except OSError:
            return "another process"


@contextlib.contextmanager
def locked(path: Path, say=None):
    """Hold the lock on ``path`` for the block, waiting for it (and saying who holds it)."""
    lock = Lock(path)
    if not lock.acquire():
        if say:
            say(f"waiting for {path.parent}: held by {lock.holder()}")
        lock.acquire(blocking=True)
    try:
        yield lock
    finally:
        lock.release()

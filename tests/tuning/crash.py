"""Helpers of the crash-safety tests: `tvm-fusion` as a real process killed with SIGKILL, and
what a records folder must hold at any moment (whole lines, no duplicate, atomic files)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tvm_fusion.tuning.records import RECORD_FILE, WORKLOAD_FILE
from tvm_fusion.tuning.trials import TRIALS_FILE


def start(*args: str) -> subprocess.Popen:
    """``tvm-fusion ARGS`` in its own session (a kill takes its build/run workers too)."""
    return subprocess.Popen([sys.executable, "-m", "tvm_fusion.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def wait_until(condition, process: subprocess.Popen, timeout: float = 120) -> bool:
    """Poll ``condition()`` every 20 ms until true (``True``) or the process ends
    (``False``)."""
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {condition}")


def folders(log_dir: Path) -> list[Path]:
    return sorted(p for p in Path(log_dir).glob("*/*") if p.is_dir())


def whole_lines(path: Path) -> list[str]:
    """The lines of ``path`` that end in a newline (a last one cut by a kill is not one)."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    return lines if text.endswith("\n") else lines[:-1]


def record_key(line: str) -> str:
    """What makes a record a duplicate: the same trace with the same arguments."""
    _, (trace, _, _, args_info) = json.loads(line)
    return json.dumps([trace, args_info], sort_keys=True)


def check_folder(folder: Path, *, finished: bool) -> list[str]:
    """Assert what must hold after any kill (``finished``: after a run that ended); return the
    folder's whole record lines."""
    records = whole_lines(folder / RECORD_FILE)
    keys = [record_key(line) for line in records]  # every whole line is a record
    assert len(set(keys)) == len(keys), f"a duplicated record in {folder}"
    trials = [json.loads(line)["trial"] for line in whole_lines(folder / TRIALS_FILE)]
    assert len(set(trials)) == len(trials) and trials == sorted(trials), trials
    for name in ("manifest.json", "verdict.json"):  # replaced atomically: old or new, whole
        if (folder / name).exists():
            assert isinstance(json.loads((folder / name).read_text()), dict), name
    for name in (WORKLOAD_FILE, RECORD_FILE, TRIALS_FILE):
        if finished and (folder / name).exists():
            assert (folder / name).read_text().endswith("\n") or \
                not (folder / name).read_text(), f"{name} ends in a half line"
    return records

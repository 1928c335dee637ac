"""The batch manifest (TOML): parsed and checked whole before any work starts.

Every problem is collected, each naming the job and the field, into one ``ManifestError``
(``tvm-fusion batch`` prints it and exits 2). ``examples/batch.toml`` documents every key.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TOP_KEYS = {"log_dir": str, "output_dir": str, "cpu": str, "runner": dict, "jobs": list}
RUNNER_KEYS = {"kind": str, "tracker": str, "key": str, "max_workers": int,
               "session_timeout_s": (int, float), "server_wait_s": (int, float)}
JOB_KEYS = {"name": str, "workload": str, "onnx": str, "shapes": dict, "trials": int,
            "time_budget_s": (int, float)}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")  # a job's name is its output folder's name
DEFAULT_TRIALS = 64


class ManifestError(ValueError):
    """The manifest cannot run as written; the message lists every problem."""


@dataclass(frozen=True)
class Runner:
    kind: str = "local"  # "local" or "rpc"
    host: str = ""
    port: int = 0
    key: str = ""
    max_workers: int | None = None  # rpc: None = as many as the tracker has free servers
    session_timeout_s: float = 60.0  # rpc: a measurement taking longer is re-run or failed
    server_wait_s: float = 30.0  # rpc: how long to wait for a server when none is left


@dataclass(frozen=True)
class Job:
    name: str
    workload: str | None = None  # a built-in workload (W1..W5, P1..P5, s and l forms)
    onnx: Path | None = None  # or an ONNX file (absolute)
    shapes: dict = field(default_factory=dict)  # input name -> shape
    trials: int = DEFAULT_TRIALS
    time_budget_s: float | None = None

    @property
    def source(self) -> str:
        return self.workload if self.workload else str(self.onnx)


@dataclass(frozen=True)
class Manifest:
    path: Path
    log_dir: Path | None  # None: the default records folder (settings.write_logs)
    output_dir: Path
    cpu: str | None
    runner: Runner
    jobs: tuple[Job, ...]


def load_manifest(path) -> Manifest:
    """Parse and check ``path``; relative paths in it are relative to its folder."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as err:
        raise ManifestError(f"{path}: cannot read the manifest: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"{path}: not valid TOML: {err}") from None
    errors: list[str] = []
    _check_keys(data, TOP_KEYS, "the manifest", errors)
    base = path.resolve().parent
    runner = _runner(data.get("runner", {}), errors)
    jobs, seen = [], set()
    raw_jobs = data.get("jobs", [])
    if "jobs" not in data or not raw_jobs:
        errors.append("the manifest has no [[jobs]]: add at least one job "
                      "(name = ..., workload = \"W1\" or onnx = \"model.onnx\")")
    for k, entry in enumerate(raw_jobs if isinstance(raw_jobs, list) else []):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in seen:
            errors.append(f"jobs[{k}] (name '{name}'): duplicate job name: every job needs "
                          "its own name (it names the job's output folder)")
        if isinstance(name, str):
            seen.add(name)
        job = _job(entry, k, base, errors)
        if job is not None:
            jobs.append(job)
    if "output_dir" not in data:
        errors.append("the manifest: missing key 'output_dir' (where exports, job states "
                      "and summary.json go)")
    elif isinstance(data["output_dir"], str):
        _check_output_paths(base / data["output_dir"], jobs, errors)
    if errors:
        raise ManifestError(f"{path}: {len(errors)} problem(s):\n" +
                            "\n".join(f"  - {e}" for e in errors))
    log_dir = data.get("log_dir")
    return Manifest(path, None if log_dir is None else base / log_dir,
                    base / data["output_dir"], data.get("cpu"), runner, tuple(jobs))


OUTPUTS = ("summary.json", "report")  # what a batch writes in output_dir beside the job folders


def _check_output_paths(output_dir: Path, jobs: list[Job], errors: list[str]) -> None:
    """Everything a batch writes stays inside ``output_dir``: a job's folder is named by the
    job (letters, digits, _ . -: no ``/``, no ``..``), and no symbolic link already there (a
    job folder, a file in it, summary.json, report/) may lead the writes elsewhere."""
    if output_dir.is_symlink():
        return  # the user's own choice of folder; what is inside it is checked below
    names = [*OUTPUTS, *(job.name for job in jobs)]
    for name in names:
        where = output_dir / name
        links = [where] if where.is_symlink() else []
        if where.is_dir() and not where.is_symlink():
            links += [p for p in where.iterdir() if p.is_symlink()]
        for link in links:
            errors.append(f"output_dir: {link} is a symbolic link (to {os.readlink(link)}): a "
                          "batch writes only inside output_dir; remove the link")


def _check_keys(table: dict, known: dict, where: str, errors: list[str]) -> None:
    for key, value in table.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errors.append(f"{where}: unknown key '{key}'{hint}; known: {', '.join(known)}")
            continue
        expected = known[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple)
                                                     else (expected,)))
            names = names.replace("dict", "table").replace("list", "array of tables")
            errors.append(f"{where}: field '{key}': expected {names}, got {value!r} "
                          f"({type(value).__name__})")


def _runner(table, errors: list[str]) -> Runner:
    if not isinstance(table, dict):
        return Runner()
    _check_keys(table, RUNNER_KEYS, "[runner]", errors)
    kind = table.get("kind", "local")
    if kind == "local":
        extra = sorted(set(table) - {"kind"})
        if extra:
            errors.append(f"[runner]: {', '.join(extra)} only apply to kind = \"rpc\"")
        return Runner()
    if kind != "rpc":
        errors.append(f"[runner]: field 'kind': expected \"local\" or \"rpc\", got {kind!r}")
        return Runner()
    host, port = "", 0
    tracker = table.get("tracker")
    if not isinstance(tracker, str) or not re.fullmatch(r"[^:\s]+:\d+", tracker):
        errors.append(f"[runner]: field 'tracker': expected \"HOST:PORT\" of a TVM RPC tracker "
                      f"(python -m tvm.exec.rpc_tracker --port PORT), got {tracker!r}")
    else:
        host, port = tracker.rsplit(":", 1)[0], int(tracker.rsplit(":", 1)[1])
    if not isinstance(table.get("key"), str) or not table.get("key"):
        errors.append("[runner]: field 'key': expected the device key the RPC servers "
                      "registered with (python -m tvm.exec.rpc_server --key KEY)")
    workers = table.get("max_workers")
    if isinstance(workers, int) and workers < 1:
        errors.append(f"[runner]: field 'max_workers': expected a positive integer, got "
                      f"{workers}")
    timeout, wait = table.get("session_timeout_s", 60.0), table.get("server_wait_s", 30.0)
    return Runner("rpc", host, port, str(table.get("key", "")),
                  workers if isinstance(workers, int) else None,
                  float(timeout) if isinstance(timeout, (int, float)) else 60.0,
                  float(wait) if isinstance(wait, (int, float)) else 30.0)


def _job(entry, k: int, base: Path, errors: list[str]) -> Job | None:
    if not isinstance(entry, dict):
        errors.append(f"jobs[{k}]: expected a table ([[jobs]]), got {entry!r}")
        return None
    name = entry.get("name")
    where = f"jobs[{k}] (name '{name}')" if isinstance(name, str) else f"jobs[{k}]"
    before = len(errors)
    _check_keys(entry, JOB_KEYS, where, errors)
    if not isinstance(name, str) or not NAME.match(name):
        errors.append(f"{where}: field 'name': expected a name of letters, digits, '_', '.' "
                      f"or '-' (it names the output folder), got {name!r}")
    elif name in OUTPUTS:
        errors.append(f"{where}: field 'name': '{name}' is what the batch writes beside the "
                      "job folders; choose another name")
    if ("workload" in entry) == ("onnx" in entry):
        errors.append(f"{where}: give exactly one of 'workload' (W1..W5, P1..P5, e.g. \"W2s\") "
                      "and 'onnx' (a model file)")
    workload, onnx = entry.get("workload"), entry.get("onnx")
    if isinstance(workload, str):
        from .. import workloads

        if workload not in workloads.WORKLOADS:
            errors.append(f"{where}: field 'workload': unknown workload {workload!r}; known: "
                          f"{', '.join(workloads.WORKLOADS)}")
    onnx_path = None
    if isinstance(onnx, str):
        onnx_path = (base / onnx).resolve()
        if not onnx_path.is_file():
            errors.append(f"{where}: field 'onnx': no such file {onnx_path}")
    shapes = entry.get("shapes", {})
    if isinstance(shapes, dict):
        for key, shape in shapes.items():
            if not (isinstance(shape, list) and shape and all(
                    isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
                errors.append(f"{where}: field 'shapes': input '{key}' expected an array of "
                              f"positive integers, e.g. [16, 64], got {shape!r}")
    for key in ("trials", "time_budget_s"):
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            errors.append(f"{where}: field '{key}': expected a positive number, got {value}")
    if len(errors) > before:
        return None
    budget = entry.get("time_budget_s")
    return Job(name, workload, onnx_path, {k: tuple(v) for k, v in shapes.items()},
               entry.get("trials", DEFAULT_TRIALS), None if budget is None else float(budget))

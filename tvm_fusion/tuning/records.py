"""Tuning records: one MetaSchedule JSON database per target and workload.

Layout: ``<log_dir>/<target key>/<workload key>/`` holding MetaSchedule's
``database_workload.json`` and ``database_tuning_record.json`` (so TVM's own tools read them)
and a small ``manifest.json`` (workload name and shapes, template, versions).

The workload key hashes what the kernel computes (ops, attributes, shapes, dtypes, how inputs
are shared: ``build.kernel_signature``) and the template name plus ``RECORDS_VERSION``: it does
not change when tensors are renamed, and changes when shapes, dtypes, the op chain or the
template change.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import tvm

from ..describe import kernel_signature
from ..fusion import FusionGroup
from ..target import target_key
from .durable import (
    AppendCheck,
    end_line,
    regular_text,
    split_lines,
    warn_line,
    write_atomic,
)
from .repair import json_database, open_checked

RECORDS_VERSION = 1  # bump when a template's space changes incompatibly
WORKLOAD_FILE = "database_workload.json"
RECORD_FILE = "database_tuning_record.json"


def workload_key(group: FusionGroup, template: str) -> str:
    text = repr((kernel_signature(group.nodes, group.outputs), template, RECORDS_VERSION))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_dir(log_dir: str | Path, target: tvm.target.Target, group: FusionGroup,
               template: str) -> Path:
    return Path(log_dir) / target_key(target) / workload_key(group, template)


def write_manifest(folder: Path, graph_name: str, group: FusionGroup, template: str) -> None:
    """Write ``manifest.json`` atomically, keeping what tuning added to it (its roofline)."""
    from .. import __version__

    manifest = {
        "workload": graph_name,
        "group": group.name,
        "inputs": {t.name: {"shape": list(t.shape), "dtype": t.dtype} for t in group.inputs},
        "outputs": {t.name: {"shape": list(t.shape), "dtype": t.dtype} for t in group.outputs},
        "template": template,
        "tvm": tvm.__version__,
        "tvm_fusion": __version__,
        "records_version": RECORDS_VERSION,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    try:
        old = json.loads(regular_text(path) or "{}")
    except ValueError:
        old = {}
    if isinstance(old, dict) and "roofline" in old:
        manifest["roofline"] = old["roofline"]
    if old != manifest:
        write_atomic(path, json.dumps(manifest, indent=2) + "\n", lambda: count_records(folder))


def workload_problem(line: str) -> str | None:
    """Why ``line`` is not a MetaSchedule workload (``[structural hash, base64 module]``)."""
    try:
        value = json.loads(line)
    except ValueError as err:
        return f"not JSON ({err.msg}, column {err.colno})"
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str)
                                                                for v in value)):
        return "not a MetaSchedule workload [structural hash, module]"
    return None


def record_problem(line: str, workloads: int) -> str | None:
    """Why ``line`` is not a tuning record ``[workload index, [trace, run seconds, target,
    arguments]]`` of a folder with ``workloads`` workload lines (checked before TVM reads it:
    a line TVM's reader cannot handle, e.g. an empty one, crashes the process)."""
    try:
        value = json.loads(line)
    except ValueError as err:
        return f"not JSON ({err.msg}, column {err.colno})"
    if not (isinstance(value, list) and len(value) == 2 and type(value[0]) is int and
            isinstance(value[1], list) and len(value[1]) == 4 and
            isinstance(value[1][0], list)):
        return "not a tuning record [workload index, [trace, run seconds, target, arguments]]"
    if not 0 <= value[0] < workloads:
        return f"workload {value[0]} is not a line of {WORKLOAD_FILE} ({workloads} lines)"
    seconds = value[1][1]
    if seconds is not None and not (isinstance(seconds, list) and all(
            type(s) in (int, float) for s in seconds)):
        return "its run seconds are not a list of numbers"
    return None


def open_database(folder: Path, mod: tvm.IRModule | None = None):
    """MetaSchedule's JSON database in ``folder`` (created if missing), bad lines skipped.

    A line that is cut short, not JSON, not a record or whose trace does not replay is
    skipped with one warning naming the file and line (``durable.py``). ``mod``: the kernel
    tuned into this folder, given by the writer (the tuner): bad lines are then moved to
    ``<file>.skipped`` and a corrupted workload line is replaced by ``mod``'s, keeping its
    records, before anything is appended. Readers (``mod=None``) change no file: they get a
    database loaded from cleaned copies (what is committed to it is not kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / WORKLOAD_FILE, folder / RECORD_FILE
    workloads, bad_workloads = split_lines(paths[0], workload_problem)
    records, bad_records = split_lines(paths[1],
                                       lambda line: record_problem(line, len(workloads)))
    if not bad_workloads and not bad_records:
        if mod is not None:
            for path in paths:
                end_line(path, lambda: len(records))
        try:
            return json_database(*paths)
        except Exception:  # noqa: BLE001, S110 - a module or trace TVM cannot read: find it
            pass
    return open_checked(paths, mod, (workloads, records), (bad_workloads, bad_records))


def count_records(folder: Path) -> int:
    text = regular_text(Path(folder) / RECORD_FILE)
    return sum(1 for line in text.splitlines() if line.strip())


def commit_workload(database, mod: tvm.IRModule, folder: Path):
    """Commit ``mod``'s workload now, checked (MetaSchedule's first round would append it from
    C++, where a full disk loses it silently: ``durable.AppendCheck``)."""
    if database.has_workload(mod):
        return database.commit_workload(mod)
    check = AppendCheck(folder / WORKLOAD_FILE, kept=lambda: count_records(folder))
    workload = database.commit_workload(mod)
    check.committed(1)
    return workload


FAILED_RUN_SECONDS = 1e9  # MetaSchedule scores a failed build or run as 1e10 s


def is_measured(run_secs) -> bool:
    """The candidate built and ran (MetaSchedule scores a failure 1e10 s)."""
    return bool(run_secs) and max(float(s) for s in run_secs) < FAILED_RUN_SECONDS


def record_seconds(run_secs) -> float:
    """A record's latency: the median of its measurements (one definition everywhere)."""
    return statistics.median(float(s) for s in run_secs)


def records_in_order(folder: Path) -> list[tuple[list[float], list, str]]:
    """``(run seconds, the record's JSON, its line)`` of every readable record in ``folder``,
    in file order (the order they were committed)."""
    found, path = [], Path(folder) / RECORD_FILE
    for number, line in enumerate(regular_text(path).splitlines(), 1):
        try:
            record = json.loads(line)[1]
            run_secs = [float(s) for s in record[1]]
        except (ValueError, IndexError, TypeError):
            warn_line(path, number, line, "not a tuning record; skipped, the other records "
                      "are used (the next tvm-fusion tune of this workload moves it to "
                      f"{RECORD_FILE}.skipped)")
            continue
        found.append((run_secs, record, line))
    return found


def measured(folder: Path) -> list[tuple[float, str]]:
    """``(median seconds, JSON line)`` of every record in ``folder`` that built and ran."""
    return [(record_seconds(run_secs), line) for run_secs, _, line in records_in_order(folder)
            if is_measured(run_secs)]


def count_valid_records(folder: Path) -> int:
    """Records whose candidate built and ran (not MetaSchedule's 1e10 failure score)."""
    return len(measured(folder))


def best_logged_seconds(folder: Path) -> float | None:
    """The median latency of the best measured record in ``folder``, as MetaSchedule logged."""
    return min((seconds for seconds, _ in measured(folder)), default=None)


VERDICT_FILE = "verdict.json"  # the in-process check of the best record (``verify.py``)


def write_verdict(folder: Path, *, applies: bool, why: str, tuned_hash: int,
                  default_hash: int) -> None:
    """Record whether the best record beat the default schedule in process, and which default
    it beat (``default_hash``: the structural hash of the default schedule's module)."""
    write_atomic(folder / VERDICT_FILE,  # a reader never sees half a verdict
                 json.dumps({"applies": applies, "why": why, "tuned_hash": str(tuned_hash),
                             "default_hash": str(default_hash)}, indent=2) + "\n",
                 lambda: count_records(folder))


def read_verdict(folder: Path) -> dict | None:
    """The verdict of the last in-process check, or ``None`` (never checked, or records
    changed since: ``confirm_best`` drops it)."""
    path = folder / VERDICT_FILE
    if not path.exists():
        return None
    try:
        verdict = json.loads(path.read_text())
    except ValueError:
        return None
    return verdict if isinstance(verdict, dict) and "applies" in verdict else None


def _about_other_record(verdict: dict, tuned_hash: int | None) -> bool:
    """The verdict judged another best record than today's (records added since, e.g. on an
    RPC farm, where no in-process check follows): it says nothing about today's."""
    checked = verdict.get("tuned_hash")
    return tuned_hash is not None and checked not in (None, "0") and checked != str(tuned_hash)


def default_stays(folder: Path, default_hash: int | None = None,
                  tuned_hash: int | None = None) -> str | None:
    """Why no record of ``folder`` is applied (the default schedule stays), or ``None``.

    ``default_hash``: the structural hash of today's default schedule. A verdict that a record
    beat another default (the template changed since: W5's default got 1.2x faster after its
    record was checked, and the record then ran 0.89x of it) is stale: the default stays until
    the check is run again."""
    verdict = read_verdict(folder)
    if verdict is None or _about_other_record(verdict, tuned_hash):
        return None  # never checked: the record applies, and the notice says so
    checked = verdict.get("default_hash")
    if verdict["applies"] and default_hash is not None and checked != str(default_hash):
        against = "an older default schedule" if checked else \
            "a default schedule it did not record (checked before verdicts did)"
        return (f"no record applied: its in-process check beat {against}, not today's; "
                "check it again with tvm-fusion tune <workload> --trials 1 --logs "
                f"{folder.parent.parent} ({folder})")
    if verdict["applies"]:
        return None
    return f"no record applied: {verdict['why']} ({folder})"


def verdict_note(folder: Path, tuned_hash: int | None = None) -> str:
    """What the in-process check said of an applied record, for ``compile``'s notice."""
    verdict = read_verdict(folder)
    if verdict is None:
        return "; not checked against the default in process (tuned before that check)"
    if _about_other_record(verdict, tuned_hash):
        return ("; not checked against the default in process (the best record changed after "
                "the last check: tvm-fusion tune <workload> --trials 1 checks it)")
    return f"; {verdict['why']}"

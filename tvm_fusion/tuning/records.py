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
import os
import statistics
import warnings
from pathlib import Path

import tvm

from ..build import kernel_signature
from ..fusion import FusionGroup
from ..target import target_key

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
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def sanitize(path: Path) -> int:
    """Drop lines that are not valid JSON (a run killed mid-write); warn with file and line.

    Returns the number of valid lines kept.
    """
    if not path.exists():
        return 0
    lines = path.read_text().splitlines(keepends=True)
    good = []
    for number, line in enumerate(lines, 1):
        try:
            json.loads(line)
        except ValueError:
            warnings.warn(f"{path}:{number}: skipping a truncated or invalid record line",
                          stacklevel=2)
            continue
        good.append(line if line.endswith("\n") else line + "\n")
    if len(good) != len(lines):
        path.write_text("".join(good))
    return len(good)


def open_database(folder: Path):
    """MetaSchedule's JSON database in ``folder`` (created if missing), bad lines dropped."""
    from tvm.s_tir import meta_schedule as ms

    folder.mkdir(parents=True, exist_ok=True)
    sanitize(folder / WORKLOAD_FILE)
    sanitize(folder / RECORD_FILE)
    return ms.database.JSONDatabase(str(folder / WORKLOAD_FILE), str(folder / RECORD_FILE),
                                    allow_missing=True)


def count_records(folder: Path) -> int:
    path = folder / RECORD_FILE
    return sum(1 for line in path.read_text().splitlines() if line.strip()) if path.exists() else 0


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
    path = Path(folder) / RECORD_FILE
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)[1]
            run_secs = [float(s) for s in record[1]]
        except (ValueError, IndexError, TypeError):
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
    path, tmp = folder / VERDICT_FILE, folder / f".{VERDICT_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps({"applies": applies, "why": why, "tuned_hash": str(tuned_hash),
                               "default_hash": str(default_hash)}, indent=2) + "\n")
    os.replace(tmp, path)  # a reader never sees half a verdict


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

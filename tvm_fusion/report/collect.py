"""What the report shows of each records folder: numbers only, read from files.

A folder is ``LOG_DIR/<target key>/<workload key>/`` as ``tune`` writes it (``manifest.json``,
MetaSchedule's JSON database, ``trials.jsonl``, ``verdict.json``). Without ``trials.jsonl``
(tuned before it existed) the curve comes from the records' order and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..tuning.records import is_measured, read_verdict, record_seconds, records_in_order
from ..tuning.trials import read_trials


@dataclass
class Workload:
    folder: Path
    target_key: str
    workload: str  # the graph's name (W1s, a model's name)
    group: str
    template: str
    trials: list[dict]  # as trials.jsonl has them (or made from the records' order)
    logged: bool  # trials.jsonl exists: trial numbers and times are real
    roofline: dict | None
    verdict: dict | None
    best_trace: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def measured(self) -> list[dict]:
        return [t for t in self.trials if t["seconds"] is not None]

    @property
    def failed(self) -> int:
        return sum(1 for t in self.trials if t["seconds"] is None)

    @property
    def best_s(self) -> float | None:
        return min((t["seconds"] for t in self.measured), default=None)

    @property
    def default_s(self) -> float | None:
        marked = [t["seconds"] for t in self.trials if t.get("default")]
        if marked:
            return marked[0]
        return self.trials[0]["seconds"] if self.trials else None  # the first record

    @property
    def wall_s(self) -> float | None:
        return self.trials[-1]["elapsed_s"] if self.logged and self.trials else None

    @property
    def roofline_fraction(self) -> float | None:
        if not self.roofline or not self.best_s:
            return None
        return self.roofline["seconds"] / self.best_s


def collect(log_dir) -> list[Workload]:
    """Every records folder under ``log_dir`` (sorted by target, workload, group)."""
    found = []
    for manifest_path in sorted(Path(log_dir).glob("*/*/manifest.json")):
        folder = manifest_path.parent
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError:
            continue
        records = _records(folder)
        trials = read_trials(folder)
        logged = bool(trials)
        if not logged:  # the records' order stands in for trial order
            trials = [{"trial": i + 1, "elapsed_s": None, "seconds": s, "error": e,
                       "knobs": {}, "decisions": [], "default": i == 0}
                      for i, (s, e, _) in enumerate(records)]
        best = min((r for r in records if r[0] is not None), key=lambda r: r[0], default=None)
        found.append(Workload(folder, folder.parent.name, manifest.get("workload", "?"),
                              manifest.get("group", "?"), manifest.get("template", "?"),
                              trials, logged, manifest.get("roofline"), read_verdict(folder),
                              best[2] if best else ""))
    return sorted(found, key=lambda w: (w.target_key, w.workload, w.group))


def _records(folder: Path) -> list[tuple[float | None, str | None, str]]:
    """``(median seconds or None, error, trace as text)`` per record, in file order."""
    return [(record_seconds(run_secs), None, json.dumps(record[0])) if is_measured(run_secs)
            else (None, "failed", json.dumps(record[0]))
            for run_secs, record, _ in records_in_order(folder)]

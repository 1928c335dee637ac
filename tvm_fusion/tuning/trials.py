"""``trials.jsonl``: one JSON line per measured trial of a group, in its records folder.

MetaSchedule's records carry no time and no trial index, so a tuning curve needs data we
record ourselves. Each line: ``trial`` (1 = the template's default schedule), ``elapsed_s``
(wall clock since the group's first trial, across reruns), ``unix_time``, ``seconds`` (the
measured median, or ``None``), ``error`` (why the build or run failed, or ``None``),
``knobs`` (the template's decisions by name, as ``TemplateContext.knobs`` names them; ``{}``
when the template, re-run with the trace's decisions, does not reproduce them: a trace down
another branch of the template), ``decisions`` (the trace's raw sampling decisions, always)
and ``default`` (true on the default schedule's line). A :class:`LogTrials` measure callback
appends every round's lines after MetaSchedule committed the round's records, then flushes
and fsyncs: a kill loses at most the round the records lose too. A truncated last line is
skipped when read (``read_trials``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from .mutator import trace_decisions

TRIALS_FILE = "trials.jsonl"


def read_trials(folder: Path) -> list[dict]:
    """The logged trials of ``folder`` in order (``[]`` when there is no log)."""
    path = Path(folder) / TRIALS_FILE
    if not path.exists():
        return []
    trials = []
    for line in path.read_text().splitlines():
        try:
            trials.append(json.loads(line))
        except ValueError:  # a line cut by a kill
            continue
    return trials


class TrialLog:
    """Appends trials to ``folder/trials.jsonl``; ``knobs_of(trace)`` names a trace's
    decisions."""

    def __init__(self, folder: Path, knobs_of, unlogged: int = 0) -> None:
        """``unlogged``: records already in the folder; when it has no log yet (tuned before
        this log existed) trial numbers continue after them."""
        self.path = Path(folder) / TRIALS_FILE
        self.knobs_of = knobs_of
        earlier = read_trials(folder)
        self.count = earlier[-1]["trial"] if earlier else unlogged
        self.started = earlier[0]["unix_time"] - earlier[0]["elapsed_s"] if earlier else None

    def append(self, entries: list[tuple]) -> None:
        """``(seconds, error, trace, default)`` per trial, in measurement order."""
        now = time.time()
        if self.started is None:
            self.started = now
        lines = []
        for seconds, error, trace, default in entries:
            self.count += 1
            try:
                knobs = self.knobs_of(trace)
            except Exception:  # noqa: BLE001 - another branch of the template: raw decisions
                knobs = {}
            decisions = [list(d) if isinstance(d, tuple) else d for d in trace_decisions(trace)]
            lines.append(json.dumps({"trial": self.count,
                                     "elapsed_s": round(now - self.started, 3),
                                     "unix_time": round(now, 3), "seconds": seconds,
                                     "error": error, "knobs": knobs, "decisions": decisions,
                                     "default": default}))
        with open(self.path, "a") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())


@derived_object
class LogTrials(PyMeasureCallback):
    """MetaSchedule measure callback: every measured candidate of a round into a
    :class:`TrialLog` (failed builds and runs too, with their error)."""

    def __init__(self, log: TrialLog) -> None:
        super().__init__()
        self.log = log

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results,
              runner_results) -> None:
        entries = []
        for candidate, built, ran in zip(measure_candidates, builder_results, runner_results):
            error = built.error_msg or ran.error_msg
            seconds = None
            if not error and ran.run_secs:
                values = sorted(float(s) for s in ran.run_secs)
                seconds = values[len(values) // 2]
            entries.append((seconds, _first_line(error), candidate.sch.trace, False))
        self.log.append(entries)


def _first_line(error) -> str | None:
    if not error:
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[-1] if lines else str(error))[:300]

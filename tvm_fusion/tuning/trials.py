"""``trials.jsonl``: one JSON line per measured trial of a group, in its records folder.

MetaSchedule's records carry no time and no trial index, so a tuning curve needs data we
record ourselves. Each line: ``trial`` (1 = the template's default schedule), ``elapsed_s``
(wall clock since the group's first trial, across reruns), ``unix_time``, ``seconds`` (the
measured median, or ``None``), ``error`` (why the build or run failed, or ``None``),
``knobs`` (the template's decisions by name, as ``TemplateContext.knobs`` names them; ``{}``
when the template, re-run with the trace's decisions, does not reproduce them: a trace down
another branch of the template), ``decisions`` (the trace's raw sampling decisions, always)
and ``default`` (true on the default schedule's line). The :class:`CommitRound` measure
callback commits a round's records and then appends their lines, flushed and fsynced: a kill loses at most the round the records lose too. A line cut short by a kill
(or any bad line) is skipped with a warning when read (``read_trials``) and moved aside before
the next append; on a full disk the append is cut back and ``RecordsWriteError`` raised.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from .durable import (
    AppendCheck,
    RecordsWriteError,
    end_line,
    set_aside,
    split_lines,
    warn_line,
    write_failure,
)
from .mutator import trace_decisions

TRIALS_FILE = "trials.jsonl"


def trial_problems():
    """A checker of ``trials.jsonl`` lines, in order: JSON objects with a new trial number."""
    seen = set()

    def problem(line: str) -> str | None:
        try:
            trial = json.loads(line)
        except ValueError as err:
            return f"not JSON ({err.msg}, column {err.colno})"
        if not isinstance(trial, dict) or type(trial.get("trial")) is not int:
            return "not a trial (a JSON object with a trial number)"
        if trial["trial"] in seen:
            return f"trial {trial['trial']} again"
        seen.add(trial["trial"])
        return None

    return problem


def read_trials(folder: Path) -> list[dict]:
    """The logged trials of ``folder`` in order (``[]`` when there is no log); a bad line
    is skipped with one warning naming the file and line."""
    path = Path(folder) / TRIALS_FILE
    lines, bad = split_lines(path, trial_problems())
    for number, line, why in bad:
        warn_line(path, number, line, f"{why}; skipped (the next tvm-fusion tune of this "
                  f"workload moves it to {TRIALS_FILE}.skipped)")
    skipped = {number for number, _, _ in bad}
    return [json.loads(line) for n, line in enumerate(lines, 1) if n not in skipped]


class TrialLog:
    """Appends trials to ``folder/trials.jsonl``; ``knobs_of(trace)`` names a trace's
    decisions."""

    def __init__(self, folder: Path, knobs_of, unlogged: int = 0) -> None:
        """``unlogged``: records already in the folder; trial numbers continue after them
        (a log that is behind them: tuned before this log existed, or killed between a
        round's records and its log lines). Bad lines are moved aside first, so no new line
        joins a half one."""
        self.path = Path(folder) / TRIALS_FILE
        self.knobs_of = knobs_of
        lines, bad = split_lines(self.path, trial_problems())
        if bad:
            set_aside(self.path, lines, bad, note="nothing to do: the records are intact, "
                      "the tuning curve misses that trial")
        end_line(self.path, lambda: unlogged)
        skipped = {number for number, _, _ in bad}
        earlier = [json.loads(line) for n, line in enumerate(lines, 1) if n not in skipped]
        self.count = max(earlier[-1]["trial"] if earlier else 0, unlogged)
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
        size = self.path.stat().st_size if self.path.is_file() else 0
        try:
            with open(self.path, "a") as f:
                f.write("".join(line + "\n" for line in lines))
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            if self.path.is_file():
                os.truncate(self.path, size)  # no half line
            raise write_failure(self.path, err, self.count) from None


FAILED_SECONDS = 1e10  # what MetaSchedule records for a candidate that failed


def record_key(record) -> str:
    """What makes a record (or a measure candidate) a duplicate: the same trace with the same
    arguments."""
    trace = record.trace if hasattr(record, "trace") else record.sch.trace
    return (str(trace.as_json(remove_postproc=False)) + "|" +
            str([arg.as_json() for arg in record.args_info]))


@derived_object
class CommitRound(PyMeasureCallback):
    """MetaSchedule measure callback in place of its ``AddToDatabase``: every measured
    candidate of a round (failed builds and runs too, scored 1e10 s) committed once, checked
    on disk, and logged in a :class:`TrialLog`.

    A candidate measured before (:class:`~.strategy.UnmeasuredSearch` proposes none) is not committed
    twice, nor logged. ``records``:
    the check that the round reached the file (``durable.AppendCheck``); a failure is kept in
    ``failure`` for the tuner to raise after the round (an error raised here would cross
    TVM's C++)."""

    def __init__(self, database, workload, target, log: TrialLog,
                 records: AppendCheck) -> None:
        super().__init__()
        self.database, self.workload, self.target = database, workload, target
        self.log, self.records = log, records
        self.seen = {record_key(r) for r in database.get_all_tuning_records()}
        self.duplicates = 0  # candidates measured again and not committed, in this run
        self.failure: RecordsWriteError | None = None

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results,
              runner_results) -> None:
        if self.failure is not None:
            return
        try:
            self._commit(measure_candidates, builder_results, runner_results)
        except RecordsWriteError as err:
            self.failure = err

    def commit_measured(self, measure_candidates, builder_results, runner_results) -> None:
        """Commit and log a round measured outside ``tune_tir`` (called from Python, so a
        full disk raises ``RecordsWriteError`` here)."""
        self._commit(measure_candidates, builder_results, runner_results)

    def _commit(self, measure_candidates, builder_results, runner_results) -> None:
        from tvm.s_tir import meta_schedule as ms

        entries = []
        for candidate, built, ran in zip(measure_candidates, builder_results, runner_results):
            run_secs = ran.run_secs if ran.run_secs is not None else [FAILED_SECONDS]
            record = ms.database.TuningRecord(candidate.sch.trace, self.workload, run_secs,
                                              self.target, candidate.args_info)
            key = record_key(record)
            if key in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(key)
            self.database.commit_tuning_record(record)
            error = built.error_msg or ran.error_msg
            seconds = None
            if not error and ran.run_secs:
                values = sorted(float(s) for s in ran.run_secs)
                seconds = values[len(values) // 2]
            entries.append((seconds, _first_line(error), candidate.sch.trace, False))
        self.records.committed(len(entries))
        if entries:
            self.log.append(entries)


def _first_line(error) -> str | None:
    if not error:
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[-1] if lines else str(error))[:300]

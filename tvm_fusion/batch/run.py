"""``tvm-fusion batch jobs.toml``: every job of a manifest, each owned by one process at a time.

The loop: take the first job that is neither done nor locked by another process (its lock is
``<output_dir>/<job>/.lock``); run it (``jobs.run_job``) while holding its lock and the locks
of the records folders it tunes (two jobs on one workload never write one MetaSchedule
database at once); record a failure with its reason and go on. When only jobs held by others
remain, say who holds them and wait for them to finish (or for their holder to die: the
kernel releases a dead process's locks). A second process on the same manifest, on this
machine or another one sharing the folder, thus takes the jobs nobody holds: the two split
the work.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from .jobs import job_graph, run_job
from .manifest import Manifest
from .state import Lock, locked, read_json, write_json

WAIT_POLL_S = 2.0
LOCK_FILE = ".lock"  # in a job's output folder and in each records folder it tunes


@dataclass(frozen=True)
class BatchResult:
    rows: list[dict]  # one per job, in manifest order (summary.json)
    failed: int


def plan(manifest: Manifest, target) -> tuple[list[str], int]:
    """Describe what the manifest asks for: jobs, fusion groups, templates, trials; and how
    many jobs cannot be built (a bad model, shapes that do not fit: when run, such a job is
    recorded as failed with that reason and the batch goes on)."""
    from .. import schedules
    from ..describe import template_context
    from ..fusion import fuse, live_nodes

    lines, broken = [], 0
    for job in manifest.jobs:
        budget = "" if job.time_budget_s is None else f", time budget {job.time_budget_s:.0f} s"
        try:
            graph = job_graph(job)
        except Exception as err:  # noqa: BLE001 - GraphError, OnnxImportError, onnx's own
            broken += 1
            lines.append(f"{job.name}: {job.source}: cannot be built, will fail: "
                         f"{type(err).__name__}: {str(err).splitlines()[0]}")
            continue
        lines.append(f"{job.name}: {job.source}, {job.trials} trials per group{budget}")
        for group in fuse(graph, live_nodes(graph)):
            template = schedules.choose(template_context(group, target))
            lines.append(f"  group {group.name}: template {template.NAME}")
    return lines, broken


def run_batch(manifest: Manifest, target, log_dir: Path, runner, say) -> BatchResult:
    """Run every job not done yet; the summary rows (also written to summary.json)."""
    manifest.output_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    pending = list(manifest.jobs)

    def finished(state: dict) -> bool:  # done, or failed during this batch (by any process)
        return state.get("status") == "done" or (
            state.get("status") == "failed" and state.get("failed_at", 0) >= started)

    announced: set[str] = set()
    while pending:
        progressed = False
        for job in list(pending):
            folder = manifest.output_dir / job.name
            state = read_json(folder / "state.json")
            if finished(state):
                if job.name not in announced:
                    say(f"{job.name}: done earlier, skipped" if state["status"] == "done" else
                        f"{job.name}: failed in another process of this batch: "
                        f"{state.get('reason')}")
                pending.remove(job)
                progressed = True
                continue
            lock = Lock(folder / LOCK_FILE)
            if not lock.acquire():
                if job.name not in announced:
                    say(f"{job.name}: held by {lock.holder()}; taking other jobs first")
                    announced.add(job.name)
                continue
            try:
                if not finished(read_json(folder / "state.json")):  # re-read, now locked
                    _run_one(job, manifest, folder, target, log_dir, runner, say)
            finally:
                lock.release()
            pending.remove(job)
            progressed = True
        if pending and not progressed:
            held = ", ".join(f"{j.name} ({Lock(manifest.output_dir / j.name / LOCK_FILE).holder()})"
                             for j in pending)
            say(f"waiting: only jobs held by other processes remain: {held}")
            time.sleep(WAIT_POLL_S)
            announced.update(j.name for j in pending)
    rows = [summary_row(job, read_json(manifest.output_dir / job.name / "state.json"))
            for job in manifest.jobs]
    write_json(manifest.output_dir / "summary.json", {"manifest": str(manifest.path),
                                                      "jobs": rows})
    return BatchResult(rows, sum(r["status"] == "failed" for r in rows))


def _run_one(job, manifest, folder: Path, target, log_dir: Path, runner, say) -> None:
    say(f"{job.name}: {job.source}, {job.trials} trials per group")
    try:
        with _records_locks(job, target, log_dir, say):
            state = run_job(job, manifest, folder, target, log_dir, runner, say)
        say(f"{job.name}: done, exported to {state['export']}")
    except Exception as err:  # noqa: BLE001 - a bad model, a build crash, a device that
        # vanished, a bug: whatever it is, it is recorded with its reason and the batch goes on
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = f"{type(err).__name__}: {'; '.join(lines)}"[:600]
        state = read_json(folder / "state.json")
        state.update(status="failed", reason=reason, failed_at=time.time())
        write_json(folder / "state.json", state)
        say(f"{job.name}: FAILED: {reason}")


@contextlib.contextmanager
def _records_locks(job, target, log_dir: Path, say):
    """Hold the locks of every records folder the job's groups tune into (in a fixed order:
    two processes never wait on each other in a cycle)."""
    with contextlib.ExitStack() as stack:
        for folder in sorted(set(_record_folders(job, target, log_dir))):  # two groups can share one
            stack.enter_context(locked(folder / LOCK_FILE, say))
        yield


def _record_folders(job, target, log_dir: Path) -> list[Path]:
    from .. import schedules
    from ..describe import template_context
    from ..fusion import fuse, live_nodes
    from ..tuning import record_dir

    graph = job_graph(job)
    return [record_dir(log_dir, target, g, schedules.choose(template_context(g, target)).NAME)
            for g in fuse(graph, live_nodes(graph))]


def summary_row(job, state: dict) -> dict:
    default, best = state.get("default_s"), state.get("best_s")
    return {"job": job.name, "source": job.source, "status": state.get("status", "pending"),
            "reason": state.get("reason"), "default_s": default, "best_s": best,
            "speedup": default / best if default and best else None,
            "trials": state.get("trials"), "tuning_s": state.get("tuning_s"),
            "wall_s": state.get("wall_s"), "export": state.get("export"),
            "throughput": state.get("throughput"), "applied": state.get("applied")}


def format_summary(rows: list[dict]) -> str:
    header = ["job", "status", "default us", "best us", "speedup", "trials", "builds/min",
              "meas/min", "wall s", "export"]
    cells = []
    for r in rows:
        status = r["status"] if r["status"] != "failed" else f"failed: {r['reason'][:80]}"
        rate = r.get("throughput") or {}
        cells.append([r["job"], status,
                      f"{r['default_s'] * 1e6:.1f}" if r["default_s"] else "-",
                      f"{r['best_s'] * 1e6:.1f}" if r["best_s"] else "-",
                      f"{r['speedup']:.2f}x" if r["speedup"] else "-",
                      str(r["trials"] or "-"),
                      f"{rate['builds_per_minute']:.0f}" if rate else "-",
                      f"{rate['measurements_per_minute']:.0f}" if rate else "-",
                      f"{r['wall_s']:.0f}" if r["wall_s"] else "-", r["export"] or "-"])
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.append("(default, best: kernel medians of the default schedule and the tuned records, "
                 "timed in this process in 7 interleaved rounds; builds/min, meas/min: this "
                 "run's tuning, every group)")
    return "\n".join(lines)


def runner_settings(spec):
    """The tuner's runner for the manifest's ``[runner]``: ``"local"``, or ``RPCSettings``
    once the farm answers (``check_farm``: the tracker is up and a server with the key is
    registered; else ``FarmError`` with the commands that start them)."""
    if spec.kind == "local":
        return "local"
    from ..tuning import RPCSettings, check_farm

    settings = RPCSettings(spec.host, spec.port, spec.key, max_workers=spec.max_workers,
                           session_timeout_s=spec.session_timeout_s,
                           server_wait_s=spec.server_wait_s)
    check_farm(settings)
    return settings

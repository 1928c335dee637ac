"""Transfer tuning: trials to reach 95 % of a from-scratch best, with and without transfer.

For every group of W1..W5 and P1..P5 (base sizes), on this machine, in one run:

- **scratch**: ``tune(trials=64, transfer=False)`` into a fresh folder (the cold start
  MetaSchedule makes: the template's default is trial 1, then rounds of 8);
- **transfer**: ``tune(trials=16, transfer=[SOURCES])`` into another fresh folder: its first
  round measures the best records of the other CPUs in ``SOURCES`` (default: the shipped
  ``tuning_logs/``, without this CPU's own folder) and the cost model is trained on them.

``best64``: the best latency the scratch run measured in 64 trials; a run "reaches 95 %" at
the first trial whose measured latency is within ``best64 / 0.95``. Target: with transfer,
at most 16 trials (a quarter). ``trained on``: the measurements the transfer run's cost model
was trained on before its first new round (the sources' records and the logged trials this
CPU's template reproduces, scaled per source, and the records measured here so far).
Latencies are MetaSchedule runner medians (``trials.jsonl``), so both runs are measured by the
same runner on the same machine; the scratch and transfer runs of a group follow each other.

**Re-timed**: the runner's medians drift between rounds by more than the 5 % the goal asks
(W5 on sapphirerapids: its default schedule measured 244 us in one run's first round, 352 us
in the other's, and one schedule 232 and 290 us two rounds apart), so the best of 64 is partly
a lucky round. After both runs the default schedule and every distinct schedule they
measured within ``RETIME_MARGIN`` of the best are built again and timed in this process, all
in the same interleaved rounds (median of ``RETIME_ROUNDS``), and the trials to 95 % are
counted again on those times (a schedule not re-timed counts as not reaching the goal).
These are kernel times, as the runner's are: the schedules differ only in the kernel, and
the public call adds the same binding and output allocation to each. Both tables are
printed. Usage::

    python benchmarks/transfer.py [--workloads W1,P1] [--trials 64] [--out benchmarks/results]
        [--work DIR [--retime]] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import markdown_table

from tvm_fusion import workloads
from tvm_fusion.fusion import fuse
from tvm_fusion.lower import lower
from tvm_fusion.ops.fp16 import native_fp16
from tvm_fusion.settings import shipped_logs
from tvm_fusion.target import host_target, target_key
from tvm_fusion.timing import interleaved, median_seconds
from tvm_fusion.tuning import record_dir, tune
from tvm_fusion.tuning.durable import write_atomic
from tvm_fusion.tuning.measure import kernel_arguments
from tvm_fusion.tuning.mutator import trace_decisions
from tvm_fusion.tuning.outputs import built, replay
from tvm_fusion.tuning.transfer import read_records
from tvm_fusion.tuning.trials import read_trials
from tvm_fusion.tuning.verify import group_arguments

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "P1", "P2", "P3", "P4", "P5")
RETIME_MARGIN = 2.0  # schedules the runner measured within this factor of the best: re-timed
RETIME_ROUNDS = 7


def curve(folder: Path) -> list[float | None]:
    """Measured seconds per trial, in order (``None``: the trial failed)."""
    return [t.get("seconds") for t in read_trials(folder)]


def decision_key(decisions) -> str:
    return json.dumps([list(d) if isinstance(d, (list, tuple)) else d for d in decisions])


def retimed_curve(folder: Path, times: dict[str, float]) -> list[float | None]:
    """Each trial's re-timed seconds (``None``: failed, or not re-timed)."""
    return [times.get(decision_key(t["decisions"])) if t.get("seconds") else None
            for t in read_trials(folder)]


def retime(graph, arrays, group, folders) -> dict[str, float]:
    """In-process medians of every distinct schedule measured in ``folders`` within
    ``RETIME_MARGIN`` of the best, and of the default schedule (the runner once read P2's
    default 2x slow), all timed in the same interleaved rounds, by decisions."""
    target = host_target()
    kernel = lower(group.nodes, group.outputs, native_fp16=native_fp16(target))
    args = kernel_arguments(kernel.mod, group_arguments(graph, kernel, arrays, 0))
    found = {}
    for folder in folders:
        for seconds, record, _ in read_records(folder, kernel.mod):
            found.setdefault(decision_key(trace_decisions(record.trace)), (seconds, record))
    best = min(seconds for seconds, _ in found.values())
    defaults = {decision_key(t["decisions"]) for folder in folders
                for t in read_trials(folder) if t.get("default")}  # always re-timed
    functions = {key: built(replay(record, kernel.mod), target)
                 for key, (seconds, record) in found.items()
                 if seconds <= best * RETIME_MARGIN or key in defaults}
    timings = interleaved([lambda f=f: median_seconds(lambda: f(*args), repeat=5)
                           for f in functions.values()], RETIME_ROUNDS)
    return {key: timing.median for key, timing in zip(functions, timings)}


def reached(seconds: list[float | None], goal: float) -> int | None:
    """The first trial (1-based) measuring at most ``goal`` seconds."""
    return next((k for k, s in enumerate(seconds, 1) if s is not None and s <= goal), None)


def sources_without_host(root: Path) -> Path:
    """A copy of ``root`` without this CPU's folder: the records of the *other* CPUs."""
    copy = Path(tempfile.mkdtemp(prefix="transfer-sources-"))
    for cpu_dir in Path(root).iterdir():
        if cpu_dir.is_dir() and cpu_dir.name != target_key(host_target()):
            shutil.copytree(cpu_dir, copy / cpu_dir.name)
    return copy


def run(name: str, sources: Path, work: Path, trials: int, quarter: int,
        seed: int = 0) -> list[dict]:
    """Tune ``name`` from scratch and with transfer into ``work``; the runner's columns."""
    graph, arrays = workloads.load(name)
    start = time.time()
    scratch = tune(graph, trials=trials, log_dir=work / "scratch" / name, inputs=arrays,
                   transfer=False, seed=seed)
    mid = time.time()
    moved = tune(graph, trials=quarter, log_dir=work / "transfer" / name, inputs=arrays,
                 transfer=[str(sources)], seed=seed)
    rows = []
    for cold, warm in zip(scratch, moved):
        cold_curve, warm_curve = curve(cold.folder), curve(warm.folder)
        best = min(s for s in cold_curve if s is not None)
        goal = best / 0.95
        first = min((s for s in warm_curve[1:1 + warm.transferred] if s), default=None)
        rows.append({
            "group": f"{name} {cold.group}", "group_name": cold.group,
            "template": cold.template,
            "default_us": cold_curve[0] * 1e6 if cold_curve[0] else None,
            "best64_us": best * 1e6, "scratch_trials": reached(cold_curve, goal),
            "transferred": warm.transferred, "trained": warm.warm_start,
            "transfer_first_us": None if first is None else first * 1e6,
            "transfer_best_us": min(s for s in warm_curve if s is not None) * 1e6,
            "transfer_trials": reached(warm_curve, goal), "budget": quarter,
            "scratch_s": mid - start, "transfer_s": time.time() - mid,
            "scratch_explored": cold.explored, "transfer_explored": warm.explored,
            "scratch_stopped": cold.stopped, "transfer_stopped": warm.stopped})
    return rows


def add_retimed(name: str, work: Path, row: dict) -> None:
    """The re-timed columns of ``row`` (its runs' folders are in ``work``)."""
    graph, arrays = workloads.load(name)
    group = next(g for g in fuse(graph) if g.name == row["group_name"])
    cold, warm = (record_dir(work / run / name, host_target(), group, row["template"])
                  for run in ("scratch", "transfer"))
    times = retime(graph, arrays, group, (cold, warm))
    cold_again, warm_again = (retimed_curve(f, times) for f in (cold, warm))
    best = min(s for s in cold_again if s is not None)
    row.update({"retimed": len(times), "retimed_default_us": cold_again[0] * 1e6,
                "retimed_best64_us": best * 1e6,
                "retimed_scratch_trials": reached(cold_again, best / 0.95),
                "retimed_transfer_best_us": min(s for s in warm_again if s) * 1e6,
                "retimed_transfer_trials": reached(warm_again, best / 0.95)})


def trials(value: int | None, budget: int) -> str:
    return f"> {budget}" if value is None else str(value)


def table(rows: list[dict], cold_trials: int) -> str:
    lines = [[r["group"], f"{r['default_us']:.1f}", f"{r['best64_us']:.1f}",
              trials(r["scratch_trials"], cold_trials), str(r["transferred"]),
              str(r.get("trained", "-")),
              "-" if r["transfer_first_us"] is None else f"{r['transfer_first_us']:.1f}",
              f"{r['transfer_best_us']:.1f}", trials(r["transfer_trials"], r["budget"]),
              "yes" if r["transfer_trials"] is not None else "no"] for r in rows]
    return markdown_table(["group", "default us", f"best of {cold_trials} us",
                           "trials to 95 % cold",
                           "transferred", "trained on", "best transferred us",
                           "best with transfer us",
                           "trials to 95 % with transfer", "within a quarter"], lines)


def retimed_table(rows: list[dict], cold_trials: int) -> str:
    lines = [[r["group"], str(r["retimed"]), f"{r['retimed_default_us']:.1f}",
              f"{r['retimed_best64_us']:.1f}", trials(r["retimed_scratch_trials"], cold_trials),
              f"{r['retimed_transfer_best_us']:.1f}",
              trials(r["retimed_transfer_trials"], r["budget"]),
              "yes" if r["retimed_transfer_trials"] is not None else "no"] for r in rows]
    return markdown_table(["group", "schedules re-timed", "default us",
                           f"best of {cold_trials} us", "trials to 95 % cold",
                           "best with transfer us", "trials to 95 % with transfer",
                           "within a quarter"], lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--sources", default=str(shipped_logs()),
                        help="records folder whose other CPUs' records seed the transfer runs")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--work", help="the runs' folder (default: a new temporary one); its "
                        "rows.json keeps every finished workload, which a rerun with the same "
                        "--work does not tune again (resume after a crash)")
    parser.add_argument("--seed", type=int, default=0,
                        help="the search seed of both runs (another seed: another sample of "
                        "the same searches; its results are saved with the seed in the name)")
    parser.add_argument("--retime", action="store_true",
                        help="re-time the kept workloads of --work again")
    args = parser.parse_args(argv)
    quarter = args.trials // 4
    sources = sources_without_host(Path(args.sources))
    cpus = sorted(p.name for p in sources.iterdir())
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="transfer-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    kept_file = work / "rows.json"
    kept = json.loads(kept_file.read_text()) if kept_file.exists() else {}
    target = host_target()
    print(f"transfer tuning on {target_key(target)} ({target}); sources: {', '.join(cpus)}; "
          f"runs in {work}", flush=True)
    rows = []
    for name in args.workloads.split(","):
        fresh = name not in kept
        found = (run(name, sources, work, args.trials, quarter, args.seed) if fresh
                 else kept[name])
        if fresh or args.retime:
            for row in found:
                add_retimed(name, work, row)
            kept[name] = found
            write_atomic(kept_file, json.dumps(kept, indent=2) + "\n")
        rows += found
        print(f"  {name}: " + "; ".join(
            f"{r['group']}: cold {r['scratch_trials']}, transfer {r['transfer_trials']} "
            f"(re-timed: {r['retimed_scratch_trials']}, {r['retimed_transfer_trials']})"
            for r in found), flush=True)
    met = sum(r["transfer_trials"] is not None for r in rows)
    met_again = sum(r["retimed_transfer_trials"] is not None for r in rows)
    key = target_key(target)
    seeded = f" (search seed {args.seed})" if args.seed else ""
    text = (f"# Transfer tuning on {key}{seeded}\n\n"
            f"Sources: {', '.join(cpus)} (shipped records of other CPUs). 95 % of the best of "
            f"{args.trials} cold trials reached within {quarter} trials with transfer: "
            f"{met} of {len(rows)} groups by the runner's medians, {met_again} of {len(rows)} "
            f"re-timed in process.\n\n## Runner medians (what the tuner saw)\n\n"
            f"{table(rows, args.trials)}\n\n## Re-timed in process, interleaved "
            f"({RETIME_ROUNDS} rounds; the default and every schedule within "
            f"{RETIME_MARGIN:g}x of the best)\n\n"
            f"{retimed_table(rows, args.trials)}\n")
    print("\n" + text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"transfer-{key}" + (f"-seed{args.seed}" if args.seed else "")
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps(
        {"target": str(target), "sources": cpus, "seed": args.seed, "rows": rows},
        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

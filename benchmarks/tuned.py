"""Shipped tuning records versus the templates' default schedules, W1..W5 in all three sizes.

For every workload, in one run, kernels timed in alternation (medians of repeats):

- **default**: ``compile(graph)``: the template's default (heuristic) schedule;
- **tuned**: ``compile(graph, tuning_logs=LOGS)``: the shipped best record applied;
- **recorded**: the latency stored in that record (MetaSchedule's runner, re-measured when the
  record was shipped, see ``tuning_logs/README.md``).

Kernels are timed the way MetaSchedule's runner timed the record: TVM's ``time_evaluator``
with the tuner's evaluator settings (``tuning/measure.py: EVALUATOR``) on the same kind of
arguments (random floats, zero indices), so the comparison with the record is like for like
(``CompiledGraph.benchmark`` adds ~1 us of Python per call, which matters for the ``s`` sizes).
Both compiled graphs are also checked against numpy on the workload's real inputs.

``tuned / recorded`` near 1 means the shipped record reproduces its recorded latency; the
noise column is the spread of this run's tuned rounds (90th / 10th percentile), the band a
ratio within noise stays inside. ``default / tuned`` is what tuning bought (both timed in the
same rounds, so machine drift cancels). A workload whose record does not match this
machine (another CPU) is reported as such, not timed as tuned. Usage::

    python benchmarks/tuned.py [--logs tuning_logs] [--sizes base,s,l] [--repeat 21]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import tvm
from common import markdown_table
from tvm_fusion.schedules import choose

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.build import template_context
from tvm_fusion.fusion import fuse, live_nodes
from tvm_fusion.settings import shipped_logs
from tvm_fusion.target import as_target
from tvm_fusion.tuning.measure import EVALUATOR, kernel_arguments
from tvm_fusion.tuning.records import best_logged_seconds, record_dir

SUFFIX = {"base": "", "s": "s", "l": "l"}


def kernel_timer(compiled):
    """A callable returning one measurement (seconds) of all of ``compiled``'s kernels."""
    evaluators = []
    for kernel in compiled.kernels:
        evaluator = kernel.executable.mod.time_evaluator(
            "main", tvm.cpu(), number=EVALUATOR["number"], repeat=EVALUATOR["repeat"],
            min_repeat_ms=EVALUATOR["min_repeat_ms"])
        evaluators.append((evaluator, kernel_arguments(kernel.scheduled)))
    return lambda: sum(float(np.median(e(*args).results)) for e, args in evaluators)


def measure(name: str, logs: str, repeat: int, target) -> dict:
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    tuned = tf.compile(graph, tuning_logs=logs)
    default = tf.compile(graph)
    ok = all(tf.reference.compare(fn(**arrays), [expected])[0] for fn in (tuned, default))
    recorded = []
    for group in fuse(graph, live_nodes(graph)):
        template = choose(template_context(group, target))
        recorded.append(best_logged_seconds(record_dir(logs, target, group, template.NAME)))
    applied = all(s.startswith("tuned:") for s in tuned.schedules)
    timers = {"default": kernel_timer(default), "tuned": kernel_timer(tuned)}
    samples = {"default": [], "tuned": []}
    for _ in range(repeat):  # alternate, so drift hits both alike
        for label, timer in timers.items():
            samples[label].append(timer())
    return {"workload": name, "schedules": "+".join(tuned.schedules), "ok": ok,
            "applied": applied,
            "recorded": sum(recorded) if applied and None not in recorded else None,
            "default": float(np.median(samples["default"])),
            "tuned": float(np.median(samples["tuned"])),
            "noise": float(np.percentile(samples["tuned"], 90) /
                           np.percentile(samples["tuned"], 10))}


def format_table(rows: list[dict]) -> str:
    header = ["workload", "schedule", "check", "default us", "tuned us", "recorded us",
              "default/tuned", "tuned/recorded", "noise p90/p10"]
    lines = []
    for r in rows:
        recorded = f"{r['recorded'] * 1e6:.1f}" if r["recorded"] else "no record"
        ratio = f"{r['tuned'] / r['recorded']:.2f}" if r["recorded"] else "-"
        lines.append([r["workload"], r["schedules"], "ok" if r["ok"] else "FAIL",
                      f"{r['default'] * 1e6:.1f}", f"{r['tuned'] * 1e6:.1f}", recorded,
                      f"{r['default'] / r['tuned']:.2f}x", ratio, f"{r['noise']:.2f}"])
    return markdown_table(header, lines, left=3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", default=str(shipped_logs()))
    parser.add_argument("--sizes", default="base,s,l")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "tuned.md"))
    args = parser.parse_args(argv)
    target = as_target(None)
    rows = []
    for size in args.sizes.split(","):
        for w in ("W1", "W2", "W3", "W4", "W5"):
            name = w + SUFFIX[size]
            print(f"  {name} ...", flush=True)
            rows.append(measure(name, args.logs, args.repeat, target))
    table = format_table(rows)
    text = (f"# Shipped tuning records vs default schedules\n\nMachine: {target}; records: "
            f"`{Path(args.logs).name}`; medians of {args.repeat} alternating rounds, each a "
            f"time_evaluator run with the tuner's evaluator settings; recorded = the median "
            f"stored in the shipped record.\nCommand: `python "
            f"benchmarks/tuned.py --sizes {args.sizes} --repeat {args.repeat}`\n\n{table}\n")
    Path(args.out).write_text(text)
    print("\n" + text)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

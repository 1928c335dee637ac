"""Shipped tuning records versus the templates' default schedules, W1..W5 in all three sizes.

For every workload, in one run, kernels timed in alternation (medians of repeats):

- **default**: ``compile(graph)``: the template's default (heuristic) schedule;
- **tuned**: ``compile(graph, tuning_logs=LOGS)``: the shipped best record applied;
- **recorded**: the latency MetaSchedule logged for that record when it was tuned.

``tuned / recorded`` near 1 means the shipped record reproduces its recorded latency;
``default / tuned`` is what tuning bought. A workload whose record does not match this
machine (another CPU) is reported as such, not timed as tuned. Usage::

    python benchmarks/tuned.py [--logs tuning_logs] [--sizes base,s,l] [--repeat 21]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from common import markdown_table

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.build import template_context
from tvm_fusion.fuse import fuse, live_nodes
from tvm_fusion.schedules import choose
from tvm_fusion.settings import default_logs
from tvm_fusion.target import as_target
from tvm_fusion.tuning.records import best_logged_seconds, record_dir

SUFFIX = {"base": "", "s": "s", "l": "l"}


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
    samples = {"default": [], "tuned": []}
    for _ in range(repeat):  # alternate, so drift hits both alike
        samples["default"].append(default.benchmark(**arrays, repeat=3))
        samples["tuned"].append(tuned.benchmark(**arrays, repeat=3))
    return {"workload": name, "schedules": "+".join(tuned.schedules), "ok": ok,
            "applied": applied,
            "recorded": sum(recorded) if applied and None not in recorded else None,
            "default": float(np.median(samples["default"])),
            "tuned": float(np.median(samples["tuned"]))}


def format_table(rows: list[dict]) -> str:
    header = ["workload", "schedule", "check", "default us", "tuned us", "recorded us",
              "default/tuned", "tuned/recorded"]
    lines = []
    for r in rows:
        recorded = f"{r['recorded'] * 1e6:.1f}" if r["recorded"] else "no record"
        ratio = f"{r['tuned'] / r['recorded']:.2f}" if r["recorded"] else "-"
        lines.append([r["workload"], r["schedules"], "ok" if r["ok"] else "FAIL",
                      f"{r['default'] * 1e6:.1f}", f"{r['tuned'] * 1e6:.1f}", recorded,
                      f"{r['default'] / r['tuned']:.2f}x", ratio])
    return markdown_table(header, lines, left=3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", default=default_logs())
    parser.add_argument("--sizes", default="base,s,l")
    parser.add_argument("--repeat", type=int, default=21)
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
            f"`{args.logs}`; medians of {args.repeat} alternating rounds (3 calls each); "
            f"recorded = MetaSchedule's logged median when tuned.\nCommand: `python "
            f"benchmarks/tuned.py --sizes {args.sizes} --repeat {args.repeat}`\n\n{table}\n")
    Path(args.out).write_text(text)
    print("\n" + text)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

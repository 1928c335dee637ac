"""What a portable CPU level costs, and whether a loaded module runs like the in-process one.

For each workload, in interleaved rounds (one sample of every contestant per round, medians of
kernel time: inputs bound, outputs preallocated; ``CompiledGraph.benchmark``):

- one build per CPU level (``tvm_fusion.compile(graph, cpu=level)``, the templates' default
  schedules: tuning records are per CPU, so every level gets the same kind of schedule and the
  columns differ only in the instruction set);
- ``native loaded``: the native build exported (``tvm_fusion.export``) and loaded back
  (``tvm_fusion.load``) in this process: the same code through the exported ``.so``;
- ``native call`` and ``loaded call``: the public call ``fn(**arrays)`` (binding, checks, a
  fresh output) of the native build and of the loaded module, what a user times.

Ratios are each column's per-round time over native's (above 1: slower than native).

Usage::

    python benchmarks/portability.py [W1 ... W5] [--levels x86-64-v2 x86-64-v3 x86-64-v4]
        [--repeat 9]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.settings import num_cores
from tvm_fusion.target import host_target
from tvm_fusion.timing import interleaved, median_seconds, ratios


def measure(name: str, levels: list[str], repeat: int, folder: Path) -> list[str]:
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    builds = {level: tf.compile(graph, cpu=level) for level in [*levels, "native"]}
    tf.export(builds["native"], folder / name, inputs=arrays, repeat=3)
    builds["native loaded"] = tf.load(folder / f"{name}.so")
    for label, fn in builds.items():  # a wrong kernel is not timed
        np.testing.assert_allclose(np.asarray(fn(**arrays)[0], "float64"),
                                   np.asarray(expected, "float64"), rtol=2e-3, atol=2e-3,
                                   err_msg=f"{name} {label}")
    samplers = {label: (lambda f=fn: f.benchmark(**arrays, repeat=5))
                for label, fn in builds.items()}
    for label, fn in (("native call", builds["native"]),
                      ("loaded call", builds["native loaded"])):
        samplers[label] = lambda f=fn: median_seconds(lambda: f(**arrays), repeat=5)
    timings = dict(zip(samplers, interleaved(list(samplers.values()), repeat)))
    cells = [name]
    for label in samplers:
        base = {"native": None, "loaded call": "native call", "native call": None}.get(
            label, "native")
        cell = f"{timings[label].median * 1e6:.0f}"
        if base:
            cell += f" ({ratios(timings[base], timings[label]).short()})"
        cells.append(cell)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workloads", nargs="*", default=["W1", "W2", "W3", "W4", "W5"])
    parser.add_argument("--levels", nargs="*", default=["x86-64-v2", "x86-64-v3", "x86-64-v4"])
    parser.add_argument("--repeat", type=int, default=9, help="interleaved rounds")
    args = parser.parse_args()
    target = host_target()
    print(f"CPU {target.attrs['mcpu']} (LLVM's name), {num_cores()} threads; kernel medians of "
          f"{args.repeat} interleaved rounds, us (ratio to native [IQR]; loaded call: ratio to "
          "native call; 'same': within noise); default schedules\n")
    header = ["workload", *args.levels, "native", "native loaded", "native call", "loaded call"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.workloads:
            rows.append(measure(name, args.levels, args.repeat, Path(folder)))
            print(f"  {name} done", flush=True)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |")


if __name__ == "__main__":
    main()

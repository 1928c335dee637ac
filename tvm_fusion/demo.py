"""``tvm-fusion demo``: compile the reference workloads, check them, time them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import workloads
from .compiler import compile as compile_graph
from .timing import median_seconds

DEMO_WORKLOADS = ("W5", "W1", "W2", "W3", "W4")  # the seed chain first


@dataclass(frozen=True)
class DemoRow:
    workload: str
    title: str
    kernels: int
    ok: bool
    max_error: float
    ours_ms: float
    numpy_ms: float


def tolerance(dtype) -> dict:
    return {"rtol": 1e-3, "atol": 1e-3} if np.dtype(dtype) == np.float16 else {"rtol": 1e-4,
                                                                                  "atol": 1e-4}


def run_workload(name: str, *, repeat: int = 15) -> DemoRow:
    graph, arrays = workloads.load(name)
    fn = compile_graph(graph)
    (out,) = fn(**arrays)
    expected = workloads.reference(name, arrays)
    ok = out.shape == expected.shape and bool(np.allclose(out, expected, **tolerance(out.dtype)))
    error = float(np.max(np.abs(out.astype(np.float64) - expected))) if ok or out.shape == \
        expected.shape else float("inf")
    ours = fn.benchmark(**arrays, repeat=repeat)
    numpy_time = median_seconds(lambda: workloads.reference(name, arrays), repeat=repeat)
    return DemoRow(name, workloads.get(name).title, fn.num_kernels, ok, error,
                   ours * 1e3, numpy_time * 1e3)


def format_table(rows: list[DemoRow]) -> str:
    header = ("workload", "computation", "kernels", "check", "max |err|", "tvm-fusion ms",
              "numpy ms", "numpy / ours")
    lines = [[r.workload, r.title, str(r.kernels), "ok" if r.ok else "FAIL",
              f"{r.max_error:.2e}", f"{r.ours_ms:.3f}", f"{r.numpy_ms:.3f}",
              f"{r.numpy_ms / r.ours_ms:.2f}x"] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)

"""``tvm-fusion demo``: analyse W5, then compile, check and time the reference workloads."""

from __future__ import annotations

from dataclasses import dataclass

from . import workloads
from .compiler import compile as compile_graph
from .reference import compare
from .timing import median_seconds

DEMO_WORKLOADS = ("W5", "W1", "W2", "W3", "W4")  # the seed chain first


@dataclass(frozen=True)
class DemoRow:
    workload: str
    title: str
    template: str
    kernels: int
    ok: bool
    max_error: float
    fused_ms: float
    unfused_ms: float
    numpy_ms: float


def run_workload(name: str, *, repeat: int = 15) -> DemoRow:
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    fused, unfused = compile_graph(graph), compile_graph(graph, fuse=False)
    checks = [compare(fn(**arrays), [expected]) for fn in (fused, unfused)]
    ok, error = all(c[0] for c in checks), max(c[1] for c in checks)
    return DemoRow(name, workloads.get(name).title, "+".join(fused.schedules),
                   fused.num_kernels, ok, error,
                   fused.benchmark(**arrays, repeat=repeat) * 1e3,
                   unfused.benchmark(**arrays, repeat=repeat) * 1e3,
                   median_seconds(lambda: workloads.reference(name, arrays), repeat=repeat) * 1e3)


def format_table(rows: list[DemoRow]) -> str:
    header = ("workload", "computation", "template", "kernels", "check", "fused ms",
              "unfused ms", "numpy ms", "unfused/fused", "numpy/fused")
    lines = [[r.workload, r.title, r.template, str(r.kernels), "ok" if r.ok else "FAIL",
              f"{r.fused_ms:.3f}", f"{r.unfused_ms:.3f}", f"{r.numpy_ms:.3f}",
              f"{r.unfused_ms / r.fused_ms:.2f}x", f"{r.numpy_ms / r.fused_ms:.2f}x"]
             for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)

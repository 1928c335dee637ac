"""``tvm-fusion demo``: analyse W5, then compile, check and time the reference workloads
(W1..W5) and the pattern workloads (P1..P5), base sizes."""

from __future__ import annotations

from dataclasses import dataclass

from . import workloads
from .compiler import compile as compile_graph
from .reference import compare
from .timing import median_seconds

DEMO_WORKLOADS = ("W5", "W1", "W2", "W3", "W4") + workloads.PATTERNS  # the seed chain first


@dataclass(frozen=True)
class DemoRow:
    workload: str
    title: str
    template: str
    kernels: int
    ok: bool
    max_error: float
    fused_ms: float  # with the tuning records when they match, else the default schedule
    default_ms: float  # fused, template's default schedule (no records)
    unfused_ms: float
    numpy_ms: float
    notices: tuple[str, ...] = ()


def run_workload(name: str, *, repeat: int = 15, tuning_logs: str | None = None) -> DemoRow:
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    fused = compile_graph(graph, tuning_logs=tuning_logs)
    default, unfused = compile_graph(graph), compile_graph(graph, fuse=False)
    checks = [compare(fn(**arrays), [expected]) for fn in (fused, default, unfused)]
    ok, error = all(c[0] for c in checks), max(c[1] for c in checks)
    return DemoRow(name, workloads.get(name).title, "+".join(fused.schedules),
                   fused.num_kernels, ok, error,
                   fused.benchmark(**arrays, repeat=repeat) * 1e3,
                   default.benchmark(**arrays, repeat=repeat) * 1e3,
                   unfused.benchmark(**arrays, repeat=repeat) * 1e3,
                   median_seconds(lambda: workloads.reference(name, arrays), repeat=repeat) * 1e3,
                   fused.notices)


def format_table(rows: list[DemoRow]) -> str:
    header = ("workload", "computation", "schedule", "kernels", "check", "fused ms",
              "untuned ms", "unfused ms", "numpy ms", "unfused/fused", "numpy/fused")
    lines = [[r.workload, r.title, r.template, str(r.kernels), "ok" if r.ok else "FAIL",
              f"{r.fused_ms:.3f}", f"{r.default_ms:.3f}", f"{r.unfused_ms:.3f}",
              f"{r.numpy_ms:.3f}", f"{r.unfused_ms / r.fused_ms:.2f}x",
              f"{r.numpy_ms / r.fused_ms:.2f}x"]
             for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)

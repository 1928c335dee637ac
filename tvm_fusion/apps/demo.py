"""``tvm-fusion demo``: analyse W5, then compile, check and time the reference workloads
(W1..W5) and the pattern workloads (P1..P5), base sizes.

Every contestant of a workload (fused, untuned, unfused, numpy) is timed in the same
interleaved rounds (``timing.interleaved``); every ratio printed is the median of the
per-round ratios with their interquartile range, or "same" when that range straddles 1.
When no tuning record applied, the fused kernel *is* the untuned one: it is timed once and
the row says so instead of comparing it with itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import workloads
from ..compiler import compile as compile_graph
from ..reference import compare
from ..timing import BUSY_CORES, Comparison, ForeignLoad, interleaved, median_seconds, ratios

DEMO_WORKLOADS = ("W5", "W1", "W2", "W3", "W4") + workloads.PATTERNS  # the seed chain first
SAMPLE_REPEATS = 3  # one round's sample: the median of 3 repeats of >= 5 ms each
NO_RECORD = "no record applied: untuned = fused"


@dataclass(frozen=True)
class DemoRow:
    workload: str
    title: str
    template: str
    kernels: int
    ok: bool
    max_error: float
    fused_ms: float  # with the tuning records when they match, else the default schedule
    default_ms: float | None  # the template's default schedule; None: no record applied
    unfused_ms: float
    numpy_ms: float
    untuned_vs_fused: Comparison | None  # None when no record applied
    unfused_vs_fused: Comparison
    numpy_vs_fused: Comparison
    notices: tuple[str, ...] = ()
    rounds: int = 0
    record: str = "none"  # where the applied records were tuned (``record_source``)
    foreign_cores: float | None = None  # cores other processes kept busy while it was timed


def records_applied(fn) -> bool:
    """Whether a tuning record scheduled any of ``fn``'s kernels."""
    return any(s.startswith("tuned:") for s in fn.schedules)


def record_source(fn) -> str:
    """Where ``fn``'s records came from: "own" (this CPU's), another CPU's target key, or
    "none"; one per kernel, joined by "+"."""
    sources = []
    for kernel in fn.kernels:
        note = kernel.record or ""
        if "record transferred from " in note:
            sources.append(note.split("record transferred from ", 1)[1].split()[0])
        elif kernel.schedule.startswith("tuned:"):
            sources.append("own")
        else:
            sources.append("none")
    return "+".join(dict.fromkeys(sources)) or "none"


def run_workload(name: str, *, repeat: int = 15, tuning_logs: str | None = None,
                 transfer: bool = True) -> DemoRow:
    """Compile ``name`` fused (with ``tuning_logs``), untuned and unfused, check all against
    numpy and time them with numpy in ``repeat`` interleaved rounds."""
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    fused = compile_graph(graph, tuning_logs=tuning_logs, transfer=transfer)
    default = compile_graph(graph) if records_applied(fused) else None
    unfused = compile_graph(graph, fuse=False)
    compiled = [fn for fn in (fused, default, unfused) if fn is not None]
    checks = [compare(fn(**arrays), [expected]) for fn in compiled]
    ok, error = all(c[0] for c in checks), max(c[1] for c in checks)
    samplers = [lambda fn=fn: fn.benchmark(**arrays, repeat=SAMPLE_REPEATS) for fn in compiled]
    samplers.append(lambda: median_seconds(lambda: workloads.reference(name, arrays),
                                           repeat=SAMPLE_REPEATS))
    load = ForeignLoad()
    timings = interleaved(samplers, repeat)
    fused_t, numpy_t, unfused_t = timings[0], timings[-1], timings[-2]
    default_t = timings[1] if default is not None else None
    return DemoRow(name, workloads.get(name).title, "+".join(fused.schedules),
                   fused.num_kernels, ok, error, fused_t.median * 1e3,
                   default_t.median * 1e3 if default_t else None, unfused_t.median * 1e3,
                   numpy_t.median * 1e3, ratios(fused_t, default_t) if default_t else None,
                   ratios(fused_t, unfused_t), ratios(fused_t, numpy_t), fused.notices,
                   repeat, record_source(fused), load.cores())


def format_table(rows: list[DemoRow]) -> str:
    header = ("workload", "computation", "schedule", "record", "kernels", "check", "fused ms",
              "untuned ms", "unfused ms", "numpy ms", "untuned/fused", "unfused/fused",
              "numpy/fused")
    lines = [[r.workload, r.title, r.template, r.record, str(r.kernels),
              "ok" if r.ok else "FAIL",
              f"{r.fused_ms:.3f}", "= fused" if r.default_ms is None else f"{r.default_ms:.3f}",
              f"{r.unfused_ms:.3f}", f"{r.numpy_ms:.3f}",
              "no record" if r.untuned_vs_fused is None else r.untuned_vs_fused.short(),
              r.unfused_vs_fused.short(), r.numpy_vs_fused.short()]
             for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 4 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    rounds = max((r.rounds for r in rows), default=0)
    out.append(f"\nratios: median of the per-round ratios over {rounds} interleaved rounds "
               "[interquartile range]; 'same' when that range straddles 1 or the median is "
               "within 2 % of it (same within noise). 'no record' / '= fused': "
               f"{NO_RECORD} (the same kernel, timed once).")
    busy = [r for r in rows if r.foreign_cores is not None and r.foreign_cores > BUSY_CORES]
    if busy:
        out.append("\nNOT MEANINGFUL: other processes kept cores busy while "
                   + ", ".join(f"{r.workload} ({r.foreign_cores:.2f} cores)" for r in busy)
                   + (" was" if len(busy) == 1 else " were")
                   + " timed; a parallel kernel's call then waits for a core (a scheduler "
                   "slice of ~4 ms), so those times are the scheduler's: run the demo on an "
                   "idle machine.")
    return "\n".join(out)

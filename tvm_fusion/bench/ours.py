"""tvm-fusion's own contestants: tuned, default schedule, unfused, relaxed, P4 donated.

Each compiled graph gives two peers: ``<label> kernel`` (``CompiledGraph.benchmark``: inputs
bound, outputs preallocated) and ``<label> call`` (the public call ``fn(**arrays)``).

Tuned records: the records for this CPU in the shipped ``settings.shipped_logs()`` are copied
into ``OUT/records``; a group with no record in either is tuned there first with a fixed
budget (``tune(graph, trials=tune_trials, log_dir=OUT/records)``). A second run finds them in
``OUT/records`` and reuses them.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import schedules
from ..compiler import compile as compile_graph
from ..describe import template_context
from ..fusion import fuse, live_nodes
from ..settings import shipped_logs
from ..tuning import record_dir, tune
from ..tuning.records import count_records
from .peers import Peer

SAMPLE_REPEAT = 10  # CompiledGraph.benchmark repeats of >= 5 ms each: ~50 ms per sample
HALF_PRECISION_FAMILIES = ("W2", "W5", "P3")  # where precision="relaxed" changes anything


def compiled_peers(label: str, fn, arrays: dict[str, np.ndarray]) -> list[Peer]:
    """``<label> kernel`` and ``<label> call`` of one compiled graph."""
    def call():
        return fn(**arrays)
    schedule = "+".join(fn.schedules)
    return [Peer(f"{label} kernel", "kernel", lambda: fn.benchmark(**arrays, repeat=1),
                 lambda: call()[0], "preallocated (inputs bound before timing)",
                 sample=lambda: fn.benchmark(**arrays, repeat=SAMPLE_REPEAT),
                 schedule=schedule),
            Peer(f"{label} call", "call", call, lambda: call()[0],
                 "public call fn(**arrays): numpy in, fresh numpy out", schedule=schedule)]


def tuned_records(graph, target, out_dir: Path, trials: int,
                  say: Callable[[str], None]) -> tuple[Path, str]:
    """``(records folder, where its records came from)`` for every tunable group of
    ``graph`` (fallback groups have no knobs: nothing to tune)."""
    records = out_dir / "records"
    shipped = Path(shipped_logs())
    sources, missing = [], []
    for group in fuse(graph, live_nodes(graph)):
        template = schedules.choose(template_context(group, target))
        if template is schedules.fallback:
            continue
        cached = record_dir(records, target, group, template.NAME)
        if count_records(cached):
            sources.append(f"reused {count_records(cached)} records cached in {cached}")
            continue
        source = record_dir(shipped, target, group, template.NAME)
        if count_records(source):
            shutil.copytree(source, cached, dirs_exist_ok=True)
            sources.append(f"shipped records from {source}")
            continue
        missing.append(group.name)
    if missing:
        say(f"no record for {', '.join(missing)}: tuning {trials} trials into {records}")
        for result in tune(graph, target=target, trials=trials, log_dir=records):
            sources.append(f"tuned now: {result.trials} trials, best "
                           f"{(result.best_seconds or result.default_seconds) * 1e6:.1f} us "
                           f"measured by the tuner")
    return records, "; ".join(sources) or "no tunable group (fallback schedule only)"


def tuned_peers(name: str, graph, arrays: dict[str, np.ndarray], target, out_dir: Path,
                tune_trials: int, notes: list[str], say: Callable[[str], None]) -> list[Peer]:
    """``tuned kernel`` and ``tuned call``: the best record of every group for this CPU."""
    records, source = tuned_records(graph, target, out_dir, tune_trials, say)
    say(f"  {name}: tuned records: {source}")
    tuned = compile_graph(graph, target=target, tuning_logs=str(records))
    notes.append(f"{name}: tuned records: {source}; schedules {'+'.join(tuned.schedules)}")
    untuned = [k.nodes for k in tuned.kernels
               if not k.schedule.startswith("tuned:") and k.schedule != "fallback"]
    if untuned:
        notes.append(f"{name}: tuned = default schedule for {untuned} ({'; '.join(tuned.notices)})")
    return compiled_peers("tuned", tuned, arrays)


def untuned_peers(name: str, graph, arrays: dict[str, np.ndarray], target,
                  notes: list[str]) -> list[Peer]:
    """``default`` (fused, template default schedules) and ``unfused`` (one kernel per op),
    kernel and call each."""
    default = compile_graph(graph, target=target)
    notes.append(f"{name}: default schedules {'+'.join(default.schedules)}")
    return [*compiled_peers("default", default, arrays),
            *compiled_peers("unfused", compile_graph(graph, target=target, fuse=False), arrays)]


def relaxed_peers(name: str, graph, arrays: dict[str, np.ndarray], target,
                  notes: list[str]) -> list[Peer]:
    """``compile(graph, precision="relaxed")`` on the fp16 workloads (nothing elsewhere), with
    a note while ``compile`` has no ``precision`` parameter."""
    if name[:2] not in HALF_PRECISION_FAMILIES:
        return []
    if "precision" not in inspect.signature(compile_graph).parameters:
        notes.append(f"{name}: relaxed skipped: this tvm_fusion.compile takes no `precision` "
                     "parameter yet")
        return []
    relaxed = compile_graph(graph, target=target, precision="relaxed")
    return compiled_peers("relaxed", relaxed, arrays)


def donated_peers(name: str, graph, arrays: dict[str, np.ndarray], target,
                  notes: list[str]) -> tuple[list[Peer], np.ndarray] | None:
    """For P4: ``compile(graph, donate=["cache"])`` (kernel and call, default schedule: the
    records are for the out-of-place kernel), every call on the same cache array rewritten in
    place with the same values, as a decoder does; and that cache. ``None`` elsewhere."""
    if not name.startswith("P4"):
        return None
    if "donate" not in inspect.signature(compile_graph).parameters:
        notes.append(f"{name} donated: skipped, this tvm_fusion.compile takes no `donate`")
        return None
    donated = compile_graph(graph, target=target, donate=["cache"])
    call_arrays = {**arrays, "cache": arrays["cache"].copy()}
    peers = compiled_peers("donated", donated, call_arrays)
    for peer in peers:
        peer.allocation = "in place: the caller's cache array is updated and returned"
    return peers, call_arrays["cache"]

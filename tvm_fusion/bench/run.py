"""``tvm-fusion bench``: every contestant of every requested workload, timed in one run.

Per workload: set up every peer (compile, tune or reuse records, build), check each output
against the workload's numpy, then time all of them in the same interleaved rounds. The
read, write and copy bandwidths of each requested size's memory level are measured first, in
this run, and their best methods sampled again in every round.
"""

from __future__ import annotations

import datetime
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import workloads
from ..settings import num_cores
from ..target import host_target, target_key
from ..timing import ForeignLoad
from .metaschedule import metaschedule_peer
from .numerics import NumericsError, classify
from .ours import donated_peers, relaxed_peers, tuned_peers, untuned_peers
from .peers import Peer, numpy_peer, onnxruntime_peers, relax_peer, torch_available, torch_peers
from .roofline import (
    LEVEL,
    MODEL,
    PROBE_BYTES,
    Level,
    Traffic,
    donated_traffic,
    level_of,
    roofline_seconds,
    size_of,
    traffic,
)
from .timing import call_sampler, interleaved_medians, relative_range, warm_heap

FAMILIES = (*workloads.BASE, *workloads.PATTERNS)
SIZES = {"s": ("s",), "base": ("",), "l": ("l",), "all": ("s", "", "l")}
FOREIGN_LOAD_NOTE = 0.1  # cores busy with other processes above which a workload gets a note


@dataclass
class BenchOptions:
    """What ``tvm-fusion bench`` was asked for (defaults as the command's)."""

    workloads: list[str] = field(default_factory=list)  # families W1..P5 or sized names
    size: str = "base"
    out: Path = Path("benchmarks/results")
    repeat: int = 9
    tune_trials: int = 32
    ms_trials: int = 64
    command: str = ""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def workload_names(requested: list[str], size: str) -> list[str]:
    """The workloads a ``bench`` run measures, in order.

    Parameters
    ----------
    requested : list of str
        Families ``W1``..``W5``, ``P1``..``P5`` (each in every size of ``size``) or sized
        names such as ``W1s`` (as given); empty: all ten families.
    size : str
        ``"s"``, ``"base"``, ``"l"`` or ``"all"`` (sizes outer: s, base, l).

    Returns
    -------
    list of str
        Workload names without duplicates; ``ValueError`` names any unknown one.
    """
    if size not in SIZES:
        raise ValueError(f"--size must be one of {', '.join(SIZES)}, got {size!r}")
    names = []
    for suffix in SIZES[size]:
        for item in requested or FAMILIES:
            names.append(item + suffix if item in FAMILIES else item)
    unknown = [n for n in names if n not in workloads.WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workloads {', '.join(unknown)}; give W1..W5, P1..P5 "
                         "(with --size) or sized names like W1s")
    return list(dict.fromkeys(names))


def _setup(name: str, what: str, build: Callable[[], list[Peer]], notes: list[str]) -> list[Peer]:
    say(f"  {name}: {what} ...")
    try:
        return [p for p in build() if p is not None]
    except Exception as error:  # noqa: BLE001 - a peer that fails to build is reported
        notes.append(f"{name}: {what} failed to build: {type(error).__name__}: "
                     f"{str(error).splitlines()[0] if str(error) else ''}")
        say(f"  {notes[-1]}")
        return []


def setup_peers(name: str, graph, arrays, target, options: BenchOptions,
                notes: list[str]) -> list[Peer]:
    """Every contestant of workload ``name`` (those that built)."""
    out = Path(options.out)
    peers = _setup(name, "tvm-fusion tuned", lambda: tuned_peers(
        name, graph, arrays, target, out, options.tune_trials, notes, say), notes)
    peers += _setup(name, "tvm-fusion default and unfused", lambda: untuned_peers(
        name, graph, arrays, target, notes), notes)
    peers += _setup(name, "tvm-fusion relaxed", lambda: relaxed_peers(
        name, graph, arrays, target, notes), notes)
    peers += _setup(name, "numpy", lambda: [numpy_peer(name, arrays)], notes)
    peers += _setup(name, "onnxruntime", lambda: onnxruntime_peers(name, arrays), notes)
    if torch_available():
        peers += _setup(name, "torch eager", lambda: [torch_peers(name, arrays, False)], notes)
        peers += _setup(name, "torch.compile", lambda: [torch_peers(name, arrays, True)],
                        notes)
    peers += _setup(name, "TVM Relax", lambda: [relax_peer(name, arrays, target)], notes)
    peers += _setup(name, "MetaSchedule generic", lambda: [metaschedule_peer(
        name, graph, arrays, target, out / "metaschedule" / target_key(target),
        options.ms_trials, notes, say)], notes)
    return peers


def checked(name: str, peers: list[Peer], expected, notes: list[str],
            wrong: list[str]) -> dict:
    """``{label: (peer, Numerics)}`` of the peers whose output is right (loose tolerance);
    the others are noted and listed in ``wrong``."""
    kept = {}
    for peer in peers:
        try:
            kept[peer.label] = (peer, classify(name, peer.output(), expected, peer.label))
        except NumericsError as error:
            notes.append(f"{name}: {peer.label} not timed: wrong result: {error}")
            wrong.append(f"{name} {peer.label}")
            say(f"  {notes[-1]}")
        except Exception as error:  # noqa: BLE001 - a peer that fails to run is reported
            first_line = str(error).splitlines()[0] if str(error) else ""
            notes.append(f"{name}: {peer.label} not timed: failed to run: "
                         f"{type(error).__name__}: {first_line}")
            wrong.append(f"{name} {peer.label}")
            say(f"  {notes[-1]}")
    return kept


def _entry(peer: Peer, numerics, timing) -> dict:
    return {"mode": peer.mode, "median_s": timing.median, "spread": relative_range(timing),
            "samples_s": list(timing.samples), "exact": numerics.exact,
            "max_error": numerics.max_error, "allocation": peer.allocation,
            "schedule": peer.schedule}


class Levels:
    """One :class:`~.roofline.Level` per memory level, made and measured when first needed."""

    def __init__(self, target, repeat: int) -> None:
        self.target, self.repeat, self.by_level = target, repeat, {}

    def __call__(self, suffix: str) -> Level:
        if suffix not in self.by_level:
            say(f"measuring read, write and copy bandwidths, {LEVEL[suffix]} "
                f"({PROBE_BYTES[suffix] >> 10} KiB arrays) ...")
            self.by_level[suffix] = Level(PROBE_BYTES[suffix], self.target)
            self.by_level[suffix].measure(self.repeat)
        return self.by_level[suffix]


def _bandwidths(level: Level, suffix: str, timings) -> dict:
    """A row's bandwidths and their spreads from the probes' samples in its rounds."""
    out = {}
    for probe in level.probes:
        timing = timings[f"{probe.kind} {suffix}"]
        out[f"{probe.kind}_bytes_per_s"] = probe.moved / timing.median
        out[f"{probe.kind}_spread"] = relative_range(timing)
    return out


def measure_workload(name: str, levels: Levels, target, options: BenchOptions,
                     notes: list[str], wrong: list[str]) -> list[dict]:
    """The workload's result row (and for P4 its ``donated`` row, timed in the same rounds);
    the best read, write and copy of each row's memory level are sampled in the same rounds."""
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    peers = setup_peers(name, graph, arrays, target, options, notes)
    donated = [] if not name.startswith("P4") else _setup(
        name, "donated (in place)", lambda: (donated_peers(
            name, graph, arrays, target, notes) or ([], None))[0], notes)
    contestants = checked(name, peers + donated, expected, notes, wrong)
    fused, predicted = traffic(graph)
    row_traffic = {name: (fused, size_of(name))}
    if donated:
        moved = donated_traffic(arrays)
        row_traffic[f"{name} donated"] = (moved, level_of(moved.total))
    samplers = {f"{probe.kind} {suffix}": call_sampler(probe.best())
                for suffix in dict.fromkeys(s for _, s in row_traffic.values())
                for probe in levels(suffix).probes}
    samplers |= {label: peer.sample or call_sampler(peer.run)
                 for label, (peer, _) in contestants.items()}
    say(f"  {name}: timing {len(samplers)} contestants, {options.repeat} interleaved rounds")
    load = ForeignLoad()
    timings = interleaved_medians(samplers, options.repeat,
                                  progress=lambda text: say(f"    {name} {text}"))
    foreign = load.cores()
    if foreign is not None and foreign > FOREIGN_LOAD_NOTE:
        notes.append(f"{name}: other processes kept {foreign:.2f} of {num_cores()} cores busy "
                     "while it was timed: runtimes that assume the cores are theirs (torch's "
                     "OpenMP) are slowed most")
        say(f"  {notes[-1]}")
    entries = {label: _entry(peer, numerics, timings[label])
               for label, (peer, numerics) in contestants.items()}

    def row(workload: str, contestants: dict) -> dict:
        moved, suffix = row_traffic[workload]
        level = levels(suffix)
        bandwidths = _bandwidths(level, suffix, timings)
        copy_traffic = Traffic(level.nbytes, level.nbytes)
        roofline = roofline_seconds(moved, bandwidths["read_bytes_per_s"],
                                    bandwidths["write_bytes_per_s"])
        copy_roofline = roofline_seconds(copy_traffic, bandwidths["read_bytes_per_s"],
                                         bandwidths["write_bytes_per_s"])
        return {"workload": workload, "bytes": moved.total, "bytes_read": moved.read,
                "bytes_written": moved.written, "level": LEVEL[suffix], **bandwidths,
                "roofline_s": roofline, "copy_s": timings[f"copy {suffix}"].median,
                "copy_roofline_s": copy_roofline, "foreign_cores": foreign,
                "contestants": contestants}

    rows = [{**row(name, {k: v for k, v in entries.items() if not k.startswith("donated")}),
             "predicted": predicted}]
    if donated:
        rows.append({**row(f"{name} donated", {
            k.replace("donated", "default"): v for k, v in entries.items()
            if k.startswith("donated")}), "predicted": None})
        notes.append(f"{name} donated: compile(graph, donate=['cache']) in the default columns "
                     "(records are for the out-of-place kernel), the same cache array updated "
                     "in place by every call; roofline = in-place traffic (k and positions "
                     f"read, the addressed cache rows written) at the {rows[-1]['level']} "
                     "bandwidths")
    return rows


def run_bench(options: BenchOptions) -> dict:
    """Run the benchmark (progress on stderr) and write its reports.

    Parameters
    ----------
    options : BenchOptions
        Workloads, size, output folder, timing rounds and tuning budgets.

    Returns
    -------
    dict
        The results as written to ``options.out / "peers.json"`` (beside ``peers.md`` and,
        with matplotlib, ``peers.png``): per workload row its roofline and, per contestant,
        mode, samples, median, spread, numerics and output allocation; ``"wrong"`` lists
        the contestants whose output failed the check (not timed).
    """
    from .report import cpu_name, write_reports

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    heap = warm_heap()  # before any workload array is allocated
    names = workload_names(options.workloads, options.size)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    target = host_target()
    start = time.time()
    notes: list[str] = []
    wrong: list[str] = []  # "<workload> <contestant>" whose output failed the check
    if not torch_available():
        notes.append("torch and torch.compile: skipped, torch is not installed (pip install "
                     "-e .[bench] --extra-index-url https://download.pytorch.org/whl/cpu)")
    levels = Levels(target, options.repeat)
    for suffix in dict.fromkeys(size_of(n) for n in names):
        levels(suffix)
    rows = []
    for number, name in enumerate(names, 1):
        say(f"[{number}/{len(names)}] {name}")
        rows += measure_workload(name, levels, target, options, notes, wrong)
    results = {"command": options.command, "date": date, "cpu": cpu_name(),
               "target": str(target), "threads": num_cores(),
               "rounds": options.repeat, "tune_trials": options.tune_trials,
               "ms_trials": options.ms_trials, "heap": heap,
               "seconds": time.time() - start,
               "model": MODEL,
               "bandwidth": {LEVEL[suffix]: {"array_bytes": level.nbytes, **{
                   probe.kind: {"bytes_per_s": probe.bandwidth, "method": probe.method}
                   for probe in level.probes}} for suffix, level in levels.by_level.items()},
               "rows": rows, "notes": notes, "wrong": wrong}
    for path in write_reports(results, out):
        say(f"written {path}")
    return results

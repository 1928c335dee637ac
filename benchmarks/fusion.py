"""Fused versus unfused, numpy, onnxruntime, Relax, PyTorch and the roofline, for W1..W5 and
P1..P5 in all three sizes.

Every number comes from this one run, measured side by side in interleaved rounds (each round
times every contestant of a workload once; medians per contestant, see ``peers.py``):

- fused: ``tvm_fusion.compile(graph)`` (one kernel per group, template default schedule),
  kernel time (``CompiledGraph.benchmark``: inputs already in memory, output preallocated);
- tvmf call: the public call ``fn(**arrays)`` of that same compiled graph (numpy in, numpy
  out: inputs copied in, output copied out);
- unfused: ``compile(graph, fuse=False)``: our own per-op kernels, end to end, kernel time;
- numpy: the workload's numpy (``workloads.reference``), its output made C-contiguous (a
  transposed result is otherwise only a view);
- onnxruntime: the same graph exported to ONNX (``workloads.to_onnx``), CPU provider with one
  intra-op thread per core;
- relax: TVM Relax's own pipeline on that same ONNX graph (``relax.frontend.onnx.from_onnx``,
  default ``tvm.compile``: it fuses little and schedules nothing on CPU);
- torch, torch.compile: the workload as a PyTorch user writes it (``peers.py``), eager and
  Inductor (compiled once per workload outside timing), ``torch.set_num_threads(cores)``;
  "-" when torch is not installed (``pip install -e .[bench]``);
- ``P4 donated``: ``compile(graph, donate=["cache"])`` (the cache updated in place), called
  with the same cache array every time, as a decoder does; its roofline is the in-place
  traffic (``k`` and ``positions`` read, the written rows of the cache written);
- roofline: the minimum traffic (every input read once, the output written once; a scatter's
  untouched rows copied) divided by the bandwidth of the memory level the data lives in,
  measured now with a multi-threaded vectorised TVM copy: 256 MiB arrays for the ``l`` forms
  (DRAM), 8 MiB for the base forms (L3), 512 KiB for the ``s`` forms (L2);
- predicted: the split analysis' DDR-bytes ratio unfused / fused.

numpy, onnxruntime, Relax and torch are timed on their usual call (output allocated per call).
Usage::

    python benchmarks/fusion.py [--sizes base,s,l] [--workloads W,P | P1,P4] [--repeat 15]
                                [--out benchmarks/results/fusion.md]
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys

# Every contestant that allocates its output per call (numpy, onnxruntime, torch, Relax, the
# public call) gets it from a warm heap: otherwise glibc hands big blocks back to the kernel
# and page-faults them in again on the next call, more or less often depending on what ran
# before (measured here: torch's layer norm 0.57 ms alone, 2-6 ms between other contestants).
WARM_HEAP = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40)}
if __name__ == "__main__" and any(os.environ.get(k) != v for k, v in WARM_HEAP.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **WARM_HEAP})
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tvm
from common import markdown_table
from peers import (
    call_sampler,
    check,
    cpu_name,
    interleaved_medians,
    onnxruntime_call,
    relax_call,
    torch_calls,
)
from tvm import te

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.analysis import analyze
from tvm_fusion.settings import num_cores
from tvm_fusion.target import host_target
from tvm_fusion.timing import median_seconds

COPY_BYTES = {"l": 256 << 20, "": 8 << 20, "s": 512 << 10}
LEVEL = {"l": "DRAM", "": "L3", "s": "L2"}


def copy_bandwidth(nbytes: int, target, repeat: int) -> tuple[float, str]:
    """The best bytes/s (read + write counted) of three copies: a parallel vectorised TVM
    copy, numpy's memcpy on one thread and on one thread per core. The best is the roofline:
    memcpy's streaming stores often beat TVM's parallel loop, and a roofline must not be
    flattered by a slow copy."""
    results = {"tvm parallel copy": _tvm_copy_bandwidth(nbytes, target, repeat)}
    a = np.ones(nbytes // 4, "float32")
    b = np.empty_like(a)
    results["numpy memcpy, 1 thread"] = 2 * nbytes / median_seconds(
        lambda: np.copyto(b, a), repeat=repeat)
    cores = num_cores()
    bounds = [k * len(a) // cores for k in range(cores + 1)]
    parts = [(b[lo:hi], a[lo:hi]) for lo, hi in zip(bounds, bounds[1:])]
    with ThreadPoolExecutor(cores) as pool:
        results[f"numpy memcpy, {cores} threads"] = 2 * nbytes / median_seconds(
            lambda: list(pool.map(lambda p: np.copyto(*p), parts)), repeat=repeat)
    method = max(results, key=results.get)
    return results[method], method


def _tvm_copy_bandwidth(nbytes: int, target, repeat: int) -> float:
    n = nbytes // 4
    src = te.placeholder((n,), "float32", name="src")
    dst = te.compute((n,), lambda i: src[i], name="dst")
    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": te.create_prim_func([src, dst])}))
    (loop,) = sch.get_loops(sch.get_sblock("dst"))
    outer, inner = sch.split(loop, [None, 64])
    sch.parallel(outer)
    _, vec = sch.split(inner, [None, 8])
    sch.vectorize(vec)
    fn = tvm.compile(sch.mod, target=target)["main"]
    a = tvm.runtime.tensor(np.ones(n, "float32"))
    b = tvm.runtime.empty((n,), "float32")
    seconds = median_seconds(lambda: fn(a, b), repeat=repeat)
    return 2 * n * 4 / seconds


CONTESTANTS = ("fused", "tvmf call", "unfused", "numpy", "ort", "relax", "torch",
               "torch.compile")


def measure(name: str, bandwidth: float, target, repeat: int, notes: list[str]) -> list[dict]:
    """The workload's row; for P4 also its ``donated`` row, timed in the same rounds."""
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    fused = tf.compile(graph, target=target)
    unfused = tf.compile(graph, target=target, fuse=False)
    for label, fn in (("fused", fused), ("unfused", unfused)):
        check(name, fn(**arrays)[0], expected, label)
    calls = {"tvmf call": lambda: fused(**arrays),
             # materialised like every other contestant's output (a transpose is a view)
             "numpy": lambda: np.ascontiguousarray(workloads.reference(name, arrays)),
             "ort": onnxruntime_call(name, arrays, expected),
             "relax": relax_call(name, arrays, expected, target),
             **torch_calls(name, arrays, expected)}
    samplers = {"fused": lambda: fused.benchmark(**arrays, repeat=10),
                "unfused": lambda: unfused.benchmark(**arrays, repeat=10)}
    samplers |= {label: call_sampler(call) for label, call in calls.items() if call is not None}
    donated = donated_samplers(name, graph, arrays, expected, target, notes)
    seconds = interleaved_medians(samplers | (donated[1] if donated else {}), repeat)
    groups = analyze(graph, cores=num_cores()).groups
    ddr_fused = sum(g.ddr_fused for g in groups)
    rows = [{"name": name, **{label: seconds.get(label) for label in CONTESTANTS},
             "roofline": ddr_fused / bandwidth,
             "predicted": sum(g.ddr_unfused for g in groups) / ddr_fused,
             "template": "+".join(fused.schedules)}]
    if donated:
        template, _, cache = donated
        check(name, cache, expected, "donated, after timing")  # the output is the cache itself
        # in place, the minimum traffic is k and positions read and the rows they address written
        in_place_bytes = 2 * arrays["k"].nbytes + arrays["positions"].nbytes
        rows.append({**dict.fromkeys(CONTESTANTS), "name": f"{name} donated",
                     "fused": seconds["donated fused"], "tvmf call": seconds["donated call"],
                     "roofline": in_place_bytes / bandwidth, "predicted": None,
                     "template": template})
    return rows


def donated_samplers(name: str, graph, arrays, expected, target, notes: list[str]):
    """For P4: ``(schedule, samplers, cache)`` of ``compile(graph, donate=["cache"])``, kernel
    time and call; every call gets the same ``cache`` array, rewritten in place with the same
    values as a decoder does, so the result stays the expected one. ``None`` for the other
    workloads, and with a note when this ``compile`` takes no ``donate`` or the row fails."""
    if not name.startswith("P4"):
        return None
    if "donate" not in inspect.signature(tf.compile).parameters:
        return _note(notes, f"{name} donated: skipped, this tvm_fusion.compile takes no `donate`")
    try:
        donated = tf.compile(graph, target=target, donate=["cache"])
        call_arrays = {**arrays, "cache": arrays["cache"].copy()}
        check(name, donated(**call_arrays)[0], expected, "donated")
    except Exception as error:  # noqa: BLE001 - a failing row is reported, the run goes on
        return _note(notes, f"{name} donated: failed: {type(error).__name__}: {error}")
    return "+".join(donated.schedules), {
        "donated fused": lambda: donated.benchmark(**call_arrays, repeat=10),
        "donated call": call_sampler(lambda: donated(**call_arrays))}, call_arrays["cache"]


def _note(notes: list[str], text: str) -> None:
    notes.append(text)
    print(f"  {text}", file=sys.stderr)


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.3f}" if seconds >= 1e-5 else f"{seconds * 1e3:.4f}"


def _ratio(a: float | None, b: float | None, percent: bool = False) -> str:
    if a is None or b is None:
        return "-"
    return f"{a / b:.0%}" if percent else f"{a / b:.2f}x"


def format_rows(rows: list[dict], bandwidths: dict, notes: list[str]) -> str:
    header = ["workload", "template", "fused ms", "tvmf call ms", "unfused ms", "numpy ms",
              "ort ms", "relax ms", "torch ms", "torch.compile ms", "roofline ms",
              "unfused/fused", "predicted", "achieved/predicted", "numpy/fused", "ort/fused",
              "relax/fused", "torch/call", "torch.compile/call", "% roofline"]
    cells = []
    for r in rows:
        speedup = None if r["unfused"] is None else r["unfused"] / r["fused"]
        cells.append([
            r["name"], r["template"], *(_ms(r[label]) for label in CONTESTANTS),
            _ms(r["roofline"]), _ratio(speedup, 1), _ratio(r["predicted"], 1),
            _ratio(speedup, r["predicted"], percent=True), _ratio(r["numpy"], r["fused"]),
            _ratio(r["ort"], r["fused"]), _ratio(r["relax"], r["fused"]),
            _ratio(r["torch"], r["tvmf call"]), _ratio(r["torch.compile"], r["tvmf call"]),
            _ratio(r["roofline"], r["fused"], percent=True)])
    lines = [markdown_table(header, cells, left=2), ""]
    lines += [f"roofline bandwidth measured in this run, {LEVEL[k]} ({COPY_BYTES[k] >> 10} KiB "
              f"arrays): {v / 1e9:.1f} GB/s (best copy: {how})"
              for k, (v, how) in bandwidths.items()]
    lines.append("outputs: fused and unfused (kernel time) write preallocated buffers; tvmf "
                 "call copies inputs in and the output out; numpy, ort, relax, torch and "
                 "torch.compile allocate their output on every call")
    return "\n".join(lines + notes)


def workload_names(selection: str, sizes: list[str]) -> list[str]:
    """``W``, ``P`` (families) or names like ``P1``, comma-separated, in every size."""
    families = []
    for item in selection.split(","):
        item = item.strip()
        families += {"W": workloads.BASE, "P": workloads.PATTERNS}.get(item, (item,))
    names = [family + size for size in sizes for family in families]
    unknown = [n for n in names if n not in workloads.WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workloads {', '.join(unknown)}; give W, P, W1..W5 or P1..P5")
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="s,base,l",
                        help="comma-separated: s, base, l (default: all three)")
    parser.add_argument("--workloads", default="W,P",
                        help="comma-separated families (W, P) or names (P1,P4); default W,P")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fusion.md"))
    args = parser.parse_args(argv)
    sizes = ["" if s == "base" else s for s in args.sizes.split(",")]
    names = workload_names(args.workloads, sizes)
    target = host_target()
    start = time.time()
    bandwidths = {size: copy_bandwidth(COPY_BYTES[size], target, args.repeat) for size in sizes}
    rows, notes = [], []
    for name in names:
        print(f"  {name} ...", file=sys.stderr, flush=True)
        rows += measure(name, bandwidths[name[2:]][0], target, args.repeat, notes)
    table = format_rows(rows, bandwidths, notes)
    header = (f"# Fusion benchmark\n\nCPU {cpu_name()}, {num_cores()} cores; target {target}; "
              f"medians of {args.repeat} interleaved rounds; run took "
              f"{time.time() - start:.0f} s.\n\n")
    print(header + table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + table + "\n")
    print(f"\nwritten to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

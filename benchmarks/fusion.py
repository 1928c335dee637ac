"""Fused versus unfused, numpy, onnxruntime and the roofline, for W1..W5 in all three sizes.

Every number comes from this one run, measured side by side (medians of repeats):

- fused: ``tvm_fusion.compile(graph)`` (one kernel per group, template default schedule);
- unfused: ``compile(graph, fuse=False)``: our own per-op kernels, end to end;
- numpy: the workload's numpy (``workloads.reference``);
- onnxruntime: the same graph exported to ONNX (``workloads.to_onnx``), CPU provider with one
  intra-op thread per core;
- relax: TVM Relax's own pipeline on that same ONNX graph (``relax.frontend.onnx.from_onnx``,
  default ``tvm.compile``: it fuses little and schedules nothing on CPU);
- roofline: the minimum traffic (every input read once, the output written once; a scatter's
  untouched rows copied) divided by the bandwidth of the memory level the data lives in,
  measured now with a multi-threaded vectorised TVM copy: 256 MiB arrays for the ``l`` forms
  (DRAM), 8 MiB for the base forms (L3), 512 KiB for the ``s`` forms (L2);
- predicted: the split analysis' DDR-bytes ratio unfused / fused.

TVM kernels are timed with inputs already in memory (``CompiledGraph.benchmark``); numpy and
onnxruntime are timed on their usual call. Usage::

    python benchmarks/fusion.py [--sizes base,s,l] [--repeat 15] [--out benchmarks/results/fusion.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tvm
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


def onnxruntime_seconds(name: str, arrays, repeat: int) -> float | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_cores()
    options.log_severity_level = 3
    session = ort.InferenceSession(workloads.to_onnx(name).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return median_seconds(lambda: session.run(None, arrays), repeat=repeat)


def relax_seconds(name: str, arrays, target, repeat: int) -> float:
    """TVM Relax's own pipeline on the same ONNX graph (default build, no schedules)."""
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    executable = tvm.compile(from_onnx(workloads.to_onnx(name), keep_params_in_input=False),
                             target=target)
    vm = relax.VirtualMachine(executable, tvm.cpu())
    args = [tvm.runtime.tensor(arrays[k]) for k in workloads.get(name).shapes]
    result = vm["main"](*args)
    out = result.numpy() if hasattr(result, "numpy") else result[0].numpy()
    np.testing.assert_allclose(out, workloads.reference(name, arrays), rtol=1e-2, atol=5e-2)
    return median_seconds(lambda: vm["main"](*args), repeat=repeat)


def measure(name: str, bandwidth: float, target, repeat: int) -> dict:
    graph, arrays = workloads.load(name)
    fused = tf.compile(graph, target=target)
    unfused = tf.compile(graph, target=target, fuse=False)
    expected = workloads.reference(name, arrays)
    for fn in (fused, unfused):
        np.testing.assert_allclose(fn(**arrays)[0], expected, rtol=1e-3, atol=1e-2)
    (group,) = analyze(graph, cores=num_cores()).groups
    row = {
        "name": name,
        "fused": fused.benchmark(**arrays, repeat=repeat),
        "unfused": unfused.benchmark(**arrays, repeat=repeat),
        "numpy": median_seconds(lambda: workloads.reference(name, arrays), repeat=repeat),
        "ort": onnxruntime_seconds(name, arrays, repeat),
        "relax": relax_seconds(name, arrays, target, repeat),
        "roofline": group.ddr_fused / bandwidth,
        "predicted": group.bytes_ratio,
        "template": fused.schedules[0],
    }
    del graph, arrays, fused, unfused
    return row


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def format_rows(rows: list[dict], bandwidths: dict) -> str:
    header = ["workload", "template", "fused ms", "unfused ms", "numpy ms", "ort ms",
              "relax ms", "roofline ms", "unfused/fused", "predicted", "achieved/predicted",
              "numpy/fused", "ort/fused", "relax/fused", "% roofline"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        speedup = r["unfused"] / r["fused"]
        cells = [r["name"], r["template"], _ms(r["fused"]), _ms(r["unfused"]), _ms(r["numpy"]),
                 _ms(r["ort"]), _ms(r["relax"]), _ms(r["roofline"]), f"{speedup:.2f}x",
                 f"{r['predicted']:.2f}x", f"{speedup / r['predicted']:.0%}",
                 f"{r['numpy'] / r['fused']:.2f}x",
                 "-" if r["ort"] is None else f"{r['ort'] / r['fused']:.2f}x",
                 f"{r['relax'] / r['fused']:.2f}x", f"{r['roofline'] / r['fused']:.0%}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"roofline bandwidth measured in this run, {LEVEL[k]} ({COPY_BYTES[k] >> 10} KiB "
              f"arrays): {v / 1e9:.1f} GB/s (best copy: {how})"
              for k, (v, how) in bandwidths.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="s,base,l",
                        help="comma-separated: s, base, l (default: all three)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fusion.md"))
    args = parser.parse_args(argv)
    sizes = ["" if s == "base" else s for s in args.sizes.split(",")]
    target = host_target()
    start = time.time()
    bandwidths = {size: copy_bandwidth(COPY_BYTES[size], target, args.repeat) for size in sizes}
    rows = []
    for size in sizes:
        for family in workloads.BASE:
            name = family + size
            print(f"  {name} ...", file=sys.stderr, flush=True)
            rows.append(measure(name, bandwidths[size][0], target, args.repeat))
    table = format_rows(rows, bandwidths)
    header = (f"# Fusion benchmark\n\n{target}, {num_cores()} cores; medians of {args.repeat} "
              f"repeats; run took {time.time() - start:.0f} s.\n\n")
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + table + "\n")
    print(f"\nwritten to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak resident memory of running W5 and W5l fused vs unfused, and of compiling W5.

Every measurement runs in a fresh process (``python benchmarks/memory.py --child ...``):

- run: the workload's inputs are made and TVM's runtime library loaded, then the baseline is
  taken (resident set now; the high-water mark reset to it through ``/proc/self/clear_refs``);
  the compiled graph (exported beforehand by this script, ``tvm_fusion.export``, and loaded
  with ``tvm_fusion.load``: the same executor and kernels as ``tvm_fusion.compile``'s result,
  without the compiler's own memory in the process) is loaded and called ``--calls`` times,
  each call's outputs dropped before the next; the peak is the high-water mark (``VmHWM``)
  minus the baseline. What the compiled graph allocates: its intermediates (once, at load:
  the buffers between kernels, none when fused) and each call's outputs.
- compile: after importing the compiler and building the graph, the peak over the baseline
  during ``tvm_fusion.compile(graph)`` (fused, and ``fuse=False``).

Usage::

    python benchmarks/memory.py [--calls 5] [--runs W5 W5l] [--compiles W5]
                                [--out benchmarks/results/memory.md]

Run it under the CPU lock on a shared machine (``flock /tmp/tvmf-cpu.lock ...``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1 << 20
RUNS = ("W5", "W5l")
COMPILES = ("W5",)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _baseline() -> int:
    """Resident bytes now, with the high-water mark reset to them (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024


def _peak_over(baseline: int) -> int:
    return _status_kib("VmHWM") * 1024 - baseline


def _nbytes(t) -> int:
    import numpy as np

    n = np.dtype(t.dtype).itemsize
    for extent in t.shape:
        n *= extent
    return n


def child_run(name: str, stem: str, calls: int) -> dict:
    import gc

    from tvm_fusion import workloads
    from tvm_fusion.runtime.load import _load_runtime, load

    _, arrays = workloads.load(name)
    _load_runtime()
    gc.collect()
    baseline = _baseline()
    module = load(stem + ".so")
    outputs_bytes = 0
    for _ in range(calls):
        outputs = module(**arrays)
        outputs_bytes = sum(o.nbytes for o in outputs)
        del outputs
    produced = {n for k in module.kernels for n in k.outputs}
    graph = module.graph
    intermediates = sum(_nbytes(graph.tensors[n]) for n in produced
                        if n not in {t.name for t in graph.outputs})
    return {"peak": _peak_over(baseline), "baseline": baseline, "kernels": module.num_kernels,
            "inputs": sum(a.nbytes for a in arrays.values()), "outputs": outputs_bytes,
            "intermediates": intermediates}


def child_compile(name: str, fuse: bool) -> dict:
    import gc

    import tvm_fusion as tf
    import tvm_fusion.build
    import tvm_fusion.compiler  # the compiler's imports before the baseline
    from tvm_fusion import workloads

    graph, _ = workloads.load(name)
    gc.collect()
    baseline = _baseline()
    start = time.perf_counter()
    fn = tf.compile(graph, fuse=fuse)
    return {"peak": _peak_over(baseline), "baseline": baseline, "kernels": fn.num_kernels,
            "seconds": time.perf_counter() - start}


def _child(*args: str) -> dict:
    run = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, check=False, timeout=1800)
    if run.returncode != 0:
        raise RuntimeError(f"memory child {args} failed ({run.returncode}):\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _mib(n: int) -> str:
    return f"{n / MIB:.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), help="workloads to run")
    parser.add_argument("--compiles", nargs="+", default=list(COMPILES),
                        help="workloads to compile")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "memory.md"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        result = (child_run(rest[0], rest[1], int(rest[2])) if kind == "run"
                  else child_compile(rest[0], rest[1] == "fused"))
        print(json.dumps(result))
        return 0

    import tvm_fusion as tf
    from tvm_fusion import workloads
    from tvm_fusion.bench.report import cpu_name, markdown_table

    rows = []
    with tempfile.TemporaryDirectory(prefix="tvmf-memory-") as folder:
        for name in args.runs:
            graph, _ = workloads.load(name)
            for path, fuse in (("fused", True), ("unfused", False)):
                stem = str(Path(folder) / f"{name}-{path}")
                print(f"{name} {path}: compiling and exporting", file=sys.stderr, flush=True)
                tf.export(tf.compile(graph, fuse=fuse), stem, repeat=1)
                r = _child("run", name, stem, str(args.calls))
                rows.append([name, f"run {path}", str(r["kernels"]), _mib(r["inputs"]),
                             _mib(r["outputs"]), _mib(r["intermediates"]), _mib(r["peak"]),
                             _mib(r["baseline"])])
                print(f"  {rows[-1]}", file=sys.stderr, flush=True)
        for name in args.compiles:
            for path in ("fused", "unfused"):
                r = _child("compile", name, path)
                rows.append([name, f"compile {path} ({r['seconds']:.1f} s)", str(r["kernels"]),
                             "-", "-", "-", _mib(r["peak"]), _mib(r["baseline"])])
                print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    header = ["workload", "measured", "kernels", "inputs MiB", "outputs MiB",
              "intermediates MiB", "peak RSS over baseline MiB", "baseline MiB"]
    text = "\n".join([
        "# Peak resident memory: fused vs unfused, and compiling",
        "",
        (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {cpu_name()}, "
        f"`python benchmarks/memory.py --calls {args.calls}`: each row a fresh process; "
        "baseline = resident set after imports, inputs and TVM's runtime library (run) or "
        "after imports and the graph (compile); peak = the high-water mark (`VmHWM`) over it. "
        "A run row loads the exported graph and calls it; inputs are not in the peak, each "
        "call's outputs and the compiled graph's intermediates (allocated once) are."),
        "",
        markdown_table(header, rows, left=2),
        "",
    ])
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

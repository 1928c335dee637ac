"""The roofline: minimum traffic over the bandwidth of the memory level the data lives in.

Minimum traffic (``analyze(...).groups[*].ddr_fused``): every input read once, the output
written once (a scatter's untouched rows copied). Bandwidth: the best of three copies measured
in this run on arrays sized for the level: 256 MiB for the ``l`` forms (DRAM), 8 MiB for the
base forms (L3), 512 KiB for the ``s`` forms (L2).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tvm
from tvm import te

from ..analysis import analyze
from ..settings import num_cores
from ..timing import median_seconds

COPY_BYTES = {"l": 256 << 20, "": 8 << 20, "s": 512 << 10}  # by size suffix ("" = base)
LEVEL = {"l": "DRAM", "": "L3", "s": "L2"}


def size_of(name: str) -> str:
    """The size suffix of a workload name: ``"s"``, ``"l"`` or ``""`` (base)."""
    return name[2:]


def copy_bandwidth(nbytes: int, target, repeat: int) -> tuple[float, str]:
    """``(bytes/s, method)``: the best (read + write counted) of a parallel vectorised TVM
    copy, numpy's memcpy on one thread and on one thread per core. A roofline must not be
    flattered by a slow copy: memcpy's streaming stores often beat TVM's parallel loop."""
    results = {"tvm parallel copy": _tvm_copy_bandwidth(nbytes, target, repeat)}
    a = np.ones(nbytes // 4, "float32")
    b = np.empty_like(a)
    results["numpy memcpy, 1 thread"] = 2 * nbytes / median_seconds(
        lambda: np.copyto(b, a), repeat=repeat)
    cores = num_cores()
    bounds = [k * len(a) // cores for k in range(cores + 1)]
    parts = [(b[lo:hi], a[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
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
    return 2 * n * 4 / median_seconds(lambda: fn(a, b), repeat=repeat)


def traffic(graph) -> tuple[int, float]:
    """``(minimum bytes fused, predicted ratio unfused / fused DDR bytes)`` from the split
    analysis."""
    groups = analyze(graph, cores=num_cores()).groups
    fused = sum(g.ddr_fused for g in groups)
    return fused, sum(g.ddr_unfused for g in groups) / fused


def donated_bytes(arrays: dict[str, np.ndarray]) -> int:
    """P4 in place: ``k`` and ``positions`` read, the cache rows they address written."""
    return 2 * arrays["k"].nbytes + arrays["positions"].nbytes

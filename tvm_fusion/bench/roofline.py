"""The roofline: minimum traffic over the bandwidth of the memory level the data lives in.

Minimum traffic (``analyze(...).groups[*].ddr_fused``): every input read once, the output
written once (a scatter's untouched rows copied). Bandwidth: the best of three copies on arrays
sized for the level, 256 MiB for the ``l`` forms (DRAM), 8 MiB for the base forms (L3), 512 KiB
for the ``s`` forms (L2), chosen at the start of the run and then timed in every round of every
workload beside its contestants (the median of those rounds is the workload's bandwidth).
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


def level_of(nbytes: int) -> str:
    """The size suffix whose memory level holds ``nbytes`` of traffic: L2 (2 cores x 1 MiB
    here) up to 2 MiB, L3 up to 32 MiB, else DRAM; for rows whose traffic is not their
    workload's size (P4 donated moves a few rows of a large cache)."""
    return "s" if nbytes <= 2 << 20 else "" if nbytes <= 32 << 20 else "l"


class Copy:
    """Copies of ``nbytes`` (read + write counted) by three methods: a parallel vectorised TVM
    copy, numpy's memcpy on one thread and on one thread per core. ``measure`` picks the best
    (a roofline must not be flattered by a slow copy: memcpy's streaming stores often beat
    TVM's parallel loop); ``best`` is then one more contestant of every round, so the roofline
    shares the machine's state with the kernels measured against it."""

    def __init__(self, nbytes: int, target) -> None:
        self.nbytes = nbytes
        a = np.ones(nbytes // 4, "float32")
        b = np.empty_like(a)
        cores = num_cores()
        bounds = [k * len(a) // cores for k in range(cores + 1)]
        parts = [(b[lo:hi], a[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
        self._pool = ThreadPoolExecutor(cores)  # idle between copies (blocked on its queue)
        self.runs = {"tvm parallel copy": _tvm_copy(a, b, target),
                     "numpy memcpy, 1 thread": lambda: np.copyto(b, a),
                     f"numpy memcpy, {cores} threads":
                         lambda: list(self._pool.map(lambda p: np.copyto(*p), parts))}
        self.method = ""
        self.bandwidth = 0.0

    def measure(self, repeat: int) -> tuple[float, str]:
        """``(bytes/s, method)`` of the best method, each timed ``repeat`` times."""
        results = {method: 2 * self.nbytes / median_seconds(run, repeat=repeat)
                   for method, run in self.runs.items()}
        self.method = max(results, key=results.get)
        self.bandwidth = results[self.method]
        return self.bandwidth, self.method

    def best(self):
        return self.runs[self.method]


def _tvm_copy(a: np.ndarray, b: np.ndarray, target):
    n = a.size
    src = te.placeholder((n,), "float32", name="src")
    dst = te.compute((n,), lambda i: src[i], name="dst")
    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": te.create_prim_func([src, dst])}))
    (loop,) = sch.get_loops(sch.get_sblock("dst"))
    outer, inner = sch.split(loop, [None, 64])
    sch.parallel(outer)
    _, vec = sch.split(inner, [None, 8])
    sch.vectorize(vec)
    fn = tvm.compile(sch.mod, target=target)["main"]
    src_tensor, dst_tensor = tvm.runtime.tensor(a), tvm.runtime.tensor(b)
    return lambda: fn(src_tensor, dst_tensor)


def traffic(graph) -> tuple[int, float]:
    """``(minimum bytes fused, predicted ratio unfused / fused DDR bytes)`` from the split
    analysis."""
    groups = analyze(graph, cores=num_cores()).groups
    fused = sum(g.ddr_fused for g in groups)
    return fused, sum(g.ddr_unfused for g in groups) / fused


def donated_bytes(arrays: dict[str, np.ndarray]) -> int:
    """P4 in place: ``k`` and ``positions`` read, the cache rows they address written."""
    return 2 * arrays["k"].nbytes + arrays["positions"].nbytes

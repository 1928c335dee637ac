"""The roofline: minimum bytes read and written over the read and write bandwidths of the
memory level the data lives in.

Minimum traffic (per fused group, as the analysis' ``ddr_fused``, split by direction): every
group input read once, every group output written once (a scatter's output written in full:
its untouched rows are copied); P4 donated: ``k`` and ``positions`` read, the cache rows they
address written. ``read + written == ddr_fused``.

Bandwidths, per memory level (arrays of 256 MiB for the ``l`` forms (DRAM), 8 MiB for the base
forms (L3), 512 KiB for the ``s`` forms (L2)): a read (the best of a TVM parallel vectorised
sum with 128 independent accumulators per core, and numpy's ``sum`` on 1 and on one thread per
core), a write (the best of a TVM parallel vectorised fill, numpy's ``fill`` and ``memset`` on
1 and on one thread per core) and, as a reference, a copy (a TVM parallel copy, numpy's memcpy
on 1 and on one thread per core; read + write counted). The best method of each is chosen at
the start of the run (all methods in the same interleaved rounds) and then timed in every
round of every workload beside its contestants (the median of those rounds is the workload's
bandwidth).

Time model: ``roofline = max(read / read bandwidth, written / write bandwidth)``, reads and
writes overlapped. Chosen by measurement (``benchmarks/roofline_model.py``, rocketlake, 2
cores, 2026-12-01; % of each model's time, above 100 % = not a bound):

- the best copy: 100-136 % of the sum at L2, 75-120 % at L3, 112-114 % at DRAM (three runs),
  50-90 %, 38-72 % and 68-69 % of the maximum;
- tvm-fusion's default kernels of W1, W3, W5, P1, P2, P4 at every size: above the sum on P4
  (102 %), P2l (104 %), P4l (119 %), W1l (142 %); at most 99 % (W1) of the maximum, except
  W1l: 138 %.

The sum is beaten by the copy itself, the maximum only by W1l: its 128 MiB read runs at
~41 GB/s where every read probe on 256 MiB reaches ~29-35 GB/s (the VM's memory is not a plain
DRAM: its reported L3 is 480 MiB). The report lists every row above 100 %.
The TVM probes are bound in place to 64-byte aligned numpy arrays (DLPack), as the kernels'
inputs are: copied into TVM's own allocation they read ~30 % slower from DRAM here.
"""

from __future__ import annotations

import ctypes
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import tvm
from tvm import te

from ..analysis import analyze
from ..runtime.memory import empty
from ..settings import num_cores
from .timing import call_sampler, interleaved_medians

PROBE_BYTES = {"l": 256 << 20, "": 8 << 20, "s": 512 << 10}  # by size suffix ("" = base)
COPY_BYTES = PROBE_BYTES  # the name the copy-only roofline used
LEVEL = {"l": "DRAM", "": "L3", "s": "L2"}
MODEL = ("max(bytes read / read bandwidth, bytes written / write bandwidth): reads and "
         "writes overlap (the sum read/Br + written/Bw is beaten by a plain copy)")
LANES, ROWS = 16, 8  # the read probe's accumulators per core: ROWS x LANES floats (16 ymm)


def size_of(name: str) -> str:
    """The size suffix of a workload name: ``"s"``, ``"l"`` or ``""`` (base)."""
    return name[2:]


def level_of(nbytes: int) -> str:
    """The size suffix whose memory level holds ``nbytes`` of traffic: L2 (2 cores x 1 MiB
    here) up to 2 MiB, L3 up to 32 MiB, else DRAM; for rows whose traffic is not their
    workload's size (P4 donated moves a few rows of a large cache)."""
    return "s" if nbytes <= 2 << 20 else "" if nbytes <= 32 << 20 else "l"


@dataclass(frozen=True)
class Traffic:
    """Minimum bytes a workload reads and writes."""

    read: int
    written: int

    @property
    def total(self) -> int:
        return self.read + self.written


def roofline_seconds(traffic: Traffic, read_bandwidth: float, write_bandwidth: float) -> float:
    """The time model of :data:`MODEL`: reads and writes overlapped, the slower side bounds."""
    return max(traffic.read / read_bandwidth, traffic.written / write_bandwidth)


def traffic(graph) -> tuple[Traffic, float]:
    """``(minimum traffic fused, predicted ratio unfused / fused DDR bytes)``: per group of
    the split analysis, its inputs read once and its outputs written once."""
    groups = analyze(graph, cores=num_cores()).groups
    read = sum(t.nbytes for g in groups for t in g.group.inputs)
    written = sum(t.nbytes for g in groups for t in g.group.outputs)
    fused = sum(g.ddr_fused for g in groups)
    assert read + written == fused, (read, written, fused)
    return Traffic(read, written), sum(g.ddr_unfused for g in groups) / fused


def donated_traffic(arrays: dict[str, np.ndarray]) -> Traffic:
    """P4 in place: ``k`` and ``positions`` read, the cache rows they address written."""
    return Traffic(arrays["k"].nbytes + arrays["positions"].nbytes, arrays["k"].nbytes)


def donated_bytes(arrays: dict[str, np.ndarray]) -> int:
    return donated_traffic(arrays).total


class Probe:
    """Ways to move ``moved`` bytes in one direction (or both, for the copy); ``measure``
    picks the best (a roofline must not be flattered by a slow method); ``best`` is then one
    more contestant of every round, so the roofline shares the machine's state with the
    kernels measured against it."""

    def __init__(self, kind: str, moved: int, runs: dict) -> None:
        self.kind, self.moved, self.runs = kind, moved, runs
        self.method = ""
        self.bandwidth = 0.0

    def choose(self, bandwidths: dict[str, float]) -> None:
        """Keep the method of the highest bandwidth (bytes/s by method)."""
        self.method = max(bandwidths, key=bandwidths.get)
        self.bandwidth = bandwidths[self.method]

    def best(self):
        return self.runs[self.method]


class Level:
    """The read, write and copy probes of one memory level, on arrays of ``nbytes``."""

    def __init__(self, nbytes: int, target) -> None:
        self.nbytes = nbytes
        cores = num_cores()
        self._pool = ThreadPoolExecutor(cores)  # idle between calls (blocked on its queue)
        a, b = empty((nbytes // 4,), "float32"), empty((nbytes // 4,), "float32")
        a.fill(1.0)
        b.fill(1.0)
        halves = _parts(a, cores), _parts(b, cores)

        def each(work, parts):
            return lambda: list(self._pool.map(work, parts))

        threads = f"{cores} threads"
        self.read = Probe("read", nbytes, {
            "tvm parallel sum": _tvm_sum(a, target, cores),
            "numpy sum, 1 thread": a.sum,
            f"numpy sum, {threads}": each(np.sum, halves[0])})
        self.write = Probe("write", nbytes, {
            "tvm parallel fill": _tvm_fill(b, target),
            "numpy fill, 1 thread": lambda: b.fill(0.0),
            f"numpy fill, {threads}": each(lambda part: part.fill(0.0), halves[1]),
            "memset, 1 thread": lambda: ctypes.memset(b.ctypes.data, 0, b.nbytes),
            f"memset, {threads}": each(
                lambda part: ctypes.memset(part.ctypes.data, 0, part.nbytes), halves[1])})
        self.copy = Probe("copy", 2 * nbytes, {
            "tvm parallel copy": _tvm_copy(a, b, target),
            "numpy memcpy, 1 thread": lambda: np.copyto(b, a),
            f"numpy memcpy, {threads}": each(lambda p: np.copyto(*p), list(zip(*halves[::-1])))})
        self.probes = (self.read, self.write, self.copy)

    def measure(self, repeat: int) -> None:
        """Every method of every probe in the same ``repeat`` interleaved rounds, then each
        probe's best: timed one after the other, a slow phase of the machine (or a cold thread
        pool) hitting only the first method chose a slower one (measured: numpy's fill at
        28 GB/s over the 57 GB/s TVM fill)."""
        samplers = {(probe.kind, method): call_sampler(run)
                    for probe in self.probes for method, run in probe.runs.items()}
        timings = interleaved_medians(samplers, repeat)
        for probe in self.probes:
            probe.choose({method: probe.moved / timings[probe.kind, method].median
                          for method in probe.runs})


def _parts(array: np.ndarray, cores: int) -> list[np.ndarray]:
    bounds = [k * len(array) // cores for k in range(cores + 1)]
    return [array[lo:hi] for lo, hi in itertools.pairwise(bounds)]


def _compiled(sch, target, *arrays):
    # bound in place (DLPack), as the kernels' inputs are: a copy into TVM's own allocation
    # read ~30 % slower from DRAM here (measured: 24 vs 35 GB/s), and the bound must not be
    fn = tvm.compile(sch.mod, target=target)["main"]
    tensors = [tvm.runtime.from_dlpack(a) for a in arrays]
    return lambda: fn(*tensors)


def _tvm_sum(a: np.ndarray, target, cores: int):
    """``src (P, M, ROWS, LANES) -> (P, ROWS, LANES)`` summed over ``M``, ``P`` parallel: each
    core streams its contiguous part into ROWS x LANES accumulators kept in registers."""
    parts = cores * max(1, a.size // (cores * ROWS * LANES * 64))  # P: a multiple of cores
    length = a.size // (parts * ROWS * LANES)
    src = te.placeholder((parts, length, ROWS, LANES), "float32", name="src")
    m = te.reduce_axis((0, length), name="m")
    out = te.compute((parts, ROWS, LANES), lambda p, i, j: te.sum(src[p, m, i, j], axis=m),
                     name="out")
    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": te.create_prim_func([src, out])}))
    block = sch.get_sblock("out")
    local = sch.cache_write(block, 0, "local")
    p, i, j, r = sch.get_loops(block)
    sch.reorder(p, r, i, j)
    sch.reverse_compute_at(local, p)
    sch.parallel(p)
    sch.unroll(i)
    sch.vectorize(j)
    sch.decompose_reduction(block, r)  # last: the update alone is no longer a reduction block
    view = a[:parts * length * ROWS * LANES].reshape(parts, length, ROWS, LANES)
    return _compiled(sch, target, view, empty((parts, ROWS, LANES), "float32"))


def _tvm_fill(b: np.ndarray, target):
    dst = te.compute((b.size,), lambda i: tvm.tirx.const(1.0, "float32"), name="dst")
    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": te.create_prim_func([dst])}))
    _parallel_vectorised(sch, "dst")
    return _compiled(sch, target, b)


def _tvm_copy(a: np.ndarray, b: np.ndarray, target):
    src = te.placeholder((a.size,), "float32", name="src")
    dst = te.compute((a.size,), lambda i: src[i], name="dst")
    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": te.create_prim_func([src, dst])}))
    _parallel_vectorised(sch, "dst")
    return _compiled(sch, target, a, b)


def _parallel_vectorised(sch, name: str) -> None:
    (loop,) = sch.get_loops(sch.get_sblock(name))
    outer, inner = sch.split(loop, [None, 64])
    sch.parallel(outer)
    _, vec = sch.split(inner, [None, 8])
    sch.vectorize(vec)

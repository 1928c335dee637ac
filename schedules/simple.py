"""The simple per-op schedule: parallel outer loop, vectorised inner loop, scalar remainder.

Strategy, block by block (each op of an unfused kernel is one or two blocks):

1. Spatial blocks (element-wise, cast, layout, scatter copy, reduction epilogues):
   - every operand read at the written position (no broadcast, no transpose): all loops are
     fused into one flat loop, whose whole vectors are split across the cores;
   - a transpose (the input's contiguous axis is not the output's innermost) whose read
     stride along the vector lanes is a multiple of 1 KiB or at least a page: the moved axis
     and the innermost axis are blocked into tiles (an unblocked power-of-two stride evicts
     every line before its reuse, a page-sized one every TLB entry);
   - otherwise: the outer loops fused and parallel, the innermost loop vectorised.
2. Reduction blocks: parallelise the fused spatial loops. When the innermost input axis is
   not reduced, move the reduce loops outside the innermost spatial loop and vectorise that
   loop (the vector lanes are spatial, so no cross-lane reduction is needed).
3. Scatter update blocks: move the axes that never meet an index outermost, parallelise and
   vectorise them; the index rows stay sequential inside, so duplicate indices combine in
   order. An update with no such axis (every data axis indexed) stays serial.

Every vector loop covers only whole vectors: a loop whose extent is not a multiple of the
lane count is first partitioned (``loop_partition``) into the whole vectors and a scalar
remainder. A split with a predicate instead (``T.where`` under ``T.vectorized``) is lowered
to a scalar loop under an ``if``, which LLVM turns into gathers and scatters: 16x slower per
byte on znver4 for one odd-shaped ``add``.

Loop nests under ``analysis.MIN_PARALLEL_ELEMENTS`` iterations stay on one core: waking the
thread pool costs more than it saves.
"""

from __future__ import annotations

import math

import numpy as np
import tvm_ffi
from tvm import s_tir, tirx
from tvm_fusion.schedules.base import loops_by_kind, reads_innermost_reduced

from tvm_fusion.analysis import MIN_PARALLEL_ELEMENTS
from tvm_fusion.ops.scatter import UPDATE_ANNOTATION, parallel_iters_of_block

TRANSPOSE_TILE = 16  # rows of the moved axis per tile: 16 input lines stay in L1


def apply(sch: s_tir.Schedule, *, cores: int, vector_bytes: int) -> None:
    """Schedule every block of ``sch`` (a per-op PrimFunc) in place."""
    scan = s_tir.Schedule(sch.mod)  # names first: a partition replaces a block by copies
    names = [scan.get(b).name_hint for b in scan.get_child_blocks(scan.get_sblock("root"))]
    for name in names:
        block = sch.get_sblock(name)
        node = sch.get(block)
        if UPDATE_ANNOTATION in node.annotations:
            _scatter_update(sch, block, cores, vector_bytes)
        elif any(iv.iter_type == tirx.IterVar.CommReduce for iv in node.iter_vars):
            _reduction(sch, block, cores, vector_bytes)
        else:
            _spatial(sch, block, cores, vector_bytes)


def _lanes(node, vector_bytes: int) -> int:
    itemsize = np.dtype(str(node.writes[0].source.dtype)).itemsize
    return max(1, vector_bytes // itemsize)


def _extent(sch, loop) -> int:
    return int(sch.get(loop).extent)


def _whole_vectors(sch, loop, lanes: int):
    """(loop over whole vectors or None, scalar remainder loop or None).

    The remainder gets its own loop and block copy (``loop_partition``), so the vector loop
    has no predicate.
    """
    n = _extent(sch, loop)
    if n < lanes:
        return None, loop
    main = n - n % lanes
    if main == n:
        return loop, None
    body, rest = sch.loop_partition(loop, [main])
    return body, rest


def _vectorize(sch, loop, lanes: int, parallel: bool) -> None:
    """Vectorise ``loop`` in whole vectors (remainder scalar); parallel over the vectors."""
    body, rest = _whole_vectors(sch, loop, lanes)
    if body is None:
        if parallel and _extent(sch, rest) > 1:
            sch.parallel(rest)
        return
    outer, inner = sch.split(body, [None, lanes])
    if parallel and _extent(sch, outer) > 1:
        sch.parallel(outer)
    sch.vectorize(inner)


def _same_position(node) -> bool:
    """Every operand is read at exactly the position written (no broadcast, no transpose)."""
    write = node.writes[0].region
    return all(len(r.region) == len(write) and all(
        tvm_ffi.structural_equal(a.min, b.min) for a, b in zip(r.region, write))
        for r in node.reads)


def _moved_axis(node) -> int | None:
    """The iterator that walks some operand's contiguous axis, when it is not the innermost
    and blocking pays (see :func:`_blocking_pays`)."""
    iters = [iv.var for iv in node.iter_vars]
    for region in node.reads:
        if not len(region.region):
            continue
        used = tirx.analysis.undefined_vars(region.region[-1].min)
        found = [k for k, v in enumerate(iters) if any(v.same_as(u) for u in used)]
        if len(found) == 1 and found[0] != len(iters) - 1 and \
                int(node.iter_vars[found[0]].dom.extent) > 1 and _blocking_pays(region, iters[-1]):
            return found[0]
    return None


def _blocking_pays(region, lane) -> bool:
    """The operand's stride along the vector lanes maps its lines onto few cache sets (a
    multiple of 1 KiB) or puts every lane on another page (4 KiB and more).

    Measured here: an odd stride (251 floats) runs faster unblocked, a power-of-two stride
    (256 floats) 3x slower, and a 127 KiB stride faster blocked.
    """
    buffer = region.source
    shape = [int(d) for d in buffer.shape]
    dims = [d for d, r in enumerate(region.region)
            if any(lane.same_as(u) for u in tirx.analysis.undefined_vars(r.min))]
    if len(dims) != 1:
        return True
    stride = math.prod(shape[dims[0] + 1:]) * np.dtype(str(buffer.dtype)).itemsize
    return stride % 1024 == 0 or stride >= 4096


def _spatial(sch, block, cores, vector_bytes) -> None:
    loops = sch.get_loops(block)
    if not loops:
        return
    node = sch.get(block)
    size = math.prod(_extent(sch, loop) for loop in loops)
    parallel = cores > 1 and size >= MIN_PARALLEL_ELEMENTS
    lanes = _lanes(node, vector_bytes)
    # Phase 1a: every operand at the written position: one flat loop of whole vectors
    if len(loops) == 1 or _same_position(node):
        flat = sch.fuse(*loops) if len(loops) > 1 else loops[0]
        _vectorize(sch, flat, lanes, parallel)
        return
    # Phase 1b: a transpose: tiles of the moved axis by the innermost axis
    moved = _moved_axis(node) if len(loops) == len(node.iter_vars) else None
    if moved is not None and _extent(sch, loops[-1]) >= lanes:
        _blocked_transpose(sch, block, moved, lanes, parallel)
        return
    # Phase 1c: parallel outer loops, vectorised innermost loop
    outer = sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]
    if parallel and _extent(sch, outer) > 1:
        sch.parallel(outer)
    _vectorize(sch, loops[-1], lanes, False)


def _blocked_transpose(sch, block, moved: int, lanes: int, parallel: bool) -> None:
    """Tiles of ``TRANSPOSE_TILE`` moved rows by whole vectors of the innermost axis.

    The innermost axis is partitioned first (moved outermost, so each part owns its loops):
    the whole-vector part is tiled, the scalar remainder keeps the output's loop order.
    """
    loops = sch.get_loops(block)
    inner = loops[-1]
    sch.reorder(inner, *loops[:-1])
    body, rest = _whole_vectors(sch, inner, lanes)
    if rest is not None:  # the remainder columns, in output order: a few lines each side
        others = _loops_below(sch, rest)
        sch.reorder(*others, rest)
        if parallel and _extent(sch, others[0]) > 1:
            sch.parallel(others[0])
    others = _loops_below(sch, body)
    co, ci = sch.split(body, [None, lanes])
    mo, mi = sch.split(others[moved], [None, TRANSPOSE_TILE])
    outer = others[:moved] + others[moved + 1:]
    sch.reorder(*outer, mo, co, mi, ci)
    fused = sch.fuse(*outer, mo) if outer else mo
    if parallel and _extent(sch, fused) > 1:
        sch.parallel(fused)
    sch.vectorize(ci)


def _loops_below(sch, loop) -> list:
    """The loops between ``loop`` and the single block under it."""
    (child,) = sch.get_child_blocks(loop)
    loops = list(sch.get_loops(child))
    start = next(i for i, lp in enumerate(loops) if sch.get(lp).same_as(sch.get(loop)))
    return loops[start + 1:]


def _reduction(sch, block, cores, vector_bytes) -> None:
    node = sch.get(block)
    loops, spatial, reduce = loops_by_kind(sch, block)
    size = math.prod(_extent(sch, loop) for loop in loops)
    parallel = cores > 1 and size >= MIN_PARALLEL_ELEMENTS and spatial
    lanes = _lanes(node, vector_bytes)
    # Phase 2a: keep a contiguous spatial axis innermost when the reduction is not contiguous
    inner_spatial_contiguous = bool(spatial) and not reads_innermost_reduced(sch, block)
    if inner_spatial_contiguous and _extent(sch, spatial[-1]) >= lanes:
        sch.reorder(*spatial, *reduce)
        outer = spatial[:-1]
        fused = (sch.fuse(*outer) if len(outer) > 1 else outer[0]) if outer else None
        if fused is not None and parallel and _extent(sch, fused) > 1:
            sch.parallel(fused)
        body, rest = _whole_vectors(sch, spatial[-1], lanes)
        for part in (body, rest):
            if part is None:
                continue
            (part_block,) = sch.get_child_blocks(part)
            part_reduce = sch.get_loops(part_block)[-len(reduce):]
            sch.reorder(*part_reduce, part)
            if part is body:
                _, vec = sch.split(part, [None, lanes])
                sch.vectorize(vec)
            sch.decompose_reduction(part_block, part_reduce[0])
        return
    # Phase 2b: contiguous reduction: parallel over the spatial loops, serial reduce inside
    if spatial and parallel:
        fused = sch.fuse(*spatial) if len(spatial) > 1 else spatial[0]
        sch.parallel(fused)


def _scatter_update(sch, block, cores, vector_bytes) -> None:
    loops = sch.get_loops(block)
    safe = parallel_iters_of_block(sch.get(block))
    if not safe:
        return  # every data axis is indexed: keep the sequential ONNX order
    free = [loops[d] for d in safe]
    rows = [loop for d, loop in enumerate(loops) if d not in safe]
    sch.reorder(*free, *rows)
    size = math.prod(_extent(sch, loop) for loop in loops)
    parallel = cores > 1 and size >= MIN_PARALLEL_ELEMENTS
    lanes = _lanes(sch.get(block), vector_bytes)
    # the outer free axes fused (parallel when they feed every core), the innermost one in
    # whole vectors (a partition of a fused loop would not be affine: the split would fail)
    outer = (sch.fuse(*free[:-1]) if len(free) > 2 else free[0]) if len(free) > 1 else None
    outer_parallel = parallel and outer is not None and _extent(sch, outer) >= 4 * cores
    if outer_parallel:
        sch.parallel(outer)
    body, rest = _whole_vectors(sch, free[-1], lanes)
    if body is None:
        if parallel and not outer_parallel and _extent(sch, rest) > 1:
            sch.parallel(rest)
        return
    body_rows = _loops_below(sch, body)
    chunk, vec = sch.split(body, [None, lanes])
    if body_rows:
        sch.reorder(chunk, *body_rows, vec)
    if parallel and not outer_parallel and _extent(sch, chunk) > 1:
        sch.parallel(chunk)
    sch.vectorize(vec)

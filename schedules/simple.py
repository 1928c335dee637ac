"""The simple per-op schedule: parallel outer spatial axis, vectorised inner axis.

Strategy, block by block (each op of an unfused kernel is one or two blocks):

1. Spatial blocks (element-wise, cast, layout, scatter copy, reduction epilogues): fuse the
   outer loops into one parallel loop and split the innermost (contiguous) loop into vectors.
   Non-divisible extents keep a predicate on the tail.
2. Reduction blocks: parallelise the fused spatial loops. When the innermost input axis is
   not reduced, move the reduce loops outside the innermost spatial loop and vectorise that
   loop (the vector lanes are spatial, so no cross-lane reduction is needed).
3. Scatter update blocks: move the axes that never meet an index outermost, parallelise and
   vectorise them; the index rows stay sequential inside, so duplicate indices combine in
   order. An update with no such axis (every data axis indexed) stays serial.

Loop nests under ``analysis.MIN_PARALLEL_ELEMENTS`` iterations stay on one core: waking the
thread pool costs more than it saves.
"""

from __future__ import annotations

import math

import numpy as np
from tvm import s_tir, tirx

from tvm_fusion.analysis import MIN_PARALLEL_ELEMENTS
from tvm_fusion.ops.scatter import UPDATE_ANNOTATION, parallel_iters_of_block
from tvm_fusion.schedules.base import loops_by_kind, reads_innermost_reduced



def apply(sch: s_tir.Schedule, *, cores: int, vector_bytes: int) -> None:
    """Schedule every block of ``sch`` (a per-op PrimFunc) in place."""
    root = sch.get_sblock("root")
    for block in sch.get_child_blocks(root):
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


def _split_vector(sch, loop, lanes: int, parallel: bool):
    """Split ``loop`` into (outer, lanes); parallelise the outer part, vectorise the inner."""
    extent = _extent(sch, loop)
    if extent < 2 * lanes:
        if parallel and extent > 1:
            sch.parallel(loop)
        return
    outer, inner = sch.split(loop, [None, lanes])
    if parallel:
        sch.parallel(outer)
    sch.vectorize(inner)


def _spatial(sch, block, cores, vector_bytes) -> None:
    loops = sch.get_loops(block)
    if not loops:
        return
    size = math.prod(_extent(sch, loop) for loop in loops)
    parallel = cores > 1 and size >= MIN_PARALLEL_ELEMENTS
    if len(loops) == 1:
        _split_vector(sch, loops[0], _lanes(sch.get(block), vector_bytes), parallel)
        return
    outer = sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]
    if parallel and _extent(sch, outer) > 1:
        sch.parallel(outer)
    _split_vector(sch, loops[-1], _lanes(sch.get(block), vector_bytes), False)


def _reduction(sch, block, cores, vector_bytes) -> None:
    node = sch.get(block)
    loops, spatial, reduce = loops_by_kind(sch, block)
    size = math.prod(_extent(sch, loop) for loop in loops)
    parallel = cores > 1 and size >= MIN_PARALLEL_ELEMENTS and spatial
    lanes = _lanes(node, vector_bytes)
    # Phase 1: keep a contiguous spatial axis innermost when the reduction is not contiguous
    inner_spatial_contiguous = bool(spatial) and not reads_innermost_reduced(sch, block)
    if inner_spatial_contiguous and _extent(sch, spatial[-1]) >= lanes:
        sch.reorder(*spatial[:-1], *reduce, spatial[-1])
        outer = spatial[:-1]
        if outer:
            fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
            if parallel and _extent(sch, fused) > 1:
                sch.parallel(fused)
        inner = sch.get_loops(block)[-1]
        if _extent(sch, inner) % lanes == 0:
            _, vec = sch.split(inner, [None, lanes])
            sch.vectorize(vec)
        sch.decompose_reduction(block, reduce[0])
        return
    # Phase 2: contiguous reduction: parallel over the spatial loops, serial reduce inside
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
    fused = sch.fuse(*free) if len(free) > 1 else free[0]
    lanes = _lanes(sch.get(block), vector_bytes)
    parallel = cores > 1 and size >= MIN_PARALLEL_ELEMENTS
    if _extent(sch, fused) >= 2 * lanes:
        outer, inner = sch.split(fused, [None, lanes])
        if rows:
            sch.reorder(outer, *rows, inner)
        if parallel:
            sch.parallel(outer)
        sch.vectorize(inner)
    elif parallel and _extent(sch, fused) > 1:
        sch.parallel(fused)

"""Reduction-rooted groups: injective prologue -> one reduction -> injective epilogue.

Strategy:
1. inline the prologue (add, cast, ...) into the reduction and collapse the epilogue
   (transpose, cast, mean's divide, ...) into the single block that writes the output;
2. split across cores only the reduction's spatial loops (legal by construction: the reduced
   axis is never split, so no partial results cross cores);
3. vectorise so the vector lanes are spatial: when the reduced axis is the contiguous one, by
   ``rfactor`` (one vector of partial results, combined at the end of each row); otherwise by moving
   the reduce loops outside the contiguous spatial loop;
4. compute the epilogue under the parallel loop (``reverse_compute_at``), so the reduction
   result only lives in a core-local accumulator, and vectorise its innermost non-unit loop
   (the output's contiguous axis) when it holds whole vectors: a transposed epilogue then
   stores vectors, gathering from the accumulator in L1 (W1s 4 -> 3 us; W1 and W1l are
   bound by reading ``x`` and do not change).
Knobs: the reduction's vector tile, the rfactor split, the parallel depth.
"""

from __future__ import annotations

from tvm_fusion.schedules import injective
from tvm_fusion.schedules.base import (
    TemplateContext,
    blocks,
    counted,
    extent,
    family_nodes,
    inline_injective,
    is_reduction,
    lanes,
    loops_by_kind,
    merge_after_reduction_reason,
    parallel_depth,
    parallelize,
    reads_innermost_reduced,
    reductions_folded,
    several_outputs,
    tile_knob,
    vector_tile,
)

NAME = "reduction-rooted"
# Default rfactor width, in vectors (a knob: the tile is sampled). One vector: the partial
# results are then summed by a serial chain of one vector's lanes per row; with four vectors
# that chain is four times longer and dominates short rows (measured here, W2s f16[16,64,128]
# 49.1 -> 10.6 us, W2 f16[16,512,1024] 1406 -> 1078 us).
ACCUMULATOR_VECTORS = 1


def mismatch(ctx: TemplateContext) -> str | None:
    """``None`` when the template applies, else one line saying why not."""
    scatters = family_nodes(ctx, "scatter")
    if scatters:
        return (f"{NAME}: the group has {counted(scatters, 'scatter')}; this template "
                "handles element-wise, layout and reduction ops only")
    reductions = family_nodes(ctx, "reduce")
    if len(reductions) != 1:
        return (f"{NAME}: the group has {counted(reductions, 'reduction')}; this template "
                "handles exactly one")
    return merge_after_reduction_reason(ctx, NAME) or several_outputs(ctx, NAME)


def matches(ctx: TemplateContext) -> bool:
    return mismatch(ctx) is None


def apply(sch, ctx: TemplateContext) -> None:
    if reductions_folded(sch):
        injective.apply(sch, ctx)
        return
    # Phase 1: prologue inlined, epilogue collapsed into the output block
    inline_injective(sch)
    (reduction,) = [b for b in blocks(sch) if is_reduction(sch, b)]
    epilogue = [b for b in blocks(sch) if not is_reduction(sch, b)]
    _, spatial, reduce = loops_by_kind(sch, reduction)
    lane_count = lanes(sch, reduction, ctx.vector_bytes)
    if reads_innermost_reduced(sch, reduction) or not spatial:
        par = _rfactor_rows(sch, reduction, spatial, reduce, lane_count, ctx)
    else:
        par = _vectorize_spatial(sch, reduction, spatial, reduce, lane_count, ctx)
    # Phase 4: the epilogue runs per parallel iteration, on a core-local accumulator
    for block in epilogue:
        if par is not None:
            sch.reverse_compute_at(block, par, preserve_unit_loops=True)
            _vectorize_epilogue(sch, block, par, ctx)
    # The accumulators stay in the default scope: under the parallel loop TVM places them per
    # iteration, on the stack (up to 1 KiB); "local" made each one a workspace allocation and
    # free per iteration (measured: W2s 10.6 -> 9.9 us on one core, and 5x slower in parallel)
    if epilogue and par is None:  # the whole reduction output is one element
        sch.set_scope(reduction, 0, "local")


def _vectorize_spatial(sch, reduction, spatial, reduce, lane_count, ctx):
    """Reduce loops move outside the contiguous spatial loop, which is vectorised."""
    inner = spatial[-1]
    outer = spatial[:-1]
    chunk, vec = vector_tile(sch, ctx, "vector", inner, lane_count)
    if outer:
        sch.reorder(*outer, *reduce, chunk, vec)
        depth = parallel_depth(sch, ctx, "parallel_depth", outer, range(len(outer)))
        par = parallelize(sch, outer[:depth], ctx)
    else:  # a single spatial axis: its vector chunks are what the cores share
        sch.reorder(chunk, *reduce, vec)
        par = parallelize(sch, [chunk], ctx)
    if extent(sch, vec) > 1:
        sch.vectorize(vec)
    sch.decompose_reduction(reduction, reduce[0])
    return par


def _rfactor_rows(sch, reduction, spatial, reduce, lane_count, ctx):
    """Contiguous reduction: rfactor a vector of partial results per output row."""
    r = sch.fuse(*reduce) if len(reduce) > 1 else reduce[0]
    # one vector of partial results per row by default (see ACCUMULATOR_VECTORS)
    outer_r, inner_r = tile_knob(sch, ctx, "rfactor_lanes", r, lane_count * ACCUMULATOR_VECTORS,
                                 lane_count * 8)
    par = parallelize(sch, spatial, ctx) if spatial else None
    if extent(sch, inner_r) == 1 or extent(sch, outer_r) == 1 or par is None:
        return par
    partial = sch.rfactor(inner_r, 0)
    sch.compute_at(partial, par, preserve_unit_loops=True)
    depth = next(i for i, lp in enumerate(sch.get_loops(partial))
                 if sch.get(lp).same_as(sch.get(par)))
    below = sch.get_loops(partial)[depth + 1:]  # (lanes, unit spatial loops..., rows)
    lane_loop, row_loop = below[0], below[-1]
    if len(below) >= 2 and extent(sch, lane_loop) == extent(sch, inner_r):
        # (lanes, rows) -> (rows, lanes): the lanes are spatial and contiguous
        sch.reorder(row_loop, lane_loop)
        sch.vectorize(lane_loop)
        sch.decompose_reduction(partial, row_loop)
    return par


def _vectorize_epilogue(sch, block, par, ctx) -> None:
    """Vectorise the epilogue's innermost non-unit loop (with the unit loops inside it)."""
    loops = list(sch.get_loops(block))
    depth = next(i for i, lp in enumerate(loops) if sch.get(lp).same_as(sch.get(par)))
    below = loops[depth + 1:]
    while len(below) > 1 and extent(sch, below[-1]) == 1:
        below = below[:-1]
    if not below:
        return
    tail = loops[loops.index(below[-1]):]
    inner = sch.fuse(*tail) if len(tail) > 1 else tail[0]
    lane_count = lanes(sch, block, ctx.vector_bytes)
    if extent(sch, inner) >= lane_count and extent(sch, inner) % lane_count == 0:
        _, vec = sch.split(inner, [None, lane_count])
        sch.vectorize(vec)

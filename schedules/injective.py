"""Injective / transpose-only groups: element-wise, cast, broadcast, transpose, reshape.

Strategy:
1. inline every stage into the output block, so the kernel reads the inputs and writes the
   output and nothing else;
2. if a transpose moved the input's contiguous axis away from the output's innermost axis,
   block the two axes (a cache-blocked transpose: tiles that fit in L1 on both sides);
3. fuse the outer loops into one parallel loop (every axis of an injective chain is spatial
   in every stage, so any outer axis is a legal core split) and vectorise the innermost one.
Knobs: the vector tile, the transpose tile, the parallel depth.
"""

from __future__ import annotations

from tvm_fusion.schedules.base import (
    TemplateContext,
    counted,
    extent,
    family_nodes,
    inline_injective,
    lanes,
    parallel_depth,
    parallelize,
    several_outputs,
    split_depth,
    tile_knob,
    vector_tile,
    writes_output,
)

NAME = "injective"


def mismatch(ctx: TemplateContext) -> str | None:
    """``None`` when the template applies, else one line saying why not."""
    reductions, scatters = family_nodes(ctx, "reduce"), family_nodes(ctx, "scatter")
    if reductions or scatters:
        found = " and ".join(counted(nodes, noun) for nodes, noun in
                             ((reductions, "reduction"), (scatters, "scatter")) if nodes)
        return (f"{NAME}: the group has {found}; this template handles element-wise and "
                "layout ops only")
    return several_outputs(ctx, NAME)


def matches(ctx: TemplateContext) -> bool:
    return mismatch(ctx) is None


def _transposed_axis(ctx: TemplateContext) -> int | None:
    """Output axis that iterates the largest input's contiguous axis, if not the innermost."""
    group = ctx.analysis.group
    (out,) = group.outputs
    source = max(group.inputs, key=lambda t: t.nbytes)
    if source.ndim == 0 or out.ndim < 2:
        return None
    axis = next((a for a in ctx.analysis.axes if (source.name, source.ndim - 1) in a.members),
                None)
    if axis is None:
        return None
    for d in range(out.ndim - 1):
        if (out.name, d) in axis.members and out.shape[d] > 1:
            return d
    return None


def apply(sch, ctx: TemplateContext) -> None:
    # Phase 1: one block left, reading inputs and writing the output
    inline_injective(sch)
    (block,) = [b for b in sch.get_child_blocks(sch.get_sblock("root")) if writes_output(sch, b)]
    loops = list(sch.get_loops(block))
    if not loops:
        return
    lane_count = lanes(sch, block, ctx.vector_bytes)
    # Phase 2: cache-blocked transpose when the contiguous input axis is not innermost
    moved = _transposed_axis(ctx)
    if moved is not None:
        mo, mi = tile_knob(sch, ctx, "transpose_tile", loops[moved], 16, 64)
        lo, li = tile_knob(sch, ctx, "vector", loops[-1], lane_count * 2, lane_count * 4)
        outer = loops[:moved] + loops[moved + 1:-1]
        sch.reorder(*outer, mo, lo, mi, li)
        dims = [d for d in range(len(loops) - 1) if d != moved] + [moved]
        parallelize(sch, (outer + [mo])[:split_depth(ctx, dims)], ctx)
        if extent(sch, li) > 1:
            sch.vectorize(li)
        return
    # Phase 3: parallel outer loops, vectorised innermost loop
    outer_loop, inner = vector_tile(sch, ctx, "vector", loops[-1], lane_count)
    rest = loops[:-1] + [outer_loop]
    depth = parallel_depth(sch, ctx, "parallel_depth", rest, range(len(rest)))
    parallelize(sch, rest[:depth], ctx)
    if extent(sch, inner) > 1:
        sch.vectorize(inner)

"""Scatter-terminated groups: injective and reduction stages feeding one final scatter.

Strategy:
1. the output is first a parallel, vectorised copy of ``data`` (the untouched rows must reach
   the output too);
2. the update block's loops that never meet an index (the analysis' legal axes: the trailing
   data axes of ``scatter_nd``, the non-scatter axes of ``scatter_elements``) go outermost and
   are split across cores and vectorised; the index rows stay sequential inside, so
   duplicates combine in order; index values are read as scalars;
3. every injective producer (the updates' computation, index reshapes, transposes) is inlined
   into the update block, which then writes straight into the output;
4. a reduction feeding the updates is computed under the update's parallel loop
   (``compute_at``) into a core-local accumulator: each core reduces only its own columns.
Knobs: the vector tile of the update and of the copy.
"""

from __future__ import annotations

from tvm_fusion.schedules.base import (
    TemplateContext,
    blocks,
    counted,
    extent,
    family_nodes,
    inline_injective,
    is_reduction,
    is_update,
    lanes,
    merge_after_reduction_reason,
    parallelize,
    several_outputs,
    spatial_parallel_vectorize,
    tile_knob,
    vector_tile,
    writes_output,
)

NAME = "scatter-terminated"


def mismatch(ctx: TemplateContext) -> str | None:
    """``None`` when the template applies, else one line saying why not."""
    scatters = family_nodes(ctx, "scatter")
    if len(scatters) != 1:
        return (f"{NAME}: the group has {counted(scatters, 'scatter')}; this template "
                "handles exactly one, as its last op")
    last = ctx.nodes[-1]
    if ctx.families[-1] != "scatter":
        return (f"{NAME}: the group's last op is {last.op} '{last.name}', not its scatter; "
                "this template handles groups that end in their scatter")
    reductions = family_nodes(ctx, "reduce")
    if len(reductions) > 1:
        return (f"{NAME}: the group has {counted(reductions, 'reduction')}; this template "
                "handles at most one")
    if _reduction_feeds_data_or_indices(ctx):
        return (f"{NAME}: reduction '{reductions[0].name}' feeds the scatter's data or "
                "indices; this template computes a reduction only into the updates")
    return merge_after_reduction_reason(ctx, NAME) or several_outputs(ctx, NAME)


def matches(ctx: TemplateContext) -> bool:
    return mismatch(ctx) is None


def _reduction_feeds_data_or_indices(ctx: TemplateContext) -> bool:
    """A reduction may only reach the scatter through its updates (computed per core)."""
    downstream: set[int] = set()
    for node, family in zip(ctx.nodes, ctx.families):
        if family == "reduce" or any(id(t) in downstream for t in node.inputs):
            downstream.add(id(node.output))
    scatter = ctx.nodes[-1]
    return any(id(t) in downstream for t in scatter.inputs[:2])


def _chosen_iterator(ctx: TemplateContext, free_axes) -> int:
    """The update iterator carrying the analysis' chosen split axis (else the first free)."""
    scatter = ctx.nodes[-1]
    split = ctx.analysis.split
    for d in free_axes:
        if split.covers(scatter.inputs[2].name, d):
            return d
    return free_axes[0]


def _core_chunks(n: int, cores: int) -> int:
    """Chunks to split an axis of extent ``n`` into: a divisor close to the core count."""
    return max((c for c in range(1, min(n, cores) + 1) if n % c == 0), default=1)


def apply(sch, ctx: TemplateContext) -> None:
    from tvm_fusion.ops.scatter import parallel_iters_of_block

    (update,) = [b for b in blocks(sch) if is_update(sch, b)]
    # Phase 2 first: loop structure of the update, before inlining rewrites its regions
    loops = sch.get_loops(update)
    free_axes = parallel_iters_of_block(sch.get(update))
    par = None
    if free_axes:
        split_at = _chosen_iterator(ctx, free_axes)
        rows = [lp for d, lp in enumerate(loops) if d not in free_axes]
        others = [loops[d] for d in free_axes if d != split_at]
        n = extent(sch, loops[split_at])
        outer, inner = tile_knob(sch, ctx, "core_chunk", loops[split_at],
                                 n // _core_chunks(n, ctx.cores), n)
        if others and free_axes[-1] != split_at:
            innermost, middle = others[-1], [inner] + others[:-1]
        else:  # the split axis is the innermost free (contiguous) one: keep it innermost
            innermost, middle = inner, others
        vo, vi = vector_tile(sch, ctx, "update_vector", innermost,
                             lanes(sch, update, ctx.vector_bytes))
        sch.reorder(outer, *rows, *middle, vo, vi)
        par = parallelize(sch, [outer], ctx)
        if extent(sch, vi) > 1:
            sch.vectorize(vi)
    # Phase 3: injective producers inlined into the update (and the copy)
    inline_injective(sch)
    # Phase 4: a reduction feeding the update runs per parallel iteration, core-locally
    # (with no free axis, per update row: every data axis is indexed, the update is serial)
    update_loops = sch.get_loops(update)
    at = par if par is not None else (update_loops[0] if update_loops else None)
    for block in blocks(sch):
        if is_reduction(sch, block):
            if at is not None:  # per iteration: default scope, on the stack (up to 1 KiB);
                # "local" cost a workspace allocation and free per iteration
                sch.compute_at(block, at, preserve_unit_loops=True)
            else:
                sch.set_scope(block, 0, "local")
            if par is not None:
                _vectorize_reduction(sch, block, par, ctx)
    # Phase 1: the copy of data into the output
    for block in blocks(sch):
        if writes_output(sch, block) and not is_update(sch, block):
            spatial_parallel_vectorize(sch, block, ctx, "copy_vector")


def _vectorize_reduction(sch, block, par, ctx) -> None:
    """Inside a core: reduce loops outside, the contiguous spatial loop vectorised."""
    from tvm import tirx

    node = sch.get(block)
    loops = sch.get_loops(block)
    depth = next(i for i, lp in enumerate(loops) if sch.get(lp).same_as(sch.get(par)))
    below = loops[depth + 1:]
    if len(below) != len(node.iter_vars):
        return  # compute_at dropped unit loops: keep the simple nest
    kinds = [iv.iter_type for iv in node.iter_vars]
    spatial = [lp for lp, k in zip(below, kinds) if k == tirx.IterVar.DataPar]
    reduce = [lp for lp, k in zip(below, kinds) if k != tirx.IterVar.DataPar]
    if not spatial or not reduce:
        return
    sch.reorder(*reduce, spatial[-1])
    _, vec = vector_tile(sch, ctx, "reduce_vector", spatial[-1],
                         lanes(sch, block, ctx.vector_bytes))
    if extent(sch, vec) > 1:
        sch.vectorize(vec)
    sch.decompose_reduction(block, reduce[0])

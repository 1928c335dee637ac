"""What every template gets, and the small helpers they share.

A template module defines ``NAME``, ``matches(ctx) -> bool`` (cheap: reads only the
:class:`TemplateContext`, never the schedule) and ``apply(sch, ctx)`` (mutates the schedule).
Tunable choices go through ``sch.sample_perfect_tile`` / ``sch.sample_categorical``: with
``ctx.tuning`` False the heuristic decision is passed in (the default schedule); with it True
the decision is left to MetaSchedule's sampler, so the same function is the design space.

``ctx.replay`` (tuning only) forces the first decisions, in sampling order: the
template-aware mutator (``tvm_fusion.tuning.mutator``) re-runs a template with one decision
changed, so choices that steer the template's Python (how many loops the parallel loop fuses,
whether a tile is wide enough to vectorise) follow the new decision; a replayed trace would not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tvm import s_tir, tirx

from tvm_fusion.analysis import GroupAnalysis
from tvm_fusion.ops import family as op_family
from tvm_fusion.ops.scatter import UPDATE_ANNOTATION


@dataclass(frozen=True)
class TemplateContext:
    """The frozen facts a template reads: group analysis, target shape, block names."""

    analysis: GroupAnalysis
    cores: int
    vector_bytes: int
    tuning: bool = False
    decisions: tuple[tuple[str, int], ...] = ()  # user overrides, e.g. (("update_vector", 8),)
    replay: tuple = ()  # tuning: forced decisions in sampling order (None = sample)
    knobs: list = field(default_factory=list, compare=False)  # Knob records, filled by apply

    def override(self, name: str) -> int | None:
        return dict(self.decisions).get(name)

    def replayed(self):
        """The forced decision for the next sampling instruction, if any."""
        i = len(self.knobs)
        return self.replay[i] if self.tuning and i < len(self.replay) else None

    @property
    def nodes(self):
        return self.analysis.group.nodes

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(op_family(n) for n in self.nodes)

    @property
    def single_output(self) -> bool:
        return len(self.analysis.group.outputs) == 1

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.analysis.group.outputs)


@dataclass(frozen=True)
class Knob:
    """One tunable choice a template made: its name, value and what it could have been."""

    name: str
    value: int
    choices: str  # e.g. "divisors of 128 up to 32"


class KnobError(ValueError):
    """A user decision names an unknown knob or an impossible value."""


def merge_after_reduction_reason(ctx: TemplateContext, name: str) -> str | None:
    """The mismatch reason of template ``name`` when a reshape merges axes, or a slice
    strides, after a reduction."""
    if merges_after_reduction(ctx):
        return (f"{name}: a reshape merging axes follows the reduction (its div/mod indexing "
                "defeats compute-at)")
    strided = strided_after_reduction(ctx)
    if strided:
        return (f"{name}: slice '{strided}' strides after the reduction (compute-at needs "
                "unit strides: 'CanProveEqual(IntegerAbs(source->scale), 1)')")
    widened = widened_after_reduction(ctx)
    if widened:
        return (f"{name}: {widened} follows the reduction and writes positions the reduction "
                "does not produce (computed at the reduction's loop, they stay unwritten)")
    return None


def widened_after_reduction(ctx: TemplateContext) -> str | None:
    """The first pad (growing an axis) or concat after a reduction, as "op 'name'"."""
    downstream = False
    for node, family in zip(ctx.nodes, ctx.families):
        downstream |= family == "reduce"
        grows = node.op == "concat" or node.op == "pad" and any(
            p > 0 for p in node.attrs["before"] + node.attrs["after"])
        if downstream and grows:
            return f"{node.op} '{node.name}'"
    return None


def strided_after_reduction(ctx: TemplateContext) -> str | None:
    """The first slice with a step other than +-1 on a non-unit axis after a reduction."""
    downstream = False
    for node, family in zip(ctx.nodes, ctx.families):
        downstream |= family == "reduce"
        if downstream and node.op == "slice" and any(
                abs(s) != 1 and n > 1 for s, n in zip(node.attrs["step"], node.output.shape)):
            return node.name
    return None


def merges_after_reduction(ctx: TemplateContext) -> bool:
    """A reshape merging axes follows a reduction: its div/mod indexing defeats compute-at."""
    from tvm_fusion.ops.layout import reshape_groups

    downstream = False
    for node, family in zip(ctx.nodes, ctx.families):
        downstream |= family == "reduce"
        if downstream and node.op == "reshape":
            shape = node.inputs[0].shape
            for in_axes, _ in reshape_groups(shape, node.output.shape):
                if sum(shape[a] > 1 for a in in_axes) > 1:
                    return True
    return False


# ----- block queries ---------------------------------------------------------------------
def blocks(sch: s_tir.Schedule) -> list:
    """The blocks under the root, fetched by name.

    The names are read from an untraced copy, so the trace records only ``get_sblock(name)``:
    when MetaSchedule replays the trace with other decisions, a block count that changed (an
    extra init block, say) cannot break the replay as ``get_child_blocks`` would.
    """
    scan = s_tir.Schedule(sch.mod)
    names = [scan.get(b).name_hint for b in scan.get_child_blocks(scan.get_sblock("root"))]
    return [sch.get_sblock(name) for name in names]


def is_reduction(sch, block) -> bool:
    return any(iv.iter_type != tirx.IterVar.DataPar for iv in sch.get(block).iter_vars)


def reductions_folded(sch) -> bool:
    """``True`` when lowering left no reduction block although the group has a reduction: a
    reduction whose value nothing reads is dropped with its stage (``isinf`` with both
    detections off is the constant False). The reduction-rooted template then schedules
    the kernel as the injective one it is."""
    return not any(is_reduction(sch, b) for b in blocks(sch))


def is_update(sch, block) -> bool:
    return UPDATE_ANNOTATION in sch.get(block).annotations


def writes_output(sch, block) -> bool:
    params = sch.mod["main"].params
    return any(sch.get(block).writes[0].source.same_as(p) for p in params)


def loops_by_kind(sch, block) -> tuple[list, list, list]:
    """(all loops, spatial loops, reduce loops) of a block whose loops map 1:1 to its iters."""
    loops = list(sch.get_loops(block))
    kinds = [iv.iter_type for iv in sch.get(block).iter_vars]
    spatial = [lp for lp, k in zip(loops, kinds) if k == tirx.IterVar.DataPar]
    reduce = [lp for lp, k in zip(loops, kinds) if k != tirx.IterVar.DataPar]
    return loops, spatial, reduce


def reads_innermost_reduced(sch, block) -> bool:
    """The block reduces over the innermost (contiguous) axis of something it reads."""
    node = sch.get(block)
    reduce_vars = [iv.var for iv in node.iter_vars if iv.iter_type != tirx.IterVar.DataPar]
    for region in node.reads:
        if len(region.region) and any(
                v.same_as(r) for v in tirx.analysis.undefined_vars(region.region[-1].min)
                for r in reduce_vars):
            return True
    return False


def extent(sch, loop) -> int:
    return int(sch.get(loop).extent)


def lanes(sch, block, vector_bytes: int) -> int:
    itemsize = np.dtype(str(sch.get(block).writes[0].source.dtype)).itemsize
    return max(1, vector_bytes // itemsize)


# ----- shared phases ---------------------------------------------------------------------
def inline_injective(sch: s_tir.Schedule) -> None:
    """Inline every element-wise/layout block that does not write a kernel output."""
    for block in blocks(sch):
        if is_reduction(sch, block) or is_update(sch, block) or writes_output(sch, block):
            continue
        sch.compute_inline(block)


def tile_knob(sch, ctx: TemplateContext, name: str, loop, default_inner: int, max_inner: int):
    """Split ``loop`` in two with a perfect tile whose inner factor is the knob ``name``."""
    n = extent(sch, loop)
    inner = ctx.override(name)
    if inner is not None and (inner < 1 or n % inner or inner > max(max_inner, 1)):
        raise KnobError(f"knob '{name}' = {inner} is impossible: expected a divisor of the loop "
                        f"extent {n} between 1 and {max(max_inner, 1)}")
    if inner is None:
        inner = max((f for f in range(1, min(n, max(default_inner, 1)) + 1) if n % f == 0),
                    default=1)
    decision = [n // inner, inner]
    if ctx.tuning:
        forced = ctx.replayed()
        valid = forced is not None and len(forced) == 2 and forced[0] * forced[1] == n and \
            forced[1] <= max(max_inner, 1)
        decision = list(forced) if valid else None
    factors = sch.sample_perfect_tile(loop, n=2, max_innermost_factor=max(max_inner, 1),
                                      decision=decision)
    ctx.knobs.append(Knob(name, int(sch.get(factors[1])),
                          f"divisors of {n} up to {max(max_inner, 1)}"))
    return sch.split(loop, factors)


def vector_tile(sch, ctx: TemplateContext, name: str, loop, lane_count: int):
    """(outer, inner) with the inner part about one vector (tunable up to four vectors)."""
    return tile_knob(sch, ctx, name, loop, lane_count, lane_count * 4)


def split_depth(ctx: TemplateContext, dims) -> int:
    """How many leading loops cover the analysis' core split (``ctx.analysis.split``).

    ``dims[i]`` is the dimension of the split's anchor tensor that loop ``i`` iterates.
    """
    split = ctx.analysis.split
    covered = [i for i, d in enumerate(dims) if d is not None and split.covers(split.anchor, d)]
    return max(covered) + 1 if covered else 1


def categorical_knob(sch, ctx: TemplateContext, name: str, candidates: list[int],
                     default: int, choices: str) -> int:
    """A tunable choice among ``candidates`` (``default`` unless tuning or the user chose)."""
    chosen = ctx.override(name)
    if chosen is not None:
        if chosen not in candidates:
            raise KnobError(f"knob '{name}' = {chosen} is impossible: expected one of "
                            f"{candidates}")
        default = chosen
    decision = candidates.index(default)
    if ctx.tuning:
        forced = ctx.replayed()
        decision = forced if forced is not None and 0 <= forced < len(candidates) else None
    choice = sch.sample_categorical(candidates, [1 / len(candidates)] * len(candidates),
                                    decision=decision)
    value = int(sch.get(choice))
    ctx.knobs.append(Knob(name, value, choices))
    return value


def parallel_depth(sch, ctx: TemplateContext, name: str, loops, dims) -> int:
    """How many outer loops to fuse into the parallel loop (tunable categorical).

    The default is the analysis' core split (see :func:`split_depth`).
    """
    return categorical_knob(sch, ctx, name, list(range(1, len(loops) + 1)),
                            min(split_depth(ctx, dims), len(loops)),
                            f"1..{len(loops)} outer loops")


def parallelize(sch, loops, ctx: TemplateContext):
    """Fuse ``loops``; mark the result parallel when the analysis splits the kernel.

    (Below ``MIN_PARALLEL_ELEMENTS`` elements of work the analysis keeps one core.)
    """
    if not loops:
        return None
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    if ctx.analysis.split.parallel and extent(sch, fused) > 1:
        sch.parallel(fused)
    return fused


def spatial_parallel_vectorize(sch, block, ctx: TemplateContext, name: str) -> None:
    """Row-major spatial block: outer loops fused and parallel, innermost loop vectorised.

    The vector loop's outer part stays out of the parallel loop: a parallel loop fused down to
    single vectors would pay an index division per vector.
    """
    loops = sch.get_loops(block)
    if not loops:
        return
    outer, inner = vector_tile(sch, ctx, name, loops[-1], lanes(sch, block, ctx.vector_bytes))
    parallel_loops = list(loops[:-1]) or [outer]
    parallelize(sch, parallel_loops, ctx)
    if extent(sch, inner) > 1:
        sch.vectorize(inner)


# ----- mismatch reasons: one line saying why a template does not apply ------------------
class TemplateMismatch(ValueError):
    """A forced template does not apply to a group (``explore --template``, ``compile``)."""


def family_nodes(ctx: TemplateContext, *families: str) -> list:
    """The group's nodes of the given op families, in order."""
    return [n for n, f in zip(ctx.nodes, ctx.families) if f in families]


def counted(nodes, noun: str) -> str:
    """``no reduction``, ``1 reduction (reduce_sum 'r')``, ``2 reductions (...)``."""
    if not nodes:
        return f"no {noun}"
    listed = ", ".join(f"{n.op} '{n.name}'" for n in nodes)
    return f"{len(nodes)} {noun}{'' if len(nodes) == 1 else 's'} ({listed})"


def several_outputs(ctx: TemplateContext, name: str) -> str | None:
    """The reason of a single-output template ``name`` for a group writing several."""
    if ctx.single_output:
        return None
    listed = ", ".join(f"'{t}'" for t in ctx.output_names)
    return (f"{name}: the group writes {len(ctx.output_names)} outputs ({listed}); this "
            "template writes exactly one")

"""Iteration axes of a fusion group and their role in every stage.

Every (tensor, axis) pair of the group is a point; each op's declared axis relation
(:mod:`tvm_fusion.ops.axes`) joins the output axes to the input axes they iterate, so a
transpose or reshape carries an axis through under another position. Each joined class is one
iteration axis of the fused kernel. Its role in a stage is ``reduce`` (the stage sums/maxes it
away), ``scatter_indexed`` (its position comes from an index tensor), ``broadcast`` (some input
of the stage is re-read along it), ``gather_indexed`` (a gather reads it at data-dependent
positions), ``concat`` (the concatenated axis), ``slice`` / ``pad`` (an identity with an
offset, a stride or a constant fill) or ``spatial``.

An axis is a legal core split when it is spatial, broadcast, sliced or padded in every stage
it appears in: never reduced, scatter-indexed, gather-indexed or concatenated (a concatenated
axis is legal only per piece, which the split does not do). ``GroupAxis.treatments`` says in
words how each gather, concat, slice and pad axis is treated (printed by the report).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fusion import FusionGroup
from ..graph import Node, Tensor
from ..ops import axis_relation

Point = tuple[str, int]  # (tensor name, axis)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Point, Point] = {}

    def find(self, p: Point) -> Point:
        self.parent.setdefault(p, p)
        while self.parent[p] != p:
            self.parent[p] = self.parent[self.parent[p]]
            p = self.parent[p]
        return p

    def union(self, a: Point, b: Point) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


TREATMENTS = {
    "gather_indexed": ("an indexed read axis (data read at positions from the indices; the "
                       "output iterates the indices' axes instead): never a core split"),
    "concat": ("the concatenated axis (each piece an identity with an offset): split-legal "
               "only per piece, so not split across cores"),
    "slice": "an identity with an offset and a stride: split-legal",
    "pad": "an identity with an offset, filled with the pad value outside: split-legal",
}
ROLE_OF_KIND = {"scatter_indexed": "scatter_indexed", "broadcast": "broadcast",
                "reduce": "spatial", "slice": "slice", "pad": "pad", "concat": "concat"}


@dataclass(frozen=True)
class StageRole:
    stage: str  # node name
    op: str
    role: str  # spatial | reduce | scatter_indexed | broadcast | gather_indexed | concat | ...


@dataclass(frozen=True)
class GroupAxis:
    """One iteration axis of the fused kernel, traced through every stage."""

    name: str  # the first (tensor.axis) that carries it, e.g. "x.3"
    extent: int
    members: tuple[Point, ...]
    roles: tuple[StageRole, ...]
    in_output: bool  # iterated by the group's output (a candidate for the core split)

    @property
    def illegal_reason(self) -> str | None:
        for r in self.roles:
            if r.role == "reduce":
                return f"reduced by {r.op} '{r.stage}'"
            if r.role == "scatter_indexed":
                return f"scatter-indexed by {r.op} '{r.stage}'"
            if r.role == "gather_indexed":
                return (f"gather-indexed by {r.op} '{r.stage}' (read at data-dependent "
                        "positions)")
            if r.role == "concat":
                return (f"concatenated by concat '{r.stage}' (split-legal only per piece, "
                        "which is not implemented)")
        return None

    @property
    def treatments(self) -> tuple[str, ...]:
        """How each gather, concat, slice and pad stage treats this axis, in words."""
        return tuple(f"{self.name} in {r.op} '{r.stage}': {TREATMENTS[r.role]}"
                     for r in self.roles if r.role in TREATMENTS)

    @property
    def legal(self) -> bool:
        return self.illegal_reason is None

    def role_in(self, stage: str) -> str | None:
        return next((r.role for r in self.roles if r.stage == stage), None)


def _stage_roles(node: Node, find) -> dict[Point, str]:
    """Role of each axis class (by root point) in one stage."""
    rel = axis_relation(node)
    roles: dict[Point, str] = {}
    for d, out_axis in enumerate(rel.outputs):
        root = find((node.output.name, d))
        roles.setdefault(root, ROLE_OF_KIND.get(out_axis.kind, "spatial"))
    for pos, axis in rel.reduced:
        roles[find((node.inputs[pos].name, axis))] = "reduce"
    for pos, axis in rel.indexed:
        roles[find((node.inputs[pos].name, axis))] = "scatter_indexed"
    for (pos, axis), kind in rel.reads:  # a gathered or windowed axis: its own class
        root = find((node.inputs[pos].name, axis))
        if roles.get(root) not in ("gather_indexed", "concat"):  # the strongest role wins
            roles[root] = kind
    return roles


def group_axes(group: FusionGroup) -> tuple[GroupAxis, ...]:
    """Trace every iteration axis of ``group`` through its stages."""
    uf = _UnionFind()
    tensors: dict[str, Tensor] = {}
    for node in group.nodes:
        rel = axis_relation(node)
        tensors[node.output.name] = node.output
        for t in node.inputs:
            tensors[t.name] = t
            for a in range(t.ndim):
                uf.find((t.name, a))
        for d, out_axis in enumerate(rel.outputs):
            uf.find((node.output.name, d))
            if out_axis.kind == "reduce":
                continue  # the kept extent-1 axis is not the reduced axis
            for pos, axis in out_axis.sources:
                uf.union((node.output.name, d), (node.inputs[pos].name, axis))
        if node.op == "scatter_nd":  # updates rows iterate with the index rows
            rows = node.inputs[1].ndim - 1
            for r in range(rows):
                uf.union((node.inputs[1].name, r), (node.inputs[2].name, r))
    classes: dict[Point, list[Point]] = {}
    order = [(t.name, a) for t in group.inputs for a in range(t.ndim)]
    order += [(n.output.name, a) for n in group.nodes for a in range(n.output.ndim)]
    for p in order:
        classes.setdefault(uf.find(p), []).append(p)
    roles_by_stage = [(n, _stage_roles(n, uf.find)) for n in group.nodes]
    output_points = {(t.name, a) for t in group.outputs for a in range(t.ndim)}
    result = []
    for root, members in classes.items():
        roles = tuple(StageRole(n.name, n.op, r[root]) for n, r in roles_by_stage if root in r)
        extent = max(tensors[t].shape[a] for t, a in members)
        if extent == 1 and not any(r.role == "reduce" for r in roles):
            continue  # size-1 axes carry no work
        in_output = any(p in output_points for p in members)
        result.append(GroupAxis(f"{members[0][0]}.{members[0][1]}", extent, tuple(members),
                                roles, in_output))
    return tuple(result)

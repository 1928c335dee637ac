"""Bytes: DDR traffic fused versus unfused, cross-core traffic of each split, working sets.

Conventions (documented in the report):
- unfused DDR bytes: every op reads each of its inputs once and writes its output once, so
  every intermediate is written once and read once per consumer;
- fused DDR bytes: the group's inputs are read once and its outputs written once (a scatter's
  output counts as written in full: the untouched rows are copied);
- with donation (the scatter updates its data input in place), that data is neither read nor
  written in full: one element is written per update element (and read first when the
  scatter reduces);
- an illegal split on a reduced axis leaves every core with a partial result of the whole
  reduction output: ``(cores - 1) * partial bytes`` must cross cores to combine them;
- an illegal split on a scatter-indexed axis must route each update row to the core owning
  its target: ``updates bytes * (cores - 1) / cores``;
- a split on a gather-indexed axis leaves any core needing any entry of the gathered data:
  ``data bytes * (cores - 1) / cores``;
- a concatenated axis split per piece moves nothing (each core writes its pieces); split
  across the pieces it is not done (counted as 0: the cost is in the kernel, not the bytes);
- unfused, each op splits on its own friendliest axis (its outermost axis that it neither
  reduces nor indexes); where producer and consumer pick different axes, the intermediate is
  reshuffled: ``bytes * (cores - 1) / cores``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..fusion import FusionGroup
from ..graph import Node, Tensor
from .axes import GroupAxis

ILLEGAL_ROLES = ("reduce", "scatter_indexed", "gather_indexed", "concat")
FRIENDLY_ROLES = ("spatial", "broadcast", "slice", "pad")  # an op alone may split on these


@dataclass(frozen=True)
class SplitCost:
    axis: GroupAxis
    legal: bool
    reason: str  # why illegal, or "spatial in every stage"
    cross_core_bytes: int


@dataclass(frozen=True)
class Boundary:
    tensor: str
    producer_axis: str | None
    consumer_axis: str | None
    bytes: int


def _accumulator_bytes(node: Node) -> int:
    itemsize = max(np.dtype(node.output.dtype).itemsize,
                   4 if node.output.dtype == "float16" else 0)
    return node.output.size * itemsize


def split_costs(group: FusionGroup, axes: tuple[GroupAxis, ...], cores: int):
    nodes = {n.name: n for n in group.nodes}
    costs = []
    for axis in axes:
        if not axis.in_output and not any(r.role == "reduce" for r in axis.roles):
            continue
        reason = axis.illegal_reason
        if reason is None:
            costs.append(SplitCost(axis, True, "spatial in every stage", 0))
            continue
        stage = next(r for r in axis.roles if r.role in ILLEGAL_ROLES)
        node = nodes[stage.stage]
        if stage.role == "reduce":
            moved = (cores - 1) * _accumulator_bytes(node)
            reason += f": {cores} partial results of {_accumulator_bytes(node)} B to combine"
        elif stage.role == "gather_indexed":
            moved = node.inputs[0].nbytes * (cores - 1) // cores
            reason += ": any core may read any entry of the gathered data"
        elif stage.role == "concat":
            moved = 0
            reason += ": not split across the pieces"
        else:
            moved = node.inputs[2].nbytes * (cores - 1) // cores
            reason += ": update rows must travel to the core owning their target"
        costs.append(SplitCost(axis, False, reason, moved))
    return tuple(costs)


def _node_bytes(node: Node) -> int:
    unique = {id(t): t for t in node.inputs}
    return sum(t.nbytes for t in unique.values()) + node.output.nbytes


def ddr_bytes_unfused(group: FusionGroup) -> int:
    return sum(_node_bytes(n) for n in group.nodes)


def ddr_bytes_fused(group: FusionGroup) -> int:
    return sum(t.nbytes for t in group.inputs) + sum(t.nbytes for t in group.outputs)


def ddr_bytes_donated(group: FusionGroup, donated) -> int:
    """Fused bytes when the scatters named in ``donated`` update their data in place."""
    total = ddr_bytes_fused(group)
    for node in group.nodes:
        if node.name in donated:
            data, _, updates = node.inputs
            touched = updates.size * np.dtype(data.dtype).itemsize
            passes = 1 if node.attrs["reduction"] == "none" else 2  # read-modify-write
            total += touched * passes - data.nbytes - node.output.nbytes
    return total


def _friendly_axis(node: Node, axes: tuple[GroupAxis, ...]) -> GroupAxis | None:
    """The outermost output axis this op alone could split on (not reduced, not indexed)."""
    for d in range(node.output.ndim):
        axis = next((a for a in axes if (node.output.name, d) in a.members), None)
        if axis is None:
            continue
        role = axis.role_in(node.name)
        if role in FRIENDLY_ROLES and axis.extent > 1:
            return axis
    return None


def unfused_boundaries(group: FusionGroup, axes: tuple[GroupAxis, ...], cores: int):
    result = []
    for consumer in group.nodes:
        for t in {id(t): t for t in consumer.inputs}.values():
            producer = t.producer
            if producer is None or all(producer is not n for n in group.nodes):
                continue
            p_axis, c_axis = _friendly_axis(producer, axes), _friendly_axis(consumer, axes)
            moved = 0 if p_axis is c_axis else t.nbytes * (cores - 1) // cores
            result.append(Boundary(t.name, p_axis and p_axis.name, c_axis and c_axis.name, moved))
    return tuple(result)


def _share(t: Tensor, axis: GroupAxis, cores: int) -> int:
    """Bytes of ``t`` one core touches when ``axis`` is split ``cores`` ways."""
    if any(name == t.name for name, _ in axis.members):
        return math.ceil(t.nbytes * math.ceil(axis.extent / cores) / axis.extent)
    return t.nbytes


def working_set(group: FusionGroup, axis: GroupAxis, cores: int) -> int:
    """Per-core bytes touched by the fused kernel with ``axis`` split across ``cores``."""
    return sum(_share(t, axis, cores) for t in group.inputs + group.outputs)

"""How a fused kernel is split across cores: decided here, obeyed by every template.

The split is built on one stage of the group, its *anchor*: the scatter's updates for a
scatter-terminated group, the reduction for a group whose output no longer iterates the
reduced axes (reduction-rooted), the output otherwise. The candidates are the anchor's legal
axes (spatial in every stage) in its loop order, outermost first. The parallel loop fuses the
shortest run of leading candidates that gives every core at least four iterations (the
innermost candidate is the vector axis: it is taken only when needed, in vector chunks);
a reduction over its input's contiguous axis (vectors of partial results per row) fuses all
of them; a scatter cuts its largest legal axis into one chunk per core (the index rows stay
sequential in each chunk). Below ``MIN_PARALLEL_ELEMENTS`` elements of work the kernel runs on
one core: splitting such a kernel costs more than it saves (measured, see the constant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..fusion import FusionGroup
from .axes import GroupAxis

# Measured here (2 cores, kernel function alone, one process): the pool's launch costs ~0.6 us
# (an f32 add of 4096 elements: 0.52 us on one core, 1.08 us parallel) and an element-wise add
# already gains from 16 Ki elements, but every s-form workload (64-128 Ki elements: W1s..W5s,
# P1s..P5s) runs 1.07-1.49x slower split across the cores (cause not profiled), and W4-shaped
# scatters cross over only at ~256 Ki elements.
MIN_PARALLEL_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class CoreSplit:
    """The axes fused into the kernel's parallel loop (none: the kernel runs on one core)."""

    axes: tuple[GroupAxis, ...]  # outermost first
    anchor: str  # the tensor whose loops are split
    chunked: bool  # scatter: the axis is cut into one chunk per core
    work: int  # elements of the largest tensor the kernel touches
    cores: int
    reason: str  # why one core ("" when split)

    @property
    def parallel(self) -> bool:
        return bool(self.axes)

    @property
    def iterations(self) -> int:
        n = math.prod(a.extent for a in self.axes)
        return min(n, self.cores) if self.chunked else n

    def covers(self, tensor: str, dim: int) -> bool:
        return any((tensor, dim) in a.members for a in self.axes)

    def describe(self) -> str:
        if not self.axes:
            return f"none: {self.reason}"
        names = " x ".join(f"{a.name} ({a.extent})" for a in self.axes)
        if self.chunked:
            return f"{names} cut into {self.iterations} chunks, one per core"
        fused = " fused" if len(self.axes) > 1 else ""
        return f"{names}{fused}: {self.iterations} parallel iterations across {self.cores} cores"


def _anchor(group: FusionGroup, axes: tuple[GroupAxis, ...]):
    """(anchor tensor, kind): kind is "scatter", "reduction", "contiguous-reduction" or
    "output"."""
    last = group.nodes[-1]
    if last.op.startswith("scatter"):
        return last.inputs[2], "scatter"
    reductions = [n for n in group.nodes if n.op.startswith("reduce_")]
    reduced = {a.name for a in axes if any(r.role == "reduce" for r in a.roles)}
    if len(reductions) == 1 and not any(a.in_output for a in axes if a.name in reduced):
        node = reductions[0]
        x = node.inputs[0]
        contiguous = (node.attrs["axes"] and x.ndim - 1 in
                      [a % x.ndim for a in node.attrs["axes"]])
        return node.output, "contiguous-reduction" if contiguous else "reduction"
    return group.outputs[0], "output"


def _candidates(tensor, axes: tuple[GroupAxis, ...]) -> list[GroupAxis]:
    order = []
    for d in range(tensor.ndim):
        axis = next((a for a in axes if (tensor.name, d) in a.members), None)
        if axis is not None and axis.legal and axis.extent > 1 and axis not in order:
            order.append(axis)
    return order


def core_split(group: FusionGroup, axes: tuple[GroupAxis, ...], cores: int,
               donated: tuple[str, ...] = ()) -> CoreSplit:
    """The split every template applies to ``group`` (see the module docstring)."""
    touched = [t for t in group.inputs if t.name not in donated]
    touched += [n.output for n in group.nodes
                if not (n.op.startswith("scatter") and n.inputs[0].name in donated)]
    work = max((t.size for t in touched), default=0)
    tensor, kind = _anchor(group, axes)
    order = _candidates(tensor, axes)

    def one_core(reason: str) -> CoreSplit:
        return CoreSplit((), tensor.name, False, work, cores, reason)

    if cores < 2:
        return one_core("one core requested")
    if not order:
        return one_core("no legal axis (every axis is reduced or scatter-indexed): one core")
    if work < MIN_PARALLEL_ELEMENTS:
        return one_core(f"one core: {work} elements of work is below the parallel threshold "
                        f"of {MIN_PARALLEL_ELEMENTS} (waking the thread pool costs more)")
    if kind == "scatter":
        largest = max(order, key=lambda a: (min(a.extent, cores), a.extent))
        return CoreSplit((largest,), tensor.name, True, work, cores, "")
    if kind == "contiguous-reduction":
        return CoreSplit(tuple(order), tensor.name, False, work, cores, "")
    last_dim = tensor.ndim - 1
    inner_needed = [a for a in order if (tensor.name, last_dim) not in a.members]
    chosen, size = [], 1
    for axis in inner_needed + [a for a in order if a not in inner_needed]:
        chosen.append(axis)
        size *= axis.extent
        if size >= 4 * cores:
            break
    return CoreSplit(tuple(chosen), tensor.name, False, work, cores, "")

"""How an op's output axes relate to its input axes: the data the split analysis reads.

Every op declares, next to its TE compute, an :class:`AxisRelation`. Axis kinds:

- ``identity``: the output axis walks the same positions of the input axis;
- ``broadcast``: at least one input has extent 1 (or no axis) here and is re-read;
- ``permute``: the output axis is a different input axis (transpose);
- ``split`` / ``merge`` / ``reshape``: reshape groups (one input axis into several output
  axes, several into one, or several into several);
- ``reduce``: the output axis is a kept (extent-1) reduced axis;
- ``scatter_indexed``: the position along this output axis is read from an index tensor;
- ``slice``: an identity with an offset and a stride (split-legal);
- ``pad``: an identity with an offset, positions outside the input filled with a constant
  (split-legal);
- ``concat``: the concatenated axis: each piece is an identity with an offset, so a split is
  legal only per piece (the analysis does not split it across cores);
- ``gather_indexed`` (input axes only): read at data-dependent positions (a gather's data
  axis); the output iterates the indices' axes instead.

Input axes that do not reach any output axis are listed in ``reduced`` (consumed by a
reduction), ``indexed`` (iterated by a scatter, landing on a data-dependent position) or
``reads`` (with their kind: a gather's data axis, or a slice / pad / concat input axis whose
extent differs from the output's, so it is a different iteration axis).
"""

from __future__ import annotations

from dataclasses import dataclass

AXIS_KINDS = ("identity", "broadcast", "permute", "split", "merge", "reshape", "reduce",
              "scatter_indexed", "slice", "pad", "concat", "gather_indexed")

InputAxis = tuple[int, int]  # (input position in node.inputs, axis of that input)


@dataclass(frozen=True)
class OutputAxis:
    kind: str
    sources: tuple[InputAxis, ...]  # input axes this output axis iterates


@dataclass(frozen=True)
class AxisRelation:
    outputs: tuple[OutputAxis, ...]
    reduced: tuple[InputAxis, ...] = ()
    indexed: tuple[InputAxis, ...] = ()
    reads: tuple[tuple[InputAxis, str], ...] = ()  # (input axis, kind) not iterated as is


def identity_relation(ndim: int, n_inputs: int = 1) -> AxisRelation:
    return AxisRelation(tuple(
        OutputAxis("identity", tuple((i, d) for i in range(n_inputs))) for d in range(ndim)
    ))


def windowed_axis(kind: str, sources: tuple[InputAxis, ...], same_extent: bool):
    """An output axis reading ``sources`` through an offset (slice, pad, concat): one
    iteration axis with them when the extents agree, else its own (``reads`` gets them)."""
    if same_extent:
        return OutputAxis(kind, sources), ()
    return OutputAxis(kind, ()), tuple((s, kind) for s in sources)

"""How an op's output axes relate to its input axes: the data the split analysis reads.

Every op declares, next to its TE compute, an :class:`AxisRelation`. Axis kinds:

- ``identity``: the output axis walks the same positions of the input axis;
- ``broadcast``: at least one input has extent 1 (or no axis) here and is re-read;
- ``permute``: the output axis is a different input axis (transpose);
- ``split`` / ``merge`` / ``reshape``: reshape groups (one input axis into several output
  axes, several into one, or several into several);
- ``reduce``: the output axis is a kept (extent-1) reduced axis;
- ``scatter_indexed``: the position along this output axis is read from an index tensor.

Input axes that do not reach any output axis are listed in ``reduced`` (consumed by a
reduction) or ``indexed`` (iterated by a scatter, landing on a data-dependent position).
"""

from __future__ import annotations

from dataclasses import dataclass

AXIS_KINDS = ("identity", "broadcast", "permute", "split", "merge", "reshape", "reduce",
              "scatter_indexed")

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


def identity_relation(ndim: int, n_inputs: int = 1) -> AxisRelation:
    return AxisRelation(tuple(
        OutputAxis("identity", tuple((i, d) for i in range(n_inputs))) for d in range(ndim)
    ))

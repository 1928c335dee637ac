"""The operator library: for every graph op, its TE stage and its axis relation.

``OPS[op]`` is an :class:`OpDef`. To add an op: add the builder method in ``graph.py`` (shape
and dtype rules), its compute and axis relation in the family module here, one line in
``OPS``, and a numpy rule in ``reference.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..graph import BINARY_OPS, REDUCE_OPS, SCATTER_OPS, UNARY_OPS, Node
from ..graph.elementwise import COMPARISON_OPS, LOGICAL_OPS
from . import elementwise, gather, layout, reduce, scatter
from .axes import AxisRelation, OutputAxis
from .scatter import ScatterStage


@dataclass(frozen=True)
class OpDef:
    family: str  # elementwise | reduce | layout (gathers too: injective) | scatter
    compute: Callable  # (node, list[te.Tensor]) -> te.Tensor | ScatterStage
    axes: Callable[[Node], AxisRelation]


OPS: dict[str, OpDef] = {
    **{op: OpDef("elementwise", elementwise.binary_compute, elementwise.binary_axes)
       for op in BINARY_OPS + tuple(COMPARISON_OPS) + LOGICAL_OPS},
    **{op: OpDef("elementwise", elementwise.unary_compute, elementwise.unary_axes)
       for op in UNARY_OPS},
    "where": OpDef("elementwise", elementwise.where_compute, elementwise.binary_axes),
    "cast": OpDef("elementwise", elementwise.cast_compute, elementwise.unary_axes),
    **{op: OpDef("reduce", reduce.reduce_compute, reduce.reduce_axes) for op in REDUCE_OPS},
    "transpose": OpDef("layout", layout.transpose_compute, layout.transpose_axes),
    "reshape": OpDef("layout", layout.reshape_compute, layout.reshape_axes),
    "broadcast_to": OpDef("layout", layout.broadcast_to_compute, layout.broadcast_to_axes),
    "slice": OpDef("layout", layout.slice_compute, layout.slice_axes),
    "concat": OpDef("layout", layout.concat_compute, layout.concat_axes),
    "pad": OpDef("layout", layout.pad_compute, layout.pad_axes),
    "gather": OpDef("layout", gather.gather_compute, gather.gather_axes),
    "gather_elements": OpDef("layout", gather.gather_elements_compute, gather.gather_elements_axes),
    "gather_nd": OpDef("layout", gather.gather_nd_compute, gather.gather_nd_axes),
    **{op: OpDef("scatter", scatter.scatter_compute, scatter.scatter_axes) for op in SCATTER_OPS},
}


def reduces_nothing(node: Node) -> bool:
    """A reduction of a scalar (no axes to reduce): its value is its input's."""
    return node.op in REDUCE_OPS and not node.attrs["axes"]


def family(node: Node) -> str:
    """``node``'s op family as templates see it: a reduction of a scalar is element-wise (it
    lowers to a copy, ``lower._stage``)."""
    return "elementwise" if reduces_nothing(node) or reduces_empty(node) else OPS[node.op].family


def reduces_empty(node: Node) -> bool:
    """A reduction over an axis of extent 0: a fill with its identity (``ops.reduce``)."""
    return node.op in REDUCE_OPS and any(node.inputs[0].shape[d] == 0
                                         for d in node.attrs["axes"])


def axis_relation(node: Node) -> AxisRelation:
    """How ``node``'s output axes relate to its input axes."""
    return OPS[node.op].axes(node)


__all__ = [
    "OPS",
    "AxisRelation",
    "OpDef",
    "OutputAxis",
    "ScatterStage",
    "axis_relation",
    "family",
    "reduces_nothing",
]

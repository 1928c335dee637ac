"""Gathers: Gather, GatherElements, GatherND (batch_dims 0) as plain TE computes.

The position along each gathered data axis is read from the index tensor (negative indices
wrap, as in ONNX). The kernel does no bounds check: index tensors are range-checked before
the kernel runs (``guards.index_checks``), and a gather whose indices are computed in the
kernel is cut from their producer (``fusion.py``), so the checked values are the ones read.

Axis relation: the output iterates the indices' axes (and the data axes that are not
gathered); a gathered data axis is read at data-dependent positions (``gather_indexed``), so
it is no iteration axis of the output and never a core split.
"""

from __future__ import annotations

from tvm import te, tirx

from ..graph import Node
from .axes import AxisRelation, OutputAxis
from .common import expr_dtype


def _wrap(raw, extent: int):
    zero = tirx.const(0, expr_dtype(raw))
    return tirx.Select(raw < zero, raw + tirx.const(extent, expr_dtype(raw)), raw).astype("int32")


def gather_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    data, indices = inputs
    axis, q = node.attrs["axis"], len(node.inputs[1].shape)
    extent = node.inputs[0].shape[axis]

    def body(*i):
        position = _wrap(indices[i[axis:axis + q]], extent)
        return data[i[:axis] + (position,) + i[axis + q:]]

    return te.compute(node.output.shape, body, name=node.name)


def gather_elements_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    data, indices = inputs
    axis = node.attrs["axis"]
    extent = node.inputs[0].shape[axis]

    def body(*i):
        return data[i[:axis] + (_wrap(indices[i], extent),) + i[axis + 1:]]

    return te.compute(node.output.shape, body, name=node.name)


def gather_nd_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    data, indices = inputs
    data_shape, k = node.inputs[0].shape, node.inputs[1].shape[-1]
    rows = len(node.inputs[1].shape) - 1

    def body(*i):
        position = tuple(_wrap(indices[i[:rows] + (j,)], data_shape[j]) for j in range(k))
        return data[position + i[rows:]]

    return te.compute(node.output.shape, body, name=node.name)


def gather_axes(node: Node) -> AxisRelation:
    data, indices = node.inputs
    axis = node.attrs["axis"]
    outputs = [OutputAxis("identity", ((0, d),)) for d in range(axis)]
    outputs += [OutputAxis("identity", ((1, d),)) for d in range(indices.ndim)]
    outputs += [OutputAxis("identity", ((0, d),)) for d in range(axis + 1, data.ndim)]
    return AxisRelation(tuple(outputs), reads=(((0, axis), "gather_indexed"),))


def gather_elements_axes(node: Node) -> AxisRelation:
    data, indices = node.inputs
    axis = node.attrs["axis"]
    outputs, reads = [], [((0, axis), "gather_indexed")]
    for d in range(data.ndim):
        if d != axis and indices.shape[d] == data.shape[d]:
            outputs.append(OutputAxis("identity", ((0, d), (1, d))))
        else:
            outputs.append(OutputAxis("identity", ((1, d),)))
            if d != axis:  # a prefix of the data axis: its own iteration axis
                reads.append(((0, d), "slice"))
    return AxisRelation(tuple(outputs), reads=tuple(reads))


def gather_nd_axes(node: Node) -> AxisRelation:
    data, indices = node.inputs
    k, rows = indices.shape[-1], indices.ndim - 1
    outputs = [OutputAxis("identity", ((1, r),)) for r in range(rows)]
    outputs += [OutputAxis("identity", ((0, d),)) for d in range(k, data.ndim)]
    reads = tuple(((0, d), "gather_indexed") for d in range(k))
    return AxisRelation(tuple(outputs), reads=reads + (((1, rows), "gather_indexed"),))

"""Scatter ops as two schedulable stages: a copy stage and an update stage.

``topi.scatter_*`` lowers to one opaque block that nothing can be scheduled in or fused into.
Here the output is first a plain TE copy of ``data`` (``<name>``); after ``create_prim_func``
an update block (``<name>_update``) is appended whose spatial iterators walk ``updates`` and
whose write position along each indexed axis is read from the index tensor (negative indices
wrap, as in ONNX). The update block declares ``reads(indices, updates)`` and
``writes(out[pos])``; the read-modify-write of the reducing modes is left out of ``reads`` so
the block stays "complete" and can be split, parallelised on a non-indexed axis and
vectorised. Within one thread the updates run in index order, so duplicate indices combine
exactly as the sequential ONNX reference does.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvm import te, tirx
from tvm.ir import Range
from tvm.s_tir import SBlock, SBlockRealize

from ..graph import Node
from .axes import AxisRelation, OutputAxis
from .common import expr_dtype
from .elementwise import _nan_propagating

COMBINE = {
    "none": lambda old, new: new,
    "add": lambda old, new: old + new,
    "mul": lambda old, new: old * new,
    "max": _nan_propagating(tirx.max),  # as np.maximum (reference.py): NaN in, NaN out
    "min": _nan_propagating(tirx.min),
}
UPDATE_ANNOTATION = "tvm_fusion.scatter_update"


@dataclass(frozen=True)
class ScatterStage:
    """The TE part of a scatter (the copy) plus what is needed to append its update block."""

    node: Node
    copy: te.Tensor  # the scatter's output tensor
    indices: te.Tensor
    updates: te.Tensor

    @property
    def parallel_axes(self) -> tuple[int, ...]:
        """Update-block iterators that never meet an index: safe to split across cores."""
        return scatter_parallel_axes(self.node)


def scatter_compute(node: Node, inputs: list[te.Tensor]) -> ScatterStage:
    data, indices, updates = inputs
    copy = te.compute(node.output.shape, lambda *i: data[i], name=node.name)
    return ScatterStage(node, copy, indices, updates)


def scatter_parallel_axes(node: Node) -> tuple[int, ...]:
    indices = node.inputs[1]
    if node.op == "scatter_nd":
        rows = indices.ndim - 1
        return tuple(range(rows, node.inputs[2].ndim))
    return tuple(d for d in range(indices.ndim) if d != node.attrs["axis"])


def parallel_iters_of_block(block) -> tuple[int, ...]:
    """The update block's iterators that are safe to split across cores (from its annotation)."""
    value = str(block.annotations[UPDATE_ANNOTATION])
    return tuple(int(v) for v in value.split(",") if v)


def _wrap(raw, extent: int):
    raw = tirx.Select(raw < tirx.const(0, expr_dtype(raw)), raw + tirx.const(extent, expr_dtype(raw)), raw)
    return raw.astype("int32")


def update_block(stage: ScatterStage, out_buf, indices_buf, updates_buf):
    """The loop nest of the update block, writing into ``out_buf`` (the copy's buffer)."""
    node = stage.node
    data_shape = node.inputs[0].shape
    upd_shape = node.inputs[2].shape
    loop_vars = [tirx.Var(f"u{d}", "int32") for d in range(len(upd_shape))]
    iter_vars = [tirx.IterVar(Range(0, n), tirx.Var(f"v{d}", "int32"), tirx.IterVar.DataPar)
                 for d, n in enumerate(upd_shape)]
    v = [iv.var for iv in iter_vars]
    index_reads = []
    if node.op == "scatter_nd":
        k = node.inputs[1].shape[-1]
        rows = v[: len(upd_shape) - (len(data_shape) - k)]
        position = [_wrap(tirx.BufferLoad(indices_buf, [*rows, j]), data_shape[j]) for j in range(k)]
        position += v[len(rows):]
        index_reads.append([Range.from_min_extent(r, 1) for r in rows] + [Range(0, k)])
    else:
        axis = node.attrs["axis"]
        position = list(v)
        position[axis] = _wrap(tirx.BufferLoad(indices_buf, v), data_shape[axis])
        index_reads.append([Range.from_min_extent(x, 1) for x in v])
    new = tirx.BufferLoad(updates_buf, v)
    value = COMBINE[node.attrs["reduction"]](tirx.BufferLoad(out_buf, position), new)
    block = SBlock(
        iter_vars,
        reads=[tirx.BufferRegion(indices_buf, index_reads[0]),
               tirx.BufferRegion(updates_buf, [Range.from_min_extent(x, 1) for x in v])],
        writes=[tirx.BufferRegion(out_buf, [Range.from_min_extent(p, 1) for p in position])],
        name_hint=f"{node.name}_update",
        body=tirx.BufferStore(out_buf, value, position),
        annotations={UPDATE_ANNOTATION: ",".join(map(str, stage.parallel_axes))},
    )
    body = SBlockRealize(loop_vars, True, block)
    for var, extent in reversed(list(zip(loop_vars, upd_shape))):
        body = tirx.For(var, 0, extent, tirx.ForKind.SERIAL, body)
    return body


def scatter_axes(node: Node) -> AxisRelation:
    data, indices, _updates = node.inputs
    outputs, indexed = [], []
    if node.op == "scatter_nd":
        k = indices.shape[-1]
        rows = indices.ndim - 1
        for d in range(data.ndim):
            if d < k:
                outputs.append(OutputAxis("scatter_indexed", ((0, d),)))
            else:
                outputs.append(OutputAxis("identity", ((0, d), (2, rows + d - k))))
        indexed = [(1, r) for r in range(rows)] + [(2, r) for r in range(rows)]
    else:
        axis = node.attrs["axis"]
        for d in range(data.ndim):
            if d == axis:
                outputs.append(OutputAxis("scatter_indexed", ((0, d),)))
            else:
                outputs.append(OutputAxis("identity", ((0, d), (1, d), (2, d))))
        indexed = [(1, axis), (2, axis)]
    return AxisRelation(tuple(outputs), indexed=tuple(indexed))

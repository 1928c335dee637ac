"""Scatters of the graph builder (ONNX ScatterElements and ScatterND, every reduction)."""

from __future__ import annotations

from .core import INDEX_DTYPES, GraphError, Tensor, format_shape

SCATTER_OPS = ("scatter_elements", "scatter_nd")
SCATTER_REDUCTIONS = ("none", "add", "mul", "max", "min")


class ScatterOps:
    """Mixin of :class:`Graph`."""

    def scatter_elements(self, data: Tensor, indices: Tensor, updates: Tensor, axis: int = 0,
                         reduction: str = "none", *, name: str | None = None) -> Tensor:
        """ONNX ScatterElements: ``out[..., indices[i, j], ...] (op)= updates[i, j]`` on ``axis``."""
        op = "scatter_elements"
        self._check_scatter_operands(op, data, indices, updates, reduction)
        axis = self._normalize_axis(op, data, axis)
        if indices.ndim != data.ndim:
            raise GraphError(f"{op}: indices '{indices.name}' must have the rank of data "
                             f"'{data.name}': expected {data.ndim}, got {indices.ndim}")
        if indices.shape != updates.shape:
            raise GraphError(f"{op}: updates '{updates.name}' must have the shape of indices "
                             f"'{indices.name}': expected {format_shape(indices.shape)}, "
                             f"got {format_shape(updates.shape)}")
        for d in range(data.ndim):
            if d != axis and indices.shape[d] > data.shape[d]:
                raise GraphError(f"{op}: indices '{indices.name}' dim {d} is {indices.shape[d]}, "
                                 f"expected <= data '{data.name}' dim {data.shape[d]}")
        attrs = {"axis": axis, "reduction": reduction}
        return self._add_node(op, name, (data, indices, updates), attrs, data.shape, data.dtype)

    def scatter_nd(self, data: Tensor, indices: Tensor, updates: Tensor,
                   reduction: str = "none", *, name: str | None = None) -> Tensor:
        """ONNX ScatterND: ``out[indices[i]] (op)= updates[i]``; ``indices`` is (..., K)."""
        op = "scatter_nd"
        self._check_scatter_operands(op, data, indices, updates, reduction)
        if indices.ndim < 1 or not 1 <= indices.shape[-1] <= data.ndim:
            raise GraphError(f"{op}: the last dim of indices '{indices.name}' "
                             f"{format_shape(indices.shape)} must be in 1..{data.ndim} "
                             f"(the rank of data '{data.name}')")
        k = indices.shape[-1]
        expected = indices.shape[:-1] + data.shape[k:]
        if updates.shape != expected:
            raise GraphError(f"{op}: updates '{updates.name}' must have shape indices.shape[:-1] "
                             f"+ data.shape[{k}:]: expected {format_shape(expected)}, "
                             f"got {format_shape(updates.shape)}")
        attrs = {"reduction": reduction}
        return self._add_node(op, name, (data, indices, updates), attrs, data.shape, data.dtype)

    def _check_scatter_operands(self, op, data, indices, updates, reduction) -> None:
        self._own(data, op, "data")
        self._own(indices, op, "indices")
        self._own(updates, op, "updates")
        if indices.dtype not in INDEX_DTYPES:
            raise GraphError(f"{op}: indices '{indices.name}' must be int32 or int64, "
                             f"got {indices.dtype}")
        if updates.dtype != data.dtype:
            raise GraphError(f"{op}: updates '{updates.name}' must have the dtype of data "
                             f"'{data.name}': expected {data.dtype}, got {updates.dtype}")
        if reduction not in SCATTER_REDUCTIONS:
            raise GraphError(f"{op} into '{data.name}': reduction must be one of "
                             f"{', '.join(SCATTER_REDUCTIONS)}, got {reduction!r}")
        if reduction != "none" and data.dtype == "bool":
            raise GraphError(f"{op}: reduction '{reduction}' needs numeric data, "
                             f"'{data.name}' is bool")
        if data.ndim == 0:
            raise GraphError(f"{op}: data '{data.name}' must have rank >= 1")

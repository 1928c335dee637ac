"""Gathers of the graph builder (ONNX Gather, GatherElements, GatherND with batch_dims 0).

Indices may be negative (counted from the end, as in ONNX); the compiled kernels do no bounds
checks, so index tensors are range-checked before every call (``guards.index_checks``).
"""

from __future__ import annotations

from .core import INDEX_DTYPES, GraphError, Tensor, format_shape

GATHER_OPS = ("gather", "gather_elements", "gather_nd")


class GatherOps:
    """Mixin of :class:`Graph`."""

    def gather(self, data: Tensor, indices: Tensor, axis: int = 0, *,
               name: str | None = None) -> Tensor:
        """ONNX Gather: ``out[a, i, j, b] = data[a, indices[i, j], b]`` on ``axis``."""
        op = "gather"
        self._check_gather_operands(op, data, indices)
        axis = self._normalize_axis(op, data, axis)
        shape = data.shape[:axis] + indices.shape + data.shape[axis + 1:]
        return self._add_node(op, name, (data, indices), {"axis": axis}, shape, data.dtype)

    def gather_elements(self, data: Tensor, indices: Tensor, axis: int = 0, *,
                        name: str | None = None) -> Tensor:
        """ONNX GatherElements: ``out[i, j] = data[indices[i, j], j]`` on ``axis`` 0."""
        op = "gather_elements"
        self._check_gather_operands(op, data, indices)
        axis = self._normalize_axis(op, data, axis)
        if indices.ndim != data.ndim:
            raise GraphError(f"{op}: indices '{indices.name}' must have the rank of data "
                             f"'{data.name}': expected {data.ndim}, got {indices.ndim}")
        for d in range(data.ndim):
            if d != axis and indices.shape[d] > data.shape[d]:
                raise GraphError(f"{op}: indices '{indices.name}' dim {d} is {indices.shape[d]}, "
                                 f"expected <= data '{data.name}' dim {data.shape[d]}")
        return self._add_node(op, name, (data, indices), {"axis": axis}, indices.shape,
                              data.dtype)

    def gather_nd(self, data: Tensor, indices: Tensor, *, name: str | None = None) -> Tensor:
        """ONNX GatherND (batch_dims 0): ``out[i] = data[indices[i]]``; indices is (..., K)."""
        op = "gather_nd"
        self._check_gather_operands(op, data, indices)
        if indices.ndim < 1 or not 1 <= indices.shape[-1] <= data.ndim:
            raise GraphError(f"{op}: the last dim of indices '{indices.name}' "
                             f"{format_shape(indices.shape)} must be in 1..{data.ndim} "
                             f"(the rank of data '{data.name}')")
        shape = indices.shape[:-1] + data.shape[indices.shape[-1]:]
        return self._add_node(op, name, (data, indices), {}, shape, data.dtype)

    def _check_gather_operands(self, op, data, indices) -> None:
        self._own(data, op, "data")
        self._own(indices, op, "indices")
        if indices.dtype not in INDEX_DTYPES:
            raise GraphError(f"{op}: indices '{indices.name}' must be int32 or int64, "
                             f"got {indices.dtype}")
        if data.ndim == 0:
            raise GraphError(f"{op}: data '{data.name}' must have rank >= 1")

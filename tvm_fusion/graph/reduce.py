"""Reductions of the graph builder (ONNX semantics: ``axes=None`` reduces every axis)."""

from __future__ import annotations

import numpy as np

from .core import NUMERIC_DTYPES, GraphError, Tensor, format_shape

REDUCE_OPS = ("reduce_sum", "reduce_max", "reduce_min", "reduce_mean", "reduce_prod")


class ReduceOps:
    """Mixin of :class:`Graph`."""

    def reduce_sum(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_sum", x, axes, keepdims, name)

    def reduce_max(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_max", x, axes, keepdims, name)

    def reduce_min(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_min", x, axes, keepdims, name)

    def reduce_mean(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_mean", x, axes, keepdims, name)

    def reduce_prod(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_prod", x, axes, keepdims, name)

    def _reduce(self, op: str, x: Tensor, axes, keepdims: bool, name) -> Tensor:
        self._own(x, op, "input")
        if x.dtype not in NUMERIC_DTYPES:
            raise GraphError(f"{op}: input '{x.name}' has dtype {x.dtype}, expected one of "
                             f"{', '.join(NUMERIC_DTYPES)}")
        if axes is None or (not isinstance(axes, (int, np.integer)) and len(axes) == 0):
            norm = tuple(range(x.ndim))
        else:
            axes = [int(axes)] if isinstance(axes, (int, np.integer)) else list(axes)
            norm = tuple(self._normalize_axis(op, x, a) for a in axes)
            if len(set(norm)) != len(norm):
                twice = next(a for a in norm if norm.count(a) > 1)
                raise GraphError(f"{op}: axes {axes} of '{x.name}' {format_shape(x.shape)} name "
                                 f"axis {twice} twice, expected distinct axes")
            norm = tuple(sorted(norm))
        keepdims = bool(keepdims)
        shape = tuple(1 if d in norm else n for d, n in enumerate(x.shape) if keepdims or d not in norm)
        attrs = {"axes": norm, "keepdims": keepdims}
        return self._add_node(op, name, (x,), attrs, shape, x.dtype)

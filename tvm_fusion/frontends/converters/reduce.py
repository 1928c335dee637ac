"""Reduction converters (ReduceSum/Max/Min/Mean/Prod, axes as attribute or input)."""

from __future__ import annotations

from ...graph import Tensor
from .common import ints


def _reduce(kind: str):
    op = "reduce_" + kind

    def convert(ctx, data: Tensor, axes=None, *, keepdims: int = 1,
                noop_with_empty_axes: int = 0) -> Tensor:
        axes = [] if axes is None else ints(axes)
        if not axes:
            if noop_with_empty_axes or data.ndim == 0:
                return data
            axes = list(range(data.ndim))
        if data.dtype == "bool" and kind in ("max", "min"):  # ReduceMax/Min-20: any / all
            # uint8: over no elements max is 0 (False) and min 255 (True), as in ONNX
            wide = ctx.g.cast(data, "uint8", name=ctx.tmp("uint8"))
            reduced = getattr(ctx.g, op)(wide, axes, bool(keepdims), name=ctx.tmp(kind))
            return ctx.g.cast(reduced, "bool", name=ctx.out)
        return getattr(ctx.g, op)(data, axes, bool(keepdims), name=ctx.out)

    convert.__name__ = op
    return convert


CONVERTERS = {
    "ReduceSum": _reduce("sum"), "ReduceMax": _reduce("max"), "ReduceMin": _reduce("min"),
    "ReduceMean": _reduce("mean"), "ReduceProd": _reduce("prod"),
}
STATIC_INPUTS = {op: (1,) for op in CONVERTERS}  # axes

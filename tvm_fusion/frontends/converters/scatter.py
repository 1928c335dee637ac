"""Scatter converters: ScatterElements, ScatterND (every reduction)."""

from __future__ import annotations

from ...graph import Tensor


def scatter_elements(ctx, data: Tensor, indices: Tensor, updates: Tensor, *, axis: int = 0,
                     reduction: str = "none") -> Tensor:
    return ctx.g.scatter_elements(data, indices, updates, axis, reduction, name=ctx.out)


def scatter_nd(ctx, data: Tensor, indices: Tensor, updates: Tensor, *,
               reduction: str = "none") -> Tensor:
    return ctx.g.scatter_nd(data, indices, updates, reduction, name=ctx.out)


CONVERTERS = {"ScatterElements": scatter_elements, "ScatterND": scatter_nd}
STATIC_INPUTS: dict[str, tuple[int, ...]] = {}

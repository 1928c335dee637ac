"""Gather converters: Gather, GatherElements, GatherND (batch_dims 0)."""

from __future__ import annotations

from ...graph import Tensor
from .common import ConvertError


def gather(ctx, data: Tensor, indices: Tensor, *, axis: int = 0) -> Tensor:
    return ctx.g.gather(data, indices, axis, name=ctx.out)


def gather_elements(ctx, data: Tensor, indices: Tensor, *, axis: int = 0) -> Tensor:
    return ctx.g.gather_elements(data, indices, axis, name=ctx.out)


def gather_nd(ctx, data: Tensor, indices: Tensor, *, batch_dims: int = 0) -> Tensor:
    if batch_dims != 0:
        raise ConvertError(f"GatherND batch_dims={batch_dims} is not supported (only 0): "
                           "fold the batch axes into the indices before import")
    return ctx.g.gather_nd(data, indices, name=ctx.out)


CONVERTERS = {"Gather": gather, "GatherElements": gather_elements, "GatherND": gather_nd}
STATIC_INPUTS: dict[str, tuple[int, ...]] = {}

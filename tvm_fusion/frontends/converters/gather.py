"""Gather converters: Gather, GatherElements, GatherND."""

from __future__ import annotations

import numpy as np

from ...graph import Tensor
from .common import ConvertError


def gather(ctx, data: Tensor, indices: Tensor, *, axis: int = 0) -> Tensor:
    return ctx.g.gather(data, indices, axis, name=ctx.out)


def gather_elements(ctx, data: Tensor, indices: Tensor, *, axis: int = 0) -> Tensor:
    return ctx.g.gather_elements(data, indices, axis, name=ctx.out)


def gather_nd(ctx, data: Tensor, indices: Tensor, *, batch_dims: int = 0) -> Tensor:
    """``batch_dims`` b > 0: the same as b = 0 with each index tuple prefixed by its own batch
    position (a constant concatenated on the last axis of ``indices``)."""
    if batch_dims == 0:
        return ctx.g.gather_nd(data, indices, name=ctx.out)
    batch = indices.shape[:batch_dims]
    if not 0 < batch_dims < min(indices.ndim, data.ndim + 1) or \
            tuple(data.shape[:batch_dims]) != tuple(batch):
        raise ConvertError(f"GatherND batch_dims={batch_dims}: data {list(data.shape)} and "
                           f"indices {list(indices.shape)} must share their first "
                           f"{batch_dims} dimensions, and indices needs more")
    rows = indices.shape[:-1]
    coords = np.indices(batch).reshape(batch_dims, *batch, *[1] * (len(rows) - batch_dims))
    coords = np.moveaxis(np.broadcast_to(coords, (batch_dims, *rows)), 0, -1)
    prefix = ctx.g.constant(np.ascontiguousarray(coords, dtype=indices.dtype),
                            name=ctx.tmp("batch_positions"))
    full = ctx.g.concat([prefix, indices], axis=-1, name=ctx.tmp("batch_indices"))
    return ctx.g.gather_nd(data, full, name=ctx.out)


CONVERTERS = {"Gather": gather, "GatherElements": gather_elements, "GatherND": gather_nd}
STATIC_INPUTS: dict[str, tuple[int, ...]] = {}

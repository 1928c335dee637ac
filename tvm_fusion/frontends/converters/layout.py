"""Layout converters: Transpose, Reshape, Expand, Squeeze, Unsqueeze, Flatten, Tile."""

from __future__ import annotations

import math

from ...graph import Tensor, format_shape
from .common import ConvertError, axis_index, ints


def _reshape_to(ctx, x: Tensor, shape) -> Tensor:
    shape = tuple(int(d) for d in shape)
    return x if shape == x.shape else ctx.g.reshape(x, shape, name=ctx.out)


def transpose(ctx, data: Tensor, *, perm=None) -> Tensor:
    return ctx.g.transpose(data, perm, name=ctx.out)


def reshape(ctx, data: Tensor, shape, *, allowzero: int = 0) -> Tensor:
    dims = ints(shape)
    if allowzero and 0 in dims:  # 0 is a size
        return ctx.g.reshape(data, dims, allowzero=True, name=ctx.out)
    if not allowzero:  # 0 copies the input dimension (checked by Graph.reshape)
        dims = [data.shape[i] if d == 0 and i < data.ndim else d for i, d in enumerate(dims)]
    if -1 not in dims and math.prod(dims) == data.size:
        return _reshape_to(ctx, data, dims)
    return ctx.g.reshape(data, dims, name=ctx.out)


def expand(ctx, x: Tensor, shape) -> Tensor:
    """Bidirectional broadcast: the result has the broadcast of ``x.shape`` and ``shape``."""
    target = ints(shape)
    rank = max(x.ndim, len(target))
    a = (1,) * (rank - x.ndim) + x.shape
    b = (1,) * (rank - len(target)) + tuple(target)
    if any(da != db and 1 not in (da, db) for da, db in zip(a, b)):
        raise ConvertError(f"cannot broadcast input '{x.name}' {format_shape(x.shape)} with "
                           f"shape {target} (each pair of dims must be equal or contain a 1)")
    out = tuple(max(da, db) if 0 not in (da, db) else 0 for da, db in zip(a, b))
    if 0 in out:
        raise ConvertError(f"Expand to {list(out)} is a zero-size tensor, which tvm-fusion "
                           "does not support")
    if out == x.shape:
        return x
    return ctx.g.broadcast_to(x, out, name=ctx.out)


def squeeze(ctx, data: Tensor, axes=None) -> Tensor:
    if axes is None or not ints(axes):
        drop = {i for i, d in enumerate(data.shape) if d == 1}
    else:
        drop = {axis_index(a, data.ndim, "Squeeze") for a in ints(axes)}
        for a in sorted(drop):
            if data.shape[a] != 1:
                raise ConvertError(f"Squeeze axis {a} of '{data.name}' {format_shape(data.shape)}"
                                   f" has size {data.shape[a]}, expected 1")
    return _reshape_to(ctx, data, [d for i, d in enumerate(data.shape) if i not in drop])


def unsqueeze(ctx, data: Tensor, axes) -> Tensor:
    axes = ints(axes)
    rank = data.ndim + len(axes)
    norm = sorted(axis_index(a, rank, "Unsqueeze") for a in axes)
    if len(set(norm)) != len(norm):
        raise ConvertError(f"Unsqueeze axes {axes} name the same output axis twice")
    dims = iter(data.shape)
    return _reshape_to(ctx, data, [1 if i in norm else next(dims) for i in range(rank)])


def flatten(ctx, input: Tensor, *, axis: int = 1) -> Tensor:
    if not -input.ndim <= axis <= input.ndim:
        raise ConvertError(f"Flatten axis {axis} is out of range for rank {input.ndim}, "
                           f"expected in [{-input.ndim}, {input.ndim}]")
    axis = axis % input.ndim if axis < 0 else axis
    shape = (math.prod(input.shape[:axis]), math.prod(input.shape[axis:]))
    return _reshape_to(ctx, input, shape)


def tile(ctx, input: Tensor, repeats) -> Tensor:
    """``out[k * d + j] = x[j]`` per axis: x viewed as (1, d0, 1, d1, ...), broadcast to
    (r0, d0, r1, d1, ...) and flattened pairwise (layout ops only, so it fuses)."""
    reps = ints(repeats)
    if len(reps) != input.ndim or any(r < 1 for r in reps):
        raise ConvertError(f"Tile repeats {reps} must hold {input.ndim} positive entries (one "
                           f"per axis of '{input.name}' {format_shape(input.shape)})")
    if all(r == 1 for r in reps):
        return input
    spread = [d for pair in zip([1] * input.ndim, input.shape) for d in pair]
    target = [d for pair in zip(reps, input.shape) for d in pair]
    view = ctx.g.reshape(input, spread, name=ctx.tmp("spread"))
    wide = ctx.g.broadcast_to(view, target, name=ctx.tmp("repeated"))
    return ctx.g.reshape(wide, [r * d for r, d in zip(reps, input.shape)], name=ctx.out)


CONVERTERS = {
    "Tile": tile,
    "Transpose": transpose, "Reshape": reshape, "Expand": expand, "Squeeze": squeeze,
    "Unsqueeze": unsqueeze, "Flatten": flatten,
}
STATIC_INPUTS = {"Reshape": (1,), "Expand": (1,), "Squeeze": (1,), "Unsqueeze": (1,),
                 "Tile": (1,)}  # shapes, axes, repeats

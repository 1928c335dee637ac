"""Slicing converters: Slice, Concat, Split, Pad (constant, edge, reflect and wrap modes).

Split becomes one ``slice`` per output (a converter may return a tuple); Pad's ``pads``,
``constant_value`` and ``axes`` and Slice's ``starts``/``ends``/``axes``/``steps`` must be
constants (``STATIC_INPUTS``). Ends are clamped as ONNX says (INT_MAX / INT_MIN sentinels
included: Python's slice semantics are ONNX's).
"""

from __future__ import annotations

import numpy as np

from ...graph import PAD_MODES, Tensor, format_shape
from .common import ConvertError, axis_index, ints


def slice_(ctx, data: Tensor, starts=None, ends=None, axes=None, steps=None) -> Tensor:
    if starts is None or ends is None:
        raise ConvertError("Slice needs starts and ends")
    starts, ends = ints(starts), ints(ends)
    axes = list(range(len(starts))) if axes is None else ints(axes)
    steps = None if steps is None else ints(steps)
    whole = True
    for k, a in enumerate(axes):
        extent = data.shape[axis_index(a, data.ndim, "Slice")]
        step = 1 if steps is None else steps[k]
        whole &= step == 1 and slice(starts[k], ends[k]).indices(extent)[:2] == (0, extent)
    if whole:  # exporters slice whole axes (function bodies, [:, :]): an identity
        return data
    return ctx.g.slice(data, starts, ends, axes, steps, name=ctx.out)


def concat(ctx, *inputs: Tensor, axis: int) -> Tensor:
    present = [t for t in inputs if t is not None]
    if len(present) == 1:
        return present[0]
    return ctx.g.concat(present, axis, name=ctx.out)


def split(ctx, input: Tensor, split=None, *, axis: int = 0, num_outputs: int | None = None):
    """One slice per output; ``split`` (input or, before opset 13, attribute) gives the sizes,
    else ``num_outputs`` (opset 18: ceil-sized pieces, the last smaller) or the output count."""
    d = axis_index(axis, input.ndim, "Split")
    extent = input.shape[d]
    count = len(ctx.outputs)
    if split is not None:
        sizes = ints(split)
    else:
        pieces = num_outputs if num_outputs is not None else count
        size = -(-extent // pieces)
        sizes = [min(size, extent - k * size) for k in range(pieces)]
    if len(sizes) != count or sum(sizes) != extent:
        raise ConvertError(f"Split of '{input.name}' {format_shape(input.shape)} on axis {axis}: "
                           f"sizes {sizes} must be {count} entries (one per output) adding up "
                           f"to {extent}")
    if any(s < 0 for s in sizes):
        raise ConvertError(f"Split of '{input.name}': sizes {sizes} must not be negative")
    if count == 1:
        return input
    outputs, start = [], 0
    for k, size in enumerate(sizes):
        outputs.append(ctx.g.slice(input, [start], [start + size], [d],
                                   name=ctx.output_name(k)))
        start += size
    return tuple(outputs)


def pad(ctx, data: Tensor, pads=None, constant_value=None, axes=None, *,
        mode: str = "constant", value: float = 0.0, paddings=None) -> Tensor:
    if mode not in PAD_MODES:
        raise ConvertError(f"Pad mode '{mode}' is not supported (only {', '.join(PAD_MODES)})")
    widths = ints(pads if pads is not None else paddings)
    fill = value if constant_value is None else np.ravel(constant_value)
    if constant_value is not None:
        fill = fill[0].item() if fill.size else 0
    axes = None if axes is None else [axis_index(a, data.ndim, "Pad") for a in ints(axes)]
    if all(w == 0 for w in widths):
        return data
    return ctx.g.pad(data, widths, fill, axes, mode=mode, name=ctx.out)


CONVERTERS = {"Slice": slice_, "Concat": concat, "Split": split, "Pad": pad}
STATIC_INPUTS = {"Slice": (1, 2, 3, 4), "Split": (1,), "Pad": (1, 2, 3)}

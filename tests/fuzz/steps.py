"""One step per graph op: pick operands of a dtype the op accepts, draw its attributes, add it.

``STEPS`` must name every op of ``tvm_fusion.ops.OPS``; ``graphs.py`` refuses an op without a
step ("not covered by the fuzzer"). Reductions and layout ops are here, element-wise ops in
``elementwise.py``, scatters and gathers in ``indexed.py``.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from tvm_fusion.graph import (
    BINARY_OPS,
    FLOAT_DTYPES,
    GATHER_OPS,
    NUMERIC_DTYPES,
    REDUCE_OPS,
    SCATTER_OPS,
    UNARY_OPS,
)

from . import elementwise, indexed
from .builder import DTYPES, MAX_ELEMENTS, Builder
from .elementwise import COMPARISONS, LOGICAL


def reduce(b: Builder, op: str):
    x = b.pick(NUMERIC_DTYPES)
    ndim, style = x.tensor.ndim, b.draw(st.integers(0, 7))
    if ndim == 0 or style == 6:
        axes = None
    elif style == 7:
        axes = []
    elif style == 5:
        axes = b.draw(st.integers(-ndim, ndim - 1))
    else:
        axes = b.draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                               unique_by=lambda a: a % ndim))
    return b.apply(op, x, axes=axes, keepdims=b.draw(st.booleans()))


def transpose(b: Builder, op: str):
    x = b.pick(DTYPES)
    perm = None if b.draw(st.integers(0, 4)) == 0 else b.draw(st.permutations(range(x.tensor.ndim)))
    return b.apply(op, x, perm=perm)


def factorization(b: Builder, size: int) -> list[int]:
    """A random shape of ``size`` elements: its prime factors spread over 0..4 axes."""
    factors, n, p = [], size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    rank = b.draw(st.integers(1 if size > 1 else 0, 4))
    shape = [1] * rank
    for f in factors:
        shape[b.draw(st.integers(0, rank - 1))] *= f
    return shape


def reshape(b: Builder, op: str):
    x = b.pick(DTYPES)
    shape = factorization(b, x.tensor.size)
    if shape and b.draw(st.booleans()):
        shape[b.draw(st.integers(0, len(shape) - 1))] = -1
    for i, n in enumerate(shape):  # 0 copies the input's dim at the same position
        if i < x.tensor.ndim and n == x.tensor.shape[i] and b.draw(st.booleans()):
            shape[i] = 0
    return b.apply(op, x, shape=shape)


def broadcast_to(b: Builder, op: str):
    x = b.pick(DTYPES)
    shape = [b.draw(st.sampled_from((1, 2, 3, 5))) if n == 1 else n for n in x.tensor.shape]
    lead = [b.draw(st.sampled_from((1, 2, 3))) for _ in range(b.draw(st.integers(0, 2)))]
    shape = lead + shape
    if math.prod(shape) > MAX_ELEMENTS:
        shape = list(x.tensor.shape)
    return b.apply(op, x, shape=shape)


def slice_(b: Builder, op: str):
    x = b.pick(DTYPES, min_rank=1)
    ndim = x.tensor.ndim
    axes = b.draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                           unique_by=lambda a: a % ndim))
    starts, ends, steps = [], [], []
    for axis in axes:
        n = x.tensor.shape[axis]
        step = b.draw(st.sampled_from((1, 1, 2, 3, -1, -2)))
        start = b.draw(st.integers(-n - 2, n + 2))
        end = b.draw(st.sampled_from((b.draw(st.integers(-n - 2, n + 2)), 2**31 - 1, -(2**31))))
        if not range(*slice(start, end, step).indices(n)):  # empty: the whole axis instead
            start, end = (0, n) if step > 0 else (n - 1, -n - 1)
        starts.append(start), ends.append(end), steps.append(step)
    if axes == list(range(len(axes))) and b.draw(st.booleans()):
        axes = None  # the default: the leading axes
    if set(steps) == {1} and b.draw(st.booleans()):
        steps = None
    return b.apply(op, x, starts=starts, ends=ends, axes=axes, steps=steps)


def fits_beside(shape, axis: int):
    """Values of ``shape`` but on ``axis``: what concat can join."""
    def ok(v) -> bool:
        return v.tensor.ndim == len(shape) and all(
            p == q for d, (p, q) in enumerate(zip(v.tensor.shape, shape)) if d != axis % len(shape))

    return ok


def concat(b: Builder, op: str):
    first = b.pick(DTYPES, min_rank=1)
    axis = b.draw(st.integers(-first.tensor.ndim, first.tensor.ndim - 1))
    parts = [first]
    for _ in range(b.draw(st.integers(0, 2))):
        shape = list(first.tensor.shape)
        shape[axis] = b.draw(st.sampled_from((1, 2, 3, 5)))
        parts.append(b.pick((first.tensor.dtype,), fits_beside(shape, axis), shape=tuple(shape)))
    if sum(v.tensor.size for v in parts) > MAX_ELEMENTS:
        parts = parts[:1]
    return b.apply(op, *parts, axis=axis)


def pad_values(dtype: str) -> tuple:
    if dtype == "bool":
        return False, True
    if dtype in FLOAT_DTYPES:
        return 0.0, -1.5, 2.25
    return (0, 7) if np.dtype(dtype).kind == "u" else (0, -3, 7)


def pad(b: Builder, op: str):
    x = b.pick(DTYPES)
    ndim = x.tensor.ndim
    axes = None if ndim == 0 or b.draw(st.booleans()) else b.draw(st.lists(
        st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim, unique_by=lambda a: a % ndim))
    padded = list(range(ndim)) if axes is None else axes
    # negative pads crop: at most n - 1 in all off one axis, so every axis keeps an element
    before = [b.draw(st.integers(-min(2, x.tensor.shape[a] - 1), 3)) for a in padded]
    after = [b.draw(st.integers(-(x.tensor.shape[a] - 1 + min(0, p)), 3))
             for a, p in zip(padded, before)]
    grown = math.prod(n + 6 for n in x.tensor.shape)
    if grown > MAX_ELEMENTS:
        before, after = [min(p, 0) for p in before], [min(p, 0) for p in after]
    value = b.draw(st.sampled_from(pad_values(x.tensor.dtype)))
    return b.apply(op, x, pads=before + after, value=value, axes=axes)


STEPS = {
    **{op: elementwise.binary for op in (*BINARY_OPS, *COMPARISONS, *LOGICAL)},
    **{op: elementwise.unary for op in UNARY_OPS},
    "where": elementwise.where,
    "cast": elementwise.cast,
    **{op: reduce for op in REDUCE_OPS},
    "transpose": transpose,
    "reshape": reshape,
    "broadcast_to": broadcast_to,
    "slice": slice_,
    "concat": concat,
    "pad": pad,
    **{op: getattr(indexed, op) for op in GATHER_OPS + SCATTER_OPS},
}
ACCEPTS = {**elementwise.ACCEPTS, "cast": DTYPES, **{op: NUMERIC_DTYPES for op in REDUCE_OPS},
           **{op: DTYPES for op in ("transpose", "reshape", "broadcast_to", "slice", "concat",
                                    "pad", *GATHER_OPS)}}

"""Steps for the ops that read indices: scatters and gathers (``steps.py`` has the rest).

Index tensors are graph inputs, constants or computed in the graph (then the range check
reads an intermediate and fusion cuts before the op); about a third of the indices are
negative; duplicates only where they are well defined (gathers, reducing scatters).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from tvm_fusion.graph import INDEX_DTYPES, NUMERIC_DTYPES, SCATTER_REDUCTIONS

from .builder import DTYPES, MAX_ELEMENTS, Builder, Value


def index_tensor(b: Builder, values, dtype: str) -> Value:
    """The indices as an input or a constant, or computed in the graph (neg of a source):
    then they are checked from an intermediate and the scatter is cut from them."""
    values = np.asarray(values)
    if b.draw(st.integers(0, 3)) == 0:
        b.covered.add(("indices", "computed"))
        return b.apply("neg", b.source(values.shape, dtype, -values))
    return b.source(values.shape, dtype, values)


def signed(b: Builder, rows, extent):
    """Indices ``rows`` in [0, extent), about a third of them written negative."""
    negative = b.rng.random(np.shape(rows)) < 0.35
    if negative.any():
        b.covered.add(("indices", "negative"))
    return np.where(negative, rows - extent, rows)


def updates_for(b: Builder, shape, dtype: str) -> Value:
    return b.pick((dtype,), lambda v: v.tensor.shape == tuple(shape), shape=tuple(shape))


def scatter_elements(b: Builder, op: str):
    reduction = b.draw(st.sampled_from(SCATTER_REDUCTIONS))
    dtype = b.draw(st.sampled_from(DTYPES if reduction == "none" else NUMERIC_DTYPES))
    data = b.pick((dtype,), min_rank=1)
    ndim = data.tensor.ndim
    axis = b.draw(st.integers(-ndim, ndim - 1))
    ax, extent = axis % ndim, data.tensor.shape[axis]
    shape = [b.draw(st.integers(1, n)) for n in data.tensor.shape]
    if reduction == "none":  # unique along the axis within every fibre
        shape[ax] = b.draw(st.integers(1, extent))
        fibres = [b.rng.permutation(extent)[:shape[ax]] for _ in range(math.prod(shape) // shape[ax])]
        rest = [n for d, n in enumerate(shape) if d != ax]
        rows = np.moveaxis(np.array(fibres).reshape(rest + [shape[ax]]), -1, ax)
    else:  # duplicates combine
        shape[ax] = b.draw(st.integers(1, extent + 2))
        rows = b.rng.integers(0, extent, size=shape)
        if np.any(np.diff(np.sort(rows, axis=ax), axis=ax) == 0):
            b.covered.add(("duplicates", f"{op}/{reduction}"))
    indices = index_tensor(b, signed(b, rows, extent), b.draw(st.sampled_from(INDEX_DTYPES)))
    updates = updates_for(b, shape, data.tensor.dtype)
    return b.apply(op, data, indices, updates, detail=f"{reduction}/{data.tensor.dtype}",
                   axis=axis, reduction=reduction)


def scatter_nd(b: Builder, op: str):
    reduction = b.draw(st.sampled_from(SCATTER_REDUCTIONS))
    dtypes = (b.draw(st.sampled_from(DTYPES if reduction == "none" else NUMERIC_DTYPES)),)
    if b.draw(st.booleans()):  # the pool is the data
        data = b.pick(dtypes, min_rank=1)
        k = b.draw(st.integers(1, data.tensor.ndim))
        lead = data.tensor.shape[:k]
        count = b.draw(st.integers(1, math.prod(lead) + (0 if reduction == "none" else 2)))
        batch = [count]
        if count % 2 == 0 and b.draw(st.booleans()):
            batch = [2, count // 2]  # indices (2, count / 2, k)
        updates = None
    else:  # the pool is the updates: its rows land in a taller data tensor
        updates = b.pick(dtypes, min_rank=1)
        count, batch, k = updates.tensor.shape[0], [updates.tensor.shape[0]], 1
        lead = (count + b.draw(st.integers(0, 3)),)
        data = b.source(lead + updates.tensor.shape[1:], updates.tensor.dtype)
    flat = b.rng.permutation(math.prod(lead))[:count] if reduction == "none" else \
        b.rng.integers(0, math.prod(lead), size=count)
    if len(set(flat.tolist())) < count:
        b.covered.add(("duplicates", f"{op}/{reduction}"))
    rows = signed(b, np.stack(np.unravel_index(flat, lead), axis=-1), np.array(lead))
    indices = index_tensor(b, rows.reshape(batch + [k]), b.draw(st.sampled_from(INDEX_DTYPES)))
    if updates is None:
        updates = updates_for(b, batch + list(data.tensor.shape[k:]), data.tensor.dtype)
    return b.apply(op, data, indices, updates, detail=f"{reduction}/{data.tensor.dtype}",
                   reduction=reduction)


def gather(b: Builder, op: str):
    data = b.pick(DTYPES, min_rank=1)
    axis = b.draw(st.integers(-data.tensor.ndim, data.tensor.ndim - 1))
    extent = data.tensor.shape[axis]
    shape = [b.draw(st.sampled_from((1, 2, 3, 5))) for _ in range(b.draw(st.integers(0, 2)))]
    if data.tensor.size // extent * math.prod(shape) > MAX_ELEMENTS:
        shape = [1]
    rows = b.rng.integers(0, extent, size=shape)  # duplicates are fine: a gather only reads
    indices = index_tensor(b, signed(b, rows, extent), b.draw(st.sampled_from(INDEX_DTYPES)))
    return b.apply(op, data, indices, axis=axis)


def gather_elements(b: Builder, op: str):
    data = b.pick(DTYPES, min_rank=1)
    ndim = data.tensor.ndim
    axis = b.draw(st.integers(-ndim, ndim - 1))
    extent = data.tensor.shape[axis]
    shape = [b.draw(st.integers(1, n)) for n in data.tensor.shape]
    shape[axis % ndim] = b.draw(st.integers(1, extent + 2))
    rows = b.rng.integers(0, extent, size=shape)
    indices = index_tensor(b, signed(b, rows, extent), b.draw(st.sampled_from(INDEX_DTYPES)))
    return b.apply(op, data, indices, axis=axis)


def gather_nd(b: Builder, op: str):
    data = b.pick(DTYPES, min_rank=1)
    k = b.draw(st.integers(1, data.tensor.ndim))
    lead = data.tensor.shape[:k]
    batch = [b.draw(st.sampled_from((1, 2, 3, 5))) for _ in range(b.draw(st.integers(0, 2)))]
    if math.prod(batch) * math.prod(data.tensor.shape[k:]) > MAX_ELEMENTS:
        batch = [1]
    flat = b.rng.integers(0, math.prod(lead), size=math.prod(batch))
    rows = signed(b, np.stack(np.unravel_index(flat, lead), axis=-1), np.array(lead))
    indices = index_tensor(b, rows.reshape(batch + [k]), b.draw(st.sampled_from(INDEX_DTYPES)))
    return b.apply(op, data, indices)

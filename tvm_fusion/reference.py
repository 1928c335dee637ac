"""A numpy interpreter for graphs: the oracle that ``compile`` is checked against.

Every rule follows ONNX (and ``onnx.reference``): fp16 element-wise ops round per op,
transcendental fp16 math and fp16 sums/means/products are computed in fp32 and rounded once,
integer sums wrap in their dtype, integer division and means truncate toward zero, scatter
applies updates in index order (``ufunc.at``), so duplicates combine sequentially.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ml_dtypes
import numpy as np

from .graph import FLOAT8_DTYPES, Graph, Node

F32 = np.float32
BFLOAT16 = np.dtype(ml_dtypes.bfloat16)  # like fp16: math and sums in fp32, rounded once


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(F32) if x.dtype in (np.float16, BFLOAT16) else x


def _div(a, b):
    if np.issubdtype(a.dtype, np.integer):
        q = np.floor_divide(a, b)
        return q + ((q < 0) & (q * b != a)).astype(a.dtype)
    return a / b


def _unary_float(fn):
    return lambda x: fn(_wide(x)).astype(x.dtype)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _power(a, b):
    """``np.power(a, b)`` in ``a``'s dtype (ONNX Pow); integers to integer powers in float64,
    truncated (onnxruntime's way: a negative exponent gives the truncated real power, which
    numpy refuses; a result beyond the dtype's range is undefined)."""
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return np.power(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)
    return np.power(a, b).astype(a.dtype)


def _cast(n, x):
    """``astype``; to float8 through float32, clamped first when the cast saturates (ONNX's
    default: ``ml_dtypes`` itself overflows to infinity or NaN)."""
    dtype = n.attrs["dtype"]
    if dtype not in FLOAT8_DTYPES:
        return x.astype(dtype)
    x = x.astype(np.float32)
    if n.attrs.get("saturate", True):
        top = float(ml_dtypes.finfo(dtype).max)
        x = np.clip(x, -top, top)  # NaN stays NaN
    return x.astype(dtype)


def _isinf(node: Node, x):
    negative, positive = node.attrs["detect_negative"], node.attrs["detect_positive"]
    return (negative & np.isneginf(x)) | (positive & np.isposinf(x))


def _reduce(kind: str):
    def run(node: Node, x: np.ndarray) -> np.ndarray:
        axes, keep = node.attrs["axes"], node.attrs["keepdims"]
        if kind in ("max", "min"):  # over no elements: the lowest / highest value (ONNX)
            initial = {"max": -np.inf, "min": np.inf}[kind] if x.dtype.kind in "fV" else \
                getattr(np.iinfo(x.dtype), "min" if kind == "max" else "max")
            return getattr(np, kind)(x, axis=axes, keepdims=keep,
                                     **({"initial": initial} if x.size == 0 else {}))
        if kind == "mean" and np.issubdtype(x.dtype, np.integer):
            total = np.sum(x, axis=axes, keepdims=keep, dtype=x.dtype)
            wide = np.uint64 if x.dtype.kind == "u" else np.int64  # a count may not fit x's
            count = np.array(int(np.prod([x.shape[a] for a in axes])), dtype=wide)
            return np.asarray(_div(np.asarray(total, dtype=wide), count)).astype(x.dtype)
        fn = {"sum": np.sum, "prod": np.prod, "mean": np.mean}[kind]
        wide = _wide(x)
        return np.asarray(fn(wide, axis=axes, keepdims=keep, dtype=wide.dtype)).astype(x.dtype)

    return run


SCATTER_UFUNC = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _scatter_apply(out, position, updates, reduction):
    if reduction == "none":
        out[position] = updates
    else:
        SCATTER_UFUNC[reduction].at(out, position, updates)
    return out


def scatter_nd(node: Node, data, indices, updates):
    k = indices.shape[-1]
    wrapped = np.where(indices < 0, indices + np.array(data.shape[:k]), indices)
    rows = wrapped.reshape(-1, k)
    upd = updates.reshape((rows.shape[0],) + data.shape[k:])
    out = data.copy()
    if node.attrs["reduction"] == "none":  # sequential: the last duplicate wins
        for r in range(rows.shape[0]):
            out[tuple(rows[r])] = upd[r]
        return out
    return _scatter_apply(out, tuple(rows.T), upd, node.attrs["reduction"])


def scatter_elements(node: Node, data, indices, updates):
    axis = node.attrs["axis"]
    wrapped = np.where(indices < 0, indices + data.shape[axis], indices)
    position = list(np.indices(indices.shape, sparse=True))
    position[axis] = wrapped
    position = tuple(np.broadcast_arrays(*position))
    out = data.copy()
    if node.attrs["reduction"] == "none":
        for flat in range(indices.size):
            at = tuple(p.flat[flat] for p in position)
            out[at] = updates.flat[flat]
        return out
    return _scatter_apply(out, position, updates, node.attrs["reduction"])


def _slice(node: Node, x):
    index = tuple(slice(b, None if b + s * n < 0 else b + s * n, s) for b, s, n in
                  zip(node.attrs["begin"], node.attrs["step"], node.output.shape))
    return np.ascontiguousarray(x[index])


def _pad(node: Node, x):
    if x.ndim == 0:  # nothing to pad (np.pad refuses a scalar)
        return x.copy()
    crop = tuple(slice(max(0, -b), n - max(0, -e)) for b, e, n in
                 zip(node.attrs["before"], node.attrs["after"], x.shape))
    widths = [(max(0, b), max(0, e)) for b, e in zip(node.attrs["before"], node.attrs["after"])]
    mode = node.attrs.get("mode", "constant")
    if mode != "constant":
        return np.pad(x[crop], widths, mode=mode)
    return np.pad(x[crop], widths, constant_values=np.array(node.attrs["value"], x.dtype))


def _wrapped(indices, extent):
    return np.where(indices < 0, indices + extent, indices)


def _gather_elements(node: Node, data, indices):
    """ONNX GatherElements: ``out[i, j] = data[indices[i, j], j]``; indices may be smaller
    than data off the axis (``np.take_along_axis`` would broadcast them), so crop data first."""
    axis = node.attrs["axis"]
    crop = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(indices.shape))
    return np.take_along_axis(data[crop], _wrapped(indices, data.shape[axis]), axis)


def gather_nd(node: Node, data, indices):
    k = indices.shape[-1]
    wrapped = _wrapped(indices, np.array(data.shape[:k]))
    return data[tuple(np.moveaxis(wrapped, -1, 0))]


NUMPY: dict[str, Callable] = {
    "add": lambda n, a, b: a + b,
    "sub": lambda n, a, b: a - b,
    "mul": lambda n, a, b: a * b,
    "div": lambda n, a, b: _div(a, b),
    "maximum": lambda n, a, b: np.maximum(a, b),
    "minimum": lambda n, a, b: np.minimum(a, b),
    "pow": lambda n, a, b: _power(a, b),
    "mod": lambda n, a, b: np.fmod(a, b) if n.attrs["fmod"] else np.mod(a, b),
    "equal": lambda n, a, b: np.equal(a, b),
    "less": lambda n, a, b: np.less(a, b),
    "less_equal": lambda n, a, b: np.less_equal(a, b),
    "greater": lambda n, a, b: np.greater(a, b),
    "greater_equal": lambda n, a, b: np.greater_equal(a, b),
    "logical_and": lambda n, a, b: np.logical_and(a, b),
    "logical_or": lambda n, a, b: np.logical_or(a, b),
    "logical_xor": lambda n, a, b: np.logical_xor(a, b),
    "where": lambda n, c, a, b: np.where(c, a, b),
    "neg": lambda n, x: -x,
    "abs": lambda n, x: np.abs(x),
    "relu": lambda n, x: np.maximum(x, np.zeros((), x.dtype)),
    "exp": lambda n, x: _unary_float(np.exp)(x),
    "sqrt": lambda n, x: _unary_float(np.sqrt)(x),
    "sigmoid": lambda n, x: _unary_float(_sigmoid)(x),
    "tanh": lambda n, x: _unary_float(np.tanh)(x),
    "log": lambda n, x: _unary_float(np.log)(x),
    "erf": lambda n, x: _unary_float(_erf)(x),
    "floor": lambda n, x: np.floor(x),
    "ceil": lambda n, x: np.ceil(x),
    "round": lambda n, x: np.round(x),  # halves to even
    "sign": lambda n, x: np.sign(x),
    "isnan": lambda n, x: np.isnan(x),
    "isinf": _isinf,
    "logical_not": lambda n, x: np.logical_not(x),
    "cast": _cast,
    "reduce_sum": _reduce("sum"),
    "reduce_max": _reduce("max"),
    "reduce_min": _reduce("min"),
    "reduce_mean": _reduce("mean"),
    "reduce_prod": _reduce("prod"),
    "transpose": lambda n, x: np.ascontiguousarray(np.transpose(x, n.attrs["perm"])),
    "reshape": lambda n, x: x.reshape(n.attrs["shape"]),
    "broadcast_to": lambda n, x: np.ascontiguousarray(np.broadcast_to(x, n.attrs["shape"])),
    "slice": _slice,
    "concat": lambda n, *xs: np.concatenate(xs, axis=n.attrs["axis"]),
    "pad": _pad,
    "gather": lambda n, d, i: np.take(d, _wrapped(i, d.shape[n.attrs["axis"]]), n.attrs["axis"]),
    "gather_elements": _gather_elements,
    "gather_nd": gather_nd,
    "scatter_nd": scatter_nd,
    "scatter_elements": scatter_elements,
}


def evaluate(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every tensor of ``graph`` (inputs, constants, node outputs) by name, computed with numpy."""
    values = dict(graph.constants)
    values.update(inputs)
    with np.errstate(all="ignore"):
        for node in graph.nodes:
            result = NUMPY[node.op](node, *(values[t.name] for t in node.inputs))
            values[node.name] = np.asarray(result, dtype=node.output.dtype).reshape(
                node.output.shape)
    return values


def run(graph: Graph, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Evaluate ``graph`` with numpy; returns the outputs in output order."""
    values = evaluate(graph, inputs)
    return tuple(values[t.name] for t in graph.outputs)


def compare(outputs, expected, *, half: bool = False) -> tuple[bool, float]:
    """Do ``outputs`` match the oracle's ``expected``? Returns ``(ok, max |error|)``.

    Tolerances fit the dtype: fp16 outputs 1e-3; otherwise 1e-4 relative and 1e-4 of the
    largest expected magnitude (sums in another order). ``half=True`` when the graph computes
    in fp16 and the oracle does not round there (onnxruntime adds fp16 in fp32): 1e-2.
    """
    ok, worst = True, 0.0
    for out, exp in zip(outputs, expected):
        exp = np.asarray(exp)
        if out.shape != exp.shape:
            return False, float("inf")
        if half:
            rtol = atol = 1e-2
        elif out.dtype == np.float16:
            rtol = atol = 1e-3
        else:
            finite = np.abs(exp[np.isfinite(exp)]) if exp.dtype.kind == "f" else np.abs(exp)
            rtol, atol = 1e-4, 1e-4 * max(1.0, float(np.max(finite, initial=0)))
        ok &= bool(np.allclose(out, exp, rtol=rtol, atol=atol, equal_nan=True))
        if out.size:
            worst = max(worst, float(np.nanmax(np.abs(out.astype(np.float64) - exp))))
    return ok, worst

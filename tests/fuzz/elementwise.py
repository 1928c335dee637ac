"""Steps for the element-wise ops: unary, binary (arithmetic, comparisons, logical), where,
cast. ``ACCEPTS`` is every op's operand dtypes, for the steps and the coverage test.

A comparison, a rounding op (floor, ceil, round, sign), a remainder or a float-to-int/bool
cast turns a last-ulp difference into a different result, so they read only bit-reproducible
values (``Value.exact``); divisors stay away from zero.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tvm_fusion.graph import BINARY_OPS, FLOAT_DTYPES, NUMERIC_DTYPES, UNARY_OPS

from .builder import DTYPES, Builder, Value, broadcast_partner, compatible, safe_divisor

COMPARISONS = {"equal": DTYPES, "less": NUMERIC_DTYPES, "less_equal": NUMERIC_DTYPES,
               "greater": NUMERIC_DTYPES, "greater_equal": NUMERIC_DTYPES}
LOGICAL = {op: ("bool",) for op in ("logical_and", "logical_or", "logical_xor")}
ACCEPTS = {**{op: NUMERIC_DTYPES for op in BINARY_OPS}, **COMPARISONS, **LOGICAL, **UNARY_OPS,
           "where": DTYPES}
DISCONTINUOUS = ("floor", "ceil", "round", "sign", "mod", *COMPARISONS)
DIVIDES = ("div", "mod")
POSITIVE = {"sqrt": 0, "log": 1e-3}  # op -> the smallest input it gets
SIGNED = tuple(d for d in NUMERIC_DTYPES if np.dtype(d).kind != "u")
SAME_DTYPE_UNARY = ("neg", "abs", "relu", "exp", "sigmoid", "tanh")


def exact(v: Value) -> bool:
    return v.exact


def unary(b: Builder, op: str):
    x = b.pick(ACCEPTS[op], exact if op in DISCONTINUOUS else lambda v: True)
    if op in POSITIVE and np.any(x.array < POSITIVE[op]):  # keep NaN and -inf out
        x = b.apply("abs", x)
    attrs = {}
    if op == "isinf":
        attrs = {"detect_negative": b.draw(st.booleans()), "detect_positive": b.draw(st.booleans())}
    return b.apply(op, x, **attrs)


def divisor(b: Builder, shape, dtype: str) -> Value:
    sign = b.rng.choice([-1, 1], size=shape) if dtype in SIGNED else np.ones(shape, int)
    magnitude = b.rng.integers(1, 4, size=shape) if dtype not in FLOAT_DTYPES else \
        b.rng.uniform(0.5, 2.0, size=shape)
    return b.source(shape, dtype, sign * magnitude)


def branch(b: Builder, x: Value) -> Value | None:
    """A value of x's dtype computed from ``x`` that still broadcasts with it."""
    ops = [op for op in SAME_DTYPE_UNARY if x.tensor.dtype in UNARY_OPS.get(op, ())]
    op = b.draw(st.sampled_from(ops + ["reduce_max", "reduce_sum", "reduce_mean"]))
    if x.tensor.dtype == "bool":
        return None
    if not op.startswith("reduce") or x.tensor.ndim == 0:
        return b.apply(op if not op.startswith("reduce") else "neg", x)
    axes = b.draw(st.lists(st.integers(-x.tensor.ndim, x.tensor.ndim - 1), min_size=1,
                           max_size=x.tensor.ndim, unique_by=lambda a: a % x.tensor.ndim))
    return b.apply(op, x, axes=axes, keepdims=True)


def partner(b: Builder, op: str, a: Value) -> Value:
    """The second operand of ``op``: ``a`` itself, a value computed from it (a diamond), a
    pooled value or a new source, broadcasting with ``a``."""
    dtype = a.tensor.dtype
    ok = compatible(a)
    if op in DISCONTINUOUS:
        ok = (lambda v: compatible(a)(v) and v.exact)
    if op in DIVIDES:
        ok = (lambda v, base=ok: base(v) and safe_divisor(v))
    how = b.draw(st.sampled_from(("pooled", "branch", "itself", "new", "new")))
    if how == "itself" and ok(a):
        other = a
    elif how == "branch":
        other = branch(b, a) or a
    elif how == "pooled":
        other = b.pick((dtype,), ok, shape=broadcast_partner(b, a))
    else:
        other = b.source(broadcast_partner(b, a), dtype)
    if not ok(other):
        other = divisor(b, other.tensor.shape, dtype) if op in DIVIDES else \
            b.source(other.tensor.shape, dtype)
    return other


def exponent(b: Builder, base: Value) -> Value:
    """Small integer powers (as ints or floats), or fractional ones of a positive base."""
    dtype = b.draw(st.sampled_from(NUMERIC_DTYPES))
    shape = broadcast_partner(b, base)
    # an integer 0 to a negative power is infinity cast to an integer: undefined (numpy gives
    # 0, LLVM -32768 for int16; ONNX says nothing), so only a base without zeros gets -1
    defined = base.tensor.dtype in FLOAT_DTYPES or np.all(base.array != 0)
    choices = [-1, 0, 1, 2, 3] if dtype in SIGNED and defined else [0, 1, 2, 3]
    values = b.rng.choice(choices, size=shape)
    if dtype in FLOAT_DTYPES and np.all(base.array > 0):
        values = values + b.rng.choice([0, 0.5], size=shape)
    return b.source(shape, dtype, values)


def binary(b: Builder, op: str):
    dtype = b.draw(st.sampled_from(ACCEPTS[op]))
    a = b.pick((dtype,), exact if op in DISCONTINUOUS else lambda v: True)
    if op == "pow":
        return b.apply(op, a, exponent(b, a))
    other = partner(b, op, a)
    if op not in DIVIDES and b.draw(st.booleans()):
        a, other = other, a
    attrs = {"fmod": b.draw(st.integers(0, 1))} if op == "mod" else {}
    return b.apply(op, a, other, **attrs)


def where(b: Builder, op: str):
    dtype = b.draw(st.sampled_from(DTYPES))
    x = b.pick((dtype,))
    y = partner(b, "add", x)
    condition = b.pick(("bool",), compatible(x), shape=broadcast_partner(b, x))
    if not compatible(x)(condition) or not compatible(y)(condition):
        condition = b.source(broadcast_partner(b, x), "bool")
    return b.apply(op, condition, x, y, detail=dtype)


def cast(b: Builder, op: str):
    target = b.draw(st.sampled_from(DTYPES))
    # float to int/bool only of bit-reproducible floats: a last-ulp difference would flip it
    x = b.pick(DTYPES, lambda v: v.exact or target in FLOAT_DTYPES)
    if x.tensor.dtype in FLOAT_DTYPES and target not in FLOAT_DTYPES and not x.exact:
        x = b.source(x.tensor.shape, x.tensor.dtype)
    return b.apply("cast", x, detail=f"{x.tensor.dtype}->{target}", dtype=target)

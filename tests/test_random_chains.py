"""Random chains of 3-7 ops mixing every op family, compiled and checked against numpy.

The generator keeps the numbers comparable: float-to-int/bool casts only follow exactly
reproducible float math (no transcendental, no reordered sum), integer data stays small so
nothing overflows, divisors stay away from zero, and tensors stay under ``MAX_ELEMENTS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tvm_fusion as tf
from tvm_fusion.inspect_ir import global_intermediates
from tvm_fusion.graph import UNARY_OPS

MAX_ELEMENTS = 2048
DIMS = (1, 2, 3, 5, 7, 13)
FAMILIES = ("unary", "binary", "cast", "reduce", "transpose", "reshape", "broadcast",
            "scatter_nd", "scatter_elements")
INEXACT_UNARY = ("exp", "log", "sqrt", "sigmoid", "tanh", "erf")
STEP_UNARY = ("floor", "ceil", "round", "sign")  # jump at a boundary: only of exact values
BOOL_UNARY = ("isnan", "isinf", "logical_not")


@dataclass
class Chain:
    graph: tf.Graph = field(default_factory=lambda: tf.Graph("chain"))
    inputs: dict = field(default_factory=dict)
    rng: np.random.Generator = None
    exact: bool = True  # every float value so far is bit-reproducible across backends
    families: list = field(default_factory=list)

    def new_input(self, shape, dtype, values=None):
        name = f"in{len(self.inputs)}"
        if values is None:
            if dtype in ("int32", "int64"):
                values = self.rng.integers(-3, 4, size=shape)
            elif dtype == "bool":
                values = self.rng.random(shape) < 0.5
            else:
                values = self.rng.standard_normal(shape)
        self.inputs[name] = np.asarray(values).astype(dtype).reshape(shape)
        return self.graph.input(name, shape, dtype)


def _unary(draw, c, x):
    ops = [op for op, dtypes in UNARY_OPS.items()
           if x.dtype in dtypes and (c.exact or op not in STEP_UNARY)]
    op = draw(st.sampled_from(ops))
    if op in INEXACT_UNARY:
        c.exact = False
    if op in ("sqrt", "log"):  # keep NaN and -inf out of the chain (cancellations)
        x = c.graph.abs(x)
    if op == "log":
        x = c.graph.add(x, c.graph.constant(np.ones((), x.dtype)))
    y = getattr(c.graph, op)(x)
    if op in BOOL_UNARY:  # bool has no arithmetic: come back to a number right away
        y = c.graph.cast(y, draw(st.sampled_from(["float32", "int32"])))
    return y


def _binary(draw, c, x):
    op = draw(st.sampled_from(("add", "sub", "mul", "div", "maximum", "minimum", "pow", "mod")))
    if x.dtype.startswith("int") and op in ("mul", "pow") and not c.exact:
        op = "add"
    if op == "pow":  # a positive base to a power in [-1.5, 1.5]: no NaN, no overflow
        if x.dtype.startswith("int"):  # integer powers overflow: the float chain has them
            return c.graph.add(x, x)
        base = c.graph.add(c.graph.abs(x), c.graph.constant(np.ones((), x.dtype)))
        c.exact = False
        return c.graph.pow(base, c.new_input(x.shape[-1:], x.dtype,
                                             c.rng.uniform(-1.5, 1.5, x.shape[-1:])))
    if op == "mod" and not c.exact:  # jumps by the divisor: only of exact values
        op = "sub"
    keep = draw(st.lists(st.booleans(), min_size=x.ndim, max_size=x.ndim))
    drop = draw(st.integers(0, x.ndim))
    shape = tuple(d if k else 1 for d, k in zip(x.shape, keep))[drop:]
    values = None
    if op in ("div", "mod"):  # divisor magnitude in [1, 3] (ints) or [0.5, 2] (floats)
        sign = c.rng.choice([-1, 1], size=shape)
        if x.dtype.startswith("int"):
            values = sign * c.rng.integers(1, 4, size=shape)
        else:
            values = sign * c.rng.uniform(0.5, 2.0, size=shape)
    other = c.new_input(shape, x.dtype, values)
    return getattr(c.graph, op)(x, other)


def _cast(draw, c, x):
    choices = ["float32", "float16"]
    if x.dtype in ("int32", "int64", "bool") or c.exact:
        choices += ["int32", "int64", "bool"]
    dtype = draw(st.sampled_from([d for d in choices if d != x.dtype] or ["float32"]))
    if x.dtype.startswith("float") and dtype.startswith("int"):
        c.exact = True  # truncated to small integers: reproducible again
    y = c.graph.cast(x, dtype)
    if dtype == "bool":  # bool has no arithmetic: come back to a number right away
        y = c.graph.cast(y, draw(st.sampled_from(["float32", "int32"])))
    return y


def _reduce(draw, c, x):
    ops = ["reduce_sum", "reduce_max", "reduce_min", "reduce_mean"]
    if x.dtype.startswith("float") and math.prod(x.shape) <= 64:
        ops.append("reduce_prod")
    op = draw(st.sampled_from(ops))
    axes = draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=x.ndim,
                         unique_by=lambda a: a % x.ndim))
    keepdims = draw(st.booleans()) or len(axes) == x.ndim
    if x.dtype.startswith("float") and op not in ("reduce_max", "reduce_min"):
        c.exact = False
    return getattr(c.graph, op)(x, axes=axes, keepdims=keepdims)


def _transpose(draw, c, x):
    return c.graph.transpose(x, perm=draw(st.permutations(range(x.ndim))))


def _reshape(draw, c, x):
    kind = draw(st.sampled_from(("flatten", "merge", "split", "unsqueeze")))
    shape = list(x.shape)
    if kind == "flatten" or x.ndim == 1 and kind == "merge":
        return c.graph.reshape(x, (-1,))
    if kind == "merge" and x.ndim >= 2:
        i = draw(st.integers(0, x.ndim - 2))
        return c.graph.reshape(x, shape[:i] + [-1] + shape[i + 2:])
    if kind == "split":
        i = draw(st.integers(0, x.ndim - 1))
        factors = [f for f in range(2, shape[i]) if shape[i] % f == 0]
        if factors and x.ndim < 4:
            f = draw(st.sampled_from(factors))
            return c.graph.reshape(x, shape[:i] + [f, shape[i] // f] + shape[i + 1:])
    if x.ndim < 4:
        i = draw(st.integers(0, x.ndim))
        return c.graph.reshape(x, shape[:i] + [1] + shape[i:])
    return c.graph.reshape(x, (0, -1))


def _broadcast(draw, c, x):
    ones = [d for d, n in enumerate(x.shape) if n == 1]
    extent = draw(st.integers(2, 3))
    if ones and draw(st.booleans()):
        shape = list(x.shape)
        shape[draw(st.sampled_from(ones))] = extent
    elif x.ndim < 4:
        shape = [extent, *x.shape]
    else:
        return c.graph.abs(x) if x.dtype != "bool" else x
    if math.prod(shape) > MAX_ELEMENTS:
        return x
    return c.graph.broadcast_to(x, shape)


def _indices_for(c, extent, count, unique):
    """``count`` indices into an axis of ``extent``, a random mix of positive and negative."""
    rows = c.rng.permutation(extent)[:count] if unique else c.rng.integers(0, extent, count)
    negative = c.rng.random(count) < 0.3
    return np.where(negative, rows - extent, rows)


def _scatter_nd(draw, c, x):
    reduction = draw(st.sampled_from(("none", "add", "mul", "max", "min")))
    index_dtype = draw(st.sampled_from(("int32", "int64")))
    if draw(st.booleans()):  # the chain is the data
        k = draw(st.integers(1, x.ndim))
        lead = math.prod(x.shape[:k])
        count = draw(st.integers(1, min(lead, 6)))
        flat = _indices_for(c, lead, count, unique=reduction == "none")
        rows = np.stack(np.unravel_index(flat % lead, x.shape[:k]), axis=-1)
        rows = np.where(c.rng.random(rows.shape) < 0.3, rows - np.array(x.shape[:k]), rows)
        indices = c.new_input((count, k), index_dtype, rows)
        updates = c.new_input((count,) + x.shape[k:], x.dtype)
        return c.graph.scatter_nd(x, indices, updates, reduction=reduction)
    # the chain is the updates: rows of x land in a bigger data tensor
    extent = x.shape[0] + draw(st.integers(0, 3))
    data = c.new_input((extent,) + x.shape[1:], x.dtype)
    rows = _indices_for(c, extent, x.shape[0], unique=reduction == "none")
    indices = c.new_input((x.shape[0], 1), index_dtype, rows)
    return c.graph.scatter_nd(data, indices, x, reduction=reduction)


def _scatter_elements(draw, c, x):
    reduction = draw(st.sampled_from(("none", "add", "mul", "max", "min")))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    ax = axis % x.ndim
    shape = [draw(st.integers(1, n)) for n in x.shape]
    if reduction == "none":  # unique along the axis within every fibre
        fibres = [_indices_for(c, x.shape[ax], shape[ax], unique=True)
                  for _ in range(math.prod(shape) // shape[ax])]
        values = np.moveaxis(np.array(fibres).reshape(
            [n for d, n in enumerate(shape) if d != ax] + [shape[ax]]), -1, ax)
    else:
        values = c.rng.integers(-x.shape[ax], x.shape[ax], size=shape)
    indices = c.new_input(tuple(shape), draw(st.sampled_from(("int32", "int64"))), values)
    updates = c.new_input(tuple(shape), x.dtype)
    return c.graph.scatter_elements(x, indices, updates, axis=axis, reduction=reduction)


STEPS = {"unary": _unary, "binary": _binary, "cast": _cast, "reduce": _reduce,
         "transpose": _transpose, "reshape": _reshape, "broadcast": _broadcast,
         "scatter_nd": _scatter_nd, "scatter_elements": _scatter_elements}


@st.composite
def chains(draw) -> Chain:
    c = Chain(rng=np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    dtype = draw(st.sampled_from(("float32", "float32", "float16", "int32")))
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.sampled_from(DIMS)) for _ in range(rank))
    while math.prod(shape) > MAX_ELEMENTS // 4:
        shape = shape[1:]
    x = c.new_input(shape, dtype)
    for _ in range(draw(st.integers(3, 7))):
        family = draw(st.sampled_from(FAMILIES))
        if family.startswith("scatter") and x.dtype == "bool":
            family = "unary"
        y = STEPS[family](draw, c, x)
        if math.prod(y.shape) <= MAX_ELEMENTS:
            x = y
            c.families.append(family)
    c.graph.output(x)
    return c


def _assert_matches(c: Chain, out: np.ndarray) -> None:
    values = tf.reference.evaluate(c.graph, c.inputs)
    expected = values[c.graph.outputs[0].name]
    assert out.shape == expected.shape and out.dtype == expected.dtype
    if out.dtype.kind in "biu":
        np.testing.assert_array_equal(out, expected, err_msg=repr(c.graph))
        return
    # errors scale with the largest float value anywhere in the chain (cancellation)
    scale = max([1.0] + [float(np.max(np.abs(v[np.isfinite(v)]), initial=0))
                         for v in values.values() if v.dtype.kind == "f"])
    has_half = any(v.dtype == np.float16 for v in values.values())
    rtol = 2e-2 if has_half else 1e-4
    np.testing.assert_allclose(out.astype(np.float64), expected.astype(np.float64), rtol=rtol,
                               atol=rtol * scale, err_msg=repr(c.graph))


@settings(max_examples=100, deadline=None, derandomize=True, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chains())
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "per-op"])
def test_random_chain_matches_numpy(fuse: bool, c: Chain):
    fn = tf.compile(c.graph, fuse=fuse)
    (out,) = fn(**c.inputs)
    _assert_matches(c, out)
    for kernel in fn.kernels:  # fused by a template: no intermediate left in global memory
        if fuse and kernel.schedule != "fallback":
            assert global_intermediates(kernel.scheduled) == [], kernel.scheduled.script()


def test_generator_covers_every_family():
    seen = set()

    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(chains())
    def collect(c):
        seen.update(c.families)

    collect()
    assert seen == set(FAMILIES)

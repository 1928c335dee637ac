"""Reductions over every axis subset, keepdims on and off, every accepted dtype."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import assert_same, compile_fn, random_array

REDUCE_OPS = ("reduce_sum", "reduce_max", "reduce_min", "reduce_mean", "reduce_prod")
SHAPES = {1: (5,), 2: (7, 13), 3: (3, 5, 7), 4: (2, 3, 5, 7)}
# every subset of the axes of every rank; () means "no axes given" = all axes
AXIS_SUBSETS = [(rank, axes) for rank in SHAPES
                for n in range(rank + 1) for axes in itertools.combinations(range(rank), n)]


def _inputs(rng, op, shape, dtype):
    if dtype in ("int32", "int64"):
        if op in ("reduce_max", "reduce_min"):  # whole range: checks the reducer's identity
            info = np.iinfo(dtype)
            return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
        if op == "reduce_prod":  # no zeros; products of many factors wrap around
            return rng.choice(np.array([-3, -2, -1, 1, 2, 3], dtype), size=shape)
        return random_array(rng, shape, dtype, -50, 51)
    if op == "reduce_prod":  # magnitudes near 1 with random signs: no overflow, sign tracked
        x = rng.uniform(0.75, 1.3, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        return x.astype(dtype)
    if op in ("reduce_max", "reduce_min"):
        return random_array(rng, shape, dtype, -100, 100)
    return random_array(rng, shape, dtype, -1, 2)


def _trunc_mean(x: np.ndarray, axis, keepdims) -> np.ndarray:
    total = np.sum(x.astype(object), axis=axis, keepdims=keepdims)  # exact (Python ints)
    count = x.size // np.asarray(total).size
    mean = np.vectorize(lambda s: abs(s) // count * (1 if s >= 0 else -1), otypes=[object])(total)
    return np.asarray(mean).astype(x.dtype)


def oracle(op: str, x: np.ndarray, axes, keepdims: bool) -> np.ndarray:
    """numpy reference: fp16 computed in fp32 and rounded once, ints wrap in their own dtype."""
    axis = None if axes is None or len(axes) == 0 else tuple(axes)
    dtype = str(x.dtype)
    if dtype in ("int32", "int64"):
        if op == "reduce_mean":
            return _trunc_mean(x, axis, keepdims)
        fn = {"reduce_sum": np.sum, "reduce_prod": np.prod}.get(op)
        if fn is not None:
            return np.asarray(fn(x, axis=axis, keepdims=keepdims, dtype=x.dtype))
    wide = x.astype("float32") if dtype == "float16" else x
    fn = {"reduce_sum": np.sum, "reduce_max": np.max, "reduce_min": np.min,
          "reduce_mean": np.mean, "reduce_prod": np.prod}[op]
    return np.asarray(fn(wide, axis=axis, keepdims=keepdims)).astype(dtype)


def _check(out, expected, op, dtype):
    if op in ("reduce_max", "reduce_min"):  # exact operations, whatever the dtype
        assert str(out.dtype) == dtype and out.shape == expected.shape
        np.testing.assert_array_equal(out, expected)
    elif dtype == "float16":  # one rounding of the fp32 result: within ~2 fp16 ulps
        assert_same(out, expected, dtype, rtol=2e-3, atol=1e-3)
    else:
        assert_same(out, expected, dtype, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("keepdims", [True, False], ids=["keep", "drop"])
@pytest.mark.parametrize("rank,axes", AXIS_SUBSETS, ids=lambda v: str(v).replace(" ", ""))
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_every_axis_subset_float32(rng, op, rank, axes, keepdims):
    shape = SHAPES[rank]
    fn = compile_fn({"x": (shape, "float32")},
                    lambda g, x: getattr(g, op)(x, axes=list(axes), keepdims=keepdims))
    x = _inputs(rng, op, shape, "float32")
    (out,) = fn(x)
    expected = oracle(op, x, axes, keepdims)
    _check(out, expected, op, "float32")
    reduced = set(axes) or set(range(rank))
    if keepdims:
        assert out.shape == tuple(1 if d in reduced else n for d, n in enumerate(shape))
    else:
        assert out.shape == tuple(n for d, n in enumerate(shape) if d not in reduced)


DTYPE_AXES = [  # (axes, keepdims) on shape (3, 5, 7); negative axes included
    (None, False), ([1], True), ([-1], False), ([0, 2], True), ([-3, -2], False),
    ([2, -3, 1], True),
]


@pytest.mark.parametrize("axes,keepdims", DTYPE_AXES, ids=lambda v: str(v).replace(" ", ""))
@pytest.mark.parametrize("dtype", ["float16", "int32", "int64"])
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_dtypes(rng, op, dtype, axes, keepdims):
    shape = (3, 5, 7)
    fn = compile_fn({"x": (shape, dtype)},
                    lambda g, x: getattr(g, op)(x, axes=axes, keepdims=keepdims))
    x = _inputs(rng, op, shape, dtype)
    (out,) = fn(x)
    _check(out, oracle(op, x, axes, keepdims), op, dtype)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_negative_axes_equal_positive(rng, op):
    shape = (2, 3, 5, 7)

    def build(g, x):
        return (getattr(g, op)(x, axes=[-1, -3], keepdims=False),
                getattr(g, op)(x, axes=[1, 3], keepdims=False),
                getattr(g, op)(x, axes=-2))

    fn = compile_fn({"x": (shape, "float32")}, build)
    x = _inputs(rng, op, shape, "float32")
    negative, positive, single = fn(x)
    np.testing.assert_array_equal(negative, positive)
    _check(negative, oracle(op, x, (1, 3), False), op, "float32")
    _check(single, oracle(op, x, (2,), True), op, "float32")


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_default_and_empty_axes_reduce_everything(rng, op):
    shape = (3, 5, 7)
    fn = compile_fn({"x": (shape, "float32")},
                    lambda g, x: (getattr(g, op)(x), getattr(g, op)(x, axes=[]),
                                  getattr(g, op)(x, axes=None, keepdims=False)))
    x = _inputs(rng, op, shape, "float32")
    default, empty, scalar = fn(x)
    assert default.shape == empty.shape == (1, 1, 1)
    assert scalar.shape == ()
    expected = oracle(op, x, None, True)
    _check(default, expected, op, "float32")
    _check(empty, expected, op, "float32")
    _check(scalar, expected.reshape(()), op, "float32")


def test_float16_sum_accumulates_in_float32():
    # an fp16 accumulator stops at 2048 (2048 + 1 rounds back to 2048); fp32 reaches 4000
    x = np.ones((4000,), "float16")
    fn = compile_fn({"x": (x.shape, "float16")},
                    lambda g, t: (g.reduce_sum(t, keepdims=False), g.reduce_mean(t, keepdims=False)))
    total, mean = fn(x)
    assert total.dtype == np.float16 and total == 4000
    assert mean.dtype == np.float16 and mean == 1


def test_float16_extremes_for_max_min():
    x = np.full((3, 17), -60000.0, "float16")
    x[1, 5] = -65504.0
    fn = compile_fn({"x": (x.shape, "float16")},
                    lambda g, t: (g.reduce_max(t, axes=[1]), g.reduce_min(t, axes=[1])))
    big, small = fn(x)
    np.testing.assert_array_equal(big, x.max(axis=1, keepdims=True))
    np.testing.assert_array_equal(small, x.min(axis=1, keepdims=True))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_int_sum_wraps_in_own_dtype(dtype):
    info = np.iinfo(dtype)
    x = np.array([[info.max, 1, 5], [info.min, -1, -7]], dtype)
    fn = compile_fn({"x": (x.shape, dtype)}, lambda g, t: g.reduce_sum(t, axes=[1]))
    (out,) = fn(x)
    assert_same(out, np.sum(x, axis=1, keepdims=True, dtype=x.dtype))
    assert out[0, 0] == info.min + 5  # wrapped, not widened


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_int_mean_truncates_toward_zero(dtype):
    x = np.array([[1, 2, 2], [-1, -2, -2], [5, 0, 0], [-5, 0, 0], [-3, 1, 0]], dtype)
    fn = compile_fn({"x": (x.shape, dtype)},
                    lambda g, t: g.reduce_mean(t, axes=[-1], keepdims=False))
    (out,) = fn(x)
    # exact means: 5/3, -5/3, 5/3, -5/3, -2/3
    assert_same(out, np.array([1, -1, 1, -1, 0], dtype))


def test_reduce_rejects_bool():
    g = tf.Graph()
    x = g.input("flags", (3, 4), "bool")
    for op in REDUCE_OPS:
        with pytest.raises(tf.GraphError, match=rf"{op}: input 'flags' has dtype bool"):
            getattr(g, op)(x)


# Larger shapes reach the schedule's parallel (>= 4096 elements) and vectorised paths: an
# innermost kept axis that is a multiple of the vector width, one that is not, an innermost
# reduced axis. Values are small integers (sums and means exact in fp32, products powers of
# two), so every dtype is compared exactly.
LARGE_CASES = [((5, 61, 64), [1]), ((5, 61, 64), [0, 2]), ((7, 61, 59), [-1]),
               ((7, 61, 59), [0]), ((64, 61), [0]), ((3, 61, 59), None)]


def _exact_inputs(rng, op, shape, dtype):
    if op == "reduce_prod":  # mostly +-1, a few 2 and 1/2 (ints: 2 only)
        pool = [1, -1] * 20 + ([2, 2] if dtype.startswith("int") else [2, 0.5])
        return rng.choice(np.array(pool), size=shape).astype(dtype)
    if op in ("reduce_max", "reduce_min"):
        return rng.integers(-1000, 1000, size=shape).astype(dtype)
    return rng.integers(-4, 6, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int32", "int64"])
@pytest.mark.parametrize("case", LARGE_CASES, ids=lambda c: f"{c[0]}-{c[1]}".replace(" ", ""))
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_large_shapes_exact(rng, op, case, dtype):
    shape, axes = case
    fn = compile_fn({"x": (shape, dtype)}, lambda g, x: getattr(g, op)(x, axes=axes))
    x = _exact_inputs(rng, op, shape, dtype)
    (out,) = fn(x)
    expected = oracle(op, x, axes, True)
    assert str(out.dtype) == dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)

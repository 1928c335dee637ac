"""Element-wise ops (binary with broadcasting, unary, cast) against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import ALL_DTYPES, FLOAT_DTYPES, NUMERIC_DTYPES, assert_same, compile_fn, random_array

BINARY_SHAPES = [
    ((14, 185), (14, 185)),
    ((7, 61, 59), (7, 61, 59)),
    ((1, 13), (5, 13)),  # size-1 axis on the left operand
    ((3, 1, 5), (4, 1)),  # both broadcast, rank increase -> (3, 4, 5)
    ((59,), (7, 1, 59)),  # rank-1 against rank-3
    ((1,), (1,)),
]
UNARY_SHAPES = [(14, 185), (7, 61, 59), (1, 13), (3, 1, 5), (1,)]


def _trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division truncating toward zero, exactly (no float round trip)."""
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q).astype(a.dtype)


NUMPY_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": None,  # dtype dependent, see _binary_oracle
    "maximum": np.maximum,
    "minimum": np.minimum,
}


def _binary_oracle(op, a, b):
    if op == "div":
        return _trunc_div(*np.broadcast_arrays(a, b)) if a.dtype.kind == "i" else a / b
    return NUMPY_BINARY[op](a, b)


def _binary_operands(rng, op, dtype, shape_a, shape_b):
    if dtype in ("int32", "int64"):
        a = random_array(rng, shape_a, dtype, -1000, 1000)
        b = random_array(rng, shape_b, dtype, -1000, 1000)
        if op == "div":  # small nonzero divisors of both signs, so quotients are not all 0
            b = random_array(rng, shape_b, dtype, 1, 13) * rng.choice(np.array([-1, 1], dtype), shape_b)
        return a, b
    a = random_array(rng, shape_a, dtype, -4, 4)
    b = random_array(rng, shape_b, dtype, -4, 4)
    if op == "div":  # keep divisors away from zero
        b = (np.sign(b) * (np.abs(b) + 0.25)).astype(dtype)
    return a, b


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}".replace(" ", ""))
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES)
@pytest.mark.parametrize("op", list(NUMPY_BINARY))
def test_binary(rng, op, dtype, shapes):
    shape_a, shape_b = shapes
    fn = compile_fn({"a": (shape_a, dtype), "b": (shape_b, dtype)},
                    lambda g, a, b: getattr(g, op)(a, b))
    a, b = _binary_operands(rng, op, dtype, shape_a, shape_b)
    (out,) = fn(a=a, b=b)
    assert_same(out, _binary_oracle(op, a, b), dtype)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_int_div_truncates_toward_zero(dtype):
    a = np.array([7, -7, 7, -7, 1, -1, 0, 9, -9, 6, -6], dtype)
    b = np.array([2, 2, -2, -2, 3, 3, 5, 3, 3, -4, 4], dtype)
    fn = compile_fn({"a": (a.shape, dtype), "b": (b.shape, dtype)}, lambda g, x, y: g.div(x, y))
    (out,) = fn(a, b)
    assert_same(out, np.array([3, -3, -3, 3, 0, 0, 0, 3, -3, -1, -1], dtype))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_int_add_mul_wrap(dtype):
    info = np.iinfo(dtype)
    a = np.array([info.max, info.min, info.max // 2 + 7], dtype)
    b = np.array([1, -1, 3], dtype)
    fn = compile_fn({"a": (a.shape, dtype), "b": (b.shape, dtype)},
                    lambda g, x, y: (g.add(x, y), g.mul(x, y)))
    added, multiplied = fn(a, b)
    with np.errstate(over="ignore"):
        assert_same(added, a + b)
        assert_same(multiplied, a * b)


UNARY_ACCEPTS = {
    "neg": NUMERIC_DTYPES,
    "abs": NUMERIC_DTYPES,
    "relu": NUMERIC_DTYPES,
    "exp": FLOAT_DTYPES,
    "sqrt": FLOAT_DTYPES,
    "sigmoid": FLOAT_DTYPES,
    "tanh": FLOAT_DTYPES,
}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


NUMPY_UNARY = {
    "neg": np.negative,
    "abs": np.abs,
    "relu": lambda x: np.maximum(x, np.zeros((), x.dtype)),
    "exp": np.exp,
    "sqrt": np.sqrt,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
}
UNARY_RANGE = {  # input ranges: exp small, sqrt non-negative, the others both signs
    "neg": (-100, 100), "abs": (-100, 100), "relu": (-100, 100),
    "exp": (-4, 4), "sqrt": (0, 50), "sigmoid": (-8, 8), "tanh": (-4, 4),
}
UNARY_CASES = [(op, dtype) for op, dtypes in UNARY_ACCEPTS.items() for dtype in dtypes]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("op,dtype", UNARY_CASES)
def test_unary(rng, op, dtype, shape):
    fn = compile_fn({"x": (shape, dtype)}, lambda g, x: getattr(g, op)(x))
    low, high = UNARY_RANGE[op]
    x = random_array(rng, shape, dtype, low, high)
    (out,) = fn(x)
    if dtype == "float16":  # fp16 math is done in fp32 and rounded once
        expected = NUMPY_UNARY[op](x.astype("float32")).astype("float16")
    else:
        expected = NUMPY_UNARY[op](x)
    assert_same(out, expected, dtype)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_int_unary_extremes(dtype):
    info = np.iinfo(dtype)
    x = np.array([info.max, info.min + 1, -1, 0, 1, -5], dtype)
    fn = compile_fn({"x": (x.shape, dtype)}, lambda g, t: (g.neg(t), g.abs(t), g.relu(t)))
    neg, absolute, relu = fn(x)
    assert_same(neg, -x)
    assert_same(absolute, np.abs(x))
    assert_same(relu, np.maximum(x, 0).astype(dtype))


def test_sqrt_and_exp_special_values():
    x = np.array([0.0, 1.0, 4.0, 1e-6, 80.0], "float32")
    fn = compile_fn({"x": (x.shape, "float32")}, lambda g, t: (g.sqrt(t), g.exp(g.neg(t))))
    root, decay = fn(x)
    assert_same(root, np.sqrt(x))
    assert_same(decay, np.exp(-x))


def _cast_source(rng, shape, dtype):
    """Values that every target dtype can represent after truncation, including zeros."""
    if dtype == "bool":
        return random_array(rng, shape, dtype)
    if dtype in ("int32", "int64"):
        x = random_array(rng, shape, dtype, -1500, 1500)
    else:  # fractional values of both signs (float->int truncates toward zero)
        x = random_array(rng, shape, dtype, -1500, 1500)
        x.flat[1::3] = np.round(x.flat[1::3])
    x.flat[::4] = 0
    return x


def _numpy_cast(x: np.ndarray, dtype: str) -> np.ndarray:
    return x != 0 if dtype == "bool" else x.astype(dtype)


@pytest.mark.parametrize("shape", [(7, 61, 59), (3, 1, 5)], ids=str)
@pytest.mark.parametrize("target", ALL_DTYPES)
@pytest.mark.parametrize("source", ALL_DTYPES)
def test_cast(rng, source, target, shape):
    fn = compile_fn({"x": (shape, source)}, lambda g, x: g.cast(x, target))
    x = _cast_source(rng, shape, source)
    (out,) = fn(x)
    expected = _numpy_cast(x, target)
    # a conversion is exact: no tolerance, even for float targets
    assert str(out.dtype) == target and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_cast_float_to_int_truncates_and_to_bool_tests_nonzero():
    x = np.array([2.9, -2.9, 0.5, -0.5, 0.0, -0.0, 1e-7, 3.0], "float32")
    fn = compile_fn({"x": (x.shape, "float32")},
                    lambda g, t: (g.cast(t, "int32"), g.cast(t, "int64"), g.cast(t, "bool")))
    i32, i64, flags = fn(x)
    assert_same(i32, np.array([2, -2, 0, 0, 0, 0, 0, 3], "int32"))
    assert_same(i64, np.array([2, -2, 0, 0, 0, 0, 0, 3], "int64"))
    assert_same(flags, np.array([1, 1, 1, 1, 0, 0, 1, 1], bool))


def test_cast_float32_to_float16_rounds_to_nearest_even():
    # 1 + 2**-11 is exactly halfway between two fp16 values: ties go to the even one (1.0)
    x = np.array([1 + 2**-11, 1 + 3 * 2**-11, 65504.0, 1e-8, -(1 + 2**-11)], "float32")
    fn = compile_fn({"x": (x.shape, "float32")}, lambda g, t: g.cast(t, "float16"))
    (out,) = fn(x)
    np.testing.assert_array_equal(out, x.astype("float16"))
    assert out.dtype == np.float16


def test_chain_of_elementwise_ops(rng):
    """One fused kernel, and five per-op kernels in sequence, with a broadcast in the middle."""
    def build(g, x, w):
        return g.tanh(g.mul(g.relu(g.sub(x, w)), g.sigmoid(w)))

    fn = compile_fn({"x": ((7, 61, 59), "float32"), "w": ((61, 1), "float32")}, build)
    x = random_array(rng, (7, 61, 59), "float32", -2, 2)
    w = random_array(rng, (61, 1), "float32", -2, 2)
    expected = np.tanh(np.maximum(x - w, 0) * _sigmoid(w))
    assert_same(fn(x, w)[0], expected)
    assert fn.num_kernels == 1
    per_op = tf.compile(fn.graph, fuse=False)
    assert_same(per_op(x, w)[0], expected)
    assert per_op.num_kernels == 5


def test_unsupported_dtypes_rejected():
    g = tf.Graph()
    flags = g.input("flags", (3,), "bool")
    ints = g.input("ints", (3,), "int32")
    with pytest.raises(tf.GraphError, match=r"add: input 'flags' has dtype bool"):
        g.add(flags, flags)
    with pytest.raises(tf.GraphError, match=r"neg: input 'flags' has dtype bool"):
        g.neg(flags)
    for op in ("exp", "sqrt", "sigmoid", "tanh"):
        with pytest.raises(tf.GraphError, match=rf"{op}: input 'ints' has dtype int32, expected "
                                                 r"one of float16, bfloat16, float32, float64$"):
            getattr(g, op)(ints)


def test_nan_propagates_through_relu_maximum_minimum():
    x = np.array([np.nan, -1.0, 2.0, np.nan], "float32")
    y = np.array([0.0, np.nan, 1.0, np.nan], "float32")
    fn = compile_fn({"x": ((4,), "float32"), "y": ((4,), "float32")},
                    lambda g, a, b: (g.relu(a), g.maximum(a, b), g.minimum(a, b)))
    relu, high, low = fn(x, y)
    np.testing.assert_array_equal(relu, np.maximum(x, 0))
    np.testing.assert_array_equal(high, np.maximum(x, y))
    np.testing.assert_array_equal(low, np.minimum(x, y))

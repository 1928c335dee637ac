"""pow, mod, comparisons, logical ops, where and the unary ops of issue 15 (log, erf, floor,
ceil, round, sign, isnan, isinf, logical_not) against numpy: prime and broadcast shapes, size-1
axes, every accepted dtype, NaN / infinities / signed zeros, and fused into one kernel."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, assert_same, compile_fn

NAN, INF = np.nan, np.inf
SPECIALS = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.5, -3.75, 7.0, 1e-3]
SHAPE_A, SHAPE_B = (7, 1, 13), (5, 13)  # -> (7, 5, 13): broadcast on both sides, rank change


def _floats(rng, shape, dtype, low=-4.0, high=4.0):
    """Uniform values with every special value planted (NaN, +-inf, +-0, halves)."""
    x = rng.uniform(low, high, size=shape).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.permutation(flat.size)[:len(SPECIALS)]] = SPECIALS
    return x


def _operand(rng, shape, dtype, low=-6, high=7):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in INT_DTYPES:  # few distinct values: equal pairs occur
        return rng.integers(low, high, size=shape).astype(dtype)
    return _floats(rng, shape, dtype)


def _same_with_nan(actual, expected):
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    if expected.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
        finite = ~np.isnan(expected)
        tol = 1e-3 if expected.dtype == np.float16 else 1e-6
        np.testing.assert_allclose(actual[finite].astype("float64"),
                                   expected[finite].astype("float64"), rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(actual, expected)


# ----- comparisons and logical ops ---------------------------------------------------------
COMPARE = {"equal": np.equal, "less": np.less, "less_equal": np.less_equal,
           "greater": np.greater, "greater_equal": np.greater_equal}
LOGICAL = {"logical_and": np.logical_and, "logical_or": np.logical_or,
           "logical_xor": np.logical_xor}
COMPARE_CASES = [(op, d) for op in COMPARE for d in ALL_DTYPES if d != "bool" or op == "equal"]


@pytest.mark.parametrize("op,dtype", COMPARE_CASES + [(op, "bool") for op in LOGICAL])
def test_comparison_and_logical_ops(rng, op, dtype):
    """Bool results; a NaN compares false (equal too), and its negation is true when fused."""
    fn = compile_fn({"a": (SHAPE_A, dtype), "b": (SHAPE_B, dtype)},
                    lambda g, a, b: (getattr(g, op)(a, b), g.logical_not(getattr(g, op)(a, b))))
    a, b = _operand(rng, SHAPE_A, dtype), _operand(rng, SHAPE_B, dtype)
    if dtype in FLOAT_DTYPES:  # every pair of specials, both ways round
        a[:, 0, :], b[0, :] = SPECIALS, SPECIALS[::-1]
    expected = {**COMPARE, **LOGICAL}[op](a, b)
    result, negated = fn(a=a, b=b)
    assert_same(result, expected)
    assert_same(negated, ~expected)
    assert fn.num_kernels == 2  # two separate chains, each one kernel


# ----- where -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_where_broadcasts_three_ways(rng, dtype):
    shapes = {"c": (7, 1, 1), "x": (1, 5, 13), "y": (13,)}
    fn = compile_fn({"c": (shapes["c"], "bool"), "x": (shapes["x"], dtype),
                     "y": (shapes["y"], dtype)}, lambda g, c, x, y: g.where(c, x, y))
    c = rng.random(shapes["c"]) < 0.5
    x, y = _operand(rng, shapes["x"], dtype), _operand(rng, shapes["y"], dtype)
    (out,) = fn(c=c, x=x, y=y)
    assert out.shape == (7, 5, 13)
    np.testing.assert_array_equal(out, np.where(c, x, y))  # NaN passes through as data
    if dtype in FLOAT_DTYPES:
        np.testing.assert_array_equal(np.signbit(out), np.signbit(np.where(c, x, y)))


def test_where_of_a_comparison_fuses_with_its_operands(rng):
    """A leaky-relu-like chain over a broadcast: one kernel, numpy's values."""
    def build(g, x, w):
        return g.where(g.less(x, w), g.mul(x, w), g.log(g.add(g.abs(x), w)))

    fn = compile_fn({"x": ((14, 185), "float32"), "w": ((185,), "float32")}, build)
    x = _floats(rng, (14, 185), "float32")
    w = rng.uniform(0.5, 2, 185).astype("float32")
    (out,) = fn(x=x, w=w)
    with np.errstate(all="ignore"):
        expected = np.where(x < w, x * w, np.log(np.abs(x) + w))
    _same_with_nan(out, expected)
    assert fn.num_kernels == 1


# ----- pow ---------------------------------------------------------------------------------
def _int_power(base, exponent):
    """Exact integer power truncated toward zero (Python fractions), for in-range results."""
    base, exponent = np.broadcast_arrays(base, exponent)
    return np.array([int(Fraction(int(b)) ** int(e)) for b, e in
                     zip(base.ravel(), exponent.ravel())]).reshape(base.shape)


@pytest.mark.parametrize("base_dtype", INT_DTYPES + FLOAT_DTYPES)
@pytest.mark.parametrize("exponent_dtype", INT_DTYPES + FLOAT_DTYPES)
def test_pow_of_every_dtype_pair(rng, base_dtype, exponent_dtype):
    """Result in the base's dtype, computed as ``np.power(a, b).astype(a.dtype)`` (ONNX)."""
    fn = compile_fn({"a": (SHAPE_A, base_dtype), "b": (SHAPE_B, exponent_dtype)},
                    lambda g, a, b: g.pow(a, b))
    if base_dtype in INT_DTYPES:
        a = rng.integers(-6, 7, size=SHAPE_A).astype(base_dtype)
        a[a == 0] = 1  # 0 to a negative power has no integer value
    else:
        a = _floats(rng, SHAPE_A, base_dtype)
    if exponent_dtype in INT_DTYPES:
        b = rng.integers(-3, 9, size=SHAPE_B).astype(exponent_dtype)
    else:
        b = rng.uniform(-3, 3, size=SHAPE_B).astype(exponent_dtype)
        b.flat[:5] = [0.0, 0.5, 2.0, -1.0, 3.0]
    (out,) = fn(a=a, b=b)
    if base_dtype in INT_DTYPES and exponent_dtype in INT_DTYPES:
        assert_same(out, _int_power(a, b).astype(base_dtype))
        return
    with np.errstate(all="ignore"):
        expected = np.power(a, b).astype(base_dtype)
    if base_dtype in INT_DTYPES:  # a real power truncated: exact, except a hair from an integer
        with np.errstate(all="ignore"):
            real = np.power(a.astype("float64"), b)
        nearest = np.round(real)
        clear = np.isfinite(real) & ((real == nearest) | (np.abs(real - nearest) > 1e-6))
        assert clear.sum() > 200
        np.testing.assert_array_equal(out[clear], expected[clear])
        return
    _same_with_nan(out, expected)


def test_pow_special_values():
    """IEEE pow: x**0 is 1 even for NaN, 1**y is 1, 0**-1 is inf, (-8)**(1/3) is NaN."""
    base = np.array([NAN, 1.0, 0.0, -0.0, INF, -INF, -8.0, 2.0, -2.0, 0.5, 4.0], "float32")
    exponent = np.array([0.0, NAN, -1.0, -1.0, -0.5, 3.0, 1 / 3, INF, 3.0, -INF, 0.5],
                        "float32")
    fn = compile_fn({"a": ((11,), "float32"), "b": ((11,), "float32")}, lambda g, a, b: g.pow(a, b))
    (out,) = fn(a=base, b=exponent)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, np.power(base, exponent))


# ----- mod ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES)
def test_mod(rng, dtype, fmod):
    """fmod=0: the divisor's sign (np.mod); fmod=1: the dividend's (np.fmod). An integer
    remainder by 0 is 0, by -1 is 0 even of the smallest integer (no trap)."""
    fn = compile_fn({"a": (SHAPE_A, dtype), "b": (SHAPE_B, dtype)},
                    lambda g, a, b: g.mod(a, b, fmod=fmod))
    if dtype in INT_DTYPES:
        a = rng.integers(-1000, 1000, size=SHAPE_A).astype(dtype)
        a.flat[:2] = np.iinfo(dtype).min, np.iinfo(dtype).max
        b = rng.integers(-13, 14, size=SHAPE_B).astype(dtype)
        b.flat[:3] = 0, -1, 1
    else:
        a = _floats(rng, SHAPE_A, dtype, -100, 100)
        b = _floats(rng, SHAPE_B, dtype)
    (out,) = fn(a=a, b=b)
    with np.errstate(all="ignore"):
        expected = (np.fmod if fmod else np.mod)(a, b)
    _same_with_nan(out, expected)
    if dtype in FLOAT_DTYPES:  # a zero remainder takes the sign numpy gives it
        zero = expected == 0
        np.testing.assert_array_equal(np.signbit(out[zero]), np.signbit(expected[zero]))


def test_float_mod_is_exact_for_large_quotients():
    a = np.array([1e30, -1e30, 16777215.0, 3.4e38, 1e-30], "float32")
    b = np.array([7.0, 3.3, 0.1, -1e-3, 3e-31], "float32")
    fn = compile_fn({"a": ((5,), "float32"), "b": ((5,), "float32")},
                    lambda g, x, y: (g.mod(x, y), g.mod(x, y, fmod=1)))
    floor_mod, trunc_mod = fn(a=a, b=b)
    np.testing.assert_array_equal(floor_mod, np.mod(a, b))
    np.testing.assert_array_equal(trunc_mod, np.fmod(a, b))


# ----- unary -------------------------------------------------------------------------------
UNARY = {"log": np.log, "erf": np.vectorize(math.erf, otypes=[np.float64]),
         "floor": np.floor, "ceil": np.ceil, "round": np.round, "sign": np.sign,
         "isnan": np.isnan}
UNARY_CASES = [(op, d) for op in UNARY for d in FLOAT_DTYPES] + [("sign", d) for d in INT_DTYPES]


@pytest.mark.parametrize("shape", [(14, 185), (3, 1, 5)], ids=str)
@pytest.mark.parametrize("op,dtype", UNARY_CASES)
def test_unary(rng, op, dtype, shape):
    """fp16 math in f32 rounded once; floor/ceil/round/sign exact; halves round to even."""
    fn = compile_fn({"x": (shape, dtype)}, lambda g, x: getattr(g, op)(x))
    if dtype in INT_DTYPES:
        x = rng.integers(-5, 6, size=shape).astype(dtype)
    else:
        x = _floats(rng, shape, dtype, -8, 8)
        x.flat[:6] = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5]  # ties: even
        if op == "log":
            x = np.abs(x) * 3
    (out,) = fn(x=x)
    with np.errstate(all="ignore"):
        wide = x.astype("float32") if dtype == "float16" else x
        expected = np.asarray(UNARY[op](wide))
        expected = expected.astype(bool if op == "isnan" else dtype)
    if op in ("floor", "ceil", "round", "sign", "isnan"):
        np.testing.assert_array_equal(out, expected)
        assert out.dtype == expected.dtype
    else:
        _same_with_nan(out, expected)
        np.testing.assert_array_equal(np.isinf(out), np.isinf(expected))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_log_and_erf_special_values(dtype):
    x = np.array([NAN, INF, -INF, 0.0, -0.0, -1.0, 1.0, 1e-30 if dtype == "float32" else 6e-8,
                  3e-39 if dtype == "float32" else 1e-7, 2.0, 1 + 2**-10, 5.0, -5.0], dtype)
    fn = compile_fn({"x": ((13,), dtype)}, lambda g, t: (g.log(t), g.erf(t)))
    log, erf = fn(x=x)
    with np.errstate(all="ignore"):
        wide = x.astype("float32")
        expected_log = np.log(wide).astype(dtype)
        expected_erf = np.array([math.erf(v) for v in wide.astype("float64")]).astype(dtype)
    _same_with_nan(log, expected_log)
    np.testing.assert_array_equal(np.isposinf(log), np.isposinf(expected_log))
    np.testing.assert_array_equal(np.isneginf(log), np.isneginf(expected_log))
    _same_with_nan(erf, expected_erf)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("negative,positive", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_isinf_detects_the_signs_asked_for(rng, dtype, negative, positive):
    x = _floats(rng, (7, 13), dtype)
    fn = compile_fn({"x": ((7, 13), dtype)}, lambda g, t: g.isinf(
        t, detect_negative=negative, detect_positive=positive))
    (out,) = fn(x=x)
    expected = (bool(negative) & np.isneginf(x)) | (bool(positive) & np.isposinf(x))
    assert_same(out, expected)


def test_logical_not_and_sign_of_bool_and_zero():
    flags = np.array([True, False, True], bool)
    fn = compile_fn({"f": ((3,), "bool")}, lambda g, f: g.logical_not(f))
    assert_same(fn(f=flags)[0], ~flags)
    x = np.array([-0.0, 0.0, NAN, -INF], "float32")
    (out,) = compile_fn({"x": ((4,), "float32")}, lambda g, t: g.sign(t))(x=x)
    np.testing.assert_array_equal(out, np.sign(x))
    assert not np.signbit(out[0])  # numpy: sign(-0) is +0


# ----- a chain of everything, one kernel ---------------------------------------------------
def test_chain_of_new_ops_is_one_kernel_and_matches_the_reference(rng):
    def build(g, x, y, n):
        finite = g.logical_not(g.logical_or(g.isnan(x), g.isinf(x)))
        rounded = g.add(g.round(x), g.mod(g.floor(y), g.ceil(y), fmod=1))
        curve = g.mul(g.erf(x), g.pow(g.abs(y), n))
        safe = g.where(finite, g.sub(rounded, curve), g.sign(y))
        return g.where(g.greater_equal(safe, g.log(g.abs(y))), safe, g.neg(safe))

    fn = compile_fn({"x": ((7, 61, 59), "float32"), "y": ((61, 1), "float32"),
                     "n": ((59,), "int32")}, build)
    inputs = {"x": _floats(rng, (7, 61, 59), "float32"),
              "y": rng.uniform(0.5, 4, (61, 1)).astype("float32"),
              "n": rng.integers(-2, 4, 59).astype("int32")}
    (out,) = fn(**inputs)
    (expected,) = tf.reference.run(fn.graph, inputs)
    _same_with_nan(out, expected)
    assert fn.num_kernels == 1


# ----- errors a user can cause -------------------------------------------------------------
def test_bad_operands_name_the_op_the_tensor_and_what_to_do():
    g = tf.Graph()
    f = g.input("flags", (3,), "bool")
    i = g.input("ints", (3,), "int32")
    x = g.input("x", (3,), "float32")
    with pytest.raises(tf.GraphError, match=r"where: condition 'ints' has dtype int32, "
                                            r"expected bool"):
        g.where(i, x, x)
    with pytest.raises(tf.GraphError, match=r"where: inputs must have the same dtype: 'ints' "
                                            r"is int32, 'x' is float32 \(insert a cast\)"):
        g.where(f, i, x)
    with pytest.raises(tf.GraphError, match=r"logical_and: input 'ints' has dtype int32, "
                                            r"expected one of bool"):
        g.logical_and(i, i)
    with pytest.raises(tf.GraphError, match=r"less: input 'flags' has dtype bool"):
        g.less(f, f)
    with pytest.raises(tf.GraphError, match=r"mod: fmod must be 0 .* got 2"):
        g.mod(i, i, fmod=2)
    with pytest.raises(tf.GraphError, match=r"pow: exponent 'flags' has dtype bool"):
        g.pow(x, f)
    with pytest.raises(tf.GraphError, match=r"log: input 'ints' has dtype int32"):
        g.log(i)
    with pytest.raises(tf.GraphError, match=r"where: cannot broadcast 'flags' \(3,\), 'x' "
                                            r"\(3,\), 'other' \(4,\): dimensions 3 vs 3 vs 4"):
        g.where(f, x, g.input("other", (4,), "float32"))
    assert g.equal(f, f).dtype == "bool" and g.isinf(x).dtype == "bool"

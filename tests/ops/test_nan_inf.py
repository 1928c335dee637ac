"""NaN and infinities through every op family, as IEEE 754 says and numpy / onnx.reference do.

Element-wise ops on every pair of special values (NaN in, NaN out; inf arithmetic; division
by zero, also through the reciprocal a row-broadcast divisor becomes); casts (to fp16: inf
and NaN kept, overflow to inf; to bool: NaN is true; float -> int of NaN/inf is undefined in
numpy and C, so only in-range values are asserted); reductions in every template path
(reduction-rooted with and without vector partial results, over an outer axis, the unfused
per-op schedule, row-reduction softmax and centring, the fp16 rounded-once and relaxed
paths, a reduction inside a scatter-terminated group): a NaN anywhere in a row makes its
max/min NaN wherever it sits, a row of -inf has max -inf, softmax of a row holding NaN or
+inf is NaN like numpy's exp(inf - inf); -0 vs +0 follow IEEE 754-2019 (max(-0, +0) = +0,
min = -0, whatever the order). Transpose and scatter move NaN as data; a scatter's max/min
reduction propagates it like ``np.maximum``.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tests.helpers import compile_fn

NAN, INF = np.nan, np.inf
SPECIALS = [NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 2.5, -3.75, 6e4, -6e4, 1e-3, 7.0]  # 13
UNARY = {"neg": np.negative, "abs": np.abs, "relu": lambda x: np.maximum(x, 0),
         "exp": np.exp, "sqrt": np.sqrt, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
         "tanh": np.tanh}
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "maximum": np.maximum, "minimum": np.minimum}


def assert_ieee_equal(actual, expected, rtol):
    """Same dtype and shape, NaN exactly where numpy has NaN, infinities (with their sign)
    exactly where it has them, finite values within ``rtol``."""
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(actual), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite].astype("float64"),
                               expected[finite].astype("float64"), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_unary_ops_on_special_values(rng, dtype):
    x = np.array(SPECIALS * 11, dtype)[rng.permutation(143)].reshape(11, 13)
    fn = compile_fn({"x": (x.shape, dtype)},
                    lambda g, t: tuple(getattr(g, op)(t) for op in UNARY))
    with np.errstate(all="ignore"):
        expected = [f(x.astype("float32")).astype(dtype) for f in UNARY.values()]
    for op, out, exp in zip(UNARY, fn(x=x), expected, strict=True):
        assert_ieee_equal(out, exp, rtol=2e-3 if dtype == "float16" else 2e-6), op


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_ops_on_every_pair_of_special_values(op, dtype):
    """Every pair of specials, both ways round: ``a`` down the rows and ``b`` along them, then
    ``b`` constant along each row (a divide by it becomes a multiply by its reciprocal)."""
    s = np.array(SPECIALS, dtype)
    fn = compile_fn({"a": ((13, 1), dtype), "b": ((13,), dtype)},
                    lambda g, a, b: getattr(g, op)(a, b))
    flipped = compile_fn({"a": ((13,), dtype), "b": ((13, 1), dtype)},
                         lambda g, a, b: getattr(g, op)(a, b))
    with np.errstate(all="ignore"):
        for f, a, b in ((fn, s[:, None], s), (flipped, s, s[:, None])):
            expected = BINARY[op](a.astype("float32"), b.astype("float32")).astype(dtype)
            (out,) = f(a=a, b=b)
            assert_ieee_equal(out, expected, rtol=1e-3 if dtype == "float16" else 1e-6)
            if op != "div":  # exact operations: the very values (NaN where NaN)
                np.testing.assert_array_equal(out, expected)


def test_division_by_zero():
    a = np.array([1.0, -1.0, 0.0, -0.0, INF, NAN, 5.0], "float32")
    fn = compile_fn({"a": ((7,), "float32"), "b": ((7,), "float32")}, lambda g, a, b: g.div(a, b))
    for zero in (0.0, -0.0):
        b = np.full(7, zero, "float32")
        with np.errstate(all="ignore"):
            expected = a / b
        (out,) = fn(a=a, b=b)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(np.signbit(out[[0, 1, 4]]), np.signbit(expected[[0, 1, 4]]))


def test_casts_of_special_values():
    x = np.array([NAN, INF, -INF, 65504.0, 65519.0, 65520.0, 1e5, -1e5, 6e-8, 2e-8, -0.0,
                  1.5, -2.5], "float32")
    fn = compile_fn({"x": ((13,), "float32")},
                    lambda g, t: (g.cast(t, "float16"), g.cast(g.cast(t, "float16"), "float32"),
                                  g.cast(t, "bool"), g.cast(t, "int32")))
    half, back, as_bool, as_int = fn(x=x)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(half.view(np.uint16), x.astype("float16").view(np.uint16))
        np.testing.assert_array_equal(back.view(np.uint32),
                                      x.astype("float16").astype("float32").view(np.uint32))
    assert np.isposinf(half[[1, 5, 6]]).all() and np.isneginf(half[[2, 7]]).all()
    np.testing.assert_array_equal(as_bool, x.astype(bool))  # NaN is true, -0 is false
    # float -> int of NaN/inf/out of range: numpy and C leave it undefined (LLVM: poison).
    # What we do: x86's cvttps2dq gives -2**31 ("integer indefinite"), as numpy does here;
    # not asserted, as no value is promised. In-range values truncate toward zero.
    np.testing.assert_array_equal(as_int[[3, 4, 5, 6, 7, 10, 11, 12]],
                                  x[[3, 4, 5, 6, 7, 10, 11, 12]].astype("int32"))


# ----- reductions --------------------------------------------------------------------------
def _special_rows(cols: int, dtype: str, rng) -> np.ndarray:
    """One row per case: NaN first / in the middle / last, +inf, -inf, both infinities, all
    -inf, all +inf, NaN and inf, plain."""
    x = rng.uniform(-4, 4, size=(10, cols)).astype(dtype)
    x[0, 0] = x[1, cols // 2] = x[2, cols - 1] = NAN
    x[3, 1] = INF
    x[4, cols - 2] = -INF
    x[5, 0], x[5, cols - 1] = INF, -INF
    x[6], x[7] = -INF, INF
    x[8, 3], x[8, 5] = INF, NAN
    return x


def _onnx_reduce(op: str, x: np.ndarray, axes) -> np.ndarray:
    """onnx.reference's reduction of ``x`` over ``axes``, keepdims."""
    onnx_op = {"reduce_max": "ReduceMax", "reduce_min": "ReduceMin", "reduce_sum": "ReduceSum",
               "reduce_mean": "ReduceMean", "reduce_prod": "ReduceProd"}[op]
    dtype = helper.np_dtype_to_tensor_dtype(x.dtype)
    node = helper.make_node(onnx_op, ["x", "axes"], ["y"], keepdims=1)
    graph = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", dtype, x.shape)],
                              [helper.make_tensor_value_info("y", dtype, [
                                  1 if d in axes else n for d, n in enumerate(x.shape)])],
                              [helper.make_tensor("axes", TensorProto.INT64, [len(axes)], axes)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    with np.errstate(all="ignore"):
        return ReferenceEvaluator(model).run(None, {"x": x})[0]


REDUCTIONS = ("reduce_max", "reduce_min", "reduce_sum", "reduce_mean", "reduce_prod")
LAYOUTS = {  # name -> (shape, axes, fuse): which schedule path the reduction takes
    "rows, partial vectors": ((10, 256), [1], True),
    "rows, ragged": ((10, 67), [1], True),
    "outer axis": ((67, 10), [0], True),
    "unfused": ((10, 67), [1], False),
}


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", REDUCTIONS)
def test_reductions_of_special_rows(rng, op, layout, dtype):
    shape, axes, fuse = LAYOUTS[layout]
    x = _special_rows(shape[1] if axes == [1] else shape[0], dtype, rng)
    x = x if axes == [1] else np.ascontiguousarray(x.T)
    if op == "reduce_prod":
        x = np.where(np.isfinite(x), np.sign(x) * 1.01, x).astype(dtype)  # no overflow
    g = tf.Graph()
    g.output(getattr(g, op)(g.input("x", shape, dtype), axes=axes, keepdims=True))
    fn = tf.compile(g, fuse=fuse)
    (out,) = fn(x=x)
    expected = _onnx_reduce(op, x, axes)
    numpy_fn = {"reduce_max": np.max, "reduce_min": np.min, "reduce_sum": np.sum,
                "reduce_mean": np.mean, "reduce_prod": np.prod}[op]
    with np.errstate(all="ignore"):  # fp16 accumulates in f32 (onnx.reference: in fp16)
        wide = numpy_fn(x.astype("float32"), axis=tuple(axes), keepdims=True).astype(dtype)
    for special in (np.isnan, np.isposinf, np.isneginf):  # the oracles agree on these
        np.testing.assert_array_equal(special(expected), special(wide))
    assert_ieee_equal(out, wide, rtol=2e-3 if dtype == "float16" else 1e-5)
    if op in ("reduce_max", "reduce_min"):
        np.testing.assert_array_equal(out, expected)  # exact, NaN where NaN
    if layout == "rows, partial vectors" and op == "reduce_max":
        assert "_rf" in fn.kernels[0].scheduled.script()  # the rfactor'd (vector partials) path


@pytest.mark.parametrize("op", ["reduce_max", "reduce_min"])
def test_signed_zeros_follow_ieee_2019(op):
    """max(-0, +0) = +0 and min(-0, +0) = -0, whichever comes first (numpy's pick depends on
    its order)."""
    x = np.zeros((4, 64), "float32")
    x[0, :32] = x[1, 32:] = x[2, ::2] = x[3, 1::2] = -0.0
    g = tf.Graph()
    g.output(getattr(g, op)(g.input("x", x.shape, "float32"), axes=[1], keepdims=False))
    (out,) = tf.compile(g)(x=x)
    np.testing.assert_array_equal(np.signbit(out), [op == "reduce_min"] * 4)
    (out,) = tf.compile(g)(x=np.full_like(x, -0.0))
    assert np.signbit(out).all()


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_order_keys_round_trip_and_order_like_the_floats(dtype):
    """Every float survives key -> float bit for bit (NaN of either sign as the quiet NaN),
    key order is float order, NaN's key is beyond every other (largest for max, smallest
    for min) and no element's key is the integer reducer's identity."""
    import tvm
    from tvm import te

    from tvm_fusion.ops.reduce import KEY_DTYPE, from_order_key, order_key

    key_dtype = KEY_DTYPE[dtype]
    info = np.iinfo(key_dtype)
    x = np.array([*SPECIALS, 65504.0, -65504.0, 6e-8, -6e-8], dtype)
    x = np.concatenate([x, -np.abs(x[:1])])  # a NaN with the sign bit set

    def run(op):
        xs = te.placeholder(x.shape, dtype, name="x")
        keys = te.compute(x.shape, lambda i: order_key(xs[i], op), name="keys")
        back = te.compute(x.shape, lambda i: from_order_key(keys[i], dtype), name="back")
        kernel = tvm.compile(te.create_prim_func([xs, keys, back]), target="llvm")["main"]
        out = np.empty(x.shape, key_dtype), np.empty_like(x)
        kernel(x, *out)
        return out

    for op, identity in (("reduce_max", info.min), ("reduce_min", info.max)):
        k, b = run(op)
        finite_or_inf = ~np.isnan(x)
        np.testing.assert_array_equal(b[finite_or_inf].view(key_dtype),
                                      x[finite_or_inf].view(key_dtype))  # bit for bit
        assert np.isnan(b[~finite_or_inf]).all()
        nan_key = k[~finite_or_inf]
        assert (nan_key == (k.max() if op == "reduce_max" else k.min())).all()
        order = np.argsort(k[finite_or_inf], kind="stable")
        assert (np.diff(x[finite_or_inf][order].astype("float64")) >= 0).all()
        assert identity not in k


def _softmax_numpy(x):
    with np.errstate(all="ignore"):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("cols", [256, 67])
def test_row_reduction_softmax_and_centring(rng, cols):
    x = _special_rows(cols, "float32", rng)
    fn = compile_fn({"x": ((10, cols), "float32")}, lambda g, t: g.div(
        g.exp(g.sub(t, g.reduce_max(t, axes=[-1]))),
        g.reduce_sum(g.exp(g.sub(t, g.reduce_max(t, axes=[-1]))), axes=[-1])))
    centre = compile_fn({"x": ((10, cols), "float32")},
                        lambda g, t: g.sub(t, g.reduce_max(t, axes=[-1])))
    assert fn.schedules == ("row-reduction",) and centre.schedules == ("row-reduction",)
    (soft,) = fn(x=x)
    expected = _softmax_numpy(x)
    assert np.isnan(soft[[0, 1, 2, 3, 5, 6, 7, 8]]).all()  # NaN, +inf, -inf-only rows
    assert_ieee_equal(soft, expected, rtol=1e-5)
    with np.errstate(all="ignore"):
        assert_ieee_equal(centre(x=x)[0], x - x.max(axis=-1, keepdims=True), rtol=1e-6)


def test_fp16_rounded_once_and_relaxed_paths_propagate_nan(rng):
    a = rng.uniform(-4, 4, size=(10, 131)).astype("float16")
    a[0, 0] = a[1, 70] = a[2, 130] = NAN
    a[3, 5], a[4, 9] = INF, -INF
    a[5] = -INF
    b = rng.uniform(-4, 4, size=131).astype("float16")
    b[120] = INF  # inf + -inf = NaN in row 5
    def build(g, x, y):
        return g.reduce_max(g.cast(g.add(x, y), "float32"), axes=[-1], keepdims=False)

    with np.errstate(all="ignore"):
        expected = (a + b).astype("float32").max(axis=-1)
    assert np.isnan(expected[[0, 1, 2, 5]]).all()
    for precision in ("exact", "relaxed"):
        g = tf.Graph()
        g.output(build(g, g.input("a", a.shape, "float16"), g.input("b", b.shape, "float16")))
        (out,) = tf.compile(g, precision=precision)(a=a, b=b)
        np.testing.assert_array_equal(out, expected, err_msg=precision)
    relaxed = tf.Graph()
    x = relaxed.input("x", a.shape, "float16")
    relaxed.output(relaxed.reduce_min(relaxed.add(x, x), axes=[-1], keepdims=False))
    (out,) = tf.compile(relaxed, precision="relaxed")(x=a)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, (a + a).min(axis=-1))


def test_reduction_in_a_scatter_group(rng):
    """A max feeding a scatter: the scatter-terminated template's reduction keeps NaN."""
    x = rng.uniform(-4, 4, size=(3, 5, 64)).astype("float32")
    x[0, 1, 7], x[2, 4, 63] = NAN, NAN
    cache = np.zeros((9, 5), "float32")
    fn = compile_fn({"x": ((3, 5, 64), "float32"), "cache": ((9, 5), "float32"),
                     "slots": ((3, 1), "int64")},
                    lambda g, t, c, s: g.scatter_nd(c, s, g.reduce_max(t, axes=[2],
                                                                       keepdims=False)))
    assert fn.schedules == ("scatter-terminated",)
    slots = np.array([[4], [-1], [0]], "int64")
    (out,) = fn(x=x, cache=cache, slots=slots)
    expected = cache.copy()
    expected[slots[:, 0]] = x.max(axis=2)
    np.testing.assert_array_equal(out, expected)
    assert np.isnan(out[4, 1]) and np.isnan(out[0, 4])


# ----- data movement -----------------------------------------------------------------------
def test_transpose_and_scatter_move_nan_as_data(rng):
    x = np.array(SPECIALS * 7, "float32")[rng.permutation(91)].reshape(7, 13)
    (t,) = compile_fn({"x": ((7, 13), "float32")}, lambda g, v: g.transpose(v))(x=x)
    np.testing.assert_array_equal(t.view(np.uint32), x.T.view(np.uint32))  # bit for bit
    data = np.full((11, 13), NAN, "float32")
    fn = compile_fn({"d": ((11, 13), "float32"), "i": ((7, 1), "int64"),
                     "u": ((7, 13), "float32")}, lambda g, d, i, u: g.scatter_nd(d, i, u))
    idx = np.array([[0], [2], [4], [6], [8], [10], [-2]], "int64")
    (out,) = fn(d=data, i=idx, u=x)
    expected = data.copy()
    expected[idx[:, 0]] = x
    np.testing.assert_array_equal(out.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("reduction", ["add", "mul", "max", "min"])
def test_scatter_reductions_with_nan_and_inf(reduction):
    data = np.arange(20, dtype="float32").reshape(4, 5)
    data[0, 0], data[1, 1], data[2, 2] = NAN, INF, -INF
    idx = np.array([[0, 1, 2, 3, 0], [1, 1, 0, 0, 0], [0, 2, 2, 3, 3]], "int64")
    upd = np.ones((3, 5), "float32")
    upd[1, 2], upd[2, 3], upd[0, 4] = NAN, -INF, INF
    fn = compile_fn({"data": ((4, 5), "float32"), "idx": ((3, 5), "int64"),
                     "upd": ((3, 5), "float32")},
                    lambda g, d, i, u: g.scatter_elements(d, i, u, axis=0, reduction=reduction))
    (out,) = fn(data=data, idx=idx, upd=upd)
    combine = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
    expected = data.copy()
    with np.errstate(all="ignore"):
        for i in range(3):
            for j in range(5):
                expected[idx[i, j], j] = combine[reduction](expected[idx[i, j], j], upd[i, j])
    np.testing.assert_array_equal(out, expected)
    assert np.isnan(out[0, 0]) and np.isnan(out[0, 2])  # NaN in data and in an update

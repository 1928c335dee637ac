"""ONNX element-wise ops of issue 15 through ``from_onnx``: LeakyRelu, Elu, Softplus (expanded
as their function bodies), LogSoftmax, ReduceLogSum, ReduceLogSumExp, Pow (mixed dtypes, a
constant square), Mod, Where, comparisons and logical ops; each against ``onnx.reference`` on
prime shapes with NaN and infinities, one fused kernel per chain."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tests.helpers import onnx_model

F, H, I64, B = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64, TensorProto.BOOL


def _model(nodes, inputs, outputs, inits=(), opset=22):
    return onnx_model(nodes, inputs, outputs, inits, opset=opset, ir_version=10)


def _values(rng, shape, dtype, scale=4.0):
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    x.reshape(-1)[:5] = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    return x


def _run(model, feeds, rtol=1e-5, atol=1e-6):
    graph = tf.from_onnx(model)
    fn = tf.compile(graph)
    outputs = fn(**{t.name: feeds[t.name] for t in graph.inputs})
    with np.errstate(all="ignore"):
        expected = ReferenceEvaluator(model).run(None, feeds)
    for got, want in zip(outputs, expected, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        if want.dtype.kind == "f":
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
            finite = np.isfinite(want)
            np.testing.assert_allclose(got[finite].astype("float64"),
                                       want[finite].astype("float64"), rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(got, want)
    return fn, graph


@pytest.mark.parametrize("elem", [F, H], ids=["float32", "float16"])
@pytest.mark.parametrize("op,attrs", [("LeakyRelu", {"alpha": 0.07}), ("Elu", {"alpha": 1.3}),
                                      ("Softplus", {})], ids=["leaky_relu", "elu", "softplus"])
def test_activation_functions_match_the_reference_as_one_kernel(rng, op, attrs, elem):
    shape = (7, 61, 59)
    model = _model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": (elem, shape)},
                   {"y": (elem, shape)})
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    x = _values(rng, shape, dtype)
    if op == "Softplus":  # beyond exp's range: x itself, as the reference (not inf)
        x.reshape(-1)[5:8] = [100.0, -100.0, 88.5] if dtype == np.float32 else [20, -20, 11.2]
    tol = 2e-3 if dtype == np.float16 else 1e-5
    fn, _ = _run(model, {"x": x}, rtol=tol, atol=tol)
    assert fn.num_kernels == 1


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_log_softmax_is_a_row_reduction(rng, axis):
    shape = (13, 185)
    model = _model([helper.make_node("LogSoftmax", ["x"], ["y"], axis=axis)],
                   {"x": (F, shape)}, {"y": (F, shape)})
    x = (rng.standard_normal(shape) * 5).astype("float32")
    fn, _ = _run(model, {"x": x}, atol=1e-5)
    assert fn.num_kernels == 1


@pytest.mark.parametrize("op", ["ReduceLogSum", "ReduceLogSumExp"])
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([0, 2], 0), ([-1], 0)])
def test_log_reductions(rng, op, axes, keepdims):
    shape = (7, 13, 5)
    kept = tuple(1 if d in [a % 3 for a in axes] else n for d, n in enumerate(shape))
    out = kept if keepdims else tuple(n for d, n in enumerate(shape)
                                      if d not in [a % 3 for a in axes])
    model = _model([helper.make_node(op, ["x", "axes"], ["y"], keepdims=keepdims)],
                   {"x": (F, shape)}, {"y": (F, out)},
                   [numpy_helper.from_array(np.array(axes, np.int64), "axes")], opset=18)
    x = rng.uniform(0.1, 3, shape).astype("float32")
    if op == "ReduceLogSumExp":
        x = x * 40 - 60  # exp would overflow and underflow without the shift by the max
    _run(model, {"x": x}, atol=1e-5)


def test_pow_of_mixed_dtypes_and_a_constant_square(rng):
    """Pow(float, int64), Pow(int64, float) and Pow(x, 2.0) (a multiply: no pow call)."""
    nodes = [helper.make_node("Pow", ["x", "n"], ["a"]), helper.make_node("Pow", ["n", "x"], ["b"]),
             helper.make_node("Pow", ["x", "two"], ["c"])]
    model = _model(nodes, {"x": (F, (5, 13)), "n": (I64, (13,))},
                   {"a": (F, (5, 13)), "b": (I64, (5, 13)), "c": (F, (5, 13))},
                   [numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    x = rng.uniform(0.5, 3, (5, 13)).astype("float32")
    x[0, :3] = [np.nan, np.inf, 0.0]
    n = rng.integers(-3, 6, 13).astype("int64")
    n[n == 0] = 2
    graph = tf.from_onnx(model)
    assert [node.op for node in graph.nodes if node.name == "c"] == ["mul"]
    fn = tf.compile(graph)
    a, b, c = fn(x=x, n=n)
    with np.errstate(all="ignore"):
        ea, eb, ec = ReferenceEvaluator(model).run(None, {"x": x, "n": n})
    np.testing.assert_allclose(a, ea, rtol=1e-6)
    with np.errstate(all="ignore"):
        real = np.power(n.astype("float64"), x.astype("float64"))
        clear = np.isfinite(real) & (np.abs(real - np.round(real)) > 1e-6) & (np.abs(real) < 2**62)
    np.testing.assert_array_equal(b[clear], eb[clear])
    np.testing.assert_array_equal(c, ec)


def test_mod_where_comparisons_and_logic_in_one_chain(rng):
    """Where(And(Greater(x, y), Not(IsNaN(x))), Mod(x, y), Sign(y)) with Or/Xor of flags."""
    nodes = [helper.make_node("Greater", ["x", "y"], ["gt"]),
             helper.make_node("IsNaN", ["x"], ["nan"]), helper.make_node("Not", ["nan"], ["ok"]),
             helper.make_node("And", ["gt", "ok"], ["pick"]),
             helper.make_node("Xor", ["pick", "flag"], ["mixed"]),
             helper.make_node("Or", ["mixed", "flag"], ["any"]),
             helper.make_node("Mod", ["x", "y"], ["r"], fmod=1),
             helper.make_node("Sign", ["y"], ["s"]),
             helper.make_node("Where", ["any", "r", "s"], ["out"])]
    model = _model(nodes, {"x": (F, (7, 1, 13)), "y": (F, (5, 13)), "flag": (B, (7, 5, 1))},
                   {"out": (F, (7, 5, 13))})
    feeds = {"x": _values(rng, (7, 1, 13), "float32"),
             "y": rng.uniform(-3, 3, (5, 13)).astype("float32"),
             "flag": rng.random((7, 5, 1)) < 0.3}
    fn, _ = _run(model, feeds)
    assert fn.num_kernels == 1


def test_integer_mod_and_comparisons_of_ints(rng):
    nodes = [helper.make_node("Mod", ["a", "b"], ["m"]),
             helper.make_node("LessOrEqual", ["a", "b"], ["le"]),
             helper.make_node("GreaterOrEqual", ["m", "b"], ["ge"]),
             helper.make_node("Equal", ["a", "b"], ["eq"]),
             helper.make_node("Less", ["a", "b"], ["lt"])]
    model = _model(nodes, {"a": (I64, (7, 13)), "b": (I64, (13,))},
                   {"m": (I64, (7, 13)), "le": (B, (7, 13)), "ge": (B, (7, 13)),
                    "eq": (B, (7, 13)), "lt": (B, (7, 13))})
    b = rng.integers(-7, 8, 13).astype("int64")
    b[b == 0] = 3
    _run(model, {"a": rng.integers(-50, 50, (7, 13)).astype("int64"), "b": b})


def test_rounding_and_special_value_tests(rng):
    nodes = [helper.make_node("Round", ["x"], ["r"]), helper.make_node("Floor", ["x"], ["f"]),
             helper.make_node("Ceil", ["x"], ["c"]), helper.make_node("Erf", ["x"], ["e"]),
             helper.make_node("Log", ["x"], ["l"]),
             helper.make_node("IsInf", ["x"], ["pinf"], detect_negative=0)]
    shape = (14, 185)
    model = _model(nodes, {"x": (F, shape)}, {**{k: (F, shape) for k in "rfcel"},
                                               "pinf": (B, shape)})
    x = _values(rng, shape, "float32")
    x.reshape(-1)[5:11] = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5]
    _run(model, {"x": x})

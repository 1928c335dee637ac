"""Every dtype through the kernels: element-wise chains, reductions, transposes, scatters and
casts between every pair, against numpy (``tvm_fusion.reference``) or ``onnx.reference``.

bfloat16 arrays are ``ml_dtypes.bfloat16`` numpy arrays; their kernels compute in float32 and
round to nearest even after every op, so results are compared bit for bit with
``onnx.reference`` (which computes with ``ml_dtypes``). Integer sums wrap in their dtype, as
``onnx.reference`` (``np.sum(x, dtype=x.dtype)``) does.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tests.helpers import compile_fn, run_onnx_node
from tvm_fusion import reference
from tvm_fusion.frontends import from_onnx
from tvm_fusion.graph import DTYPES, FLOAT8_DTYPES, FLOAT_DTYPES, INT_DTYPES, NUMERIC_DTYPES

NEW_DTYPES = ("int8", "int16", "uint8", "uint16", "uint32", "uint64", "bfloat16", "float64")


def values(rng, shape, dtype: str, low=-20, high=20) -> np.ndarray:
    """Random values of ``dtype``: integers in [low, high) (unsigned: from 0), floats
    uniform in [low, high) (bfloat16: rounded from float32)."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in INT_DTYPES:
        return rng.integers(0 if dtype.startswith("u") else low, high, shape).astype(dtype)
    return rng.uniform(low, high, shape).astype("float32").astype(dtype)


def same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal dtype, shape and bits (every NaN counts as NaN: payloads may differ)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    if actual.dtype.kind in "fV":  # float, or ml_dtypes' bfloat16
        wide_a, wide_e = actual.astype("float64"), expected.astype("float64")
        nan = np.isnan(wide_e)
        np.testing.assert_array_equal(np.isnan(wide_a), nan)
        width = f"uint{8 * actual.itemsize}"
        np.testing.assert_array_equal(actual.view(width)[~nan], expected.view(width)[~nan])
    else:
        np.testing.assert_array_equal(actual, expected)


def check(fn, graph_inputs: dict, graph) -> None:
    got = fn(**graph_inputs)
    want = reference.run(graph, graph_inputs)
    for a, w in zip(got, want):
        if a.dtype == np.float64:  # LLVM may contract a * b + c into one fma
            np.testing.assert_allclose(a, w, rtol=1e-12)
        else:
            same_bits(a, w)


# bfloat16 chains compile slowly (a known problem, docs/architecture.md): every bfloat16 op
# rounds its f32 result explicitly and uses it several times (the rounding bits, the NaN
# test; a NaN-propagating max/min uses each operand three times), and the inlined expression
# repeats each producer per use, so it grows exponentially with the chain: this 7-op chain
# took over 25 minutes to compile in bfloat16 (under a second in every other dtype).
@pytest.mark.parametrize("dtype", NEW_DTYPES)
def test_fused_elementwise_chain(rng, dtype):
    def build(g, x, y):
        if dtype == "bfloat16":  # shorter: see "bfloat16 chains compile slowly" below
            return g.maximum(g.add(g.mul(x, y), x), g.relu(y))
        chain = g.maximum(g.add(g.mul(x, y), x), g.relu(y))
        return g.minimum(g.abs(g.sub(chain, x)), y)

    fn = compile_fn({"x": ((7, 13), dtype), "y": ((13,), dtype)}, build)
    assert fn.num_kernels == 1
    g = fn.graph
    check(fn, {"x": values(rng, (7, 13), dtype), "y": values(rng, (13,), dtype)}, g)


@pytest.mark.parametrize("dtype", NEW_DTYPES)
def test_reductions(rng, dtype):
    def build(g, x):
        # (uint64 min: its identity 2**64 - 1 does not survive TVMScript's round trip in
        # alignment.py, "Expected Optional<ir.Expr> but got ffi.BigInt": a known gap)
        smallest = () if dtype == "uint64" else (g.reduce_min(x, axes=(2,)),)
        return (g.reduce_sum(x, axes=(1,), keepdims=False), g.reduce_max(x, axes=(0, 2)),
                *smallest, g.reduce_prod(x, axes=(0,), keepdims=False))

    fn = compile_fn({"x": ((5, 61, 3), dtype)}, build)
    low = -2 if dtype in FLOAT_DTYPES else -100  # products of 5 small floats stay finite
    x = values(rng, (5, 61, 3), dtype, low, -low)
    check(fn, {"x": x}, fn.graph)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16"])
def test_small_int_sum_wraps_as_onnx_reference(rng, dtype):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (3, 101), endpoint=True).astype(dtype)
    (got,) = compile_fn({"x": ((3, 101), dtype)},
                        lambda g, x: g.reduce_sum(x, axes=(1,), keepdims=True))(x)
    model = _model("ReduceSum", {"x": x}, (3, 1), dtype, extra=[("axes", np.array([1]))])
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    assert np.abs(x.astype(np.int64).sum(axis=1)).max() > np.iinfo(dtype).max  # it wraps
    same_bits(got, want)


@pytest.mark.parametrize("dtype", NEW_DTYPES + ("bool",))
def test_transpose_and_scatter(rng, dtype):
    data = values(rng, (11, 1, 7), dtype)
    indices = rng.integers(-11, 11, (3, 1, 7)).astype("int64")
    updates = values(rng, (3, 1, 7), dtype)

    def build(g, data, indices, updates):
        scattered = g.scatter_elements(data, indices, updates, axis=0)
        return g.transpose(data, (2, 0, 1)), scattered

    fn = compile_fn({"data": (data.shape, dtype), "indices": (indices.shape, "int64"),
                     "updates": (updates.shape, dtype)}, build)
    check(fn, {"data": data, "indices": indices, "updates": updates}, fn.graph)


def _cast_sources(dtype: str) -> np.ndarray:
    """Values of ``dtype`` with its extremes and, for floats, fractions, -0, inf and NaN."""
    if dtype == "bool":
        return np.array([True, False, True])
    if dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        return np.array([0, 1, 2, 7, 100, 127, info.max, info.min,
                         *([-1, -2, -100, -128] if info.min else [])], dtype)
    return np.array([0, 0.5, 1.5, 2.75, -0.0, 100.25, 126.9, -1.5, -100.7, 3e4, np.inf,
                     -np.inf, np.nan], "float32").astype(dtype)


def _defined(x: np.ndarray, target: str) -> np.ndarray:
    """Where ONNX Cast defines the result: a float to an integer only in the target's range."""
    if x.dtype.kind not in "fV" or target not in INT_DTYPES:
        return np.ones(x.shape, bool)
    info, wide = np.iinfo(target), x.astype("float64")
    with np.errstate(invalid="ignore"):
        return np.isfinite(wide) & (np.trunc(wide) >= info.min) & (np.trunc(wide) <= info.max)


@pytest.mark.parametrize("source", DTYPES)
def test_cast_between_every_pair(source):
    x = _cast_sources(source)
    targets = [t for t in DTYPES if t != source]
    fn = compile_fn({"x": (x.shape, source)},
                    lambda g, x: tuple(g.cast(x, t, name=f"to_{t}") for t in targets))
    for target, got in zip(targets, fn(x)):
        with np.errstate(invalid="ignore", over="ignore"):
            want = x.astype(target)  # what onnx.reference's Cast does
            if target in FLOAT8_DTYPES:  # ONNX Cast saturates to float8 by default
                top = float(ml_dtypes.finfo(target).max)
                want = np.clip(x.astype(np.float32), -top, top).astype(target)
        keep = _defined(x, target)
        try:
            same_bits(got[keep], want[keep])
        except AssertionError as err:
            raise AssertionError(f"cast {source} -> {target}: {x[keep]}\n{err}") from None


# f32 bit patterns: ties to even both ways, around ties, NaNs (one with its payload only in
# the low half, which truncation would turn into infinity), infinities, the largest float
# (rounds up to infinity), subnormals, -0
ROUNDING = np.array([0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0xBF818000, 0x7FC00000,
                     0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x7F800000, 0xFF800000, 0x7F7FFFFF,
                     0x7F7F7FFF, 0x00008000, 0x00018000, 0x00000001, 0x80000000, 0x3F800000],
                    dtype=np.uint32).view(np.float32)


def test_bfloat16_rounding_is_onnx_reference_bit_for_bit(rng):
    x = np.concatenate([ROUNDING, rng.integers(0, 2**32, 4093, dtype=np.uint64)
                        .astype(np.uint32).view(np.float32)])
    (got,) = compile_fn({"x": (x.shape, "float32")}, lambda g, x: g.cast(x, "bfloat16"))(x)
    want = run_onnx_cast(x, TensorProto.BFLOAT16)
    assert got.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))  # NaN bits too


def run_onnx_cast(x: np.ndarray, to: int) -> np.ndarray:
    node = helper.make_node("Cast", ["x"], ["y"], to=to)
    graph = helper.make_graph([node], "cast", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, x.shape)], [helper.make_tensor_value_info("y", to, x.shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with np.errstate(invalid="ignore"):
        (y,) = ReferenceEvaluator(model).run(None, {"x": x})
    return y


def _model(op: str, inputs: dict, out_shape, dtype: str, extra=()) -> onnx.ModelProto:
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node(op, [*inputs, *(name for name, _ in extra)], ["out"])
    infos = [helper.make_tensor_value_info(n, elem, a.shape) for n, a in inputs.items()]
    inits = [onnx.numpy_helper.from_array(v, name) for name, v in extra]
    graph = helper.make_graph([node], op, infos, [helper.make_tensor_value_info(
        "out", elem, out_shape)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_bfloat16_model_matches_onnx_reference_bit_for_bit(rng):
    """An imported bfloat16 chain (Mul, Add, Div, Max), fused into one kernel, rounds after
    every op as onnx.reference does: the bits agree over random bit patterns."""
    shape = (17, 131)
    x, y = (rng.integers(0, 2**16, shape).astype(np.uint16).view(ml_dtypes.bfloat16)
            for _ in range(2))
    bf16 = TensorProto.BFLOAT16
    nodes = [helper.make_node("Mul", ["x", "y"], ["m"]), helper.make_node("Add", ["m", "x"], ["a"]),
             helper.make_node("Div", ["a", "y"], ["d"]), helper.make_node("Max", ["d", "x"], ["out"])]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info(n, bf16, shape)
                                               for n in "xy"],
                              [helper.make_tensor_value_info("out", bf16, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with np.errstate(all="ignore"):
        (want,) = ReferenceEvaluator(model).run(None, {"x": x, "y": y})
    fn = tf.compile(from_onnx(model))
    (got,) = fn(x=x, y=y)
    assert fn.num_kernels == 1
    same_bits(got, want)


@pytest.mark.parametrize("dtype", ["int8", "uint32", "bfloat16", "float64"])
def test_onnx_node_against_reference(rng, dtype):
    """One Sub per dtype through run_onnx_node (unsigned: wraps, as numpy)."""
    a, b = values(rng, (19, 3), dtype), values(rng, (19, 3), dtype)
    want = run_onnx_node("Sub", {"a": a, "b": b})
    (got,) = compile_fn({"a": (a.shape, dtype), "b": (b.shape, dtype)},
                        lambda g, a, b: g.sub(a, b))(a, b)
    same_bits(got, want)


def test_every_numeric_dtype_is_covered():
    assert set(NUMERIC_DTYPES) == set(NEW_DTYPES) | {"int32", "int64", "float16", "float32"}

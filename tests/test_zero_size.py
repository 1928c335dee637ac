"""Zero-size tensors: a dimension of 0 is allowed; a group whose outputs are all empty gets
no kernel (``fn.num_kernels``) and the call returns correctly shaped empty arrays; a
reduction over an empty axis gives the identity (sum 0, prod 1, max the lowest value, min the
highest, as ``onnx.reference``); empty index tensors pass their checks."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tests.helpers import assert_same, compile_fn
from tvm_fusion import reference
from tvm_fusion.frontends import from_onnx


def _check(fn, arrays: dict) -> tuple:
    got = fn(**arrays)
    want = reference.run(fn.graph, arrays)
    assert len(got) == len(want)
    for a, w in zip(got, want):
        assert_same(a, w)
    return got


@pytest.mark.parametrize("shape", [(0,), (3, 0, 5), (0, 1), (7, 0)])
@pytest.mark.parametrize("dtype", ["float32", "int8", "bfloat16"])
def test_empty_elementwise_chain_launches_nothing(shape, dtype):
    fn = compile_fn({"x": (shape, dtype), "y": (shape[-1:], dtype)},
                    lambda g, x, y: (g.relu(g.add(g.mul(x, y), x)), g.transpose(x)))
    assert fn.num_kernels == 0
    outputs = _check(fn, {"x": np.zeros(shape, dtype), "y": np.ones(shape[-1:], dtype)})
    assert [o.shape for o in outputs] == [shape, shape[::-1]]


@pytest.mark.parametrize("fuse", [True, False])
def test_empty_broadcast_with_one_is_empty(fuse):
    g = tf.Graph()
    x, y = g.input("x", (0, 1, 3), "float32"), g.input("y", (4, 1), "float32")
    z = g.add(x, y)
    assert z.shape == (0, 4, 3)  # numpy: 0 broadcast with 1 is 0, not 1
    g.output(z)
    fn = tf.compile(g, fuse=fuse)
    assert fn.num_kernels == 0
    _check(fn, {"x": np.zeros((0, 1, 3), "float32"), "y": np.ones((4, 1), "float32")})


# (bfloat16 is not here: its vectorised constant fill trips TVM's bfloat16 legaliser,
# "dtype mismatch on BufferStore ... uint16 ... bfloat16x5": a known gap)
@pytest.mark.parametrize("dtype", ["float32", "float16", "int32", "uint8", "float64"])
def test_reductions_over_an_empty_axis_give_the_identity(dtype):
    def build(g, x):
        return tuple(getattr(g, f"reduce_{k}")(x, axes=(1,), keepdims=keep)
                     for k, keep in (("sum", False), ("prod", True), ("max", True),
                                     ("min", False), ("mean", True)))

    x = np.zeros((3, 0, 5), dtype)
    fn = compile_fn({"x": (x.shape, dtype)}, build)
    total, product, largest, smallest, mean = _check(fn, {"x": x})
    assert (total == 0).all() and total.shape == (3, 5)
    assert (product == 1).all() and product.shape == (3, 1, 5)
    if dtype.startswith("float") or dtype == "bfloat16":
        assert np.isneginf(largest.astype("float32")).all()
        assert np.isposinf(smallest.astype("float32")).all()
        assert np.isnan(mean.astype("float32")).all()
    else:
        assert (largest == np.iinfo(dtype).min).all() and (smallest == np.iinfo(dtype).max).all()


@pytest.mark.parametrize("op, onnx_op", [("reduce_max", "ReduceMax"), ("reduce_min", "ReduceMin"),
                                         ("reduce_sum", "ReduceSum"),
                                         ("reduce_prod", "ReduceProd")])
def test_empty_reductions_match_onnx_reference(op, onnx_op):
    x = np.zeros((2, 0, 4), "float32")
    (got,) = compile_fn({"x": (x.shape, "float32")},
                        lambda g, x: getattr(g, op)(x, axes=(1,), keepdims=True))(x)
    node = helper.make_node(onnx_op, ["x", "axes"], ["y"], keepdims=1)
    graph = helper.make_graph([node], "r", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, x.shape)], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, (2, 1, 4))],
        initializer=[onnx.numpy_helper.from_array(np.array([1], "int64"), "axes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    assert_same(got, want)


def test_reduction_of_a_non_empty_axis_of_an_empty_tensor_is_empty():
    fn = compile_fn({"x": ((3, 0, 5), "float32")},
                    lambda g, x: g.exp(g.reduce_sum(x, axes=(0, 2), keepdims=False)))
    assert fn.num_kernels == 0
    (out,) = _check(fn, {"x": np.zeros((3, 0, 5), "float32")})
    assert out.shape == (0,)


def test_a_graph_with_empty_and_non_empty_outputs():
    """The empty output gets no kernel; the sum over the empty axis and the non-empty chain
    run (the empty tensor read by a kernel is passed, nothing is read from it)."""
    def build(g, x, y):
        total = g.reduce_sum(g.mul(x, x), axes=(0,), keepdims=False)  # (4,): zeros
        return g.add(x, y), g.add(total, y), g.sqrt(y)

    fn = compile_fn({"x": ((0, 4), "float32"), "y": ((4,), "float32")}, build)
    y = np.arange(4, dtype="float32")
    empty, shifted, _ = _check(fn, {"x": np.zeros((0, 4), "float32"), "y": y})
    assert empty.shape == (0, 4)
    np.testing.assert_array_equal(shifted, y)
    assert fn.num_kernels >= 1
    assert "zero-size" in fn.explain_call(x=np.zeros((0, 4), "float32"), y=y)
    out = (np.empty((0, 4), "float32"), None, None)
    assert fn(x=np.zeros((0, 4), "float32"), y=y, out=out)[0] is out[0]


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_scatter_with_empty_indices_returns_the_data(rng, dtype):
    data = rng.integers(0, 9, (5, 3)).astype(dtype)
    indices, updates = np.zeros((0, 3), "int64"), np.zeros((0, 3), dtype)

    def build(g, data, indices, updates):
        return (g.scatter_elements(data, indices, updates, axis=0, reduction="add"),
                g.scatter_nd(data, g.constant(np.zeros((0, 1), "int64"), name="nd_indices"),
                             g.constant(np.zeros((0, 3), dtype), name="nd_updates")))

    fn = compile_fn({"data": (data.shape, dtype), "indices": (indices.shape, "int64"),
                     "updates": (updates.shape, dtype)}, build)
    elements, nd = _check(fn, {"data": data, "indices": indices, "updates": updates})
    np.testing.assert_array_equal(elements, data)
    np.testing.assert_array_equal(nd, data)


def test_gather_with_empty_indices_launches_nothing(rng):
    data = rng.standard_normal((6, 4)).astype("float32")
    fn = compile_fn({"data": (data.shape, "float32"), "indices": ((0, 2), "int64")},
                    lambda g, data, indices: g.gather(data, indices, axis=0))
    assert fn.num_kernels == 0
    (out,) = _check(fn, {"data": data, "indices": np.zeros((0, 2), "int64")})
    assert out.shape == (0, 2, 4)


def test_empty_index_tensor_of_empty_data_passes_and_a_bad_one_is_refused():
    fn = compile_fn({"data": ((0, 4), "float32"), "indices": ((2,), "int64")},
                    lambda g, data, indices: g.gather(data, indices, axis=0))
    with pytest.raises(tf.InputError, match="expected in \\[0, -1\\]"):
        fn(data=np.zeros((0, 4), "float32"), indices=np.zeros(2, "int64"))


def test_onnx_model_with_empty_input_and_constant_imports_and_runs():
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, (0, 3))
    nodes = [helper.make_node("Add", ["x", "c"], ["s"]),
             helper.make_node("Concat", ["s", "e"], ["out"], axis=0)]
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, (0, 3))
    inits = [onnx.numpy_helper.from_array(np.ones(3, "float32"), "c"),
             onnx.numpy_helper.from_array(np.zeros((0, 3), "float32"), "e")]
    model = helper.make_model(helper.make_graph(nodes, "empty", [x_info], [out],
                                                initializer=inits),
                              opset_imports=[helper.make_opsetid("", 18)])
    fn = tf.compile(from_onnx(model))
    x = np.zeros((0, 3), "float32")
    (got,) = fn(x=x)
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    assert fn.num_kernels == 0
    assert_same(got, want)

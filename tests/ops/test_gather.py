"""Gather, GatherElements, GatherND: through the ONNX converters against ``onnx.reference``
(prime and size-1 shapes, negative axes and indices, scalar indices, every dtype), fused
chains, and index safety: out-of-range indices refused before the kernel runs, computed
indices and gathers of a reduction cut from their producers."""

from __future__ import annotations

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import ALL_DTYPES, assert_same, random_array
from tests.ops.onnx_node import check_node
from tvm_fusion import reference
from tvm_fusion.checks import InputError
from tvm_fusion.frontends import OnnxImportError
from tvm_fusion.fusion import fuse
from tvm_fusion.inspect_ir import global_intermediates


def _indices(rng, shape, bound, dtype="int64"):
    return rng.integers(-bound, bound, size=shape).astype(dtype)


@pytest.mark.parametrize("shape,indices,axis", [((7, 13, 5), (2, 3), 1), ((7, 13, 5), (), -1),
                                                ((1, 13), (11,), 0), ((97,), (5, 1, 3), 0)])
def test_gather_matches_onnx(rng, shape, indices, axis):
    bound = shape[axis]
    check_node("Gather", {"x": random_array(rng, shape, "float32"),
                          "i": _indices(rng, indices, bound)}, axis=axis, kernels=1)


@pytest.mark.parametrize("shape,indices,axis", [((7, 13), (5, 13), 0), ((7, 13), (7, 2), 1),
                                                ((3, 1, 5), (3, 1, 11), 2)])
def test_gather_elements_matches_onnx(rng, shape, indices, axis):
    check_node("GatherElements", {"x": random_array(rng, shape, "float32"),
                                  "i": _indices(rng, indices, shape[axis], "int32")}, axis=axis)


@pytest.mark.parametrize("shape,rows,k", [((7, 13, 5), (3,), 2), ((7, 13), (2, 3), 2),
                                          ((7, 1, 5), (4,), 1)])
def test_gather_nd_matches_onnx(rng, shape, rows, k):
    columns = [_indices(rng, rows, shape[d]) for d in range(k)]
    check_node("GatherND", {"x": random_array(rng, shape, "float32"),
                            "i": np.stack(columns, axis=-1)})


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_gathers_every_dtype(rng, dtype):
    x = random_array(rng, (5, 11), dtype)
    check_node("Gather", {"x": x, "i": _indices(rng, (3,), 11, "int32")}, axis=1)
    check_node("GatherElements", {"x": x, "i": _indices(rng, (2, 11), 5)}, axis=0)
    check_node("GatherND", {"x": x, "i": np.stack([_indices(rng, (4,), 5),
                                                    _indices(rng, (4,), 11)], -1)})


@pytest.mark.parametrize("shape, rows, batch_dims, k", [
    ((3, 5), (3,), 1, 1), ((2, 7, 13, 5), (2, 7, 3), 2, 1), ((5, 7, 11), (5, 2, 3), 1, 2),
    ((3, 13, 5), (3,), 1, 2)])
def test_gather_nd_batch_dims_matches_onnx(rng, shape, rows, batch_dims, k):
    """Imported as batch_dims 0 with each index tuple prefixed by its batch position."""
    columns = [_indices(rng, rows, shape[batch_dims + d]) for d in range(k)]
    check_node("GatherND", {"x": random_array(rng, shape, "float32"),
                            "i": np.stack(columns, axis=-1)}, batch_dims=batch_dims)


def test_embedding_scale_is_one_parallel_kernel(rng):
    g = tf.Graph()
    table, ids = g.input("table", (1009, 613), "float32"), g.input("ids", (3, 211), "int64")
    g.output(g.exp(g.mul(g.gather(table, ids, 0), g.constant(np.float32(0.5)))))
    fn = tf.compile(g)
    assert fn.num_kernels == 1 and global_intermediates(fn.kernels[0].scheduled) == []
    assert "T.parallel" in fn.kernels[0].scheduled.script()
    arrays = {"table": random_array(rng, (1009, 613), "float32", -2, 2),
              "ids": _indices(rng, (3, 211), 1009)}
    assert_same(fn(**arrays)[0], reference.run(g, arrays)[0])


def _gather_graph(op, bound=13):
    g = tf.Graph()
    x = g.input("x", (7, bound), "float32")
    if op == "gather":
        g.output(g.gather(x, g.input("idx", (2, 3), "int64"), 1, name="g"))
    elif op == "gather_elements":
        g.output(g.gather_elements(x, g.input("idx", (2, 3), "int64"), 1, name="g"))
    else:
        g.output(g.gather_nd(x, g.input("idx", (2, 3, 2), "int64"), name="g"))
    return g


@pytest.mark.parametrize("op", ["gather", "gather_elements", "gather_nd"])
def test_out_of_range_index_is_refused_naming_tensor_position_value_bound(op):
    fn = tf.compile(_gather_graph(op))
    x = np.zeros((7, 13), "float32")
    idx = np.zeros((2, 3, 2) if op == "gather_nd" else (2, 3), "int64")
    if op == "gather_nd":
        idx[..., 1] = -13  # the most negative in range: wraps to 0
        fn(x=x, idx=idx)
        idx[1, 2, 1] = 13
        where, value, bound, axis = (1, 2, 1), 13, 13, 1
    else:
        idx[0, 1] = -13
        fn(x=x, idx=idx)
        idx[1, 0] = -14
        where, value, bound, axis = (1, 0), -14, 13, 1
    with pytest.raises(InputError) as err:
        fn(x=x, idx=idx)
    assert str(err.value) == (
        f"{op} 'g': index tensor 'idx' holds {value} at {where}, expected in [{-bound}, "
        f"{bound - 1}] (axis {axis} of data 'x' has {bound} entries): pass indices in that "
        "range (negative ones count from the end, as in ONNX)")


def test_computed_indices_are_checked_in_memory_before_the_gather_reads(rng):
    g = tf.Graph()
    x, idx = g.input("x", (7, 13), "float32"), g.input("idx", (2, 3), "int64")
    g.output(g.gather(x, g.add(idx, g.constant(np.int64(1)), name="shifted"), 1, name="g"))
    groups = fuse(g)
    assert [gr.name for gr in groups] == ["add", "gather"]
    assert groups[0].cut_reason == ("indices of 'g' are computed in the kernel ('shifted'): they "
                                    "must be range-checked in memory before the gather reads")
    fn = tf.compile(g)
    xa = random_array(rng, (7, 13), "float32")
    ok = np.array([[0, 1, 11], [-14, 5, -1]])
    assert_same(fn(x=xa, idx=ok)[0], xa[:, (ok + 1) % 13].reshape(7, 2, 3))
    with pytest.raises(InputError, match=r"index tensor 'shifted' holds 13 at \(0, 2\)"):
        fn(x=xa, idx=ok + np.array([[0, 0, 1], [0, 0, 0]]))


def test_gather_of_a_reduction_is_cut_after_the_reduction(rng):
    g = tf.Graph()
    x, idx = g.input("x", (13, 29), "float32"), g.input("idx", (7,), "int32")
    g.output(g.gather(g.exp(g.reduce_sum(x, axes=[1], name="total")), idx, 0, name="g"))
    groups = fuse(g)
    assert [gr.name for gr in groups] == ["reduce_sum+exp", "gather"]
    assert groups[0].cut_reason == ("'g' (gather) reads the result of reduce_sum 'total' at "
                                    "data-dependent positions: the reduction must be complete "
                                    "in memory first")
    arrays = {"x": random_array(rng, (13, 29), "float32", -0.1, 0.1),
              "idx": _indices(rng, (7,), 13, "int32")}
    assert_same(tf.compile(g)(**arrays)[0], reference.run(g, arrays)[0])


def test_exported_module_refuses_an_out_of_range_gather_index(tmp_path):
    fn = tf.compile(_gather_graph("gather"))
    x, idx = np.zeros((7, 13), "float32"), np.array([[0, 1, 2], [3, -13, 12]])
    tf.export(fn, tmp_path / "gather", inputs={"x": x, "idx": idx}, repeat=1)
    module = tf.load(tmp_path / "gather.so")
    assert_same(module(x=x, idx=idx)[0], fn(x=x, idx=idx)[0])
    idx[0, 2] = 13
    with pytest.raises(InputError, match=r"gather 'g': index tensor 'idx' holds 13 at \(0, 2\), "
                                         r"expected in \[-13, 12\]"):
        module(x=x, idx=idx)

"""Fusion groups: the reference workloads are one group; cuts happen only with a reason."""

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.fuse import fuse


@pytest.mark.parametrize("name", workloads.BASE + workloads.SMALL)
def test_workloads_are_one_group_and_one_kernel(name):
    graph, arrays = workloads.load(name)
    (group,) = fuse(graph)
    assert len(group.nodes) == len(graph.nodes) and group.cut_reason is None
    fn = tf.compile(graph)
    assert fn.num_kernels == 1
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference(name, arrays),
                               rtol=1e-4, atol=1e-3)


def test_diamond_softmax_style_is_one_group(rng):
    g = tf.Graph()
    x = g.input("x", (13, 61), "float32")
    shifted = g.exp(g.sub(x, g.reduce_max(x, axes=[1])))
    g.output(g.div(shifted, g.reduce_sum(shifted, axes=[1])))
    (group,) = fuse(g)
    assert len(group.nodes) == 5
    xa = rng.standard_normal((13, 61)).astype("float32")
    e = np.exp(xa - xa.max(1, keepdims=True))
    np.testing.assert_allclose(tf.compile(g)(xa)[0], e / e.sum(1, keepdims=True), rtol=1e-5)


def test_op_after_scatter_cuts_with_a_reason(rng):
    g = tf.Graph()
    data = g.input("data", (7, 5), "float32")
    idx = g.input("idx", (3, 1), "int64")
    upd = g.input("upd", (3, 5), "float32")
    out = g.relu(g.scatter_nd(data, idx, g.neg(upd)))
    g.output(out)
    first, second = fuse(g)
    assert [n.op for n in first.nodes] == ["neg", "scatter_nd"]
    assert "reads the output of scatter" in first.cut_reason
    assert [t.name for t in first.outputs] == [second.inputs[0].name]
    arrays = {"data": rng.standard_normal((7, 5)).astype("float32"),
              "idx": np.array([[4], [-1], [0]]), "upd": rng.standard_normal((3, 5)).astype("float32")}
    (expected,) = tf.reference.run(g, arrays)
    np.testing.assert_allclose(tf.compile(g)(**arrays)[0], expected, rtol=1e-6)


def test_computed_indices_are_cut_out_and_checked():
    g = tf.Graph()
    data = g.input("data", (7, 5), "float32")
    base = g.input("base", (3, 1), "int64")
    upd = g.input("upd", (3, 5), "float32")
    idx = g.add(base, g.constant(np.array([[2]], dtype="int64")))
    g.output(g.scatter_nd(data, idx, upd))
    first, second = fuse(g)
    assert "range-checked" in first.cut_reason and second.nodes[0].op == "scatter_nd"
    fn = tf.compile(g)
    arrays = {"data": np.zeros((7, 5), "float32"), "base": np.array([[0], [1], [2]]),
              "upd": np.ones((3, 5), "float32")}
    assert fn(**arrays)[0][2:5].sum() == 15
    with pytest.raises(ValueError, match="holds 7"):
        fn(**dict(arrays, base=np.array([[0], [1], [5]])))


def test_fused_and_per_op_agree_and_differ_in_kernel_count(rng):
    graph, arrays = workloads.load("W5s")
    fused, per_op = tf.compile(graph), tf.compile(graph, fuse=False)
    assert (fused.num_kernels, per_op.num_kernels) == (1, len(graph.nodes))
    np.testing.assert_array_equal(fused(**arrays)[0], per_op(**arrays)[0])

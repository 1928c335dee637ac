"""Fusion groups: the reference workloads are one group; cuts happen only with a reason."""

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.fusion import fuse, live_nodes
from tvm_fusion.guards import index_checks


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


def _scatter_rows(g, rows=11, width=6, count=3):
    """An unrelated ScatterND: rows of ``data`` replaced by ``neg(upd)``."""
    data = g.input("data", (rows, width), "float32")
    idx = g.input("idx", (count, 1), "int64")
    return g.scatter_nd(data, idx, g.neg(g.input("upd", (count, width), "float32")))


def _scatter_arrays(rng, rows=11, width=6, count=3):
    return {"data": rng.standard_normal((rows, width)).astype("float32"),
            "idx": rng.choice(rows, size=(count, 1), replace=False).astype("int64"),
            "upd": rng.standard_normal((count, width)).astype("float32")}


def _scatter_numpy(data, idx, upd):
    out = data.copy()
    out[idx[:, 0]] = -upd
    return out


def test_softmax_and_an_unrelated_scatter_are_two_groups(rng):
    g = tf.Graph()
    x = g.input("x", (13, 61), "float32")
    shifted = g.exp(g.sub(x, g.reduce_max(x, axes=[1])))
    g.output(g.div(shifted, g.reduce_sum(shifted, axes=[1])))
    g.output(_scatter_rows(g))
    softmax, scatter = fuse(g)
    assert [n.op for n in softmax.nodes] == ["reduce_max", "sub", "exp", "reduce_sum", "div"]
    assert [n.op for n in scatter.nodes] == ["neg", "scatter_nd"]
    assert softmax.cut_reason is None and scatter.cut_reason is None  # not cut: unrelated
    fn = tf.compile(g)
    assert fn.num_kernels == 2 and fn.schedules[1] == "scatter-terminated"
    assert all(k.notice is None for k in fn.kernels)
    arrays = dict(_scatter_arrays(rng), x=rng.standard_normal((13, 61)).astype("float32"))
    e = np.exp(arrays["x"] - arrays["x"].max(1, keepdims=True))
    got_softmax, got_scatter = fn(**arrays)
    np.testing.assert_allclose(got_softmax, e / e.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_array_equal(got_scatter, _scatter_numpy(arrays["data"], arrays["idx"],
                                                               arrays["upd"]))


def test_an_unrelated_scatter_leaves_w1_reduction_rooted(rng):
    g = tf.Graph()
    x = g.input("x", (4, 8, 7, 16), "float32")
    g.output(_scatter_rows(g))  # first in graph order: the groups still follow the edges
    g.output(g.transpose(g.reduce_sum(x, axes=[2], keepdims=True), perm=(0, 3, 1, 2)))
    fn = tf.compile(g)
    assert fn.schedules == ("scatter-terminated", "reduction-rooted")
    assert all(k.notice is None for k in fn.kernels)
    arrays = dict(_scatter_arrays(rng), x=rng.standard_normal((4, 8, 7, 16)).astype("float32"))
    got_scatter, got_w1 = fn(**arrays)
    np.testing.assert_array_equal(got_scatter, _scatter_numpy(arrays["data"], arrays["idx"],
                                                               arrays["upd"]))
    np.testing.assert_allclose(got_w1, workloads._w1_numpy(arrays["x"]), rtol=1e-5, atol=1e-5)


def test_ops_reading_the_same_input_are_connected_only_through_a_consumer(rng):
    g = tf.Graph()
    x = g.input("x", (9, 17), "float32")
    g.output(g.exp(x))
    g.output(g.neg(x))  # shares x with exp, nothing else: its own group
    a, b = g.relu(x), g.abs(x)
    g.output(g.add(a, b))  # the diamond x -> a, x -> b, add(a, b): one group
    groups = fuse(g)
    assert [[n.op for n in grp.nodes] for grp in groups] == [["exp"], ["neg"],
                                                           ["relu", "abs", "add"]]
    fn = tf.compile(g)
    assert fn.schedules == ("injective",) * 3
    xa = rng.standard_normal((9, 17)).astype("float32")
    for got, want in zip(fn(xa), (np.exp(xa), -xa, np.maximum(xa, 0) + np.abs(xa))):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_groups_never_wait_on_each_other(rng):
    # g1 = {neg, scatter s1, reduce_sum}; relu reads s1 so it starts g2 with scatter s2; the
    # final add reads s2 (cannot join g2) and reduce_sum (joining g1 would make g1 and g2
    # depend on each other), so it is a third kernel, run last
    g = tf.Graph()
    data = g.input("data", (7, 5), "float32")
    idx = g.input("idx", (3, 1), "int64")
    upd = g.input("upd", (3, 5), "float32")
    t = g.neg(upd)
    s1 = g.scatter_nd(data, idx, t)
    total = g.reduce_sum(t, axes=[0], keepdims=True)
    s2 = g.scatter_nd(g.relu(s1), idx, upd)
    g.output(g.add(s2, total))
    first, second, third = fuse(g)
    assert [n.op for n in first.nodes] == ["neg", "scatter_nd", "reduce_sum"]
    assert [n.op for n in second.nodes] == ["relu", "scatter_nd"]
    assert [n.op for n in third.nodes] == ["add"]
    assert "reads the output of scatter 'scatter_nd_1'" in first.cut_reason
    assert "wait on each other" in first.cut_reason
    assert "reads the output of scatter 'scatter_nd_4'" in second.cut_reason
    arrays = {"data": rng.standard_normal((7, 5)).astype("float32"),
              "idx": np.array([[4], [-1], [0]]), "upd": rng.standard_normal((3, 5)).astype("float32")}
    (expected,) = tf.reference.run(g, arrays)
    np.testing.assert_allclose(tf.compile(g)(**arrays)[0], expected, rtol=1e-6)


def test_computed_indices_behind_a_reshape_come_from_memory():
    g = tf.Graph()
    data = g.input("data", (7, 5), "float32")
    base = g.input("base", (3,), "int64")
    upd = g.input("upd", (3, 5), "float32")
    shifted = g.add(base, g.constant(np.array([2], dtype="int64")))
    g.output(g.scatter_nd(data, g.reshape(shifted, (3, 1)), upd))
    first, second = fuse(g)
    assert [n.op for n in first.nodes] == ["add"] and first.outputs == (shifted,)
    assert "range-checked" in first.cut_reason
    assert [n.op for n in second.nodes] == ["reshape", "scatter_nd"]
    fn = tf.compile(g)
    arrays = {"data": np.zeros((7, 5), "float32"), "base": np.array([0, 1, 2]),
              "upd": np.ones((3, 5), "float32")}
    assert fn(**arrays)[0][2:5].sum() == 15
    with pytest.raises(ValueError, match="holds 7"):
        fn(**dict(arrays, base=np.array([0, 1, 5])))


def _random_graph(rng, size=12):
    """A random DAG over (7, 5) rows and (3, 5) updates, with scatters and computed indices."""
    g = tf.Graph()
    rows = [g.input("data", (7, 5), "float32")]
    updates = [g.input("upd", (3, 5), "float32")]
    idx = g.input("idx", (3, 1), "int64")
    for _ in range(size):
        kind = rng.integers(6)
        pick = lambda pool: pool[rng.integers(len(pool))]  # noqa: E731
        if kind == 0:
            rows.append(g.relu(pick(rows)))
        elif kind == 1:
            updates.append(g.neg(pick(updates)))
        elif kind == 2:
            rows.append(g.add(pick(rows), pick(rows)))
        elif kind == 3:
            rows.append(g.add(pick(rows), g.reduce_sum(pick(updates), axes=[0], keepdims=True)))
        else:  # a scatter, its indices from memory or computed (then range-checked in memory)
            indices = idx if kind == 4 else g.reshape(
                g.add(g.reshape(idx, (3,)), g.constant(np.array([1], dtype="int64"))), (3, 1))
            rows.append(g.scatter_nd(pick(rows), indices, pick(updates)))
    for t in rows[-2:] + updates[-1:]:
        if t.producer is not None and t not in g.outputs:
            g.output(t)
    return g


@pytest.mark.parametrize("seed", range(60))
def test_random_partitions_keep_every_rule(seed):
    rng = np.random.default_rng(seed)
    g = _random_graph(rng)
    nodes = live_nodes(g)
    groups = fuse(g, nodes)
    assert sorted(id(n) for grp in groups for n in grp.nodes) == sorted(id(n) for n in nodes)
    written = {id(t) for t in g.inputs} | {id(g.tensors[c]) for c in g.constants}
    checked = {c.scatter: g.tensors[c.tensor] for c in index_checks(g)}
    for grp in groups:
        inside = {id(n) for n in grp.nodes}
        produced = {id(n.output) for n in grp.nodes}
        assert all(id(t) in written for t in grp.inputs)  # execution order is valid
        written |= {id(t) for t in grp.outputs}
        for n in grp.nodes:
            assert not any(t.producer is not None and t.producer.op == "scatter_nd" and
                           id(t.producer) in inside for t in n.inputs)
            if n.op == "scatter_nd" and checked[n.name].producer is not None:
                assert id(checked[n.name]) not in produced  # range-checked from memory
        # connected through producer -> consumer edges inside the group
        reached, stack = {id(grp.nodes[0])}, [grp.nodes[0]]
        while stack:
            n = stack.pop()
            near = [t.producer for t in n.inputs if t.producer is not None] + \
                [m for m in grp.nodes if any(t is n.output for t in m.inputs)]
            for m in near:
                if id(m) in inside and id(m) not in reached:
                    reached.add(id(m))
                    stack.append(m)
        assert reached == inside


@pytest.mark.parametrize("seed", range(4))
def test_random_partitions_compute_what_numpy_computes(seed):
    rng = np.random.default_rng(seed)
    g = _random_graph(rng, size=10)
    arrays = {"data": rng.standard_normal((7, 5)).astype("float32"),
              "upd": rng.standard_normal((3, 5)).astype("float32"),
              "idx": np.array([[4], [-2], [0]])}
    for got, want in zip(tf.compile(g)(**arrays), tf.reference.run(g, arrays)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)

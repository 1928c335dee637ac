"""Each op's declared axis relation (what the split analysis will read)."""

import tvm_fusion as tf
from tvm_fusion.ops import axis_relation
from tvm_fusion.ops.layout import reshape_groups


def _node(t):
    return t.producer


def test_binary_broadcast_marks_the_broadcast_axes():
    g = tf.Graph()
    a = g.input("a", (4, 1, 5), "float32")
    b = g.input("b", (3, 5), "float32")
    rel = axis_relation(_node(g.add(a, b)))
    assert [o.kind for o in rel.outputs] == ["broadcast", "broadcast", "identity"]
    assert rel.outputs[0].sources == ((0, 0),)  # b has no axis 0
    assert rel.outputs[1].sources == ((1, 0),)  # only b iterates axis 1
    assert rel.outputs[2].sources == ((0, 2), (1, 1))


def test_reduce_keepdims_and_dropped_axes():
    g = tf.Graph()
    x = g.input("x", (2, 3, 5, 7), "float32")
    kept = axis_relation(_node(g.reduce_sum(x, axes=[1, -1], keepdims=True)))
    assert [o.kind for o in kept.outputs] == ["identity", "reduce", "identity", "reduce"]
    assert kept.reduced == ((0, 1), (0, 3))
    dropped = axis_relation(_node(g.reduce_max(x, axes=[2], keepdims=False)))
    assert [o.sources for o in dropped.outputs] == [((0, 0),), ((0, 1),), ((0, 3),)]
    assert dropped.reduced == ((0, 2),)


def test_transpose_is_a_permutation():
    g = tf.Graph()
    x = g.input("x", (2, 3, 5), "float32")
    rel = axis_relation(_node(g.transpose(x, perm=[0, 2, 1])))
    assert [(o.kind, o.sources) for o in rel.outputs] == [
        ("identity", ((0, 0),)), ("permute", ((0, 2),)), ("permute", ((0, 1),))]


def test_reshape_split_merge_groups():
    assert reshape_groups((6, 5), (2, 3, 5)) == [((0,), (0, 1)), ((1,), (2,))]
    assert reshape_groups((2, 3, 5), (6, 5)) == [((0, 1), (0,)), ((2,), (1,))]
    assert reshape_groups((4, 6), (3, 8)) == [((0, 1), (0, 1))]
    g = tf.Graph()
    x = g.input("x", (6, 5), "float32")
    rel = axis_relation(_node(g.reshape(x, (2, 3, 5))))
    assert [o.kind for o in rel.outputs] == ["split", "split", "identity"]
    merged = axis_relation(_node(g.reshape(x, (30,))))
    assert merged.outputs[0].kind == "merge" and merged.outputs[0].sources == ((0, 0), (0, 1))


def test_scatter_nd_indexed_axes_and_rows():
    g = tf.Graph()
    data = g.input("data", (32, 128, 64), "float32")
    idx = g.input("idx", (8, 1), "int64")
    upd = g.input("upd", (8, 128, 64), "float32")
    rel = axis_relation(_node(g.scatter_nd(data, idx, upd)))
    assert [o.kind for o in rel.outputs] == ["scatter_indexed", "identity", "identity"]
    assert rel.outputs[1].sources == ((0, 1), (2, 1))
    assert rel.indexed == ((1, 0), (2, 0))


def test_scatter_elements_indexed_axis():
    g = tf.Graph()
    data = g.input("data", (5, 7), "float32")
    idx = g.input("idx", (5, 3), "int32")
    upd = g.input("upd", (5, 3), "float32")
    rel = axis_relation(_node(g.scatter_elements(data, idx, upd, axis=1)))
    assert [o.kind for o in rel.outputs] == ["identity", "scatter_indexed"]
    assert rel.indexed == ((1, 1), (2, 1))

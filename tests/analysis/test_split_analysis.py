"""Axis roles and legal core splits, for the workloads and hand-made edge cases."""

import pytest

import tvm_fusion as tf
from tvm_fusion.analysis import analyze


def _only_group(graph, cores=8):
    (group,) = analyze(graph, cores=cores).groups
    return group


def _roles(group):
    return {a.name: {r.stage: r.role for r in a.roles} for a in group.axes}


def _legal(group):
    return sorted(a.name for a in group.legal_axes)


EXPECTED_LEGAL = {
    "W1": ["x.0", "x.1", "x.3"],  # n, h, c; w is reduced
    "W2": ["a.0", "a.1"],  # the reduced last axis is not
    "W3": ["x.0", "x.1", "x.2", "x.3"],  # injective: every axis
    "W4": ["u.1"],  # rows are scatter-indexed
    "W5": ["x.1", "x.3"],  # h and c; n is indexed (slots), w reduced
}


@pytest.mark.parametrize("name", sorted(EXPECTED_LEGAL))
def test_workload_legal_axes(name):
    assert _legal(_only_group(tf.workloads.graph(name))) == EXPECTED_LEGAL[name]


def test_w5_roles_follow_the_axes_through_every_stage():
    group = _only_group(tf.workloads.graph("W5"))
    roles = _roles(group)
    assert roles["x.2"]["reduce_sum_2"] == "reduce"
    assert roles["x.0"]["scatter_nd_5"] == "scatter_indexed"
    assert roles["x.3"] == {"add_0": "spatial", "cast_1": "spatial", "reduce_sum_2": "spatial",
                            "transpose_3": "spatial", "scatter_nd_5": "spatial"}
    assert roles["cache.0"] == {"scatter_nd_5": "scatter_indexed"}
    reduce_split = next(s for s in group.splits if s.axis.name == "x.2")
    assert not reduce_split.legal and reduce_split.cross_core_bytes == 7 * 8 * 64 * 128 * 4
    assert all(s.cross_core_bytes == 0 for s in group.splits if s.legal)
    assert group.chosen.axis.name == "x.3"


def test_ddr_bytes_fused_vs_unfused_w2():
    group = _only_group(tf.workloads.graph("W2"))
    a, b, out = 16 * 512 * 1024 * 2, 1024 * 2, 16 * 512 * 4
    added, cast = a, 16 * 512 * 1024 * 4
    assert group.ddr_fused == a + b + out
    assert group.ddr_unfused == (a + b + added) + (added + cast) + (cast + out)


def test_reduce_then_transpose():
    g = tf.Graph()
    x = g.input("x", (4, 6, 10), "float32")
    g.output(g.transpose(g.reduce_max(x, axes=[1], keepdims=False), perm=[1, 0]))
    group = _only_group(g)
    assert _legal(group) == ["x.0", "x.2"]
    assert _roles(group)["x.1"] == {"reduce_max_0": "reduce"}


def test_transpose_then_reduce_follows_the_moved_axis():
    g = tf.Graph()
    x = g.input("x", (4, 6, 10), "float32")
    t = g.transpose(x, perm=[2, 0, 1])  # (10, 4, 6)
    g.output(g.reduce_sum(t, axes=[0], keepdims=True))  # reduces x's axis 2
    group = _only_group(g)
    assert _roles(group)["x.2"] == {"transpose_0": "spatial", "reduce_sum_1": "reduce"}
    assert _legal(group) == ["x.0", "x.1"]


@pytest.mark.parametrize("axis,illegal", [(0, "data.0"), (1, "data.1")])
def test_scatter_elements_axis_is_illegal(axis, illegal):
    g = tf.Graph()
    data = g.input("data", (6, 8), "float32")
    idx = g.input("idx", (3, 4), "int64")
    upd = g.input("upd", (3, 4), "float32")
    g.output(g.scatter_elements(data, idx, upd, axis=axis))
    group = _only_group(g)
    axis_info = next(a for a in group.axes if a.name == illegal)
    assert "scatter-indexed" in axis_info.illegal_reason
    assert illegal not in _legal(group)
    assert len(_legal(group)) == 1


def test_scatter_nd_rows_are_indexed_columns_legal():
    g = tf.Graph()
    data = g.input("data", (16, 5), "float32")
    idx = g.input("idx", (4, 1), "int64")
    upd = g.input("upd", (4, 5), "float32")
    g.output(g.scatter_nd(data, idx, upd))
    group = _only_group(g)
    assert _legal(group) == ["data.1"]


def test_reshape_merging_a_reduce_axis_with_a_spatial_one():
    g = tf.Graph()
    x = g.input("x", (4, 6, 10), "float32")
    merged = g.reshape(x, (4, 60))  # merges the spatial 6 with the 10
    g.output(g.reduce_sum(merged, axes=[1], keepdims=False))
    group = _only_group(g)
    assert _legal(group) == ["x.0"]
    merged_axis = next(a for a in group.axes if ("x", 1) in a.members)
    assert ("x", 2) in merged_axis.members and not merged_axis.legal


def test_working_set_and_on_chip_fit():
    graph = tf.workloads.graph("W5")
    small = analyze(graph, cores=8, on_chip_bytes=2 << 20).groups[0]
    tight = analyze(graph, cores=8, on_chip_bytes=1 << 10).groups[0]
    assert small.fits_on_chip is True and tight.fits_on_chip is False
    assert small.working_set < small.ddr_fused
    # below the parallel threshold the kernel runs on one core, which touches everything
    one_core = analyze(tf.workloads.graph("W5s"), cores=2).groups[0]
    assert not one_core.split.parallel and one_core.working_set == one_core.ddr_fused


def test_report_prints_the_tables():
    text = str(analyze(tf.workloads.graph("W5"), cores=8, ddr_gbps=33))
    for needle in ("x.3", "legal", "ILLEGAL", "cross-core bytes", "DDR bytes unfused",
                   "chosen split: x.3", "scatter-indexed by scatter_nd"):
        assert needle in text

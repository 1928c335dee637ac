"""How the split analysis treats gather, concat, slice and pad axes, in its printed words and
in the kernel: a gathered data axis is an indexed read (never split), a concatenated axis is
split-legal only per piece (not split), slices and pads are identities with an offset (legal).
Every template matching a group with these ops builds it correctly (no fallback notice), and
the real templates keep no intermediate in global memory."""

from __future__ import annotations

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import assert_same, random_array
from tests.ops.test_slicing import rotary
from tvm_fusion import reference, schedules
from tvm_fusion.analysis import analyze
from tvm_fusion.build import template_context
from tvm_fusion.fusion import fuse
from tvm_fusion.guards import index_checks
from tvm_fusion.inspect_ir import global_intermediates, parallel_extents
from tvm_fusion.target import host_target, num_cores


def test_rotary_concat_axis_is_not_split_and_the_report_says_why():
    report = str(analyze(rotary(tf.Graph(), (613, 7, 64)), cores=2))
    lines = [line.strip() for line in report.splitlines()]
    assert "x.2 in concat 'rotated': the concatenated axis (each piece an identity with an " \
        "offset): split-legal only per piece, so not split across cores" in lines
    assert "x.2 in slice 'x2': an identity with an offset and a stride: split-legal" in lines
    row = next(line for line in lines if line.startswith("x.2 "))
    assert row.split()[-1] == "ILLEGAL" and " concat " in row
    assert any(line.startswith("x.2") and "concatenated by concat 'rotated' (split-legal only "
               "per piece, which is not implemented)" in line for line in lines)
    assert "chosen split: x.0 (613): 613 parallel iterations across 2 cores" in report


def test_gathered_axis_is_an_indexed_read_never_split():
    g = tf.Graph()
    table, ids = g.input("table", (1009, 613), "float32"), g.input("ids", (3, 211), "int64")
    g.output(g.mul(g.gather(table, ids, 0, name="rows"), g.constant(np.float32(2)),
                   name="scaled"))
    (group,) = analyze(g, cores=2).groups
    data_axis = next(a for a in group.axes if a.name == "table.0")
    assert data_axis.role_in("rows") == "gather_indexed" and not data_axis.legal
    assert data_axis.treatments == (
        ("table.0 in gather 'rows': an indexed read axis (data read at positions from the "
         "indices; the output iterates the indices' axes instead): never a core split"),)
    assert [a.name for a in group.split.axes] == ["ids.0", "ids.1"]
    fn = tf.compile(g)
    assert parallel_extents(fn.kernels[0].scheduled)[0] == group.split.iterations == 633


def test_padded_outer_axis_is_a_legal_split():
    g = tf.Graph()
    x = g.input("x", (1201, 457), "float32")
    g.output(g.exp(g.pad(x, [2, 0, 3, 0], 1.0, name="padded")))
    (group,) = analyze(g, cores=num_cores(host_target())).groups
    (axis,) = group.split.axes
    assert axis.name == "padded.0" and axis.role_in("padded") == "pad" and axis.extent == 1206
    fn = tf.compile(g)
    assert parallel_extents(fn.kernels[0].scheduled)[0] == group.split.iterations


def _groups():
    def rotary_big(g):
        rotary(g, (613, 7, 62))

    def embed_norm(g):
        e = g.gather(g.input("t", (97, 61), "float32"), g.input("i", (5, 7), "int64"), 0)
        d = g.sub(e, g.reduce_mean(e, axes=[2], keepdims=True))
        v = g.reduce_mean(g.mul(d, d), axes=[2], keepdims=True)
        g.output(g.div(d, g.sqrt(g.add(v, g.constant(np.float32(1e-5))))))

    def softmax_concat(g):
        x = g.concat([g.input("a", (13, 29), "float32"), g.input("b", (13, 31), "float32")], 1)
        s = g.exp(g.sub(x, g.reduce_max(x, axes=[1], keepdims=True)))
        g.output(g.div(s, g.reduce_sum(s, axes=[1], keepdims=True)))

    def sum_gather(g):
        t, i = g.input("t", (997, 613), "float32"), g.input("i", (611,), "int64")
        g.output(g.reduce_sum(g.exp(g.gather(t, i, 0)), axes=[1]))

    def sum_concat_pad_slice(g):
        a, b = g.input("a", (701, 29), "float32"), g.input("b", (613, 29), "float32")
        x = g.concat([a, g.exp(b)], 0)
        g.output(g.reduce_max(g.pad(g.slice(x, [1], [-1], [0], [2]), [1, 2, 3, -4], -1.5),
                              axes=[0]))

    def scatter_of_gather(g):
        d, i = g.input("d", (13, 29), "float32"), g.input("i", (5, 29), "int64")
        u = g.input("u", (17, 29), "float32")
        g.output(g.scatter_elements(d, i, g.slice(g.gather_elements(u, i, 0), [0], [5], [0]),
                                    0, "add"))

    def concat_of_reductions(g):
        x = g.input("x", (1301, 290), "float32")
        g.output(g.concat([g.reduce_sum(x, axes=[1], keepdims=True),
                           g.reduce_max(x, axes=[1], keepdims=True)], 1))

    return [rotary_big, embed_norm, softmax_concat, sum_gather, sum_concat_pad_slice,
            scatter_of_gather, concat_of_reductions]


def _built(build) -> tf.Graph:
    g = tf.Graph(build.__name__)
    build(g)
    return g


def _matching(build) -> list:
    (group,) = fuse(_built(build))
    ctx = template_context(group, host_target())
    return [t for t in schedules.TEMPLATES if t.matches(ctx)]


CASES = [(build, t) for build in _groups() for t in _matching(build)]


def _arrays(rng, g):
    arrays = {}
    bounds = {c.tensor: min(c.bounds) for c in index_checks(g)}
    for t in g.inputs:
        arrays[t.name] = (rng.integers(-bounds[t.name], bounds[t.name], t.shape).astype(t.dtype)
                          if t.name in bounds else random_array(rng, t.shape, t.dtype, -2, 2))
    return arrays


@pytest.mark.parametrize("build,template", CASES,
                         ids=[f"{b.__name__}-{t.NAME}" for b, t in CASES])
def test_every_matching_template_builds_gather_and_concat_groups(rng, build, template):
    g = _built(build)
    fn = tf.compile(g, template=template)
    (kernel,) = fn.kernels
    assert kernel.schedule == template.NAME and kernel.notice is None
    if template is not schedules.fallback:
        assert global_intermediates(kernel.scheduled) == []
    arrays = _arrays(rng, g)
    assert_same(fn(**arrays)[0], reference.run(g, arrays)[0], rtol=1e-5, atol=1e-4)

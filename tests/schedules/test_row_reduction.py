"""The row-reduction template: softmax, norms and centring, against numpy.

Every pattern is checked over awkward shapes (primes, non-divisible, a row length of 1),
fp16 and fp32, other axes and keepdims; each must get the row-reduction template (not the
fallback), hold no intermediate in global memory and vectorise.
"""

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion.inspect_ir import allocations, global_intermediates

from ..helpers import assert_same

ROWS = [(13, 61), (64, 1024), (7, 1), (1, 37), (5, 768), (3, 4096)]


def _compiled(shape, dtype, build):
    g = tf.Graph()
    x = g.input("x", shape, dtype)
    extra = {}
    out = build(g, x, extra)
    g.output(out)
    fn = tf.compile(g)
    (kernel,) = fn.kernels
    assert kernel.schedule == "row-reduction", kernel.notice
    assert global_intermediates(kernel.scheduled) == []
    return fn, extra


def softmax(g, x, axis=-1):
    e = g.exp(g.sub(x, g.reduce_max(x, axes=[axis])))
    return g.div(e, g.reduce_sum(e, axes=[axis]))


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


@pytest.mark.parametrize("shape", ROWS)
def test_softmax_last_axis(rng, shape):
    fn, _ = _compiled(shape, "float32", lambda g, x, _: softmax(g, x))
    xa = rng.standard_normal(shape).astype("float32") * 5
    assert_same(fn(xa)[0], np_softmax(xa))


@pytest.mark.parametrize("shape,axis", [((5, 37, 19), 1), ((6, 33, 8), 0), ((4, 3, 17), 2)])
def test_softmax_other_axes(rng, shape, axis):
    fn, _ = _compiled(shape, "float32", lambda g, x, _: softmax(g, x, axis))
    xa = rng.standard_normal(shape).astype("float32")
    assert_same(fn(xa)[0], np_softmax(xa, axis))


@pytest.mark.parametrize("shape", [(13, 61), (8, 1024)])
def test_softmax_fp16_in_fp32_math(rng, shape):
    def build(g, x, _):
        return g.cast(softmax(g, g.cast(x, "float32")), "float16")

    fn, _ = _compiled(shape, "float16", build)
    xa = rng.standard_normal(shape).astype("float16")
    assert_same(fn(xa)[0], np_softmax(xa.astype("float32")).astype("float16"))


def layer_norm(g, x, w=None, b=None, eps=1e-5):
    mean = g.reduce_mean(x, axes=[-1])
    d = g.sub(x, mean)
    var = g.reduce_mean(g.mul(d, d), axes=[-1])
    y = g.div(d, g.sqrt(g.add(var, g.constant(np.float32(eps)))))
    if w is not None:
        y = g.add(g.mul(y, w), b)
    return y


def np_layer_norm(x, w=None, b=None, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    y = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps)
    return y if w is None else y * w + b


@pytest.mark.parametrize("shape", [(13, 61), (96, 768), (7, 1), (3, 5, 131)])
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm(rng, shape, affine):
    def build(g, x, extra):
        if not affine:
            return layer_norm(g, x)
        w = g.input("w", shape[-1:], "float32")
        b = g.input("b", shape[-1:], "float32")
        return layer_norm(g, x, w, b)

    fn, _ = _compiled(shape, "float32", build)
    xa = rng.standard_normal(shape).astype("float32") * 3 + 1
    if affine:
        wa, ba = (rng.standard_normal(shape[-1:]).astype("float32") for _ in range(2))
        assert_same(fn(xa, wa, ba)[0], np_layer_norm(xa, wa, ba), rtol=1e-4, atol=1e-5)
    else:
        assert_same(fn(xa)[0], np_layer_norm(xa), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(32, 4096), (13, 61), (5, 1), (2, 3, 127)])
def test_rms_norm_fp16(rng, shape):
    def build(g, x, _):
        w = g.input("w", shape[-1:], "float16")
        xf = g.cast(x, "float32")
        rms = g.sqrt(g.add(g.reduce_mean(g.mul(xf, xf), axes=[-1]),
                           g.constant(np.float32(1e-6))))
        return g.cast(g.mul(g.div(xf, rms), g.cast(w, "float32")), "float16")

    fn, _ = _compiled(shape, "float16", build)
    xa = rng.standard_normal(shape).astype("float16")
    wa = rng.standard_normal(shape[-1:]).astype("float16")
    xf = xa.astype("float32")
    expected = (xf / np.sqrt((xf * xf).mean(-1, keepdims=True) + 1e-6) * wa.astype("float32"))
    assert_same(fn(xa, wa)[0], expected.astype("float16"))


@pytest.mark.parametrize("shape", [(13, 61), (4, 7, 1024)])
def test_l2_normalisation(rng, shape):
    fn, _ = _compiled(shape, "float32", lambda g, x, _: g.div(
        x, g.sqrt(g.reduce_sum(g.mul(x, x), axes=[-1]))))
    xa = rng.standard_normal(shape).astype("float32")
    assert_same(fn(xa)[0], xa / np.sqrt((xa * xa).sum(-1, keepdims=True)), rtol=1e-5)


@pytest.mark.parametrize("shape,perm", [((4, 128, 128), (0, 2, 1)), ((3, 37, 61), (0, 2, 1)),
                                        ((5, 17, 1), (0, 2, 1)), ((13, 61), (1, 0))])
def test_centring_into_transpose(rng, shape, perm):
    fn, _ = _compiled(shape, "float32", lambda g, x, _: g.transpose(
        g.sub(x, g.reduce_mean(x, axes=[-1])), perm=perm))
    xa = rng.standard_normal(shape).astype("float32")
    assert_same(fn(xa)[0], np.transpose(xa - xa.mean(-1, keepdims=True), perm), atol=1e-5)


@pytest.mark.parametrize("shape,axes", [((6, 10, 12), [1, 2]), ((5, 9, 7), [0])])
def test_centring_several_or_outer_axes(rng, shape, axes):
    fn, _ = _compiled(shape, "float32",
                      lambda g, x, _: g.sub(x, g.reduce_mean(x, axes=axes)))
    xa = rng.standard_normal(shape).astype("float32")
    assert_same(fn(xa)[0], xa - xa.mean(tuple(axes), keepdims=True), atol=1e-5)


def test_keepdims_false_broadcast_back(rng):
    shape = (9, 31)

    def build(g, x, _):
        mean = g.reduce_mean(x, axes=[1], keepdims=False)
        return g.sub(x, g.reshape(mean, (9, 1)))

    fn, _ = _compiled(shape, "float32", build)
    xa = rng.standard_normal(shape).astype("float32")
    assert_same(fn(xa)[0], xa - xa.mean(1, keepdims=True), atol=1e-5)


def test_knobs_are_named_and_row_buffer_is_searchable(rng):
    g = tf.Graph()
    x = g.input("x", (64, 1024), "float32")
    g.output(softmax(g, x))
    xa = rng.standard_normal((64, 1024)).astype("float32")
    for row_buffer in (0, 1):
        fn = tf.compile(g, decisions={"row_buffer": row_buffer})
        knobs = {k.name: k.value for k in fn.kernels[0].knobs}
        assert knobs["row_buffer"] == row_buffer
        assert {"row_tile", "parallel_depth", "vector", "reduce0_vectors"} <= set(knobs)
        buffers = {a.name: a for a in allocations(fn.kernels[0].scheduled)}
        assert ("exp_2" in buffers) == bool(row_buffer)  # the row buffer of exp
        assert all(a.per_iteration for a in buffers.values())  # scratch of one row tile
        assert_same(fn(xa)[0], np_softmax(xa))


def test_base_size_splits_rows_across_cores_and_vectorises():
    g = tf.Graph()
    x = g.input("x", (1024, 4096), "float32")
    g.output(softmax(g, x))
    script = tf.compile(g).kernels[0].scheduled.script()
    assert "T.parallel" in script and "T.vectorized" in script


def test_two_reductions_over_different_axes_do_not_match():
    from tvm_fusion import schedules
    from tvm_fusion.build import template_context
    from tvm_fusion.fusion import fuse

    g = tf.Graph()
    x = g.input("x", (8, 9, 10), "float32")
    g.output(g.sub(g.sub(x, g.reduce_mean(x, axes=[1])), g.reduce_max(x, axes=[2])))
    (group,) = fuse(g)
    reason = schedules.row_reduction.mismatch(template_context(group, tf.target.host_target()))
    assert reason is not None and "different axes" in reason

"""The compiled callable: calling conventions, outputs, constants and the kernel cache."""

from __future__ import annotations

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import assert_same, random_array
from tvm_fusion import build


def _three_input_graph(prefix=""):
    g = tf.Graph()
    x = g.input(prefix + "x", (7, 61, 59), "float32")
    w = g.input(prefix + "w", (61, 1), "float32")
    s = g.input(prefix + "s", (59,), "float32")
    g.output(g.reduce_sum(g.mul(g.sub(x, w), s), axes=[1], keepdims=False))
    return g


def _three_inputs(rng):
    return (random_array(rng, (7, 61, 59), "float32", -1, 1),
            random_array(rng, (61, 1), "float32", -1, 1),
            random_array(rng, (59,), "float32", -1, 1))


def test_positional_keyword_and_mixed_calls_agree(rng):
    fn = tf.compile(_three_input_graph())
    x, w, s = _three_inputs(rng)
    expected = ((x - w) * s).sum(axis=1)
    results = [fn(x, w, s), fn(x=x, w=w, s=s), fn(s=s, x=x, w=w), fn(x, s=s, w=w), fn(x, w, s=s)]
    for result in results:
        assert isinstance(result, tuple) and len(result) == 1
        assert_same(result[0], expected)
        np.testing.assert_array_equal(result[0], results[0][0])


def test_outputs_follow_output_order_not_creation_order(rng):
    g = tf.Graph()
    a = g.input("a", (14, 185), "float32")
    b = g.input("b", (185,), "float32")
    first = g.add(a, b, name="first")
    second = g.reduce_max(a, axes=[0], name="second")
    third = g.cast(g.mul(a, a), "int32", name="third")
    g.output(third, first, second)
    fn = tf.compile(g)
    assert fn.output_names == ("third", "first", "second")
    av, bv = random_array(rng, (14, 185), "float32"), random_array(rng, (185,), "float32")
    out = fn(av, bv)
    assert len(out) == 3
    assert_same(out[0], (av * av).astype("int32"))
    assert_same(out[1], av + bv)
    assert_same(out[2], av.max(axis=0, keepdims=True))


def test_output_also_consumed_by_another_op(rng):
    g = tf.Graph()
    x = g.input("x", (7, 13), "float32")
    r = g.relu(x)
    e = g.exp(g.neg(r))
    total = g.reduce_sum(r, axes=[1])
    g.output(e, r, total)
    fn = tf.compile(g)
    xv = random_array(rng, (7, 13), "float32", -2, 2)
    e_out, r_out, total_out = fn(xv)
    relu = np.maximum(xv, 0)
    assert_same(r_out, relu)
    assert_same(e_out, np.exp(-relu))
    assert_same(total_out, relu.sum(axis=1, keepdims=True))


def test_graph_input_and_constant_as_outputs(rng):
    g = tf.Graph()
    x = g.input("x", (3, 5), "int64")
    c = g.constant(np.arange(15, dtype="int64").reshape(3, 5), name="c")
    g.output(g.add(x, c), x, c)
    fn = tf.compile(g)
    xv = random_array(rng, (3, 5), "int64", -50, 50)
    total, x_out, c_out = fn(xv)
    assert_same(total, xv + np.arange(15).reshape(3, 5))
    assert_same(x_out, xv)
    assert_same(c_out, np.arange(15, dtype="int64").reshape(3, 5))


def test_constants(rng):
    g = tf.Graph()
    x = g.input("x", (4, 1, 5), "float16")
    bias = g.constant(np.linspace(-1, 1, 5).astype("float16"), name="bias")
    scale = g.constant(np.float16(0.5))  # rank 0, auto-named
    g.output(g.mul(g.add(x, bias), scale))
    fn = tf.compile(g)
    assert scale.shape == () and scale.name in g.constants and bias.shape == (5,)
    xv = random_array(rng, (4, 1, 5), "float16", -3, 3)
    (out,) = fn(xv)
    assert_same(out, (xv + np.linspace(-1, 1, 5).astype("float16")) * np.float16(0.5))


def test_constant_dtype_argument_and_auto_names():
    g = tf.Graph()
    c1 = g.constant([1, 2, 3], dtype="int32")
    c2 = g.constant(np.ones((2, 3), bool))
    assert (c1.dtype, c1.shape, c2.dtype, c2.shape) == ("int32", (3,), "bool", (2, 3))
    assert c1.name != c2.name
    g.output(g.add(c1, c1), g.cast(c2, "int64"))
    doubled, flags = tf.compile(g)()
    assert_same(doubled, np.array([2, 4, 6], "int32"))
    assert_same(flags, np.ones((2, 3), "int64"))


def test_constant_is_a_copy_of_the_array():
    value = np.array([1.0, 2.0], "float32")
    g = tf.Graph()
    x = g.input("x", (2,), "float32")
    g.output(g.add(x, g.constant(value)))
    value[:] = 100  # mutating the caller's array afterwards must not change the graph
    (out,) = tf.compile(g)(np.zeros(2, "float32"))
    assert_same(out, np.array([1.0, 2.0], "float32"))


def test_repeated_calls_use_fresh_inputs_and_return_independent_arrays(rng):
    g = tf.Graph()
    x = g.input("x", (14, 185), "float32")
    g.output(g.sqrt(g.abs(x)))
    fn = tf.compile(g)
    first_in, second_in = (random_array(rng, (14, 185), "float32") for _ in range(2))
    (first,) = fn(first_in)
    kept = first.copy()
    (second,) = fn(second_in)
    assert_same(second, np.sqrt(np.abs(second_in)))
    np.testing.assert_array_equal(first, kept)  # not a view of a reused buffer
    first[:] = -1  # and writing to a result does not leak into the next call
    (third,) = fn(first_in)
    assert_same(third, kept)


def test_same_tensor_twice_in_a_binary_op(rng):
    """add(x, x) and add(a, b) on the same shapes are different kernels (one input vs two)."""
    g1 = tf.Graph()
    x = g1.input("x", (5, 7), "int32")
    g1.output(g1.add(x, x))
    g2 = tf.Graph()
    a, b = g2.input("a", (5, 7), "int32"), g2.input("b", (5, 7), "int32")
    g2.output(g2.add(a, b))
    fn1, fn2 = tf.compile(g1), tf.compile(g2)
    xv, yv = (random_array(rng, (5, 7), "int32", -100, 100) for _ in range(2))
    assert_same(fn1(xv)[0], xv + xv)
    assert_same(fn2(xv, yv)[0], xv + yv)


def test_dead_branches_are_not_compiled(rng):
    g = tf.Graph()
    x = g.input("x", (3, 5), "float32")
    g.exp(x)  # never used
    live = g.neg(x)
    g.output(g.abs(live))
    fn = tf.compile(g, fuse=False)
    assert fn.num_kernels == 2
    assert tf.compile(g).kernels[0].nodes == (live.name, g.outputs[0].name)
    xv = random_array(rng, (3, 5), "float32")
    assert_same(fn(xv)[0], np.abs(xv))


def test_scalar_input(rng):
    g = tf.Graph()
    x = g.input("x", (3, 4), "float32")
    s = g.input("s", (), "float32")
    g.output(g.mul(x, s), g.reduce_max(x, keepdims=False))
    fn = tf.compile(g)
    xv = random_array(rng, (3, 4), "float32")
    product, peak = fn(xv, np.float32(2.5))
    assert_same(product, xv * np.float32(2.5))
    assert_same(peak, np.asarray(xv.max()))


def test_identical_graph_with_other_names_builds_nothing_new(rng):
    fn1 = tf.compile(_three_input_graph())
    size = build.builds()
    fn2 = tf.compile(_three_input_graph(prefix="other_"))  # same ops, shapes, dtypes
    assert build.builds() == size
    fn3 = tf.compile(_three_input_graph())
    assert build.builds() == size
    x, w, s = _three_inputs(rng)
    expected = ((x - w) * s).sum(axis=1)
    assert_same(fn1(x, w, s)[0], expected)
    assert_same(fn2(other_x=x, other_w=w, other_s=s)[0], expected)
    assert_same(fn3(x, w, s)[0], expected)
    # the same kernel function object is shared
    assert [k.function for k in fn1.kernels] == [k.function for k in fn2.kernels]


def test_cache_grows_for_a_new_shape_dtype_or_attribute():
    def one(shape, dtype, axes):
        g = tf.Graph()
        g.output(g.reduce_sum(g.input("v", shape, dtype), axes=axes))
        tf.compile(g)

    one((43, 47), "float32", [0])
    size = build.builds()
    one((43, 47), "float32", [0])
    assert build.builds() == size
    one((47, 43), "float32", [0])
    assert build.builds() == size + 1
    one((43, 47), "int64", [0])
    assert build.builds() == size + 2
    one((43, 47), "float32", [1])
    assert build.builds() == size + 3


def test_repeated_op_in_one_graph_is_built_once(rng):
    g = tf.Graph()
    x = g.input("x", (29, 31), "float32")
    y = g.input("y", (29, 31), "float32")
    g.output(g.tanh(x), g.tanh(y))
    before = build.builds()
    fn = tf.compile(g, fuse=False)
    assert build.builds() - before <= 1
    assert fn.kernels[0].function is fn.kernels[1].function
    xv, yv = random_array(rng, (29, 31), "float32", -3, 3), random_array(rng, (29, 31), "float32", -3, 3)
    tx, ty = fn(xv, yv)
    assert_same(tx, np.tanh(xv))
    assert_same(ty, np.tanh(yv))


def test_benchmark_returns_positive_seconds(rng):
    fn = tf.compile(_three_input_graph())
    seconds = fn.benchmark(*_three_inputs(rng), repeat=3)
    assert 0 < seconds < 1


def test_compile_rejects_bad_target():
    g = tf.Graph()
    g.output(g.relu(g.input("x", (3,), "float32")))
    with pytest.raises(ValueError, match="invalid target"):
        tf.compile(g, target="not-a-target-kind")


def test_the_kernel_cache_is_bounded_and_rebuilds_what_it_dropped(monkeypatch, rng):
    """Unbounded, the cache grew ~10 MB/s in a process compiling many graphs (the long fuzz
    run was OOM-killed at 24 GiB); the least recently used kernels are dropped."""
    monkeypatch.setattr(build, "MAX_CACHED", 3)

    def one(n):
        g = tf.Graph()
        g.output(g.reduce_sum(g.input("v", (n, 7), "float32"), axes=[1]))
        return tf.compile(g)

    start = build.builds()
    kept = [one(n) for n in (11, 13, 17, 19, 23)]
    assert build.builds() == start + 5 and build.cache_size() <= 3
    one(23)  # still cached
    assert build.builds() == start + 5
    one(11)  # dropped: compiled again
    assert build.builds() == start + 6
    for fn, n in zip(kept, (11, 13, 17, 19, 23)):  # dropped kernels still run
        v = random_array(rng, (n, 7), "float32")
        assert_same(fn(v)[0], v.sum(axis=1, keepdims=True))

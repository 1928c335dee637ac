"""Slice, Concat, Split and Pad: through the ONNX converters against ``onnx.reference`` (prime
and size-1 shapes, negative axes and steps, INT_MAX / INT_MIN sentinels, every dtype), the
graph builder's errors, and fused chains (one kernel, no intermediate in global memory)."""

from __future__ import annotations

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import ALL_DTYPES, assert_same, random_array
from tests.ops.onnx_node import check_node
from tvm_fusion import reference
from tvm_fusion.inspect_ir import global_intermediates

INT_MAX, INT_MIN = 2**63 - 1, -(2**63)

SLICES = [  # shape, starts, ends, axes, steps
    ((7, 13, 5), [1, -2], [6, INT_MAX], [0, -2], [2, 1]),
    ((7, 13, 5), [-1, 11], [INT_MIN, 2], [0, 1], [-3, -4]),
    ((7, 13, 5), [100], [-100], [2], [-1]),  # start clamped to the end, reversed
    ((1, 13, 1), [0, -12], [1, 13], [0, 1], None),
    ((11, 3), [-20], [4], None, None),  # start clamped to 0, default axes
]


@pytest.mark.parametrize("shape,starts,ends,axes,steps", SLICES)
def test_slice_matches_onnx(rng, shape, starts, ends, axes, steps):
    """One kernel each (a slice of whole axes is the input itself: test_whole_slice_...)."""
    constants = {"starts": np.array(starts), "ends": np.array(ends),
                 "axes": None if axes is None else np.array(axes),
                 "steps": None if steps is None else np.array(steps)}
    check_node("Slice", {"x": random_array(rng, shape, "float32")}, constants, kernels=1)


def test_whole_slice_is_the_input_itself(rng):
    fn = check_node("Slice", {"x": random_array(rng, (1, 13), "float32")},
                    {"s": np.array([0, -13]), "e": np.array([INT_MAX, 13])})
    assert fn.num_kernels == 0


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_slice_concat_pad_every_dtype(rng, dtype):
    x = random_array(rng, (5, 11), dtype)
    check_node("Slice", {"x": x}, {"s": np.array([4, 1]), "e": np.array([-6, 10]),
                                   "a": np.array([0, 1]), "st": np.array([-2, 3])})
    check_node("Concat", {"a": x, "b": random_array(rng, (5, 1), dtype), "c": x}, axis=-1)
    fill = np.array(True if dtype == "bool" else 3, dtype)
    check_node("Pad", {"x": x}, {"p": np.array([1, 2, 0, 3]), "v": fill})


@pytest.mark.parametrize("shapes,axis", [([(3, 7), (3, 1), (3, 13), (3, 2)], 1),
                                         ([(1, 5), (6, 5)], -2), ([(7,)], 0)])
def test_concat_matches_onnx(rng, shapes, axis):
    inputs = {f"x{i}": random_array(rng, s, "float32") for i, s in enumerate(shapes)}
    check_node("Concat", inputs, axis=axis)


@pytest.mark.parametrize("split,attrs,opset,outputs", [
    ([2, 9, 2], {"axis": 1}, 13, 3),
    ([1, 12], {"axis": -1}, 18, 2),
    (None, {"axis": 1, "num_outputs": 4}, 18, 4),  # 13 in pieces of 4: 4, 4, 4, 1
    (None, {"axis": 0}, 13, 1),
])
def test_split_matches_onnx(rng, split, attrs, opset, outputs):
    constants = {} if split is None else {"split": np.array(split)}
    fn = check_node("Split", {"x": random_array(rng, (7, 13), "int32")}, constants,
                    outputs=outputs, opset=opset, **attrs)
    assert fn.num_kernels == (0 if outputs == 1 else outputs)  # independent slices


@pytest.mark.parametrize("shape,pads,axes", [((7, 13), [2, 0, 1, 3], None),
                                             ((3, 1, 5), [1, 2], [-2]),
                                             ((3, 1, 5), [0, 0, 0, 0, 0, 0], None)])
def test_pad_matches_onnx(rng, shape, pads, axes):
    constants = {"pads": np.array(pads), "value": np.array(-1.5, "float32"),
                 "axes": None if axes is None else np.array(axes)}
    check_node("Pad", {"x": random_array(rng, shape, "float32")}, constants)


def test_negative_pads_crop(rng):  # onnx.reference's Pad refuses negative pads: numpy here
    g = tf.Graph()
    x = g.input("x", (7, 13), "int64")
    g.output(g.pad(x, [-2, 1, 3, -5], 9))
    xa = random_array(rng, (7, 13), "int64")
    expected = np.pad(xa[2:, :8], [(0, 3), (1, 0)], constant_values=9)
    assert_same(tf.compile(g)(xa)[0], expected)


@pytest.mark.parametrize("mode", ["edge", "reflect", "wrap"])
@pytest.mark.parametrize("shape,pads,axes", [((7, 13), [2, 0, 1, 3], None),
                                             ((3, 1, 5), [0, 0, 1, 0, 0, 2], None),
                                             ((11, 5), [10, 4, 3, 4], None)])
def test_pad_modes_match_onnx(rng, mode, shape, pads, axes):
    constants = {"pads": np.array(pads), "axes": None if axes is None else np.array(axes)}
    check_node("Pad", {"x": random_array(rng, shape, "float32")}, constants, mode=mode)


@pytest.mark.parametrize("mode", ["edge", "reflect", "wrap"])
def test_pad_modes_fused_before_a_row_reduction(rng, mode):
    """Reflection padding before a softmax-like row sum: one kernel, numpy's ``np.pad``."""
    g = tf.Graph()
    x = g.input("x", (613, 37), "float32")
    padded = g.pad(g.exp(x), [0, 5, 0, 7], mode=mode)
    g.output(g.div(padded, g.reduce_sum(padded, axes=(1,))))
    fn = tf.compile(g)
    assert fn.num_kernels == 1
    xa = random_array(rng, (613, 37), "float32", -2, 2)
    want = np.pad(np.exp(xa), [(0, 0), (5, 7)], mode=mode)
    assert_same(fn(x=xa)[0], want / want.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_pad_modes_refuse_what_onnx_cannot_mean():
    g = tf.Graph()
    x = g.input("x", (3, 5), "float32")
    with pytest.raises(tf.GraphError, match=r"mode 'reflect' pads axis 1 by \(5, 0\); it "
                                            r"takes pads from 0 to 4 \(the extent - 1\)"):
        g.pad(x, [0, 5, 0, 0], mode="reflect")
    with pytest.raises(tf.GraphError, match=r"mode 'edge' pads axis 0 by \(-1, 0\)"):
        g.pad(x, [-1, 0, 0, 0], mode="edge")
    with pytest.raises(tf.GraphError, match="mode must be one of constant, edge, reflect, wrap, "
                                            "got 'mirror'"):
        g.pad(x, [1, 0, 0, 0], mode="mirror")


def test_builder_errors_name_the_op_and_what_to_do():
    g = tf.Graph()
    x = g.input("x", (7, 13), "float32")
    assert g.slice(x, [5], [5], [1]).shape == (7, 0)  # empty: a zero-size tensor, no error
    with pytest.raises(tf.GraphError, match="step of axis 0 is 0"):
        g.slice(x, [0], [3], [0], [0])
    with pytest.raises(tf.GraphError, match=r"input 'y' \(7, 2\) must match 'x' \(7, 13\)"):
        g.concat([x, g.input("y", (7, 2), "float32")], 0)
    with pytest.raises(tf.GraphError, match=r"give the shape \(0, 13\)"):
        g.pad(x, [-4, 0, -3, 0])


def rotary(g: tf.Graph, shape=(3, 11, 64)):
    """``x * cos + cat(-x[..., h:], x[..., :h]) * sin``."""
    h = shape[-1] // 2
    x = g.input("x", shape, "float32")
    cos, sin = g.input("cos", shape[1:], "float32"), g.input("sin", shape[1:], "float32")
    rotated = g.concat([g.neg(g.slice(x, [h], [2 * h], [-1], name="x2"), name="neg_x2"),
                        g.slice(x, [0], [h], [-1], name="x1")], -1, name="rotated")
    g.output(g.add(g.mul(x, cos, name="x_cos"), g.mul(rotated, sin, name="r_sin"), name="out"))
    return g


@pytest.mark.parametrize("shape", [(3, 11, 64), (613, 7, 62)])
def test_rotary_is_one_kernel_without_global_intermediates(rng, shape):
    g = rotary(tf.Graph(), shape)
    fn = tf.compile(g)
    assert fn.num_kernels == 1 and fn.schedules == ("injective",)
    assert global_intermediates(fn.kernels[0].scheduled) == []
    arrays = {t.name: random_array(rng, t.shape, "float32") for t in g.inputs}
    assert_same(fn(**arrays)[0], reference.run(g, arrays)[0], rtol=1e-5, atol=1e-4)


def test_pad_slice_chain_is_one_kernel(rng):
    g = tf.Graph()
    x = g.input("x", (611, 457), "float16")
    g.output(g.relu(g.pad(g.slice(g.neg(x), [-1, 3], [INT_MIN, -3], [0, 1], [-3, 2]),
                          [3, -2, 1, 5], 2.0)))
    fn = tf.compile(g)
    assert fn.num_kernels == 1 and global_intermediates(fn.kernels[0].scheduled) == []
    assert "T.parallel" in fn.kernels[0].scheduled.script()
    xa = random_array(rng, (611, 457), "float16")
    assert_same(fn(xa)[0], reference.run(g, {"x": xa})[0])

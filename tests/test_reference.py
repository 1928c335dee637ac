"""The numpy interpreter (the oracle of the random-chain test) agrees with onnx.reference."""

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import run_onnx_node

REDUCTIONS = ("none", "add", "mul", "max", "min")


def _run(build, **arrays):
    g = tf.Graph()
    tensors = {k: g.input(k, v.shape, str(v.dtype)) for k, v in arrays.items()}
    g.output(build(g, **tensors))
    (out,) = tf.reference.run(g, arrays)
    return out


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_scatter_nd_matches_onnx(rng, reduction):
    data = rng.standard_normal((7, 5, 3)).astype("float32")
    rows = np.array([[1, 2], [-1, 0], [3, -5], [1, 2]]) if reduction != "none" else \
        np.array([[1, 2], [-1, 0], [3, -5]])
    updates = rng.standard_normal((len(rows), 3)).astype("float32")
    ours = _run(lambda g, d, i, u: g.scatter_nd(d, i, u, reduction=reduction),
                d=data, i=rows.astype("int64"), u=updates)
    onnx_rows = np.where(rows < 0, rows + np.array([7, 5]), rows)  # onnx.reference needs >= 0
    expected = run_onnx_node("ScatterND", {"d": data, "i": onnx_rows.astype("int64"),
                                           "u": updates}, reduction=reduction)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_scatter_elements_matches_onnx(rng, reduction, axis):
    data = rng.standard_normal((4, 6, 5)).astype("float32")
    extent = data.shape[axis]
    shape = [3, 4, 5]
    shape[axis] = 3
    if reduction == "none":
        idx = np.argsort(rng.random(shape[:axis % 3] + [extent] + shape[axis % 3 + 1:]),
                         axis=axis).take(range(3), axis=axis)
    else:
        idx = rng.integers(-extent, extent, size=shape)
    updates = rng.standard_normal(idx.shape).astype("float32")
    ours = _run(lambda g, d, i, u: g.scatter_elements(d, i, u, axis=axis, reduction=reduction),
                d=data, i=idx.astype("int64"), u=updates)
    expected = run_onnx_node("ScatterElements", {"d": data, "i": idx.astype("int64"),
                                                 "u": updates}, axis=axis, reduction=reduction)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_integer_div_and_mean_truncate_like_onnx():
    a = np.array([[7, -7, 9, -9]], dtype="int32")
    b = np.array([[2, 2, -4, -4]], dtype="int32")
    np.testing.assert_array_equal(_run(lambda g, a, b: g.div(a, b), a=a, b=b),
                                  run_onnx_node("Div", {"a": a, "b": b}, opset=14))
    x = np.array([[1, 2], [-3, -4]], dtype="int64")
    ours = _run(lambda g, x: g.reduce_mean(x, axes=[1]), x=x)
    np.testing.assert_array_equal(ours, np.array([[1], [-3]]))

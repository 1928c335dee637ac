"""Failures the graph fuzzer found, each kept as a plain test (cause in the docstring)."""

from __future__ import annotations

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion.graph import REDUCE_OPS


@pytest.mark.parametrize("dtype", ["int32", "int64", "float16", "float32"])
@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("precision", ["exact", "relaxed"])
def test_reduction_of_a_scalar_is_scheduled_by_a_template(op, dtype, precision):
    """A reduction of a 0-d tensor (no axes) became a TE block with an init and no reduce
    loop: the reduction-rooted template found no reduction (ValueError) or could not inline
    it (ScheduleError: "The block has init statement"), and the group ran on the fallback
    (a warning, an error in this suite). It now lowers to a copy and is element-wise."""
    g = tf.Graph()
    x = g.input("x", (), dtype)
    y = g.input("y", (3,), dtype)
    r = getattr(g, op)(g.abs(x), keepdims=False)
    g.output(g.add(y, r))
    inputs = {"x": np.array(-3, dtype), "y": np.array([1, -2, 5], dtype)}
    fn = tf.compile(g, precision=precision)
    assert all(k.schedule != "fallback" for k in fn.kernels), [k.schedule for k in fn.kernels]
    for got, expected in zip(fn(**inputs), tf.reference.run(g, inputs)):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)

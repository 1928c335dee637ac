"""Next-row prefetch: marked by the row-reduction template, inserted before the build."""

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion.prefetch import PREFETCH_ANNOTATION, insert_prefetches

from .helpers import assert_same


def _softmax_graph(shape):
    g = tf.Graph()
    x = g.input("x", shape, "float32")
    e = g.exp(g.sub(x, g.reduce_max(x, axes=[-1])))
    g.output(g.div(e, g.reduce_sum(e, axes=[-1])))
    return g


@pytest.mark.parametrize("shape", [(13, 64), (64, 1024), (3, 5, 48)])
@pytest.mark.parametrize("prefetch", [0, 1])
def test_prefetch_is_inserted_and_changes_no_result(rng, shape, prefetch):
    g = _softmax_graph(shape)
    fn = tf.compile(g, decisions={"prefetch": prefetch})
    (kernel,) = fn.kernels
    assert {k.name: k.value for k in kernel.knobs}["prefetch"] == prefetch
    scheduled = kernel.scheduled.script()
    assert (PREFETCH_ANNOTATION in scheduled) == bool(prefetch)
    built = insert_prefetches(kernel.scheduled).script()
    assert ("T.prefetch" in built) == bool(prefetch) and PREFETCH_ANNOTATION not in built
    xa = rng.standard_normal(shape).astype("float32")
    e = np.exp(xa - xa.max(-1, keepdims=True))
    assert_same(fn(xa)[0], e / e.sum(-1, keepdims=True))


def test_one_cache_line_per_prefetch_for_fp16_rows():
    g = tf.Graph()
    x = g.input("x", (8, 4096), "float16")
    xf = g.cast(x, "float32")
    g.output(g.cast(g.div(xf, g.sqrt(g.reduce_mean(g.mul(xf, xf), axes=[-1]))), "float16"))
    (kernel,) = tf.compile(g).kernels
    lines = [line for line in insert_prefetches(kernel.scheduled).script().splitlines()
             if "T.prefetch" in line]
    assert len(lines) == 1 and "* 32]" in lines[0]  # 32 halves = one 64-byte line, next row
    assert "+ 1" in lines[0]


def test_modules_without_marks_are_returned_unchanged():
    g = tf.Graph()
    x = g.input("x", (4, 8), "float32")
    g.output(g.relu(x))
    (kernel,) = tf.compile(g).kernels
    assert insert_prefetches(kernel.scheduled) is kernel.scheduled

"""Layout ops: transpose (every permutation of ranks 1..4), reshape, broadcast_to."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import ALL_DTYPES, assert_same, compile_fn, random_array

SHAPES = {1: (7,), 2: (13, 7), 3: (3, 5, 7), 4: (2, 3, 5, 7)}
PERMUTATIONS = [p for rank in SHAPES for p in itertools.permutations(range(rank))]


def _values(rng, shape, dtype):
    return random_array(rng, shape, dtype, -1000, 1000)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("perm", PERMUTATIONS, ids=lambda p: "".join(map(str, p)))
def test_transpose_every_permutation(rng, perm, dtype):
    shape = SHAPES[len(perm)]
    fn = compile_fn({"x": (shape, dtype)}, lambda g, x: g.transpose(x, perm))
    x = _values(rng, shape, dtype)
    (out,) = fn(x)
    assert_same(out, np.transpose(x, perm))


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))),
                         ids=lambda p: "".join(map(str, p)))
def test_transpose_with_size_one_axis(rng, perm):
    shape = (3, 1, 5)
    fn = compile_fn({"x": (shape, "float16")}, lambda g, x: g.transpose(x, perm))
    x = _values(rng, shape, "float16")
    (out,) = fn(x)
    assert_same(out, np.transpose(x, perm))


@pytest.mark.parametrize("dtype", ["bool", "float16", "int64"])
@pytest.mark.parametrize("rank", sorted(SHAPES))
def test_transpose_default_reverses_axes(rng, rank, dtype):
    shape = SHAPES[rank]
    fn = compile_fn({"x": (shape, dtype)}, lambda g, x: g.transpose(x))
    x = _values(rng, shape, dtype)
    (out,) = fn(x)
    assert_same(out, x.T)
    assert out.shape == shape[::-1]


RESHAPES = [  # (input shape, requested shape, numpy shape)
    ((2, 3, 5, 7), (6, 35), (6, 35)),
    ((2, 3, 5, 7), (-1,), (210,)),
    ((2, 3, 5, 7), (0, -1), (2, 105)),
    ((2, 3, 5, 7), (0, 0, 35), (2, 3, 35)),
    ((2, 3, 5, 7), (7, -1, 2), (7, 15, 2)),
    ((2, 3, 5, 7), (1, 210, 1), (1, 210, 1)),
    ((2, 3, 5, 7), (0, 1, 3, 1, -1, 1), (2, 1, 3, 1, 35, 1)),
    ((14, 185), (37, 70), (37, 70)),
    ((14, 185), (7, 0, -1), (7, 185, 2)),  # 0 copies input dim 1 even at output position 1
    ((1, 13), (13,), (13,)),
    ((1, 13), (13, 1), (13, 1)),
    ((3, 1, 5), (15, 1), (15, 1)),
    ((3, 1, 5), (0, 0, 0), (3, 1, 5)),
    ((3, 1, 5), (5, 3), (5, 3)),
    ((7,), (7, 1, 1), (7, 1, 1)),
    ((61, 59), (59, 61), (59, 61)),
]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bool", "int32"])
@pytest.mark.parametrize("case", RESHAPES, ids=lambda c: f"{c[0]}->{c[1]}".replace(" ", ""))
def test_reshape(rng, case, dtype):
    shape, request, expected_shape = case
    fn = compile_fn({"x": (shape, dtype)}, lambda g, x: g.reshape(x, request))
    assert fn.graph.outputs[0].shape == expected_shape
    x = _values(rng, shape, dtype)
    (out,) = fn(x)
    assert_same(out, x.reshape(expected_shape))


def test_reshape_of_transpose_reads_row_major(rng):
    """The reshape sees the transposed (logical) order, not the input's memory order."""
    def build(g, x):
        return g.reshape(g.transpose(x, [2, 0, 1]), [-1, 6])

    fn = compile_fn({"x": ((3, 4, 5), "int64")}, build)
    x = _values(rng, (3, 4, 5), "int64")
    (out,) = fn(x)
    assert_same(out, np.transpose(x, [2, 0, 1]).reshape(-1, 6))


BROADCASTS = [  # (input shape, target shape)
    ((3, 1, 5), (4, 3, 7, 5)),  # rank increase and a size-1 axis
    ((1, 13), (6, 13)),
    ((5,), (2, 3, 5)),
    ((1,), (4,)),
    ((7, 1), (7, 11)),
    ((1, 1), (3, 2)),
    ((2, 3, 5), (2, 3, 5)),  # identity
    ((61, 1), (7, 61, 59)),
]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bool", "int64"])
@pytest.mark.parametrize("case", BROADCASTS, ids=lambda c: f"{c[0]}->{c[1]}".replace(" ", ""))
def test_broadcast_to(rng, case, dtype):
    shape, target = case
    fn = compile_fn({"x": (shape, dtype)}, lambda g, x: g.broadcast_to(x, target))
    x = _values(rng, shape, dtype)
    (out,) = fn(x)
    assert_same(out, np.broadcast_to(x, target))


def test_layout_errors_name_the_tensor():
    g = tf.Graph()
    x = g.input("x", (2, 3, 5), "float32")
    with pytest.raises(tf.GraphError, match=r"transpose of 'x' \(2, 3, 5\): perm must be a "
                                            r"permutation of 0\.\.2, got \[0, 1\]"):
        g.transpose(x, [0, 1])
    with pytest.raises(tf.GraphError, match=r"reshape of 'x' .*entry 3 is 0 \(copy\) but the "
                                            r"input has rank 3"):
        g.reshape(x, [1, 1, 1, 0])
    with pytest.raises(tf.GraphError, match=r"reshape of 'x' .*30 elements are not divisible by 4"):
        g.reshape(x, [4, -1])
    with pytest.raises(tf.GraphError, match=r"broadcast_to: cannot broadcast 'x' \(2, 3, 5\) to "
                                            r"\(3, 5\)"):
        g.broadcast_to(x, (3, 5))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bool"])
@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))),
                         ids=lambda p: "".join(map(str, p)))
def test_transpose_large(rng, perm, dtype):
    """(7, 61, 59) is large enough for the parallel + vector path with a ragged tail."""
    fn = compile_fn({"x": ((7, 61, 59), dtype)}, lambda g, x: g.transpose(x, perm))
    x = _values(rng, (7, 61, 59), dtype)
    (out,) = fn(x)
    assert_same(out, np.transpose(x, perm))

"""scatter_elements and scatter_nd against the ONNX reference evaluator (opset 18)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import assert_same, compile_fn, random_array, run_onnx_node
from tvm_fusion.checks import InputError

REDUCTIONS = ("none", "add", "mul", "max", "min")
DATA_SHAPES = {1: (7,), 2: (5, 6), 3: (3, 4, 5)}
AXES = [(rank, axis) for rank in DATA_SHAPES for axis in range(rank)]
ND_CASES = [(rank, k) for rank in DATA_SHAPES for k in range(1, rank + 1)]


def _with_negatives(rng, idx: np.ndarray, extents) -> np.ndarray:
    """Rewrite about half of the indices as their negative alias (i - extent)."""
    mask = rng.random(idx.shape) < 0.5
    return np.where(mask, idx - np.asarray(extents, idx.dtype), idx).astype(idx.dtype)


def elements_indices(rng, data_shape, axis, reduction, idx_dtype) -> np.ndarray:
    """Indices for scatter_elements: duplicates along ``axis`` for the reducing modes (more
    entries than positions), unique positions per line for 'none'; some negative."""
    extent = data_shape[axis]
    shape = list(data_shape)
    others = [d for d in range(len(shape)) if d != axis]
    if others and shape[others[0]] > 1:  # cover part of a non-indexed axis only
        shape[others[0]] -= 1
    if reduction == "none":
        shape[axis] = max(1, extent - 2)
        order = np.argsort(rng.random(shape[:axis] + [extent] + shape[axis + 1:]), axis=axis)
        idx = np.take(order, range(shape[axis]), axis=axis)
    else:
        shape[axis] = extent + 3  # pigeonhole: every line holds a duplicate
        idx = rng.integers(0, extent, size=shape)
    idx = idx.astype(idx_dtype)
    return _with_negatives(rng, idx, extent)


def nd_indices(rng, data_shape, k, reduction, idx_dtype) -> np.ndarray:
    """Indices (..., k) for scatter_nd: duplicate tuples for the reducing modes, unique for
    'none'; a 2-d batch when k < rank, some negative."""
    positions = data_shape[:k]
    total = math.prod(positions)
    if reduction == "none":
        n = max(1, (2 * total) // 3)
        flat = rng.choice(total, size=n, replace=False)
    else:
        n = total + 2  # pigeonhole: at least two duplicate tuples
        flat = rng.integers(0, total, size=n)
        flat[-1] = flat[0]
    idx = np.stack(np.unravel_index(flat, positions), axis=-1).astype(idx_dtype)
    if k < len(data_shape) and n % 2 == 0:
        idx = idx.reshape(2, n // 2, k)
    return _with_negatives(rng, idx, positions)


def _data(rng, shape, dtype):
    if dtype == "bool":
        return random_array(rng, shape, dtype)
    if dtype in ("int32", "int64"):
        return random_array(rng, shape, dtype, -20, 20)
    return random_array(rng, shape, dtype, -2, 2)


def _check_elements(rng, data_shape, axis, reduction, idx_dtype, dtype="float32"):
    idx = elements_indices(rng, data_shape, axis, reduction, idx_dtype)
    data = _data(rng, data_shape, dtype)
    updates = _data(rng, idx.shape, dtype)
    fn = compile_fn(
        {"data": (data_shape, dtype), "idx": (idx.shape, idx_dtype), "upd": (idx.shape, dtype)},
        lambda g, d, i, u: g.scatter_elements(d, i, u, axis=axis, reduction=reduction))
    (out,) = fn(data=data, idx=idx, upd=updates)
    expected = run_onnx_node("ScatterElements", {"data": data, "idx": idx, "upd": updates},
                             axis=axis, reduction=reduction)
    assert_same(out, expected, dtype)
    assert not np.array_equal(out, data) or reduction in ("max", "min")


@pytest.mark.parametrize("idx_dtype", ["int32", "int64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("rank,axis", AXES, ids=lambda v: str(v))
def test_scatter_elements(rng, rank, axis, reduction, idx_dtype):
    _check_elements(rng, DATA_SHAPES[rank], axis, reduction, idx_dtype)


@pytest.mark.parametrize("rank,axis", [(2, -1), (3, -2)], ids=str)
def test_scatter_elements_negative_axis(rng, rank, axis):
    shape = DATA_SHAPES[rank]
    idx = elements_indices(rng, shape, axis % rank, "add", "int64")
    data, updates = _data(rng, shape, "float32"), _data(rng, idx.shape, "float32")
    fn = compile_fn({"d": (shape, "float32"), "i": (idx.shape, "int64"), "u": (idx.shape, "float32")},
                    lambda g, d, i, u: g.scatter_elements(d, i, u, axis=axis, reduction="add"))
    (out,) = fn(data, idx, updates)
    expected = run_onnx_node("ScatterElements", {"d": data, "i": idx, "u": updates},
                             axis=axis, reduction="add")
    assert_same(out, expected)


def _check_nd(rng, data_shape, k, reduction, idx_dtype, dtype="float32"):
    idx = nd_indices(rng, data_shape, k, reduction, idx_dtype)
    upd_shape = idx.shape[:-1] + tuple(data_shape[k:])
    data, updates = _data(rng, data_shape, dtype), _data(rng, upd_shape, dtype)
    fn = compile_fn(
        {"data": (data_shape, dtype), "idx": (idx.shape, idx_dtype), "upd": (upd_shape, dtype)},
        lambda g, d, i, u: g.scatter_nd(d, i, u, reduction=reduction))
    (out,) = fn(data, idx, updates)
    expected = run_onnx_node("ScatterND", {"data": data, "idx": idx, "upd": updates},
                             reduction=reduction)
    assert_same(out, expected, dtype)
    assert not np.array_equal(out, data) or reduction in ("max", "min")


@pytest.mark.parametrize("idx_dtype", ["int32", "int64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("rank,k", ND_CASES, ids=lambda v: str(v))
def test_scatter_nd(rng, rank, k, reduction, idx_dtype):
    _check_nd(rng, DATA_SHAPES[rank], k, reduction, idx_dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["int32", "int64", "float16"])
def test_scatter_data_dtypes(rng, dtype, reduction):
    _check_elements(rng, (5, 6), 1, reduction, "int64", dtype)
    _check_nd(rng, (3, 4, 5), 2, reduction, "int32", dtype)


def test_scatter_bool_data(rng):
    _check_elements(rng, (5, 6), 0, "none", "int32", "bool")
    _check_nd(rng, (3, 4, 5), 1, "none", "int64", "bool")


def test_duplicate_indices_combine_in_order():
    """Hand-checked: three updates land on position 1, two on position 3."""
    data = np.array([10.0, 20.0, 30.0, 40.0, 50.0], "float32")
    idx = np.array([1, -4, 3, 1, -2], "int64")
    upd = np.array([1.0, 2.0, 3.0, 4.0, 5.0], "float32")
    expected = {
        "add": [10, 27, 30, 48, 50],
        "mul": [10, 160, 30, 600, 50],
        "max": [10, 20, 30, 40, 50],
        "min": [10, 1, 30, 3, 50],
        "none": None,
    }
    for reduction, values in expected.items():
        if values is None:
            continue
        fn = compile_fn({"d": ((5,), "float32"), "i": ((5,), "int64"), "u": ((5,), "float32")},
                        lambda g, d, i, u: (g.scatter_elements(d, i, u, reduction=reduction),
                                            g.scatter_nd(d, g.reshape(i, [5, 1]), u,
                                                         reduction=reduction)))
        elements, nd = fn(data, idx, upd)
        assert_same(elements, np.array(values, "float32"))
        assert_same(nd, np.array(values, "float32"))


def test_scatter_into_intermediate_and_consumed(rng):
    """data computed by an op, indices reshaped, result reduced: kernels chain correctly."""
    data = random_array(rng, (4, 6), "float32", -2, 2)
    idx = rng.integers(-6, 6, size=(12,)).astype("int32")
    upd = random_array(rng, (4, 3), "float32", -2, 2)

    def build(g, d, i, u):
        scattered = g.scatter_elements(g.relu(d), g.reshape(i, [4, 3]), u, axis=1, reduction="add")
        return g.reduce_sum(scattered, axes=[0], keepdims=False), scattered

    fn = compile_fn({"d": ((4, 6), "float32"), "i": ((12,), "int32"), "u": ((4, 3), "float32")}, build)
    total, scattered = fn(data, idx, upd)
    expected = run_onnx_node("ScatterElements", {"d": np.maximum(data, 0), "i": idx.reshape(4, 3),
                                                 "u": upd}, axis=1, reduction="add")
    assert_same(scattered, expected)
    assert_same(total, expected.sum(axis=0))


# ----- out-of-range indices --------------------------------------------------------------
def _elements_fn(reduction="add"):
    return compile_fn(
        {"data": ((5, 6), "float32"), "idx": ((5, 4), "int64"), "upd": ((5, 4), "float32")},
        lambda g, d, i, u: g.scatter_elements(d, i, u, axis=1, reduction=reduction))


@pytest.mark.parametrize("bad", [6, 100, -7, -1000])
def test_elements_out_of_range_raises_then_recovers(rng, bad):
    fn = _elements_fn()
    data = random_array(rng, (5, 6), "float32")
    upd = random_array(rng, (5, 4), "float32")
    idx = rng.integers(-6, 6, size=(5, 4)).astype("int64")
    bad_idx = idx.copy()
    bad_idx[2, 3] = bad
    with pytest.raises(InputError, match=rf"index tensor 'idx' holds {bad} at \(2, 3\), "
                                         r"expected in \[-6, 5\]"):
        fn(data=data, idx=bad_idx, upd=upd)
    (out,) = fn(data=data, idx=idx, upd=upd)
    expected = run_onnx_node("ScatterElements", {"data": data, "idx": idx, "upd": upd},
                             axis=1, reduction="add")
    assert_same(out, expected)


@pytest.mark.parametrize("column,bad", [(0, 3), (0, -4), (1, 4), (1, -5)])
def test_nd_out_of_range_per_column(rng, column, bad):
    """data (3, 4, 5), k = 2: column 0 addresses 3 positions, column 1 four."""
    fn = compile_fn(
        {"data": ((3, 4, 5), "float32"), "idx": ((6, 2), "int32"), "upd": ((6, 5), "float32")},
        lambda g, d, i, u: g.scatter_nd(d, i, u, reduction="max"))
    data = random_array(rng, (3, 4, 5), "float32")
    upd = random_array(rng, (6, 5), "float32")
    idx = np.stack([rng.integers(-3, 3, 6), rng.integers(-4, 4, 6)], axis=-1).astype("int32")
    bound = (3, 4)[column]
    bad_idx = idx.copy()
    bad_idx[4, column] = bad
    with pytest.raises(InputError, match=rf"index tensor 'idx' holds {bad} at \(4, {column}\), "
                                         rf"expected in \[{-bound}, {bound - 1}\]"):
        fn(data, bad_idx, upd)
    # in range for the other column: accepted
    ok_idx = idx.copy()
    ok_idx[4, column] = (3, 4)[column] - 1
    (out,) = fn(data, ok_idx, upd)
    assert_same(out, run_onnx_node("ScatterND", {"data": data, "idx": ok_idx, "upd": upd},
                                   reduction="max"))


def test_out_of_range_through_layout_op_names_the_source(rng):
    """Indices transposed from an input are checked on that input, before anything runs."""
    fn = compile_fn(
        {"data": ((5, 6), "float32"), "raw": ((4, 5), "int64"), "upd": ((5, 4), "float32")},
        lambda g, d, i, u: g.scatter_elements(d, g.transpose(i), u, axis=1, reduction="none"))
    data, upd = random_array(rng, (5, 6), "float32"), random_array(rng, (5, 4), "float32")
    raw = np.stack([rng.permutation(6)[:4] for _ in range(5)], axis=1).astype("int64")
    bad = raw.copy()
    bad[1, 2] = -7
    with pytest.raises(InputError, match=r"index tensor 'raw' holds -7 at \(1, 2\)"):
        fn(data, bad, upd)
    (out,) = fn(data, raw, upd)
    assert_same(out, run_onnx_node("ScatterElements", {"data": data, "idx": raw.T.copy(),
                                                       "upd": upd}, axis=1, reduction="none"))


def test_out_of_range_computed_indices_checked_before_the_scatter(rng):
    """Indices computed by an op are checked when they exist, before the scatter kernel."""
    def build(g, d, i, u):
        shifted = g.add(i, g.constant(np.full((5, 4), 2, "int64"), name="two"), name="shifted")
        return g.scatter_elements(d, shifted, u, axis=1, reduction="min")

    fn = compile_fn({"data": ((5, 6), "float32"), "idx": ((5, 4), "int64"),
                     "upd": ((5, 4), "float32")}, build)
    data, upd = random_array(rng, (5, 6), "float32"), random_array(rng, (5, 4), "float32")
    idx = rng.integers(-8, 4, size=(5, 4)).astype("int64")
    bad = idx.copy()
    bad[3, 0] = 4  # 4 + 2 = 6 is out of range for 6 entries
    with pytest.raises(InputError, match=r"index tensor 'shifted' holds 6 at \(3, 0\), "
                                         r"expected in \[-6, 5\]"):
        fn(data, bad, upd)
    (out,) = fn(data, idx, upd)
    assert_same(out, run_onnx_node("ScatterElements", {"data": data, "idx": idx + 2, "upd": upd},
                                   axis=1, reduction="min"))


def test_out_of_range_constant_indices_rejected_at_compile():
    g = tf.Graph()
    data = g.input("data", (4,), "float32")
    idx = g.constant(np.array([0, 4], "int64"), name="const_idx")
    upd = g.input("upd", (2,), "float32")
    g.output(g.scatter_elements(data, idx, upd))
    with pytest.raises(InputError, match=r"index tensor 'const_idx' holds 4 at \(1,\)"):
        tf.compile(g)


# Larger cases reach the update schedule's vectorised and parallel paths (the axes that never
# meet an index are split into vector lanes and spread over cores).
LARGE_ELEMENTS = [((64, 97), 0), ((97, 64), 1), ((6, 40, 33), 1)]
LARGE_ND = [((50, 128), 1), ((6, 20, 40), 2), ((6, 20, 40), 1)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", LARGE_ELEMENTS, ids=lambda c: f"{c[0]}-axis{c[1]}".replace(" ", ""))
def test_scatter_elements_large(rng, case, reduction):
    shape, axis = case
    _check_elements(rng, shape, axis, reduction, "int64")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", LARGE_ND, ids=lambda c: f"{c[0]}-k{c[1]}".replace(" ", ""))
def test_scatter_nd_large(rng, case, reduction):
    shape, k = case
    _check_nd(rng, shape, k, reduction, "int32")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("idx", [[1, -2], [2, -1, 4], [[-3]], [[1, 3, 0], [1, 3, 0]]],
                         ids=["1d-k2", "1d-k3-scalar-update", "k1-single", "k3-dup"])
def test_scatter_nd_low_rank_indices(rng, idx, reduction):
    """Indices without batch dims (a single tuple) and rank-0 updates (k == rank)."""
    idx = np.array(idx, "int64")
    if reduction == "none" and idx.ndim == 2 and len(idx) == 2:
        idx = idx[:1]
    data_shape = (3, 4, 5)
    upd_shape = idx.shape[:-1] + data_shape[idx.shape[-1]:]
    data, updates = _data(rng, data_shape, "float32"), _data(rng, upd_shape, "float32")
    fn = compile_fn({"d": (data_shape, "float32"), "i": (idx.shape, "int64"),
                     "u": (upd_shape, "float32")},
                    lambda g, d, i, u: g.scatter_nd(d, i, u, reduction=reduction))
    (out,) = fn(data, idx, np.asarray(updates))
    expected = run_onnx_node("ScatterND", {"d": data, "i": idx, "u": np.asarray(updates)},
                             reduction=reduction)
    assert_same(out, expected)

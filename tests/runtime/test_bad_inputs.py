"""Bad run-time inputs, on an in-process compiled graph and on the same graph exported and
loaded: every class of mistake is refused with its exact one-line message (naming the input,
the expected and the actual value, and what to do), and every array that can be read
correctly (views, transposes, negative strides, read-only, misaligned, 0-d) is copied or
passed as is and gives numpy's result. Index checks run before any kernel, with ONNX's
negative wrap, in a fused group and in a donated one; a refused call changes nothing.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import run_onnx_node
from tvm_fusion.checks import InputError

NAMES = "x, b, scale, data, idx, upd, table, pos, val"
SHAPE_FIX = "the graph is compiled for that shape: pass it, or build and compile one for yours"
INDEX_FIX = "pass indices in that range (negative ones count from the end, as in ONNX)"


def _graph():
    """Three kernels: ``(x + b) * scale`` (a 0-d input), a ScatterND fused behind an add, a
    ScatterElements (int32 indices, axis 0) fused behind a neg. Shapes odd or prime."""
    g = tf.Graph("bad_inputs")
    x, b = g.input("x", (7, 13), "float32"), g.input("b", (13,), "float32")
    scale = g.input("scale", (), "float32")
    data, idx = g.input("data", (11, 5), "float32"), g.input("idx", (3, 1), "int64")
    upd = g.input("upd", (3, 5), "float32")
    table, pos = g.input("table", (6, 9), "float32"), g.input("pos", (2, 9), "int32")
    val = g.input("val", (2, 9), "float32")
    g.output(g.mul(g.add(x, b), scale, name="y"))
    g.output(g.scatter_nd(g.add(data, data), idx, upd, name="nd"))
    g.output(g.scatter_elements(g.neg(table), pos, val, axis=0, name="el"))
    return g


def _kv_graph():
    """A KV-cache update, donated: cache (2, 3, 11, 5) updated in place at ``positions``."""
    g = tf.Graph("kv")
    cache = g.input("cache", (2, 3, 11, 5), "float32")
    k = g.input("k", (2, 2, 3, 5), "float32")
    positions = g.input("positions", (2, 2), "int64")
    idx = g.broadcast_to(g.reshape(positions, [2, 1, 2, 1]), [2, 3, 2, 5])
    g.output(g.scatter_elements(cache, idx, g.transpose(k, perm=[0, 2, 1, 3]), axis=2,
                                name="updated"))
    return g


def _arrays(rng) -> dict[str, np.ndarray]:
    return {"x": rng.standard_normal((7, 13)).astype("float32"),
            "b": rng.standard_normal(13).astype("float32"),
            "scale": np.array(1.5, "float32"),
            "data": rng.standard_normal((11, 5)).astype("float32"),
            "idx": np.array([[2], [-1], [-11]], "int64"),  # -1 -> 10, -11 -> 0
            "upd": rng.standard_normal((3, 5)).astype("float32"),
            "table": rng.standard_normal((6, 9)).astype("float32"),
            # no two updates of a column at one row: -1 -> 5, -6 -> 0
            "pos": np.stack([np.arange(9) % 6, -(np.arange(9) % 6) - 1]).astype("int32"),
            "val": rng.standard_normal((2, 9)).astype("float32")}


def _numpy(a) -> list[np.ndarray]:
    nd = a["data"] + a["data"]
    nd[a["idx"][:, 0]] = a["upd"]  # numpy indexing wraps negatives as ONNX does
    el = -a["table"]
    for i in range(a["pos"].shape[0]):
        for j in range(a["pos"].shape[1]):
            el[a["pos"][i, j], j] = a["val"][i, j]
    return [(a["x"] + a["b"]) * a["scale"], nd, el]


def _check(outputs, a) -> None:
    for out, expected in zip(outputs, _numpy(a), strict=True):
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    """kind -> (graph callable, donated KV callable): compiled here, and exported + loaded."""
    graph = tf.compile(_graph())
    kv = tf.compile(_kv_graph(), donate=["cache"])
    folder = tmp_path_factory.mktemp("bad_inputs")
    tf.export(graph, folder / "graph", repeat=1)
    tf.export(kv, folder / "kv", repeat=1)
    return {"compiled": (graph, kv),
            "loaded": (tf.load(folder / "graph.so"), tf.load(folder / "kv.so"))}


@pytest.fixture(params=["compiled", "loaded"])
def fn(request, modules):
    return modules[request.param][0]


@pytest.fixture(params=["compiled", "loaded"])
def kv(request, modules):
    return modules[request.param][1]


def _raises(message: str):
    return pytest.raises(InputError, match="^" + re.escape(message) + "$")


def _offset_view(array: np.ndarray, offset: int) -> np.ndarray:
    """A C-contiguous copy of ``array`` starting ``offset`` bytes past a 64-byte boundary."""
    raw = tf.empty((array.nbytes + 128,), "uint8")
    view = raw[offset:offset + array.nbytes].view(array.dtype).reshape(array.shape)
    view[...] = array
    return view


# ----- count and names -------------------------------------------------------------------
def test_wrong_count_and_names(fn, rng):
    a = _arrays(rng)
    ordered = [a[n] for n in NAMES.split(", ")]
    with _raises(f"expected at most 9 inputs ({NAMES}), got 10 positional arguments"):
        fn(*ordered, a["x"])
    with _raises(f"unknown input 'z'; the graph's inputs are: {NAMES}"):
        fn(**a, z=a["x"])
    with _raises(f"unknown input 'X'; the graph's inputs are: {NAMES}"):  # as many as inputs
        fn(**{("X" if k == "x" else k): v for k, v in a.items()})
    with _raises(f"missing inputs: b, val (expected: {NAMES})"):
        fn(**{k: v for k, v in a.items() if k not in ("b", "val")})
    with _raises("input 'x' given both positionally and by name"):
        fn(a["x"], **a)
    _check(fn(*ordered), a)  # positional, all of them
    _check(fn(*ordered[:3], **{k: a[k] for k in NAMES.split(", ")[3:]}), a)


# ----- shapes and dtypes -----------------------------------------------------------------
CONVERT = "(convert with .astype('float32'))"
NUMPY_MADE = "(numpy's choice for its values; pass np.asarray(value, dtype='float32'))"
BAD_VALUES = {  # name -> (input, make the bad value from the good array, exact message)
    "rank": ("x", lambda v: v[None],
             f"input 'x': expected shape (7, 13), got (1, 7, 13); {SHAPE_FIX}"),
    "extent": ("x", lambda v: v[:, :12],
               f"input 'x': expected shape (7, 13), got (7, 12); {SHAPE_FIX}"),
    "0-d for an array": ("b", lambda v: v[0], "input 'b': expected shape (13,), got () from a "
                         + f"value of type float32; {SHAPE_FIX}"),
    "array for a 0-d": ("scale", lambda v: np.full(1, v),
                        f"input 'scale': expected shape (), got (1,); {SHAPE_FIX}"),
    "float64": ("x", lambda v: v.astype("float64"),
                f"input 'x': expected dtype float32, got float64 {CONVERT}"),
    "float64 of another shape": ("x", lambda v: v.T.astype("float64"),
                                 "input 'x': expected dtype float32 and shape (7, 13), got "
                                 + f"float64 and (13, 7) {CONVERT}"),
    "int32 indices for int64": ("idx", lambda v: v.astype("int32"),
                                "input 'idx': expected dtype int64, got int32 (convert with "
                                + ".astype('int64'))"),
    "big-endian": ("x", lambda v: v.astype(">f4"),
                   f"input 'x': expected dtype float32, got >f4 {CONVERT}"),
    "object array": ("x", lambda v: v.astype(object),
                     f"input 'x': expected dtype float32, got object {CONVERT}"),
    "list of floats": ("x", lambda v: v.tolist(), "input 'x': expected dtype float32, got "
                       + f"float64 from a value of type list {NUMPY_MADE}"),
    "Python float": ("scale", lambda v: float(v), "input 'scale': expected dtype float32, got "
                     + f"float64 from a value of type float {NUMPY_MADE}"),
    "Python int for an array": ("b", lambda v: 3, "input 'b': expected dtype float32 and shape "
                                + f"(13,), got int64 and () from a value of type int {NUMPY_MADE}"),
    "None": ("x", lambda v: None, "input 'x': expected a float32 array of shape (7, 13), got None"),
    "string": ("b", lambda v: "0.5", "input 'b': expected dtype float32 and shape (13,), got <U3 "
               + f"and () from a value of type str {NUMPY_MADE}"),
    "masked array": ("x", lambda v: np.ma.masked_array(v, mask=v > 0),
                     "input 'x': got a numpy masked array; the kernel would read the values "
                     + "under its mask: pass value.filled(fill_value)"),
}


@pytest.mark.parametrize("case", BAD_VALUES, ids=str)
def test_wrong_shape_dtype_or_type_is_refused_with_its_message(fn, rng, case):
    a = _arrays(rng)
    name, bad, message = BAD_VALUES[case]
    with _raises(message):
        fn(**{**a, name: bad(a[name])})
    with _raises(message):  # positionally too
        fn(*[bad(a[n]) if n == name else a[n] for n in NAMES.split(", ")])
    with _raises(message):
        fn.check_inputs(**{**a, name: bad(a[name])})
    _check(fn(**a), a)  # a refused call leaves nothing behind


def test_ragged_list_is_refused(fn, rng):
    a = _arrays(rng)
    with pytest.raises(InputError, match=r"^input 'x': expected a float32 array of shape "
                                         r"\(7, 13\), got a list numpy cannot make an array of "
                                         r"\(.+\)$"):
        fn(**{**a, "x": [[1.0], [1.0, 2.0]]})


def test_values_numpy_makes_the_declared_dtype_of_are_accepted(fn, rng):
    """A list of ints for int64 indices, numpy scalars for a 0-d input: no silent conversion
    happens (numpy's own dtype is the declared one), and the result is right."""
    a = _arrays(rng)
    _check(fn(**{**a, "idx": a["idx"].tolist()}), a)
    _check(fn(**{**a, "scale": np.float32(1.5)}), a)


# ----- layouts: copied (or passed as is) and read right ----------------------------------
def _layouts(array: np.ndarray) -> dict[str, tuple[np.ndarray, str]]:
    """Same values, awkward memory: name -> (array, what explain_call must say)."""
    read_only = array.copy()
    read_only.flags.writeable = False
    wide = np.zeros((array.shape[0], 2 * array.shape[1]), array.dtype)
    wide[:, ::2] = array
    flipped = np.ascontiguousarray(array[::-1, ::-1])[::-1, ::-1]
    return {
        "column slice": (wide[:, ::2], "not C-contiguous"),
        "transposed": (np.asfortranarray(array), "not C-contiguous"),
        "negative strides": (flipped, "not C-contiguous"),
        "read-only": (read_only, "read-only"),
        "4 bytes off 64": (_offset_view(array, 4), "passed as is (no copy); its address is 4"),
        "1 byte off 64": (_offset_view(array, 1), "not a multiple of its 4-byte elements"),
        "3 bytes off 64": (_offset_view(array, 3), "not a multiple of its 4-byte elements"),
    }


@pytest.mark.parametrize("layout", list(_layouts(np.zeros((2, 2), "float32"))))
def test_awkward_layouts_are_read_right(fn, rng, layout):
    a = _arrays(rng)
    for name in ("x", "table"):  # a plain kernel input and a scatter's data
        value, route = _layouts(a[name])[layout]
        np.testing.assert_array_equal(value, a[name])
        line = next(ln for ln in fn.explain_call(**{**a, name: value}).splitlines()
                    if ln.startswith(f"  {name}:"))
        assert route in line, line
        _check(fn(**{**a, name: value}), a)
        staging = fn._plan.staging.get(name)
        if staging is not None:
            staging[...] = np.nan  # a copy refills it, an array passed as is leaves it
        _check(fn(**{**a, name: value}), a)
        copied = "passed as is" not in route
        assert (staging is not None and (staging == a[name]).all()) == copied, layout
    assert not _layouts(a["x"])["1 byte off 64"][0].flags.aligned


def test_zero_dim_layouts(fn, rng):
    a = _arrays(rng)
    read_only = np.array(1.5, "float32")
    read_only.flags.writeable = False
    for value in (read_only, np.array([1.5], "float32")[0], np.float32(1.5),
                  np.broadcast_to(np.float32(1.5), ())):
        _check(fn(**{**a, "scale": value}), a)


def test_index_tensors_in_awkward_layouts(fn, rng):
    a = _arrays(rng)
    pos_t = np.asfortranarray(a["pos"])
    idx_ro = a["idx"].copy()
    idx_ro.flags.writeable = False
    _check(fn(**{**a, "pos": pos_t, "idx": idx_ro}), a)
    bad = np.asfortranarray(a["pos"].copy())
    bad[1, 7] = 6
    with _raises(f"scatter_elements 'el': index tensor 'pos' holds 6 at (1, 7), expected in "
                 f"[-6, 5] (axis 0 of data 'neg_2' has 6 entries): {INDEX_FIX}"):
        fn(**{**a, "pos": bad})


# ----- out= ------------------------------------------------------------------------------
def test_out_errors(fn, rng):
    a = _arrays(rng)
    y, nd, el = tf.empty((7, 13), "float32"), tf.empty((11, 5), "float32"), None
    read_only = tf.empty((7, 13), "float32")
    read_only.flags.writeable = False
    odd = _offset_view(np.zeros((7, 13), "float32"), 2)
    what = "out[0] (output 'y')"
    layout = (f"{what} must be a writeable C-contiguous array aligned to its element size (the "
              "kernel writes it directly); tvm_fusion.empty(shape, dtype) makes one")
    cases = [
        ((y, nd), ("out=: expected a tuple of 3 numpy array(s) (one per graph output: y, nd, "
                  "el), got tuple of length 2")),
        (y, ("out=: expected a tuple of 3 numpy array(s) (one per graph output: y, nd, el), "
            "got ndarray")),
        ((y.tolist(), nd, el), f"{what}: expected a numpy array, got list"),
        ((np.empty((7, 13), "float64"), nd, el),
         f"{what}: expected float32(7, 13), got float64(7, 13)"),
        ((np.empty((13, 7), "float32").T, nd, el), layout),
        ((read_only, nd, el), layout),
        ((odd, nd, el), layout),
        ((a["x"], nd, el), (f"{what} shares memory with input 'x': a fused kernel may read an "
                           "input after writing an output; pass a separate array")),
    ]
    for out, message in cases:
        with _raises(message):
            fn(**a, out=out)
    overlapping = np.empty(7 * 13 + 11 * 5, "float32")
    with _raises("out[1] (output 'nd') shares memory with out[0]: a fused kernel may read an "
                 "input after writing an output; pass a separate array"):
        fn(**a, out=(overlapping[:91].reshape(7, 13), overlapping[36:91].reshape(11, 5), None))
    results = fn(**a, out=(y, nd, None))
    assert results[0] is y and results[1] is nd
    _check(results, a)


# ----- index ranges ----------------------------------------------------------------------
@pytest.mark.parametrize("name, position, value, message", [
    ("idx", (1, 0), 11, ("scatter_nd 'nd': index tensor 'idx' holds 11 at (1, 0), expected in "
                        "[-11, 10] (axis 0 of data 'add_1' has 11 entries)")),
    ("idx", (2, 0), -12, ("scatter_nd 'nd': index tensor 'idx' holds -12 at (2, 0), expected in "
                         "[-11, 10] (axis 0 of data 'add_1' has 11 entries)")),
    ("pos", (0, 8), 6, ("scatter_elements 'el': index tensor 'pos' holds 6 at (0, 8), expected "
                       "in [-6, 5] (axis 0 of data 'neg_2' has 6 entries)")),
    ("pos", (1, 0), -7, ("scatter_elements 'el': index tensor 'pos' holds -7 at (1, 0), "
                        "expected in [-6, 5] (axis 0 of data 'neg_2' has 6 entries)")),
    ("pos", (1, 3), 2 ** 31 - 1, ("scatter_elements 'el': index tensor 'pos' holds 2147483647 "
                                 "at (1, 3), expected in [-6, 5] (axis 0 of data 'neg_2' has "
                                 "6 entries)")),
])
def test_out_of_range_indices_are_refused_before_any_kernel(fn, rng, name, position, value,
                                                            message):
    a = _arrays(rng)
    bad = a[name].copy()
    bad[position] = value
    y = np.full((7, 13), 7.0, "float32")
    with _raises(f"{message}: {INDEX_FIX}"):
        fn(**{**a, name: bad}, out=(y, None, None))
    assert (y == 7.0).all()  # checked before the first kernel: no output written
    edge = a[name].copy()
    bound = 11 if name == "idx" else 6
    edge[position] = bound - 1 if value > 0 else -bound  # the extremes in range
    b = {**a, name: edge}
    _check(fn(**b), b)


def test_negative_indices_wrap_as_onnx_says(fn, rng):
    a = _arrays(rng)
    a["idx"] = np.array([[-11], [-5], [-1]], "int64")
    a["pos"] = -np.stack([np.arange(9) % 6 + 1, (np.arange(9) + 3) % 6 + 1]).astype("int32")
    y, nd, el = fn(**a)
    np.testing.assert_array_equal(nd, run_onnx_node(
        "ScatterND", {"data": a["data"] + a["data"], "idx": a["idx"], "upd": a["upd"]}))
    np.testing.assert_array_equal(el, run_onnx_node(
        "ScatterElements", {"data": -a["table"], "pos": a["pos"], "val": a["val"]}, axis=0))
    _check((y, nd, el), a)


# ----- the donated group -----------------------------------------------------------------
def _kv_arrays(rng):
    return (rng.standard_normal((2, 3, 11, 5)).astype("float32"),
            rng.standard_normal((2, 2, 3, 5)).astype("float32"))


def _kv_numpy(cache, k, positions):
    out = cache.copy()
    for b in range(2):
        for t in range(2):
            out[b, :, positions[b, t], :] = k[b, t]
    return out


@pytest.mark.parametrize("positions, message", [
    ([[0, 11], [3, 4]], "holds 11 at (0, 1)"),
    ([[0, 1], [-12, 4]], "holds -12 at (1, 0)"),
])
def test_donated_scatter_refuses_bad_indices_and_keeps_the_cache(kv, rng, positions, message):
    cache, k = _kv_arrays(rng)
    before = cache.copy()
    with _raises(f"scatter_elements 'updated': index tensor 'positions' {message}, expected in "
                 f"[-11, 10] (axis 2 of data 'cache' has 11 entries): {INDEX_FIX}"):
        kv(cache=cache, k=k, positions=np.array(positions, "int64"))
    np.testing.assert_array_equal(cache, before)  # nothing written
    good = np.array([[0, -1], [-11, 4]], "int64")  # -1 -> 10, -11 -> 0
    (out,) = kv(cache=cache, k=k, positions=good)
    assert out is cache
    np.testing.assert_array_equal(out, _kv_numpy(before, k, good))


def test_donated_input_refusals(kv, rng):
    cache, k = _kv_arrays(rng)
    positions = np.array([[0, 1], [2, 3]], "int64")
    read_only = cache.copy()
    read_only.flags.writeable = False
    cases = [
        (cache.tolist(), ("donated input 'cache': expected a numpy array (it is updated in place "
                         "and returned), got list")),
        (cache.astype("float64"), ("donated input 'cache': expected dtype float32, got float64; "
                                  "convert it once with .astype('float32') and pass (and keep) "
                                  "the converted array")),
        (cache[:, :, :10].copy(), ("donated input 'cache': expected shape (2, 3, 11, 5), got "
                                  f"(2, 3, 10, 5); {SHAPE_FIX}")),
        (read_only, ("donated input 'cache' is read-only: it is updated in place; pass a "
                    "writeable array (e.g. .copy())")),
        (np.asfortranarray(cache), ("donated input 'cache' is not a C-contiguous, aligned array "
                                   "(a transposed or strided view?): it is updated in place, "
                                   "so pass np.ascontiguousarray(x) once and keep using the "
                                   "array it returns")),
        (_offset_view(cache, 2), ("donated input 'cache' is not aligned to its 4-byte elements "
                                 "(its address is 2 bytes past a 64-byte boundary): it is "
                                 "updated in place, so pass tvm_fusion.aligned(x) once and keep "
                                 "using the array it returns")),
    ]
    for value, message in cases:
        with _raises(message):
            kv(cache=value, k=k, positions=positions)
    shifted = _offset_view(cache, 4)  # element-aligned, not 64: updated in place
    (out,) = kv(cache=shifted, k=k, positions=positions)
    assert out is shifted
    np.testing.assert_array_equal(out, _kv_numpy(cache, k, positions))

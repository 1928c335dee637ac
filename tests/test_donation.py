"""Buffer donation: ``compile(graph, donate=[...])`` lets a scatter update its data in place.

Real kernels against numpy and against the out-of-place path: the output is the caller's
array object, values match, 16-byte (not 64-byte) aligned arrays work, repeated calls keep
updating in place, every refusal says what to do; analysis bytes; kernel structure.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import tvm_fusion as tf
from tests.helpers import assert_same, random_array
from tvm_fusion import inspect_ir, workloads
from tvm_fusion.checks import InputError
from tvm_fusion.graph import GraphError

KV_SHAPES = [((2, 5, 37, 13), 3), ((1, 3, 11, 7), 5), ((1, 4, 16, 64), 4)]


def kv_graph(cache_shape, tokens, reduction="none"):
    """A decoder's KV-cache update: k (b, t, h, d) transposed, positions (b, t) broadcast."""
    b, h, _, d = cache_shape
    g = tf.Graph("kv")
    cache = g.input("cache", cache_shape, "float32")
    k = g.input("k", (b, tokens, h, d), "float32")
    positions = g.input("positions", (b, tokens), "int64")
    k_t = g.transpose(k, perm=[0, 2, 1, 3])
    idx = g.broadcast_to(g.reshape(positions, [b, 1, tokens, 1]), [b, h, tokens, d])
    g.output(g.scatter_elements(cache, idx, k_t, axis=2, reduction=reduction, name="updated"))
    return g


def kv_numpy(cache, k, positions, reduction="none"):
    out = cache.copy()
    for b in range(k.shape[0]):
        for t in range(k.shape[1]):
            if reduction == "none":
                out[b, :, positions[b, t], :] = k[b, t]
            else:
                out[b, :, positions[b, t], :] += k[b, t]
    return out


def kv_inputs(rng, cache_shape, tokens, duplicates=False):
    b, h, s, d = cache_shape
    cache = random_array(rng, cache_shape, "float32", -2, 2)
    k = random_array(rng, (b, tokens, h, d), "float32", -2, 2)
    if duplicates:
        positions = rng.integers(-s, s, size=(b, tokens))
    else:
        positions = np.stack([rng.permutation(s)[:tokens] for _ in range(b)])
        positions = np.where(rng.random(positions.shape) < 0.3, positions - s, positions)
    return cache, k, positions.astype("int64")


def misaligned_copy(array: np.ndarray, offset: int) -> np.ndarray:
    """A C-contiguous copy of ``array`` whose data sits ``offset`` bytes past a 64-byte line."""
    raw = np.empty(array.nbytes + 128, "uint8")
    start = (-raw.ctypes.data) % 64 + offset
    view = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    view[...] = array
    assert view.ctypes.data % 64 == offset and view.flags.c_contiguous
    return view


# ----- results ---------------------------------------------------------------------------
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("reduction", ["none", "add"])
@pytest.mark.parametrize("case", KV_SHAPES, ids=lambda c: "x".join(map(str, c[0])) + f"-t{c[1]}")
def test_kv_cache_updated_in_place(rng, case, reduction, fuse):
    shape, tokens = case
    g = kv_graph(shape, tokens, reduction)
    cache, k, positions = kv_inputs(rng, shape, tokens, duplicates=reduction == "add")
    (expected,) = tf.compile(g, fuse=fuse)(cache=cache, k=k, positions=positions)
    assert_same(expected, kv_numpy(cache, k, positions, reduction))
    fn = tf.compile(g, fuse=fuse, donate=["cache"])
    donated = cache.copy()
    (out,) = fn(cache=donated, k=k, positions=positions)
    assert out is donated
    assert_same(out, expected)


@pytest.mark.parametrize("reduction", ["none", "add", "max"])
@pytest.mark.parametrize("rows", [1, 5, 13])
def test_scatter_nd_rows_in_place(rng, rows, reduction):
    """W4-like: data (61, 7), rows picked by an index vector, updates computed (u + v)."""
    g = tf.Graph("rows")
    data = g.input("data", (61, 7), "float32")
    idx = g.input("idx", (rows,), "int64")
    u, v = g.input("u", (rows, 7), "float32"), g.input("v", (rows, 7), "float32")
    g.output(g.scatter_nd(data, g.reshape(idx, [rows, 1]), g.add(u, v), reduction=reduction))
    arrays = {"data": random_array(rng, (61, 7), "float32", -2, 2),
              "idx": rng.choice(61, size=rows, replace=False).astype("int64") - 30,
              "u": random_array(rng, (rows, 7), "float32", -2, 2),
              "v": random_array(rng, (rows, 7), "float32", -2, 2)}
    expected = arrays["data"].copy()
    new = arrays["u"] + arrays["v"]
    combine = {"none": lambda old: new, "add": lambda old: old + new,
               "max": lambda old: np.maximum(old, new)}[reduction]
    expected[arrays["idx"]] = combine(expected[arrays["idx"]])
    (reference,) = tf.compile(g)(**arrays)
    assert_same(reference, expected)
    donated = arrays["data"].copy()
    (out,) = tf.compile(g, donate="data")(**{**arrays, "data": donated})
    assert out is donated
    assert_same(out, expected)


def test_scatter_of_inputs_only_has_no_stage_but_the_update(rng):
    """Indices and updates straight from inputs: the kernel is the update block alone."""
    g = tf.Graph("plain")
    data = g.input("data", (61, 7), "int32")
    g.output(g.scatter_nd(data, g.input("i", (3, 2), "int64"), g.input("u", (3,), "int32"),
                          reduction="add"))
    fn = tf.compile(g, donate=["data"])
    (kernel,) = fn.kernels
    assert kernel.inputs == ("i", "u")
    arr = random_array(rng, (61, 7), "int32", -9, 9)
    expected = arr.copy()
    i = np.array([[3, 1], [-1, 6], [3, 1]], "int64")
    np.add.at(expected, (i[:, 0], i[:, 1]), np.array([1, 2, 3], "int32"))
    (out,) = fn(arr, i, np.array([1, 2, 3], "int32"))
    assert out is arr
    assert_same(out, expected)


@pytest.mark.parametrize("offset", [16, 4], ids=["16-byte", "element"])
def test_array_aligned_below_64_bytes_is_updated_in_place(rng, offset):
    shape, tokens = (2, 5, 37, 13), 3
    g = kv_graph(shape, tokens)
    cache, k, positions = kv_inputs(rng, shape, tokens)
    donated = misaligned_copy(cache, offset)
    base = donated.base
    guard = base.copy()
    (out,) = tf.compile(g, donate=["cache"])(cache=donated, k=k, positions=positions)
    assert out is donated
    assert_same(out, kv_numpy(cache, k, positions))
    outside = np.ones(base.shape, bool)
    start = donated.ctypes.data - base.ctypes.data
    outside[start:start + donated.nbytes] = False
    np.testing.assert_array_equal(base[outside], guard[outside])  # nothing written outside


def test_repeated_calls_keep_updating_in_place(rng):
    """Decode steps: each call appends new positions to the same cache array."""
    shape, tokens = (1, 3, 11, 7), 2
    fn = tf.compile(kv_graph(shape, tokens, "add"), donate=["cache"])
    cache, _, _ = kv_inputs(rng, shape, tokens)
    expected = cache.copy()
    for step in range(4):
        k = random_array(rng, (1, tokens, 3, 7), "float32", -2, 2)
        positions = np.array([[2 * step, 2 * step + 1]], "int64")
        (out,) = fn(cache, k, positions)
        expected = kv_numpy(expected, k, positions, "add")
        assert out is cache
        assert_same(cache, expected)
    assert fn.benchmark(cache, k, positions, repeat=3) > 0  # times updates of the same array


def test_two_caches_donated_and_output_consumed_later(rng):
    """K and V caches both updated in place; the updated K cache also feeds a reduction."""
    g = tf.Graph("kv2")
    kc, vc = g.input("k_cache", (2, 9, 5), "float32"), g.input("v_cache", (2, 9, 5), "float32")
    idx = g.input("idx", (2, 3, 5), "int64")
    k, v = g.input("k", (2, 3, 5), "float32"), g.input("v", (2, 3, 5), "float32")
    k_new = g.scatter_elements(kc, idx, k, axis=1)
    v_new = g.scatter_elements(vc, idx, v, axis=1)
    g.output(k_new, v_new, g.reduce_sum(k_new, axes=[1]))
    arrays = {"k_cache": random_array(rng, (2, 9, 5), "float32"),
              "v_cache": random_array(rng, (2, 9, 5), "float32"),
              "idx": np.broadcast_to(np.array([4, 0, 7]).reshape(1, 3, 1), (2, 3, 5)).copy(),
              "k": random_array(rng, (2, 3, 5), "float32"),
              "v": random_array(rng, (2, 3, 5), "float32")}
    expected = tf.compile(g)(**arrays)
    fn = tf.compile(g, donate=["k_cache", "v_cache"])
    kc_arr, vc_arr = arrays["k_cache"].copy(), arrays["v_cache"].copy()
    out = fn(**{**arrays, "k_cache": kc_arr, "v_cache": vc_arr})
    assert out[0] is kc_arr and out[1] is vc_arr
    for got, want in zip(out, expected):
        assert_same(got, want)
    with pytest.raises(InputError, match="'k_cache' and 'v_cache' share memory"):
        fn(**{**arrays, "k_cache": kc_arr, "v_cache": kc_arr})


def test_donated_and_out_of_place_kernels_are_cached_apart(rng):
    shape, tokens = (1, 3, 11, 7), 2
    g = kv_graph(shape, tokens)
    donated_fn = tf.compile(g, donate=["cache"])
    plain_fn = tf.compile(g)
    assert donated_fn.kernels[0].function is not plain_fn.kernels[0].function
    cache, k, positions = kv_inputs(rng, shape, tokens)
    before = cache.copy()
    (out,) = plain_fn(cache, k, positions)
    assert out is not cache
    np.testing.assert_array_equal(cache, before)  # out of place: the input is untouched


# ----- refusals --------------------------------------------------------------------------
def _graph_with_extra_reader():
    g = tf.Graph()
    cache = g.input("cache", (4, 6), "float32")
    s = g.scatter_elements(cache, g.input("i", (4, 2), "int64"), g.input("u", (4, 2), "float32"),
                           axis=1, name="s")
    g.output(s, g.reduce_sum(cache, axes=[1], name="total"))
    return g


def _graph_scatter_not_output():
    g = tf.Graph()
    cache = g.input("cache", (4, 6), "float32")
    s = g.scatter_elements(cache, g.input("i", (4, 2), "int64"), g.input("u", (4, 2), "float32"),
                           axis=1, name="s")
    g.output(g.relu(s, name="r"))
    return g


def _graph_cache_is_output():
    g = tf.Graph()
    cache = g.input("cache", (4, 6), "float32")
    g.output(g.scatter_elements(cache, g.input("i", (4, 2), "int64"),
                                g.input("u", (4, 2), "float32"), axis=1, name="s"), cache)
    return g


def _graph_two_scatters():
    g = tf.Graph()
    cache = g.input("cache", (4, 6), "float32")
    i, u = g.input("i", (4, 2), "int64"), g.input("u", (4, 2), "float32")
    g.output(g.scatter_elements(cache, i, u, axis=1, name="s1"),
             g.scatter_elements(cache, i, u, axis=1, name="s2"))
    return g


def _graph_data_is_updates():
    g = tf.Graph()
    cache = g.input("cache", (4, 6), "float32")
    g.output(g.scatter_elements(cache, g.input("i", (4, 6), "int64"), cache, axis=1, name="s"))
    return g


REFUSALS = [
    (lambda: kv_graph((1, 3, 11, 7), 2), ["k"],
     r"input 'k' is not the data input of a scatter \(it is read by transpose"),
    (lambda: kv_graph((1, 3, 11, 7), 2), ["nope"], r"'nope' is not a tensor of the graph"),
    (lambda: kv_graph((1, 3, 11, 7), 2), ["updated"], r"'updated' is computed by an op"),
    (lambda: kv_graph((1, 3, 11, 7), 2), ["cache", "cache"], r"'cache' is donated twice"),
    (_graph_with_extra_reader, ["cache"],
     r"updated in place by scatter_elements 's' but also read by reduce_sum 'total'"),
    (_graph_scatter_not_output, ["cache"],
     r"output 's' of scatter_elements 's' .* is not a graph output"),
    (_graph_cache_is_output, ["cache"], r"input 'cache' is also a graph output"),
    (_graph_two_scatters, ["cache"], r"also read by scatter_elements 's2'"),
    (_graph_data_is_updates, ["cache"], r"scatter_elements 's' itself \(as indices or updates\)"),
]


@pytest.mark.parametrize("make,donate,message", REFUSALS,
                         ids=["not-scatter-data", "unknown", "intermediate", "twice",
                              "other-reader", "output-not-returned", "input-is-output",
                              "two-scatters", "data-is-updates"])
def test_refusals_name_the_input_and_what_to_do(make, donate, message):
    with pytest.raises(GraphError, match=message) as err:
        tf.compile(make(), donate=donate)
    assert "donate" in str(err.value)
    with pytest.raises(GraphError, match=message):
        tf.analysis.analyze(make(), cores=2, donate=donate)


def test_constant_cannot_be_donated():
    g = tf.Graph()
    c = g.constant(np.zeros((4, 6), "float32"), name="table")
    g.output(g.scatter_elements(c, g.input("i", (4, 2), "int64"), g.input("u", (4, 2), "float32"),
                                axis=1))
    with pytest.raises(GraphError, match=r"'table' is a constant .* only a graph input"):
        tf.compile(g, donate=["table"])


def _bad_arrays(cache):
    readonly = cache.copy()
    readonly.flags.writeable = False
    return {
        "fortran": (np.asfortranarray(cache), r"not a C-contiguous, aligned array"),
        "strided": (np.repeat(cache, 2, axis=-1)[..., ::2], r"not a C-contiguous"),
        "readonly": (readonly, r"is read-only: it is updated in place"),
        "dtype": (cache.astype("float64"), r"expected dtype float32, got float64; convert "
                                           r"it once"),
        "shape": (cache[:, :, :-1].copy(), r"expected shape"),
        "list": (cache.tolist(), r"expected a numpy array .* got list"),
    }


@pytest.mark.parametrize("kind", ["fortran", "strided", "readonly", "dtype", "shape", "list"])
def test_unusable_donated_arrays_are_refused_not_copied(rng, kind):
    shape, tokens = (1, 3, 11, 7), 2
    fn = tf.compile(kv_graph(shape, tokens), donate=["cache"])
    cache, k, positions = kv_inputs(rng, shape, tokens)
    bad, message = _bad_arrays(cache)[kind]
    before = np.array(bad, copy=True)
    with pytest.raises(InputError, match=rf"donated input 'cache'.*{message}|{message}"):
        fn(cache=bad, k=k, positions=positions)
    np.testing.assert_array_equal(np.asarray(bad), before)


def test_out_of_range_index_leaves_the_donated_array_untouched(rng):
    shape, tokens = (1, 3, 11, 7), 2
    fn = tf.compile(kv_graph(shape, tokens), donate=["cache"])
    cache, k, _ = kv_inputs(rng, shape, tokens)
    before = cache.copy()
    with pytest.raises(InputError, match=r"index tensor 'positions' holds 11"):
        fn(cache, k, np.array([[1, 11]], "int64"))
    np.testing.assert_array_equal(cache, before)


# ----- analysis and kernel structure ------------------------------------------------------
def test_analysis_bytes_with_and_without_donation():
    g = workloads.graph("P4")  # cache f32[1, 32, 2048, 64], k f32[1, 8, 32, 64]
    (plain,) = tf.analysis.analyze(g, cores=2).groups
    assert plain.ddr_donated is None and plain.donated_inputs == ()
    report = tf.analysis.analyze(g, cores=2, donate=["cache"])
    (group,) = report.groups
    update, index = 8 * 32 * 64 * 4, 8 * 8
    assert group.ddr_fused == 2 * 2**24 + update + index
    assert group.ddr_donated == update + index + update  # read k, positions; write rows
    assert group.donated_inputs == ("cache",)
    assert "with donation of 'cache': 128.1 KiB (the untouched rows are not copied" in str(report)
    assert "with donation" not in str(tf.analysis.analyze(g, cores=2))
    (added,) = tf.analysis.analyze(kv_graph((1, 32, 2048, 64), 8, "add"), cores=2,
                                   donate=["cache"]).groups
    assert added.ddr_donated == update + index + 2 * update  # read-modify-write


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_donated_kernel_has_no_copy_and_no_global_intermediate(fuse):
    import tvm

    fn = tf.compile(kv_graph((2, 5, 37, 13), 3), fuse=fuse, donate=["cache"])
    kernel = fn.kernels[-1]
    assert kernel.schedule == ("scatter-terminated" if fuse else "simple")
    assert kernel.inputs == (("k", "positions") if fuse else ("broadcast_to_2", "transpose_0"))
    assert kernel.outputs == ("updated",)
    mod = kernel.scheduled
    sch = tvm.s_tir.Schedule(mod)
    names = [sch.get(b).name_hint for b in sch.get_child_blocks(sch.get_sblock("root"))]
    assert names == ["updated_update"]  # no copy block
    assert inspect_ir.global_intermediates(mod) == []
    params = mod["main"].params
    assert [str(p.name) for p in params][-1] == "cache"  # the donated buffer is the output
    assert params[-1].data_alignment == 4  # what a float32 numpy array guarantees
    llvm_ir = kernel.executable.mod.inspect_source("ll")  # the binder's alignment assumption
    assert '"align"(ptr %cache, i64 4)' in llvm_ir and '"align"(ptr %cache, i64 64)' not in llvm_ir


def test_kv_cache_donation_at_least_20x_faster():
    """The acceptance target on P4 (cache 16 MiB, 8 new tokens): kernel and public call."""
    g, arrays = workloads.load("P4")
    plain, donated = tf.compile(g), tf.compile(g, donate=["cache"])
    cache = arrays["cache"].copy()
    args = {"k": arrays["k"], "positions": arrays["positions"]}

    def call_seconds(fn, array):
        times = []
        for _ in range(20):
            start = time.perf_counter()
            fn(cache=array, **args)
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    kernel_ratio = plain.benchmark(cache=cache, **args, repeat=20) / \
        donated.benchmark(cache=cache, **args, repeat=20)
    call_ratio = call_seconds(plain, arrays["cache"]) / call_seconds(donated, cache)
    assert kernel_ratio >= 20 and call_ratio >= 20, (kernel_ratio, call_ratio)
    (out,) = donated(cache=cache, **args)
    assert out is cache
    np.testing.assert_array_equal(out, workloads.reference("P4", arrays))  # idempotent update


def test_tuning_records_are_not_applied_to_a_donated_kernel(tmp_path):
    fn = tf.compile(kv_graph((1, 3, 11, 7), 2), donate=["cache"], tuning_logs=str(tmp_path))
    assert fn.notices and "the input is donated" in fn.notices[0]


def test_cli_donate_option(capsys):
    from tvm_fusion import cli

    assert cli.main(["analyze", "P4s", "--cores", "2", "--donate", "cache"]) == 0
    assert "with donation of 'cache'" in capsys.readouterr().out
    assert cli.main(["analyze", "P4s", "--donate", "k"]) == cli.EXIT_USAGE
    assert "input 'k' is not the data input of a scatter" in capsys.readouterr().err
    assert cli.main(["compile", "P4s", "--no-logs", "--repeat", "3", "--donate", "cache"]) == 0
    assert "check against numpy: ok" in capsys.readouterr().out


@pytest.mark.parametrize("dtype", ["bool", "float16", "int64"])
def test_other_dtypes_in_place(rng, dtype):
    """Element alignment 1, 2 and 8 bytes; indices reaching every data axis (scalar updates)."""
    g = tf.Graph()
    data = g.input("data", (7, 61), dtype)
    g.output(g.scatter_nd(data, g.input("i", (4, 2), "int32"), g.input("u", (4,), dtype)))
    arr = random_array(rng, (7, 61), dtype)
    i = np.array([[0, 0], [6, 60], [-1, 3], [2, -61]], "int32")
    u = random_array(rng, (4,), dtype)
    expected = arr.copy()
    expected[i[:, 0], i[:, 1]] = u
    donated = misaligned_copy(arr, np.dtype(dtype).itemsize)
    (out,) = tf.compile(g, donate=["data"])(donated, i, u)
    assert out is donated
    assert_same(out, expected)

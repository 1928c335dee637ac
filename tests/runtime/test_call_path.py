"""The public call: zero-copy inputs, outputs written straight into fresh (or the caller's)
arrays, staging for what cannot be passed as is, and kernels that assume only element
alignment (a misaligned pointer once segfaulted an aligned vector load)."""

import re

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.checks import InputError
from tvm_fusion.runtime.binding import ALIGN_FROM_BYTES
from tvm_fusion.runtime.memory import is_aligned

SHAPES = [(7, 61, 131), (64, 128), (3, 1, 257)]


def _add_graph(shape, dtype="float32"):
    g = tf.Graph()
    x = g.input("x", shape, dtype)
    b = g.input("b", shape[-1:], dtype)
    g.output(g.add(x, b))
    return g


@pytest.fixture(scope="module", params=SHAPES, ids=str)
def add_fn(request):
    return tf.compile(_add_graph(request.param)), request.param


def _offset_copy(array, offset_bytes):
    """A C-contiguous copy of ``array`` starting ``offset_bytes`` past a 64-byte boundary."""
    raw = tf.empty((array.nbytes + 128,), "uint8")
    view = raw[offset_bytes:offset_bytes + array.nbytes].view(array.dtype).reshape(array.shape)
    view[...] = array
    return view


@pytest.mark.parametrize("offset", [0, 4, 16, 48])
def test_misaligned_inputs_run_zero_copy(add_fn, rng, offset):
    fn, shape = add_fn
    x, b = rng.standard_normal(shape).astype("float32"), rng.standard_normal(shape[-1]).astype(
        "float32")
    xm, bm = _offset_copy(x, offset), _offset_copy(b, offset)
    assert xm.ctypes.data % 64 == offset
    assert "passed as is" in fn.explain_call(x=xm, b=bm).splitlines()[1]
    (out,) = fn(x=xm, b=bm)
    np.testing.assert_array_equal(out, x + b)


def test_every_template_assumes_only_element_alignment():
    """No kernel of any shipped template tells LLVM its pointers are 64-byte aligned."""
    for name in ("W1s", "W2s", "W3s", "W4s", "W5s", "P1s", "P2s", "P3s", "P4s", "P5s"):
        graph, arrays = workloads.load(name)
        for fuse in (True, False):
            fn = tf.compile(graph, fuse=fuse)
            for kernel in fn.kernels:
                ir = kernel.executable.mod.inspect_source("ll")
                # an alignment assumption: `call void @llvm.assume(i1 true) ["align"(ptr %p,
                # i64 64)]` or `align 64` on a parameter (a vector step `splat (i64 64)` is not)
                assumed = re.findall(r'"align"\(ptr [^,]+, i64 64\)|ptr [^,)]*align 64', ir)
                assert not assumed, (name, kernel.nodes, assumed[:3])
            misaligned = {k: _offset_copy(v, 16) for k, v in arrays.items()}
            np.testing.assert_allclose(fn(**misaligned)[0], workloads.reference(name, arrays),
                                       rtol=2e-2, atol=2e-2, err_msg=name)


def test_outputs_are_fresh_and_never_alias(add_fn, rng):
    fn, shape = add_fn
    x, b = rng.standard_normal(shape).astype("float32"), rng.standard_normal(shape[-1]).astype(
        "float32")
    (first,), (second,) = fn(x=x, b=b), fn(x=x, b=b)
    assert first is not second and not np.may_share_memory(first, second)
    assert not np.may_share_memory(first, x)
    np.testing.assert_array_equal(first, x + b)
    np.testing.assert_array_equal(second, x + b)
    assert first.flags.c_contiguous and first.flags.writeable
    if first.nbytes >= ALIGN_FROM_BYTES:
        assert is_aligned(first)


def test_views_and_read_only_arrays_are_staged(rng):
    shape = (13, 37)
    fn = tf.compile(_add_graph(shape))
    x = rng.standard_normal(shape).astype("float32")
    b = rng.standard_normal(shape[-1]).astype("float32")
    transposed = np.ascontiguousarray(x.T).T  # same values, Fortran order
    read_only = x.copy()
    read_only.flags.writeable = False
    for value, route in ((transposed, "not C-contiguous"), (read_only, "read-only")):
        assert route in fn.explain_call(x=value, b=b)
        np.testing.assert_array_equal(fn(x=value, b=b)[0], x + b)
        np.testing.assert_array_equal(fn(value, b)[0], x + b)
    staging = fn._plan.staging["x"]
    fn(x=transposed, b=b)
    assert fn._plan.staging["x"] is staging  # reused, not reallocated
    broadcast = np.broadcast_to(b, shape[-1:])
    np.testing.assert_array_equal(fn(x=x, b=broadcast)[0], x + b)


def test_out_arrays_are_written_in_place(rng):
    shape = (17, 131)
    fn = tf.compile(_add_graph(shape))
    x = rng.standard_normal(shape).astype("float32")
    b = rng.standard_normal(shape[-1]).astype("float32")
    target = tf.empty(shape, "float32")
    (result,) = fn(x=x, b=b, out=(target,))
    assert result is target
    np.testing.assert_array_equal(target, x + b)
    assert "into out[0]" in fn.explain_call(x=x, b=b, out=(target,))


@pytest.mark.parametrize("bad, message", [
    (lambda x: np.empty((17, 131), "float64"), "expected float32(17, 131), got float64"),
    (lambda x: np.empty((17, 130), "float32"), "expected float32(17, 131), got float32(17, 130)"),
    (lambda x: np.empty((131, 17), "float32").T, "writeable C-contiguous"),
    (lambda x: x, "shares memory with input 'x'"),
    (lambda x: [1, 2], "expected a numpy array, got list"),
])
def test_bad_out_arrays_are_refused(rng, bad, message):
    shape = (17, 131)
    fn = tf.compile(_add_graph(shape))
    x = rng.standard_normal(shape).astype("float32")
    b = rng.standard_normal(shape[-1]).astype("float32")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fn(x=x, b=b, out=(bad(x),))
    with pytest.raises(InputError, match="expected a tuple of 1 numpy array"):
        fn(x=x, b=b, out=np.empty(shape, "float32"))


def test_several_outputs_and_an_input_returned_as_is(rng):
    g = tf.Graph()
    x = g.input("x", (5, 7, 11), "float32")
    s = g.reduce_sum(x, axes=[1], keepdims=False)
    t = g.transpose(g.exp(x), perm=[2, 0, 1])
    g.output(s)
    g.output(t)
    g.output(x)
    fn = tf.compile(g)
    xa = rng.standard_normal((5, 7, 11)).astype("float32")
    outs = fn(x=xa)
    np.testing.assert_allclose(outs[0], xa.sum(1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[1], np.exp(xa).transpose(2, 0, 1), rtol=1e-5)
    np.testing.assert_array_equal(outs[2], xa)
    for i, a in enumerate(outs):
        assert not np.may_share_memory(a, xa)
        for b in outs[:i]:
            assert not np.may_share_memory(a, b)


def test_wrong_inputs_name_the_input(rng):
    fn = tf.compile(_add_graph((4, 9)))
    b = np.zeros(9, "float32")
    with pytest.raises(InputError, match="input 'x': expected dtype float32, got float64"):
        fn(x=np.zeros((4, 9)), b=b)
    with pytest.raises(InputError, match=r"input 'x': expected shape \(4, 9\), got \(9, 4\)"):
        fn(x=np.zeros((9, 4), "float32"), b=b)
    with pytest.raises(InputError, match="unknown input 'y'"):
        fn(y=np.zeros((4, 9), "float32"), b=b)
    with pytest.raises(InputError, match="missing inputs: x"):
        fn(b=b)


def test_multi_kernel_graph_with_scatter_checks(rng):
    """Two kernels (a scatter's output read by another op): the late index check still runs
    and the intermediate stays inside the compiled graph."""
    g = tf.Graph()
    data = g.input("data", (11, 5), "float32")
    idx = g.input("idx", (3, 1), "int64")
    upd = g.input("upd", (3, 5), "float32")
    g.output(g.exp(g.scatter_nd(data, idx, upd)))
    fn = tf.compile(g)
    assert fn.num_kernels == 2
    d = rng.standard_normal((11, 5)).astype("float32")
    u = rng.standard_normal((3, 5)).astype("float32")
    i = np.array([[2], [7], [10]], "int64")
    expected = d.copy()
    expected[i[:, 0]] = u
    np.testing.assert_allclose(fn(data=d, idx=i, upd=u)[0], np.exp(expected), rtol=1e-6)
    with pytest.raises(InputError, match="holds 11"):
        fn(data=d, idx=np.array([[2], [11], [0]], "int64"), upd=u)


def test_empty_and_aligned():
    a = tf.empty((3, 129), "float16")
    assert a.shape == (3, 129) and a.dtype == np.float16 and is_aligned(a)
    assert tf.empty(7).shape == (7,)
    b = tf.aligned(a)
    assert b is a
    c = tf.aligned(np.arange(10.0)[1:], dtype="float32")
    assert is_aligned(c) and c.dtype == np.float32
    np.testing.assert_array_equal(c, np.arange(1.0, 10.0))


def test_benchmark_times_the_kernels(add_fn, rng):
    fn, shape = add_fn
    x, b = rng.standard_normal(shape).astype("float32"), rng.standard_normal(shape[-1]).astype(
        "float32")
    assert fn.benchmark(x=x, b=b, repeat=3) > 0
    np.testing.assert_array_equal(fn(x=x, b=b)[0], x + b)

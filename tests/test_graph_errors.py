"""Bad graph constructions raise GraphError, bad calls raise InputError, with useful messages.

Every message must name the op (or the input/constant being declared), the tensor involved and
the expected versus the actual value, so each pattern below checks all three.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion.checks import InputError


@pytest.fixture
def g():
    return tf.Graph()


def test_graph_error_is_a_value_error():
    assert issubclass(tf.GraphError, ValueError)
    assert issubclass(InputError, ValueError)


def test_reduce_axis_out_of_range(g):
    x = g.input("x", (3, 4), "float32")
    with pytest.raises(tf.GraphError, match=r"^reduce_max: axis 2 is out of range for 'x' "
                                            r"\(3, 4\): expected in \[-2, 1\]$"):
        g.reduce_max(x, axes=[0, 2])
    with pytest.raises(tf.GraphError, match=r"reduce_sum: axis -3 is out of range for 'x' "
                                            r"\(3, 4\): expected in \[-2, 1\]"):
        g.reduce_sum(x, axes=-3)


def test_reduce_duplicate_axes(g):
    x = g.input("x", (3, 4, 5), "float32")
    with pytest.raises(tf.GraphError, match=r"reduce_mean: axes \[2, -1\] of 'x' \(3, 4, 5\) "
                                            r"name axis 2 twice, expected distinct axes"):
        g.reduce_mean(x, axes=[2, -1])
    with pytest.raises(tf.GraphError, match=r"reduce_prod: axes \[0, 0\] of 'x'.*axis 0 twice"):
        g.reduce_prod(x, axes=[0, 0])


def test_reduce_numpy_integer_axis_accepted(g):
    x = g.input("x", (3, 4, 5), "float32")
    assert g.reduce_sum(x, axes=np.int64(-1), keepdims=False).shape == (3, 4)
    assert g.reduce_sum(x, axes=np.array([0, 2])).shape == (1, 4, 1)


def test_scatter_axis_out_of_range(g):
    data = g.input("data", (3, 4), "float32")
    idx = g.input("idx", (3, 4), "int64")
    with pytest.raises(tf.GraphError, match=r"scatter_elements: axis 2 is out of range for "
                                            r"'data' \(3, 4\): expected in \[-2, 1\]"):
        g.scatter_elements(data, idx, data, axis=2)


def test_bad_permutation(g):
    x = g.input("x", (2, 3, 5), "int32")
    with pytest.raises(tf.GraphError, match=r"transpose of 'x' \(2, 3, 5\): perm must be a "
                                            r"permutation of 0\.\.2, got \[0, 0, 1\]"):
        g.transpose(x, [0, 0, 1])
    with pytest.raises(tf.GraphError, match=r"transpose of 'x' .*permutation of 0\.\.2, "
                                            r"got \[2, 1, 0, 3\]"):
        g.transpose(x, [2, 1, 0, 3])


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_binary_bad_broadcast(g, op):
    a = g.input("a", (3, 4), "float32")
    b = g.input("b", (2, 1, 5), "float32")
    with pytest.raises(tf.GraphError, match=rf"^{op}: cannot broadcast 'a' \(3, 4\) with 'b' "
                                            r"\(2, 1, 5\): dimension 4 vs 5 \(expected equal or 1\)"):
        getattr(g, op)(a, b)


def test_binary_dtype_mix(g):
    a = g.input("a", (3,), "float32")
    b = g.input("b", (3,), "int32")
    with pytest.raises(tf.GraphError, match=r"^add: inputs must have the same dtype: 'a' is "
                                            r"float32, 'b' is int32"):
        g.add(a, b)
    h = g.input("h", (3,), "float16")
    with pytest.raises(tf.GraphError, match=r"maximum: .*'h' is float16, 'a' is float32"):
        g.maximum(h, a)


@pytest.mark.parametrize("op", ["scatter_elements", "scatter_nd"])
def test_scatter_bad_index_dtype(g, op):
    data = g.input("data", (4, 3), "float32")
    idx = g.input("idx", (4, 1) if op == "scatter_nd" else (4, 3), "float32")
    upd = g.input("upd", (4, 3), "float32")
    with pytest.raises(tf.GraphError, match=rf"^{op}: indices 'idx' must be int32 or int64, "
                                            r"got float32$"):
        getattr(g, op)(data, idx, upd)


def test_scatter_updates_dtype_mismatch(g):
    data = g.input("data", (4, 3), "float32")
    idx = g.input("idx", (4, 3), "int32")
    upd = g.input("upd", (4, 3), "float16")
    with pytest.raises(tf.GraphError, match=r"scatter_elements: updates 'upd' must have the "
                                            r"dtype of data 'data': expected float32, got float16"):
        g.scatter_elements(data, idx, upd)


def test_scatter_updates_shape_mismatch(g):
    data = g.input("data", (4, 5, 6), "float32")
    idx = g.input("idx", (2, 3, 2), "int64")
    upd = g.input("upd", (2, 3, 5), "float32")
    with pytest.raises(tf.GraphError, match=r"scatter_nd: updates 'upd' must have shape "
                                            r"indices\.shape\[:-1\] \+ data\.shape\[2:\]: "
                                            r"expected \(2, 3, 6\), got \(2, 3, 5\)"):
        g.scatter_nd(data, idx, upd)
    eidx = g.input("eidx", (4, 5, 6), "int64")
    eupd = g.input("eupd", (4, 5, 5), "float32")
    with pytest.raises(tf.GraphError, match=r"scatter_elements: updates 'eupd' must have the "
                                            r"shape of indices 'eidx': expected \(4, 5, 6\), "
                                            r"got \(4, 5, 5\)"):
        g.scatter_elements(data, eidx, eupd)


def test_scatter_indices_shape_errors(g):
    data = g.input("data", (4, 5), "float32")
    wide = g.input("wide", (4, 6), "int64")
    with pytest.raises(tf.GraphError, match=r"scatter_elements: indices 'wide' dim 1 is 6, "
                                            r"expected <= data 'data' dim 5"):
        g.scatter_elements(data, wide, g.input("u1", (4, 6), "float32"))
    deep = g.input("deep", (4, 5, 1), "int64")
    with pytest.raises(tf.GraphError, match=r"scatter_elements: indices 'deep' must have the "
                                            r"rank of data 'data': expected 2, got 3"):
        g.scatter_elements(data, deep, g.input("u2", (4, 5, 1), "float32"))
    k3 = g.input("k3", (2, 3), "int64")
    with pytest.raises(tf.GraphError, match=r"scatter_nd: the last dim of indices 'k3' \(2, 3\) "
                                            r"must be in 1\.\.2 \(the rank of data 'data'\)"):
        g.scatter_nd(data, k3, g.input("u3", (2,), "float32"))


@pytest.mark.parametrize("op", ["scatter_elements", "scatter_nd"])
def test_scatter_bad_reduction_name(g, op):
    data = g.input("data", (4, 3), "float32")
    idx = g.input("idx", (4, 1) if op == "scatter_nd" else (4, 3), "int64")
    upd = g.input("upd", (4, 3), "float32")
    with pytest.raises(tf.GraphError, match=rf"^{op} into 'data': reduction must be one of none, "
                                            r"add, mul, max, min, got 'sum'$"):
        getattr(g, op)(data, idx, upd, reduction="sum")


def test_scatter_reduction_on_bool(g):
    data = g.input("flags", (4,), "bool")
    idx = g.input("idx", (2,), "int32")
    upd = g.input("upd", (2,), "bool")
    with pytest.raises(tf.GraphError, match=r"scatter_elements: reduction 'max' needs numeric "
                                            r"data, 'flags' is bool"):
        g.scatter_elements(data, idx, upd, reduction="max")
    g.scatter_elements(data, idx, upd, reduction="none")  # plain assignment is fine


def test_reshape_two_minus_one(g):
    x = g.input("x", (6, 4), "float32")
    with pytest.raises(tf.GraphError, match=r"^reshape of 'x' \(6, 4\) to \[-1, 2, -1\]: at most "
                                            r"one -1 and no other negative entry allowed"):
        g.reshape(x, [-1, 2, -1])
    with pytest.raises(tf.GraphError, match=r"reshape of 'x' \(6, 4\) to \[-2, 12\]"):
        g.reshape(x, [-2, 12])


def test_reshape_size_mismatch(g):
    x = g.input("x", (6, 4), "float32")
    with pytest.raises(tf.GraphError, match=r"^reshape of 'x' \(6, 4\) to \[5, 5\]: expected 24 "
                                            r"elements, the new shape has 25$"):
        g.reshape(x, [5, 5])
    with pytest.raises(tf.GraphError, match=r"reshape of 'x' \(6, 4\) to \[0, 5\]: expected 24 "
                                            r"elements, the new shape has 30"):
        g.reshape(x, [0, 5])
    with pytest.raises(tf.GraphError, match=r"reshape of 'x' \(6, 4\) to \[7, -1\]: 24 elements "
                                            r"are not divisible by 7"):
        g.reshape(x, [7, -1])


@pytest.mark.parametrize("op", ["exp", "sqrt", "sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint16", "bool"])
def test_float_only_op_on_int(g, op, dtype):
    x = g.input("counts", (3,), dtype)
    with pytest.raises(tf.GraphError, match=rf"^{op}: input 'counts' has dtype {dtype}, expected "
                                            r"one of float16, bfloat16, float32, float64$"):
        getattr(g, op)(x)


@pytest.mark.parametrize("dtype", ["complex64", np.complex128, "float4_e2m1fn", "int4", "fp32",
                                   123])
def test_unknown_dtype(g, dtype):
    shown = {np.complex128: "complex128", 123: "123"}.get(dtype, dtype)
    with pytest.raises(tf.GraphError, match=rf"^input 'x': dtype must be one of bool, int8, "
                                            rf"int16, int32, int64, uint8, uint16, uint32, uint64, "
                                            rf"float16, bfloat16, float32, float64, "
                                            rf"float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, "
                                            rf"float8_e5m2fnuz, got "
                                            rf"'?{shown}'?$"):
        g.input("x", (3,), dtype)
    y = g.input("y", (3,), "float32")
    with pytest.raises(tf.GraphError, match=rf"^cast of 'y': dtype must be one of .*got '?{shown}"):
        g.cast(y, dtype)
    with pytest.raises(tf.GraphError, match=r"^constant 'c': dtype must be one of .*got "
                                            r"'complex64'"):
        g.constant(np.zeros(3, "complex64"), name="c")


def test_tensor_from_another_graph(g):
    other = tf.Graph("other")
    a = g.input("a", (3,), "float32")
    b = other.input("b", (3,), "float32")
    with pytest.raises(tf.GraphError, match=r"^add: second input 'b' belongs to another graph$"):
        g.add(a, b)
    with pytest.raises(tf.GraphError, match=r"^relu: input 'b' belongs to another graph$"):
        g.relu(b)
    with pytest.raises(tf.GraphError, match=r"^output: output 'b' belongs to another graph$"):
        g.output(b)
    with pytest.raises(tf.GraphError, match=r"^scatter_nd: indices must be a Tensor of this "
                                            r"graph, got ndarray$"):
        g.scatter_nd(a, np.zeros((1, 1), "int64"), a)


@pytest.mark.parametrize("shape,shown", [((3, -1), r"\(3, -1\)"), ((-2,), r"\(-2,\)"),
                                         ((2, 2.5), r"\(2, 2\.5\)")])
def test_negative_dim(g, shape, shown):
    with pytest.raises(tf.GraphError, match=rf"^input 'x': every dimension must be a "
                                            rf"non-negative int, got {shown}$"):
        g.input("x", shape, "float32")
    x = g.input("ok", (3,), "float32")
    with pytest.raises(tf.GraphError, match=rf"^broadcast_to of 'ok': every dimension must be a "
                                            rf"non-negative int, got {shown}$"):
        g.broadcast_to(x, shape)


def test_shape_not_a_sequence(g):
    with pytest.raises(tf.GraphError, match=r"^input 'x': shape must be a sequence of ints, got 5$"):
        g.input("x", 5, "float32")


def test_duplicate_name(g):
    x = g.input("x", (3,), "float32")
    with pytest.raises(tf.GraphError, match=r"^input 'x': the name 'x' is already used by "
                                            r"another tensor$"):
        g.input("x", (4,), "int32")
    g.relu(x, name="r")
    with pytest.raises(tf.GraphError, match=r"^neg: the name 'r' is already used by another "
                                            r"tensor$"):
        g.neg(x, name="r")
    with pytest.raises(tf.GraphError, match=r"^constant: the name 'x' is already used"):
        g.constant(np.ones(3, "float32"), name="x")
    with pytest.raises(tf.GraphError, match=r"^input '': a name must be a non-empty string, "
                                            r"got ''$"):
        g.input("", (3,), "float32")


def test_broadcast_to_incompatible(g):
    x = g.input("x", (3, 4), "int64")
    with pytest.raises(tf.GraphError, match=r"^broadcast_to: cannot broadcast 'x' \(3, 4\) to "
                                            r"\(3, 5\) \(each input dim must equal the target "
                                            r"dim or be 1\)$"):
        g.broadcast_to(x, (3, 5))
    with pytest.raises(tf.GraphError, match=r"broadcast_to: cannot broadcast 'x' \(3, 4\) to "
                                            r"\(4,\)"):
        g.broadcast_to(x, (4,))  # rank decrease


def test_duplicate_output_and_empty_graph(g):
    x = g.input("x", (3,), "float32")
    y = g.relu(x, name="y")
    g.output(y)
    with pytest.raises(tf.GraphError, match=r"^output: tensor 'y' is already an output$"):
        g.output(y)
    empty = tf.Graph("nothing")
    empty.input("x", (3,), "float32")
    with pytest.raises(tf.GraphError, match=r"graph 'nothing' has no outputs"):
        tf.compile(empty)


def test_failed_construction_leaves_graph_unchanged(g):
    x = g.input("x", (3, 4), "float32")
    before = (list(g.nodes), dict(g.tensors))
    for bad in (lambda: g.reduce_sum(x, axes=[5]), lambda: g.reshape(x, [5]),
                lambda: g.transpose(x, [1, 1]), lambda: g.input("x", (1,), "float32")):
        with pytest.raises(tf.GraphError):
            bad()
    assert (list(g.nodes), dict(g.tensors)) == before


# ----- input errors at call time ---------------------------------------------------------
@pytest.fixture(scope="module")
def two_input_fn():
    g = tf.Graph()
    x = g.input("x", (3, 4), "float32")
    y = g.input("y", (4,), "float32")
    g.output(g.add(x, y))
    return tf.compile(g)


def _xy():
    return np.ones((3, 4), "float32"), np.arange(4, dtype="float32")


def test_call_wrong_dtype(two_input_fn):
    x, y = _xy()
    with pytest.raises(InputError, match=r"^input 'y': expected dtype float32, got float64 "
                                         r"\(convert with \.astype\('float32'\)\)$"):
        two_input_fn(x, y.astype("float64"))
    with pytest.raises(InputError, match=r"input 'x': expected dtype float32, got int64"):
        two_input_fn(x=[[1, 2, 3, 4]] * 3, y=y)


def test_call_wrong_shape(two_input_fn):
    x, y = _xy()
    with pytest.raises(InputError, match=r"^input 'x': expected shape \(3, 4\), got \(4, 3\); "
                                         r"the graph is compiled for that shape: pass it, or "
                                         r"build and compile one for yours$"):
        two_input_fn(x=x.T, y=y)
    with pytest.raises(InputError, match=r"^input 'y': expected shape \(4,\), got \(1, 4\); "):
        two_input_fn(x, y[None])


def test_call_missing_input(two_input_fn):
    x, _ = _xy()
    with pytest.raises(InputError, match=r"^missing inputs: y \(expected: x, y\)$"):
        two_input_fn(x)
    with pytest.raises(InputError, match=r"^missing inputs: x, y"):
        two_input_fn()


def test_call_unknown_name(two_input_fn):
    x, y = _xy()
    with pytest.raises(InputError, match=r"^unknown input 'z'; the graph's inputs are: x, y$"):
        two_input_fn(x, y, z=y)
    # a non-input tensor of the graph is not an input either
    sum_name = two_input_fn.output_names[0]
    with pytest.raises(InputError, match=rf"unknown input '{re.escape(sum_name)}'"):
        two_input_fn(x, y, **{sum_name: x})


def test_call_too_many_positional(two_input_fn):
    x, y = _xy()
    with pytest.raises(InputError, match=r"^expected at most 2 inputs \(x, y\), got 3 positional "
                                         r"arguments$"):
        two_input_fn(x, y, y)


def test_call_same_input_twice(two_input_fn):
    x, y = _xy()
    with pytest.raises(InputError, match=r"^input 'x' given both positionally and by name$"):
        two_input_fn(x, x=x, y=y)


def test_call_works_after_errors(two_input_fn):
    x, y = _xy()
    with pytest.raises(InputError):
        two_input_fn(x, y.astype("float16"))
    (out,) = two_input_fn(y=y, x=x)
    np.testing.assert_array_equal(out, x + y)

"""from_onnx: round trips of W1..W5, opset changes, graph structure, and the one import error.

Results are compared with the ONNX reference evaluator (``onnx.reference``), with onnxruntime
and with the graph-built workloads; every random input comes from the seeded ``rng`` fixture.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tests.helpers import assert_same, random_array
from tvm_fusion import workloads
from tvm_fusion.frontends import OnnxImportError, from_onnx, static_inputs

ELEM = {"bool": TensorProto.BOOL, "int32": TensorProto.INT32, "int64": TensorProto.INT64,
        "float16": TensorProto.FLOAT16, "float32": TensorProto.FLOAT,
        "float64": TensorProto.DOUBLE, "uint8": TensorProto.UINT8,
        "complex64": TensorProto.COMPLEX64}


def make_model(nodes, inputs: dict, outputs: dict, *, opset: int = 18, initializers=(),
               functions=(), name: str = "m") -> onnx.ModelProto:
    """``inputs`` {name: (dtype, shape)}, ``outputs`` {name: dtype or (dtype, shape)}.

    Output shapes not given come from ONNX shape inference (the checker wants one per output);
    the model passes onnx.checker."""
    initializers = dict(initializers)
    outputs = {k: v if isinstance(v, tuple) else (v, None) for k, v in outputs.items()}
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(k, ELEM[d], s) for k, (d, s) in inputs.items()],
        [helper.make_tensor_value_info(k, ELEM[d], s) for k, (d, s) in outputs.items()],
        [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()])
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(f.domain, 1)
                                                 for f in functions]
    model = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    model.ir_version = 8  # readable by every onnx / onnxruntime release we support
    known = {k: s for k, (_, s) in inputs.items()}
    known.update({k: np.shape(v) for k, v in initializers.items()})
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    bare.graph.ClearField("output")
    for found in onnx.shape_inference.infer_shapes(bare).graph.value_info:
        known[found.name] = [d.dim_value or d.dim_param for d in found.type.tensor_type.shape.dim]
    for declared in model.graph.output:
        shape = declared.type.tensor_type.shape
        if outputs[declared.name][1] is None:
            shape.SetInParent()
            for d in known[declared.name]:
                setattr(shape.dim.add(), "dim_param" if isinstance(d, str) else "dim_value", d)
    onnx.checker.check_model(model)
    return model


def check(model, feeds: dict, *, kernels: int | None = None, constants=None):
    """Import, compile and run ``model``; compare every output with onnx.reference."""
    expected = ReferenceEvaluator(model).run(None, feeds)
    graph = from_onnx(model, constants=constants)
    fn = tf.compile(graph)
    got = fn(**{t.name: feeds[t.name] for t in graph.inputs})
    assert len(got) == len(expected) == len(model.graph.output)
    for out, want, info in zip(got, expected, model.graph.output):
        try:
            assert_same(out, want)
        except AssertionError as err:
            raise AssertionError(f"output '{info.name}': {err}") from None
    if kernels is not None:
        assert fn.num_kernels == kernels
    return graph, fn, got


# ----- W1..W5 round trips ------------------------------------------------------------------
def _onnxruntime(model, inputs):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


@pytest.mark.parametrize("name", workloads.BASE + workloads.SMALL)
def test_workload_round_trip_is_one_kernel_and_matches(name):
    model = workloads.to_onnx(name)
    graph, inputs = workloads.load(name)
    imported = from_onnx(model)
    assert [(t.name, t.shape, t.dtype) for t in imported.inputs] == \
        [(t.name, t.shape, t.dtype) for t in graph.inputs]
    assert [t.name for t in imported.outputs] == ["out"]
    fn = tf.compile(imported)
    assert fn.num_kernels == 1
    (got,) = fn(**inputs)
    (built,) = tf.compile(graph)(**inputs)
    np.testing.assert_array_equal(got, built)  # the same computation, bit for bit
    (runtime,) = _onnxruntime(model, inputs)
    assert got.dtype == runtime.dtype and got.shape == runtime.shape
    # onnxruntime adds fp16 in fp32: each fp16 sum may differ by one fp16 ulp (2**-10 relative);
    # fp32 sums differ by summation order (< 64 terms * 2**-24 relative to the sum of |terms|).
    # So the bound is that relative error times the workload run on |inputs| (sums / maxima of
    # magnitudes), element by element: tight where the values cancel, not only at the largest.
    magnitudes = {k: np.abs(v) if v.dtype.kind == "f" else v for k, v in inputs.items()}
    has_fp16 = any(v.dtype == np.float16 for v in inputs.values())
    bound = (2.0**-10 if has_fp16 else 2.0**-16) * workloads.reference(name, magnitudes)
    error = np.abs(got.astype(np.float64) - runtime.astype(np.float64))
    assert np.all(error <= bound + 1e-6), f"max error {error.max()}, at most {bound.max()}"


# ----- graph structure: outputs, names, fusion groups --------------------------------------
def test_multi_output_model_keeps_output_order_and_names(rng):
    nodes = [helper.make_node("Add", ["x", "y"], ["a"]),
             helper.make_node("ReduceSum", ["a", "axes"], ["s"], keepdims=0),
             helper.make_node("Exp", ["x"], ["e"])]
    model = make_model(nodes, {"x": ("float32", [2, 3, 4]), "y": ("float32", [4])},
                       {"e": "float32", "s": "float32", "a": "float32"},
                       initializers={"axes": np.array([1], np.int64)})
    feeds = {"x": random_array(rng, (2, 3, 4), "float32", -2, 2),
             "y": random_array(rng, (4,), "float32")}
    graph, fn, _ = check(model, feeds)
    assert [t.name for t in graph.outputs] == ["e", "s", "a"]
    assert fn.output_names == ("e", "s", "a")


def test_op_after_scatter_makes_two_fusion_groups(rng):
    nodes = [helper.make_node("ScatterND", ["data", "idx", "upd"], ["scattered"],
                              reduction="add"),
             helper.make_node("Mul", ["scattered", "scale"], ["scaled"])]
    model = make_model(nodes, {"data": ("float32", [6, 5]), "idx": ("int64", [4, 1]),
                               "upd": ("float32", [4, 5]), "scale": ("float32", [5])},
                       {"scaled": "float32", "scattered": "float32"})
    feeds = {"data": random_array(rng, (6, 5), "float32"),
             "idx": np.array([[1], [4], [1], [-1]], np.int64),
             "upd": random_array(rng, (4, 5), "float32"),
             "scale": random_array(rng, (5,), "float32")}
    graph, fn, got = check(model, feeds, kernels=2)
    assert len(tf.fuse(graph)) == 2
    for out, runtime in zip(got, _onnxruntime(model, feeds)):
        assert_same(out, runtime)


def test_input_that_is_also_an_output(rng):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    model = make_model(nodes, {"x": ("float32", [3, 4])}, {"x": "float32", "y": "float32"})
    x = random_array(rng, (3, 4), "float32")
    graph, _, (x_out, _) = check(model, {"x": x})
    assert graph.outputs[0] is graph.inputs[0]
    np.testing.assert_array_equal(x_out, x)


def test_identity_outputs_are_named_after_the_onnx_outputs(rng):
    nodes = [helper.make_node("Exp", ["x"], ["t"]), helper.make_node("Identity", ["t"], ["u"]),
             helper.make_node("Tanh", ["x"], ["v"]), helper.make_node("Identity", ["v"], ["w"])]
    # t and its alias u are both outputs (u becomes a copy); v reaches output w only by Identity
    model = make_model(nodes, {"x": ("float32", [5])}, {"t": "float32", "u": "float32",
                                                        "w": "float32"})
    graph, _, (t, u, w) = check(model, {"x": random_array(rng, (5,), "float32", -3, 3)})
    assert [o.name for o in graph.outputs] == ["t", "u", "w"]
    np.testing.assert_array_equal(t, u)


def test_constants_initializers_and_initialized_inputs(rng):
    w = random_array(rng, (3,), "float32")
    default = random_array(rng, (3,), "float32")
    nodes = [helper.make_node("Constant", [], ["c"], value_floats=[1.5, -2.0, 4.0]),
             helper.make_node("Constant", [], ["k"], value_int=3),
             helper.make_node("Mul", ["x", "c"], ["xc"]),
             helper.make_node("Add", ["xc", "w"], ["y"]),
             helper.make_node("Sub", ["y", "opt"], ["z"])]
    model = make_model(nodes, {"x": ("float32", [2, 3]), "opt": ("float32", [3])},
                       {"z": "float32", "c": "float32", "w": "float32", "k": "int64"},
                       initializers={"w": w, "opt": default})
    graph, fn, (_, c, w_out, k) = check(model, {"x": random_array(rng, (2, 3), "float32")})
    assert [t.name for t in graph.inputs] == ["x"]  # 'opt' has an initializer: a constant
    assert fn.input_names == ("x",)
    np.testing.assert_array_equal(w_out, w)
    assert k.dtype == np.int64 and k.shape == () and int(k) == 3


def test_names_invented_by_the_importer_never_take_a_model_name(rng):
    nodes = [helper.make_node("Max", ["a", "b", "c"], ["y"]),  # folds through 'y/maximum'
             helper.make_node("Relu", ["a"], ["y/maximum"])]
    shapes = {"a": [2, 3], "b": [3], "c": [2, 1]}
    model = make_model(nodes, {k: ("float32", s) for k, s in shapes.items()},
                       {"y": "float32", "y/maximum": "float32"})
    check(model, {k: random_array(rng, s, "float32") for k, s in shapes.items()})


def test_model_from_path_and_bytes(tmp_path, rng):
    model = make_model([helper.make_node("Sigmoid", ["x"], ["y"])], {"x": ("float16", [4, 4])},
                       {"y": "float16"})
    onnx.save(model, str(tmp_path / "m.onnx"))
    x = random_array(rng, (4, 4), "float16", -4, 4)
    (expected,) = ReferenceEvaluator(model).run(None, {"x": x})
    for source in (tmp_path / "m.onnx", str(tmp_path / "m.onnx"), model.SerializeToString()):
        (got,) = tf.compile(from_onnx(source))(x=x)
        assert_same(got, expected)


def test_local_functions_are_inlined(rng):
    fn = helper.make_function("local", "Softplusish", ["X"], ["Y"],
                              [helper.make_node("Exp", ["X"], ["E"]),
                               helper.make_node("Add", ["E", "X"], ["Y"])],
                              [helper.make_opsetid("", 18)])
    model = make_model([helper.make_node("Softplusish", ["x"], ["y"], domain="local")],
                       {"x": ("float32", [3, 2])}, {"y": "float32"}, functions=[fn])
    x = random_array(rng, (3, 2), "float32", -2, 2)
    (got,) = tf.compile(from_onnx(model))(x=x)
    assert_same(got, np.exp(x) + x)


# ----- opset changes -----------------------------------------------------------------------
REDUCE_OPS = ("ReduceSum", "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd")


def test_an_older_opset_imports_when_its_ops_are_unchanged_since(rng):
    """And (since 7) and Not (since 1) are the ops of opset 11: an opset-7 model imports."""
    nodes = [helper.make_node("And", ["a", "b"], ["t"]), helper.make_node("Not", ["t"], ["y"])]
    model = make_model(nodes, {"a": ("bool", [3, 5]), "b": ("bool", [5])}, {"y": "bool"},
                       opset=7)
    a, b = rng.random((3, 5)) < 0.5, rng.random(5) < 0.5
    (got,) = tf.compile(from_onnx(model))(a=a, b=b)
    np.testing.assert_array_equal(got, ~(a & b))


def test_an_older_opset_is_refused_naming_the_ops_that_changed():
    nodes = [helper.make_node("Softmax", ["x"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    model = make_model(nodes, {"x": ("float32", [3, 5])}, {"y": "float32"}, opset=7)
    with pytest.raises(OnnxImportError) as info:
        from_onnx(model)
    assert ("the model imports opset 7 of the default domain, expected 11..") in str(info.value)
    assert ("and Softmax changed after it (opset 7 defines them differently): convert it "
            "with onnx.version_converter.convert_version(model, 13)") in str(info.value)



def _axes_move_to_input(op: str) -> int:
    return 13 if op == "ReduceSum" else 18


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("opset", [11, 12, 13, 17, 18, 20])
@pytest.mark.parametrize("axes, keepdims", [([1], 1), ([-1, 0], 0), (None, 0)])
def test_reductions_across_opsets(op, opset, axes, keepdims, rng):
    by_input = opset >= _axes_move_to_input(op)
    initializers = {}
    if axes is None:
        node = helper.make_node(op, ["x"], ["y"], keepdims=keepdims)
    elif by_input:
        initializers = {"axes": np.array(axes, np.int64)}
        node = helper.make_node(op, ["x", "axes"], ["y"], keepdims=keepdims)
    else:
        node = helper.make_node(op, ["x"], ["y"], keepdims=keepdims, axes=axes)
    model = make_model([node], {"x": ("float32", [3, 4, 2])}, {"y": "float32"}, opset=opset,
                       initializers=initializers)
    check(model, {"x": random_array(rng, (3, 4, 2), "float32", 0.5, 1.5)}, kernels=1)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_noop_with_empty_axes(op, rng):
    x = random_array(rng, (2, 3), "int64")
    for inputs, initializers in ((["x"], {}), (["x", "axes"], {"axes": np.zeros(0, np.int64)})):
        node = helper.make_node(op, inputs, ["y"], noop_with_empty_axes=1)
        model = make_model([node], {"x": ("int64", [2, 3])}, {"y": "int64"},
                           initializers=initializers)
        graph, _, _ = check(model, {"x": x})
        assert graph.outputs[0] is graph.inputs[0]  # no op at all


@pytest.mark.parametrize("opset", [11, 13, 21])
def test_squeeze_unsqueeze_axes_attribute_then_input(opset, rng):
    if opset < 13:
        nodes = [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0, -1]),
                 helper.make_node("Squeeze", ["u"], ["s"], axes=[-1]),
                 helper.make_node("Squeeze", ["u"], ["all"])]
        initializers = {}
    else:
        nodes = [helper.make_node("Unsqueeze", ["x", "ua"], ["u"]),
                 helper.make_node("Squeeze", ["u", "sa"], ["s"]),
                 helper.make_node("Squeeze", ["u"], ["all"])]
        initializers = {"ua": np.array([0, -1], np.int64), "sa": np.array([-1], np.int64)}
    model = make_model(nodes, {"x": ("int32", [3, 1, 2])},
                       {"u": "int32", "s": "int32", "all": "int32"}, opset=opset,
                       initializers=initializers)
    check(model, {"x": random_array(rng, (3, 1, 2), "int32")})


@pytest.mark.parametrize("opset, allowzero", [(11, None), (13, None), (14, 0), (14, 1), (21, 1)])
def test_reshape_allowzero(opset, allowzero, rng):
    attrs = {} if allowzero is None else {"allowzero": allowzero}
    shape = [0, -1] if not allowzero else [4, 6]  # 0 copies a dim unless allowzero
    node = helper.make_node("Reshape", ["x", "shape"], ["y"], **attrs)
    model = make_model([node], {"x": ("float16", [4, 2, 3])}, {"y": "float16"}, opset=opset,
                       initializers={"shape": np.array(shape, np.int64)})
    check(model, {"x": random_array(rng, (4, 2, 3), "float16")})


def test_reshape_allowzero_takes_0_as_a_size():
    """allowzero=1: a 0 in the shape is a size (a zero-size output), not a copied dim; a
    shape whose element count differs is refused naming the node and both counts."""
    node = helper.make_node("Reshape", ["x", "shape"], ["y"], allowzero=1, name="r0")
    model = make_model([node], {"x": ("float32", [0, 3, 4])}, {"y": "float32"},
                       initializers={"shape": np.array([3, 4, 0], np.int64)})
    (y,) = tf.compile(from_onnx(model))(x=np.zeros((0, 3, 4), np.float32))
    assert y.shape == (3, 4, 0) and y.dtype == np.float32
    bad = make_model([node], {"x": ("float32", [2, 3])}, {"y": "float32"},
                     initializers={"shape": np.array([0, 6], np.int64)})
    with pytest.raises(OnnxImportError, match=r"r0.*expected 6 elements, the new shape has 0"):
        from_onnx(bad)


@pytest.mark.parametrize("opset, reduction", [(11, None), (13, None), (16, "add"), (16, "mul"),
                                              (18, "max"), (18, "min"), (18, "none")])
def test_scatter_reductions_across_opsets(opset, reduction, rng):
    attrs = {} if reduction is None else {"reduction": reduction}
    nodes = [helper.make_node("ScatterElements", ["data", "ei", "eu"], ["e"], axis=1, **attrs),
             helper.make_node("ScatterND", ["data", "ni", "nu"], ["n"], **attrs)]
    model = make_model(nodes, {"data": ("float32", [4, 5]), "ei": ("int64", [3, 2]),
                               "eu": ("float32", [3, 2]), "ni": ("int32", [3, 1]),
                               "nu": ("float32", [3, 5])},
                       {"e": "float32", "n": "float32"}, opset=opset)
    unique = reduction in (None, "none")  # duplicates are only defined for the reducing modes
    feeds = {"data": random_array(rng, (4, 5), "float32"),
             "ei": np.array([[0, 4], [1, -2], [3, 0]] if unique else [[0, 4], [0, -1], [3, 3]],
                            np.int64),
             "eu": random_array(rng, (3, 2), "float32"),
             "ni": np.array([[2], [0], [-1]] if unique else [[2], [0], [2]], np.int32),
             "nu": random_array(rng, (3, 5), "float32")}
    check(model, feeds)


def test_flatten_expand_and_variadic_max_min(rng):
    nodes = [helper.make_node("Flatten", ["x"], ["f0"], axis=0),
             helper.make_node("Flatten", ["x"], ["fneg"], axis=-2),
             helper.make_node("Expand", ["c", "bshape"], ["bi"]),  # (3,1) x [2,1,6] -> (2,3,6)
             helper.make_node("Expand", ["x", "small"], ["same"]),  # [4] broadcasts to x.shape
             helper.make_node("Max", ["x", "y", "z"], ["mx"]),
             helper.make_node("Min", ["x"], ["mn1"]),
             helper.make_node("Min", ["z", "x", "y"], ["mn"])]
    model = make_model(nodes, {"x": ("float32", [2, 3, 4]), "y": ("float32", [4]),
                               "z": ("float32", [3, 1]), "c": ("int64", [3, 1])},
                       {k: "float32" for k in ("f0", "fneg", "same", "mx", "mn1", "mn")}
                       | {"bi": "int64"}, opset=13,
                       initializers={"bshape": np.array([2, 1, 6], np.int64),
                                     "small": np.array([4], np.int64)})
    feeds = {"x": random_array(rng, (2, 3, 4), "float32"), "y": random_array(rng, (4,), "float32"),
             "z": random_array(rng, (3, 1), "float32"), "c": random_array(rng, (3, 1), "int64")}
    _, _, got = check(model, feeds)
    assert got[-1].shape == (2, 3, 6)  # bi


def test_cast_chain_and_bool(rng):
    nodes = [helper.make_node("Cast", ["x"], ["i"], to=TensorProto.INT32),
             helper.make_node("Cast", ["x"], ["b"], to=TensorProto.BOOL),
             helper.make_node("Cast", ["b"], ["h"], to=TensorProto.FLOAT16),
             helper.make_node("Cast", ["x"], ["same"], to=TensorProto.FLOAT)]
    model = make_model(nodes, {"x": ("float32", [4, 5])},
                       {"i": "int32", "b": "bool", "h": "float16", "same": "float32"}, opset=11)
    x = random_array(rng, (4, 5), "float32", -3, 3)
    x[0, :2] = 0.0
    check(model, {"x": x})


# ----- errors ------------------------------------------------------------------------------
def test_one_error_names_conv_lstm_and_the_dynamic_batch():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv1"),
             helper.make_node("Relu", ["c"], ["r"], name="relu1"),
             helper.make_node("LSTM", ["seq", "W", "R"], ["Y"], hidden_size=2, name="lstm1")]
    model = make_model(
        nodes, {"x": ("float32", ["batch", 3, 8, 8]), "seq": ("float32", [5, 2, 4])},
        {"r": "float32", "Y": "float32"},
        initializers={"w": np.zeros((4, 3, 3, 3), np.float32),
                      "W": np.zeros((1, 8, 4), np.float32), "R": np.zeros((1, 8, 2), np.float32)})
    with pytest.raises(OnnxImportError) as info:
        from_onnx(model)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.unsupported == [("Conv", "conv1"), ("LSTM", "lstm1")]
    assert err.dynamic == [("x", 0, "batch")]
    assert err.problems == []  # Relu reads Conv's output: not reported twice
    message = str(err)
    for part in ("3 problems", "Conv (node 'conv1')", "LSTM (node 'lstm1')",
                 "input 'x' axis 0: 'batch'", "shapes={'x': [<batch>, 3, 8, 8]}",
                 "--shape x=<batch>,3,8,8 (tvm-fusion commands)",
                 "update_inputs_outputs_dims", "onnx.utils.extract_model"):
        assert part in message, f"{part!r} missing from:\n{message}"


def test_error_collects_dtypes_non_constant_shapes_and_unsupported_ops():
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape_by_input"),
             helper.make_node("Add", ["s1", "s2"], ["s"], name="add_shapes"),
             helper.make_node("Reshape", ["x", "s"], ["r2"], name="reshape_by_node"),
             helper.make_node("Cast", ["x"], ["d"], to=TensorProto.COMPLEX64, name="to_double"),
             helper.make_node("NonZero", ["x"], ["gx"], name="nonzero"),
             helper.make_node("Exp", ["c64"], ["e"], name="exp_c64")]
    model = make_model(nodes, {"x": ("float32", [2, 6]), "shape": ("int64", [2]),
                               "s1": ("int64", [2]), "s2": ("int64", [2]),
                               "c64": ("complex64", [2])},
                       {"r": "float32", "r2": "float32", "d": "complex64", "gx": "int64",
                        "e": "complex64"})
    with pytest.raises(OnnxImportError) as info:
        from_onnx(model)
    err = info.value
    assert err.unsupported == [("NonZero", "nonzero")] and err.dynamic == []
    assert len(err.problems) == 4
    message = str(err)
    for part in ("input 'c64' has ONNX type COMPLEX64",
                 "node 'reshape_by_input' (Reshape): input 1 'shape' gives the shape and must be "
                 "a constant", "constants={'shape': ...}",
                 "node 'reshape_by_node' (Reshape)", "computed by node 'add_shapes' (Add)",
                 "node 'to_double' (Cast): Cast target 'to' has ONNX type COMPLEX64",
                 "NonZero (node 'nonzero')", "extract_model"):
        assert part in message, f"{part!r} missing from:\n{message}"
    assert static_inputs(model) == ["shape"]


def test_cut_hint_names_the_values_the_unsupported_nodes_read():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Exp", ["x"], ["e"]),
             helper.make_node("Conv", ["r", "w"], ["c"], name="conv")]
    model = make_model(nodes, {"x": ("float32", [1, 3, 8, 8])}, {"c": "float32", "e": "float32"},
                       initializers={"w": np.zeros((4, 3, 3, 3), np.float32)})
    with pytest.raises(OnnxImportError, match=r"input_names=\['x'\], output_names=\['r'\]"):
        from_onnx(model)


def test_shape_errors_name_node_expected_and_actual():
    node = helper.make_node("Squeeze", ["x", "axes"], ["y"], name="sq")
    model = make_model([node], {"x": ("float32", [2, 3])}, {"y": ("float32", [2])},
                       initializers={"axes": np.array([1], np.int64)})
    with pytest.raises(OnnxImportError,
                       match=r"node 'sq' \(Squeeze\): Squeeze axis 1 .* has size 3, expected 1"):
        from_onnx(model)


def test_shapes_argument_pins_dynamic_dimensions(rng):
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1),
             helper.make_node("Sub", ["x", "m"], ["y"])]
    model = make_model(nodes, {"x": ("float32", ["batch", 16])}, {"y": "float32"}, opset=17)
    x = random_array(rng, (3, 16), "float32")
    graph = from_onnx(model, shapes={"x": (3, 16)})
    assert graph.inputs[0].shape == (3, 16)
    (expected,) = ReferenceEvaluator(model).run(None, {"x": x})
    (got,) = tf.compile(graph)(x=x)
    assert_same(got, expected)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # untouched
    with pytest.raises(OnnxImportError, match="has rank 2, got shape"):
        from_onnx(model, shapes={"x": (3,)})


def test_invalid_and_too_old_models():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": ("float32", [2])},
                       {"y": "float32"}, opset=18)
    model.graph.node[0].input[0] = "nowhere"
    with pytest.raises(OnnxImportError, match="reads .nowhere., which no node"):
        from_onnx(model)
    old = make_model([helper.make_node("Softmax", ["x"], ["y"])], {"x": ("float32", [2])},
                     {"y": "float32"}, opset=10)  # Softmax changed in opset 11
    with pytest.raises(OnnxImportError, match=r"opset 10 .* expected 11\.\..*convert_version"):
        from_onnx(old)
    with pytest.raises(TypeError, match="expected an onnx.ModelProto"):
        from_onnx(42)


def test_tensor_names_that_are_not_identifiers_compile():
    """TorchScript names values '15', '3_mean', 'onnx::Softmax_0': TVMScript keeps a leading
    digit or a keyword in a buffer name, which alignment's round trip cannot parse back."""
    g = tf.Graph("names")
    x = g.input("onnx::Softmax_0", (3, 7), "float32")
    e = g.exp(g.sub(x, g.reduce_max(x, [1], name="3_max"), name="15"), name="if")
    g.output(g.div(e, g.reduce_sum(e, [1], name="lambda"), name="1"))
    fn = tf.compile(g)
    data = np.linspace(-3, 3, 21, dtype=np.float32).reshape(3, 7)
    want = np.exp(data - data.max(1, keepdims=True))
    np.testing.assert_allclose(fn(data)[0], want / want.sum(1, keepdims=True), rtol=1e-6)
    assert fn.schedules == ("row-reduction",)

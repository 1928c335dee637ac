"""ONNX ops imported as their function bodies (softmax, norms, composite reductions, clip,
hard sigmoid/swish, tile, shape arithmetic): each against ``onnx.reference`` (and
onnxruntime where the reference is wrong), on prime and non-divisible shapes; the softmax and
norms must schedule with the row-reduction template."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tests.helpers import assert_same, onnx_model

F, H = TensorProto.FLOAT, TensorProto.FLOAT16


def _model(nodes, inputs, outputs, inits=(), opset=18):
    return onnx_model(nodes, inputs, outputs, inits, opset=opset, ir_version=9)


def _feeds(model, rng, scale=3.0):
    feeds = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        feeds[vi.name] = (rng.standard_normal(shape) * scale).astype(dtype)
    return feeds


def _check(model, rng, template=None, oracle=None):
    feeds = _feeds(model, rng)
    fn = tf.compile(tf.from_onnx(model))
    expected = (oracle or ReferenceEvaluator(model).run)(None, feeds)
    for got, want in zip(fn(**feeds), expected):
        assert_same(got, want)
    if template:
        assert fn.schedules == (template,)
    return fn


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


@pytest.mark.parametrize(("shape", "axis"), [((7, 61, 5), 1), ((13, 127), -1), ((3, 1, 17), 2)])
def test_softmax_is_a_row_reduction(shape, axis, rng):
    model = _model([helper.make_node("Softmax", ["x"], ["y"], axis=axis)], {"x": (F, shape)},
                   {"y": (F, shape)})
    _check(model, rng, template="row-reduction" if axis in (-1, len(shape) - 1) else None)


def test_softmax_before_opset_13_reduces_every_axis_from_axis_on(rng):
    """Softmax-11 coerces to 2D at axis (default 1); onnx.reference applies opset 13's rule
    to it, onnxruntime does not: onnxruntime is the oracle here."""
    import onnxruntime as ort

    model = _model([helper.make_node("Softmax", ["x"], ["y"])], {"x": (F, [5, 3, 7])},
                   {"y": (F, [5, 3, 7])}, opset=11)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    fn = _check(model, rng, oracle=session.run)
    x = np.ones((5, 3, 7), np.float32)
    np.testing.assert_allclose(fn(x=x)[0].sum(axis=(1, 2)), 1, rtol=1e-6)


@pytest.mark.parametrize("dtype", [F, H])
def test_layer_normalization(dtype, rng):
    """fp16: the function body normalises in float32 (stash_type 1), then rounds, scales and
    adds the bias in fp16; onnx.reference computes it all in fp16 and onnxruntime all in
    float32, so fp16 is checked against onnxruntime with fp16-accumulation tolerances."""
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    inits = [_init("s", rng.standard_normal(61).astype(np_dtype)),
             _init("b", rng.standard_normal(61).astype(np_dtype))]
    model = _model([helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"])],
                   {"x": (dtype, [13, 61])}, {"y": (dtype, [13, 61])}, inits, opset=17)
    if dtype == F:
        _check(model, rng, template="row-reduction")
        return
    import onnxruntime as ort

    from tvm_fusion.reference import compare

    feeds = _feeds(model, rng)
    fn = tf.compile(tf.from_onnx(model))
    assert fn.schedules == ("row-reduction",)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ok, error = compare(fn(**feeds), session.run(None, feeds), half=True)
    assert ok, error


def test_layer_normalization_mean_and_inverse_std_outputs(rng):
    inits = [_init("s", rng.standard_normal((5, 7)).astype(np.float32))]
    node = helper.make_node("LayerNormalization", ["x", "s"], ["y", "mean", "inv"], axis=1)
    model = _model([node], {"x": (F, [3, 5, 7])},
                   {"y": (F, [3, 5, 7]), "mean": (F, [3, 1, 1]), "inv": (F, [3, 1, 1])}, inits,
                   opset=17)
    _check(model, rng)


def test_rms_normalization_fp16(rng):
    inits = [_init("s", rng.standard_normal(67).astype(np.float16))]
    model = _model([helper.make_node("RMSNormalization", ["x", "s"], ["y"])],
                   {"x": (H, [11, 67])}, {"y": (H, [11, 67])}, inits, opset=23)
    _check(model, rng, template="row-reduction")


@pytest.mark.parametrize("op", ["ReduceL1", "ReduceL2", "ReduceSumSquare"])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_composite_reductions(op, keepdims, rng):
    model = _model([helper.make_node(op, ["x", "axes"], ["y"], keepdims=keepdims)],
                   {"x": (F, [13, 7, 5])}, {"y": (F, [13, 1, 5] if keepdims else [13, 5])},
                   [_init("axes", np.array([-2], np.int64))])
    _check(model, rng)


@pytest.mark.parametrize(("op", "attrs"), [("HardSigmoid", {}), ("HardSigmoid", {"alpha": 0.3,
                                           "beta": 0.4}), ("HardSwish", {}), ("Reciprocal", {})])
def test_elementwise_function_bodies(op, attrs, rng):
    model = _model([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": (F, [13, 61])},
                   {"y": (F, [13, 61])})
    _check(model, rng, template="injective")


def test_clip_with_one_bound_or_both(rng):
    for inputs in (["x", "lo", "hi"], ["x", "lo"], ["x", "", "hi"], ["x"]):
        model = _model([helper.make_node("Clip", inputs, ["y"])], {"x": (F, [7, 11])},
                       {"y": (F, [7, 11])}, [_init("lo", np.float32(-0.5)),
                                             _init("hi", np.float32(0.7))])
        _check(model, rng)


def test_tile_and_castlike(rng):
    model = _model([helper.make_node("Tile", ["x", "reps"], ["t"]),
                    helper.make_node("CastLike", ["t", "like"], ["y"])],
                   {"x": (F, [3, 5, 7]), "like": (H, [1])}, {"y": (H, [6, 5, 21])},
                   [_init("reps", np.array([2, 1, 3], np.int64))])
    _check(model, rng)


def test_shape_arithmetic_is_folded_to_constants(rng):
    """Shape -> Gather-free arithmetic -> ConstantOfShape / Range / Reshape: all constants."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("ConstantOfShape", ["s"], ["z"],
                              value=numpy_helper.from_array(np.array([2.0], np.float32))),
             helper.make_node("Size", ["x"], ["n"]),
             helper.make_node("Cast", ["n"], ["nf"], to=F),
             helper.make_node("Range", ["zero", "nf", "step"], ["r"]),
             helper.make_node("Reshape", ["r", "s"], ["rs"]),
             helper.make_node("Add", ["x", "z"], ["t"]), helper.make_node("Add", ["t", "rs"], ["y"])]
    model = _model(nodes, {"x": (F, [3, 7])}, {"y": (F, [3, 7])},
                   [_init("zero", np.float32(0)), _init("step", np.float32(1))])
    graph = tf.from_onnx(model)
    assert [n.op for n in graph.nodes] == ["add", "add"]  # everything else was folded
    _check(model, rng)

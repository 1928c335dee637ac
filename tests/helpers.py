"""Shared helpers for the tvm-fusion test-suite: data generation, comparison, ONNX oracle."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf

ALL_DTYPES = ("bool", "int32", "int64", "float16", "float32")
INT_DTYPES = ("int32", "int64")
FLOAT_DTYPES = ("float16", "float32")
NUMERIC_DTYPES = INT_DTYPES + FLOAT_DTYPES

# (rtol, atol) per float dtype; integer and bool results are compared exactly
TOLERANCE = {"float64": (1e-12, 1e-14), "float32": (1e-5, 1e-6), "float16": (1e-3, 1e-3)}


def random_array(rng: np.random.Generator, shape, dtype: str, low=-10, high=10) -> np.ndarray:
    """Random values of ``dtype`` in [low, high) (bool: fair coin)."""
    shape = tuple(shape)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in INT_DTYPES:
        return rng.integers(low, high, size=shape, dtype=dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def assert_same(actual, expected, dtype: str | None = None, rtol=None, atol=None) -> None:
    """``actual`` is a numpy array with exactly the dtype and shape of ``expected`` and its values.

    Floats are compared with the tolerance of their dtype (or ``rtol``/``atol``), everything
    else exactly. ``dtype`` overrides the expected dtype (default: ``expected.dtype``).
    """
    expected = np.asarray(expected)
    dtype = dtype or str(expected.dtype)
    assert isinstance(actual, np.ndarray), f"expected a numpy array, got {type(actual).__name__}"
    assert str(actual.dtype) == dtype, f"dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    if dtype == "bfloat16":  # within 1 ulp: a float32 exp 1 ulp off can round to its neighbour
        assert_within_bf16_ulp(actual, expected)
    elif dtype in TOLERANCE:
        d_rtol, d_atol = TOLERANCE[dtype]
        np.testing.assert_allclose(actual.astype("float64"), expected.astype("float64"),
                                   rtol=d_rtol if rtol is None else rtol,
                                   atol=d_atol if atol is None else atol)
    else:
        np.testing.assert_array_equal(actual, expected.astype(dtype))


def assert_within_bf16_ulp(actual, expected, ulps: int = 1) -> None:
    """bfloat16 arrays at most ``ulps`` apart (NaN equals NaN, signed zeros equal)."""
    def order(a):  # bfloat16 bits as integers in the order of the values they encode
        bits = np.asarray(a).view(np.uint16).astype(np.int32)
        return np.where(bits & 0x8000, 0x8000 - bits, bits)

    a32, e32 = actual.astype("float32"), expected.astype("float32")
    nan = np.isnan(e32)
    np.testing.assert_array_equal(np.isnan(a32), nan, err_msg="NaN in different places")
    far = ~nan & (np.abs(order(actual) - order(expected)) > ulps)
    if far.any():
        np.testing.assert_array_equal(a32[far], e32[far],
                                      err_msg=f"more than {ulps} bfloat16 ulp apart")


def compile_fn(inputs: dict[str, tuple[tuple[int, ...], str]], build):
    """Compile a graph with ``inputs`` (name -> (shape, dtype)); ``build(g, *tensors)`` returns
    the output tensor or a tuple of them."""
    g = tf.Graph()
    tensors = [g.input(name, shape, dtype) for name, (shape, dtype) in inputs.items()]
    outs = build(g, *tensors)
    g.output(*(outs if isinstance(outs, tuple) else (outs,)))
    return tf.compile(g)


def run_onnx_node(op_type: str, inputs: dict[str, np.ndarray], opset: int = 18, **attrs) -> np.ndarray:
    """Run one ONNX node (inputs in the given order) with the ONNX reference evaluator.

    The node's single output is declared with the dtype and shape of the first input (as for
    ScatterElements / ScatterND); the model passes ``onnx.checker`` before it runs.
    """
    value_infos = [
        helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
        for name, a in inputs.items()
    ]
    first = next(iter(inputs.values()))
    out_info = helper.make_tensor_value_info(
        "out", helper.np_dtype_to_tensor_dtype(first.dtype), first.shape)
    node = helper.make_node(op_type, list(inputs), ["out"], **attrs)
    graph = helper.make_graph([node], f"single_{op_type}", value_infos, [out_info])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    (out,) = ReferenceEvaluator(model).run(None, dict(inputs))
    return out


def onnx_model(nodes, inputs: dict, outputs: dict, inits=(), *, opset: int = 18,
               ir_version: int = 9) -> onnx.ModelProto:
    """A checked one-graph model; ``inputs`` / ``outputs``: ``{name: (elem_type, shape)}``."""
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info(n, t, s)
                                           for n, (t, s) in inputs.items()],
                              [helper.make_tensor_value_info(n, t, s)
                               for n, (t, s) in outputs.items()], initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              ir_version=ir_version)
    onnx.checker.check_model(model)
    return model


def template_setting(workload: str):
    """``(group, template, mod, target, arrays, graph)`` of a one-group workload on this CPU: what a
    test of the tuner's pieces (mutator, strategy) searches over."""
    from tvm_fusion import schedules, workloads
    from tvm_fusion.build import template_context
    from tvm_fusion.fusion import fuse
    from tvm_fusion.lower import lower
    from tvm_fusion.target import host_target

    graph, arrays = workloads.load(workload)
    (group,) = fuse(graph)
    target = host_target()
    template = schedules.choose(template_context(group, target))
    return group, template, lower(group.nodes, group.outputs).mod, target, arrays, graph

"""One ONNX node through ``from_onnx`` and ``compile``, against ``onnx.reference``."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tests.helpers import assert_same
from tvm_fusion.frontends import from_onnx


def check_node(op_type: str, inputs: dict, constants: dict | None = None, *, outputs: int = 1,
               opset: int = 18, kernels: int | None = None, **attrs):
    """Run ``op_type`` on ``inputs`` (graph inputs) and ``constants`` (initializers, in the
    node's input order after the inputs; ``None`` values are omitted optional inputs); assert
    the compiled outputs equal the reference's. Returns the compiled function."""
    constants = constants or {}
    names = list(inputs) + list(constants)
    value_infos = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype),
                                                 a.shape) for n, a in inputs.items()]
    inits = [numpy_helper.from_array(np.asarray(a), n) for n, a in constants.items()
             if a is not None]
    node_inputs = [n if (n in inputs or constants[n] is not None) else "" for n in names]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    out_names = [f"out{i}" for i in range(outputs)]
    node = helper.make_node(op_type, node_inputs, out_names, **attrs)
    first = next(iter(inputs.values()))
    opsets = [helper.make_opsetid("", opset)]
    untyped = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(first.dtype),
                                             [1]) for n in out_names]
    expected = ReferenceEvaluator(helper.make_model(helper.make_graph(
        [node], "probe", value_infos, untyped, inits), opset_imports=opsets)).run(None,
                                                                                dict(inputs))
    out_infos = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(e.dtype),
                                               e.shape) for n, e in zip(out_names, expected)]
    graph = helper.make_graph([node], f"single_{op_type}", value_infos, out_infos, inits)
    model = helper.make_model(graph, opset_imports=opsets)
    onnx.checker.check_model(model)
    fn = tf.compile(from_onnx(model))
    got = fn(**inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_same(g, e)
    if kernels is not None:
        assert fn.num_kernels == kernels
    return fn

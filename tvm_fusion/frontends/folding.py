"""Constant folding at import: a node whose inputs are all constants is computed once, by
``onnx.reference``, and its outputs become constants.

Exporters and ONNX's own function bodies compute shapes and axes with ops (``Shape``,
``Size``, ``Add``, ``Range``, ``Concat`` of constants, ...); folding them leaves the shape and
axes inputs of ``Reshape``, ``Expand``, ``Range`` and the reductions constant, as this
compiler needs (its shapes are static), and computes nothing at run time that is known now.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

_DEFAULT_DOMAINS = ("", "ai.onnx")
_NEVER = {"Constant",  # its own converter
          "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
          "Multinomial", "Bernoulli", "Dropout"}  # not a function of the inputs
FOLD_LIMIT = 1 << 20  # elements: a bigger constant result stays a kernel (memory, time)


def fold_constants(node: onnx.NodeProto, consts: dict, opset: int | None) -> list | None:
    """The outputs of ``node`` when every input is a known constant, else ``None``."""
    names = [n for n in node.input if n]
    if not names or node.domain not in _DEFAULT_DOMAINS or node.op_type in _NEVER:
        return None
    if not all(n in consts for n in names) or sum(consts[n].size for n in names) > FOLD_LIMIT:
        return None
    from onnx.reference import ReferenceEvaluator

    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(consts[n].dtype),
                                            consts[n].shape) for n in dict.fromkeys(names)]
    outputs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
    graph = helper.make_graph([node], "fold", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset or 18)],
                              ir_version=onnx.IR_VERSION)
    try:
        results = ReferenceEvaluator(model).run(None, {n: consts[n] for n in names})
    except Exception:  # noqa: BLE001 - not foldable here: the converter decides
        return None
    values = iter(results)
    return [np.asarray(next(values)) if o else None for o in node.output]


__all__ = ["fold_constants"]

"""One small converter per ONNX op type: ``CONVERTERS = {"ReduceSum": reduce_sum, ...}``,
collected from one module per op family (``elementwise``, ``reduce``, ``normalization``
(softmax, norms, composite reductions), ``layout``, ``slicing`` (Slice, Concat, Split,
Pad), ``gather``, ``scatter``, ``constants``, ``shapes``):
to add an op type, copy a neighbour in its family and add it to that module's ``CONVERTERS``
(and ``STATIC_INPUTS`` for inputs that must be constants).

A converter is called as ``convert(ctx, *inputs, **attributes)``: node inputs positionally
(``None`` for an omitted optional input), ONNX attributes as keyword arguments under their ONNX
names, so one converter serves every opset (``axes`` arrives as an attribute before ReduceSum-13
/ Reduce*-18 / (Un)Squeeze-13 and as an input after). Inputs listed in ``STATIC_INPUTS`` (shapes,
axes) arrive as numpy arrays and must be constants in the model; every other input arrives as a
:class:`~tvm_fusion.graph.Tensor`. A converter returns a Tensor (its last op named ``ctx.out``,
the ONNX output name; intermediates named ``ctx.tmp(tag)``), the input itself (an identity), or
a numpy array (a constant, for ``Constant``). Bad attribute values raise :class:`ConvertError`.
"""

from __future__ import annotations

from . import (
    constants,
    elementwise,
    gather,
    layout,
    normalization,
    reduce,
    scatter,
    shapes,
    slicing,
)
from .common import DTYPES, ConvertError, axis_index, ints, onnx_type_name, to_dtype

_FAMILIES = (elementwise, reduce, normalization, layout, slicing, gather, scatter, constants,
             shapes)
CONVERTERS = {op: fn for family in _FAMILIES for op, fn in family.CONVERTERS.items()}
# inputs (by position) that must be constants in the model: shapes and axes
STATIC_INPUTS = {op: pos for family in _FAMILIES for op, pos in family.STATIC_INPUTS.items()}

__all__ = ["CONVERTERS", "DTYPES", "STATIC_INPUTS", "ConvertError", "axis_index", "ints",
           "onnx_type_name", "to_dtype"]

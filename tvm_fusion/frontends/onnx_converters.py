"""One small converter per ONNX op type: ``CONVERTERS = {"ReduceSum": reduce_sum, ...}``.

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

import math

import numpy as np
from onnx import TensorProto, numpy_helper

from ..graph import Tensor, format_shape

# ONNX element type -> tvm-fusion dtype; every other element type is unsupported
DTYPES = {TensorProto.BOOL: "bool", TensorProto.INT32: "int32", TensorProto.INT64: "int64",
          TensorProto.FLOAT16: "float16", TensorProto.FLOAT: "float32"}


class ConvertError(ValueError):
    """A node the importer cannot convert (attribute value, shape); names the problem."""


def onnx_type_name(elem_type: int) -> str:
    try:
        return TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"element type {elem_type}"


def to_dtype(elem_type: int, what: str) -> str:
    if elem_type not in DTYPES:
        raise ConvertError(f"{what} has ONNX type {onnx_type_name(elem_type)}, which tvm-fusion "
                           f"does not support (supported: {', '.join(DTYPES.values())})")
    return DTYPES[elem_type]


def _ints(value) -> list[int]:
    return [int(v) for v in np.ravel(value)]


def _axis(axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise ConvertError(f"{what}: axis {axis} is out of range, "
                           f"expected in [{-rank}, {rank - 1}]")
    return axis % rank


# ----- element-wise ------------------------------------------------------------------------
def _binary(op: str):
    def convert(ctx, a: Tensor, b: Tensor) -> Tensor:
        return getattr(ctx.g, op)(a, b, name=ctx.out)

    convert.__name__ = op
    return convert


def _variadic(op: str):
    def convert(ctx, *inputs: Tensor) -> Tensor:  # Max / Min: fold pairwise, left to right
        result = inputs[0]
        for i, other in enumerate(inputs[1:], start=2):
            name = ctx.out if i == len(inputs) else ctx.tmp(op)
            result = getattr(ctx.g, op)(result, other, name=name)
        return result

    convert.__name__ = op
    return convert


def _unary(op: str):
    def convert(ctx, x: Tensor) -> Tensor:
        return getattr(ctx.g, op)(x, name=ctx.out)

    convert.__name__ = op
    return convert


def cast(ctx, x: Tensor, *, to: int, saturate: int = 1, round_mode: str = "up") -> Tensor:
    # saturate / round_mode only concern float8 / float4 targets, which are unsupported anyway
    dtype = to_dtype(to, "Cast target 'to'")
    return x if dtype == x.dtype else ctx.g.cast(x, dtype, name=ctx.out)


def identity(ctx, x: Tensor) -> Tensor:
    return x


# ----- reductions --------------------------------------------------------------------------
def _reduce(kind: str):
    op = "reduce_" + kind

    def convert(ctx, data: Tensor, axes=None, *, keepdims: int = 1,
                noop_with_empty_axes: int = 0) -> Tensor:
        axes = [] if axes is None else _ints(axes)
        if not axes:
            if noop_with_empty_axes or data.ndim == 0:
                return data
            axes = list(range(data.ndim))
        if data.dtype == "bool" and kind in ("max", "min"):  # ReduceMax/Min-20: any / all
            wide = ctx.g.cast(data, "int32", name=ctx.tmp("int32"))
            reduced = getattr(ctx.g, op)(wide, axes, bool(keepdims), name=ctx.tmp(kind))
            return ctx.g.cast(reduced, "bool", name=ctx.out)
        return getattr(ctx.g, op)(data, axes, bool(keepdims), name=ctx.out)

    convert.__name__ = op
    return convert


# ----- layout ------------------------------------------------------------------------------
def _reshape_to(ctx, x: Tensor, shape) -> Tensor:
    shape = tuple(int(d) for d in shape)
    return x if shape == x.shape else ctx.g.reshape(x, shape, name=ctx.out)


def transpose(ctx, data: Tensor, *, perm=None) -> Tensor:
    return ctx.g.transpose(data, perm, name=ctx.out)


def reshape(ctx, data: Tensor, shape, *, allowzero: int = 0) -> Tensor:
    dims = _ints(shape)
    if allowzero and 0 in dims:
        raise ConvertError(f"shape {dims} with allowzero=1 asks for a zero-size output; "
                           "tvm-fusion tensors have no zero-size dimensions")
    if not allowzero:  # 0 copies the input dimension (checked by Graph.reshape)
        dims = [data.shape[i] if d == 0 and i < data.ndim else d for i, d in enumerate(dims)]
    if -1 not in dims and math.prod(dims) == data.size:
        return _reshape_to(ctx, data, dims)
    return ctx.g.reshape(data, dims, name=ctx.out)


def expand(ctx, x: Tensor, shape) -> Tensor:
    """Bidirectional broadcast: the result has the broadcast of ``x.shape`` and ``shape``."""
    target = _ints(shape)
    rank = max(x.ndim, len(target))
    a = (1,) * (rank - x.ndim) + x.shape
    b = (1,) * (rank - len(target)) + tuple(target)
    if any(da != db and 1 not in (da, db) for da, db in zip(a, b)):
        raise ConvertError(f"cannot broadcast input '{x.name}' {format_shape(x.shape)} with "
                           f"shape {target} (each pair of dims must be equal or contain a 1)")
    out = tuple(max(da, db) if 0 not in (da, db) else 0 for da, db in zip(a, b))
    if 0 in out:
        raise ConvertError(f"Expand to {list(out)} is a zero-size tensor, which tvm-fusion "
                           "does not support")
    if out == x.shape:
        return x
    return ctx.g.broadcast_to(x, out, name=ctx.out)


def squeeze(ctx, data: Tensor, axes=None) -> Tensor:
    if axes is None or not _ints(axes):
        drop = {i for i, d in enumerate(data.shape) if d == 1}
    else:
        drop = {_axis(a, data.ndim, "Squeeze") for a in _ints(axes)}
        for a in sorted(drop):
            if data.shape[a] != 1:
                raise ConvertError(f"Squeeze axis {a} of '{data.name}' {format_shape(data.shape)}"
                                   f" has size {data.shape[a]}, expected 1")
    return _reshape_to(ctx, data, [d for i, d in enumerate(data.shape) if i not in drop])


def unsqueeze(ctx, data: Tensor, axes) -> Tensor:
    axes = _ints(axes)
    rank = data.ndim + len(axes)
    norm = sorted(_axis(a, rank, "Unsqueeze") for a in axes)
    if len(set(norm)) != len(norm):
        raise ConvertError(f"Unsqueeze axes {axes} name the same output axis twice")
    dims = iter(data.shape)
    return _reshape_to(ctx, data, [1 if i in norm else next(dims) for i in range(rank)])


def flatten(ctx, input: Tensor, *, axis: int = 1) -> Tensor:  # noqa: A002 - ONNX name
    if not -input.ndim <= axis <= input.ndim:
        raise ConvertError(f"Flatten axis {axis} is out of range for rank {input.ndim}, "
                           f"expected in [{-input.ndim}, {input.ndim}]")
    axis = axis % input.ndim if axis < 0 else axis
    shape = (math.prod(input.shape[:axis]), math.prod(input.shape[axis:]))
    return _reshape_to(ctx, input, shape)


# ----- scatter -----------------------------------------------------------------------------
def scatter_elements(ctx, data: Tensor, indices: Tensor, updates: Tensor, *, axis: int = 0,
                     reduction: str = "none") -> Tensor:
    return ctx.g.scatter_elements(data, indices, updates, axis, reduction, name=ctx.out)


def scatter_nd(ctx, data: Tensor, indices: Tensor, updates: Tensor, *,
               reduction: str = "none") -> Tensor:
    return ctx.g.scatter_nd(data, indices, updates, reduction, name=ctx.out)


# ----- constants ---------------------------------------------------------------------------
def constant(ctx, **attrs) -> np.ndarray:
    if len(attrs) != 1:
        raise ConvertError(f"expected exactly one value attribute, got {sorted(attrs)}")
    (key, value), = attrs.items()
    if key == "value":
        return numpy_helper.to_array(value)
    if key in ("value_float", "value_floats"):
        return np.array(value, dtype=np.float32)
    if key in ("value_int", "value_ints"):
        return np.array(value, dtype=np.int64)
    raise ConvertError(f"attribute '{key}' (string or sparse constant) is not supported")


CONVERTERS = {
    "Add": _binary("add"), "Sub": _binary("sub"), "Mul": _binary("mul"), "Div": _binary("div"),
    "Max": _variadic("maximum"), "Min": _variadic("minimum"),
    "Neg": _unary("neg"), "Abs": _unary("abs"), "Relu": _unary("relu"), "Exp": _unary("exp"),
    "Sqrt": _unary("sqrt"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"),
    "Cast": cast, "Identity": identity, "Constant": constant,
    "ReduceSum": _reduce("sum"), "ReduceMax": _reduce("max"), "ReduceMin": _reduce("min"),
    "ReduceMean": _reduce("mean"), "ReduceProd": _reduce("prod"),
    "Transpose": transpose, "Reshape": reshape, "Expand": expand, "Squeeze": squeeze,
    "Unsqueeze": unsqueeze, "Flatten": flatten,
    "ScatterElements": scatter_elements, "ScatterND": scatter_nd,
}

# inputs (by position) that must be constants in the model: shapes and axes
STATIC_INPUTS = {"Reshape": (1,), "Expand": (1,), "Squeeze": (1,), "Unsqueeze": (1,),
                 "ReduceSum": (1,), "ReduceMax": (1,), "ReduceMin": (1,), "ReduceMean": (1,),
                 "ReduceProd": (1,)}

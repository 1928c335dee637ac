"""What every converter family shares: ONNX element types, ``ConvertError``, small helpers."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

# ONNX element type -> tvm-fusion dtype; every other element type is unsupported
# (float8 is a storage type, cast only: graph/core.py; float4, int4, int2 and e8m0 stay
# unsupported: TVM has no arithmetic for them here)
DTYPES = {TensorProto.BOOL: "bool",
          TensorProto.INT8: "int8", TensorProto.INT16: "int16", TensorProto.INT32: "int32",
          TensorProto.INT64: "int64", TensorProto.UINT8: "uint8", TensorProto.UINT16: "uint16",
          TensorProto.UINT32: "uint32", TensorProto.UINT64: "uint64",
          TensorProto.FLOAT16: "float16", TensorProto.BFLOAT16: "bfloat16",
          TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64",
          TensorProto.FLOAT8E4M3FN: "float8_e4m3fn", TensorProto.FLOAT8E4M3FNUZ: "float8_e4m3fnuz",
          TensorProto.FLOAT8E5M2: "float8_e5m2", TensorProto.FLOAT8E5M2FNUZ: "float8_e5m2fnuz"}


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


def ints(value) -> list[int]:
    return [int(v) for v in np.ravel(value)]


def axis_index(axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise ConvertError(f"{what}: axis {axis} is out of range, "
                           f"expected in [{-rank}, {rank - 1}]")
    return axis % rank

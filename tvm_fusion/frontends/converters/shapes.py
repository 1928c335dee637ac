"""Shape arithmetic folded to constants (shapes are static here): Shape, Size,
ConstantOfShape, Range. Each returns a numpy array, which a reader takes as a constant (a
Reshape's shape, an Expand's target) or as a graph constant."""

from __future__ import annotations

import math

import numpy as np
from onnx import numpy_helper

from ...graph import Tensor
from .common import ConvertError, ints


def shape(ctx, data: Tensor, *, start: int = 0, end: int | None = None) -> np.ndarray:
    return np.array(data.shape[slice(start, end)], dtype=np.int64)


def size(ctx, data: Tensor) -> np.ndarray:
    return np.array(math.prod(data.shape), dtype=np.int64)


def constant_of_shape(ctx, input, *, value=None) -> np.ndarray:
    fill = np.zeros(1, np.float32) if value is None else numpy_helper.to_array(value)
    if fill.size != 1:
        raise ConvertError(f"ConstantOfShape value must hold one element, got {fill.size}")
    dims = ints(input)
    if any(d < 0 for d in dims):
        raise ConvertError(f"ConstantOfShape shape {dims} has a negative dimension")
    return np.full(dims, fill.reshape(()), dtype=fill.dtype)


def range_(ctx, start, limit, delta) -> np.ndarray:
    start, limit, delta = (np.asarray(v).reshape(()) for v in (start, limit, delta))
    if delta == 0:
        raise ConvertError("Range delta is 0")
    count = max(math.ceil((limit - start) / delta), 0)
    return (start + np.arange(count, dtype=np.float64) * delta).astype(start.dtype) \
        if start.dtype.kind == "f" else start + np.arange(count, dtype=start.dtype) * delta


CONVERTERS = {"Shape": shape, "Size": size, "ConstantOfShape": constant_of_shape,
              "Range": range_}
STATIC_INPUTS = {"ConstantOfShape": (0,), "Range": (0, 1, 2)}

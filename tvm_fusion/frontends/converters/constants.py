"""Converters whose result is a constant (a numpy array): Constant."""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from .common import ConvertError


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


CONVERTERS = {"Constant": constant}
STATIC_INPUTS: dict[str, tuple[int, ...]] = {}

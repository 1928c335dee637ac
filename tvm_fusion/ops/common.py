"""Small TE helpers shared by the op families."""

from __future__ import annotations

import numpy as np
from tvm import te, tirx

# accumulate/compute half precision and bfloat16 in fp32 (bfloat16 has no arithmetic of its own)
ACCUMULATOR = {"float16": "float32", "bfloat16": "float32"}
BF16, F32, U32 = "bfloat16", "float32", "uint32"


def broadcast_index(in_shape, out_shape, index):
    """Index into an input of ``in_shape`` for output position ``index`` (numpy rules)."""
    offset = len(out_shape) - len(in_shape)
    return tuple(
        0 if in_shape[d] == 1 and out_shape[d + offset] != 1 else index[d + offset]
        for d in range(len(in_shape))
    )


def dtype_of(tensor: te.Tensor) -> str:
    return str(tensor.dtype)


def expr_dtype(value) -> str:
    """The dtype of a TE/TIR expression as a string (TVM 0.27 exposes it as ``expr_ty()``)."""
    return str(value.expr_ty())


def cast(value, dtype: str):
    """``value`` converted to ``dtype``; bool follows numpy (``!= 0``); bfloat16 as
    ``ml_dtypes`` (and so ``onnx.reference``) does: through float32, rounded to nearest even."""
    source = expr_dtype(value)
    if source == dtype:
        return value
    if source == BF16:  # exact in float32, then whatever float32 -> dtype does
        return cast(value.astype(F32), dtype)
    if dtype == "bool":  # NaN is true, as in numpy (a float != is ordered: NaN != 0 is false)
        nonzero = value != tirx.const(0, source)
        return tirx.Or(nonzero, tirx.isnan(value)) if "float" in source else nonzero
    if dtype == BF16:
        return to_bfloat16(value if source == F32 else value.astype(F32))
    return value.astype(dtype)


def to_bfloat16(value):
    """float32 -> bfloat16, rounded to nearest even; a NaN becomes the quiet NaN of its sign
    (TVM's own cast rounds NaN payloads in the low half up into infinity)."""
    bits = tirx.reinterpret(U32, value)
    lsb = tirx.bitwise_and(tirx.shift_right(bits, tirx.const(16, U32)), tirx.const(1, U32))
    rounded = tirx.shift_right(bits + tirx.const(0x7FFF, U32) + lsb, tirx.const(16, U32))
    quiet = tirx.bitwise_or(tirx.shift_right(bits, tirx.const(16, U32)),
                            tirx.const(0x7FC0, U32))
    quiet = tirx.bitwise_and(quiet, tirx.const(0xFFC0, U32))  # sign | exponent | quiet bit
    half = tirx.Select(tirx.isnan(value), quiet, rounded).astype("uint16")
    return tirx.reinterpret(BF16, half)


def isnan(value):
    """``tirx.isnan``, of bfloat16 too (TVM has none for it: tested on the exact float32)."""
    return tirx.isnan(value.astype(F32) if expr_dtype(value) == BF16 else value)


def empty_reduction(op: str, dtype: str):
    """What ``op`` gives over no elements, as ``onnx.reference``: sum 0, prod 1, max the
    lowest value (-inf, the smallest integer), min the highest, mean NaN (integers: 0)."""
    info = np.finfo if "float" in dtype else np.iinfo
    lowest, highest = (-np.inf, np.inf) if "float" in dtype else (info(dtype).min,
                                                                      info(dtype).max)
    value = {"reduce_sum": 0, "reduce_prod": 1, "reduce_max": lowest, "reduce_min": highest,
             "reduce_mean": np.nan if "float" in dtype else 0}[op]
    if dtype == BF16:  # the bits, as numpy (ml_dtypes) rounds them
        bits = int(np.array(value, np.float32).astype(BF16).view(np.uint16))
        return tirx.reinterpret(BF16, tirx.const(bits, "uint16"))
    return tirx.const(value, dtype)

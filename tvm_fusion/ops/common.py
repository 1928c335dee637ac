"""Small TE helpers shared by the op families."""

from __future__ import annotations

from tvm import te, tirx

ACCUMULATOR = {"float16": "float32"}  # accumulate/compute half precision in fp32


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
    """``value`` converted to ``dtype``; bool follows numpy (``!= 0``)."""
    source = expr_dtype(value)
    if source == dtype:
        return value
    if dtype == "bool":  # NaN is true, as in numpy (a float != is ordered: NaN != 0 is false)
        nonzero = value != tirx.const(0, source)
        return tirx.Or(nonzero, tirx.isnan(value)) if "float" in source else nonzero
    return value.astype(dtype)

"""``pow`` and ``mod`` as numpy computes them (the ONNX reference is numpy).

``pow``: float math in numpy's result dtype of the two operands (fp16 in f32, as numpy's half
loops do; float64 for a float base with an integer exponent or an integer base with a float
one), rounded to the base's dtype once. Integers to integer powers are computed in float64 and
truncated, as onnxruntime does: exact for every result within 2**53 (all of int32), a negative
exponent (which numpy refuses) truncates the real power toward zero; a result beyond the
dtype's range is undefined (numpy wraps, onnxruntime converts out of range). Exact wrapping
binary exponentiation was tried: it needs its squares shared (``Let``), which TVM's
``CompactBufferAllocation`` expands into a tree, exponential in the exponent's bits.

``mod``: an integer remainder by 0 is 0 (numpy) and by -1 is 0 without dividing (x86 traps on
``INT_MIN % -1``); a float remainder is C ``fmod`` (LLVM ``frem``: exact), made to take the
divisor's sign for ``fmod=0`` as ``npy_divmod`` does (a zero result is a zero of the
divisor's sign). fp16 is computed in f32 and rounded once, as numpy.
"""

from __future__ import annotations

import numpy as np
from tvm import tirx

from .common import ACCUMULATOR, cast, expr_dtype


def _is_int(dtype: str) -> bool:
    return "int" in dtype


def power(base, exponent):
    """``base ** exponent`` in ``base``'s dtype (see the module docstring)."""
    dtype, other = expr_dtype(base), expr_dtype(exponent)
    if _is_int(dtype) and _is_int(other):
        wide = "float64"  # exact for every power that fits in 53 bits
    else:
        wide = str(np.result_type(dtype, other))
        wide = ACCUMULATOR.get(wide, wide)
    return cast(tirx.power(cast(base, wide), cast(exponent, wide)), dtype)


def remainder(fmod: int):
    """``(a, b) -> a mod b``: ``fmod=0`` the divisor's sign, ``fmod=1`` the dividend's."""
    def fn(a, b):
        dtype = expr_dtype(a)
        if _is_int(dtype):
            one = tirx.const(1, dtype)
            trivial = tirx.EQ(b, tirx.const(0, dtype))
            if not dtype.startswith("uint"):
                trivial = tirx.Or(trivial, tirx.EQ(b, -one))
            divisor = tirx.Select(trivial, one, b)  # a % 1 == 0: what numpy gives for 0, -1
            return tirx.truncmod(a, divisor) if fmod else tirx.floormod(a, divisor)
        wide = ACCUMULATOR.get(dtype, dtype)
        x, y = cast(a, wide), cast(b, wide)
        r = tirx.truncmod(x, y)  # LLVM frem: C fmod, exact
        if not fmod:
            zero = tirx.const(0, wide)
            # signs differ (false for a NaN r); not a != of two bools, which TVMScript
            # prints as a chained comparison and LLVM gets as a float compare
            flip = tirx.Select(tirx.LT(y, zero), tirx.Not(tirx.LT(r, zero)), tirx.LT(r, zero))
            r = tirx.Select(tirx.EQ(r, zero), tirx.copysign(zero, y),
                            tirx.Select(flip, r + y, r))
        return cast(r, dtype)

    return fn

"""Vectorisable float32 math written as plain TIR arithmetic.

LLVM turns ``llvm.exp`` on a vector into one ``expf`` call per lane (no vector math library is
linked): measured here, a vectorised ``tirx.exp`` over 4 Mi floats took 10 ms on 2 cores where
numpy's SIMD exp takes 2.7 ms on one. ``exp_f32`` is Cephes' ``expf`` (Cody-Waite range
reduction, degree-6 polynomial, accurate to ~2 ulp) built from FMAs, a floor, integer shifts
and a bit reinterpretation, so every lane stays in vector registers. IEEE cases are kept:
NaN stays NaN (the one select), ``+inf`` and overflow give ``inf``, ``-inf`` and deep underflow
give 0, and results down in the subnormal range are scaled in two steps so they are not
flushed early.
"""

from __future__ import annotations

from tvm import tirx

F32 = "float32"
LOG2E = 1.44269504088896341
LN2_HI, LN2_LO = 0.693359375, -2.12194440e-4  # ln 2 = hi + lo, hi exact in 9 bits
EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
            1.6666665459e-1, 5.0000001201e-1)
# clamp bounds: above 89 the scaled result overflows to inf by itself, below -104 it rounds
# to 0 by itself (2**-150 * y with y < 1), so no compare-and-select is needed for either
HIGH, LOW = 89.0, -104.0


def _c(value: float):
    return tirx.const(value, F32)


def _pow2(n):
    """2**n for int32 ``n`` in [-126, 127], by building the float's exponent bits."""
    return tirx.reinterpret(F32, tirx.shift_left(n + tirx.const(127, "int32"),
                                                  tirx.const(23, "int32")))


def exp_f32(x):
    """``exp(x)`` for a float32 TIR expression, vectorisable (see the module docstring)."""
    clamped = tirx.max(tirx.min(x, _c(HIGH)), _c(LOW))
    n = tirx.floor(clamped * _c(LOG2E) + _c(0.5))
    r = clamped - n * _c(LN2_HI)
    r = r - n * _c(LN2_LO)
    poly = _c(EXP_POLY[0])
    for coefficient in EXP_POLY[1:]:
        poly = poly * r + _c(coefficient)
    y = poly * (r * r) + r + _c(1.0)
    k = n.astype("int32")  # in [-150, 128]: scale in two halves, each a normal float
    half = tirx.shift_right(k, tirx.const(1, "int32"))
    value = y * _pow2(half) * _pow2(k - half)
    return tirx.Select(tirx.isnan(x), x, value)


def sigmoid_f32(x):
    """``1 / (1 + exp(-x))`` with the vectorisable exp (NaN and +-inf as IEEE says)."""
    return _c(1.0) / (_c(1.0) + exp_f32(-x))

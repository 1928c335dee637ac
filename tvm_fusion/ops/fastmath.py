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

import contextvars
import math

from tvm import tirx

F32 = "float32"
LOG2E = 1.44269504088896341
LN2_HI, LN2_LO = 0.693359375, -2.12194440e-4  # ln 2 = hi + lo, hi exact in 9 bits
EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
            1.6666665459e-1, 5.0000001201e-1)
# clamp bounds: above 89 the scaled result overflows to inf by itself, below -104 it rounds
# to 0 by itself (2**-150 * y with y < 1), so no compare-and-select is needed for either
HIGH, LOW = 89.0, -104.0


# whether log_f32 binds its operand in a Let: not in a kernel holding bfloat16 values, whose
# legalization miscompiles a Let of them (log(0.1) gave 9.69); there it stays unbound, slow
BIND_OPERANDS: contextvars.ContextVar[bool] = contextvars.ContextVar("bind", default=True)


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


LOG_POLY = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
            1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
            3.3333331174e-1)
SQRT_HALF, SMALLEST_NORMAL = 0.707106781186547524, 1.17549435e-38


def log_f32(operand):
    """``log(x)`` for a float32 TIR expression, vectorisable: Cephes' ``logf`` (the exponent
    and mantissa from the bits, a subnormal scaled by 2**23 first, ``m`` in
    [sqrt(1/2), sqrt(2)), a degree-8 polynomial in ``m - 1``; ~1 ulp). ``log(0)`` is -inf,
    ``log(inf)`` inf, a negative number or -inf NaN, a NaN stays itself.

    The operand is bound once (a ``Let``): the body reads it ~200 times through the values
    made of it, and a compound operand inlined unbound was copied into each read (softplus'
    ``exp(-|x|) + 1``: 856 KB of TIR, ~30 s to compile, and a scalar kernel: measured on
    znver5, softplus over (1024, 4096) took 464 ms, 4 ms bound)."""
    if not BIND_OPERANDS.get():
        return _log_body(operand)
    x = tirx.Var("log_operand", F32)
    return tirx.Let(x, operand, _log_body(x))


def _log_body(x):
    i32 = "int32"
    tiny = x < _c(SMALLEST_NORMAL)
    scaled = tirx.Select(tiny, x * _c(8388608.0), x)
    bits = tirx.reinterpret(i32, scaled)
    exponent = tirx.shift_right(bits, tirx.const(23, i32)) - tirx.Select(
        tiny, tirx.const(149, i32), tirx.const(126, i32))
    mantissa = tirx.reinterpret(F32, tirx.bitwise_or(tirx.bitwise_and(
        bits, tirx.const(0x007FFFFF, i32)), tirx.const(0x3F000000, i32)))  # in [0.5, 1)
    low = mantissa < _c(SQRT_HALF)
    exponent = exponent - tirx.Select(low, tirx.const(1, i32), tirx.const(0, i32))
    m = tirx.Select(low, mantissa + mantissa, mantissa) - _c(1.0)
    z = m * m
    poly = _c(LOG_POLY[0])
    for coefficient in LOG_POLY[1:]:
        poly = poly * m + _c(coefficient)
    e = exponent.astype(F32)
    y = poly * m * z + e * _c(LN2_LO) - _c(0.5) * z
    value = m + y + e * _c(LN2_HI)
    value = tirx.Select(tirx.EQ(x, _c(math.inf)), x, value)
    value = tirx.Select(tirx.EQ(x, _c(0.0)), _c(-math.inf), value)
    value = tirx.Select(x < _c(0.0), _c(math.nan), value)
    return tirx.Select(tirx.isnan(x), x, value)


# erf as an odd rational function on [-4, 4] (beyond, erf rounds to +-1 in float32): the
# approximation of Eigen and TVM's topi.fast_erf; within 7 ulp (4.2e-7) of math.erf
ERF_NUMERATOR = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                 -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                 -1.60960333262415e-02)
ERF_DENOMINATOR = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                   -7.37332916720468e-03, -1.42647390514189e-02)


def erf_f32(x):
    """``erf(x)`` for a float32 TIR expression, vectorisable (libm's ``erff`` is one call per
    lane); a NaN stays itself."""
    clamped = tirx.max(tirx.min(x, _c(4.0)), _c(-4.0))
    square = clamped * clamped
    numerator, denominator = _c(ERF_NUMERATOR[0]), _c(ERF_DENOMINATOR[0])
    for coefficient in ERF_NUMERATOR[1:]:
        numerator = numerator * square + _c(coefficient)
    for coefficient in ERF_DENOMINATOR[1:]:
        denominator = denominator * square + _c(coefficient)
    return tirx.Select(tirx.isnan(x), x, clamped * numerator / denominator)

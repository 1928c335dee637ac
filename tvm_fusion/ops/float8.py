"""float8 as ONNX casts it: bits held as uint8, decoded to and encoded from float32 exactly.

TVM's CPU code generation has no float8 arithmetic (its FP8 legalizers target GPUs), so a
kernel holds a float8 tensor's bits in a uint8 buffer (``runtime/binding.py`` passes a uint8
view of the ``ml_dtypes`` array) and ``cast`` converts with integer arithmetic on float32
bits: round to nearest even (normal and subnormal targets alike), NaN kept, and values beyond
the largest finite one saturated or not (ONNX Cast's ``saturate``). The four formats differ
in mantissa bits, exponent bias and special values (``FORMATS``; ``ml_dtypes.finfo`` agrees).
"""

from __future__ import annotations

from dataclasses import dataclass

from tvm import tirx

from .common import cast as plain_cast

U8, U32, I32, F32 = "uint8", "uint32", "int32", "float32"


@dataclass(frozen=True)
class Format:
    mantissa: int  # bits
    bias: int
    max_code: int  # the largest finite magnitude's bits
    nan: int  # the NaN the encoder writes (with the sign bit, except for fnuz)
    inf: int | None  # infinity's bits (e5m2 only)
    fnuz: bool  # no negative zero, no infinity, one NaN (0x80)

    @property
    def min_exponent(self) -> int:  # of the smallest normal value
        return 1 - self.bias


FORMATS = {
    "float8_e4m3fn": Format(3, 7, 0x7E, 0x7F, None, False),
    "float8_e4m3fnuz": Format(3, 8, 0x7F, 0x80, None, True),
    "float8_e5m2": Format(2, 15, 0x7B, 0x7E, 0x7C, False),
    "float8_e5m2fnuz": Format(2, 16, 0x7F, 0x80, None, True),
}


def storage(dtype: str) -> str:
    """The dtype a kernel holds ``dtype`` in (uint8 for float8, else itself)."""
    return U8 if dtype in FORMATS else dtype


def _u32(v: int):
    return tirx.const(v, U32)


def _round_shift(value, shift):
    """``value >> shift`` rounded to nearest even (``value`` and ``shift`` uint32)."""
    one = _u32(1)
    lsb = tirx.bitwise_and(tirx.shift_right(value, shift), one)
    half = tirx.shift_left(one, shift - one) - one
    return tirx.shift_right(value + half + lsb, shift)


def encode(value, dtype: str, saturate: bool = True):
    """float32 ``value`` -> the uint8 bits of float8 ``dtype``."""
    fmt = FORMATS[dtype]
    m = fmt.mantissa
    bits = tirx.reinterpret(U32, value)
    sign = tirx.shift_right(bits, _u32(31))
    mag = tirx.bitwise_and(bits, _u32(0x7FFFFFFF))
    exponent = tirx.shift_right(mag, _u32(23))  # biased, as float32
    first_normal = fmt.min_exponent + 127
    normal = _round_shift(mag, _u32(23 - m)) - _u32((127 - fmt.bias) << m)
    full = tirx.bitwise_or(tirx.bitwise_and(mag, _u32(0x7FFFFF)), _u32(0x800000))
    shift = tirx.min(_u32(23 - m + first_normal) - exponent, _u32(31))
    code = tirx.Select(exponent >= _u32(first_normal), normal, _round_shift(full, shift))
    over = _u32(fmt.max_code) if saturate else _u32(fmt.inf if fmt.inf is not None else fmt.nan)
    code = tirx.Select(code > _u32(fmt.max_code), over, code)
    if fmt.fnuz:  # one zero, and the NaN carries no sign
        signed = tirx.Select(tirx.Or(code == _u32(0), code == _u32(0x80)), code,
                             tirx.bitwise_or(code, tirx.shift_left(sign, _u32(7))))
    else:
        signed = tirx.bitwise_or(code, tirx.shift_left(sign, _u32(7)))
    nan = _u32(fmt.nan) if fmt.fnuz else tirx.bitwise_or(_u32(fmt.nan), tirx.shift_left(sign,
                                                                                      _u32(7)))
    return tirx.Select(mag > _u32(0x7F800000), nan, signed).astype(U8)


def decode(code, dtype: str):
    """The uint8 bits ``code`` of float8 ``dtype`` -> float32 (exact)."""
    fmt = FORMATS[dtype]
    m = fmt.mantissa
    c = code.astype(U32)
    mag = tirx.bitwise_and(c, _u32(0x7F))
    exponent = tirx.shift_right(mag, _u32(m))
    fraction = tirx.bitwise_and(mag, _u32((1 << m) - 1))
    normal = tirx.reinterpret(F32, tirx.bitwise_or(
        tirx.shift_left(exponent + _u32(127 - fmt.bias), _u32(23)),
        tirx.shift_left(fraction, _u32(23 - m))))
    subnormal = fraction.astype(F32) * tirx.const(2.0 ** (fmt.min_exponent - m), F32)
    value = tirx.Select(exponent > _u32(0), normal, subnormal)
    value = tirx.Select(c >= _u32(0x80), -value, value)
    nan = tirx.const(float("nan"), F32)
    if fmt.fnuz:
        return tirx.Select(c == _u32(0x80), nan, value)
    if fmt.inf is None:  # e4m3fn: S.1111.111 is NaN, there is no infinity
        return tirx.Select(mag == _u32(0x7F), nan, value)
    top = _u32((1 << (7 - m)) - 1)  # e5m2: the all-ones exponent is infinity or NaN
    inf = tirx.Select(c >= _u32(0x80), tirx.const(float("-inf"), F32),
                      tirx.const(float("inf"), F32))
    special = tirx.Select(fraction == _u32(0), inf, nan)
    return tirx.Select(exponent == top, special, value)


def cast(value, source: str, target: str, saturate: bool = True):
    """``value`` (in ``storage(source)``) cast from ``source`` to ``target``, one of them
    float8: through float32, which holds every float8 value exactly."""
    if source == target:
        return value
    wide = decode(value, source) if source in FORMATS else plain_cast(value, F32)
    return encode(wide, target, saturate) if target in FORMATS else plain_cast(wide, target)

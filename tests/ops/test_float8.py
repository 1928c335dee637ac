"""float8 casts (ONNX Cast to and from FLOAT8E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ): every bit
pattern decoded, and float32/float16 values encoded (rounding ties, subnormals, the largest
finite value and beyond, infinities, NaN, signed zeros), saturating and not, against
``ml_dtypes`` (the oracle ``onnx.reference`` uses) and ``tvm_fusion.reference``."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion.graph import FLOAT8_DTYPES, GraphError


def same_values(got: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype and shape; NaN where expected has NaN; every other value bit for bit (so
    -0 and +0 differ)."""
    assert got.dtype == expected.dtype and got.shape == expected.shape, (got.dtype, got.shape)
    wide_got, wide_exp = got.astype(np.float32), expected.astype(np.float32)
    np.testing.assert_array_equal(np.isnan(wide_got), np.isnan(wide_exp))
    keep = ~np.isnan(wide_exp)
    bits = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[got.itemsize]
    mismatch = np.flatnonzero(got.view(bits)[keep] != expected.view(bits)[keep])
    assert mismatch.size == 0, (f"{mismatch.size} values differ, e.g. input #{mismatch[0]}: "
                                f"{got[keep][mismatch[0]]} vs {expected[keep][mismatch[0]]}")


def compile_cast(source: str, target: str, n: int, saturate=True):
    g = tf.Graph()
    g.output(g.cast(g.input("x", (n,), source), target, saturate=saturate))
    return g, tf.compile(g)


def oracle(x: np.ndarray, target: str, saturate: bool) -> np.ndarray:
    x = x.astype(np.float32)
    if saturate:
        top = float(ml_dtypes.finfo(target).max)
        x = np.clip(x, -top, top)
    return x.astype(target)


@pytest.mark.parametrize("target", ["float32", "float16", "float64"])
@pytest.mark.parametrize("dtype", FLOAT8_DTYPES)
def test_every_bit_pattern_decodes_as_ml_dtypes(dtype, target):
    codes = np.arange(256, dtype=np.uint8).view(dtype)
    g, fn = compile_cast(dtype, target, 256)
    (got,) = fn(x=codes)
    same_values(got, codes.astype(target))
    same_values(got, tf.reference.run(g, {"x": codes})[0])


def encode_probes(dtype: str, rng) -> np.ndarray:
    """Every value of ``dtype``, the midpoints between neighbours (ties) and 1 float32 ulp on
    either side, values past the largest, float32 subnormals, specials, random magnitudes."""
    values = np.arange(256, dtype=np.uint8).view(dtype).astype(np.float32)
    values = np.unique(values[~np.isnan(values)])
    mid = (values[:-1].astype(np.float64) + values[1:]) / 2
    mid = mid.astype(np.float32)
    top = float(ml_dtypes.finfo(dtype).max)
    probes = [values, mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf),
              np.array([top * 1.0625, top * 1.2, 1e6, -1e6, 1e-30, -1e-30, 1e-45, -0.0, 0.0,
                        np.inf, -np.inf, np.nan, -np.nan], np.float32),
              (rng.standard_normal(997) * 10.0 ** rng.integers(-9, 6, 997)).astype(np.float32)]
    return np.concatenate(probes).astype(np.float32)


@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("dtype", FLOAT8_DTYPES)
def test_float32_encodes_to_nearest_even_as_ml_dtypes(dtype, saturate, rng):
    x = encode_probes(dtype, rng)
    g, fn = compile_cast("float32", dtype, x.size, saturate)
    (got,) = fn(x=x)
    same_values(got, oracle(x, dtype, saturate))
    same_values(got, tf.reference.run(g, {"x": x})[0])


@pytest.mark.parametrize("dtype", FLOAT8_DTYPES)
def test_float16_encodes_through_float32(dtype, rng):
    x = np.concatenate([rng.standard_normal(331) * 300, [65504, -65504, np.inf, np.nan,
                                                         6e-8, -0.0]]).astype(np.float16)
    _, fn = compile_cast("float16", dtype, x.size)
    (got,) = fn(x=x)
    same_values(got, oracle(x, dtype, True))


def test_a_quantise_dequantise_chain_is_one_kernel(rng):
    """f32 -> e4m3fn -> f32, plus a bias, on (13, 17): one fused kernel, float8 as uint8."""
    g = tf.Graph()
    x, b = g.input("x", (13, 17), "float32"), g.input("b", (17,), "float32")
    q = g.cast(x, "float8_e4m3fn")
    g.output(g.add(g.cast(q, "float32"), b), q)
    fn = tf.compile(g)
    assert len(fn.kernels) == 1
    data = (rng.standard_normal((13, 17)) * 100).astype(np.float32)
    bias = rng.standard_normal(17).astype(np.float32)
    got = fn(x=data, b=bias)
    for out, expected in zip(got, tf.reference.run(g, {"x": data, "b": bias})):
        same_values(out, expected)


def test_float8_constant_returned_and_cast():
    g = tf.Graph()
    c = g.constant(np.array([0.5, -448, 3.0], ml_dtypes.float8_e4m3fn))
    g.output(c, g.cast(c, "float8_e5m2"))
    kept, recast = tf.compile(g)()
    same_values(kept, np.array([0.5, -448, 3.0], ml_dtypes.float8_e4m3fn))
    same_values(recast, np.array([0.5, -448, 3.0], np.float32).astype(ml_dtypes.float8_e5m2))


def test_float8_has_no_arithmetic_and_says_so():
    g = tf.Graph()
    x = g.input("x", (4,), "float8_e5m2")
    with pytest.raises(GraphError, match="add: input 'x' has dtype float8_e5m2, expected one "
                                         "of int8"):
        g.add(x, x)  # the op's own dtype check
    with pytest.raises(GraphError, match=r"transpose '.*': float8 tensors \(x\) can only be "
                                         r"cast: cast them to float32 first"):
        g.transpose(x, perm=[0])  # any other op: the graph's

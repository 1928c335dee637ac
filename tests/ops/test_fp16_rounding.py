"""fp16 rounding: a max/min of an fp16 add rounds once per output and keeps numpy's bits.

``reduce_max(cast_f32(a + b))`` is computed in f32 and rounded to fp16 after the reduction
(``tvm_fusion.ops.fp16``); every case is compared bit for bit (``uint32`` views) with numpy,
which rounds ``a + b`` to fp16 per element: overflow to ``inf``, ``inf - inf``, rows of
``-inf``, signed zeros. Rows holding a NaN are compared with the same kernel built without
the rewrite (numpy propagates NaN, our reducer keeps the compare-and-select order of the
schedule; the rewrite must not change which it returns).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tvm

import tvm_fusion as tf
from tvm_fusion.lower import lower
from tvm_fusion.ops.fp16 import native_fp16
from tvm_fusion.target import host_target
from tvm_fusion.workloads import get, graph, inputs

BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply}
REDUCE = {"reduce_max": np.max, "reduce_min": np.min}
# (a shape, b shape, axes, keepdims): primes, broadcasts on either side, inner and outer axes
CASES = [
    ((14, 185), (185,), (-1,), False),
    ((3, 37, 131), (37, 1), (1,), True),
    ((7, 1, 61), (5, 61), (0,), False),
    ((2, 9, 11, 13), (13,), (1, 3), False),
    ((263,), (1,), (0,), True),
]


def _graph(op, reduce, a_shape, b_shape, axes, keepdims, *, roundtrip=False):
    """``reduce(cast_f32(op(a, b)))``; ``roundtrip`` adds ``cast_f32(cast_f16(.))`` after the
    first cast: the same values, but no ``cast(f16 op)`` under the reduction to rewrite."""
    g = tf.Graph()
    a, b = g.input("a", a_shape, "float16"), g.input("b", b_shape, "float16")
    wide = g.cast(getattr(g, op)(a, b), "float32")
    if roundtrip:
        wide = g.cast(g.cast(wide, "float16"), "float32")
    g.output(getattr(g, reduce)(wide, axes=list(axes), keepdims=keepdims))
    return g


def _native_target():
    """The host target with AVX512-FP16 enabled, when the CPU has it (LLVM's CPU model may
    not list it: a Sapphire Rapids reported as Rocket Lake)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists() or "avx512_fp16" not in cpuinfo.read_text():
        return None
    host = host_target()
    mattr = [*host.attrs.get("mattr", []), "+avx512fp16"]
    return tvm.target.Target({"kind": "llvm", "mcpu": str(host.attrs["mcpu"]),
                              "num-cores": int(host.attrs["num-cores"]), "mattr": mattr})


def _values(rng, shape, op, tiny=False):
    """Random fp16 values whose op overflows fp16 now and then, with infinities and zeros;
    ``tiny``: around fp16's subnormal range (sums that must not be flushed to zero)."""
    scale = 2e-4 if tiny else 300.0 if op == "mul" else 40000.0
    x = rng.uniform(-scale, scale, size=shape)
    special = rng.random(shape)
    x[special < 0.02] = np.inf
    x[(special >= 0.02) & (special < 0.04)] = -np.inf
    x[(special >= 0.04) & (special < 0.06)] = 0.0
    x[(special >= 0.06) & (special < 0.07)] = -0.0
    return x.astype(np.float16)


def _numpy(op, reduce, a, b, axes, keepdims):
    with np.errstate(over="ignore", invalid="ignore"):
        return REDUCE[reduce](BINARY[op](a, b).astype(np.float32), axis=axes, keepdims=keepdims)


@pytest.mark.parametrize("reduce", sorted(REDUCE))
@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-ax{c[2]}")
def test_extremum_of_fp16_op_is_numpy_bit_for_bit(rng, op, reduce, case):
    a_shape, b_shape, axes, keepdims = case
    a, b = _values(rng, a_shape, op), _values(rng, b_shape, op)
    if reduce == "reduce_max" and len(a_shape) > 1:  # a row of -inf: the identity must not leak
        a[0] = -np.inf
    out = tf.compile(_graph(op, reduce, *case))(a=a, b=b)[0]
    expected = _numpy(op, reduce, a, b, axes, keepdims)
    assert out.dtype == np.float32 and out.shape == expected.shape
    clean = ~np.isnan(expected) & ~np.isnan(out)
    assert clean.mean() > 0.2, "too few NaN-free outputs to test anything"
    # -0 vs +0: numpy's pick depends on its reduction order; ours is IEEE 754-2019's
    # (max(-0, +0) = +0, min = -0, tests/ops/test_nan_inf.py), so zeros compare by value
    clean &= expected != 0
    np.testing.assert_array_equal(out[clean].view(np.uint32), expected[clean].view(np.uint32))
    np.testing.assert_array_equal(out[expected == 0], 0)
    assert np.isinf(expected).any(), "no overflow or infinity reached an output"


@pytest.mark.parametrize("reduce", ["reduce_max", "reduce_sum"])
@pytest.mark.parametrize("native", [False, True], ids=["f16c", "avx512fp16"])
def test_subnormal_sums_are_numpy_bit_for_bit(rng, reduce, native):
    """Subnormal fp16 values and sums, on the host target and with native fp16 arithmetic
    (``vaddph`` honours no flush-to-zero): a max over the axis, and W5's sum over axis 1 (in
    order, as numpy sums a non-contiguous axis)."""
    # without AVX512-FP16 on this CPU the "native" case checks the host target again
    target = (_native_target() or host_target()) if native else None
    axes = (-1,) if reduce == "reduce_max" else (1,)
    a, b = _values(rng, (6, 37, 131), "add", tiny=True), _values(rng, (131,), "add", tiny=True)
    a[np.isinf(a)], b[np.isinf(b)] = 0, 0
    assert (np.abs(a[a != 0]) < 2.0 ** -14).mean() > 0.2  # many subnormal inputs
    g = _graph("add", reduce, a.shape, b.shape, axes, False)
    out = tf.compile(g, target=target)(a=a, b=b)[0]
    expected = getattr(np, reduce.split("_")[1])((a + b).astype(np.float32), axis=axes)
    np.testing.assert_array_equal(out.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("op", ["add", "sub"])
def test_nan_handling_is_unchanged_by_the_rewrite(rng, op):
    """Rows with NaN (given or from inf - inf): the rewritten kernel returns what the kernel
    that rounds every element returns, bit for bit (the same compare-and-select order)."""
    case = ((16, 263), (263,), (-1,), False)
    a, b = _values(rng, case[0], op), _values(rng, case[1], op)
    a[rng.random(a.shape) < 0.003] = np.nan
    rewritten = tf.compile(_graph(op, "reduce_max", *case))(a=a, b=b)[0]
    per_element = tf.compile(_graph(op, "reduce_max", *case, roundtrip=True))(a=a, b=b)[0]
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(BINARY[op](a, b)).any(axis=-1).sum() >= 4
    np.testing.assert_array_equal(rewritten.view(np.uint32), per_element.view(np.uint32))


def test_rewrite_rounds_once_per_output():
    """The kernel has no fp16 add: one reduction block in f32 and an epilogue that rounds."""
    g = _graph("add", "reduce_max", (14, 185), (185,), (-1,), False)
    nodes = [t.producer for t in g.tensors.values() if t.producer is not None]
    func = lower(nodes, g.outputs).func
    script = func.script()
    assert script.count('T.Cast("float16"') == 1, script
    assert "add_0" not in script and "cast_1" not in script, script


def test_native_fp16_keeps_the_add_in_fp16():
    """With fp16 arithmetic in the target, one ``vaddph`` rounds 16 sums: no rewrite."""
    g = _graph("add", "reduce_max", (14, 185), (185,), (-1,), False)
    nodes = [t.producer for t in g.tensors.values() if t.producer is not None]
    script = lower(nodes, g.outputs, native_fp16=True).func.script()
    assert "add_0" in script and "cast_1" in script, script
    assert not native_fp16(tvm.target.Target({"kind": "llvm", "mcpu": "skylake-avx512"}))
    assert native_fp16(tvm.target.Target({"kind": "llvm", "mcpu": "sapphirerapids"}))


@pytest.mark.parametrize("name", ["W2s", "W5s"])
def test_native_fp16_workloads_are_numpy_bit_for_bit(name):
    target = _native_target() or host_target()  # the host target again without AVX512-FP16
    x = inputs(name)
    out = tf.compile(graph(name), target=target)(**x)[0]
    np.testing.assert_array_equal(out.view(np.uint32), get(name).numpy(**x).view(np.uint32))


def test_no_rewrite_when_the_sum_is_also_an_output(rng):
    g = tf.Graph()
    a, b = g.input("a", (6, 131), "float16"), g.input("b", (131,), "float16")
    total = g.add(a, b)
    g.output(total, g.reduce_max(g.cast(total, "float32"), axes=[-1], keepdims=False))
    x, y = _values(rng, (6, 131), "add"), _values(rng, (131,), "add")
    total_out, max_out = tf.compile(g)(a=x, b=y)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = x + y
    np.testing.assert_array_equal(total_out, expected)
    clean = ~np.isnan(expected).any(axis=-1)
    np.testing.assert_array_equal(max_out[clean],
                                  expected.astype(np.float32).max(axis=-1)[clean])


@pytest.mark.parametrize("name", ["W2s", "W5s"])
def test_fp16_workloads_are_numpy_bit_for_bit(name):
    """W2s (max of fp16 sums, rounded once) and W5s (sum of fp16 sums, each rounded) give
    numpy's bits (W5's sum runs over axis 2 in order, as numpy's does)."""
    x = inputs(name)
    out = tf.compile(graph(name))(**x)[0]
    np.testing.assert_array_equal(out.view(np.uint32), get(name).numpy(**x).view(np.uint32))

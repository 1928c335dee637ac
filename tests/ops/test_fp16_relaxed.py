"""``compile(precision="relaxed")``: fp16 chains computed in f32, rounded where they leave.

Oracles: numpy computing the chain in f32 (what relaxed promises) and numpy rounding every
fp16 op (what exact keeps, bit for bit).
"""

from __future__ import annotations

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion.workloads import get, graph, inputs

F16, F32 = np.float16, np.float32


def _f32(*arrays):
    return [a.astype(F32) for a in arrays]


def test_w2s_relaxed_is_the_f32_chain_and_exact_stays_exact():
    x = inputs("W2s")
    exact = tf.compile(graph("W2s"))(**x)[0]
    relaxed = tf.compile(graph("W2s"), precision="relaxed")(**x)[0]
    a, b = _f32(x["a"], x["b"])
    # one f32 add and a max: the same operations as numpy's f32 chain
    np.testing.assert_array_equal(relaxed, (a + b).max(axis=-1))
    np.testing.assert_array_equal(exact, get("W2s").numpy(**x))
    np.testing.assert_allclose(relaxed, exact, rtol=2 ** -10)  # within one fp16 rounding
    assert (relaxed != exact).mean() > 0.2  # the per-element rounding is really skipped


def test_w5s_relaxed_sums_unrounded_values():
    x = inputs("W5s")
    exact = tf.compile(graph("W5s"))(**x)[0]
    relaxed = tf.compile(graph("W5s"), precision="relaxed")(**x)[0]
    t = np.transpose((x["x"].astype(F32) + x["b"].astype(F32)).sum(axis=2), (0, 2, 1))
    expected = x["cache"].copy()
    expected[x["slots"]] = t
    np.testing.assert_allclose(relaxed, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(exact, get("W5s").numpy(**x))
    np.testing.assert_allclose(relaxed, exact, rtol=2e-3, atol=2e-2)
    assert (relaxed != exact).mean() > 0.1


def test_p3s_has_no_fp16_arithmetic_so_relaxed_is_exact():
    """P3 casts to f32 first: relaxed builds the exact kernel (and applies the same records;
    without transfer, whose timed verdicts would differ by noise between the two compiles)."""
    x = inputs("P3s")
    exact_fn = tf.compile(graph("P3s"), tuning_logs="tuning_logs", transfer=False)
    relaxed_fn = tf.compile(graph("P3s"), precision="relaxed", tuning_logs="tuning_logs",
                            transfer=False)
    np.testing.assert_array_equal(relaxed_fn(**x)[0], exact_fn(**x)[0])
    assert relaxed_fn.notices == exact_fn.notices
    np.testing.assert_allclose(relaxed_fn(**x)[0].astype(F32), get("P3s").numpy(**x).astype(F32),
                               rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("shape", [(7, 61, 59), (13, 131)])
def test_fp16_output_is_rounded_once(rng, shape):
    """relu(a * b + c) with an fp16 output: f32 inside, one rounding at the output."""
    g = tf.Graph()
    a, b, c = (g.input(n, shape, "float16") for n in "abc")
    g.output(g.relu(g.add(g.mul(a, b), c)))
    x = {n: rng.uniform(-40, 40, size=shape).astype(F16) for n in "abc"}
    relaxed = tf.compile(g, precision="relaxed")(**x)[0]
    exact = tf.compile(g)(**x)[0]
    a32, b32, c32 = _f32(x["a"], x["b"], x["c"])
    once = np.maximum(a32 * b32 + c32, 0).astype(F16)
    assert relaxed.dtype == F16
    # equal to rounding the f32 chain once, but where LLVM fuses the multiply-add (FMA)
    assert (relaxed == once).mean() > 0.999
    np.testing.assert_allclose(relaxed.astype(F32), once.astype(F32), rtol=2 ** -10, atol=0)
    np.testing.assert_array_equal(exact, np.maximum(x["a"] * x["b"] + x["c"], F16(0)))
    assert (relaxed != exact).any()


def test_layout_passes_wide_values_and_a_scatter_gets_its_dtype(rng):
    """add -> transpose -> mul stays f32 through the transpose; the fp16 scatter's updates
    are rounded once, where the scatter needs them as fp16."""
    g = tf.Graph()
    a, b = g.input("a", (5, 3, 67), "float16"), g.input("b", (67,), "float16")
    w = g.input("w", (3, 5, 67), "float16")
    cache = g.input("cache", (11, 5, 67), "float16")
    slots = g.input("slots", (3, 1), "int64")
    t = g.mul(g.transpose(g.add(a, b), perm=(1, 0, 2)), w)
    g.output(g.scatter_nd(cache, slots, t))
    x = {"a": rng.uniform(-30, 30, (5, 3, 67)).astype(F16),
         "b": rng.uniform(-30, 30, (67,)).astype(F16),
         "w": rng.uniform(-3, 3, (3, 5, 67)).astype(F16),
         "cache": rng.uniform(-1, 1, (11, 5, 67)).astype(F16),
         "slots": np.array([[7], [0], [4]], np.int64)}
    relaxed = tf.compile(g, precision="relaxed")(**x)[0]
    a32, b32, w32 = _f32(x["a"], x["b"], x["w"])
    expected = x["cache"].copy()
    expected[[7, 0, 4]] = (np.transpose(a32 + b32, (1, 0, 2)) * w32).astype(F16)
    np.testing.assert_array_equal(relaxed, expected)
    exact = tf.compile(g)(**x)[0]
    expected[[7, 0, 4]] = np.transpose(x["a"] + x["b"], (1, 0, 2)) * x["w"]
    np.testing.assert_array_equal(exact, expected)
    assert (relaxed != exact).any()


def test_unfused_relaxed_rounds_at_every_kernel_boundary():
    """fuse=False: every op is a kernel whose fp16 output is stored, so relaxed == exact."""
    x = inputs("W2s")
    exact = tf.compile(graph("W2s"), fuse=False)(**x)[0]
    relaxed = tf.compile(graph("W2s"), fuse=False, precision="relaxed")(**x)[0]
    np.testing.assert_array_equal(relaxed, exact)


def test_relaxed_without_records_says_so():
    fn = tf.compile(graph("W2s"), precision="relaxed", tuning_logs="tuning_logs")
    assert len(fn.notices) == 1 and "precision='relaxed'" in fn.notices[0], fn.notices
    assert "default schedule" in fn.notices[0]


def test_unknown_precision_names_the_choices():
    with pytest.raises(ValueError, match=r"precision='fast'.*'exact', 'relaxed'"):
        tf.compile(graph("W2s"), precision="fast")


def test_random_chains_relaxed_stay_within_fp16_rounding():
    """Random chains of every op family (tests/test_random_chains.py's generator) compile
    relaxed and stay within fp16 rounding of the exact oracle; enough of them compute fp16
    arithmetic in f32 that the check means something."""
    from hypothesis import HealthCheck, given, settings

    from tests.test_random_chains import chains
    from tvm_fusion.ops.relaxed import computes_in_f32

    seen = {"chains": 0, "relaxed": 0}

    @settings(max_examples=80, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(chains())
    def check(c):
        seen["chains"] += 1
        nodes = [t.producer for t in c.graph.tensors.values() if t.producer is not None]
        seen["relaxed"] += any(computes_in_f32(n) for n in nodes)
        outs = tf.compile(c.graph, precision="relaxed")(**c.inputs)
        expected = tf.reference.evaluate(c.graph, c.inputs)
        for tensor, out in zip(c.graph.outputs, outs):
            want = expected[tensor.name]
            assert out.shape == want.shape and out.dtype == want.dtype, repr(c.graph)
            if out.dtype.kind == "f":
                np.testing.assert_allclose(out.astype(np.float64), want.astype(np.float64),
                                           rtol=2e-2, atol=2e-2, err_msg=repr(c.graph))
            else:
                np.testing.assert_array_equal(out, want, err_msg=repr(c.graph))

    check()
    assert seen["relaxed"] >= 10, seen

"""Fuzzing: random graphs over every op, fused and compiled, against numpy and the unfused path.

The default run checks ``DEFAULT_EXAMPLES`` derandomized examples (the same ones every run);
``pytest tests/fuzz --hypothesis-profile=long`` checks the ``long`` profile's count
(``tests/conftest.py``), freshly drawn. Regressions the fuzzer found are plain tests in
``test_fuzz_regressions.py``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings

import tvm_fusion as tf
from tvm_fusion.graph import FLOAT_DTYPES, SCATTER_OPS, SCATTER_REDUCTIONS
from tvm_fusion.inspect_ir import global_intermediates
from tvm_fusion.ops import OPS

from .builder import DTYPES, Case
from .graphs import graphs, not_covered
from .steps import ACCEPTS

DEFAULT_EXAMPLES = 50
LONG = settings.get_current_profile_name() == "long"


def _tolerance(values: dict[str, np.ndarray], live) -> tuple[float, float]:
    """(rtol, atol) for a value that is not bit-reproducible: errors scale with the largest
    float of the ``live`` tensors (cancellation; a dead node may hold anything, even an
    infinity: an atol of inf checks nothing); fp16 anywhere rounds coarser."""
    floats = [values[n].astype(np.float64) for n in live if str(values[n].dtype) in FLOAT_DTYPES]
    scale = max([1.0] + [float(np.max(np.abs(v), initial=0)) for v in floats])
    dtypes = {str(values[n].dtype) for n in live}
    rtol = 5e-2 if "bfloat16" in dtypes else 2e-2 if "float16" in dtypes else 1e-4
    return rtol, rtol * scale


def assert_same(actual, expected, *, exact: bool, tolerance, what: str) -> None:
    assert isinstance(actual, np.ndarray), f"{what}: got {type(actual).__name__}"
    assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape), \
        f"{what}: {actual.dtype}{actual.shape}, expected {expected.dtype}{expected.shape}"
    if exact or str(actual.dtype) not in FLOAT_DTYPES:
        np.testing.assert_array_equal(actual, expected, err_msg=what)
    else:
        rtol, atol = tolerance
        np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                                   rtol=rtol, atol=atol, err_msg=what)


def check(case: Case) -> None:
    """Fused and unfused results equal numpy's and each other's; inputs are left untouched,
    a second call returns the same, no template leaves an intermediate in global memory."""
    graph, inputs = case.graph, case.inputs
    values = tf.reference.evaluate(graph, inputs)
    tolerance = _tolerance(values, case.exact)  # the values the generator kept: in bounds
    kept = {name: array.copy() for name, array in inputs.items()}
    fused, unfused = tf.compile(graph), tf.compile(graph, fuse=False)
    got, baseline = fused(**inputs), unfused(**inputs)
    for name, array in kept.items():
        np.testing.assert_array_equal(inputs[name], array, err_msg=f"input '{name}' was written")
    again = fused(**inputs)
    for k, t in enumerate(graph.outputs):
        exact = case.exact.get(t.name, True)
        what = f"output '{t.name}' of\n{graph!r}"
        assert_same(got[k], values[t.name], exact=exact, tolerance=tolerance,
                    what=f"fused vs numpy: {what}")
        assert_same(baseline[k], values[t.name], exact=exact, tolerance=tolerance,
                    what=f"unfused vs numpy: {what}")
        assert_same(got[k], baseline[k], exact=exact, tolerance=tolerance,
                    what=f"fused vs unfused: {what}")
        np.testing.assert_array_equal(again[k], got[k], err_msg=f"second call: {what}")
    for kernel in fused.kernels:
        if kernel.schedule != "fallback":
            assert global_intermediates(kernel.scheduled) == [], kernel.scheduled.script()
    event(f"kernels fused: {len(fused.kernels)}, unfused: {len(unfused.kernels)}")
    for kind, detail in sorted(case.covered):
        if kind in ("graph", "duplicates", "indices"):
            event(f"{kind}: {detail}")


@settings(max_examples=settings().max_examples if LONG else DEFAULT_EXAMPLES, deadline=None,
          derandomize=not LONG, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs())
def test_random_graph_fused_matches_numpy_and_unfused(case: Case):
    check(case)


def expected_coverage() -> set[tuple[str, str]]:
    """Every op, every dtype as an operand, casts from and to every dtype, every scatter mode
    (with duplicates in the reducing ones), and the graph shapes the fuzzer is for.
    (Per (op, dtype) pair: ``steps.ACCEPTS``, drawn by the steps; not asserted, as with 13
    dtypes a default-sized run cannot meet every pair.)"""
    wanted = {("op", op) for op in OPS} | {("dtype", d) for d in DTYPES}
    wanted |= {("cast from", d) for d in DTYPES} | {("cast to", d) for d in DTYPES}
    for op in SCATTER_OPS:
        wanted |= {("scatter", f"{op}/{r}") for r in SCATTER_REDUCTIONS}
        wanted |= {("duplicates", f"{op}/{r}") for r in SCATTER_REDUCTIONS if r != "none"}
    wanted |= {("graph", g) for g in ("diamond", "several outputs", "intermediate output",
                                      "input as output", "scalar", "dead node")}
    return wanted | {("indices", "computed"), ("indices", "negative")}


def covered(seen: set) -> set[tuple[str, str]]:
    """``seen`` (op, detail) pairs as the kinds ``expected_coverage`` lists."""
    found = set(seen)
    for op, detail in seen:
        if op in OPS:
            found.add(("op", op))
            found.add(("dtype", detail.split("->")[0].split("/")[-1]))
        if op == "cast":
            source, target = detail.split("->")
            found |= {("cast from", source), ("cast to", target), ("dtype", target)}
        if op in SCATTER_OPS:
            found.add(("scatter", f"{op}/{detail.split('/')[0]}"))
    return found


def test_fuzzer_covers_every_op_dtype_and_graph_shape():
    assert not_covered() == [], f"ops not covered by the fuzzer: {not_covered()}"
    seen: set = set()

    @settings(max_examples=1500, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(graphs())
    def collect(case):
        seen.update(case.covered)

    collect()
    assert expected_coverage() - covered(seen) == set()
    assert {op for op, _ in seen if op in ACCEPTS} == set(ACCEPTS) & set(OPS)

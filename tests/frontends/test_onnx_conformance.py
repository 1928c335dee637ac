"""ONNX conformance: the node test cases shipped with the installed ``onnx`` package.

Scope: every case of ``onnx.backend.test.case.node.collect_testcases()`` whose graph uses only
op types ``from_onnx`` supports (function-expanded cases too, e.g. ``test_softmax_*_expanded``
is ReduceMax, Sub, Exp, ReduceSum and Div). Each in-scope case runs through ``from_onnx`` and
``tvm_fusion.compile`` and is compared with the expected outputs stored in the case (float16 and
float32 with the tolerances of ``tests.helpers``, everything else exactly), or it is listed in
``onnx_exclusions.EXCLUDED`` with its reason. A listed case must still be rejected with an
``OnnxImportError`` naming that reason, so an exclusion that starts passing fails as stale.
Shape / axes inputs of the cases are bound as constants (``from_onnx(constants=)``).
"""

from __future__ import annotations

import warnings

import onnx
import pytest
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases

import tvm_fusion as tf
from tests.frontends.onnx_exclusions import EXCLUDED
from tests.helpers import assert_same
from tvm_fusion.frontends import SUPPORTED_OPS, OnnxImportError, from_onnx, static_inputs


def _in_scope_cases() -> dict:
    with warnings.catch_warnings():  # the case generators overflow casts on purpose
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    supported = set(SUPPORTED_OPS)
    return {c.name: c for c in cases if {n.op_type for n in c.model.graph.node} <= supported}


CASES = _in_scope_cases()
RUN = [name for name in CASES if name not in EXCLUDED]
LISTED = [name for name in CASES if name in EXCLUDED and not EXCLUDED[name].startswith("slow: ")]
SLOW = [name for name in CASES if EXCLUDED.get(name, "").startswith("slow: ")]


def _arrays(values) -> list:
    return [numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else v for v in values]


def run_case(case, rtol=None) -> None:
    """Import, compile and run every data set of ``case``; compare with its expected outputs."""
    inputs_of = [i.name for i in case.model.graph.input]
    for inputs, expected in case.data_sets:
        feeds = dict(zip(inputs_of, _arrays(inputs)))
        graph = from_onnx(case.model,
                          constants={n: feeds[n] for n in static_inputs(case.model)})
        outputs = tf.compile(graph)(**{t.name: feeds[t.name] for t in graph.inputs})
        expected = _arrays(expected)
        assert len(outputs) == len(expected), f"{len(outputs)} outputs, expected {len(expected)}"
        for i, (got, want) in enumerate(zip(outputs, expected)):
            try:
                assert_same(got, want, rtol=rtol)
            except AssertionError as err:
                raise AssertionError(f"{case.name}: output {i} "
                                     f"'{case.model.graph.output[i].name}': {err}") from None


@pytest.mark.parametrize("name", RUN)
def test_node_case(name):
    run_case(CASES[name])


def _expected_fragment(reason: str) -> str:
    """What the import error must say for an exclusion reason (see onnx_exclusions)."""
    tag = reason.split(":")[0]
    if tag.startswith("dtype "):
        return f"ONNX type {tag.split()[1]}"
    if tag == "unsupported":
        return reason.split(": ", 1)[1]
    return {"zero-size": "zero-size", "sequence": "is a sequence_type",
            "optional": "is a optional_type", "dynamic": "must be a constant"}[tag]


@pytest.mark.parametrize("name", LISTED)
def test_excluded_case_is_still_rejected(name):
    if EXCLUDED[name].startswith("numerics: "):  # runs, and matches only the looser tolerance
        run_case(CASES[name], rtol=float(EXCLUDED[name].split(": ")[1]))
        with pytest.raises(AssertionError):
            run_case(CASES[name])
        return
    try:
        run_case(CASES[name])
    except OnnxImportError as err:
        assert _expected_fragment(EXCLUDED[name]) in str(err), (
            f"{name} is excluded for '{EXCLUDED[name]}' but fails for another reason:\n{err}")
    else:
        pytest.fail(f"{name} passes now but is listed in onnx_exclusions.EXCLUDED "
                    f"('{EXCLUDED[name]}'): remove the stale entry")


def test_cases_too_slow_to_run_are_few_and_named():
    """Not run: each is a known problem (docs/architecture.md) with its reason in EXCLUDED."""
    assert SLOW == ["test_celu_bfloat16_expanded"], SLOW


def test_every_exclusion_names_an_in_scope_case():
    stale = sorted(set(EXCLUDED) - set(CASES))
    assert not stale, (f"onnx_exclusions.EXCLUDED lists cases that are not in-scope node tests "
                       f"of onnx {onnx.__version__}: {stale}")


def test_every_supported_op_type_has_a_passing_case():
    covered = {n.op_type for name in RUN for n in CASES[name].model.graph.node}
    assert covered == set(SUPPORTED_OPS), f"no conformance case runs {set(SUPPORTED_OPS) - covered}"

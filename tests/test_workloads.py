"""W1..W5 and W1s..W5s end to end against the numpy written from the workload table."""

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion import workloads

NAMES = workloads.BASE + workloads.SMALL


def _tol(dtype):
    return dict(rtol=1e-3, atol=1e-2) if dtype == np.float16 else dict(rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_workload_matches_numpy(name):
    graph, arrays = workloads.load(name)
    (out,) = tf.compile(graph)(**arrays)
    expected = workloads.reference(name, arrays)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, **_tol(out.dtype))


@pytest.mark.parametrize("name", NAMES)
def test_reference_interpreter_agrees_with_workload_table(name):
    graph, arrays = workloads.load(name)
    (out,) = tf.reference.run(graph, arrays)
    np.testing.assert_allclose(out, workloads.reference(name, arrays), **_tol(out.dtype))


def test_large_forms_have_the_documented_shapes():
    expected = {
        "W1l": {"x": (64, 64, 64, 128)}, "W2l": {"a": (128, 512, 1024)},
        "W3l": {"x": (64, 512, 16, 64)},
        "W4l": {"data": (262144, 128), "idx": (16384,), "u": (16384, 128)},
        "W5l": {"x": (128, 64, 64, 128), "cache": (256, 128, 64), "slots": (128,)},
    }
    for name, shapes in expected.items():
        graph = workloads.graph(name)
        for key, shape in shapes.items():
            assert graph.tensors[key].shape == shape


@pytest.mark.parametrize("name", workloads.SMALL)
def test_small_forms_are_about_256_kib(name):
    graph = workloads.graph(name)
    largest = max(t.nbytes for t in graph.inputs)
    assert 128 * 1024 <= largest <= 512 * 1024


def test_index_inputs_are_unique_and_in_range():
    arrays = workloads.inputs("W4")
    assert len(np.unique(arrays["idx"])) == arrays["idx"].size
    assert arrays["idx"].min() >= 0 and arrays["idx"].max() < 65536


def test_unknown_workload_names_the_known_ones():
    with pytest.raises(KeyError, match="W5s"):
        workloads.load("W9")


@pytest.mark.parametrize("name", NAMES)
def test_onnx_export_matches_onnxruntime_and_the_graph(name):
    import onnxruntime as ort

    arrays = workloads.inputs(name)
    session = ort.InferenceSession(workloads.to_onnx(name).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    (out,) = session.run(None, arrays)
    # onnxruntime adds fp16 in fp32 (no fp16 rounding): fp16 tolerances
    np.testing.assert_allclose(out, workloads.reference(name, arrays), rtol=1e-2, atol=5e-2)

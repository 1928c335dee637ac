"""W1..W5, W1s..W5s and P1s..P5s end to end against the numpy written from the workload
table; the P forms' ONNX export against numpy with the ONNX reference evaluator."""

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tvm_fusion import workloads

NAMES = workloads.BASE + workloads.SMALL + workloads.PATTERNS_SMALL


def _tol(dtype):
    # f16 outputs (P3) are rounded from f32 math: one f16 ulp is ~1e-3 relative
    return {"rtol": 1e-2, "atol": 1e-2} if dtype == np.float16 else {"rtol": 1e-5, "atol": 1e-4}


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


PATTERN_SHAPES = {  # docs/workloads.md, P table: every input and the output
    "P1": {"x": (1024, 4096), "out": (1024, 4096)},
    "P1l": {"x": (8192, 4096), "out": (8192, 4096)},
    "P2": {"x": (4096, 768), "w": (768,), "b": (768,), "out": (4096, 768)},
    "P2l": {"x": (40960, 768), "w": (768,), "b": (768,), "out": (40960, 768)},
    "P3": {"x": (4096, 4096), "w": (4096,), "out": (4096, 4096)},
    "P3l": {"x": (16384, 4096), "w": (4096,), "out": (16384, 4096)},
    "P4": {"cache": (1, 32, 2048, 64), "k": (1, 8, 32, 64), "positions": (1, 8),
           "out": (1, 32, 2048, 64)},
    "P4s": {"cache": (1, 8, 128, 64), "k": (1, 4, 8, 64), "positions": (1, 4),
            "out": (1, 8, 128, 64)},
    "P4l": {"cache": (8, 32, 2048, 64), "k": (8, 8, 32, 64), "positions": (8, 8),
            "out": (8, 32, 2048, 64)},
    "P5": {"x": (16, 512, 512), "out": (16, 512, 512)},
    "P5l": {"x": (128, 512, 512), "out": (128, 512, 512)},
}


@pytest.mark.parametrize("name", sorted(PATTERN_SHAPES))
def test_pattern_base_and_large_forms_have_the_documented_shapes(name):
    graph = workloads.graph(name)
    shapes = {t.name: t.shape for t in graph.inputs} | {"out": graph.outputs[0].shape}
    assert shapes == PATTERN_SHAPES[name]
    dtypes = {t.name: t.dtype for t in graph.inputs} | {"out": graph.outputs[0].dtype}
    if name.startswith("P3"):
        assert dtypes == {"x": "float16", "w": "float16", "out": "float16"}
    elif name.startswith("P4"):
        assert dtypes == {"cache": "float32", "k": "float32", "positions": "int64",
                          "out": "float32"}
    else:
        assert set(dtypes.values()) == {"float32"}


@pytest.mark.parametrize("name", workloads.SMALL + workloads.PATTERNS_SMALL)
def test_small_forms_are_about_256_kib(name):
    graph = workloads.graph(name)
    largest = max(t.nbytes for t in graph.inputs)
    assert 128 * 1024 <= largest <= 512 * 1024


def test_index_inputs_are_unique_and_in_range():
    arrays = workloads.inputs("W4")
    assert len(np.unique(arrays["idx"])) == arrays["idx"].size
    assert arrays["idx"].min() >= 0 and arrays["idx"].max() < 65536


@pytest.mark.parametrize("name", ["P4s", "P4", "P4l"])
def test_kv_cache_positions_are_consecutive_and_in_range(name):
    arrays = workloads.inputs(name)
    positions, slots = arrays["positions"], arrays["cache"].shape[2]
    assert positions.dtype == np.int64
    np.testing.assert_array_equal(np.diff(positions, axis=-1), 1)
    assert positions.min() >= 0 and positions.max() < slots


def test_kv_cache_reference_writes_the_new_keys_and_keeps_the_rest():
    arrays = workloads.inputs("P4s")
    out = workloads.reference("P4s", arrays)
    cache, k, positions = arrays["cache"], arrays["k"], arrays["positions"]
    (start,) = positions[:, 0]
    np.testing.assert_array_equal(out[0, :, start:start + 4, :], k[0].transpose(1, 0, 2))
    untouched = np.ones(cache.shape[2], bool)
    untouched[positions[0]] = False
    np.testing.assert_array_equal(out[:, :, untouched], cache[:, :, untouched])


def test_unknown_workload_names_the_known_ones():
    with pytest.raises(KeyError, match="W5s"):
        workloads.load("W9")


@pytest.mark.parametrize("name", workloads.PATTERNS_SMALL)
def test_pattern_onnx_export_matches_numpy_under_the_onnx_reference(name):
    arrays = workloads.inputs(name)
    (out,) = ReferenceEvaluator(workloads.to_onnx(name)).run(None, arrays)
    expected = workloads.reference(name, arrays)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, **_tol(out.dtype))


@pytest.mark.parametrize("name", NAMES)
def test_onnx_export_matches_onnxruntime_and_the_graph(name):
    import onnxruntime as ort

    arrays = workloads.inputs(name)
    session = ort.InferenceSession(workloads.to_onnx(name).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    (out,) = session.run(None, arrays)
    # onnxruntime adds fp16 in fp32 (no fp16 rounding): fp16 tolerances
    np.testing.assert_allclose(out, workloads.reference(name, arrays), rtol=1e-2, atol=5e-2)

"""Real exporter output: PyTorch modules exported by both of its exporters at opset 18
(``torch_models/make_models.py`` made the files; CI needs no torch) import, compile and
match PyTorch's outputs saved beside them.

The modules: softmax, layer norm, RMS norm in fp16 (``nn.RMSNorm`` and by hand), tanh-GELU
with bias, masked softmax (``masked_fill`` and ``where``), rotary embedding (slices and
concat), a KV cache updated by ``index_copy`` / ``index_add``, channel shuffle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tvm_fusion as tf

HERE = Path(__file__).resolve().parent / "torch_models"
MANIFEST = json.loads((HERE / "manifest.json").read_text())
FILES = [(model, exporter, entry) for model, spec in sorted(MANIFEST["models"].items())
         for exporter, entry in sorted(spec["files"].items())]


def test_every_module_of_the_issue_has_files_from_both_exporters():
    exporters = {}
    for model, exporter, _ in FILES:
        exporters.setdefault(model.split("_fp16")[0], set()).add(exporter)
    for model in ("softmax", "layer_norm", "rms_norm_manual", "bias_gelu_tanh",
                  "masked_softmax_fill", "masked_softmax_where", "rotary", "rotary_partial",
                  "kv_cache_index_copy", "kv_cache_index_add", "channel_shuffle"):
        assert exporters[model] == {"torchscript", "dynamo"}, model


@pytest.mark.parametrize(("model", "exporter", "entry"), FILES,
                         ids=[f"{m}-{e}" for m, e, _ in FILES])
def test_exported_module_matches_pytorch(model, exporter, entry):
    graph = tf.from_onnx(HERE / entry["file"])
    fn = tf.compile(graph)
    with np.load(HERE / entry["npz"]) as data:
        inputs = {t.name: data[t.name] for t in graph.inputs}
        expected = [data[f"output_{i}"] for i in range(len(graph.outputs))]
    outputs = fn(**inputs)
    for got, want in zip(outputs, expected):
        assert got.shape == want.shape and got.dtype == want.dtype
        # fp16: PyTorch rounds where it rounds (nn.RMSNorm computes in f32), ONNX per op
        tol = 4e-3 if got.dtype == np.float16 else 2e-6
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                                   rtol=tol, atol=tol * max(1.0, float(np.abs(want).max())))

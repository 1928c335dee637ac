"""Malformed models a user can hand to ``tvm-fusion run/analyze/compile/tune``, one per kind.

Each maker writes its file (or folder) under ``folder`` and returns its path. The CLI tests run
every command on every kind and expect exit code 2, one message naming the problem, and no
traceback; ``MESSAGES`` holds a phrase each message must contain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, initializers=(), opset=18, domains=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "bad", inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, 1) for d in domains)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=9)


def _vi(name, shape, dtype=_F):
    return helper.make_tensor_value_info(name, dtype, shape)


def good_model() -> onnx.ModelProto:
    """y = Exp(x + b): a valid model the malformed ones start from."""
    b = numpy_helper.from_array(np.ones((4, 6), np.float32), "b")
    return _model([helper.make_node("Add", ["x", "b"], ["t"]), helper.make_node("Exp", ["t"], ["y"])],
                  [_vi("x", [4, 6])], [_vi("y", [4, 6])], [b])


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())  # no checker: these models are meant to be bad
    return path


def truncated(folder: Path) -> Path:
    data = good_model().SerializeToString()
    path = folder / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    return path


def text_file(folder: Path) -> Path:
    path = folder / "notes.onnx"
    path.write_text("this is a text file, not a model\n")
    return path


def binary_file(folder: Path) -> Path:
    path = folder / "random.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def empty_file(folder: Path) -> Path:
    path = folder / "empty.onnx"
    path.write_bytes(b"")
    return path


def directory(folder: Path) -> Path:
    path = folder / "folder.onnx"
    path.mkdir()
    return path


def missing_file(folder: Path) -> Path:
    return folder / "no-such-model.onnx"


def unknown_opset(folder: Path) -> Path:
    model = good_model()
    model.opset_import[0].version = 99
    return _save(model, folder / "opset99.onnx")


def unknown_domain(folder: Path) -> Path:
    node = helper.make_node("FancyOp", ["x"], ["y"], domain="com.example")
    return _save(_model([node], [_vi("x", [4, 6])], [_vi("y", [4, 6])], domains=["com.example"]),
                 folder / "domain.onnx")


def missing_input(folder: Path) -> Path:
    nodes = [helper.make_node("Add", ["x", "nowhere"], ["y"])]
    return _save(_model(nodes, [_vi("x", [4, 6])], [_vi("y", [4, 6])]), folder / "missing.onnx")


def missing_initializer(folder: Path) -> Path:
    model = good_model()
    del model.graph.initializer[:]
    return _save(model, folder / "no-initializer.onnx")


def cycle(folder: Path) -> Path:
    nodes = [helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Exp", ["a"], ["b"]),
             helper.make_node("Neg", ["b"], ["y"])]
    return _save(_model(nodes, [_vi("x", [4, 6])], [_vi("y", [4, 6])]), folder / "cycle.onnx")


def duplicate_names(folder: Path) -> Path:
    nodes = [helper.make_node("Exp", ["x"], ["t"]), helper.make_node("Neg", ["x"], ["t"]),
             helper.make_node("Abs", ["t"], ["y"])]
    return _save(_model(nodes, [_vi("x", [4, 6])], [_vi("y", [4, 6])]), folder / "duplicate.onnx")


def duplicate_inputs(folder: Path) -> Path:
    nodes = [helper.make_node("Add", ["x", "x"], ["y"])]
    return _save(_model(nodes, [_vi("x", [4, 6]), _vi("x", [4, 6])], [_vi("y", [4, 6])]),
                 folder / "duplicate-inputs.onnx")


def bad_dtype(folder: Path) -> Path:
    nodes = [helper.make_node("Exp", ["x"], ["y"])]  # Exp takes floats only
    return _save(_model(nodes, [_vi("x", [4, 6], TensorProto.INT32)],
                        [_vi("y", [4, 6], TensorProto.INT32)]), folder / "exp-int.onnx")


def int64_overflow(folder: Path) -> Path:
    nodes = [helper.make_node("Exp", ["x"], ["y"])]
    shape = [1 << 32, 1 << 32]  # 2**64 elements: does not fit int64
    return _save(_model(nodes, [_vi("x", shape)], [_vi("y", shape)]), folder / "overflow.onnx")


def too_big(folder: Path) -> Path:
    nodes = [helper.make_node("Exp", ["x"], ["y"])]
    shape = [1 << 20, 1 << 20, 1 << 10]  # 2**50 floats: 4 PiB per tensor
    return _save(_model(nodes, [_vi("x", shape)], [_vi("y", shape)]), folder / "huge.onnx")


MAKERS = {f.__name__: f for f in (truncated, text_file, binary_file, empty_file, directory,
                                  missing_file, unknown_opset, unknown_domain, missing_input,
                                  missing_initializer, cycle, duplicate_names, duplicate_inputs,
                                  bad_dtype, int64_overflow, too_big)}

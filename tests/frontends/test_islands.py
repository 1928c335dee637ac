"""``from_onnx(model, partial=True)``: the islands of a model with unsupported ops.

The check that matters: run the islands in order, with every cut node computed by
``onnx.reference``, and the model's outputs come out (each island compiled by tvm-fusion).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import tvm_fusion as tf
from tvm_fusion.apps.islands import island_oracle
from tvm_fusion.cli import main

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info(n, F, s)
                                           for n, s in inputs.items()],
                              [helper.make_tensor_value_info(n, F, s) for n, s in outputs.items()],
                              initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    onnx.checker.check_model(model)
    return model


def diamond_through_a_cut():
    """x+b -> exp = e; Hardmax(e) (unsupported) * 2 + e -> sigmoid = y; reduce_sum(x+b) = r."""
    shape = [5, 7]
    inits = [numpy_helper.from_array(np.linspace(-1, 1, 35, dtype=np.float32).reshape(5, 7), "b"),
             numpy_helper.from_array(np.full((5, 7), 2, np.float32), "two")]
    nodes = [helper.make_node("Add", ["x", "b"], ["t"]), helper.make_node("Exp", ["t"], ["e"]),
             helper.make_node("Hardmax", ["e"], ["f"]), helper.make_node("Mul", ["f", "two"], ["m"]),
             helper.make_node("Add", ["m", "e"], ["s"]), helper.make_node("Sigmoid", ["s"], ["y"]),
             helper.make_node("ReduceSum", ["t"], ["r"], keepdims=1)]
    return _model(nodes, {"x": shape}, {"y": shape, "r": [1, 1]}, inits)


def two_cuts_in_a_row():
    """a = relu(x); u = Hardmax(a); v = Cosh(u) (both unsupported; ops
    no converter is planned for); y = a + v, z = exp(a): the
    direct edge a -> y and the path a -> u -> v -> y mean y's node sits two levels below a's."""
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Hardmax", ["a"], ["u"]),
             helper.make_node("Cosh", ["u"], ["v"]), helper.make_node("Add", ["a", "v"], ["y"]),
             helper.make_node("Exp", ["a"], ["z"])]
    return _model(nodes, {"x": [3, 11]}, {"y": [3, 11], "z": [3, 11]})


def _run_through_islands(model, islands, feeds):
    """Every island compiled by tvm-fusion; every cut node by onnx.reference."""
    values = dict(feeds)
    in_island = {}
    for island in islands:
        for name in island.onnx_outputs:
            in_island[name] = island
    done = set()
    for node in model.graph.node:
        island = next((i for i in islands if node.output[0] in i.onnx_outputs or any(
            o in i.onnx_outputs for o in node.output)), None)
        if island is not None and island.name not in done and all(
                v in values for v in island.onnx_inputs):
            fn = tf.compile(island.graph)
            outputs = fn(**{t.name: values[o] for t, o in zip(island.graph.inputs,
                                                                 island.onnx_inputs)})
            values.update(zip(island.onnx_outputs, outputs))
            done.add(island.name)
        if all(o in values for o in node.output):
            continue
        if not all(v in values for v in node.input if v) or island is not None:
            continue  # inside an island whose inputs are not ready yet: computed later
        single = helper.make_model(helper.make_graph(
            [node], "one", [helper.make_tensor_value_info(v, F, None) for v in node.input],
            [helper.make_tensor_value_info(o, F, None) for o in node.output]),
            opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
        values.update(zip(node.output, ReferenceEvaluator(single).run(
            None, {v: values[v] for v in node.input})))
    return [values[o.name] for o in model.graph.output]


@pytest.mark.parametrize("make", [diamond_through_a_cut, two_cuts_in_a_row])
def test_islands_reproduce_the_model(make, rng):
    model = make()
    with pytest.raises(tf.OnnxImportError, match="unsupported op types"):
        tf.from_onnx(model)  # without partial=True: the one error of today
    islands = tf.from_onnx(model, partial=True)
    x = model.graph.input[0]
    shape = [d.dim_value for d in x.type.tensor_type.shape.dim]
    feeds = {x.name: rng.standard_normal(shape).astype(np.float32)}
    expected = ReferenceEvaluator(model).run(None, feeds)
    got = _run_through_islands(model, islands, feeds)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=2e-6, atol=1e-6)


def test_islands_split_at_levels():
    islands = tf.from_onnx(diamond_through_a_cut(), partial=True)
    assert [(i.onnx_ops, i.onnx_inputs, i.onnx_outputs) for i in islands] == [
        (("Add", "Exp", "ReduceSum"), ("x",), ("e", "r")),
        (("Mul", "Add", "Sigmoid"), ("f", "e"), ("y",))]
    assert islands.cut == [("Hardmax #2 (output 'f')", "unsupported op")]
    two = tf.from_onnx(two_cuts_in_a_row(), partial=True)
    assert [(i.onnx_ops, i.onnx_outputs) for i in two] == [(("Relu", "Exp"), ("a", "z")),
                                                           (("Add",), ("y",))]


def test_each_island_matches_its_extracted_model(rng):
    model = diamond_through_a_cut()
    for island in tf.from_onnx(model, partial=True):
        sub = island_oracle(model, island)
        arrays = {t.name: rng.standard_normal(t.shape).astype(np.float32)
                  for t in island.graph.inputs}
        got = tf.compile(island.graph)(**arrays)
        for e, g in zip(ReferenceEvaluator(sub).run(None, arrays), got):
            np.testing.assert_allclose(g, e, rtol=2e-6, atol=1e-6)


def test_cli_lists_ranks_and_compiles_islands(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(diamond_through_a_cut(), path)
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 island(s) of supported ops between 1 node(s)" in out
    first, second = out.index("1. island1: 3 node(s) (Mul, Add, Sigmoid)"), out.index(
        "2. island0: 3 node(s) (Add, Exp, ReduceSum)")
    assert first < second and "saves" in out and "Hardmax #2 (output 'f'): unsupported op" in out
    assert main(["analyze", str(path), "--island", "island0"]) == 0
    assert "split analysis of 'island0'" in capsys.readouterr().out
    assert main(["compile", str(path), "--island", "island1", "--no-logs", "--repeat", "2",
                 "-o", str(tmp_path / "isl")]) == 0
    out = capsys.readouterr().out
    assert "check against onnx.reference: ok" in out and (tmp_path / "isl.so").is_file()
    assert main(["compile", str(path), "--island", "nope"]) == 2
    assert "no such island; this model's islands: island0, island1" in capsys.readouterr().err

"""The reference workloads W1..W5 in three sizes (see docs/workloads.md).

``load(name)`` returns ``(graph, inputs)`` with random inputs from a fixed seed (index tensors
hold unique in-range values); ``reference(name, inputs)`` computes the expected outputs with
plain numpy written from the workload table, independently of the graph.

Sizes: base ``W1``..``W5`` (~10-70 MiB inputs, L3-resident when warm); ``s`` forms divide the
largest axes so inputs are ~256 KiB (on-chip); ``l`` forms multiply the leading axis so the
largest input is ~128 MiB (DDR-bound; for benchmarks, not tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .graph import Graph

SEED = 0


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    shapes: dict[str, tuple[int, ...]]  # input name -> shape
    dtypes: dict[str, str]
    build: Callable[[Graph, dict], None]
    numpy: Callable[..., np.ndarray]
    index_ranges: dict[str, str]  # index input -> the input/axis-0 it addresses


def _w1(g, x):
    g.output(g.transpose(g.reduce_sum(x["x"], axes=[2], keepdims=True), perm=(0, 3, 1, 2)))


def _w1_numpy(x):
    return np.transpose(x.sum(axis=2, keepdims=True, dtype=np.float32), (0, 3, 1, 2))


def _w2(g, x):
    g.output(g.reduce_max(g.cast(g.add(x["a"], x["b"]), "float32"), axes=[-1], keepdims=False))


def _w2_numpy(a, b):
    return (a + b).astype(np.float32).max(axis=-1)


def _w3(g, x):
    g.output(g.add(g.transpose(x["x"], perm=(0, 2, 1, 3)), x["bias"]))


def _w3_numpy(x, bias):
    return np.transpose(x, (0, 2, 1, 3)) + bias


def _w4(g, x):
    idx = g.reshape(x["idx"], (x["idx"].shape[0], 1))
    g.output(g.scatter_nd(x["data"], idx, g.add(x["u"], x["v"])))


def _w4_numpy(data, idx, u, v):
    out = data.copy()
    out[idx, :] = u + v
    return out


def _w5(g, x):
    t = g.cast(g.add(x["x"], x["b"]), "float32")
    t = g.transpose(g.reduce_sum(t, axes=[2], keepdims=False), perm=(0, 2, 1))
    slots = g.reshape(x["slots"], (x["slots"].shape[0], 1))
    g.output(g.scatter_nd(x["cache"], slots, t))


def _w5_numpy(x, b, cache, slots):
    t = np.transpose((x + b).astype(np.float32).sum(axis=2), (0, 2, 1))
    out = cache.copy()
    out[slots] = t
    return out


def _sizes(base: dict, small: dict, large: dict) -> dict:
    return {"": base, "s": small, "l": large}


_FAMILIES = {
    "W1": ("reduce_transpose", {"x": "float32"}, _w1, _w1_numpy, {}, _sizes(
        {"x": (8, 64, 64, 128)}, {"x": (8, 16, 16, 32)}, {"x": (64, 64, 64, 128)})),
    "W2": ("add_cast_reducemax", {"a": "float16", "b": "float16"}, _w2, _w2_numpy, {}, _sizes(
        {"a": (16, 512, 1024), "b": (1024,)}, {"a": (16, 64, 128), "b": (128,)},
        {"a": (128, 512, 1024), "b": (1024,)})),
    "W3": ("transpose_add", {"x": "float32", "bias": "float32"}, _w3, _w3_numpy, {}, _sizes(
        {"x": (4, 512, 16, 64), "bias": (64,)}, {"x": (4, 32, 16, 32), "bias": (32,)},
        {"x": (64, 512, 16, 64), "bias": (64,)})),
    "W4": ("scatter_rows", {"data": "float32", "idx": "int64", "u": "float32", "v": "float32"},
           _w4, _w4_numpy, {"idx": "data"}, _sizes(
        {"data": (65536, 128), "idx": (4096,), "u": (4096, 128), "v": (4096, 128)},
        {"data": (512, 128), "idx": (32,), "u": (32, 128), "v": (32, 128)},
        {"data": (262144, 128), "idx": (16384,), "u": (16384, 128), "v": (16384, 128)})),
    "W5": ("seed_chain", {"x": "float16", "b": "float16", "cache": "float32", "slots": "int64"},
           _w5, _w5_numpy, {"slots": "cache"}, _sizes(
        {"x": (8, 64, 64, 128), "b": (128,), "cache": (32, 128, 64), "slots": (8,)},
        {"x": (8, 16, 16, 64), "b": (64,), "cache": (32, 64, 16), "slots": (8,)},
        {"x": (128, 64, 64, 128), "b": (128,), "cache": (256, 128, 64), "slots": (128,)})),
}

WORKLOADS: dict[str, Workload] = {
    family + size: Workload(family + size, title, shapes, dtypes, build, numpy_fn, index_ranges)
    for family, (title, dtypes, build, numpy_fn, index_ranges, sizes) in _FAMILIES.items()
    for size, shapes in sizes.items()
}
BASE = ("W1", "W2", "W3", "W4", "W5")
SMALL = tuple(n + "s" for n in BASE)
LARGE = tuple(n + "l" for n in BASE)


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}") from None


def graph(name: str) -> Graph:
    """The workload's graph alone (no input data allocated)."""
    w = get(name)
    g = Graph(name)
    w.build(g, {k: g.input(k, shape, w.dtypes[k]) for k, shape in w.shapes.items()})
    return g


def inputs(name: str, seed: int = SEED) -> dict[str, np.ndarray]:
    """Random inputs (fixed seed); index inputs hold unique in-range row numbers."""
    w = get(name)
    rng = np.random.default_rng(seed)
    arrays = {}
    for key, shape in w.shapes.items():
        dtype = w.dtypes[key]
        if key in w.index_ranges:
            rows = w.shapes[w.index_ranges[key]][0]
            arrays[key] = rng.choice(rows, size=shape, replace=False).astype(dtype)
        else:
            arrays[key] = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    return arrays


def load(name: str, seed: int = SEED) -> tuple[Graph, dict[str, np.ndarray]]:
    """``(graph, inputs)`` for a workload: ``W1``..``W5``, ``W1s``..``W5s``, ``W1l``..``W5l``."""
    return graph(name), inputs(name, seed)


def reference(name: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The expected output, computed with numpy straight from the workload table."""
    w = get(name)
    return w.numpy(*(arrays[k] for k in w.shapes))


def to_onnx(name: str, path=None):
    """The workload as an ONNX model (the graph of the workload table), optionally saved.

    W1 = ReduceSum -> Transpose; W2 = Add -> Cast -> ReduceMax; W3 = Transpose -> Add;
    W4 = Add -> ScatterND(indices = idx[:, None]); W5 = Add -> Cast -> ReduceSum -> Transpose
    -> ScatterND(indices = slots[:, None]). Opset 18.
    """
    import onnx
    from onnx import TensorProto, helper

    w = get(name)
    kind = {"float16": TensorProto.FLOAT16, "float32": TensorProto.FLOAT,
            "int64": TensorProto.INT64}
    g = graph(name)
    (out,) = g.outputs
    inputs = [helper.make_tensor_value_info(k, kind[w.dtypes[k]], list(s))
              for k, s in w.shapes.items()]
    output = helper.make_tensor_value_info("out", kind[out.dtype], list(out.shape))
    const = [helper.make_tensor("axis2", TensorProto.INT64, [1], [2]),
             helper.make_tensor("axis_last", TensorProto.INT64, [1], [-1]),
             helper.make_tensor("unsq", TensorProto.INT64, [1], [1])]
    family = name[:2]
    node = helper.make_node
    nodes = {
        "W1": [node("ReduceSum", ["x", "axis2"], ["r"], keepdims=1),
               node("Transpose", ["r"], ["out"], perm=[0, 3, 1, 2])],
        "W2": [node("Add", ["a", "b"], ["s"]), node("Cast", ["s"], ["c"], to=TensorProto.FLOAT),
               node("ReduceMax", ["c", "axis_last"], ["out"], keepdims=0)],
        "W3": [node("Transpose", ["x"], ["t"], perm=[0, 2, 1, 3]),
               node("Add", ["t", "bias"], ["out"])],
        "W4": [node("Add", ["u", "v"], ["s"]), node("Unsqueeze", ["idx", "unsq"], ["i"]),
               node("ScatterND", ["data", "i", "s"], ["out"])],
        "W5": [node("Add", ["x", "b"], ["s"]), node("Cast", ["s"], ["c"], to=TensorProto.FLOAT),
               node("ReduceSum", ["c", "axis2"], ["r"], keepdims=0),
               node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
               node("Unsqueeze", ["slots", "unsq"], ["i"]),
               node("ScatterND", ["cache", "i", "t"], ["out"])],
    }[family]
    used = {i for n in nodes for i in n.input}
    const = [c for c in const if c.name in used]
    model = helper.make_model(helper.make_graph(nodes, name, inputs, [output], const),
                              opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = min(model.ir_version, 9)  # readable by older onnxruntime releases
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, str(path))
    return model

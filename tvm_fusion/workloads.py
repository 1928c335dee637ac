"""The reference workloads W1..W5 and the pattern workloads P1..P5, in three sizes each
(see docs/workloads.md).

``load(name)`` returns ``(graph, inputs)`` with random inputs from a fixed seed (index tensors
hold in-range values: unique row numbers, or runs of consecutive positions for P4);
``reference(name, inputs)`` computes the expected outputs with plain numpy written from the
workload table, independently of the graph.

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
P2_EPS, P3_EPS = 1e-5, 1e-6  # the epsilon of P2's layer norm and of P3's RMS norm


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    shapes: dict[str, tuple[int, ...]]  # input name -> shape
    dtypes: dict[str, str]
    build: Callable[[Graph, dict], None]
    numpy: Callable[..., np.ndarray]
    index_ranges: dict[str, IndexRange]  # index input -> what its values address


@dataclass(frozen=True)
class IndexRange:
    """What an index input's values address: axis ``axis`` of input ``data``.

    ``layout="unique"``: distinct positions drawn without replacement (W4's rows, W5's slots);
    ``layout="consecutive"``: along the index tensor's last axis a run ``start, start + 1, ...``
    with a random in-range ``start`` per leading entry (P4's token positions per batch).
    """

    data: str
    axis: int = 0
    layout: str = "unique"


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


def _p1(g, x):
    m = g.reduce_max(x["x"], axes=[-1], keepdims=True)
    e = g.exp(g.sub(x["x"], m))
    g.output(g.div(e, g.reduce_sum(e, axes=[-1], keepdims=True)))


def _p1_numpy(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _p2(g, x):
    d = g.sub(x["x"], g.reduce_mean(x["x"], axes=[-1], keepdims=True))
    var = g.reduce_mean(g.mul(d, d), axes=[-1], keepdims=True)
    std = g.sqrt(g.add(var, g.constant(np.float32(P2_EPS), name="eps")))
    g.output(g.add(g.mul(g.div(d, std), x["w"]), x["b"]))


def _p2_numpy(x, w, b):
    d = x - x.mean(axis=-1, keepdims=True)
    return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + np.float32(P2_EPS)) * w + b


def _p3(g, x):
    xf = g.cast(x["x"], "float32")
    mean_square = g.reduce_mean(g.mul(xf, xf), axes=[-1], keepdims=True)
    rms = g.sqrt(g.add(mean_square, g.constant(np.float32(P3_EPS), name="eps")))
    g.output(g.cast(g.mul(g.div(xf, rms), g.cast(x["w"], "float32")), "float16"))


def _p3_numpy(x, w):
    xf = x.astype(np.float32)
    rms = np.sqrt((xf * xf).mean(axis=-1, keepdims=True) + np.float32(P3_EPS))
    return (xf / rms * w.astype(np.float32)).astype(np.float16)


def _p4(g, x):
    batch, tokens = x["k"].shape[:2]
    k_t = g.transpose(x["k"], perm=(0, 2, 1, 3))  # (batch, heads, tokens, dim)
    idx = g.broadcast_to(g.reshape(x["positions"], (batch, 1, tokens, 1)), k_t.shape)
    g.output(g.scatter_elements(x["cache"], idx, k_t, axis=2))


def _p4_numpy(cache, k, positions):
    out = cache.copy()
    for b in range(k.shape[0]):
        for t in range(k.shape[1]):
            out[b, :, positions[b, t], :] = k[b, t, :, :]
    return out


def _p5(g, x):
    centred = g.sub(x["x"], g.reduce_mean(x["x"], axes=[-1], keepdims=True))
    g.output(g.transpose(centred, perm=(0, 2, 1)))


def _p5_numpy(x):
    return np.transpose(x - x.mean(axis=-1, keepdims=True), (0, 2, 1))


def _p4_shapes(batch: int, heads: int, positions: int, tokens: int) -> dict:
    return {"cache": (batch, heads, positions, 64), "k": (batch, tokens, heads, 64),
            "positions": (batch, tokens)}


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
           _w4, _w4_numpy, {"idx": IndexRange("data")}, _sizes(
        {"data": (65536, 128), "idx": (4096,), "u": (4096, 128), "v": (4096, 128)},
        {"data": (512, 128), "idx": (32,), "u": (32, 128), "v": (32, 128)},
        {"data": (262144, 128), "idx": (16384,), "u": (16384, 128), "v": (16384, 128)})),
    "W5": ("seed_chain", {"x": "float16", "b": "float16", "cache": "float32", "slots": "int64"},
           _w5, _w5_numpy, {"slots": IndexRange("cache")}, _sizes(
        {"x": (8, 64, 64, 128), "b": (128,), "cache": (32, 128, 64), "slots": (8,)},
        {"x": (8, 16, 16, 64), "b": (64,), "cache": (32, 64, 16), "slots": (8,)},
        {"x": (128, 64, 64, 128), "b": (128,), "cache": (256, 128, 64), "slots": (128,)})),
    "P1": ("softmax", {"x": "float32"}, _p1, _p1_numpy, {}, _sizes(
        {"x": (1024, 4096)}, {"x": (64, 1024)}, {"x": (8192, 4096)})),
    "P2": ("layer_norm", {"x": "float32", "w": "float32", "b": "float32"}, _p2, _p2_numpy, {},
           _sizes({"x": (4096, 768), "w": (768,), "b": (768,)},
                  {"x": (96, 768), "w": (768,), "b": (768,)},
                  {"x": (40960, 768), "w": (768,), "b": (768,)})),
    "P3": ("rms_norm", {"x": "float16", "w": "float16"}, _p3, _p3_numpy, {}, _sizes(
        {"x": (4096, 4096), "w": (4096,)}, {"x": (32, 4096), "w": (4096,)},
        {"x": (16384, 4096), "w": (4096,)})),
    "P4": ("kv_cache", {"cache": "float32", "k": "float32", "positions": "int64"}, _p4,
           _p4_numpy, {"positions": IndexRange("cache", axis=2, layout="consecutive")}, _sizes(
        _p4_shapes(1, 32, 2048, 8), _p4_shapes(1, 8, 128, 4), _p4_shapes(8, 32, 2048, 8))),
    "P5": ("center_transpose", {"x": "float32"}, _p5, _p5_numpy, {}, _sizes(
        {"x": (16, 512, 512)}, {"x": (4, 128, 128)}, {"x": (128, 512, 512)})),
}

WORKLOADS: dict[str, Workload] = {
    family + size: Workload(family + size, title, shapes, dtypes, build, numpy_fn, index_ranges)
    for family, (title, dtypes, build, numpy_fn, index_ranges, sizes) in _FAMILIES.items()
    for size, shapes in sizes.items()
}
BASE = ("W1", "W2", "W3", "W4", "W5")
SMALL = tuple(n + "s" for n in BASE)
LARGE = tuple(n + "l" for n in BASE)
PATTERNS = ("P1", "P2", "P3", "P4", "P5")
PATTERNS_SMALL = tuple(n + "s" for n in PATTERNS)
PATTERNS_LARGE = tuple(n + "l" for n in PATTERNS)


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}") from None


def shapes_of(name: str, shapes: dict | None = None) -> dict[str, tuple[int, ...]]:
    """The workload's input shapes, with ``shapes`` (input name -> shape) overriding some:
    e.g. ``{"x": (16, 64, 64, 128)}`` for a bigger W5 batch. Unknown names and shapes of
    another rank are refused (``ValueError``); whether the shapes fit together is the graph's
    to say (``GraphError`` from :func:`graph`)."""
    w = get(name)
    merged = dict(w.shapes)
    for key, shape in (shapes or {}).items():
        if key not in w.shapes:
            raise ValueError(f"workload {name}: no input {key!r} to reshape; its inputs: "
                             f"{', '.join(w.shapes)}")
        shape = tuple(shape)
        if len(shape) != len(w.shapes[key]) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            raise ValueError(f"workload {name}: input {key!r} takes {len(w.shapes[key])} "
                             f"positive integer dimensions (like {list(w.shapes[key])}), got "
                             f"{list(shape)}")
        merged[key] = shape
    return merged


def graph(name: str, shapes: dict | None = None) -> Graph:
    """The workload's graph alone (no input data allocated); ``shapes`` overrides input
    shapes (:func:`shapes_of`)."""
    w = get(name)
    g = Graph(name)
    w.build(g, {k: g.input(k, shape, w.dtypes[k])
                for k, shape in shapes_of(name, shapes).items()})
    return g


def inputs(name: str, seed: int = SEED, shapes: dict | None = None) -> dict[str, np.ndarray]:
    """Random inputs (fixed seed); index inputs hold in-range values laid out as their
    :class:`IndexRange` says (unique, or consecutive runs); ``shapes`` as for :func:`graph`."""
    w = get(name)
    rng = np.random.default_rng(seed)
    arrays = {}
    all_shapes = shapes_of(name, shapes)
    for key, shape in all_shapes.items():
        dtype = w.dtypes[key]
        if key in w.index_ranges:
            arrays[key] = _index_values(rng, w.index_ranges[key], shape,
                                        all_shapes).astype(dtype)
        else:
            arrays[key] = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    return arrays


def _index_values(rng, spec: IndexRange, shape, shapes) -> np.ndarray:
    extent = shapes[spec.data][spec.axis]
    if spec.layout == "unique":
        return rng.choice(extent, size=shape, replace=False)
    if spec.layout == "consecutive":
        run = shape[-1]
        starts = rng.integers(0, extent - run + 1, size=(*shape[:-1], 1))
        return starts + np.arange(run)
    raise ValueError(f"unknown index layout {spec.layout!r}; known: unique, consecutive")


def load(name: str, seed: int = SEED) -> tuple[Graph, dict[str, np.ndarray]]:
    """``(graph, inputs)`` for a workload: ``W1``..``W5`` or ``P1``..``P5``, each also with
    an ``s`` or ``l`` suffix (``W1s``, ``P4l``)."""
    return graph(name), inputs(name, seed)


def reference(name: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The expected output, computed with numpy straight from the workload table."""
    w = get(name)
    return w.numpy(*(arrays[k] for k in w.shapes))


def _pattern_constants(family: str, shapes: dict) -> list:
    """P2/P3's epsilon as an f32 scalar; P4's Reshape and Expand target shapes."""
    from onnx import TensorProto, helper

    if family in ("P2", "P3"):
        eps = P2_EPS if family == "P2" else P3_EPS
        return [helper.make_tensor("eps", TensorProto.FLOAT, [], [eps])]
    if family == "P4":
        batch, tokens, heads, dim = shapes["k"]
        return [helper.make_tensor("positions_shape", TensorProto.INT64, [4],
                                   [batch, 1, tokens, 1]),
                helper.make_tensor("index_shape", TensorProto.INT64, [4],
                                   [batch, heads, tokens, dim])]
    return []


def to_onnx(name: str, path=None):
    """The workload as an ONNX model (the graph of the workload table), optionally saved.

    W1 = ReduceSum -> Transpose; W2 = Add -> Cast -> ReduceMax; W3 = Transpose -> Add;
    W4 = Add -> ScatterND(indices = idx[:, None]); W5 = Add -> Cast -> ReduceSum -> Transpose
    -> ScatterND(indices = slots[:, None]). P1 = ReduceMax -> Sub -> Exp -> ReduceSum -> Div;
    P2 = ReduceMean -> Sub -> Mul -> ReduceMean -> Add(eps) -> Sqrt -> Div -> Mul -> Add;
    P3 = Cast -> Mul -> ReduceMean -> Add(eps) -> Sqrt -> Div -> Mul(Cast(w)) -> Cast;
    P4 = Transpose(k), Expand(Reshape(positions)) -> ScatterElements(axis=2);
    P5 = ReduceMean -> Sub -> Transpose. Opset 18; constants (axes, eps, shapes) are
    initializers.
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
    const += _pattern_constants(family, w.shapes)
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
        "P1": [node("ReduceMax", ["x", "axis_last"], ["m"], keepdims=1),
               node("Sub", ["x", "m"], ["d"]), node("Exp", ["d"], ["e"]),
               node("ReduceSum", ["e", "axis_last"], ["s"], keepdims=1),
               node("Div", ["e", "s"], ["out"])],
        "P2": [node("ReduceMean", ["x", "axis_last"], ["mean"], keepdims=1),
               node("Sub", ["x", "mean"], ["d"]), node("Mul", ["d", "d"], ["sq"]),
               node("ReduceMean", ["sq", "axis_last"], ["var"], keepdims=1),
               node("Add", ["var", "eps"], ["ve"]), node("Sqrt", ["ve"], ["std"]),
               node("Div", ["d", "std"], ["n"]), node("Mul", ["n", "w"], ["nw"]),
               node("Add", ["nw", "b"], ["out"])],
        "P3": [node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
               node("Mul", ["xf", "xf"], ["sq"]),
               node("ReduceMean", ["sq", "axis_last"], ["ms"], keepdims=1),
               node("Add", ["ms", "eps"], ["mse"]), node("Sqrt", ["mse"], ["rms"]),
               node("Div", ["xf", "rms"], ["n"]),
               node("Cast", ["w"], ["wf"], to=TensorProto.FLOAT), node("Mul", ["n", "wf"], ["nw"]),
               node("Cast", ["nw"], ["out"], to=TensorProto.FLOAT16)],
        "P4": [node("Transpose", ["k"], ["kt"], perm=[0, 2, 1, 3]),
               node("Reshape", ["positions", "positions_shape"], ["p"]),
               node("Expand", ["p", "index_shape"], ["idx"]),
               node("ScatterElements", ["cache", "idx", "kt"], ["out"], axis=2)],
        "P5": [node("ReduceMean", ["x", "axis_last"], ["mean"], keepdims=1),
               node("Sub", ["x", "mean"], ["d"]),
               node("Transpose", ["d"], ["out"], perm=[0, 2, 1])],
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

"""Run-time checks of user inputs, kept cheap because they sit on every call.

A compiled kernel does no bounds checking, so an out-of-range scatter index would silently
write outside the output. Before anything runs, every scatter index tensor is checked against
the extent of the data axis it addresses (ONNX's negative wrap applied).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Graph, Tensor, format_shape

LAYOUT_ONLY = ("reshape", "transpose", "broadcast_to")


class InputError(ValueError):
    """A call's inputs do not match the compiled graph (name, shape, dtype or index range)."""


@dataclass(frozen=True)
class IndexCheck:
    """Check ``tensor`` (a graph input, constant or intermediate) before ``scatter`` runs."""

    scatter: str
    op: str
    data: str
    tensor: str  # the tensor whose values are checked
    bounds: tuple[int, ...]  # extent of each addressed data axis (one entry: uniform bound)
    axes: tuple[int, ...]  # the data axes the bounds belong to

    def __call__(self, values: np.ndarray) -> None:
        k = len(self.bounds)
        flat = values.reshape(-1, k) if k > 1 else values.reshape(-1, 1)
        if flat.size == 0:
            return
        low, high = flat.min(axis=0), flat.max(axis=0)
        bounds = np.asarray(self.bounds)
        if np.all(low >= -bounds) and np.all(high < bounds):
            return
        bad = np.argwhere((flat < -bounds) | (flat >= bounds))[0]
        column = int(bad[1])
        where = np.unravel_index(int(bad[0]) * (k if k > 1 else 1) + (column if k > 1 else 0),
                                 values.shape)
        value, bound = int(flat[tuple(bad)]), self.bounds[column]
        raise InputError(
            f"{self.op} '{self.scatter}': index tensor '{self.tensor}' holds {value} at "
            f"{tuple(int(i) for i in where)}, expected in [{-bound}, {bound - 1}] (axis "
            f"{self.axes[column]} of data '{self.data}' has {bound} entries)"
        )


def index_checks(graph: Graph) -> list[IndexCheck]:
    """One check per scatter, placed on the earliest tensor that holds the same values."""
    checks = []
    for node in graph.nodes:
        if node.op not in ("scatter_nd", "scatter_elements"):
            continue
        data, indices, _ = node.inputs
        if node.op == "scatter_nd":
            axes = tuple(range(indices.shape[-1]))
        else:
            axes = (node.attrs["axis"],)
        bounds = tuple(data.shape[a] for a in axes)
        source = _layout_source(indices) if len(set(bounds)) == 1 else indices
        if len(set(bounds)) == 1:
            bounds, axes = bounds[:1], axes[:1]
        checks.append(IndexCheck(node.name, node.op, data.name, source.name, bounds, axes))
    return checks


def _layout_source(t: Tensor) -> Tensor:
    """Follow pure data-movement ops back: the value set (what a range check sees) is kept."""
    while t.producer is not None and t.producer.op in LAYOUT_ONLY:
        t = t.producer.inputs[0]
    return t


def check_input(graph_input: Tensor, value) -> np.ndarray:
    """``value`` as a numpy array if it matches the declared shape and dtype, else raise."""
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if str(array.dtype) != graph_input.dtype:
        raise InputError(
            f"input '{graph_input.name}': expected dtype {graph_input.dtype}, got {array.dtype} "
            f"(convert with .astype('{graph_input.dtype}'))")
    if array.shape != graph_input.shape:
        raise InputError(
            f"input '{graph_input.name}': expected shape {format_shape(graph_input.shape)}, got "
            f"{format_shape(array.shape)}")
    return array


def bind_arguments(graph: Graph, args: tuple, kwargs: dict) -> dict[str, np.ndarray]:
    """Map positional and keyword arguments to graph input names, checking each."""
    names = [t.name for t in graph.inputs]
    if len(args) > len(names):
        raise InputError(f"expected at most {len(names)} inputs ({', '.join(names)}), "
                         f"got {len(args)} positional arguments")
    bound = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in graph.tensors or graph.tensors[name] not in graph.inputs:
            raise InputError(f"unknown input '{name}'; the graph's inputs are: {', '.join(names)}")
        if name in bound:
            raise InputError(f"input '{name}' given both positionally and by name")
        bound[name] = value
    missing = [n for n in names if n not in bound]
    if missing:
        raise InputError(f"missing inputs: {', '.join(missing)} (expected: {', '.join(names)})")
    return {t.name: check_input(t, bound[t.name]) for t in graph.inputs}


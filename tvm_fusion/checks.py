"""Run-time checks of user inputs, kept cheap because they sit on every call.

A compiled kernel does no bounds checking, so an out-of-range scatter index would silently
write outside the output. Before anything runs, every scatter index tensor is checked against
the extent of the data axis it addresses (ONNX's negative wrap applied).

Buffer donation (``compile(donate=)``) is validated here too, in pure Python: ``donations``
refuses at compile time an input that a scatter could not safely update in place, and
``check_donated`` refuses at call time an array the kernel could not use as is (a silent
copy would break the promise that the caller's array is the one updated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import SCATTER_OPS, Graph, GraphError, Node, Tensor, format_shape

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
        if k == 1 and values.size:  # the common case, two reductions (on every call)
            bound = self.bounds[0]
            if values.min() >= -bound and values.max() < bound:
                return
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


def check_input(graph_input: Tensor, value, donated: bool = False) -> np.ndarray:
    """``value`` as a numpy array if it matches the declared shape and dtype, else raise.

    A donated input is updated in place, so it must already be a writeable, C-contiguous
    numpy array of the right dtype: converting it would update a copy the caller never sees.
    """
    if donated:
        return check_donated(graph_input, value)
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


def bind_arguments(graph: Graph, args: tuple, kwargs: dict,
                   donated: frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
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
    return {t.name: check_input(t, bound[t.name], t.name in donated) for t in graph.inputs}



# ----- buffer donation -------------------------------------------------------------------
_DONATE_HINT = "remove it from donate= (the scatter then writes a fresh output)"


@dataclass(frozen=True)
class Donation:
    """Graph input ``input`` is overwritten in place by ``scatter``: its buffer is ``output``."""

    input: str
    scatter: str
    output: str


def donations(graph: Graph, donate, nodes: list[Node] | None = None) -> tuple[Donation, ...]:
    """Validate ``donate`` (graph input names) and pair each with the scatter updating it.

    ``nodes`` are the nodes that run (default: all). A donated input must be the data input of
    exactly one scatter and read by nothing else (so nothing can see it overwritten), and that
    scatter's output must be a graph output (it is returned as the donated array).
    """
    if donate is None:
        return ()
    names = (donate,) if isinstance(donate, str) else tuple(donate)
    nodes = graph.nodes if nodes is None else nodes
    inputs = {t.name: t for t in graph.inputs}
    result, seen = [], set()
    for name in names:
        if not isinstance(name, str):
            raise GraphError(f"donate: expected graph input names, got {name!r}")
        if name in seen:
            raise GraphError(f"donate: input '{name}' is donated twice: list it once")
        seen.add(name)
        result.append(_donation(graph, inputs, nodes, name))
    return tuple(result)


def _donation(graph: Graph, inputs: dict[str, Tensor], nodes: list[Node], name: str) -> Donation:
    if name not in inputs:
        what = "a constant (constants are reused across calls)" if name in graph.constants \
            else "not a tensor of the graph" if name not in graph.tensors else "computed by an op"
        raise GraphError(f"donate: '{name}' is {what}, not a graph input; only a graph input "
                         f"can be donated (inputs: {', '.join(inputs) or 'none'})")
    tensor = inputs[name]
    readers = [n for n in nodes if any(t is tensor for t in n.inputs)]
    scatters = [n for n in readers if n.op in SCATTER_OPS and n.inputs[0] is tensor]
    if not scatters:
        read_by = ", ".join(f"{n.op} '{n.name}'" for n in readers) or "no op"
        raise GraphError(f"donate: input '{name}' is not the data input of a scatter (it is read "
                         f"by {read_by}); only the data of scatter_elements / scatter_nd can be "
                         f"updated in place: {_DONATE_HINT}")
    scatter = scatters[0]
    others = [f"{n.op} '{n.name}'" for n in readers if n is not scatter]
    if any(t is tensor for t in scatter.inputs[1:]):
        others.append(f"{scatter.op} '{scatter.name}' itself (as indices or updates)")
    if others:
        raise GraphError(f"donate: input '{name}' is updated in place by {scatter.op} "
                         f"'{scatter.name}' but also read by {', '.join(others)}, which could "
                         f"see it overwritten: {_DONATE_HINT}, or read the scatter's output "
                         "instead")
    if any(t is tensor for t in graph.outputs):
        raise GraphError(f"donate: input '{name}' is also a graph output, which would return "
                         f"it overwritten by {scatter.op} '{scatter.name}': {_DONATE_HINT}")
    out = scatter.output
    if not any(t is out for t in graph.outputs):
        raise GraphError(f"donate: the output '{out.name}' of {scatter.op} '{scatter.name}' "
                         f"(input '{name}' updated in place) is not a graph output, so the "
                         f"update would be lost: add it with graph.output(...) or {_DONATE_HINT}")
    if out.shape != tensor.shape or out.dtype != tensor.dtype:
        raise GraphError(f"donate: {scatter.op} '{scatter.name}' writes {out.dtype}"
                         f"{format_shape(out.shape)} but input '{name}' is {tensor.dtype}"
                         f"{format_shape(tensor.shape)}: {_DONATE_HINT}")
    return Donation(name, scatter.name, out.name)


def check_donated(graph_input: Tensor, value) -> np.ndarray:
    """A donated array is used as the kernel's output buffer as is: refuse what needs a copy."""
    name = graph_input.name
    if not isinstance(value, np.ndarray):
        raise InputError(f"donated input '{name}': expected a numpy array (it is updated in "
                         f"place and returned), got {type(value).__name__}")
    if str(value.dtype) != graph_input.dtype:
        raise InputError(f"donated input '{name}': expected dtype {graph_input.dtype}, got "
                         f"{value.dtype}; convert it once with .astype('{graph_input.dtype}') "
                         "and pass (and keep) the converted array")
    if value.shape != graph_input.shape:
        raise InputError(f"donated input '{name}': expected shape "
                         f"{format_shape(graph_input.shape)}, got {format_shape(value.shape)}")
    if not value.flags.writeable:
        raise InputError(f"donated input '{name}' is read-only: it is updated in place; pass a "
                         "writeable array (e.g. .copy())")
    if not (value.flags.c_contiguous and value.flags.aligned):
        raise InputError(f"donated input '{name}' is not a C-contiguous, aligned array (a "
                         "transposed or strided view?): it is updated in place, so pass "
                         "np.ascontiguousarray(x) once and keep using the array it returns")
    return value

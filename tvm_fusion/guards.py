"""What compile derives from a graph to guard every call: index checks and donations.

A compiled kernel does no bounds checking, so ``index_checks`` places one range check per
scatter and per gather on the earliest tensor holding its indices (``checks.IndexCheck`` runs it on every
call). ``donations`` validates ``compile(donate=)`` at compile time: it refuses an input that a
scatter could not safely update in place. The call-time halves live in ``checks.py``, which
imports nothing of the graph, so a loaded module (``tvm_fusion.load``) runs them without it.
"""

from __future__ import annotations

from .checks import Donation, IndexCheck, format_shape
from .graph import GATHER_OPS, SCATTER_OPS, Graph, GraphError, Node, Tensor

LAYOUT_ONLY = ("reshape", "transpose", "broadcast_to")
_DONATE_HINT = "remove it from donate= (the scatter then writes a fresh output)"


def index_checks(graph: Graph) -> list[IndexCheck]:
    """One check per scatter and per gather, placed on the earliest tensor that holds the same
    values (negative indices wrap, as in ONNX)."""
    checks = []
    for node in graph.nodes:
        if node.op not in SCATTER_OPS + GATHER_OPS:
            continue
        data, indices = node.inputs[:2]
        if node.op in ("scatter_nd", "gather_nd"):
            axes = tuple(range(indices.shape[-1]))
        else:
            axes = (node.attrs["axis"],)
        bounds = tuple(data.shape[a] for a in axes)
        source = _layout_source(indices) if len(set(bounds)) == 1 else indices
        if len(set(bounds)) == 1:
            bounds, axes = bounds[:1], axes[:1]
        checks.append(IndexCheck(node.name, node.op, data.name, source.name, bounds, axes))
    return checks


def check_memory(graph: Graph, needed: list[Node], available: int) -> None:
    """Refuse at compile time a graph whose call cannot fit in memory, naming its largest
    tensor: the inputs, outputs and constants a call holds at once, and any one intermediate.
    Nothing is allocated yet (numpy's ``_ArrayMemoryError`` would come at the first call)."""
    held = {t.name: t for t in (*graph.inputs, *graph.outputs)}
    held.update((name, graph.tensors[name]) for name in graph.constants)
    total = sum(t.nbytes for t in held.values())
    largest = max((*held.values(), *(n.output for n in needed)), key=lambda t: t.nbytes)
    if total <= available and largest.nbytes <= available:
        return
    kind = ("input" if largest in graph.inputs else "output" if largest in graph.outputs
            else "tensor")
    raise GraphError(f"graph '{graph.name}' needs {format_bytes(max(total, largest.nbytes))} "
                     f"for one call (largest: {kind} '{largest.name}' "
                     f"{format_shape(largest.shape)} {largest.dtype}, "
                     f"{format_bytes(largest.nbytes)}); this machine has "
                     f"{format_bytes(available)} of memory: compile it with smaller shapes "
                     "(pin dynamic ONNX dimensions with --shape NAME=D0,D1,...)")


def format_bytes(count: int) -> str:
    for unit, size in (("EiB", 2**60), ("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30),
                       ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit} ({count} bytes)"
    return f"{count} bytes"


def _layout_source(t: Tensor) -> Tensor:
    """Follow pure data-movement ops back: the value set (what a range check sees) is kept."""
    while t.producer is not None and t.producer.op in LAYOUT_ONLY:
        t = t.producer.inputs[0]
    return t


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

"""Partition a graph into fusion groups: maximal runs of nodes that lower to ONE kernel.

Pure Python. Nodes are visited in graph (topological) order and join the current group
unless a rule forces a cut; every cut records its reason, so the analysis can print why a
boundary exists. Current cut rules:

- a node reads the output of a scatter of the current group (a scatter's update block must be
  the last writer of its output, so a scatter ends its kernel);
- a scatter's indices are computed inside the current group and cannot be traced back to a
  graph input through pure data movement (see ``checks.index_checks``): they must be
  range-checked before the scatter runs, so they have to come from memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from .checks import index_checks
from .graph import Graph, Node, Tensor


@dataclass(frozen=True)
class FusionGroup:
    """Nodes that become one kernel, with the tensors crossing its boundary."""

    nodes: tuple[Node, ...]
    inputs: tuple[Tensor, ...]  # read from memory (graph inputs, constants, earlier groups)
    outputs: tuple[Tensor, ...]  # written to memory (graph outputs, read by later groups)
    cut_reason: str | None = None  # why the next group does not continue this one

    @property
    def name(self) -> str:
        return "+".join(n.op for n in self.nodes)


def _cut_before(node: Node, members: set[int], scatters: list[Node],
                checked: dict[str, Tensor]) -> str | None:
    for scatter in scatters:
        if any(t is scatter.output for t in node.inputs):
            return (f"'{node.name}' ({node.op}) reads the output of scatter '{scatter.name}': "
                    "a scatter ends its kernel")
    source = checked.get(node.name)
    if source is not None and source.producer is not None and id(source.producer) in members:
        return (f"indices of '{node.name}' are computed in the kernel ('{source.name}'): they "
                "must be range-checked in memory before the scatter runs")
    return None


def live_nodes(graph: Graph) -> list[Node]:
    """The nodes the outputs depend on, in graph order (dead branches are not compiled)."""
    live, stack = set(), list(graph.outputs)
    while stack:
        t = stack.pop()
        if t.producer is not None and id(t.producer) not in live:
            live.add(id(t.producer))
            stack.extend(t.producer.inputs)
    return [n for n in graph.nodes if id(n) in live]


def fuse(graph: Graph, nodes: list[Node] | None = None) -> list[FusionGroup]:
    """Split ``graph`` (or the given live ``nodes``) into fusion groups, in execution order."""
    nodes = list(graph.nodes if nodes is None else nodes)
    checked = {c.scatter: graph.tensors[c.tensor] for c in index_checks(graph)}
    runs: list[tuple[list[Node], str | None]] = []
    current: list[Node] = []
    members: set[int] = set()
    scatters: list[Node] = []
    for node in nodes:
        reason = _cut_before(node, members, scatters, checked) if current else None
        if reason:
            runs.append((current, reason))
            current, members, scatters = [], set(), []
        current.append(node)
        members.add(id(node))
        if node.op in ("scatter_nd", "scatter_elements"):
            scatters.append(node)
    if current:
        runs.append((current, None))
    return [_group(run, reason, nodes, graph) for run, reason in runs]


def _group(run: list[Node], reason: str | None, all_nodes: list[Node], graph: Graph):
    inside = {id(n) for n in run}
    produced = {id(n.output) for n in run}
    inputs, seen = [], set()
    for node in run:
        for t in node.inputs:
            if id(t) not in produced and id(t) not in seen:
                seen.add(id(t))
                inputs.append(t)
    used_later = {id(t) for n in all_nodes if id(n) not in inside for t in n.inputs}
    graph_outputs = {id(t) for t in graph.outputs}
    outputs = [n.output for n in run if id(n.output) in used_later | graph_outputs]
    return FusionGroup(tuple(run), tuple(inputs), tuple(outputs), reason)

"""Partition a graph into fusion groups: connected sets of nodes that lower to ONE kernel.

Pure Python. A group is a connected component of the producer -> consumer edges between
nodes (two nodes that merely read the same graph input are not connected by that), so
independent subgraphs of one model become independent kernels, each matched to its own
template. Nodes are visited in graph (topological) order; a node joins the groups of its
producers unless a rule keeps them apart, and every edge left between two groups records its
reason, so the analysis can print why a boundary exists. Rules:

- a node reads the output of a scatter (a scatter's update block must be the last writer of
  its output, so a scatter ends its kernel);
- a scatter's or gather's indices are computed in the kernel and cannot be traced back to a
  graph input through pure data movement (see ``guards.index_checks``): they must be
  range-checked before the scatter writes or the gather reads, so they have to come from
  memory (the scatter or gather, and the data movement between the checked tensor and it,
  stay out of the group that computes them; clamping instead would hide a wrong index);
- a gather reads the result of a reduction computed in the kernel (at data-dependent
  positions, so no template can compute the reduction per output tile: it must be complete
  in memory first);
- joining would make two groups wait on each other (a group must run after every group whose
  outputs it reads, so the groups stay in a valid execution order).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from .graph import Graph, GraphError, Node, Tensor
from .guards import index_checks

SCATTERS = ("scatter_nd", "scatter_elements")
GATHERS = ("gather", "gather_elements", "gather_nd")


@dataclass(frozen=True)
class FusionGroup:
    """Nodes that become one kernel, with the tensors crossing its boundary."""

    nodes: tuple[Node, ...]
    inputs: tuple[Tensor, ...]  # read from memory (graph inputs, constants, earlier groups)
    outputs: tuple[Tensor, ...]  # written to memory (graph outputs, read by later groups)
    cut_reason: str | None = None  # why the groups reading this one's outputs do not join it

    @property
    def name(self) -> str:
        return "+".join(n.op for n in self.nodes)


def live_nodes(graph: Graph) -> list[Node]:
    """The nodes the outputs depend on, in graph order (dead branches are not compiled)."""
    live, stack = set(), list(graph.outputs)
    while stack:
        t = stack.pop()
        if t.producer is not None and id(t.producer) not in live:
            live.add(id(t.producer))
            stack.extend(t.producer.inputs)
    return [n for n in graph.nodes if id(n) in live]


def _kept_apart(graph: Graph, nodes: list[Node]) -> dict[int, list[tuple[Node, str]]]:
    """id(node) -> the nodes it may never share a group with, and why (symmetric)."""
    inside = {id(n) for n in nodes}
    apart: dict[int, list[tuple[Node, str]]] = {}

    def keep_apart(a: Node, b: Node, reason: str) -> None:
        apart.setdefault(id(a), []).append((b, reason))
        apart.setdefault(id(b), []).append((a, reason))

    for node in nodes:
        for t in node.inputs:
            if t.producer is not None and t.producer.op in SCATTERS and id(t.producer) in inside:
                keep_apart(node, t.producer,
                           f"'{node.name}' ({node.op}) reads the output of scatter "
                           f"'{t.producer.name}': a scatter ends its kernel")
        if node.op in GATHERS:
            for reduction in _reductions_feeding(node.inputs[0], inside):
                keep_apart(node, reduction,
                           f"'{node.name}' ({node.op}) reads the result of {reduction.op} "
                           f"'{reduction.name}' at data-dependent positions: the reduction "
                           "must be complete in memory first")
    by_name = {n.name: n for n in nodes}
    for check in index_checks(graph):
        scatter = by_name.get(check.scatter)
        source = graph.tensors[check.tensor]
        if scatter is None or source.producer is None or id(source.producer) not in inside:
            continue
        when = "the gather reads" if scatter.op.startswith("gather") else "the scatter runs"
        reason = (f"indices of '{scatter.name}' are computed in the kernel ('{source.name}'): "
                  f"they must be range-checked in memory before {when}")
        keep_apart(source.producer, scatter, reason)
        t = scatter.inputs[1]
        while t is not source:  # the data movement between the checked tensor and the scatter
            keep_apart(source.producer, t.producer, reason)
            t = t.producer.inputs[0]
    return apart


def _reductions_feeding(t: Tensor, inside: set[int]) -> list[Node]:
    """The reductions (of at least one axis) ``t`` is computed from inside the kernel."""
    found, stack, seen = [], [t], set()
    while stack:
        t = stack.pop()
        node = t.producer
        if node is None or id(node) not in inside or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op.startswith("reduce_") and node.attrs["axes"]:
            found.append(node)
        else:
            stack.extend(node.inputs)
    return found


class _Partition:
    """Groups under construction: members, and which groups read which (a DAG)."""

    def __init__(self, nodes: list[Node], apart: dict[int, list[tuple[Node, str]]]) -> None:
        self.order = {id(n): i for i, n in enumerate(nodes)}
        self.group_of: dict[int, int] = {}
        self.members: dict[int, list[Node]] = {}
        self.apart: dict[int, dict[int, str]] = {}  # group -> nodes kept out of it, and why
        self.rules = apart
        self.readers: dict[int, set[int]] = {}  # group -> the groups reading its outputs
        self.cuts: dict[tuple[int, int], str] = {}  # (id(producer), id(consumer)) -> reason
        self.created = 0

    def producers(self, node: Node) -> list[Node]:
        return [t.producer for t in node.inputs
                if t.producer is not None and id(t.producer) in self.order]

    def add(self, node: Node) -> None:
        """Put ``node`` in the union of every producer group it may join (a new group else)."""
        producers = self.producers(node)
        sources = {self.group_of[id(p)] for p in producers}
        latest_first = sorted(sources, key=lambda g: -self.order[id(self.members[g][-1])])
        joined: list[int] = []
        for g in latest_first:
            reason = self._conflict(node, g, joined) or \
                self._cycle(node, set(joined) | {g}, sources)
            if reason is None:
                joined.append(g)
                continue
            for p in producers:
                if self.group_of[id(p)] == g:
                    self.cuts[(id(p), id(node))] = reason
        gid = self._merge(joined) if joined else self._new()
        self.members[gid].append(node)
        self.group_of[id(node)] = gid
        self.apart[gid].update((id(other), why) for other, why in self.rules.get(id(node), ()))
        for g in sources - set(joined):  # the groups it could not join run before it
            self.readers[g].add(gid)

    def _new(self) -> int:
        gid, self.created = self.created, self.created + 1
        self.members[gid], self.readers[gid], self.apart[gid] = [], set(), {}
        return gid

    def _conflict(self, node: Node, g: int, joined: list[int]) -> str | None:
        """A rule that keeps a member of group ``g`` apart from the group being formed."""
        for other, reason in self.apart[g].items():
            if other == id(node) or self.group_of.get(other) in joined:
                return reason
        return None

    def _cycle(self, node: Node, merged: set[int], sources: set[int]) -> str | None:
        """Whether merging ``merged`` with ``node`` makes two groups depend on each other."""
        stack = [r for g in merged for r in self.readers[g] if r not in merged]
        seen = set(stack)
        while stack:
            g = stack.pop()
            if g in sources or self.readers[g] & merged:
                return (f"'{node.name}' ({node.op}) also reads, through another kernel, what "
                        "this one writes: joining would make the two kernels wait on each "
                        "other")
            for r in self.readers[g] - seen:
                seen.add(r)
                stack.append(r)
        return None

    def _merge(self, joined: list[int]) -> int:
        gid, rest = joined[0], set(joined[1:])
        if not rest:
            return gid
        for g in rest:
            for m in self.members[g]:
                self.group_of[id(m)] = gid
            self.members[gid] += self.members.pop(g)
            self.readers[gid] |= self.readers.pop(g)
            self.apart[gid].update(self.apart.pop(g))
        self.readers[gid] -= rest | {gid}
        for readers in self.readers.values():
            if readers & rest:
                readers -= rest
                readers.add(gid)
        self.members[gid].sort(key=lambda m: self.order[id(m)])
        return gid

    def execution_order(self) -> list[int]:
        """Groups after every group they read; ties by their first node in graph order."""
        pending = {g: 0 for g in self.members}
        for readers in self.readers.values():
            for r in readers:
                pending[r] += 1
        first = {g: self.order[id(m[0])] for g, m in self.members.items()}
        ready = [(first[g], g) for g, n in pending.items() if n == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, g = heapq.heappop(ready)
            order.append(g)
            for r in self.readers[g]:
                pending[r] -= 1
                if pending[r] == 0:
                    heapq.heappush(ready, (first[r], r))
        assert len(order) == len(self.members), "fusion groups depend on each other"
        return order

    def cut_reasons(self) -> dict[int, str]:
        """Group -> why the groups reading its outputs do not continue it."""
        reasons: dict[int, dict[str, None]] = {}
        for (producer, consumer), why in self.cuts.items():
            g = self.group_of[producer]
            if self.group_of[consumer] != g:  # else a later merge joined them after all
                reasons.setdefault(g, {})[why] = None
        return {g: "; ".join(whys) for g, whys in reasons.items()}


def fuse(graph: Graph, nodes: list[Node] | None = None) -> list[FusionGroup]:
    """Split ``graph`` (or the given live ``nodes``) into fusion groups, in execution order.

    Parameters
    ----------
    graph : Graph
        The graph to partition.
    nodes : list of Node, optional
        The nodes to partition, in graph order (default: all; ``live_nodes(graph)`` is what
        ``compile`` builds).

    Returns
    -------
    list of FusionGroup
        The connected groups of nodes, each group after every group whose outputs it reads;
        ``cut_reason`` says why the groups reading a group's outputs do not continue it.

    Raises
    ------
    GraphError
        The graph has no outputs (nothing would be computed).
    """
    if not graph.outputs:  # no live nodes: nothing to fuse (compile refuses the same)
        raise GraphError(f"graph '{graph.name}' has no outputs: call graph.output(tensor) first")
    nodes = list(graph.nodes if nodes is None else nodes)
    partition = _Partition(nodes, _kept_apart(graph, nodes))
    for node in nodes:
        partition.add(node)
    reasons = partition.cut_reasons()
    return [_group(partition.members[g], reasons.get(g), nodes, graph)
            for g in partition.execution_order()]


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

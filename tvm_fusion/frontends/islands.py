"""Whole models with unsupported ops: ``from_onnx(model, partial=True)`` returns the islands.

An island is a maximal set of supported nodes that can run as one graph between the
unsupported ones. Every node the importer cannot take (an unknown op type, a conversion that
fails) is cut out: its outputs become inputs of the islands that read them (with the shape and
dtype ONNX shape inference gives), and the values it reads become outputs of the islands that
produce them. Islands never form a cycle through the cut nodes: each supported node has a
*level*, the number of cut nodes on the longest path from the model's inputs to it, and an
island joins connected nodes of one level only (a path leaving an island through a cut node
and coming back would arrive one level higher).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from ..graph import Graph, Node, Tensor
from .converters import DTYPES


@dataclass(frozen=True)
class Island:
    """One supported subgraph: ``graph``'s inputs and outputs are its boundary tensors.

    ``onnx_inputs`` / ``onnx_outputs`` name the model's values at the boundary (for
    ``onnx.utils.extract_model``, e.g. to check the island against ``onnx.reference``);
    ``onnx_ops`` the op types of its ONNX nodes in node order.
    """

    name: str
    graph: Graph
    onnx_ops: tuple[str, ...]
    onnx_inputs: tuple[str, ...]
    onnx_outputs: tuple[str, ...]


class Islands(list):
    """The islands in model order; ``cut``: ``(node, why)`` of every node cut out."""

    def __init__(self, islands, cut) -> None:
        super().__init__(islands)
        self.cut = list(cut)


def partial_importer(base):
    """The importer class of ``onnx.py`` extended to cut unsupported nodes out (a function, so
    this module does not import ``onnx.py``, which imports it)."""

    class PartialImporter(base):
        def __init__(self, model: onnx.ModelProto, constants: dict) -> None:
            super().__init__(model, constants)
            self.level: dict[str, int] = {}  # ONNX value -> cut nodes above it
            self.node_level: dict[int, int] = {}  # supported ONNX node index -> its level
            self.node_of: dict[str, int] = {}  # graph node name -> ONNX node index
            self.cut_reads: set[str] = set()  # ONNX values read by cut nodes
            self.cut: list[tuple[str, str]] = []  # (node, why) of every cut node

        def _node(self, index: int, node: onnx.NodeProto) -> None:
            level = max((self.level.get(v, 0) for v in node.input if v), default=0)
            start, problems = len(self.g.nodes), (len(self.unsupported), len(self.problems))
            outputs = [o for o in node.output if o]
            super()._node(index, node)
            if (len(self.unsupported), len(self.problems)) == problems and \
                    not any(o in self.missing for o in outputs):
                self.node_level[index] = level
                self.node_of.update((n.name, index) for n in self.g.nodes[start:])
                self.level.update((o, level) for o in outputs)
                return
            why = ("unsupported op" if len(self.unsupported) > problems[0] else
                   self.problems[-1] if len(self.problems) > problems[1] else
                   "an input comes from a node that could not be cut out")
            del self.unsupported[problems[0]:], self.problems[problems[1]:]
            self.cut.append((f"{node.op_type} {_node_label(index, node)}", why))
            self.cut_reads.update(v for v in node.input if v)
            for name in outputs:
                self.level[name] = level + 1
                self._placeholder(name)

        def _placeholder(self, name: str) -> None:
            """A cut node's output becomes a graph input when its type is known and static."""
            vi = self.inferred.get(name)
            tt = vi.type.tensor_type if vi is not None and \
                vi.type.WhichOneof("value") == "tensor_type" else None
            if tt is None or tt.elem_type not in DTYPES or not tt.HasField("shape") or \
                    not all(d.HasField("dim_value") and d.dim_value > 0 for d in tt.shape.dim):
                self.missing.add(name)  # its readers are cut too
                return
            self.missing.discard(name)
            shape = tuple(d.dim_value for d in tt.shape.dim)
            self.values[name] = self.g.input(self.claim(name), shape, DTYPES[tt.elem_type])

        def islands(self) -> Islands:
            self._sources()
            if self.dynamic or self.problems:  # inputs must be importable: say so, as run()
                raise self._error()
            for index, node in enumerate(self.graph.node):
                self._node(index, node)
            return Islands(_islands(self), self.cut)

    return PartialImporter


def _islands(imp) -> list[Island]:
    nodes = [n for n in imp.g.nodes if n.name in imp.node_of]
    parent = {n.name: n.name for n in nodes}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    first_of: dict[int, str] = {}
    for n in nodes:
        index = imp.node_of[n.name]
        parent[find(n.name)] = find(first_of.setdefault(index, n.name))  # one ONNX node
        for t in n.inputs:
            p = t.producer
            if p is not None and p.name in parent and \
                    imp.node_level[imp.node_of[p.name]] == imp.node_level[index]:
                parent[find(n.name)] = find(p.name)
    members: dict[str, list[Node]] = {}
    for n in nodes:
        members.setdefault(find(n.name), []).append(n)
    onnx_name = {t.name: name for name, t in imp.values.items() if isinstance(t, Tensor)}
    model_outputs = {imp.values[o.name].name for o in imp.graph.output if o.name in imp.values}
    cut_reads = {imp.values[v].name for v in imp.cut_reads if v in imp.values}
    readers: dict[str, set[str]] = {}
    for n in nodes:
        for t in n.inputs:
            readers.setdefault(t.name, set()).add(find(n.name))
    islands = []
    for k, (root, run) in enumerate(members.items()):
        produced = [n.output for n in run]
        outputs = [t for t in produced if t.name in model_outputs or t.name in cut_reads
                   or readers.get(t.name, set()) - {root}]
        if not outputs:
            continue  # nothing it computes is used
        graph, inputs = _extract(imp.g, run, outputs, f"island{k}")
        ops = []
        for n in run:
            op = imp.graph.node[imp.node_of[n.name]].op_type
            if not ops or ops[-1][1] != imp.node_of[n.name]:
                ops.append((op, imp.node_of[n.name]))
        islands.append(Island(graph.name, graph, tuple(op for op, _ in ops),
                              tuple(onnx_name.get(t, t) for t in inputs),
                              tuple(onnx_name.get(t.name, t.name) for t in outputs)))
    return islands


def _extract(g: Graph, run: list[Node], outputs: list[Tensor], name: str):
    """A new graph of ``run``'s nodes: what they read from outside becomes its inputs (or
    constants), ``outputs`` its outputs. Nodes are copied as built (already validated)."""
    sub = Graph(name)
    mapping: dict[str, Tensor] = {}
    inputs = []
    for node in run:
        args = []
        for t in node.inputs:
            if t.name not in mapping:
                if t.name in g.constants:
                    mapping[t.name] = sub.constant(np.array(g.constants[t.name]), name=t.name)
                else:
                    mapping[t.name] = sub.input(t.name, t.shape, t.dtype)
                    inputs.append(t.name)
            args.append(mapping[t.name])
        mapping[node.output.name] = sub._add_node(node.op, node.name, args, node.attrs,
                                                  node.output.shape, node.output.dtype)
    sub.output(*(mapping[t.name] for t in outputs))
    return sub, inputs


def _node_label(index: int, node: onnx.NodeProto) -> str:
    return f"'{node.name}'" if node.name else f"#{index} (output '{node.output[0]}')"

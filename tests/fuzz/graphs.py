"""Hypothesis strategy ``graphs()``: random DAGs over every op of ``tvm_fusion.ops.OPS``.

Every step draws an op from the registry (so a new op without a step in ``steps.STEPS``
fails loudly) and adds it with operands from everything built so far (``builder.py``). The
outputs are the last value, about half of the values nothing reads, and up to two others:
intermediates that other nodes read too, graph inputs or constants.
"""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

import tvm_fusion as tf
from tvm_fusion.graph import SCATTER_OPS
from tvm_fusion.ops import OPS
from tvm_fusion.ops.bfloat16 import rounds_per_op

from .builder import DTYPES, Builder, Case
from .steps import STEPS


def not_covered() -> list[str]:
    """Ops of the registry the fuzzer has no step for."""
    return sorted(set(OPS) - set(STEPS))


def step(b: Builder, op: str):
    if op not in STEPS:
        raise AssertionError(f"op '{op}' is not covered by the fuzzer: add a step for it to "
                             f"STEPS in tests/fuzz/steps.py")
    return STEPS[op](b, op)


def diamonds(graph: tf.Graph) -> int:
    """Nodes that join two different values with a common ancestor."""
    ancestors: dict[str, frozenset] = {}
    count = 0
    for node in graph.nodes:
        seen = [ancestors.get(t.name, frozenset()) | {t.name} for t in node.inputs]
        if len({t.name for t in node.inputs}) > 1 and any(
                seen[i] & seen[j] for i in range(len(seen)) for j in range(i)):
            count += 1
        ancestors[node.name] = frozenset().union(*seen)
    return count


def features(graph: tf.Graph) -> set[tuple[str, str]]:
    """What a graph exercises beyond its ops, for coverage and hypothesis' statistics."""
    found = set()
    read = {t.name for n in graph.nodes for t in n.inputs}
    if diamonds(graph):
        found.add(("graph", "diamond"))
    if len(graph.outputs) > 1:
        found.add(("graph", "several outputs"))
    for t in graph.outputs:
        kind = ("intermediate output" if t.producer and t.name in read else
                "input as output" if t.producer is None else None)
        if kind:
            found.add(("graph", kind))
    if any(t.ndim == 0 for t in graph.tensors.values()):
        found.add(("graph", "scalar"))
    used = read | {t.name for t in graph.outputs}
    if any(n.name not in used for n in graph.nodes):
        found.add(("graph", "dead node"))
    return found


MAX_BFLOAT16_OPS = 3


@st.composite
def graphs(draw, min_ops: int = 2, max_ops: int = 8) -> Case:
    b = Builder(draw, draw(st.integers(0, 2**32 - 1)))
    b.source(b.random_shape(), draw(st.sampled_from(DTYPES)))
    ops = sorted(OPS) + 2 * sorted(SCATTER_OPS)  # the ops with the most cases, 3x as often
    for _ in range(draw(st.integers(min_ops, max_ops))):
        step(b, draw(st.sampled_from(ops)))
    nodes = [v for v in b.pool if v.tensor.producer is not None]
    if not nodes:  # every node broke a bound: a cast always fits
        nodes = [b.apply("cast", b.pool[-1], dtype="float32")]
    read = {t.name for n in b.graph.nodes for t in n.inputs}
    unread = [v for v in nodes[:-1] if v.tensor.name not in read and draw(st.booleans())]
    outputs = [nodes[-1], *unread, *draw(st.lists(st.sampled_from(b.pool), max_size=2))]
    unique = list({id(v.tensor): v for v in outputs}.values())
    b.graph.output(*(v.tensor for v in unique))
    # bfloat16 chains compile exponentially slowly (docs/architecture.md, known problems):
    # more than 3 rounding bfloat16 ops took minutes to hours, so such graphs are not drawn
    assume(sum(rounds_per_op(n) for n in b.graph.nodes) <= MAX_BFLOAT16_OPS)
    covered = b.covered | features(b.graph)
    return Case(b.graph, b.inputs, {v.tensor.name: v.exact for v in b.pool}, covered)

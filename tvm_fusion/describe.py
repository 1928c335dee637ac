"""What a kernel is, as the builder, the tuner and the records see it alike.

``kernel_signature``: what a kernel computes, independent of tensor names (the build cache's
and the tuning records' key). ``template_context``: what a template reads of a group on a
target. Both sit below ``build.py`` and ``tuning/`` so neither climbs up to the other.
"""

from __future__ import annotations

from collections.abc import Sequence

import tvm

from tvm_fusion import schedules

from .analysis import analyze_group
from .fusion import FusionGroup
from .graph import Node, Tensor
from .lower import external_inputs
from .target import num_cores, vector_bytes


def kernel_signature(nodes: Sequence[Node], outputs: Sequence[Tensor]) -> tuple:
    """A hashable description of what the kernel computes, independent of tensor names."""
    inputs = external_inputs(nodes)
    ref: dict[int, tuple] = {id(t): ("in", k) for k, t in enumerate(inputs)}
    items = [tuple((t.shape, t.dtype) for t in inputs)]
    for j, node in enumerate(nodes):
        attrs = tuple(sorted(node.attrs.items()))
        items.append((node.op, attrs, tuple(ref[id(t)] for t in node.inputs)))
        ref[id(node.output)] = ("node", j)
    items.append(tuple(ref[id(t)] for t in outputs))
    return tuple(items)


def template_context(group: FusionGroup, target: tvm.target.Target, *, tuning: bool = False,
                     decisions=(), replay=(), donated=()) -> schedules.TemplateContext:
    cores = num_cores(target)
    analysis = analyze_group(group, cores=cores, donated=donated)
    return schedules.TemplateContext(analysis, cores,
                                     vector_bytes(target), tuning, tuple(decisions),
                                     tuple(replay))

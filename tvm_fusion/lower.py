"""Lower a list of graph nodes to one TIR PrimFunc, every op a block of its own.

The PrimFunc's parameters are the external inputs (in first-use order) followed by the
outputs. Intermediate tensors are blocks writing to function-local buffers, ready for a
schedule to inline or compute-at them. Scatter update blocks are appended after
``te.create_prim_func`` (see :mod:`tvm_fusion.ops.scatter`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import tvm
from tvm import te, tirx
from tvm.s_tir import SBlock, SBlockRealize

from .graph import Node, Tensor
from .ops import OPS, ScatterStage
from .ops.scatter import update_block


@dataclass(frozen=True)
class LoweredKernel:
    """A PrimFunc plus the graph tensor names bound to its parameters, in order."""

    func: tirx.PrimFunc
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: tuple[str, ...]

    @property
    def mod(self) -> tvm.IRModule:
        return tvm.IRModule({"main": self.func})


def buffer_name(name: str) -> str:
    """A TIR-friendly identifier for a graph tensor name (ONNX names may hold '/', ':')."""
    clean = re.sub(r"\W", "_", name)
    return clean if clean[:1].isalpha() or clean[:1] == "_" else f"t_{clean}"


def external_inputs(nodes: Sequence[Node]) -> list[Tensor]:
    produced = {id(n.output) for n in nodes}
    seen, result = set(), []
    for node in nodes:
        for t in node.inputs:
            if id(t) not in produced and id(t) not in seen:
                seen.add(id(t))
                result.append(t)
    return result


def lower(nodes: Sequence[Node], outputs: Sequence[Tensor]) -> LoweredKernel:
    """Lower ``nodes`` (topologically ordered) to one PrimFunc computing ``outputs``."""
    inputs = external_inputs(nodes)
    te_of: dict[int, te.Tensor] = {
        id(t): te.placeholder(t.shape, t.dtype, name=buffer_name(t.name)) for t in inputs
    }
    scatters: list[ScatterStage] = []
    for node in nodes:
        for stage in scatters:
            if any(t is stage.node.output for t in node.inputs):
                raise NotImplementedError(
                    f"node '{node.name}' reads the output of scatter '{stage.node.name}' inside "
                    "the same kernel; a scatter must end its kernel")
        result = OPS[node.op].compute(node, [te_of[id(t)] for t in node.inputs])
        if isinstance(result, ScatterStage):
            scatters.append(result)
            result = result.copy
        te_of[id(node.output)] = result

    params = [te_of[id(t)] for t in inputs] + [te_of[id(t)] for t in outputs]
    # scatter operands computed in this kernel must be materialised for the update block
    materialised = []
    for stage in scatters:
        for operand in (stage.indices, stage.updates):
            if all(operand is not p for p in params + materialised):
                materialised.append(operand)
    func = te.create_prim_func(params + materialised)
    if scatters:
        func = _append_updates(func, params + materialised, scatters, len(params))
    func = func.with_attr("global_symbol", "main")
    return LoweredKernel(func, tuple(t.name for t in inputs), tuple(t.name for t in outputs),
                         tuple(n.name for n in nodes))


def _append_updates(func, arg_tensors, scatters, n_params):
    buffer_of = {id(t): buf for t, buf in zip(arg_tensors, func.params)}
    updates = [
        update_block(s, buffer_of[id(s.copy)], buffer_of[id(s.indices)], buffer_of[id(s.updates)])
        for s in scatters
    ]
    realize = func.body
    root = realize.block
    root = SBlock(
        root.iter_vars, root.reads, root.writes, root.name_hint,
        tirx.SeqStmt([root.body, *updates]), root.init,
        list(root.alloc_buffers) + list(func.params[n_params:]), root.match_buffers,
        root.annotations,
    )
    body = SBlockRealize(realize.iter_values, realize.predicate, root)
    return tirx.PrimFunc(list(func.params[:n_params]), body, attrs=func.attrs)

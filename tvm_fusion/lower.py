"""Lower a list of graph nodes to one TIR PrimFunc, every op a block of its own.

The PrimFunc's parameters are the external inputs (in first-use order) followed by the
outputs. Intermediate tensors are blocks writing to function-local buffers, ready for a
schedule to inline or compute-at them. Scatter update blocks are appended after
``te.create_prim_func`` (see :mod:`tvm_fusion.ops.scatter`).

A donated scatter (``donated``: node names) has no copy stage: its update block writes into
the buffer of its data input, which becomes the scatter's output parameter (and is not an
input parameter). That buffer assumes only the element alignment, so the caller's numpy array
(16-byte aligned, or a slice) can be bound to it as is.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import tvm
from tvm import te, tirx
from tvm.s_tir import SBlock, SBlockRealize

from .graph import Node, Tensor
from .ops import OPS, ScatterStage, fastmath, reduces_nothing
from .ops.bfloat16 import bfloat16_compute, rounds_per_op
from .ops.elementwise import fenced_product
from .ops.float8 import storage
from .ops.fp16 import extremum_rounded_once, rounded_once_source
from .ops.relaxed import check_precision, computes_in_f32, relaxed_compute, wide_nodes
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


def lower(nodes: Sequence[Node], outputs: Sequence[Tensor],
          donated: Collection[str] = (), precision: str = "exact",
          native_fp16: bool = False) -> LoweredKernel:
    """Lower ``nodes`` (topologically ordered) to one PrimFunc computing ``outputs``.

    The scatters named in ``donated`` update their data input's buffer in place.
    ``precision="relaxed"`` computes fp16 chains in f32 (:mod:`tvm_fusion.ops.relaxed`).
    ``native_fp16``: the target has fp16 arithmetic (``ops.fp16.native_fp16(target)``), so
    a max over an fp16 add keeps the add in fp16 (``ops/fp16.py``).
    """
    wide = wide_nodes(nodes, outputs) if check_precision(precision) == "relaxed" else None
    donated_data = _donated_data(nodes, outputs, donated)
    inputs = [t for t in external_inputs(nodes) if id(t) not in donated_data]
    te_of: dict[int, te.Tensor] = {
        id(t): te.placeholder(t.shape, storage(t.dtype), name=buffer_name(t.name))
        for t in external_inputs(nodes)
    }
    scatters: list[ScatterStage] = []
    bind = not any(t.dtype == "bfloat16" for n in nodes for t in (*n.inputs, n.output))
    for node in nodes:
        for stage in scatters:
            if any(t is stage.node.output for t in node.inputs):
                raise NotImplementedError(
                    f"node '{node.name}' reads the output of scatter '{stage.node.name}' inside "
                    "the same kernel; a scatter must end its kernel")
        result = _stage(node, nodes, outputs, te_of, wide, native_fp16, bind)
        if isinstance(result, ScatterStage):
            if node.name in donated:  # no copy: the update writes into the data's buffer
                result = dataclasses.replace(result, copy=te_of[id(node.inputs[0])])
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
        func = _append_updates(func, params + materialised, scatters, len(params),
                               [te_of[id(t)] for t in donated_data.values()])
    func = func.with_attr("global_symbol", "main")
    return LoweredKernel(func, tuple(t.name for t in inputs), tuple(t.name for t in outputs),
                         tuple(n.name for n in nodes))


def _stage(node, nodes, outputs, te_of, wide, native_fp16, bind=True):
    """``node``'s TE stage; ``wide``: relaxed precision's f32-kept nodes (``None``: exact);
    ``bind``: ``fastmath.BIND_OPERANDS`` while the stage is made."""
    token = fastmath.BIND_OPERANDS.set(bind)
    try:
        return _made_stage(node, nodes, outputs, te_of, wide, native_fp16)
    finally:
        fastmath.BIND_OPERANDS.reset(token)


def _made_stage(node, nodes, outputs, te_of, wide, native_fp16):
    kept_wide = wide is not None and node.name in wide
    node = _printable(node)
    if reduces_nothing(node):  # TE would make a block with an init and no reduce loop,
        (x,) = [te_of[id(t)] for t in node.inputs]  # which no template can schedule
        dtype = "float32" if kept_wide else node.output.dtype
        return te.compute((), lambda: x[()].astype(dtype), name=node.name)
    if wide is not None and computes_in_f32(node):
        return relaxed_compute(node, [te_of[id(t)] for t in node.inputs], kept_wide)
    source = rounded_once_source(node, nodes, outputs, native_fp16) if wide is None else None
    if source is not None:  # max/min of an fp16 op: rounded once per output, same bits
        return extremum_rounded_once(node, source, [te_of[id(t)] for t in source.inputs])
    if native_fp16 and wide is None and node.op == "mul" and node.output.dtype == "float16":
        return fenced_product(node, [te_of[id(t)] for t in node.inputs])  # not fused into FMA
    if rounds_per_op(node):  # bfloat16: f32 math, rounded per op (survives inlining)
        return bfloat16_compute(node, [te_of[id(t)] for t in node.inputs])
    return OPS[node.op].compute(node, [te_of[id(t)] for t in node.inputs])


def _printable(node: Node) -> Node:
    """TVMScript prints a buffer under its stage's name with other characters made '_', but
    keeps a leading digit or a keyword (TorchScript's ONNX names are '15', '3_mean'), which
    cannot be parsed back (``alignment.py`` round-trips every kernel): such a stage is named
    ``buffer_name(name)`` (the node is a copy; the graph keeps its names)."""
    name = node.name
    if (name[:1].isalpha() or name[:1] == "_") and not keyword.iskeyword(name):
        return node
    clean = buffer_name(name)
    return dataclasses.replace(node, name=f"t_{clean}" if keyword.iskeyword(clean) else clean)


def _donated_data(nodes, outputs, donated) -> dict[int, Tensor]:
    """The data tensors of the donated scatters, checked to be read by nothing else here."""
    result = {}
    for node in nodes:
        if node.name not in donated:
            continue
        data = node.inputs[0]
        if node.op not in ("scatter_nd", "scatter_elements") or data.producer is not None or \
                not any(t is node.output for t in outputs):
            raise ValueError(f"cannot donate to '{node.name}': only a scatter whose data is a "
                             "kernel input and whose output is a kernel output")
        readers = [n for n in nodes for t in n.inputs if t is data]
        if len(readers) > 1:
            raise ValueError(f"cannot donate to '{node.name}': its data '{data.name}' is read "
                             "elsewhere in the kernel")
        result[id(data)] = data
    return result


def _aligned_to_element(buf) -> tirx.Buffer:
    """``buf`` assuming only its element alignment (TIR's default of 64 bytes is what the
    runtime allocates, not what a numpy array guarantees)."""
    itemsize = np.dtype(str(buf.dtype)).itemsize
    return tirx.decl_buffer(buf.shape, buf.dtype, buf.name, data_alignment=itemsize)


def _append_updates(func, arg_tensors, scatters, n_params, donated_tensors=()):
    buffer_of = {id(t): buf for t, buf in zip(arg_tensors, func.params)}
    params = list(func.params[:n_params])
    for t in donated_tensors:  # only the update blocks (built below) use these buffers
        aligned = _aligned_to_element(buffer_of[id(t)])
        params = [aligned if p.same_as(buffer_of[id(t)]) else p for p in params]
        buffer_of[id(t)] = aligned
    updates = [
        update_block(s, buffer_of[id(s.copy)], buffer_of[id(s.indices)], buffer_of[id(s.updates)])
        for s in scatters
    ]
    realize = func.body
    if isinstance(realize, SBlockRealize):
        stmts = [realize.block.body, *updates]
    else:  # no TE stage at all (a donated scatter of inputs): the updates are the body
        realize = SBlockRealize([], True, SBlock([], [], [], "root", tirx.Evaluate(0)))
        stmts = updates
    root = realize.block
    root = SBlock(
        root.iter_vars, root.reads, root.writes, root.name_hint,
        stmts[0] if len(stmts) == 1 else tirx.SeqStmt(stmts), root.init,
        list(root.alloc_buffers) + list(func.params[n_params:]), root.match_buffers,
        root.annotations,
    )
    body = SBlockRealize(realize.iter_values, realize.predicate, root)
    return tirx.PrimFunc(params, body, attrs=func.attrs)

"""Software prefetch of the next row, inserted into a scheduled kernel before it is built.

A row-reduction kernel reads each row from memory in its first pass, then computes from cache
(the exp, the normalisation): while it computes, nothing streams in, and the hardware
prefetchers stop with the sequential loads. Measured here, a prefetch of the next row's cache
lines in the last pass over the row overlaps the two (softmax 1024x4096: 2.54 -> 2.19 ms,
layer norm 4096x768: 1.27 -> 1.12 ms, RMS norm fp16 4096x4096: 3.9 -> 3.5 ms).

TVM has no schedule primitive for it, so a template marks the vectorised loop with
``sch.annotate(loop, PREFETCH_ANNOTATION, "<buffer name>")`` (it goes through the trace, so
tuning records replay it) and :func:`insert_prefetches` turns each mark into one
``T.prefetch`` per cache line of that loop's vector, one row ahead (the second-to-last index
plus one: a prefetch past the end of the buffer is harmless), just before the loop.
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import s_tir, tirx
from tvm.sym import Analyzer

PREFETCH_ANNOTATION = "tvm_fusion.prefetch_next_row"
CACHE_LINE = 64


def rebuild(stmt, visit):
    """Rebuild loops, sequences and blocks bottom-up, applying ``visit`` to every node."""
    if isinstance(stmt, tirx.For):
        stmt = tirx.For(stmt.loop_var, stmt.min, stmt.extent, stmt.kind,
                        rebuild(stmt.body, visit), stmt.thread_binding, stmt.annotations,
                        stmt.step)
    elif isinstance(stmt, tirx.SeqStmt):
        stmt = tirx.SeqStmt([rebuild(s, visit) for s in stmt])
    elif isinstance(stmt, s_tir.SBlockRealize):
        b = stmt.block
        block = s_tir.SBlock(b.iter_vars, b.reads, b.writes, b.name_hint,
                             rebuild(b.body, visit), b.init, b.alloc_buffers, b.match_buffers,
                             b.annotations)
        stmt = s_tir.SBlockRealize(stmt.iter_values, stmt.predicate, block)
    return visit(stmt)


def _prefetches(loop: tirx.For, buffer) -> list:
    """``T.prefetch`` of the next row for the vector that ``loop`` reads from ``buffer``."""
    realize = loop.body
    block = realize.block
    region = next(r for r in block.reads if r.source.same_as(buffer))
    analyzer = Analyzer()
    for iv, value in zip(block.iter_vars, realize.iter_values):
        analyzer.bind(iv.var, value)
    analyzer.bind(loop.loop_var, loop.min)
    index = [analyzer.simplify(r.min) for r in region.region]
    index[-2] = index[-2] + 1
    itemsize = np.dtype(_dtype(buffer)).itemsize
    lines = max(1, int(loop.extent) * itemsize // CACHE_LINE)
    calls = []
    for k in range(lines):
        at = index[:-1] + [index[-1] + k * (CACHE_LINE // itemsize)]
        address = tirx.address_of(tirx.BufferLoad(buffer, at))
        calls.append(tirx.Evaluate(tirx.call_intrin("void", "tirx.prefetch", address, 0, 3, 1)))
    return calls


def _dtype(buffer) -> str:
    return str(buffer.ty.dtype)  # a PrimFunc parameter: a Var of BufferType


def insert_prefetches(mod: tvm.IRModule) -> tvm.IRModule:
    """Turn every ``PREFETCH_ANNOTATION`` on a loop of ``mod["main"]`` into prefetches."""
    func = mod["main"]
    params = {p.name: p for p in func.params}
    found = []

    def visit(stmt):
        if not (isinstance(stmt, tirx.For) and PREFETCH_ANNOTATION in stmt.annotations):
            return stmt
        name = str(stmt.annotations[PREFETCH_ANNOTATION])
        annotations = {k: v for k, v in stmt.annotations.items() if k != PREFETCH_ANNOTATION}
        loop = tirx.For(stmt.loop_var, stmt.min, stmt.extent, stmt.kind, stmt.body,
                        stmt.thread_binding, annotations, stmt.step)
        if name not in params or not isinstance(stmt.body, s_tir.SBlockRealize):
            return loop
        found.append(name)
        return tirx.SeqStmt(_prefetches(loop, params[name]) + [loop])

    body = rebuild(func.body, visit)
    return mod if not found else tvm.IRModule({"main": func.with_body(body)})

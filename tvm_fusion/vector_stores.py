"""bfloat16 stores that a vectorised loop would broadcast are left scalar.

A fused kernel writes a bfloat16 output as ``reinterpret("bfloat16", <uint16 bits>)``. When
the value does not depend on the vectorised loop once simplified (an output broadcast along its innermost
axis, e.g. ``abs(cast(broadcast_to(x, (2, 1, 3)), "bfloat16"))``), TVM's ``VectorizeLoop``
stores ``Broadcast(reinterpret(...), lanes)``, and ``BF16StorageLegalize`` (the last pass of
``tvm.compile``) rewrites only a store whose value *is* a reinterpret: the build fails with
``dtype mismatch on BufferStore: buffer's dtype is T.uint16 ... RHS's dtype is
T.bfloat16x3`` (TVM 0.27, ``src/tirx/transform/unsupported_dtype_legalize.cc``).

:func:`serialize_broadcast_bf16_stores` turns such a loop serial before the build: the store
is a copy of one scalar, a serial loop of at most a vector's lanes costs next to nothing.
"""

from __future__ import annotations

import tvm
from tvm import s_tir, tirx
from tvm.sym import Analyzer

from .prefetch import rebuild


def _uses(expr, variables) -> bool:
    free = tirx.analysis.undefined_vars(expr)
    return any(f.same_as(v) for f in free for v in variables)


def _realizes(stmt):
    """The block realizes directly under ``stmt`` (through loops and sequences)."""
    if isinstance(stmt, s_tir.SBlockRealize):
        yield stmt
    elif isinstance(stmt, tirx.For):
        yield from _realizes(stmt.body)
    elif isinstance(stmt, tirx.SeqStmt):
        for s in stmt:
            yield from _realizes(s)


def _broadcasts_bf16(loop: tirx.For) -> bool:
    """Does ``loop`` (vectorised) hold a bfloat16 store whose value, simplified as TVM will,
    ignores the loop var?"""
    for realize in _realizes(loop.body):
        block, store = realize.block, realize.block.body
        if not (isinstance(store, tirx.BufferStore) and "bfloat16" in str(store.value.ty)):
            continue
        analyzer = Analyzer()  # TVM simplifies before it vectorises: `x and not x` is false
        for iv, value in zip(block.iter_vars, realize.iter_values):
            analyzer.bind(iv.var, value)
        if not _uses(analyzer.simplify(store.value), [loop.loop_var]):
            return True
    return False


def serialize_broadcast_bf16_stores(mod: tvm.IRModule) -> tvm.IRModule:
    """``mod`` with every vectorised loop that broadcasts a bfloat16 store made serial."""
    func = mod["main"]
    changed = []

    def visit(stmt):
        if not (isinstance(stmt, tirx.For) and stmt.kind == tirx.ForKind.VECTORIZED
                and _broadcasts_bf16(stmt)):
            return stmt
        changed.append(stmt.loop_var.name)
        return tirx.For(stmt.loop_var, stmt.min, stmt.extent, tirx.ForKind.SERIAL, stmt.body,
                        stmt.thread_binding, stmt.annotations, stmt.step)

    body = rebuild(func.body, visit)
    return mod if not changed else tvm.IRModule({"main": func.with_body(body)}, attrs=mod.attrs)

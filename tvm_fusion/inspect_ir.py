"""Structural facts about scheduled kernels, for tests, the explorer and reports."""

from __future__ import annotations

from dataclasses import dataclass

import tvm


@dataclass(frozen=True)
class Allocation:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scope: str
    per_iteration: bool = False  # allocated inside a loop: lives for one iteration only

    @property
    def nbytes(self) -> int:
        import numpy as np

        size = 1
        for d in self.shape:
            size *= d
        return size * np.dtype(self.dtype).itemsize


def allocations(mod: tvm.IRModule) -> list[Allocation]:
    """Every buffer a kernel allocates (its intermediates), with its storage scope.

    Placed as TVM's lowering places them (``PlanAndUpdateBufferAllocationLocation``: at the
    innermost point that covers every access): a buffer placed inside a loop is scratch of one
    iteration (a row's partial sums, on the stack or in L1), not a tensor in memory.
    """
    from tvm.s_tir import transform

    planned = transform.PlanAndUpdateBufferAllocationLocation()(
        transform.LowerInitBlock()(mod))
    result: list[Allocation] = []

    def visit(stmt, depth: int) -> None:
        if isinstance(stmt, tvm.tirx.For):
            visit(stmt.body, depth + 1)
        elif isinstance(stmt, tvm.tirx.SeqStmt):
            for child in stmt:
                visit(child, depth)
        elif isinstance(stmt, tvm.s_tir.SBlockRealize):
            for buf in stmt.block.alloc_buffers:
                scope = buf.scope() if callable(buf.scope) else str(buf.scope)
                result.append(Allocation(str(buf.name), tuple(int(d) for d in buf.shape),
                                         str(buf.dtype), scope or "global", depth > 0))
            visit(stmt.block.body, depth)

    visit(planned["main"].body, 0)
    return result


def global_intermediates(mod: tvm.IRModule) -> list[Allocation]:
    """Intermediates that would live in global memory across the kernel (a fused kernel should
    have none); per-iteration scratch inside a loop does not count."""
    return [a for a in allocations(mod) if a.scope == "global" and not a.per_iteration]


def parallel_extents(mod: tvm.IRModule) -> list[int]:
    """The extent of every ``T.parallel`` loop of a scheduled kernel, in program order."""
    sch = tvm.s_tir.Schedule(mod)
    stack, seen, result = [sch.get_sblock("root")], [], []
    while stack:
        block = stack.pop(0)
        for loop in sch.get_loops(block):
            node = sch.get(loop)
            if node.kind == tvm.tirx.ForKind.PARALLEL and not any(node.same_as(s) for s in seen):
                seen.append(node)
                result.append(int(node.extent))
        stack.extend(sch.get_child_blocks(block))
    return result

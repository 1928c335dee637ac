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

    @property
    def nbytes(self) -> int:
        import numpy as np

        size = 1
        for d in self.shape:
            size *= d
        return size * np.dtype(self.dtype).itemsize


def allocations(mod: tvm.IRModule) -> list[Allocation]:
    """Every buffer a kernel allocates (its intermediates), with its storage scope."""
    sch = tvm.s_tir.Schedule(mod)
    stack, result = [sch.get_sblock("root")], []
    while stack:
        block = stack.pop()
        for buf in sch.get(block).alloc_buffers:
            scope = buf.scope() if callable(buf.scope) else str(buf.scope)
            result.append(Allocation(str(buf.name), tuple(int(d) for d in buf.shape),
                                     str(buf.dtype), scope or "global"))
        stack.extend(sch.get_child_blocks(block))
    return result


def global_intermediates(mod: tvm.IRModule) -> list[Allocation]:
    """Intermediates that would live in global memory (a fused kernel should have none)."""
    return [a for a in allocations(mod) if a.scope == "global"]


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

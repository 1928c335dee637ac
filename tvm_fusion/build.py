"""Schedule and build lowered kernels, with a per-process cache of compiled kernels.

The cache key is the kernel's structure (ops, attributes, shapes, dtypes, how inputs are
shared) plus the target and schedule, so the same op on the same shapes is built once per
process whatever its tensors are called.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import tvm

from tvm_fusion.schedules import simple

from .graph import Node, Tensor
from .lower import LoweredKernel, external_inputs, lower
from .target import num_cores, vector_bytes


@dataclass(frozen=True)
class BuiltKernel:
    """A compiled kernel: its entry function and the graph tensors bound to its parameters."""

    function: tvm.runtime.Function
    executable: object  # tvm.runtime.Executable; kept alive for ``function`` and export
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: tuple[str, ...]
    scheduled: tvm.IRModule


_CACHE: dict[tuple, tuple[tvm.runtime.Function, object, tvm.IRModule]] = {}
_LOCK = threading.Lock()


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


def schedule_default(kernel: LoweredKernel, target: tvm.target.Target) -> tvm.IRModule:
    """Apply the default (simple per-op) schedule."""
    sch = tvm.s_tir.Schedule(kernel.mod)
    simple.apply(sch, cores=num_cores(target), vector_bytes=vector_bytes(target))
    return sch.mod


def build(nodes: Sequence[Node], outputs: Sequence[Tensor],
          target: tvm.target.Target) -> BuiltKernel:
    """Lower, schedule and compile ``nodes`` into one kernel (cached per process)."""
    key = (kernel_signature(nodes, outputs), str(target), "simple")
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is None:
        kernel = lower(nodes, outputs)
        scheduled = schedule_default(kernel, target)
        executable = tvm.compile(scheduled, target=target)
        hit = (executable["main"], executable, scheduled)
        with _LOCK:
            _CACHE[key] = hit
    function, executable, scheduled = hit
    return BuiltKernel(function, executable, tuple(t.name for t in external_inputs(nodes)),
                       tuple(t.name for t in outputs), tuple(n.name for n in nodes), scheduled)


def cache_size() -> int:
    return len(_CACHE)

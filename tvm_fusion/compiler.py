"""``tvm_fusion.compile``: a graph in, a numpy-in/numpy-out callable out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .build import build, build_group
from .fusion import fuse as partition
from .fusion import live_nodes
from .graph import Graph, GraphError
from .guards import check_memory, donations, index_checks
from .ops.relaxed import check_precision
from .runtime.executor import CompiledGraph
from .settings import machine_memory
from .target import as_target


def compile(
    graph: Graph, *, target: Any = None, cpu: str | None = None, fuse: bool = True, template: Any = None,
    decisions: dict[str, int] | None = None, tuning_logs: Any = None,
    donate: Sequence[str] | None = None, precision: str = "exact", transfer: bool = True,
) -> CompiledGraph:
    """Compile ``graph`` into a callable.

    With ``fuse=True`` every fusion group (:func:`tvm_fusion.fusion.fuse`) is one kernel; with
    ``fuse=False`` every op is its own kernel (the baseline, simple per-op schedules). A fused
    kernel is scheduled by the first matching template of ``tvm_fusion.schedules``
    (``compiled.schedules`` lists them). Kernels are cached per process.

    Parameters
    ----------
    graph : Graph
        The graph; it must have at least one output.
    target : tvm.target.Target | dict | None
        Where to run; ``None`` is the host CPU (detected ``mcpu``, all cores).
    cpu : str, optional
        Build for another CPU than this one, e.g. to export one module for a fleet:
        ``"x86-64-v2"`` (SSE4.2), ``"x86-64-v3"`` (AVX2, FMA), ``"x86-64-v4"`` (AVX-512),
        ``"native"`` (this CPU, the default) or any LLVM CPU name (``"znver4"``). The module
        then runs on any CPU of that level; tuning records are per CPU, so a level without
        records gets the templates' default schedules.
    fuse : bool
        One kernel per fusion group (default) or one kernel per op.
    template : module, optional
        Force a schedule template (a module of ``tvm_fusion.schedules`` or a user module with
        ``apply(sch, ctx)``) on every group instead of the first that matches.
    decisions : dict, optional
        Knob overrides by name, e.g. ``{"update_vector": 16}`` (see ``compiled.kernels[i].knobs``).
    tuning_logs : str or sequence of str, optional
        A records folder written by :func:`tvm_fusion.tune` (or several, searched in order:
        the first holding records for a group decides): the best record whose target and
        workload match is applied, else the default schedule (``compiled.notices`` says
        which, one line per group). For a group without a record for this target, the best
        records of the same workload tuned on other CPUs (other target folders of the same
        records folders) whose instruction-set features this CPU has are checked against
        the default schedule's outputs and timed against it here (a fraction of a second);
        the fastest applies only when it is faster beyond noise, and the notice names its
        CPU and the gain. The verdict is kept in the first folder (``transfer.json``), so the
        next compile does not measure again.
    transfer : bool
        ``False``: never apply another CPU's records (default ``True``; only when building
        for this machine, where they can be timed).
    donate : list of str, optional
        Graph inputs whose buffer a scatter may update in place (e.g. a KV cache): the call
        then costs only the update, not a copy of the whole tensor. **The donated array is
        overwritten**: pass it as a writeable, C-contiguous numpy array of the input's dtype
        (``np.empty`` or ``.copy()`` make one); the scatter's output returned is that very
        array (``out is cache``), nothing is copied in or out. Refused (``GraphError``)
        unless the input is the data of one scatter, read by nothing else, and that scatter's
        output is a graph output.
    precision : {"exact", "relaxed"}
        fp16 arithmetic. ``"exact"`` (default) rounds every fp16 op's result to fp16, as ONNX
        and numpy do. ``"relaxed"`` computes fp16 element-wise ops and reductions in f32 and
        rounds only where a tensor is a kernel output, is cast, or feeds a scatter (what
        onnxruntime and Inductor do): fewer conversions, results within fp16 rounding of the
        exact ones, not bit-identical. Tuning records are for exact kernels: a relaxed
        kernel gets the default schedule (``compiled.notices`` says so with ``tuning_logs``).

    Returns
    -------
    CompiledGraph
        ``fn(*arrays, **named_arrays) -> tuple[np.ndarray, ...]``, outputs in output order.
    """
    if not graph.outputs:
        raise GraphError(f"graph '{graph.name}' has no outputs: call graph.output(tensor) first")
    check_precision(precision)
    target = as_target(target, cpu)
    needed = live_nodes(graph)
    check_memory(graph, needed, machine_memory())
    donated = donations(graph, donate, needed)
    scatters = frozenset(d.scatter for d in donated)
    if fuse:
        decided = tuple(sorted((decisions or {}).items()))
        kernels = [build_group(group, target, template, decided, tuning_logs, scatters,
                               precision, transfer) for group in partition(graph, needed)
                   if not _all_empty(group.outputs)]
    else:
        kernels = [build([node], [node.output], target, scatters, precision) for node in needed
                   if not _all_empty((node.output,))]
    launched = {name for k in kernels for name in k.nodes}
    sources = {t.name for t in graph.inputs} | set(graph.constants)
    checks = [c for c in index_checks(graph) if c.scatter in launched
              or (c.tensor in sources and any(n.name == c.scatter for n in needed))]
    return CompiledGraph(graph, kernels, checks, target, donated)


def _all_empty(tensors) -> bool:
    """Every tensor has a zero-size dimension: no kernel is built, the call returns empty
    arrays (an empty index tensor of a graph input is still checked: it passes)."""
    return all(0 in t.shape for t in tensors)


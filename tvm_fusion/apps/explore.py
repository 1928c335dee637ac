"""The explorer: one fused kernel, before and after scheduling, its trace, check and timing.

For compiler engineers: pick a workload (or pass a graph), optionally force a template (a name
from ``tvm_fusion.schedules`` or a path to your own ``.py`` defining ``apply(sch, ctx)``) and
override knobs by name, then read the TIR, the trace and the measured latency. A forced template
that does not match a group raises ``schedules.TemplateMismatch`` with its reason (a template
that would leave, say, the reduction unscheduled never runs silently).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tvm

from .. import reference, workloads
from ..build import BuiltKernel
from ..compiler import compile as compile_graph
from ..fusion import fuse, live_nodes
from ..graph import Graph
from ..lower import lower
from ..ops.fp16 import native_fp16
from ..timing import median_seconds


@dataclass(frozen=True)
class Exploration:
    """What ``explore`` found for one graph (one entry per fusion group in ``kernels``)."""

    graph: Graph
    before: tuple[tvm.IRModule, ...]  # one unscheduled PrimFunc per group
    kernels: tuple[BuiltKernel, ...]  # scheduled, with trace and knobs
    ok: bool
    max_error: float
    seconds: float
    numpy_seconds: float


def load_template(spec: str | None):
    """``None`` (first match), a template name, or a path to a user template file.

    A file is loaded as a submodule of ``tvm_fusion.schedules`` (``_user_<stem>``), so a copy
    of a shipped template works unchanged, whether it imports ``tvm_fusion.schedules.base``
    or still says ``from .base import ...``.
    """
    if spec is None:
        return None
    from tvm_fusion import schedules

    path = Path(spec)
    if spec.endswith(".py"):
        if not path.is_file():
            raise FileNotFoundError(f"template file {spec} does not exist")
        name = f"{schedules.__name__}._user_" + re.sub(r"\W", "_", path.stem)
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        module.__package__ = schedules.__name__
        sys.modules[name] = module  # as an import would: dataclasses and pickling look here
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        if not callable(getattr(module, "apply", None)):
            raise ValueError(f"template file {spec} must define apply(sch, ctx)")
        if not hasattr(module, "NAME"):
            module.NAME = path.stem
        return module
    return schedules.by_name(spec)


def explore(graph: Graph | str, *, template: str | None = None,
            decisions: dict[str, int] | None = None, target=None,
            repeat: int = 15) -> Exploration:
    """Schedule, check against numpy and time ``graph`` (or a workload name).

    Parameters
    ----------
    graph : Graph or str
        The graph, or a workload name (``"W1"``..``"W5"``, ``s``/``l`` forms).
    template : str, optional
        A template name or a path to a template file; default: the first that matches. It
        must match every group (its ``mismatch``, else ``matches``; a file with neither is
        always applied).
    decisions : dict, optional
        Knob overrides by name (the names are listed in ``kernels[i].knobs``).
    target : optional
        As for :func:`tvm_fusion.compile`.
    repeat : int
        Timing repeats (medians are reported).

    Returns
    -------
    Exploration

    Raises
    ------
    schedules.TemplateMismatch
        The forced template does not apply to a group: the message names the template, the
        group, the reason and the template that matches.
    """
    if isinstance(graph, str):
        graph, arrays = workloads.load(graph)
    else:
        rng = np.random.default_rng(0)
        arrays = {t.name: rng.standard_normal(t.shape).astype(t.dtype) for t in graph.inputs}
    fn = compile_graph(graph, target=target, template=load_template(template),
                       decisions=decisions)
    # the same groups compile() built: dead branches are not kernels
    native = native_fp16(fn.target)
    before = tuple(lower(g.nodes, g.outputs, native_fp16=native).mod
                   for g in fuse(graph, live_nodes(graph)))
    ok, error = reference.compare(fn(**arrays), reference.run(graph, arrays))
    return Exploration(graph, before, fn.kernels, ok, error,
                       fn.benchmark(**arrays, repeat=repeat),
                       median_seconds(lambda: reference.run(graph, arrays), repeat=repeat))


def format_exploration(result: Exploration, show: set[str]) -> str:
    lines = []
    for i, (before, kernel) in enumerate(zip(result.before, result.kernels)):
        lines.append(f"=== group {i}: {' -> '.join(kernel.nodes)}  [template: {kernel.schedule}]")
        if kernel.notice:
            lines.append(f"NOTICE: {kernel.notice}")
        if "before" in show:
            lines += ["--- before scheduling", before.script()]
        if "after" in show:
            lines += ["--- after scheduling", kernel.scheduled.script()]
        if "trace" in show:
            lines += ["--- trace", kernel.trace]
        knobs = ", ".join(f"{k.name}={k.value} ({k.choices})" for k in kernel.knobs)
        lines.append(f"knobs: {knobs or 'none'}")
    verdict = "ok" if result.ok else "MISMATCH"
    lines.append(f"check against numpy: {verdict} (max |error| {result.max_error:.2e})")
    lines.append(f"latency: {result.seconds * 1e3:.3f} ms (median), numpy "
                 f"{result.numpy_seconds * 1e3:.3f} ms: {result.numpy_seconds / result.seconds:.2f}x")
    return "\n".join(lines)

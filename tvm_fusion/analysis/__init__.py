"""Split analysis: axis roles, legal core splits and bytes moved, fused versus unfused.

``analyze(graph, cores=N)`` returns an :class:`AnalysisReport`: for every fusion group, every
iteration axis with its role in every stage, which axes may be split across cores (and why
the others may not), the cross-core bytes each candidate split costs, DDR bytes unfused versus
fused and the per-core working set of the chosen split. It reads only the graph (nothing is
compiled), so it answers "what if this ran on an N-core NPU with S bytes of SRAM per core" without a
compiler. Templates read the same frozen description instead of re-deriving axes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fusion import FusionGroup, fuse, live_nodes
from ..graph import Graph
from ..guards import donations
from .axes import GroupAxis, StageRole, group_axes
from .split import MIN_PARALLEL_ELEMENTS, CoreSplit, core_split
from .traffic import (
    SplitCost,
    ddr_bytes_donated,
    ddr_bytes_fused,
    ddr_bytes_unfused,
    split_costs,
    unfused_boundaries,
    working_set,
)


@dataclass(frozen=True)
class GroupAnalysis:
    """The frozen description of one fusion group that reports and templates read."""

    group: FusionGroup
    axes: tuple[GroupAxis, ...]
    splits: tuple[SplitCost, ...]  # one per candidate axis (those the output iterates)
    chosen: SplitCost | None  # the outermost axis of ``split`` (None: one core)
    split: CoreSplit  # what the kernel's parallel loop fuses: every template obeys it
    ddr_unfused: int
    ddr_fused: int
    unfused_redistribution: int  # bytes op boundaries reshuffle between cores, unfused
    working_set: int | None  # per core, for the chosen split
    cores: int
    on_chip_bytes: int | None
    donated_inputs: tuple[str, ...] = ()  # graph inputs a scatter updates in place
    ddr_donated: int | None = None  # fused DDR bytes with those donations

    @property
    def legal_axes(self) -> tuple[GroupAxis, ...]:
        return tuple(a for a in self.axes if a.in_output and a.legal)

    @property
    def fits_on_chip(self) -> bool | None:
        if self.on_chip_bytes is None or self.working_set is None:
            return None
        return self.working_set <= self.on_chip_bytes

    @property
    def bytes_ratio(self) -> float:
        return self.ddr_unfused / self.ddr_fused if self.ddr_fused else float("inf")


@dataclass(frozen=True)
class AnalysisReport:
    graph_name: str
    groups: tuple[GroupAnalysis, ...]
    cores: int
    on_chip_bytes: int | None
    ddr_gbps: float | None

    def __str__(self) -> str:
        from .report import format_report

        return format_report(self)


def analyze_group(group: FusionGroup, *, cores: int, on_chip_bytes: int | None = None,
                  donated=()) -> GroupAnalysis:
    """``donated``: names of the group's scatters that update their data input in place."""
    axes = group_axes(group)
    splits = split_costs(group, axes, cores)
    donated_inputs = tuple(n.inputs[0].name for n in group.nodes if n.name in donated)
    split = core_split(group, axes, cores, donated_inputs)
    chosen = next((s for s in splits if split.axes and s.axis is split.axes[0]), None)
    ddr_donated = ddr_bytes_donated(group, donated) if donated_inputs else None
    one_core = ddr_bytes_fused(group) if ddr_donated is None else ddr_donated  # touches all
    return GroupAnalysis(
        group=group, axes=axes, splits=splits, chosen=chosen, split=split,
        ddr_unfused=ddr_bytes_unfused(group), ddr_fused=ddr_bytes_fused(group),
        unfused_redistribution=sum(b.bytes for b in unfused_boundaries(group, axes, cores)),
        working_set=working_set(group, chosen.axis, cores) if chosen else one_core,
        cores=cores, on_chip_bytes=on_chip_bytes,
        donated_inputs=donated_inputs, ddr_donated=ddr_donated,
    )


def analyze(graph: Graph, *, cores: int | None = None, on_chip_bytes: int | None = None,
            ddr_gbps: float | None = None, donate=None) -> AnalysisReport:
    """Analyse every fusion group of ``graph`` for a chip with ``cores`` cores.

    Parameters
    ----------
    graph : Graph
        The graph to analyse.
    cores : int, optional
        Cores the kernel is split across (default: this machine's, as ``compile`` uses;
        ``TVM_FUSION_NUM_CORES`` overrides).
    on_chip_bytes : int, optional
        On-chip memory per core; the report then says whether the working set fits.
    ddr_gbps : float, optional
        DDR bandwidth; the report then converts bytes to a time lower bound.
    donate : list of str, optional
        Graph inputs updated in place by their scatter (as ``tvm_fusion.compile(donate=)``);
        the report then also gives the DDR bytes with donation. Refused as by ``compile``.

    Returns
    -------
    AnalysisReport
        Printable (``str(report)``) and introspectable (``report.groups``).
    """
    if cores is None:
        from ..settings import num_cores

        cores = num_cores()
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    live = live_nodes(graph)
    donated = {d.scatter for d in donations(graph, donate, live)}
    groups = tuple(analyze_group(g, cores=cores, on_chip_bytes=on_chip_bytes, donated=donated)
                   for g in fuse(graph, live))  # the groups compile builds
    return AnalysisReport(graph.name, groups, cores, on_chip_bytes, ddr_gbps)


__all__ = ["MIN_PARALLEL_ELEMENTS", "AnalysisReport", "CoreSplit", "GroupAnalysis", "GroupAxis",
           "SplitCost", "StageRole", "analyze", "analyze_group"]

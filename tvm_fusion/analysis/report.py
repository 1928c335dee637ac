"""Text rendering of an :class:`AnalysisReport` (``str(report)``, ``tvm-fusion analyze``)."""

from __future__ import annotations


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB" if n >= 1024 \
        else f"{n} B"


def _table(header, rows) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + \
        [fmt.format(*r) for r in rows]


def format_group(index: int, g, ddr_gbps) -> list[str]:
    group = g.group
    lines = [f"group {index}: {' -> '.join(f'{n.op}({n.name})' for n in group.nodes)}"]
    if group.cut_reason:
        lines.append(f"  cut after this group: {group.cut_reason}")
    stages = [n.name for n in group.nodes]
    header = ["axis", "extent", *stages, "core split"]
    rows = []
    for axis in g.axes:
        verdict = "legal" if axis.legal and axis.in_output else \
            "not in output" if axis.legal else "ILLEGAL"
        rows.append([axis.name, str(axis.extent)] + [axis.role_in(s) or "-" for s in stages]
                    + [verdict])
    lines += ["  " + line for line in _table(header, rows)]
    treatments = [t for axis in g.axes for t in axis.treatments]
    if treatments:
        lines.append("  axis treatments (gather, concat, slice, pad):")
        lines += [f"    {t}" for t in treatments]
    lines.append("")
    split_rows = [[s.axis.name, "yes" if s.legal else "no", _mib(s.cross_core_bytes),
                   s.reason] for s in g.splits]
    lines += ["  " + line for line in _table(
        ["split on", "legal", "cross-core bytes", "why"], split_rows)]
    lines.append("")
    lines.append(f"  DDR bytes unfused {_mib(g.ddr_unfused)} (every intermediate written once "
                 f"and read once) vs fused {_mib(g.ddr_fused)}: ratio {g.bytes_ratio:.2f}x")
    if g.ddr_donated is not None:
        names = ", ".join(f"'{n}'" for n in g.donated_inputs)
        lines.append(f"  with donation of {names}: {_mib(g.ddr_donated)} (the untouched rows "
                     "are not copied; the donated input is overwritten in place)")
    lines.append(f"  unfused op boundaries reshuffle {_mib(g.unfused_redistribution)} between "
                 f"{g.cores} cores (each op on its own friendliest split)")
    if ddr_gbps:
        lines.append(f"  DDR time lower bound at {ddr_gbps:g} GB/s: unfused "
                     f"{g.ddr_unfused / ddr_gbps / 1e6:.3f} ms, fused "
                     f"{g.ddr_fused / ddr_gbps / 1e6:.3f} ms")
    fit = "" if g.fits_on_chip is None else (
        f"; fits in {_mib(g.on_chip_bytes)} on-chip" if g.fits_on_chip
        else f"; does NOT fit in {_mib(g.on_chip_bytes)} on-chip")
    per_core = f"; per-core working set {_mib(g.working_set)}{fit}"
    lines.append(f"  chosen split: {g.split.describe()} (what the kernel's parallel loop "
                 f"does){per_core}")
    return lines


def format_report(report) -> str:
    lines = [(f"split analysis of '{report.graph_name}' for {report.cores} cores: "
              f"{len(report.groups)} fusion group(s)"), ""]
    for i, g in enumerate(report.groups):
        lines += format_group(i, g, report.ddr_gbps)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

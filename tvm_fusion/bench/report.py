"""``peers.md`` (latency, ratios, % of roofline, notes), ``peers.json`` and ``peers.png``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import tvm

KERNEL_COLUMNS = ("tuned kernel", "default kernel", "unfused kernel", "relaxed kernel",
                  "ort kernel", "relax", "metaschedule")
CALL_COLUMNS = ("tuned call", "default call", "unfused call", "relaxed call", "numpy",
                "ort call", "torch", "torch.compile")
HEADLINE = {"kernel": "tuned kernel", "call": "tuned call"}
LATENCY_COLUMNS = ("tuned kernel", "tuned call", "default kernel", "default call",
                   "unfused kernel", "unfused call", "relaxed kernel", "relaxed call", "numpy",
                   "ort kernel", "ort call", "torch", "torch.compile", "relax", "metaschedule")
OTHER_NUMERICS = "\u2020"  # dagger


def cpu_name() -> str:
    """LLVM's name for the host CPU and lscpu's model name."""
    model = "unknown model"
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lines.splitlines()
                     if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    return f"{tvm.target.codegen.llvm_get_system_cpu()} ({model})"


def markdown_table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """A padded markdown table: the first ``left`` columns left-aligned, the rest right."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) if i < left else c.rjust(w)
                              for i, (c, w) in enumerate(zip(row, widths))) + " |"
            for row in rows]
    return "\n".join(out)


def _us(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    us = seconds * 1e6
    return f"{us:.0f}" if us >= 100 else f"{us:.1f}" if us >= 10 else f"{us:.2f}"


def _median(row: dict, label: str) -> float | None:
    entry = row["contestants"].get(label)
    return entry["median_s"] if entry else None


def latency_table(rows: list[dict]) -> str:
    cells = []
    for row in rows:
        line = [row["workload"], _us(row["roofline_s"])]
        for label in LATENCY_COLUMNS:
            entry = row["contestants"].get(label)
            mark = "" if entry is None or entry["exact"] else OTHER_NUMERICS
            line.append(_us(entry and entry["median_s"]) + mark)
        cells.append(line)
    return markdown_table(["workload", "roofline", *LATENCY_COLUMNS], cells)


def _ratio(a: float | None, b: float | None, percent: bool = False) -> str:
    if a is None or b is None:
        return "-"
    return f"{a / b:.0%}" if percent else f"{a / b:.2f}"


def ratio_table(rows: list[dict]) -> str:
    peers = [c for c in (*KERNEL_COLUMNS, *CALL_COLUMNS) if c not in HEADLINE.values()]
    header = ["workload", *(f"{p} /{'k' if p in KERNEL_COLUMNS else 'c'}" for p in peers),
              "unfused/default kernel", "predicted", "% roofline tuned kernel",
              "% roofline default kernel", "% roofline tuned call"]
    cells = []
    for row in rows:
        tuned = {mode: _median(row, label) for mode, label in HEADLINE.items()}
        line = [row["workload"]]
        for peer in peers:
            mode = "kernel" if peer in KERNEL_COLUMNS else "call"
            line.append(_ratio(_median(row, peer), tuned[mode]))
        line.append(_ratio(_median(row, "unfused kernel"), _median(row, "default kernel")))
        line.append("-" if row["predicted"] is None else f"{row['predicted']:.2f}")
        for label in ("tuned kernel", "default kernel", "tuned call"):
            line.append(_ratio(row["roofline_s"], _median(row, label), percent=True))
        cells.append(line)
    return markdown_table(header, cells)


def _allocations(rows: list[dict]) -> list[str]:
    seen = {}
    for row in rows:
        for label, entry in row["contestants"].items():
            if not row["workload"].endswith("donated"):
                seen.setdefault(label, entry["allocation"])
    return [f"- `{label}` ({'kernel' if label in KERNEL_COLUMNS else 'call'} level): "
            f"{seen[label]}" for label in LATENCY_COLUMNS if label in seen]


def _numerics_notes(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        other = [f"{label} (max |error| {entry['max_error']:.2g})"
                 for label, entry in row["contestants"].items() if not entry["exact"]]
        if other:
            lines.append(f"- {row['workload']}: {', '.join(other)}")
    return lines


NOISY_SPREAD = 0.5  # (max - min) / median over the rounds above which a median is flagged


def _noise_notes(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        noisy = [f"{label} {entry['spread']:.0%}" for label, entry in row["contestants"].items()
                 if entry["spread"] > NOISY_SPREAD]
        if noisy:
            lines.append(f"- {row['workload']}: {', '.join(noisy)}")
    return lines


def _bandwidth_lines(results: dict) -> list[str]:
    rows = results["rows"]
    lines = [(f"Roofline = {results['model']}. Bytes: the minimum traffic, every fused group's "
             "inputs read once and outputs written once (a scatter's output in full); "
             "bandwidths: the best read, write and copy method of the data's memory level, "
             "chosen at the start and sampled again in every round of every workload (the "
             "rooflines below use those rounds' medians)."), ""]
    for level, b in results["bandwidth"].items():
        parts = []
        for kind in ("read", "write", "copy"):
            during = [r[f"{kind}_bytes_per_s"] / 1e9 for r in rows if r["level"] == level]
            parts.append(f"{kind} {b[kind]['bytes_per_s'] / 1e9:.1f} GB/s ({b[kind]['method']}"
                         f"; in the rounds {min(during, default=0):.1f}-"
                         f"{max(during, default=0):.1f})")
        lines.append(f"- {level} ({b['array_bytes'] >> 10} KiB arrays): {'; '.join(parts)}"
                     " (copy: read + written bytes counted)")
    return lines


def roofline_table(rows: list[dict]) -> str:
    cells = [[row["workload"], row["level"], f"{row['bytes_read'] / 2**20:.2f}",
              f"{row['bytes_written'] / 2**20:.2f}", f"{row['read_bytes_per_s'] / 1e9:.1f}",
              f"{row['write_bytes_per_s'] / 1e9:.1f}", f"{row['copy_bytes_per_s'] / 1e9:.1f}",
              _us(row["roofline_s"]), _ratio(row["copy_roofline_s"], row["copy_s"], True)]
             for row in rows]
    return markdown_table(["workload", "level", "read MiB", "written MiB", "read GB/s",
                           "write GB/s", "copy GB/s", "roofline µs", "% roofline copy"],
                          cells, left=2)


def _above_roofline(rows: list[dict]) -> list[str]:
    """Every contestant (and copy) faster than its roofline: the model is then not a bound."""
    above = [f"{row['workload']} copy {row['copy_roofline_s'] / row['copy_s']:.0%}"
             for row in rows if row["copy_s"] < row["copy_roofline_s"]]
    above += [f"{row['workload']} {label} {row['roofline_s'] / entry['median_s']:.0%}"
              for row in rows for label, entry in row["contestants"].items()
              if entry["median_s"] < row["roofline_s"]]
    if not above:
        return ["No contestant and no copy ran faster than its roofline.", ""]
    return [f"Above 100 % of the roofline (the model is not a bound there): {', '.join(above)}.",
            ""]


def markdown(results: dict) -> str:
    rows = results["rows"]
    lines = [
        "# tvm-fusion against its peers", "",
        (f"Measured {results['date']} on {results['cpu']}; target `{results['target']}`; "
        f"{results['threads']} threads for every runtime; medians of {results['rounds']} "
        f"interleaved rounds (each round samples every contestant of a workload once, after a "
        f"50 ms pause; a sample lasts >= 50 ms); tuning budget {results['tune_trials']} "
        f"trials (ours, when no record matched), MetaSchedule generic {results['ms_trials']} "
        f"trials; {results['heap']}; run took {results['seconds']:.0f} s."),
        f"Command: `{results['command']}`", ""]
    loads = [r["foreign_cores"] for r in rows if r.get("foreign_cores") is not None]
    if loads:
        lines[-1:] = [(f"Other processes kept {min(loads):.2f}-{max(loads):.2f} of "
                       f"{results['threads']} cores busy while the workloads were timed "
                       "(/proc/stat minus this process): on a busy machine the runtimes that "
                       "assume the cores are theirs suffer most."), ""]
    lines += _bandwidth_lines(results)
    lines += ["", "## Latency (µs)", "", latency_table(rows), "",
              (f"{OTHER_NUMERICS} other numerics: within the loose tolerance of the workload's "
              "numpy but not within the exact ONNX result's tight one (on the fp16 workloads: "
              "f16 intermediates not rounded)."), "",
              "## Ratios", "",
              ("Each peer's latency / tvm-fusion tuned in the same mode (`/k`: kernel-level "
              "peers over `tuned kernel`; `/c`: call-level peers over `tuned call`): above 1 "
              "tvm-fusion is faster. `predicted`: the split analysis' DDR bytes unfused / "
              "fused. `% roofline`: roofline time / latency (the roofline: see the header and "
              "the Roofline section)."), "",
              ratio_table(rows), "", "## Roofline", "", roofline_table(rows), "",
              *_above_roofline(rows), "## Notes", "",
              "How each contestant's output is allocated:", *_allocations(rows)]
    numerics = _numerics_notes(rows)
    if numerics:
        lines += ["", f"Other numerics ({OTHER_NUMERICS}):", *numerics]
    noisy = _noise_notes(rows)
    if noisy:
        lines += ["", (f"Noisy (spread (max - min) / median over the rounds above "
                       f"{NOISY_SPREAD:.0%}; all spreads and samples are in peers.json):"),
                  *noisy]
    if results["notes"]:
        lines += ["", *(f"- {note}" for note in results["notes"])]
    return "\n".join(lines) + "\n"


def write_reports(results: dict, out: Path) -> list[Path]:
    """``peers.md``, ``peers.json`` and (with matplotlib) ``peers.png`` in ``out``."""
    from .plot import plot

    written = []
    md = out / "peers.md"
    md.write_text(markdown(results))
    written.append(md)
    path = out / "peers.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    written.append(path)
    png = plot(results, out / "peers.png")
    if png is None:
        md.write_text(md.read_text() + "- peers.png: not drawn, matplotlib is not installed "
                      "(pip install -e .[bench])\n")
    else:
        written.append(png)
    return written

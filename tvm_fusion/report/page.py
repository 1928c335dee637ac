"""``index.html`` and ``report.md``: the same summary table, then one section per workload."""

from __future__ import annotations

import datetime
import html
import platform
from pathlib import Path

from .collect import Workload, collect
from .plots import curve, knob_effects

COLUMNS = ["workload", "group", "template", "default us", "best us", "speedup",
           "% roofline", "trials", "wall s", "failed"]
CSS = """body{font-family:sans-serif;margin:1.5em;max-width:1200px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #bbb;padding:3px 7px}
th{background:#eee}td.n{text-align:right}pre{font-size:11px;background:#f7f7f7;padding:.5em;
overflow-x:auto}img{max-width:100%;display:block;margin:.4em 0}h2{margin-top:1.6em}"""


def write_report(log_dir, out) -> tuple[Path, Path, list[Workload]]:
    """Write ``out/index.html``, ``out/report.md`` and the PNGs for every records folder in
    ``log_dir``; returns both pages' paths and what they show."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    workloads = collect(log_dir)
    header = _header(log_dir, workloads)
    sections = []
    for i, w in enumerate(workloads):
        images = [curve(w, out / f"curve_{i}.png")]
        knobs = knob_effects(w, out / f"knobs_{i}.png")
        if knobs:
            images.append(knobs)
        analysis, script = _details(w)
        sections.append((w, [p.name for p in images], analysis, script))
    rows = [_row(w) for w in workloads]
    md, page = out / "report.md", out / "index.html"
    md.write_text(_markdown(header, rows, sections))
    page.write_text(_html(header, rows, sections))
    return page, md, workloads


def _row(w: Workload) -> list[str]:
    def us(seconds):
        return f"{seconds * 1e6:.2f}" if seconds else "-"

    speedup = f"{w.default_s / w.best_s:.2f}x" if w.default_s and w.best_s else "-"
    roof = f"{100 * w.roofline_fraction:.0f}%" if w.roofline_fraction else "-"
    wall = f"{w.wall_s:.0f}" if w.wall_s is not None else "- (no trial log)"
    return [w.workload, w.group, w.template, us(w.default_s), us(w.best_s), speedup, roof,
            str(len(w.trials)), wall, str(w.failed)]


def _header(log_dir, workloads: list[Workload]) -> list[str]:
    import tvm_ffi

    from .. import __version__
    from ..runtime.cpu import host_flags

    targets = sorted({w.target_key for w in workloads}) or ["none"]
    records = (f"Records: {Path(log_dir).resolve()} ({len(workloads)} group(s); targets "
               f"{', '.join(targets)})")
    written = (f"Written {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
               f"{host_flags()[1] or platform.processor() or 'this CPU'} ({platform.machine()})")
    versions = (f"Versions: tvm-fusion {__version__}, tvm-ffi {tvm_ffi.__version__}, "
                f"apache-tvm {_tvm_version()}")
    legend = ("default: the template's default schedule as measured when tuning started; best: "
              "the best measured trial (the tuner's runner); % roofline: the group's minimum "
              "traffic over this machine's copy bandwidth, divided by the best latency "
              "(read-dominated kernels can exceed 100 %: a copy is not a bound on reads)")
    return [records, written, versions, legend]


def _tvm_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("apache-tvm")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _details(w: Workload) -> tuple[str, str]:
    """The split analysis (built-in workloads) and the applied schedule: the scheduled
    TVMScript when this machine is the records' target, else the best record's trace."""
    from .. import workloads as builtin

    if w.workload not in builtin.WORKLOADS:
        return "(the split analysis needs the graph: a built-in workload's only)", w.best_trace
    from ..analysis import analyze
    from ..fusion import fuse, live_nodes
    from ..lower import lower
    from ..ops.fp16 import native_fp16
    from ..settings import num_cores
    from ..target import host_target, target_key
    from ..tuning.records import open_database

    graph = builtin.graph(w.workload)
    analysis = str(analyze(graph, cores=num_cores()))
    target = host_target()
    group = next((g for g in fuse(graph, live_nodes(graph)) if g.name == w.group), None)
    if group is None or target_key(target) != w.target_key:
        return analysis, w.best_trace
    kernel = lower(group.nodes, group.outputs, native_fp16=native_fp16(target))
    sch = open_database(w.folder).query_schedule(kernel.mod, target, "main")
    return analysis, sch.mod.script() if sch is not None else w.best_trace


def _markdown(header, rows, sections) -> str:
    lines = ["# Tuning report", "", *[f"- {h}" for h in header], "", "## Summary", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    for w, images, _, _ in sections:
        note = "" if w.logged else " (no trials.jsonl: curve from the records' order)"
        lines += ["", f"## {w.workload}: {w.group}{note}", ""]
        lines += [f"![{name}]({name})" for name in images]
    return "\n".join(lines) + "\n"


def _html(header, rows, sections) -> str:
    esc = html.escape
    head = "".join(f"<li>{esc(h)}</li>" for h in header)
    cells = "".join(
        "<tr>" + "".join(f'<td class="n">{esc(c)}</td>' if k >= 3 else f"<td>{esc(c)}</td>"
                         for k, c in enumerate(r)) + "</tr>" for r in rows)
    body = [f"<h1>Tuning report</h1><ul>{head}</ul><h2>Summary</h2>",
            '<table id="summary"><thead><tr>' + "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
            + f"</tr></thead><tbody>{cells}</tbody></table>"]
    for w, images, analysis, script in sections:
        note = "" if w.logged else " <small>(no trials.jsonl: curve from the records' order)</small>"
        body.append(f"<h2>{esc(w.workload)}: {esc(w.group)}{note}</h2>")
        body += [f'<img src="{esc(name)}" alt="{esc(name)}">' for name in images]
        body.append(f"<details><summary>split analysis</summary><pre>{esc(analysis)}</pre>"
                    f"</details><details><summary>applied schedule</summary><pre>{esc(script)}"
                    "</pre></details>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>tvm-fusion tuning report"
            f"</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")

"""The report's PNGs (matplotlib, headless ``Agg`` backend): tuning curves and knob effects."""

from __future__ import annotations

from pathlib import Path

from .collect import Workload


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curve(w: Workload, path: Path) -> Path:
    """Best latency so far against trial number and against wall time; every trial a dot,
    failures as red crosses on the top edge, the default schedule a dashed line."""
    plt = _pyplot()
    axes_count = 2 if w.logged else 1
    fig, axes = plt.subplots(1, axes_count, figsize=(5.2 * axes_count, 3.4), squeeze=False)
    xs_by = {"trial": [t["trial"] for t in w.trials]}
    if w.logged:
        xs_by["wall time (s)"] = [t["elapsed_s"] for t in w.trials]
    measured = [t["seconds"] * 1e6 for t in w.measured]
    top = max(measured) * 1.1 if measured else 1.0
    for ax, (label, xs) in zip(axes[0], xs_by.items()):
        best, running = [], float("inf")
        for t in w.trials:
            if t["seconds"] is not None:
                running = min(running, t["seconds"] * 1e6)
            best.append(running if running != float("inf") else None)
        ok = [(x, t["seconds"] * 1e6) for x, t in zip(xs, w.trials) if t["seconds"] is not None]
        bad = [x for x, t in zip(xs, w.trials) if t["seconds"] is None]
        ax.scatter([x for x, _ in ok], [y for _, y in ok], s=12, alpha=0.5, label="trial")
        ax.step(xs, [b if b is not None else float("nan") for b in best], where="post",
                color="C1", label="best so far")
        if bad:
            ax.scatter(bad, [top] * len(bad), marker="x", color="red", label="failed")
        if w.default_s:
            ax.axhline(w.default_s * 1e6, color="gray", linestyle="--", label="default")
        ax.set_xlabel(label if w.logged or label != "trial" else "record (no trial log)")
        ax.set_ylabel("latency (us)")
        ax.legend(fontsize=7)
    fig.suptitle(f"{w.workload}: {w.group} ({w.template})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def knob_effects(w: Workload, path: Path) -> Path | None:
    """Latency against each knob's value over the trials whose knobs are known."""
    named = [t for t in w.measured if t.get("knobs")]
    knobs = sorted({k for t in named for k in t["knobs"]})
    if not knobs:
        return None
    plt = _pyplot()
    columns = min(4, len(knobs))
    rows = -(-len(knobs) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 2.4 * rows), squeeze=False)
    for ax, knob in zip(axes.flat, knobs):
        points = [(t["knobs"][knob], t["seconds"] * 1e6) for t in named if knob in t["knobs"]]
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=14, alpha=0.6)
        ax.set_title(knob, fontsize=8)
        ax.set_ylabel("us", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(knobs):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

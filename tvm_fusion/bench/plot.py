"""``peers.png``: latency per workload per contestant, log scale (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from .report import LATENCY_COLUMNS


def plot(results: dict, path: Path) -> Path | None:
    """A grouped bar chart, one panel per size, one group of bars per workload, the roofline
    as a black tick; ``None`` when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    labels = [c for c in LATENCY_COLUMNS if any(c in r["contestants"] for r in rows)]
    panels: dict[str, list[dict]] = {}
    for row in rows:
        size = row["workload"].split()[0][2:] or "base"
        panels.setdefault(size, []).append(row)
    colors = plt.get_cmap("tab20").colors
    width = 0.8 / max(len(labels), 1)
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(max(8.0, 1.6 * max(len(p) for p in panels.values())),
                                      4.2 * len(panels)))
    for ax, (size, panel) in zip(axes[:, 0], panels.items()):
        for i, label in enumerate(labels):
            xs, ys = [], []
            for x, row in enumerate(panel):
                entry = row["contestants"].get(label)
                if entry:
                    xs.append(x - 0.4 + (i + 0.5) * width)
                    ys.append(entry["median_s"] * 1e6)
            ax.bar(xs, ys, width, label=label, color=colors[i % len(colors)])
        for x, row in enumerate(panel):
            ax.hlines(row["roofline_s"] * 1e6, x - 0.45, x + 0.45, colors="black",
                      linewidth=1.5, label="roofline" if x == 0 else None)
        ax.set_yscale("log")
        ax.set_xticks(range(len(panel)), [r["workload"] for r in panel])
        ax.set_ylabel("latency (µs, log)")
        ax.set_title(f"{size} forms")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0, 0].legend(ncol=4, fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.12) if
                      len(panels) == 1 else (1.0, 1.0))
    fig.suptitle(f"tvm-fusion vs peers, {results['cpu']}, {results['threads']} threads "
                 f"({results['date']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

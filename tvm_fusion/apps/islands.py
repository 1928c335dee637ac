"""``tvm-fusion analyze model.onnx`` on a model with unsupported ops: its islands, ranked by the
DDR bytes fusion saves in each, and ``--island NAME`` to analyse, compile or run one."""

from __future__ import annotations


def load_islands(path: str, shapes: dict | None = None):
    """The model's islands (``frontends.islands.Islands``: a list, ``.cut`` the cut nodes)."""
    from ..frontends import from_onnx

    return from_onnx(path, shapes=shapes, partial=True)


def island_named(islands, name: str):
    for island in islands:
        if island.name == name:
            return island
    known = ", ".join(i.name for i in islands) or "none (nothing in it is supported)"
    raise ValueError(f"--island {name}: no such island; this model's islands: {known} (tvm-fusion "
                     "analyze model.onnx lists them)")


def format_islands(path: str, islands, cores: int) -> str:
    """Every island with its ops, the fusion groups it becomes and the DDR bytes fusion saves,
    the largest saving first; then the nodes cut out and why."""
    from ..analysis import analyze

    rows = []
    for island in islands:
        report = analyze(island.graph, cores=cores)
        unfused = sum(g.ddr_unfused for g in report.groups)
        fused = sum(g.ddr_fused for g in report.groups)
        rows.append((unfused - fused, island, report, unfused, fused))
    rows.sort(key=lambda row: -row[0])
    lines = [(f"{path}: {len(islands)} island(s) of supported ops between {len(islands.cut)} "
              f"node(s) tvm-fusion does not support, ranked by the DDR bytes fusion saves "
              f"({cores} cores):"), ""]
    for rank, (saved, island, report, unfused, fused) in enumerate(rows, 1):
        ratio = f"{unfused / fused:.2f}x" if fused else "-"
        lines.append(f"{rank}. {island.name}: {len(island.onnx_ops)} node(s) "
                     f"({_ops(island.onnx_ops)}), {len(report.groups)} fusion group(s); DDR "
                     f"bytes unfused {_mib(unfused)}, fused {_mib(fused)}: saves "
                     f"{_mib(saved)} ({ratio})")
        lines.append(f"   inputs {', '.join(island.onnx_inputs) or '-'}; outputs "
                     f"{', '.join(island.onnx_outputs)}")
        for k, group in enumerate(report.groups):
            ops = " -> ".join(n.op for n in group.group.nodes)
            lines.append(f"   group {k}: {ops[:100]}{'...' if len(ops) > 100 else ''}")
    lines += ["", "cut out (each island reads or feeds them through its boundary tensors):"]
    lines += [f"  - {node}: {why}" for node, why in islands.cut] or ["  - nothing"]
    lines += ["", (f"one island in detail: tvm-fusion analyze {path} --island NAME; compile "
                   f"it: tvm-fusion compile {path} --island NAME [-o OUT]")]
    return "\n".join(lines) + "\n"


def island_oracle(model, island):
    """The island as an ONNX model of its own (``onnx.utils.Extractor``), for the checks."""
    import onnx.shape_inference
    import onnx.utils

    model = onnx.shape_inference.infer_shapes(model, data_prop=True)  # boundary value types
    return onnx.utils.Extractor(model).extract_model(list(island.onnx_inputs),
                                                     list(island.onnx_outputs))


def _ops(ops) -> str:
    counts: dict[str, int] = {}
    for op in ops:
        counts[op] = counts.get(op, 0) + 1
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counts.items())


def _mib(count: int) -> str:
    return f"{count / 2**20:.2f} MiB" if count >= 2**16 else f"{count / 1024:.1f} KiB"

"""Validate the committed files as test oracles and say what tvm_fusion does with them today.

Needs no torch: ``python tests/frontends/torch_models/check_models.py [--compile] [--out FILE]``.
For every ``<name>.<exporter>.onnx`` it runs ``onnx.reference.ReferenceEvaluator`` and
onnxruntime on the inputs of its ``.npz`` (``manifest.json`` names it) and compares with PyTorch's outputs
(``output_<i>``), then tries ``tvm_fusion.from_onnx(path)`` (and with ``--compile``, for the files
that import, ``tvm_fusion.compile`` and a run). It prints a markdown table (README.md's) and the
union of the op types over all files.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import traceback
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx.reference import ReferenceEvaluator

HERE = Path(__file__).resolve().parent


def max_error(got, want) -> float:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return float("inf")
    if got.dtype.kind == "f" and want.dtype.kind == "f":
        a, b = got.astype(np.float64), want.astype(np.float64)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        return float(np.max(np.where(same, 0.0, np.abs(a - b)), initial=0.0))
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)), initial=0.0))


def errors(outs, expected) -> str:
    if len(outs) != len(expected):
        return f"{len(outs)} outputs, want {len(expected)}"
    return ", ".join(f"{max_error(o, e):.2g}" for o, e in zip(outs, expected))


def first_lines(err: BaseException, n: int = 3) -> str:
    lines = [ln.strip() for ln in f"{type(err).__name__}: {err}".splitlines() if ln.strip()]
    return " / ".join(lines[:n]).replace("|", "\\|")


def import_error(err: BaseException) -> str:
    """The first line of an import error and the problems it lists, without the long list of
    supported op types nor the advice."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if "how to fix:" in lines:
        lines = lines[:lines.index("how to fix:")]
    lines = [ln.split(" (tvm-fusion supports")[0] + ":" if "(tvm-fusion supports" in ln else ln
             for ln in lines]
    return (f"{type(err).__name__}: " + " / ".join(lines)).replace("|", "\\|")


def check(path: Path, data, *, compile_: bool) -> dict:
    model = onnx.load(str(path))
    init = {t.name for t in model.graph.initializer}
    feeds = {v.name: data[v.name] for v in model.graph.input if v.name not in init}
    expected = [data[f"output_{i}"] for i in range(len(model.graph.output))]
    row = {}
    try:
        row["reference"] = errors(ReferenceEvaluator(model).run(None, feeds), expected)
    except Exception as err:  # noqa: BLE001
        row["reference"] = f"fails: {first_lines(err, 1)}"
    try:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        row["onnxruntime"] = errors(sess.run(None, feeds), expected)
    except Exception as err:  # noqa: BLE001
        row["onnxruntime"] = f"fails: {first_lines(err, 1)}"
    from tvm_fusion import from_onnx
    try:
        graph = from_onnx(str(path))
    except Exception as err:  # noqa: BLE001
        row["import"] = "no"
        row["error"] = import_error(err)
        return row
    row["import"] = "yes"
    if compile_:
        import tvm_fusion as tf
        try:
            fn = tf.compile(graph)
            outs = fn(**{t.name: feeds[t.name] for t in graph.inputs})
            row["compile"] = f"{fn.num_kernels} kernel(s), max err {errors(outs, expected)}"
        except Exception as err:  # noqa: BLE001
            row["compile"] = f"fails: {first_lines(err, 2)}"
            traceback.print_exc(file=sys.stderr)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    manifest = json.loads((HERE / "manifest.json").read_text())
    lines = ["| model | exporter | ONNX op types | opset | onnx.reference max abs err | "
             "onnxruntime max abs err | `from_onnx` today | error (first lines)"
             + (" | compile + run" if args.compile else "") + " |",
             "|---|---|---|---|---|---|---|---" + ("|---" if args.compile else "") + "|"]
    union = collections.Counter()
    results = {}
    for name, entry in manifest["models"].items():
        for exporter, info in entry["files"].items():
            path = HERE / info["file"]
            data = np.load(HERE / info["npz"])
            row = check(path, data, compile_=args.compile)
            results[info["file"]] = row
            union.update(info["ops"] + info["function_ops"])
            ops = ", ".join(info["ops"])
            if info["functions"]:
                ops += f"; functions {info['functions']} with {', '.join(info['function_ops'])}"
            opset = ", ".join(f"{k} {v}" if k != "ai.onnx" else str(v)
                              for k, v in info["opsets"].items())
            cells = [name, exporter, ops, opset, row["reference"], row["onnxruntime"],
                     row["import"], row.get("error", "")]
            if args.compile:
                cells.append(row.get("compile", ""))
            lines.append("| " + " | ".join(cells) + " |")
            print(f"{info['file']}: {row}", file=sys.stderr)
    for failed, why in manifest["failures"].items():
        lines.append(f"| {failed} | export failed: {why.split(' [Caused by')[0]} |")
    for failed, why in manifest["wrong"].items():
        lines.append(f"| {failed} | exported, but not kept: {why} |")
    lines += ["", "Op types over all files (files using each):", ""]
    lines += [", ".join(f"{op} ({n})" for op, n in sorted(union.items()))]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
        (args.out.with_suffix(".json")).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

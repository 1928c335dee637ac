"""``tvm_fusion.export``: a compiled graph as one ``.so``, sealed metadata and its TVMScript.

Every kernel of the graph goes into ONE library: the scheduled PrimFuncs (after the same
``alignment.finalize`` passes the in-process build applies) become the functions
``kernel_0 .. kernel_{n-1}`` of one IRModule, compiled once for the graph's target and written
by TVM's ``export_library``. Each file is written to a temporary name and renamed, so an
interrupted export never leaves a half-written module under the final name.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import tvm
import tvm_ffi

from ..alignment import finalize
from .cpu import host_flags, split_features
from .executor import CompiledGraph
from .manifest import (
    FORMAT,
    FORMAT_VERSION,
    check_json,
    constant_json,
    example_inputs,
    file_sha256,
    paths_of,
    sealed,
    tensor_json,
)


@dataclass(frozen=True)
class ExportedFiles:
    library: Path
    metadata: Path
    tir: Path

    def __iter__(self):
        return iter((self.library, self.metadata, self.tir))


def export(compiled: CompiledGraph, path, *, inputs: dict | None = None,
           repeat: int = 15) -> ExportedFiles:
    """Write ``path.so``, ``path.json`` and ``path.tir.py`` for ``compiled``.

    Parameters
    ----------
    compiled : CompiledGraph
        What ``tvm_fusion.compile`` returned (any number of kernels).
    path : str or Path
        The files' common stem (``out/model`` -> ``out/model.so`` ...); a trailing ``.so`` is
        accepted. The folder is created.
    inputs : dict, optional
        Arrays by input name to time each kernel on (the latency recorded in the metadata);
        default: made-up inputs of the right shapes (scatter indices in range).
    repeat : int
        Timing repeats per kernel.

    Returns
    -------
    ExportedFiles
        ``(library, metadata, tir)`` paths. ``tvm_fusion.load(library)`` runs the module.
    """
    if not isinstance(compiled, CompiledGraph) or not all(hasattr(k, "scheduled")
                                                           for k in compiled.kernels):
        raise TypeError(f"export takes what tvm_fusion.compile returned, got "
                        f"{type(compiled).__name__} (a loaded module is exported already)")
    if not compiled.kernels:
        raise ValueError(f"graph '{compiled.graph.name}' compiled to no kernel (its outputs are "
                         "its inputs or constants): there is nothing to export")
    library, metadata, tir = paths_of(path)
    library.parent.mkdir(parents=True, exist_ok=True)
    names = [f"kernel_{i}" for i in range(compiled.num_kernels)]
    functions = {name: finalize(k.scheduled)["main"].with_attr("global_symbol", name)
                 for name, k in zip(names, compiled.kernels)}
    executable = tvm.compile(tvm.IRModule(functions), target=compiled.target)
    _atomic(library, lambda tmp: executable.export_library(str(tmp)))
    arrays = inputs if inputs is not None else example_inputs(
        compiled.graph.inputs, compiled.index_checks)
    seconds = compiled.kernel_seconds(**arrays, repeat=repeat)
    meta = _metadata(compiled, names, seconds, library)
    _atomic(metadata, lambda tmp: tmp.write_text(sealed(meta)))
    _atomic(tir, lambda tmp: tmp.write_text(_tvmscript(compiled, names)))
    return ExportedFiles(library, metadata, tir)


def _metadata(compiled: CompiledGraph, names: list[str], seconds, library: Path) -> dict:
    graph, target = compiled.graph, compiled.target
    llvm_features = tvm.target.codegen.llvm_get_cpu_features(target)
    required, unchecked = split_features(llvm_features)
    _, model = host_flags()
    donated = {d.input for d in compiled.donations}
    produced = {n for k in compiled.kernels for n in k.outputs}
    io = {t.name for t in (*graph.inputs, *graph.outputs)} | set(graph.constants)
    kernels = []
    for name, k, s in zip(names, compiled.kernels, seconds):
        kernels.append({
            "function": name, "nodes": list(k.nodes), "inputs": list(k.inputs),
            "outputs": list(k.outputs), "template": k.schedule,
            "knobs": [{"name": knob.name, "value": knob.value, "choices": knob.choices}
                      for knob in k.knobs],
            "trace": k.trace, "record": k.record, "notice": k.notice, "latency_s": s})
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": graph.name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "library": library.name, "library_sha256": file_sha256(library),
        "inputs": [{**tensor_json(t), "donated": t.name in donated} for t in graph.inputs],
        "outputs": [tensor_json(t) for t in graph.outputs],
        "intermediates": [tensor_json(graph.tensors[n]) for n in sorted(produced - io)],
        "constants": [constant_json(n, v) for n, v in graph.constants.items()],
        "kernels": kernels,
        "index_checks": [check_json(c) for c in compiled.index_checks],
        "donations": [{"input": d.input, "scatter": d.scatter, "output": d.output}
                      for d in compiled.donations],
        "target": json.loads(str(target)),
        "cpu": {"mcpu": str(target.attrs.get("mcpu", "generic")),
                "built_on": {"llvm_cpu": tvm.target.codegen.llvm_get_system_cpu(),
                             "model": model, "machine": platform.machine()},
                "llvm_features": sorted(llvm_features), "required": required,
                "unchecked": unchecked},
        "versions": {"tvm_fusion": _version("tvm-fusion"), "tvm": tvm.__version__,
                     "tvm_ffi": tvm_ffi.__version__},
    }


def _tvmscript(compiled: CompiledGraph, names: list[str]) -> str:
    header = (f"# {compiled.graph.name}: {compiled.num_kernels} kernel(s), target "
              f"{compiled.target}\n# The scheduled TIR of each kernel, before the passes "
              "every build applies (tvm_fusion.alignment.finalize: element alignment, "
              "prefetches).\n")
    parts = [header]
    for name, k in zip(names, compiled.kernels):
        knobs = ", ".join(f"{knob.name}={knob.value}" for knob in k.knobs) or "none"
        parts.append(f"\n# ---- {name}: {' -> '.join(k.nodes)}\n# template {k.schedule}; "
                     f"knobs {knobs}\n# record: {k.record or '-'}\n")
        parts.append(k.scheduled.script())
    return "\n".join(parts) + "\n"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        from .. import __version__

        return __version__


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".tmp{os.getpid()}-{path.name}")  # same suffix: export_library
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

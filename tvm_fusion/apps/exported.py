"""``tvm-fusion compile ... -o OUT`` and ``tvm-fusion run OUT.so``: write and run exports.

``run_exported`` needs only what ``tvm_fusion.load`` needs (numpy, tvm_ffi, TVM's runtime
library): the command runs an exported module on a machine without the compiler stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def export_files(fn, out: str, inputs: dict | None = None) -> list[str]:
    """Export ``fn`` to ``out.{so,json,tir.py}``; one line per file (path and size)."""
    from ..runtime.export import export

    files = export(fn, out, inputs=inputs)
    return [f"  {path}  {_size(path.stat().st_size)}" for path in files]


@dataclass(frozen=True)
class ExportedRun:
    output_names: tuple[str, ...]
    outputs: tuple[np.ndarray, ...]
    seconds: float
    made_up: tuple[str, ...]  # descriptions of the inputs made up (none given)
    kernels: tuple[tuple[str, str, float], ...]  # (function, template, latency at export)
    built_for: str


def run_exported(path: str, *, inputs: str | None = None, repeat: int = 15) -> ExportedRun:
    """Load (verified), run on ``inputs`` (an ``.npz``) or made-up ones, time the kernels."""
    from ..runtime.load import load
    from ..runtime.manifest import example_inputs

    module = load(path)
    checks = module.index_checks
    if inputs:
        arrays = read_npz_inputs(inputs, module.graph.inputs)
        made_up = ()
    else:
        arrays = example_inputs(module.graph.inputs, checks)
        bounds = {c.tensor: min(c.bounds) for c in checks}
        made_up = tuple(_describe(t, bounds.get(t.name)) for t in module.graph.inputs)
    donated = {d.input for d in module.donations}
    call_arrays = {k: (v.copy() if k in donated else v) for k, v in arrays.items()}
    outputs = module(**call_arrays)
    seconds = module.benchmark(**arrays, repeat=repeat)
    meta = module.metadata
    kernels = tuple((k["function"], k["template"], k["latency_s"]) for k in meta["kernels"])
    built_for = f"-mcpu={meta['cpu']['mcpu']} (built on {meta['cpu']['built_on']['llvm_cpu']})"
    return ExportedRun(module.output_names, outputs, seconds, made_up, kernels, built_for)


def read_npz_inputs(path: str, specs) -> dict[str, np.ndarray]:
    """``--inputs``: the arrays of an ``.npz`` by input name; every input of ``specs`` (each
    with a ``name``) must be there. Shapes and dtypes are checked by the call itself."""
    import zipfile

    if not Path(path).is_file():
        raise ValueError(f"--inputs {path}: no such file (an .npz written by numpy.savez, "
                         "one array per input name)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise ValueError(f"--inputs {path}: not a readable .npz ({err}); write one with "
                         "numpy.savez(path, name=array, ...)") from None
    missing = [t.name for t in specs if t.name not in arrays]
    if missing:
        raise ValueError(f"--inputs {path}: missing inputs {', '.join(missing)} (the npz holds "
                         f"{', '.join(arrays) or 'nothing'}; the model takes "
                         f"{', '.join(t.name for t in specs)})")
    return {t.name: arrays[t.name] for t in specs}


def _describe(t, bound: int | None) -> str:
    shape = "x".join(str(d) for d in t.shape) or "scalar"
    if bound is not None:
        values = f"uniform integers in [0, {bound - 1}] (scatter indices, in range)"
    elif t.dtype.startswith(("int", "uint")):
        values = "zeros"
    elif t.dtype == "bool":
        values = "a fair coin"
    else:
        values = "standard normal"
    return f"{t.name}: {t.dtype}[{shape}] {values}, seed 0"


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1 << 20 else \
        f"{n / (1 << 20):.1f} MiB"


def print_exported_run(args) -> int:
    """``tvm-fusion run OUT.so``: load (verified), run, print; the exit code."""
    result = run_exported(args.model, inputs=args.inputs, repeat=args.repeat)
    print(f"{args.model}: {len(result.kernels)} kernel(s), built for {result.built_for}; "
          "verified (library and metadata hashes, CPU features) and loaded")
    if result.made_up:
        print("inputs made up (no --inputs given):")
        for line in result.made_up:
            print(f"  {line}")
    print("outputs:")
    for name, out in zip(result.output_names, result.outputs):
        print(f"  {name}: {out.dtype}{list(out.shape)}")
    print("kernels:")
    for function, template, seconds in result.kernels:
        print(f"  {function}: {template}, {seconds * 1e6:.1f} us when exported")
    print(f"median latency: {result.seconds * 1e3:.4f} ms over {args.repeat} repeats "
          "(kernels, inputs bound)")
    if args.output:
        path = args.output if args.output.endswith(".npz") else args.output + ".npz"
        np.savez(path, **dict(zip(result.output_names, result.outputs)))
        print(f"outputs written to {path}")
    return 0


def export_checked(args, fn, arrays: dict, ok: bool) -> None:
    """``tvm-fusion compile ... -o OUT``: export ``fn`` once its check passed."""
    if not args.output:
        return
    if not ok:
        print(f"not exported to {args.output}: the result check failed")
        return
    print(f"exported ({fn.target}):")
    for line in export_files(fn, args.output, inputs=arrays):
        print(line)

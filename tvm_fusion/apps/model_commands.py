"""``tvm-fusion run`` and ``tvm-fusion compile``, and what the commands share: the graph of a
workload name or ONNX file (``--shape`` pins dynamic dimensions) and the records folders.

Every handler returns the exit code (``commands.EXIT_*``); bad input raises and ``cli.main``
prints it as one line with exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK, EXIT_CHECK_FAILED = 0, 1


def parse_shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    """``--shape x=8,64`` (repeatable) -> ``{"x": (8, 64)}``."""
    shapes = {}
    for item in items:
        name, sep, dims = item.partition("=")
        try:
            shape = tuple(int(d) for d in dims.split(",")) if sep and name else None
        except ValueError:
            shape = None
        if not shape or any(d < 1 for d in shape):
            raise ValueError(f"--shape expects NAME=D0,D1,... with positive sizes (e.g. "
                             f"--shape x=8,64), got {item!r}")
        if name in shapes:
            raise ValueError(f"--shape {name} is given twice")
        shapes[name] = shape
    return shapes


def graph_of(name: str, shapes: dict | None = None):
    """A workload name or an ``.onnx`` file (``shapes``: pinned input shapes, ONNX only)."""
    from .. import workloads

    if name.endswith(".onnx"):
        from ..frontends import from_onnx

        return from_onnx(name, shapes=shapes)
    if shapes:
        raise ValueError(f"--shape pins dynamic dimensions of an .onnx model; workload {name} "
                         "has fixed shapes (use its s or l form for other sizes)")
    return workloads.graph(name)


def read_logs(args: argparse.Namespace) -> tuple[str, ...] | None:
    """The records folders a compiling command reads (``None`` with --no-logs), printed."""
    from ..settings import describe_logs
    from ..settings import read_logs as folders

    if args.no_logs:
        print("records: none (--no-logs): template default schedules")
        return None
    if args.logs and not Path(args.logs).expanduser().is_dir():
        what = "is a file, not" if Path(args.logs).expanduser().exists() else "no such"
        raise ValueError(f"--logs {args.logs}: {what} records folder (give a folder tvm-fusion "
                         "tune or batch wrote, or omit --logs for the default)")
    print(describe_logs(args.logs))
    return folders(args.logs)


def cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    if args.model.endswith((".so", ".json")):
        if args.check or args.shape:
            flag = "--check" if args.check else "--shape"
            raise ValueError(f"{flag} applies to an ONNX model; an exported module has fixed "
                             "shapes and was checked when it was compiled (tvm-fusion compile)")
        from .exported import print_exported_run

        return print_exported_run(args)
    if not args.model.endswith(".onnx"):
        raise ValueError(f"{args.model}: expected a model.onnx or an exported module's .so")
    from .run_model import run_model

    result = run_model(args.model, inputs=args.inputs, repeat=args.repeat, check=args.check,
                       shapes=parse_shapes(args.shape))
    print(f"{args.model}: {result.kernels} kernel(s) ({', '.join(result.schedules)})")
    for name, out in zip(result.output_names, result.outputs):
        print(f"  output {name}: {out.dtype}{list(out.shape)}")
    print(f"median latency: {result.seconds * 1e3:.3f} ms over {args.repeat} repeats")
    print_checks(result.checks)
    if args.output:
        path = args.output if args.output.endswith(".npz") else args.output + ".npz"
        np.savez(path, **dict(zip(result.output_names, result.outputs)))
        print(f"outputs written to {path}")
    return EXIT_OK if all(ok for _, ok, _ in result.checks) else EXIT_CHECK_FAILED


def print_checks(checks) -> None:
    for oracle, ok, error in checks:
        print(f"check against {oracle}: {'ok' if ok else 'MISMATCH'} (max |error| {error:.2e})")


def cmd_compile(args: argparse.Namespace) -> int:
    """Compile with the tuning records, say per group what was applied, check, time it beside
    the default schedule (interleaved) and export it with -o."""
    from ..compiler import compile as compile_graph
    from .exported import export_checked

    logs = read_logs(args)
    donate = args.donate or None
    shapes = parse_shapes(args.shape)
    if args.workload.endswith(".onnx"):
        if donate:
            raise ValueError("--donate applies to workloads (W1..W5, P1..P5), not to .onnx")
        graph, arrays, oracle = _onnx_job(args.workload, shapes, args.island)
    elif args.island:
        raise ValueError(f"--island names a part of an .onnx model; {args.workload} is a "
                         "workload")
    else:
        graph, arrays, oracle = _workload_job(args.workload, shapes)
    fn = compile_graph(graph, tuning_logs=logs, donate=donate, cpu=args.cpu,
                       transfer=not args.no_transfer)
    what = f"{args.workload} --island {args.island}" if args.island else args.workload
    print(f"{what}: {fn.num_kernels} kernel(s) ({', '.join(fn.schedules)})")
    for line in fn.notices:
        print(f"  {line}")
    arrays = {**arrays, **{name: arrays[name].copy() for name in donate or ()}}  # overwritten
    checks = oracle(fn(**arrays), arrays)
    print_checks(checks)
    ok = all(ok for _, ok, _ in checks)
    _time_against_default(fn, graph, arrays, args, donate)
    export_checked(args, fn, arrays, ok)
    return EXIT_OK if ok else EXIT_CHECK_FAILED


def _workload_job(name: str, shapes: dict):
    from .. import workloads
    from ..reference import compare

    if shapes:
        graph_of(name, shapes)  # raises: workloads have fixed shapes
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    return graph, arrays, lambda outputs, _: [("numpy", *compare(outputs, [expected]))]


def _onnx_job(path: str, shapes: dict, island: str | None = None):
    """The graph of a model (or of one island of it), its inputs and its oracle checks."""
    from ..frontends import from_onnx
    from ..frontends.onnx_files import load_model
    from .run_model import oracle_checks, random_inputs

    model = load_model(path)
    if island:
        from .islands import island_named, island_oracle

        part = island_named(from_onnx(model, shapes=shapes, partial=True), island)
        graph, model = part.graph, island_oracle(model, part)
    else:
        graph = from_onnx(model, shapes=shapes)
    return graph, random_inputs(graph), lambda outputs, arrays: oracle_checks(
        model, graph, outputs, arrays)


def _time_against_default(fn, graph, arrays: dict, args, donate) -> None:
    if not any(s.startswith("tuned:") for s in fn.schedules):
        seconds = fn.benchmark(**arrays, repeat=args.repeat)
        print(f"median latency: {seconds * 1e3:.4f} ms over {args.repeat} repeats; template "
              "default schedule: no record applied: untuned = fused")
        return
    from ..compiler import compile as compile_graph
    from ..timing import interleaved, ratios

    default = compile_graph(graph, donate=donate, cpu=args.cpu)
    tuned, untuned = interleaved([lambda f=f: f.benchmark(**arrays, repeat=3)
                                  for f in (fn, default)], args.repeat)
    print(f"median latency: {tuned.median * 1e3:.4f} ms; template default schedule "
          f"{untuned.median * 1e3:.4f} ms; default/tuned {ratios(tuned, untuned)} "
          "(interleaved rounds)")

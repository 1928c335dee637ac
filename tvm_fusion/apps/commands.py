"""What each ``tvm-fusion`` command does, once ``cli.py`` has parsed its arguments.

Every handler takes the parsed ``argparse.Namespace`` and returns the exit code (``cli.EXIT_*``:
0 success, 1 a result check failed; bad input raises and ``cli.main`` prints one line, exit 2).
"""

from __future__ import annotations

import argparse
import sys

from .model_commands import cmd_compile, cmd_run, graph_of, parse_shapes, read_logs

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
__all__ = ["cmd_compile", "cmd_run"]  # with the cmd_* below: one handler per command


def cmd_demo(args: argparse.Namespace) -> int:
    from .. import workloads
    from ..analysis import analyze
    from ..settings import num_cores
    from ..target import as_target
    from .demo import DEMO_WORKLOADS, format_table, run_workload

    names = args.workloads or list(DEMO_WORKLOADS)
    logs = read_logs(args)
    print(f"tvm-fusion demo on {as_target(None)}\n")
    print(analyze(workloads.graph(names[0]), cores=num_cores()))
    timing = (f"Latency = median of {args.repeat} interleaved rounds (fused, untuned, "
              "unfused and numpy in turn in every round, each round starting with the next), "
              "inputs in memory.\n")
    print(f"fused: one kernel per fusion group, scheduled from the tuning records ({logs[0]}, "
          f"then the shipped ones) when they match this CPU and beat the default in process "
          f"(or, without a record of this CPU, a record of another CPU with its features that "
          f"beats the default here: column 'record'), else by its template; "
          f"untuned: the same kernel with the template's default schedule; unfused: one "
          f"kernel per op (simple schedules). " + timing
          if logs else
          "fused: one kernel per fusion group, template schedules (no tuning records); "
          "unfused: one kernel per op (simple schedules). " + timing)
    rows = []
    for name in names:
        print(f"  {name}: compiling fused and unfused, checking against numpy, timing ...",
              flush=True)
        rows.append(run_workload(name, repeat=args.repeat, tuning_logs=logs,
                                 transfer=not args.no_transfer))
    print()
    print(format_table(rows))
    if logs:
        print("\nschedules:")
        for row in rows:
            for line in row.notices:
                print(f"  {row.workload} {line}")
    return EXIT_OK if all(r.ok for r in rows) else EXIT_CHECK_FAILED


def _rpc_settings(text: str | None):
    if not text:
        return "local"
    from ..tuning import RPCSettings

    parts = text.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        raise ValueError(f"--rpc expects HOST:PORT:KEY (a TVM RPC tracker and device key), "
                         f"got {text!r}")
    return RPCSettings(parts[0], int(parts[1]), parts[2])


def cmd_tune(args: argparse.Namespace) -> int:
    import time

    from .. import workloads
    from ..tuning import tune

    start = time.time()

    def progress(group, done, total, best, elapsed, new, stats):
        width = 30
        filled = int(width * done / max(total, 1))
        best_text = f"{best * 1e6:.1f} us" if best else "-"
        print(f"\r  {group[:36]:<36} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
              f"best {best_text}  {elapsed:.0f} s  {stats.builds_per_minute:.0f} builds/min  "
              f"{stats.measurements_per_minute:.0f} measurements/min", end="", flush=True)

    from ..settings import describe_logs, write_logs

    runner = _rpc_settings(args.rpc)
    log_dir = write_logs(args.logs)
    print(describe_logs(args.logs, writes=True))
    print("(the first round of a process also loads TVM's tensor intrinsics: ~30 s here)")
    results = []
    shapes = parse_shapes(args.shape)
    for name in args.workloads:
        graph = graph_of(name, shapes if name.endswith(".onnx") else None)
        inputs = None if name.endswith(".onnx") else workloads.inputs(name)  # real indices
        budget = None if args.time_budget is None else args.time_budget - (time.time() - start)
        print(f"tuning {name}: {args.trials} trials per group, records in {log_dir}")
        results += [(name, r) for r in tune(graph, trials=args.trials, time_budget_s=budget,
                                            log_dir=log_dir, runner=runner,
                                            progress=progress, inputs=inputs,
                                            keep_best=args.keep_best,
                                            transfer=not args.no_transfer)]
        print()
    header = f"{'workload':<10}  {'group':<36}  {'template':<18}  {'default us':>10}  " \
             f"{'best us':>9}  {'runner':>7}  {'trials':>6}  {'wall s':>6}  in process"
    print(header)
    print("-" * len(header))
    for name, r in results:
        best = f"{r.best_seconds * 1e6:.1f}" if r.best_seconds else "-"
        speedup = f"{r.default_seconds / r.best_seconds:.2f}x" if r.best_seconds else "-"
        note = f"  ({r.stopped})" if r.stopped not in ("", "trials reached") else ""
        if r.transferred:
            note += f"  (started from {r.transferred} record(s) of other CPUs)"
        if r.explored:
            note += f"  ({r.explored} drawn at random: the search proposed only measured ones)"
        checked = "-" if r.in_process is None else \
            ("applied: " if r.in_process.applies else "default stays: ") + r.in_process.why
        print(f"{name[:10]:<10}  {r.group[:36]:<36}  {r.template:<18}  "
              f"{r.default_seconds * 1e6:>10.1f}  {best:>9}  {speedup:>7}  {r.trials:>6}  "
              f"{r.wall_seconds:>6.0f}  {checked}{note}")
    for name, r in results:  # a failed candidate is data: say how many and the first reason
        for kind, count, first in (r.throughput.failures if r.throughput else ()):
            print(f"{name} {r.group}: {count} candidate(s) {kind}, first: {first}")
    print(f"total wall time {time.time() - start:.0f} s (default, best and runner speedup: "
          "medians measured by the tuner's runner, best of many noisy trials, see "
          "--keep-best; in process: the best record against the default timed in this "
          "process, interleaved, which decides whether compile applies it)")
    return EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    from ..analysis import analyze

    shapes = parse_shapes(args.shape)
    if args.workload.endswith(".onnx"):
        from ..frontends import OnnxImportError
        from .islands import format_islands, island_named, load_islands

        try:
            graph = (island_named(load_islands(args.workload, shapes), args.island).graph
                     if args.island else graph_of(args.workload, shapes))
        except OnnxImportError as err:
            islands = load_islands(args.workload, shapes) if err.unsupported else None
            if not islands:
                raise  # nothing to list: the import error says what is wrong
            print(format_islands(args.workload, islands, args.cores), end="")
            return EXIT_OK
    elif args.island:
        raise ValueError(f"--island names a part of an .onnx model; {args.workload} is a "
                         "workload")
    else:
        graph = graph_of(args.workload, shapes)
    print(analyze(graph, cores=args.cores, on_chip_bytes=args.on_chip_bytes,
                  ddr_gbps=args.ddr_gbps, donate=args.donate or None), end="")
    return EXIT_OK


def cmd_explore(args: argparse.Namespace) -> int:
    from .explore import explore, format_exploration

    decisions = {}
    for item in args.decision:
        name, sep, value = item.partition("=")
        if not sep or not value.lstrip("-").isdigit():
            raise ValueError(f"--decision expects NAME=INTEGER, got {item!r}")
        decisions[name] = int(value)
    show = {s.strip() for s in args.show.split(",") if s.strip()}
    unknown = show - {"before", "after", "trace"}
    if unknown:
        raise ValueError(f"--show takes before, after, trace; got {', '.join(sorted(unknown))}")
    result = explore(args.workload, template=args.template, decisions=decisions,
                     repeat=args.repeat)
    print(format_exploration(result, show))
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


def cmd_bench(args: argparse.Namespace) -> int:
    """Every peer against tvm-fusion in one run (logic: ``tvm_fusion.bench``)."""
    from pathlib import Path

    from ..bench import BenchOptions, run_bench

    command = " ".join(["tvm-fusion bench", *args.workloads, "--size", args.size, "--out",
                        args.out, "--repeat", str(args.repeat), "--tune-trials",
                        str(args.tune_trials), "--ms-trials", str(args.ms_trials)])
    results = run_bench(BenchOptions(workloads=args.workloads, size=args.size,
                                     out=Path(args.out), repeat=args.repeat,
                                     tune_trials=args.tune_trials, ms_trials=args.ms_trials,
                                     command=command))
    ours = ("tuned ", "default ", "unfused ", "relaxed ", "donated ")
    wrong = [w for w in results["wrong"] if w.split(" ", 1)[1].startswith(ours)]
    for item in wrong:
        print(f"tvm-fusion: check failed: {item} differs from numpy (see peers.md)",
              file=sys.stderr)
    return EXIT_CHECK_FAILED if wrong else EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    """Every job of a manifest: tune, compile, check, export, verify (``tvm_fusion.batch``)."""
    from ..batch import format_summary, load_manifest, plan, run_batch, runner_settings
    from ..settings import write_logs
    from ..target import as_target

    manifest = load_manifest(args.manifest)
    target = as_target(None, manifest.cpu)
    log_dir = manifest.log_dir or write_logs(None)
    print(f"{args.manifest}: {len(manifest.jobs)} job(s), target {target}")
    print(f"records: {log_dir} (tuning writes here); exports and job states: "
          f"{manifest.output_dir}")
    lines, broken = plan(manifest, target)
    for line in lines:
        print(f"  {line}")
    if args.dry_run:
        print(f"dry run: nothing tuned; {broken} job(s) cannot be built" if broken else
              "dry run: nothing tuned")
        return EXIT_CHECK_FAILED if broken else EXIT_OK
    from ..tuning import FarmError
    from ..tuning.farm import farm_status

    try:
        runner = runner_settings(manifest.runner)  # an RPC farm is checked before any job
    except FarmError as err:
        raise ValueError(f"{args.manifest}: [runner]: {err}") from None
    if runner != "local":
        status = farm_status(runner)
        print(f"farm: {status.total} server(s) with key {runner.device_key!r} at "
              f"{runner.tracker}, {status.free} free; builds here on every core")
    result = run_batch(manifest, target, log_dir, runner,
                       lambda text: print(text, flush=True))
    print()
    print(format_summary(result.rows))
    print(f"summary: {manifest.output_dir / 'summary.json'}")
    if not args.no_report:
        from ..report import write_report

        page, _, _ = write_report(log_dir, manifest.output_dir / "report")
        print(f"report: {page}")
    return EXIT_CHECK_FAILED if result.failed else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """The tuning report of a records folder (``tvm_fusion.report``)."""
    from pathlib import Path

    from ..report import write_report

    if not Path(args.log_dir).is_dir():
        raise ValueError(f"{args.log_dir}: no such folder (give the records folder that tune "
                         "or batch wrote, e.g. ~/.cache/tvm-fusion/tuning_logs)")
    page, md, workloads = write_report(args.log_dir, args.out)
    if not workloads:
        raise ValueError(f"{args.log_dir}: no records folder (<target>/<workload>/manifest.json)"
                         " found under it")
    print(f"{len(workloads)} group(s) from {args.log_dir}")
    print(f"  {page}\n  {md}")
    return EXIT_OK

"""The ``tvm-fusion`` command. It parses arguments and delegates; the logic lives elsewhere.

Exit codes: 0 success; 1 a result check failed; 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


def _demo(args: argparse.Namespace) -> int:
    from . import workloads
    from .analysis import analyze
    from .demo import DEMO_WORKLOADS, format_table, run_workload
    from .settings import num_cores
    from .target import as_target

    names = args.workloads or list(DEMO_WORKLOADS)
    logs = None if args.no_logs else args.logs
    print(f"tvm-fusion demo on {as_target(None)}\n")
    print(analyze(workloads.graph(names[0]), cores=num_cores()))
    timing = (f"Latency = median of {args.repeat} interleaved rounds (fused, untuned, "
              "unfused and numpy in turn in every round), inputs in memory.\n")
    print(f"fused: one kernel per fusion group, scheduled from the tuning records in {logs} "
          f"when they match this CPU and beat the default in process, else by its template; "
          f"untuned: the same kernel with the template's default schedule; unfused: one "
          f"kernel per op (simple schedules). " + timing
          if logs else
          "fused: one kernel per fusion group, template schedules (no tuning records); "
          "unfused: one kernel per op (simple schedules). " + timing)
    rows = []
    for name in names:
        print(f"  {name}: compiling fused and unfused, checking against numpy, timing ...",
              flush=True)
        rows.append(run_workload(name, repeat=args.repeat, tuning_logs=logs))
    print()
    print(format_table(rows))
    if logs:
        print("\nschedules:")
        for row in rows:
            for line in row.notices:
                print(f"  {row.workload} {line}")
    return EXIT_OK if all(r.ok for r in rows) else EXIT_CHECK_FAILED


def _graph_of(name: str):
    """A workload name or an ``.onnx`` file."""
    from . import workloads

    if name.endswith(".onnx"):
        from .frontends import from_onnx

        return from_onnx(name)
    return workloads.graph(name)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from .run_model import run_model

    result = run_model(args.model, inputs=args.inputs, repeat=args.repeat, check=args.check)
    print(f"{args.model}: {result.kernels} kernel(s) ({', '.join(result.schedules)})")
    for name, out in zip(result.output_names, result.outputs):
        print(f"  output {name}: {out.dtype}{list(out.shape)}")
    print(f"median latency: {result.seconds * 1e3:.3f} ms over {args.repeat} repeats")
    for oracle, ok, error in result.checks:
        print(f"check against {oracle}: {'ok' if ok else 'MISMATCH'} (max |error| {error:.2e})")
    if args.output:
        np.savez(args.output, **dict(zip(result.output_names, result.outputs)))
        print(f"outputs written to {args.output}")
    return EXIT_OK if all(ok for _, ok, _ in result.checks) else EXIT_CHECK_FAILED


def _compile(args: argparse.Namespace) -> int:
    """Compile with the tuning records, say per group what was applied, check and time."""
    from .compiler import compile as compile_graph
    from .reference import compare

    logs = None if args.no_logs else args.logs
    donate = args.donate or None
    if args.workload.endswith(".onnx"):
        from .run_model import run_model

        if donate:
            raise ValueError("--donate applies to workloads (W1..W5, P1..P5), not to .onnx")

        result = run_model(args.workload, repeat=args.repeat, check=True, tuning_logs=logs)
        for line in result.notices:
            print(f"  {line}")
        print(f"{args.workload}: {result.kernels} kernel(s) ({', '.join(result.schedules)}); "
              f"median latency {result.seconds * 1e3:.3f} ms over {args.repeat} repeats")
        for oracle, ok, error in result.checks:
            print(f"check against {oracle}: {'ok' if ok else 'MISMATCH'} "
                  f"(max |error| {error:.2e})")
        return EXIT_OK if all(ok for _, ok, _ in result.checks) else EXIT_CHECK_FAILED
    from . import workloads

    graph, arrays = workloads.load(args.workload)
    fn = compile_graph(graph, tuning_logs=logs, donate=donate)
    default = compile_graph(graph, donate=donate)
    print(f"{args.workload}: {fn.num_kernels} kernel(s) ({', '.join(fn.schedules)})")
    for line in fn.notices:
        print(f"  {line}")
    expected = workloads.reference(args.workload, arrays)
    arrays = {**arrays, **{name: arrays[name].copy() for name in donate or ()}}  # overwritten
    ok, error = compare(fn(**arrays), [expected])
    print(f"check against numpy: {'ok' if ok else 'MISMATCH'} (max |error| {error:.2e})")
    if not any(s.startswith("tuned:") for s in fn.schedules):
        seconds = fn.benchmark(**arrays, repeat=args.repeat)
        print(f"median latency: {seconds * 1e3:.4f} ms over {args.repeat} repeats; template "
              "default schedule: no record applied: untuned = fused")
        return EXIT_OK if ok else EXIT_CHECK_FAILED
    from .timing import interleaved, ratios

    tuned, untuned = interleaved([lambda f=f: f.benchmark(**arrays, repeat=3)
                                  for f in (fn, default)], args.repeat)
    print(f"median latency: {tuned.median * 1e3:.4f} ms; template default schedule "
          f"{untuned.median * 1e3:.4f} ms; default/tuned {ratios(tuned, untuned)} "
          "(interleaved rounds)")
    return EXIT_OK if ok else EXIT_CHECK_FAILED


def _rpc_settings(text: str | None):
    if not text:
        return "local"
    from .tuning import RPCSettings

    parts = text.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        raise ValueError(f"--rpc expects HOST:PORT:KEY (a TVM RPC tracker and device key), "
                         f"got {text!r}")
    return RPCSettings(parts[0], int(parts[1]), parts[2])


def _tune(args: argparse.Namespace) -> int:
    import time

    from . import workloads
    from .tuning import tune

    start = time.time()

    def progress(group, done, total, best, elapsed, new):
        width = 30
        filled = int(width * done / max(total, 1))
        best_text = f"{best * 1e6:.1f} us" if best else "-"
        print(f"\r  {group[:36]:<36} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
              f"best {best_text}  {elapsed:.0f} s  {new / max(elapsed, 1e-9):.2f} builds/s",
              end="", flush=True)

    runner = _rpc_settings(args.rpc)
    print("(the first round of a process also loads TVM's tensor intrinsics: ~30 s here)")
    results = []
    for name in args.workloads:
        graph = _graph_of(name)
        inputs = None if name.endswith(".onnx") else workloads.inputs(name)  # real indices
        budget = None if args.time_budget is None else args.time_budget - (time.time() - start)
        print(f"tuning {name}: {args.trials} trials per group, records in {args.logs}")
        results += [(name, r) for r in tune(graph, trials=args.trials, time_budget_s=budget,
                                            log_dir=args.logs, runner=runner,
                                            progress=progress, inputs=inputs,
                                            keep_best=args.keep_best)]
        print()
    header = f"{'workload':<10}  {'group':<36}  {'template':<18}  {'default us':>10}  " \
             f"{'best us':>9}  {'runner':>7}  {'trials':>6}  {'wall s':>6}  in process"
    print(header)
    print("-" * len(header))
    for name, r in results:
        best = f"{r.best_seconds * 1e6:.1f}" if r.best_seconds else "-"
        speedup = f"{r.default_seconds / r.best_seconds:.2f}x" if r.best_seconds else "-"
        note = f"  ({r.stopped})" if r.stopped not in ("", "trials reached") else ""
        checked = "-" if r.in_process is None else \
            ("applied: " if r.in_process.applies else "default stays: ") + r.in_process.why
        print(f"{name[:10]:<10}  {r.group[:36]:<36}  {r.template:<18}  "
              f"{r.default_seconds * 1e6:>10.1f}  {best:>9}  {speedup:>7}  {r.trials:>6}  "
              f"{r.wall_seconds:>6.0f}  {checked}{note}")
    print(f"total wall time {time.time() - start:.0f} s (default, best and runner speedup: "
          "medians measured by the tuner's runner, best of many noisy trials, see "
          "--keep-best; in process: the best record against the default timed in this "
          "process, interleaved, which decides whether compile applies it)")
    return EXIT_OK


def _analyze(args: argparse.Namespace) -> int:
    from .analysis import analyze

    graph = _graph_of(args.workload)
    print(analyze(graph, cores=args.cores, on_chip_bytes=args.on_chip_bytes,
                  ddr_gbps=args.ddr_gbps, donate=args.donate or None), end="")
    return EXIT_OK


def _explore(args: argparse.Namespace) -> int:
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


def _bench(args: argparse.Namespace) -> int:
    """Every peer against tvm-fusion in one run (logic: ``tvm_fusion.bench``)."""
    from pathlib import Path

    from .bench import BenchOptions, run_bench

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvm-fusion",
        description="Fuse chains of small tensor ops into single TVM kernels, and tune them.",
        epilog="exit codes: 0 ok, 1 a result check failed, 2 bad usage or input",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="analyse W5, then compile, check and time W5 and W1-W4",
                          description="Print the split analysis of the first workload (W5, the "
                                      "seed chain), then compile every workload fused and "
                                      "unfused, check both against numpy and print median "
                                      "latencies: fused vs unfused vs numpy.")
    demo.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                      help="workloads to run (default: W5 W1 W2 W3 W4 P1..P5; the s and l "
                           "forms too, e.g. W1s, P2l)")
    demo.add_argument("--repeat", type=_positive_int, default=15,
                      help="interleaved timing rounds (default 15)")
    _logs_arguments(demo)
    demo.set_defaults(run=_demo)

    an = sub.add_parser("analyze", help="print the split analysis of a workload",
                        description="For every fusion group: each iteration axis and its role "
                                    "in every stage, the legal core-split axes (and why the "
                                    "others are not), cross-core bytes per candidate split, DDR "
                                    "bytes unfused vs fused, per-core working set.")
    an.add_argument("workload", help="W1..W5, P1..P5 (s and l forms too), or a model.onnx file")
    an.add_argument("--cores", type=_positive_int, default=None,
                    help="cores to split across (default: this machine's)")
    an.add_argument("--on-chip-bytes", type=_positive_int, default=None,
                    help="on-chip memory per core: report whether the working set fits")
    an.add_argument("--ddr-gbps", type=float, default=None,
                    help="DDR bandwidth in GB/s: convert bytes into a time lower bound")
    _donate_argument(an)
    an.set_defaults(run=_analyze)

    ex = sub.add_parser("explore", help="show a fused kernel before/after scheduling, check, time",
                        description="Print the fused PrimFunc before and after scheduling and "
                                    "the schedule trace, check the result against numpy and "
                                    "time it. Force a template or override knobs to see what "
                                    "they change.")
    ex.add_argument("workload", help="W1..W5 or P1..P5 (s and l forms too, e.g. P1s)")
    ex.add_argument("--template", default=None,
                    help="a template name (scatter-terminated, row-reduction, "
                         "reduction-rooted, injective, fallback) or a path to your own template "
                         ".py (defines apply(sch, ctx); a copy of a shipped one works as is); "
                         "a template that does not match a group exits 2 with its reason")
    ex.add_argument("--decision", action="append", default=[], metavar="NAME=VALUE",
                    help="override a knob (names are printed under 'knobs:'); repeatable")
    ex.add_argument("--show", default="before,after,trace",
                    help="what to print: any of before,after,trace (default: all)")
    ex.add_argument("--repeat", type=int, default=15, help="timing repeats (default 15)")
    ex.set_defaults(run=_explore)

    bn = sub.add_parser("bench", help="time tvm-fusion against every peer, write peers.md",
                        description="For every workload of every requested size, in one run: "
                                    "tvm-fusion tuned (records for this CPU; groups without "
                                    "one are tuned first and cached in OUT/records), default "
                                    "schedule and unfused, each as kernel (inputs bound, "
                                    "output preallocated) and call (fn(**arrays)); relaxed "
                                    "precision (fp16 workloads); numpy; onnxruntime (IOBinding "
                                    "and session.run); PyTorch eager and torch.compile; TVM "
                                    "Relax; MetaSchedule's generic search on the same fused "
                                    "PrimFunc (cached in OUT/metaschedule); and the roofline "
                                    "of the data's memory level, measured in the same run. "
                                    "Every output is checked against numpy before timing; all "
                                    "contestants of a workload are timed in interleaved "
                                    "rounds. Writes OUT/peers.md, peers.json and peers.png; "
                                    "progress goes to stderr.")
    bn.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                    help="W1..W5, P1..P5 in every --size (default: all ten), or sized names "
                         "like W1s")
    bn.add_argument("--size", default="base", choices=("s", "base", "l", "all"),
                    help="s (data in L2), base (L3), l (DRAM) or all (default base)")
    bn.add_argument("--out", default="benchmarks/results",
                    help="output folder (default benchmarks/results)")
    bn.add_argument("--repeat", type=_positive_int, default=9,
                    help="interleaved timing rounds, each sample >= 50 ms (default 9)")
    bn.add_argument("--tune-trials", type=_positive_int, default=32,
                    help="trials per group when no tuning record matches (default 32)")
    bn.add_argument("--ms-trials", type=_positive_int, default=64,
                    help="MetaSchedule generic search trials per group (default 64)")
    bn.set_defaults(run=_bench)

    rn = sub.add_parser("run", help="import an ONNX model, compile, run and time it",
                        description="Import an ONNX model (static shapes), compile it into fused "
                                    "kernels, run it on the given inputs (or random ones of the "
                                    "right shapes and dtypes, fixed seed), print the outputs' "
                                    "shapes and the median latency; --check compares with "
                                    "onnx.reference (and onnxruntime when installed).")
    rn.add_argument("model", help="path to a .onnx file")
    rn.add_argument("--inputs", default=None, help=".npz with the inputs by ONNX input name")
    rn.add_argument("--output", default=None, help="write the outputs to this .npz")
    rn.add_argument("--repeat", type=int, default=15, help="timing repeats (default 15)")
    rn.add_argument("--check", action="store_true",
                    help="compare with onnx.reference.ReferenceEvaluator (and onnxruntime)")
    rn.set_defaults(run=_run)

    tn = sub.add_parser("tune", help="tune every fusion group with MetaSchedule (XGBoost model)",
                        description="Search each group's template space with MetaSchedule's "
                                    "evolutionary search and XGBoost cost model, measuring real "
                                    "runs. Records go to LOGS/<target>/<workload>/ in "
                                    "MetaSchedule's JSON format; rerunning continues from them "
                                    "(a killed run loses at most one round of 8 trials).")
    tn.add_argument("workloads", nargs="+", metavar="WORKLOAD",
                    help="W1..W5, P1..P5 (s and l forms too), or model.onnx files "
                         "(several: in turn)")
    tn.add_argument("--trials", type=_positive_int, default=64,
                    help="trials per group, counting existing records (default 64)")
    tn.add_argument("--time-budget", type=float, default=None,
                    help="seconds (for the whole command) after which no new round starts")
    tn.add_argument("--logs", default="tuning_logs", help="records folder (default tuning_logs)")
    tn.add_argument("--rpc", default=None, metavar="HOST:PORT:KEY",
                    help="measure on the device KEY of a TVM RPC tracker instead of locally")
    tn.add_argument("--keep-best", type=_positive_int, default=None, metavar="K",
                    help="afterwards, re-measure each group's best records and keep only the "
                         "K best, with their new measurements (for shipping records: the best "
                         "of many noisy trials is biased low; a later tune restarts its count "
                         "from K); the in-process check runs after it")
    tn.set_defaults(run=_tune)

    cp = sub.add_parser("compile", help="compile with the tuning records, check and time",
                        description="Compile a workload or ONNX model, applying the best tuning "
                                    "record of each group when its target and workload match "
                                    "(else the template's default schedule); print one line per "
                                    "group saying which, check the result (numpy for workloads, "
                                    "onnx.reference and onnxruntime for models) and print the "
                                    "median latency beside the default schedule's.")
    cp.add_argument("workload", help="W1..W5, P1..P5 (s and l forms too), or a model.onnx file")
    cp.add_argument("--repeat", type=_positive_int, default=15,
                    help="timing repeats; with a record applied, interleaved rounds of "
                         "tuned and default (default 15)")
    _logs_arguments(cp)
    _donate_argument(cp)
    cp.set_defaults(run=_compile)
    return parser


def _logs_arguments(parser: argparse.ArgumentParser) -> None:
    from .settings import default_logs

    parser.add_argument("--logs", default=default_logs(),
                        help="tuning records to apply (default: $TVM_FUSION_LOGS, else the "
                             "records shipped in the repository's tuning_logs/)")
    parser.add_argument("--no-logs", action="store_true",
                        help="ignore tuning records: template default schedules")


def _donate_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--donate", action="append", default=[], metavar="INPUT",
                        help="let the scatter updating this graph input write into its buffer "
                             "in place (repeatable), e.g. --donate cache for P4")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import workloads

    names = getattr(args, "workloads", None) or []
    if getattr(args, "workload", None) and not args.workload.endswith(".onnx"):
        names = [args.workload]
    if getattr(args, "cores", 0) is None:
        from .settings import num_cores

        args.cores = num_cores()
    for name in names:
        if name not in workloads.WORKLOADS and not name.endswith(".onnx"):
            parser.error(f"unknown workload {name!r}; known: {', '.join(workloads.WORKLOADS)}")
    try:
        return args.run(args)
    except (ValueError, KeyError, OSError) as err:  # Graph/Input/Knob/OnnxImportError too
        print(f"tvm-fusion: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

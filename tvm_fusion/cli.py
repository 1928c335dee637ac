"""The ``tvm-fusion`` command. It parses arguments and delegates; the logic lives elsewhere.

Exit codes: 0 success; 1 a result check failed; 2 bad usage or bad input (one line, no
traceback; ``--debug`` shows it); 3 an internal error (a bug: the message says how to report
it); 130 interrupted (Ctrl-C). Output cut short by a closed pipe (``| head``) ends quietly, as
Unix tools do.
"""

from __future__ import annotations

import argparse
import os
import sys

from .apps import commands
from .apps.commands import (  # noqa: F401 (re-exported)
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
)

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool killed by it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvm-fusion",
        description="Fuse chains of small tensor ops into single TVM kernels, and tune them.",
        epilog="exit codes: 0 ok, 1 a result check failed, 2 bad usage or input, 3 internal "
               "error (a bug), 130 interrupted",
    )
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full traceback too")
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
    demo.set_defaults(run=commands.cmd_demo)

    an = sub.add_parser("analyze", help="print the split analysis of a workload",
                        description="For every fusion group: each iteration axis and its role "
                                    "in every stage, the legal core-split axes (and why the "
                                    "others are not), cross-core bytes per candidate split, DDR "
                                    "bytes unfused vs fused, per-core working set. An ONNX "
                                    "model with unsupported ops: every island (supported "
                                    "subgraph) with its ops, fusion groups and the DDR bytes "
                                    "fusion saves, largest first; --island NAME analyses one.")
    an.add_argument("workload", help="W1..W5, P1..P5 (s and l forms too), or a model.onnx file")
    an.add_argument("--cores", type=_positive_int, default=None,
                    help="cores to split across (default: this machine's)")
    an.add_argument("--on-chip-bytes", type=_positive_int, default=None,
                    help="on-chip memory per core: report whether the working set fits")
    an.add_argument("--ddr-gbps", type=float, default=None,
                    help="DDR bandwidth in GB/s: convert bytes into a time lower bound")
    _donate_argument(an)
    _shape_argument(an)
    _island_argument(an)
    an.set_defaults(run=commands.cmd_analyze)

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
    ex.set_defaults(run=commands.cmd_explore)

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
    bn.set_defaults(run=commands.cmd_bench)

    rn = sub.add_parser("run", help="run an exported module, or import, compile and run an ONNX "
                                    "model, and time it",
                        description="OUT.so (written by tvm-fusion compile -o OUT or "
                                    "tvm_fusion.export): verify it (hashes, CPU features), load "
                                    "it and run it. model.onnx: import it (static shapes) and "
                                    "compile it into fused kernels. Either runs on the given "
                                    "inputs (or made-up ones of the right shapes and dtypes, "
                                    "fixed seed, scatter indices in range), prints the outputs' "
                                    "shapes and the median latency; --check (ONNX only) "
                                    "compares with onnx.reference (and onnxruntime).")
    rn.add_argument("model", help="an exported module's .so, or a .onnx file")
    rn.add_argument("--inputs", default=None, help=".npz with the inputs by ONNX input name")
    rn.add_argument("--output", default=None, help="write the outputs to this .npz")
    rn.add_argument("--repeat", type=int, default=15, help="timing repeats (default 15)")
    rn.add_argument("--check", action="store_true",
                    help="compare with onnx.reference.ReferenceEvaluator (and onnxruntime)")
    _shape_argument(rn)
    rn.set_defaults(run=commands.cmd_run)

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
    tn.add_argument("--logs", default=None,
                    help="records folder to write (default: $TVM_FUSION_LOGS, else "
                         "~/.cache/tvm-fusion/tuning_logs; the shipped tuning_logs/ only when "
                         "named here)")
    tn.add_argument("--rpc", default=None, metavar="HOST:PORT:KEY",
                    help="measure on the device KEY of a TVM RPC tracker instead of locally")
    tn.add_argument("--keep-best", type=_positive_int, default=None, metavar="K",
                    help="afterwards, re-measure each group's best records and keep only the "
                         "K best, with their new measurements (for shipping records: the best "
                         "of many noisy trials is biased low; a later tune restarts its count "
                         "from K); the in-process check runs after it")
    tn.add_argument("--no-transfer", action="store_true",
                    help="start cold (default: a group without records of this CPU first "
                         "measures the best records other CPUs with this one's features left "
                         "in LOGS and the shipped tuning_logs/, and the cost model is trained "
                         "on them)")
    _shape_argument(tn)
    tn.set_defaults(run=commands.cmd_tune)

    cp = sub.add_parser("compile", help="compile with the tuning records, check and time",
                        description="Compile a workload or ONNX model, applying the best tuning "
                                    "record of each group when its target and workload match "
                                    "(else the template's default schedule); print one line per "
                                    "group saying which, check the result (numpy for workloads, "
                                    "onnx.reference and onnxruntime for models) and print the "
                                    "median latency beside the default schedule's; with -o, "
                                    "export it (tvm_fusion.export).")
    cp.add_argument("workload", help="W1..W5, P1..P5 (s and l forms too), or a model.onnx file")
    cp.add_argument("--repeat", type=_positive_int, default=15,
                    help="timing repeats; with a record applied, interleaved rounds of "
                         "tuned and default (default 15)")
    cp.add_argument("--cpu", default=None, metavar="LEVEL",
                    help="build for this CPU: x86-64-v2 (SSE4.2), x86-64-v3 (AVX2), "
                         "x86-64-v4 (AVX-512), native (default: this CPU) or any LLVM CPU "
                         "name (znver4); tuning records are per CPU")
    cp.add_argument("-o", "--output", default=None, metavar="OUT",
                    help="export the checked result: OUT.so (every kernel), OUT.json "
                         "(sealed metadata), OUT.tir.py (scheduled TVMScript); run it with "
                         "tvm-fusion run OUT.so, load it with tvm_fusion.load")
    _logs_arguments(cp)
    _donate_argument(cp)
    _shape_argument(cp)
    _island_argument(cp)
    cp.set_defaults(run=commands.cmd_compile)

    bt = sub.add_parser("batch", help="run a manifest of tuning jobs: tune, compile, export, "
                                      "verify; resumable",
                        description="Run every job of a TOML manifest (examples/batch.toml "
                                    "documents it): tune its fusion groups (locally or on the "
                                    "devices of a TVM RPC tracker), compile with the best "
                                    "records, check against numpy (onnx.reference for ONNX "
                                    "files), export to OUTPUT_DIR/<job>/ and verify the export "
                                    "in a fresh process. A rerun skips finished jobs and "
                                    "continues interrupted ones (trial count and time budget); "
                                    "two processes on one manifest split the jobs (one owner "
                                    "per job). Prints a summary table, also written to "
                                    "OUTPUT_DIR/summary.json. Exit code 1 if a job failed, 2 "
                                    "for a bad manifest.")
    bt.add_argument("manifest", help="the jobs.toml manifest")
    bt.add_argument("--dry-run", action="store_true",
                    help="check the manifest and print the plan (jobs, fusion groups, "
                         "templates, trials) without tuning")
    bt.add_argument("--no-report", action="store_true",
                    help="do not write the tuning report (OUTPUT_DIR/report/) at the end")
    bt.set_defaults(run=commands.cmd_batch)

    rp = sub.add_parser("report", help="an HTML page of tuning curves, knob effects, roofline",
                        description="Read every records folder under LOG_DIR and write "
                                    "OUT/index.html (self-contained: opens from disk, no "
                                    "network), OUT/report.md (the same tables) and PNG plots: "
                                    "a summary table (template, default and best latency, "
                                    "speedup, %% of roofline, trials, wall time, failed "
                                    "trials), per workload the best latency against trial "
                                    "number and wall time (every trial a dot, failures "
                                    "marked, the default a line), each knob's effect, the "
                                    "split analysis and the applied schedule.")
    rp.add_argument("log_dir", metavar="LOG_DIR", help="a records folder tune or batch wrote")
    rp.add_argument("-o", "--out", default="report", help="output folder (default report/)")
    rp.set_defaults(run=commands.cmd_report)
    for command in sub.choices.values():  # --debug after the command name works too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="on an error, print the full traceback too")
    return parser


def _logs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logs", default=None,
                        help="tuning records to apply (default: $TVM_FUSION_LOGS, else "
                             "~/.cache/tvm-fusion/tuning_logs; then, read-only, the records "
                             "shipped in the repository's tuning_logs/)")
    parser.add_argument("--no-logs", action="store_true",
                        help="ignore tuning records: template default schedules")
    parser.add_argument("--no-transfer", action="store_true",
                        help="apply only records tuned on this CPU (default: for a group "
                             "without one, the best record of another CPU with this one's "
                             "features is timed against the default here and applied when "
                             "faster; the verdict is kept in the records folder)")


def _donate_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--donate", action="append", default=[], metavar="INPUT",
                        help="let the scatter updating this graph input write into its buffer "
                             "in place (repeatable), e.g. --donate cache for P4")


def _shape_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=D0,D1,...",
                        help="pin the shape of an ONNX model's input with dynamic dimensions, "
                             "e.g. --shape x=8,64 (repeatable)")


def _island_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--island", default=None, metavar="NAME",
                        help="one island (supported subgraph) of an ONNX model with "
                             "unsupported ops; analyze model.onnx lists them")


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
    except BrokenPipeError:
        return _broken_pipe()
    except KeyboardInterrupt:
        print("tvm-fusion: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - every error becomes one line and an exit code
        return _report(err, args.debug)


def _report(err: Exception, debug: bool) -> int:
    """One line (or the error's own lines) for an error; the traceback only with --debug."""
    if debug:
        import traceback

        traceback.print_exception(err, file=sys.stderr)
    if _is_user_error(err):
        text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"tvm-fusion: error: {text}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(err, MemoryError):
        print("tvm-fusion: error: out of memory (the shapes need more memory than this machine "
              "has: run smaller shapes)", file=sys.stderr)
        return EXIT_USAGE
    hint = "" if debug else "; rerun with --debug for the traceback"
    print(f"tvm-fusion: internal error: {type(err).__name__}: {err}\n  this is a bug in "
          f"tvm-fusion (or TVM): please report it with the command line{hint}", file=sys.stderr)
    return EXIT_INTERNAL


def _is_user_error(err: Exception) -> bool:
    # ValueError covers GraphError, InputError, OnnxImportError, ModuleFileError, ManifestError,
    # KnobError; OSError a missing file, a full disk, a refused connection
    from .runtime.cpu import CpuFeatureError

    known = (ValueError, KeyError, OSError, CpuFeatureError)
    if "tvm_fusion.tuning" in sys.modules:  # loaded only if tuning ran
        from .tuning import FarmError, TuningError

        known += (FarmError, TuningError)
    return isinstance(err, known)


def _broken_pipe() -> int:
    """The reader of stdout went away (``| head``): stop quietly, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail
    except OSError:
        pass
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())

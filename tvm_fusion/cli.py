"""The ``tvm-fusion`` command. It parses arguments and delegates; the logic lives elsewhere.

Exit codes: 0 success; 1 a result check failed; 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


def _demo(args: argparse.Namespace) -> int:
    from .demo import DEMO_WORKLOADS, format_table, run_workload
    from .target import as_target

    names = args.workloads or list(DEMO_WORKLOADS)
    print(f"tvm-fusion demo on {as_target(None)}")
    print("one kernel per fusion group, simple per-block schedules (intermediates not yet "
          f"inlined); latency = median of {args.repeat} repeats, inputs already in memory\n")
    rows = []
    for name in names:
        print(f"  {name}: compiling, checking against numpy, timing ...", flush=True)
        rows.append(run_workload(name, repeat=args.repeat))
    print()
    print(format_table(rows))
    return EXIT_OK if all(r.ok for r in rows) else EXIT_CHECK_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvm-fusion",
        description="Fuse chains of small tensor ops into single TVM kernels, and tune them.",
        epilog="exit codes: 0 ok, 1 a result check failed, 2 bad usage or input",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="compile W5 and W1-W4, check against numpy, time them",
                          description="Compile the reference workloads (W5, the seed chain, then "
                                      "W1-W4), check each against numpy and print a table of "
                                      "median latencies versus numpy.")
    demo.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                      help="workloads to run (default: W5 W1 W2 W3 W4; W1s..W5s, W1l..W5l too)")
    demo.add_argument("--repeat", type=int, default=15, help="timing repeats (default 15)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import workloads

    for name in getattr(args, "workloads", None) or []:
        if name not in workloads.WORKLOADS:
            parser.error(f"unknown workload {name!r}; known: {', '.join(workloads.WORKLOADS)}")
    try:
        return args.run(args)
    except (ValueError, KeyError) as err:  # GraphError / InputError are ValueErrors
        print(f"tvm-fusion: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

"""Which time model makes the bench's roofline a lower bound: ``R/Br + W/Bw`` or
``max(R/Br, W/Bw)``?

``python benchmarks/roofline_model.py [W1 W3 ...]`` (run it on an idle machine): per memory
level (the probe sizes of ``tvm_fusion.bench.roofline``), every read, write and copy method
and tvm-fusion's default kernel of each named family at that level's size are timed in the
same interleaved rounds; prints each method's bandwidth and, per copy and kernel, its % of
the roofline under both models (above 100 %: the model is not a bound).
"""

from __future__ import annotations

import sys

from common import markdown_table

from tvm_fusion import workloads
from tvm_fusion.bench.ours import SAMPLE_REPEAT
from tvm_fusion.bench.roofline import LEVEL, PROBE_BYTES, Level, Traffic, traffic
from tvm_fusion.bench.timing import call_sampler, interleaved_medians
from tvm_fusion.compiler import compile as compile_graph
from tvm_fusion.target import host_target

FAMILIES = ("W1", "W3", "W5", "P1", "P2", "P4")
ROUNDS = 5


def check_level(suffix: str, families, target) -> list[list[str]]:
    level = Level(PROBE_BYTES[suffix], target)
    samplers = {f"{probe.kind}: {method}": call_sampler(run)
                for probe in level.probes for method, run in probe.runs.items()}
    moved = {}
    for family in families:
        graph, arrays = workloads.load(family + suffix)
        fn = compile_graph(graph, target=target)
        moved[family + suffix] = traffic(graph)[0]
        samplers[family + suffix] = (  # as the bench's kernel peers: seconds per call
            lambda fn=fn, arrays=arrays: fn.benchmark(**arrays, repeat=SAMPLE_REPEAT))
    timings = interleaved_medians(samplers, ROUNDS)
    best = {}
    rows = []
    for probe in level.probes:
        for method in probe.runs:
            bandwidth = probe.moved / timings[f"{probe.kind}: {method}"].median
            best[probe.kind] = max(best.get(probe.kind, 0.0), bandwidth)
            rows.append([LEVEL[suffix], f"{probe.kind}: {method}", f"{bandwidth / 1e9:.1f} GB/s",
                         "", "", ""])
    read, write = best["read"], best["write"]
    copy_traffic = Traffic(level.nbytes, level.nbytes)
    checks = {"best copy": (copy_traffic, level.nbytes * 2 / best["copy"]),
              "best read": (Traffic(level.nbytes, 0), level.nbytes / read),
              "best write": (Traffic(0, level.nbytes), level.nbytes / write)}
    checks |= {name: (t, timings[name].median) for name, t in moved.items()}
    for name, (t, seconds) in checks.items():
        total = t.read / read + t.written / write
        overlapped = max(t.read / read, t.written / write)
        rows.append([LEVEL[suffix], name, f"{seconds * 1e6:.0f} us",
                     f"R {t.read >> 10} KiB, W {t.written >> 10} KiB",
                     f"{total / seconds:.0%}", f"{overlapped / seconds:.0%}"])
    return rows


def main(families) -> None:
    target = host_target()
    rows = []
    for suffix in ("s", "", "l"):
        print(f"measuring {LEVEL[suffix]} ...", file=sys.stderr, flush=True)
        rows += check_level(suffix, families, target)
    print(markdown_table(["level", "what", "bandwidth or median", "traffic",
                          "% of R/Br + W/Bw", "% of max(R/Br, W/Bw)"], rows, left=2))


if __name__ == "__main__":
    main(sys.argv[1:] or FAMILIES)

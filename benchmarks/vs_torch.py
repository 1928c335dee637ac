"""Our fused kernels against PyTorch eager and ``torch.compile`` alone, in one process.

``tvm-fusion bench`` (``peers.py``) times every peer in one process; there PyTorch's OpenMP
regions are often descheduled for a scheduler slice (~8 ms spikes, measured here, with
onnxruntime, Relax and TVM pools alive beside them), so its torch columns are pessimistic for
torch. This script
keeps only the three contestants, times them in interleaved rounds (~50 ms of back-to-back
calls per sample, one untimed call first, ``SETTLE_SECONDS`` of quiet before each sample so the
previous contestant's spinning threads are asleep) and prints medians and ratios.

- fused: ``CompiledGraph`` kernels with inputs on the device, output preallocated;
- torch / torch.compile: the workload as a PyTorch user writes it
  (``tvm_fusion.bench.peers``), output allocated per call (from a warm heap:
  ``tvm_fusion.bench.timing.warm_heap``).

Usage::

    python benchmarks/vs_torch.py [--workloads P1,P2,P3,P5] [--sizes base,l] [--repeat 9]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from common import markdown_table

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.bench.numerics import NumericsError, classify
from tvm_fusion.bench.peers import torch_peers
from tvm_fusion.bench.report import cpu_name
from tvm_fusion.bench.timing import SETTLE_SECONDS, call_sampler, warm_heap
from tvm_fusion.settings import num_cores


def measure(name: str, repeat: int) -> dict:
    graph, arrays = workloads.load(name)
    expected = workloads.reference(name, arrays)
    fused = tf.compile(graph)
    # long samples (~50 ms of back-to-back calls each): a rare descheduled thread is averaged
    samplers = {"fused": lambda: fused.benchmark(**arrays, repeat=10)}
    for compiled in (False, True):
        peer = torch_peers(name, arrays, compiled)
        if peer is None:
            continue
        try:
            classify(name, peer.output(), expected, peer.label)
        except NumericsError as error:
            print(f"  {error}: not timed", file=sys.stderr)
            continue
        samplers[peer.label] = call_sampler(peer.run, min_seconds=0.05)
    samples = {k: [] for k in samplers}
    for _ in range(repeat):
        for label, sample in samplers.items():
            time.sleep(SETTLE_SECONDS)
            samples[label].append(sample())
    return {"name": name, "template": fused.schedules[0],
            **{k: statistics.median(v) for k, v in samples.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="P1,P2,P3,P5")
    parser.add_argument("--sizes", default="base,l")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "vs_torch.md"))
    args = parser.parse_args(argv)
    warm_heap()  # before any workload array is allocated
    sizes = ["" if s == "base" else s for s in args.sizes.split(",")]
    start = time.time()
    rows = []
    for size in sizes:
        for family in args.workloads.split(","):
            print(f"  {family + size} ...", file=sys.stderr, flush=True)
            r = measure(family + size, args.repeat)
            ms = [f"{r[k] * 1e3:.3f}" if k in r else "-" for k in
                  ("fused", "torch", "torch.compile")]
            ratios = [f"{r[k] / r['fused']:.2f}x" if k in r else "-"
                      for k in ("torch", "torch.compile")]
            rows.append([r["name"], r["template"], *ms, *ratios])
    table = markdown_table(["workload", "template", "fused ms", "torch ms", "torch.compile ms",
                            "torch/fused", "torch.compile/fused"], rows, left=2)
    header = (f"# Fused kernels vs PyTorch alone\n\nCPU {cpu_name()}, {num_cores()} cores; "
              f"medians of {args.repeat} interleaved rounds; run took "
              f"{time.time() - start:.0f} s.\n\n")
    print(table)
    Path(args.out).write_text(header + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

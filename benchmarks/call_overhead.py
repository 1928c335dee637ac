"""What the public call ``fn(**arrays)`` costs on top of the kernels it runs.

For each workload, in interleaved rounds (one sample of every contestant per round, medians):

- kernel: ``CompiledGraph.benchmark``'s loop (inputs bound, outputs preallocated);
- call: ``fn(**arrays)`` on the workload's numpy arrays as numpy allocates them (16-byte
  aligned: passed as they are, some vector loads span two cache lines);
- call aligned: the same with ``tvm_fusion.aligned`` inputs (64-byte aligned);
- fresh output: allocating the call's output arrays and writing them once
  (``tvm_fusion.empty`` + ``fill``) minus writing the same bytes into a warm array: the
  page-fault cost a fresh output pays, whoever allocates it (numpy and torch pay it too).

The target (issue 10): call <= 1.2 x (kernel + fresh output). The process runs with glibc's
default malloc settings (big arrays are mmapped per allocation and page-faulted again on every
call), as a user's does.

Usage::

    python benchmarks/call_overhead.py [W1s P4s ...] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.bench.timing import call_sampler
from tvm_fusion.settings import num_cores

DEFAULT = ("add-64x129", "W1s", "W2s", "W3s", "W4s", "W5s", "P1s", "P2s", "P3s", "P4s", "P5s",
           "W1", "W3", "W4", "P1", "P2")
SETTLE_SECONDS = 0.02
SAMPLE_SECONDS = 0.03


def _tiny():
    g = tf.Graph()
    x, b = g.input("x", (64, 129), "float32"), g.input("b", (129,), "float32")
    g.output(g.add(x, b))
    rng = np.random.default_rng(0)
    return g, {"x": rng.standard_normal((64, 129)).astype("float32"),
               "b": rng.standard_normal(129).astype("float32")}


def measure(name: str, repeat: int) -> dict:
    graph, arrays = _tiny() if name == "add-64x129" else workloads.load(name)
    fn = tf.compile(graph)
    aligned = {k: tf.aligned(v) for k, v in arrays.items()}
    plan = fn._plan
    env = plan.bind((), arrays)
    plan.bind_outputs(env, None)
    shapes = [(t.shape, t.dtype) for t in graph.outputs]
    warm = [tf.empty(s, d) for s, d in shapes]

    def fresh():
        for s, d in shapes:
            tf.empty(s, d).fill(0)

    def warm_fill():
        for a in warm:
            a.fill(0)

    samplers = {"kernel": call_sampler(lambda: plan.run(env, checked=False), SAMPLE_SECONDS),
                "call": call_sampler(lambda: fn(**arrays), SAMPLE_SECONDS),
                "call aligned": call_sampler(lambda: fn(**aligned), SAMPLE_SECONDS),
                "fresh": call_sampler(fresh, SAMPLE_SECONDS),
                "warm fill": call_sampler(warm_fill, SAMPLE_SECONDS)}
    samples = {k: [] for k in samplers}
    for _ in range(repeat):
        for label, sample in samplers.items():
            time.sleep(SETTLE_SECONDS)
            samples[label].append(sample())
    med = {k: statistics.median(v) for k, v in samples.items()}
    med["fresh output"] = max(0.0, med["fresh"] - med["warm fill"])
    med["bytes out"] = sum(np.dtype(d).itemsize * int(np.prod(s)) for s, d in shapes)
    return med


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(DEFAULT))
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    import tvm

    print(f"CPU {tvm.target.codegen.llvm_get_system_cpu()}, {num_cores()} threads, medians of "
          f"{args.repeat} interleaved rounds, us\n")
    header = ("workload", "out KiB", "kernel", "call", "call aligned", "fresh output",
              "call - kernel", "call / (kernel + fresh)", "target 1.2")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in args.workloads:
        m = measure(name, args.repeat)
        bound = m["kernel"] + m["fresh output"]
        ratio = m["call"] / bound
        print(f"| {name} | {m['bytes out'] / 1024:.0f} | {m['kernel'] * 1e6:.2f} | "
              f"{m['call'] * 1e6:.2f} | {m['call aligned'] * 1e6:.2f} | "
              f"{m['fresh output'] * 1e6:.2f} | {(m['call'] - m['kernel']) * 1e6:.2f} | "
              f"{ratio:.2f} | {'met' if ratio <= 1.2 else 'missed'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""W2/W2s/P1: NaN-propagating max (today) vs the old max (reduce.EXTREMA = ()), kernel and
public call fn(**arrays), interleaved in one process."""
import time

import tvm_fusion as tf
from tvm_fusion import build
from tvm_fusion.ops import reduce
from tvm_fusion.target import as_target
from tvm_fusion.timing import interleaved


def call_sampler(fn, arrays, n):
    def sample():
        t = time.perf_counter()
        for _ in range(n):
            fn(**arrays)
        return (time.perf_counter() - t) / n
    return sample

print("llvm mcpu:", as_target(None).attrs["mcpu"])
print("| workload | kernel old us | kernel NaN us | kernel NaN/old | call old us | call NaN us | call NaN/old |")
print("|---|---|---|---|---|---|---|")
for w in ("W2", "W2s", "P1"):
    graph, arrays = tf.workloads.load(w)
    new = tf.compile(graph)
    saved = reduce.EXTREMA
    reduce.EXTREMA = ()
    build._CACHE.clear()  # the old kernels are built, not taken from the cache
    old = tf.compile(graph)
    reduce.EXTREMA = saved
    n = 20 if w != "W2s" else 400
    ko, kn, co, cn = interleaved([lambda old=old, arrays=arrays: old.benchmark(**arrays, repeat=3),
                                  lambda new=new, arrays=arrays: new.benchmark(**arrays, repeat=3),
                                  call_sampler(old, arrays, n), call_sampler(new, arrays, n)], 11)
    print(f"| {w} | {ko.median*1e6:.1f} | {kn.median*1e6:.1f} | {kn.median/ko.median:.2f} | "
          f"{co.median*1e6:.1f} | {cn.median*1e6:.1f} | {cn.median/co.median:.2f} |")

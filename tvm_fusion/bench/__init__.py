"""``tvm-fusion bench``: tvm-fusion against every peer, in one run.

Contestants (per workload, all timed in the same interleaved rounds): tvm-fusion tuned,
default schedule and unfused, each as ``kernel`` (inputs bound, output preallocated) and
``call`` (the public ``fn(**arrays)``), ``relaxed`` precision on the fp16 workloads; numpy;
onnxruntime (IOBinding and ``session.run``); PyTorch eager and ``torch.compile``; TVM Relax's
own pipeline on the same ONNX graph; MetaSchedule's generic search on the same fused
PrimFunc; the roofline of the memory level the data lives in, measured in the same run.

Modules: ``timing`` (interleaved medians), ``numerics`` (output checks), ``peers`` (numpy,
onnxruntime, Relax, torch), ``ours`` (tvm-fusion, tuning records), ``metaschedule``,
``roofline``, ``report`` (md, json) and ``plot`` (png), ``run`` (orchestration).
"""

from .run import BenchOptions, run_bench, workload_names

__all__ = ["BenchOptions", "run_bench", "workload_names"]

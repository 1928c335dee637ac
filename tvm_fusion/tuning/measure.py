"""How candidates are built and measured: builder, runner and evaluator settings.

- **Build** (``build_kernel``): MetaSchedule's default build function imports
  ``tvm.s_tir.tensor_intrin`` (20-35 s here) in every fresh worker, and ``LocalBuilder``
  starts fresh workers for every round: each round would pay that import, and with the
  default 30 s timeout every build can time out. Nothing on a CPU needs those intrinsics, so
  our build function skips the import; otherwise it is MetaSchedule's default build.
- **Arguments** (``alloc_in_range_arguments``): MetaSchedule fills every argument with random
  bits. Our scatter kernels do no bounds checks (``compile`` checks indices before running), so
  random int64 indices write far outside the output and kill the runner ("Subprocess
  terminated", every trial scored 1e10). Integers are filled with zeros (always a valid
  index); floats with random values.
- **Evaluator** (``EVALUATOR``): each candidate runs ``repeat=5`` times, each repeat timing
  ``number=3`` calls and lasting at least ``min_repeat_ms=20`` ms; the record keeps the 5
  repeat means and candidates are ranked by their median, so a one-off hiccup of the
  (noisy, 2-core) machine does not pick the winner. Caches are not flushed: fused kernels are
  measured warm, as they run in a model.
- **Runner**: ``"local"`` (a worker process on this machine) or :class:`RPCSettings` (a device
  registered with a TVM RPC tracker, for tuning another machine's CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BUILD_TIMEOUT_S = 60
EVALUATOR = {"number": 3, "repeat": 5, "min_repeat_ms": 20, "enable_cpu_cache_flush": False}


def build_kernel(mod, target, _params=None):
    """MetaSchedule's default build, without the ``tensor_intrin`` import (see above)."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    from tvm_fusion.alignment import finalize

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return tvm_build(finalize(mod), target=target)


def alloc_in_range_arguments(device, args_info, alloc_repeat: int):
    import tvm

    rng = np.random.default_rng(0)
    repeated = []
    for _ in range(alloc_repeat):
        args = []
        for kind, dtype, shape in args_info:
            if kind != "TENSOR":
                raise NotImplementedError(f"argument kind {kind}")
            shape = tuple(shape)
            if "int" in dtype or dtype == "bool":
                value = np.zeros(shape, dtype)
            else:
                value = rng.standard_normal(shape).astype(dtype)
            args.append(tvm.runtime.tensor(value, device))
        repeated.append(args)
    return repeated


def kernel_arguments(mod) -> list:
    """In-range arguments (as the runner allocates them) for ``mod``'s parameters, on the
    host CPU: for timing a kernel in this process like for like with its records."""
    import tvm

    info = [("TENSOR", str(p.dtype), [int(d) for d in p.shape]) for p in mod["main"].params]
    return alloc_in_range_arguments(tvm.cpu(), info, 1)[0]


def rpc_alloc_in_range_arguments(_session, device, args_info, alloc_repeat: int):
    return alloc_in_range_arguments(device, args_info, alloc_repeat)


@dataclass(frozen=True)
class RPCSettings:
    """Measure on a device registered with a TVM RPC tracker (``python -m tvm.exec.rpc_tracker``
    and ``python -m tvm.exec.rpc_server --tracker HOST:PORT --key KEY`` on the device)."""

    tracker_host: str
    tracker_port: int
    device_key: str
    session_timeout_s: float = 60.0
    max_workers: int = 1


def make_builder():
    from tvm.s_tir import meta_schedule as ms

    return ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S, f_build=build_kernel)


def make_runner(runner: str | RPCSettings = "local"):
    from tvm.s_tir import meta_schedule as ms

    evaluator = ms.runner.EvaluatorConfig(**EVALUATOR)
    if runner == "local":
        return ms.runner.LocalRunner(evaluator_config=evaluator,
                                     f_alloc_argument=alloc_in_range_arguments)
    if isinstance(runner, RPCSettings):
        config = ms.runner.RPCConfig(tracker_host=runner.tracker_host,
                                     tracker_port=runner.tracker_port,
                                     tracker_key=runner.device_key,
                                     session_timeout_sec=runner.session_timeout_s)
        return ms.runner.RPCRunner(rpc_config=config, evaluator_config=evaluator,
                                   f_alloc_argument=rpc_alloc_in_range_arguments,
                                   max_workers=runner.max_workers)
    raise ValueError(f"runner must be 'local' or an RPCSettings, got {runner!r}")

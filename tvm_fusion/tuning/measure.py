"""How candidates are built and measured: builder, runner and evaluator settings.

- **Build** (``build_kernel``): MetaSchedule's default build function imports
  ``tvm.s_tir.tensor_intrin`` (20-35 s here) in every fresh worker, and ``LocalBuilder``
  starts fresh workers for every round: each round would pay that import, and with the
  default 30 s timeout every build can time out. Nothing on a CPU needs those intrinsics, so
  our build function skips the import; otherwise it is MetaSchedule's default build.
- **Arguments** (:class:`KernelArguments`): MetaSchedule fills every argument with random
  bits. Our scatter kernels do no bounds checks (``compile`` checks indices before running), so
  random int64 indices write far outside the output and kill the runner ("Subprocess
  terminated", every trial scored 1e10). Index inputs hold the values the workload itself
  uses when the tuner is given them (``tune(inputs=)``; the CLI passes a workload's own),
  else unique in-range positions drawn from the graph's index checks (zeros, the old
  filling, sent every scatter update to row 0: W4 measured 7 % faster than on its real
  indices); other integers are zeros, floats standard normal (seeded). The in-process check
  (``verify.py``) runs on the very same arguments.
- **Timing**: TVM's ``time_evaluator``: each candidate runs ``repeat=5`` times, each repeat
  timing ``number=3`` calls and lasting at least ``min_repeat_ms=20`` ms; the record keeps the
  5 repeat means and candidates are ranked by their median. Caches are not flushed: fused
  kernels are measured warm, as they run in a model. A Python loop of calls (what the process
  pays, ``timing.sample_seconds``) was tried as the runner's evaluator and dropped: it read
  W5 ~25 % slower in the worker than the same loop in process (441-446 vs 336-342 us, the
  quiet rounds of a contended run), while ``time_evaluator`` read 355 us; the s forms' call
  overhead it would have added is 0.1-0.3 us.
- **Runner**: ``"local"`` (a worker process on this machine; it inherits ``TVM_NUM_THREADS``,
  which ``import tvm_fusion`` sets, so it runs on as many threads as the process) or
  :class:`RPCSettings` (devices registered with a TVM RPC tracker, for tuning another
  machine's CPU, on all its free servers at once: ``farm.py``). Builds stay on this machine,
  on every core. Both count what they build and measure (``throughput.py``). The local
  runner's evaluator (``faults.CheckedEvaluator``) names the signal of a candidate that
  crashes its worker, and, once the default schedule's outputs are known, fails a candidate
  whose outputs differ from them; a candidate still running after ``timeout_s`` (30 s, as
  MetaSchedule's) is killed and failed as timed out (``faults.py``).
"""

from __future__ import annotations

import numpy as np

from .farm import FarmRunner, RPCSettings, check_farm
from .faults import RUN_TIMEOUT_S, make_evaluator
from .throughput import Counters, CountingBuilder, CountingRunner

BUILD_TIMEOUT_S = 60
EVALUATOR = {"number": 3, "repeat": 5, "min_repeat_ms": 20, "enable_cpu_cache_flush": False}


def build_kernel(mod, target, _params=None):
    """MetaSchedule's default build, without the ``tensor_intrin`` import (see above)."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    from tvm_fusion.alignment import finalize

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return tvm_build(finalize(mod), target=target)


class KernelArguments:
    """The runner's argument allocator (picklable: it travels to the runner's worker).

    ``values`` maps a parameter position to its integer values (index inputs); integer
    parameters without values are zeros, floats standard normal from ``seed``.
    """

    def __init__(self, values: dict[int, np.ndarray] | None = None, seed: int = 0) -> None:
        self.values = dict(values or {})
        self.seed = seed

    def __call__(self, device, args_info, alloc_repeat: int) -> list[list]:
        import tvm

        rng = np.random.default_rng(self.seed)
        repeated = []
        for _ in range(alloc_repeat):
            args = []
            for position, (kind, dtype, shape) in enumerate(args_info):
                if kind != "TENSOR":
                    raise NotImplementedError(f"argument kind {kind}")
                args.append(tvm.runtime.tensor(self._value(position, dtype, tuple(shape), rng),
                                               device))
            repeated.append(args)
        return repeated

    def _value(self, position: int, dtype: str, shape: tuple, rng) -> np.ndarray:
        if "int" in dtype or dtype == "bool":
            given = self.values.get(position)
            if given is None:
                return np.zeros(shape, dtype)
            if given.shape != shape:
                raise ValueError(f"kernel argument {position}: index values of shape "
                                 f"{given.shape} given for a parameter of shape {shape}")
            return given.astype(dtype)
        return rng.standard_normal(shape).astype(dtype)


class RPCKernelArguments(KernelArguments):
    """:class:`KernelArguments` with the RPC runner's signature (a session first)."""

    def __call__(self, _session, device, args_info, alloc_repeat: int) -> list[list]:
        return super().__call__(device, args_info, alloc_repeat)


def alloc_in_range_arguments(device, args_info, alloc_repeat: int):
    """Arguments with integer inputs all zeros (no index values known)."""
    return KernelArguments()(device, args_info, alloc_repeat)


def kernel_arguments(mod, arguments: KernelArguments | None = None) -> list:
    """The runner's arguments for ``mod``'s parameters, on the host CPU: for timing a kernel
    in this process like for like with its records."""
    import tvm

    info = [("TENSOR", str(p.dtype), [int(d) for d in p.shape]) for p in mod["main"].params]
    return (arguments or KernelArguments())(tvm.cpu(), info, 1)[0]


def make_builder(counters: Counters | None = None):
    """MetaSchedule's ``LocalBuilder`` with our build function, on every core (its default
    ``max_workers`` is the logical CPU count), counted into ``counters`` when given."""
    from tvm.s_tir import meta_schedule as ms

    builder = ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S, f_build=build_kernel)
    return builder if counters is None else CountingBuilder(builder, counters)


def make_runner(runner: str | RPCSettings = "local", arguments: KernelArguments | None = None,
                *, counters: Counters | None = None, timeout_s: float | None = None):
    """The runner, allocating ``arguments`` (default: no index values known).

    ``"local"``: MetaSchedule's ``LocalRunner`` with a ``faults.CheckedEvaluator`` (errors
    in one line; outputs checked once ``faults.expect_outputs`` is given them), killing a
    candidate after ``timeout_s``
    (default ``faults.RUN_TIMEOUT_S``). An :class:`RPCSettings`: a
    :class:`~tvm_fusion.tuning.farm.FarmRunner` on ``max_workers`` servers (default: the free
    ones, asked of the tracker: :func:`~tvm_fusion.tuning.farm.check_farm`, which raises
    ``FarmError`` when there is none). Results are counted into ``counters``.
    """
    from tvm.s_tir import meta_schedule as ms

    arguments = arguments or KernelArguments()
    counters = counters or Counters()
    evaluator = ms.runner.EvaluatorConfig(**EVALUATOR)
    if runner == "local":
        timeout_s = RUN_TIMEOUT_S if timeout_s is None else timeout_s
        checked = make_evaluator()
        local = ms.runner.LocalRunner(timeout_sec=timeout_s, evaluator_config=evaluator,
                                      f_alloc_argument=arguments, f_run_evaluator=checked)
        return CountingRunner(local, counters, checked, timeout_s)
    if isinstance(runner, RPCSettings):
        workers = runner.max_workers or check_farm(runner).workers
        return FarmRunner(runner, evaluator_config=evaluator,
                          f_alloc_argument=RPCKernelArguments(arguments.values, arguments.seed),
                          workers=workers, counters=counters)
    raise ValueError(f"runner must be 'local' or an RPCSettings, got {runner!r}")


def close_runner(runner) -> None:
    """Stop the runner's worker processes now (left to garbage collection, the last
    runner's workers outlive the process)."""
    runner.close()

"""The compiled graph: a callable taking numpy arrays and returning numpy arrays.

The call copies nothing it does not have to (``CallPlan`` in ``runtime/binding.py`` decides
per array): a C-contiguous input of the right dtype is handed to the kernel as is (DLPack;
kernels assume only element alignment, ``tvm_fusion.alignment``); anything else is copied
once into a staging buffer kept for the next call. Outputs are written by the kernels straight
into the arrays returned: fresh 64-byte aligned arrays on every call (results never alias
each other or an earlier call's), or the caller's ``out=`` arrays. Intermediates between
kernels live in buffers allocated once per compiled graph.

One executor for both ways of getting kernels: ``tvm_fusion.compile`` (kernels built in this
process) and ``tvm_fusion.load`` (kernels of an exported ``.so``). It needs only numpy and
``tvm_ffi`` (the kernels are TVM FFI functions): no TVM compiler, no graph builder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..checks import Donation, IndexCheck, InputError
from ..timing import median_seconds
from .binding import CallPlan, kernel_tensor
from .memory import aligned, empty

if TYPE_CHECKING:
    from ..build import BuiltKernel
    from ..graph import Graph


class CompiledGraph:
    """Run a graph's kernels in order. Not thread-safe: intermediates are reused across calls.

    Call it with the graph's inputs by name or positionally; it returns a tuple with one numpy
    array per graph output, in output order. ``fn(..., out=(array, ...))`` writes the outputs
    into the caller's arrays instead (and returns them). A donated input (``compile(donate=)``)
    is not copied: the kernel updates the caller's array in place and returns it as the
    scatter's output. ``fn.explain_call(...)`` says, for given arrays, which are passed as
    they are and which are copied, and why.

    ``graph`` is a ``Graph`` or anything with its ``name``, ``inputs``, ``outputs`` (tensors
    with ``name``, ``shape``, ``dtype``), ``tensors`` (by name: intermediates too) and
    ``constants`` (name -> array); a kernel anything with ``function``, ``inputs``, ``outputs``
    (tensor names, the function's parameters in order) and ``nodes`` (the ops it runs):
    ``runtime/load.py`` builds both from an exported module's metadata.
    """

    def __init__(self, graph: Graph, kernels: Sequence[BuiltKernel], checks: Sequence[IndexCheck],
                 target, donations: Sequence[Donation] = ()) -> None:
        self.graph = graph
        self.donations = tuple(donations)
        self.index_checks = tuple(checks)
        self.kernels = tuple(kernels)
        self.target = target
        self.output_names = tuple(t.name for t in graph.outputs)
        self.input_names = tuple(t.name for t in graph.inputs)
        graph_inputs = set(self.input_names) | set(graph.constants)
        input_checks = [c for c in checks if c.tensor in graph_inputs]
        late_checks: dict[int, list[IndexCheck]] = {}  # kernel position -> checks before it
        for check in checks:
            if check.tensor not in graph_inputs:
                k = next(i for i, k in enumerate(self.kernels) if check.scatter in k.nodes)
                late_checks.setdefault(k, []).append(check)
        for check in input_checks:  # constants are checked once, here
            if check.tensor in graph.constants:
                check(graph.constants[check.tensor])
        fixed = {name: _tensor(aligned(value)) for name, value in graph.constants.items()}
        outputs = set(self.output_names)
        donor_of = {d.output: d.input for d in self.donations}
        for kernel in self.kernels:
            for name in kernel.outputs:
                if name not in outputs and name not in donor_of:
                    t = graph.tensors[name]
                    fixed[name] = _tensor(empty(t.shape, t.dtype))
        produced = {name for kernel in self.kernels for name in kernel.outputs}
        for kernel in self.kernels:  # read from a zero-size group, which has no kernel
            for name in kernel.inputs:
                if name not in fixed and name not in produced and name not in self.input_names:
                    t = graph.tensors[name]
                    fixed[name] = _tensor(empty(t.shape, t.dtype))
        self._plan = CallPlan(graph, self.kernels, fixed, donor_of,
                              [c for c in input_checks if c.tensor in self.input_names],
                              late_checks)

    @property
    def schedules(self) -> tuple[str, ...]:
        """The schedule each kernel got, e.g. ``("scatter-terminated",)``."""
        return tuple(k.schedule for k in self.kernels)

    @property
    def notices(self) -> tuple[str, ...]:
        """One line per kernel that has something to say (tuning record applied or not,
        template fallback)."""
        lines = []
        for k in self.kernels:
            for text in (k.notice, k.record):
                if text:
                    lines.append(f"{'+'.join(k.nodes)}: {text}")
        return tuple(lines)

    @property
    def num_kernels(self) -> int:
        return len(self.kernels)

    def __call__(self, *args, out: Sequence[np.ndarray] | None = None,
                 **kwargs) -> tuple[np.ndarray, ...]:
        plan = self._plan
        env = plan.bind(args, kwargs)
        results = plan.bind_outputs(env, out)
        plan.run(env, checked=True)
        return plan.finish(env, results)

    def explain_call(self, *args, out: Sequence[np.ndarray] | None = None, **kwargs) -> str:
        """What a call with these arrays does with each of them (nothing is run): passed to
        the kernel as is, or copied into a staging buffer and why; where each output goes."""
        return self._plan.explain(args, kwargs, out)

    def benchmark(self, *args, repeat: int = 15, **kwargs) -> float:
        """Median seconds of one run of all kernels, inputs already bound and outputs
        preallocated (the kernel time; the public call adds binding, checks and fresh
        output arrays).

        Input and index checks run once before timing. A donated array is updated in place
        by every timed run.
        """
        env = self._bound_for_timing(args, kwargs)
        return median_seconds(lambda: self._plan.run(env, checked=False), repeat=repeat)

    def _bound_for_timing(self, args: tuple, kwargs: dict) -> list:
        plan = self._plan
        env = plan.bind(args, kwargs)
        plan.bind_outputs(env, None)
        plan.run(env, checked=True)
        for i, value in enumerate(env):  # DLPack conversion once, not on every timed run
            if isinstance(value, np.ndarray):
                env[i] = kernel_tensor(value)
        return env

    def kernel_seconds(self, *args, repeat: int = 15, **kwargs) -> tuple[float, ...]:
        """Median seconds of each kernel alone, in kernel order (inputs bound as in
        :meth:`benchmark`; intermediates are what the previous kernels left)."""
        env = self._bound_for_timing(args, kwargs)
        seconds = []
        for function, slots in self._plan.launch:
            arguments = slots(env)
            seconds.append(median_seconds(lambda f=function, a=arguments: f(*a), repeat=repeat))
        return tuple(seconds)

    def check_inputs(self, *args, **kwargs) -> None:
        """Raise ``InputError`` when these arguments would be refused by a call."""
        self._plan.bind(args, kwargs)

    def __repr__(self) -> str:
        return (f"CompiledGraph({self.graph.name!r}, kernels={self.num_kernels}, "
                f"target={self.target})")


def _tensor(array: np.ndarray):
    """A buffer owned by the compiled graph, converted to a TVM FFI tensor once (it keeps the
    array alive)."""
    return kernel_tensor(array, 64)


__all__ = ["CompiledGraph", "InputError"]

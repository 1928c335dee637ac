"""The compiled graph: a callable taking numpy arrays and returning numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tvm
import tvm_ffi

from .build import BuiltKernel
from .checks import Donation, IndexCheck, InputError, bind_arguments
from .graph import Graph
from .timing import median_seconds


class CompiledGraph:
    """Run a graph's kernels in order. Not thread-safe: intermediates are reused across calls.

    Call it with the graph's inputs by name or positionally; it returns a tuple with one numpy
    array per graph output, in output order. A donated input (``compile(donate=)``) is not
    copied: the kernel updates the caller's array in place and returns it as the scatter's
    output.
    """

    def __init__(self, graph: Graph, kernels: Sequence[BuiltKernel], checks: Sequence[IndexCheck],
                 target: tvm.target.Target, donations: Sequence[Donation] = ()) -> None:
        self.graph = graph
        self.donations = tuple(donations)
        self._donated_inputs = frozenset(d.input for d in self.donations)
        self._donor_of = {d.output: d.input for d in self.donations}  # output -> its input
        self.kernels = tuple(kernels)
        self.target = target
        self.output_names = tuple(t.name for t in graph.outputs)
        self.input_names = tuple(t.name for t in graph.inputs)
        self._device = tvm.cpu(0)
        graph_inputs = set(self.input_names) | set(graph.constants)
        self._input_checks = [c for c in checks if c.tensor in graph_inputs]
        self._late_checks: dict[str, list[IndexCheck]] = {}  # kernel's first node -> checks
        for check in checks:
            if check.tensor not in graph_inputs:
                kernel = next(k for k in self.kernels if check.scatter in k.nodes)
                self._late_checks.setdefault(kernel.nodes[0], []).append(check)
        for check in self._input_checks:  # constants are checked once, here
            if check.tensor in graph.constants:
                check(graph.constants[check.tensor])
        self._buffers: dict[str, tvm.runtime.Tensor] = {
            name: tvm.runtime.tensor(value, self._device) for name, value in graph.constants.items()
        }
        for kernel in self.kernels:
            for name in kernel.outputs:
                if name in self._donor_of:  # the caller's array, bound on every call
                    continue
                t = graph.tensors[name]
                self._buffers[name] = tvm.runtime.empty(t.shape, t.dtype, self._device)

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

    def __call__(self, *args, **kwargs) -> tuple[np.ndarray, ...]:
        if not self.donations:
            self._run_checked(args, kwargs)
            return tuple(self._buffers[name].numpy() for name in self.output_names)
        try:
            arrays = self._run_checked(args, kwargs)
            return tuple(arrays[self._donor_of[name]] if name in self._donor_of
                         else self._buffers[name].numpy() for name in self.output_names)
        finally:
            self._release_donated()

    def benchmark(self, *args, repeat: int = 15, **kwargs) -> float:
        """Median seconds of one run of all kernels, inputs already on the device.

        Input and index checks run once before timing; copies in and out are not timed. A
        donated array is updated in place by every timed run.
        """
        try:
            self._run_checked(args, kwargs)
            return median_seconds(lambda: self._run(checked=False), repeat=repeat)
        finally:
            self._release_donated()

    def _run_checked(self, args: tuple, kwargs: dict) -> dict[str, np.ndarray]:
        """Bind and check the inputs, copy them to the device, run every kernel once."""
        arrays = bind_arguments(self.graph, args, kwargs, self._donated_inputs)
        for check in self._input_checks:
            if check.tensor in arrays:
                check(arrays[check.tensor])
        if self.donations:
            self._bind_donated(arrays)
        self._upload(arrays)
        self._run(checked=True)
        return arrays

    def _bind_donated(self, arrays: dict[str, np.ndarray]) -> None:
        """The caller's arrays become the scatters' output buffers (zero-copy, checked by
        ``checks.check_donated``: the kernels assume only element alignment)."""
        for i, d in enumerate(self.donations):
            array = arrays[d.input]
            for other in self.donations[:i]:
                if np.may_share_memory(array, arrays[other.input]):
                    raise InputError(f"donated inputs '{other.input}' and '{d.input}' share "
                                     "memory: each is updated in place; pass separate arrays")
            self._buffers[d.output] = tvm_ffi.from_dlpack(
                array, require_alignment=array.itemsize, require_contiguous=True)

    def _release_donated(self) -> None:
        """Keep no reference to the caller's arrays between calls."""
        for d in self.donations:
            self._buffers.pop(d.output, None)

    def _upload(self, arrays: dict[str, np.ndarray]) -> None:
        for name, array in arrays.items():
            if name in self._donated_inputs:
                continue
            held = self._buffers.get(name)
            if held is None:
                self._buffers[name] = tvm.runtime.tensor(array, self._device)
            else:
                held.copyfrom(array)

    def _run(self, checked: bool) -> None:
        buffers = self._buffers
        for kernel in self.kernels:
            if checked:
                for check in self._late_checks.get(kernel.nodes[0], ()):
                    check(buffers[check.tensor].numpy())
            kernel.function(*(buffers[n] for n in kernel.inputs),
                            *(buffers[n] for n in kernel.outputs))

    def __repr__(self) -> str:
        return (f"CompiledGraph({self.graph.name!r}, kernels={self.num_kernels}, "
                f"target={self.target})")

"""The outside peers: numpy, onnxruntime, TVM Relax, PyTorch eager and ``torch.compile``.

Each setup runs outside timing and returns :class:`Peer` objects: a zero-argument call (what
is timed) and how to get its output as numpy (what is checked against the workload's numpy
before any timing). A peer that is not installed returns nothing; one that fails to build
raises, and the caller reports it and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tvm

from .. import workloads
from ..settings import num_cores


@dataclass
class Peer:
    """One contestant.

    ``run`` is the timed zero-argument call; ``output()`` runs it once more and returns its
    result as numpy (for the check); ``sample``, when given, replaces ``call_sampler(run)``
    (our kernels time themselves with ``CompiledGraph.benchmark``); ``allocation`` says how
    its output is allocated, for the report."""

    label: str
    mode: str  # "kernel" (inputs bound, on the device) or "call" (numpy in, numpy out)
    run: Callable[[], object]
    output: Callable[[], np.ndarray]
    allocation: str
    sample: Callable[[], float] | None = None
    schedule: str = ""  # ours: the kernels' schedules, e.g. "tuned:row-reduction"


def numpy_peer(name: str, arrays: dict[str, np.ndarray]) -> Peer:
    # materialised like every other contestant's output (a transposed result is a view)
    def run():
        return np.ascontiguousarray(workloads.reference(name, arrays))
    return Peer("numpy", "call", run, run, "per call (made C-contiguous)")


def onnxruntime_peers(name: str, arrays: dict[str, np.ndarray]) -> list[Peer]:
    """onnxruntime's CPU provider on ``workloads.to_onnx(name)``, one intra-op thread per
    core: ``ort kernel`` (IOBinding: inputs bound once, output bound to a preallocated
    OrtValue) and ``ort call`` (``session.run``, output allocated per call)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_cores()
    options.log_severity_level = 3
    session = ort.InferenceSession(workloads.to_onnx(name).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    feeds = {i.name: arrays[i.name] for i in session.get_inputs()}
    binding = session.io_binding()
    held = [ort.OrtValue.ortvalue_from_numpy(array) for array in feeds.values()]
    for input_name, value in zip(feeds, held):
        binding.bind_ortvalue_input(input_name, value)
    first = session.run(None, feeds)[0]
    out = ort.OrtValue.ortvalue_from_shape_and_type(first.shape, first.dtype)
    binding.bind_ortvalue_output(session.get_outputs()[0].name, out)

    def kernel():
        session.run_with_iobinding(binding)

    def kernel_output():
        kernel()
        return out.numpy().copy()

    def call():
        return session.run(None, feeds)
    return [Peer("ort kernel", "kernel", kernel, kernel_output,
                 "IOBinding: inputs bound once, output into a preallocated OrtValue"),
            Peer("ort call", "call", call, lambda: call()[0], "session.run: per call")]


def relax_peer(name: str, arrays: dict[str, np.ndarray], target) -> Peer:
    """TVM Relax's own pipeline on the same ONNX graph (``relax.frontend.onnx.from_onnx``,
    default ``tvm.compile``: it fuses little and schedules nothing on CPU). Inputs are on the
    device; the VM allocates the output on every call."""
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    executable = tvm.compile(from_onnx(workloads.to_onnx(name), keep_params_in_input=False),
                             target=target)
    vm = relax.VirtualMachine(executable, tvm.cpu())
    args = [tvm.runtime.tensor(arrays[k]) for k in workloads.get(name).shapes]

    def run():
        return vm["main"](*args)

    def output():
        result = run()
        return result.numpy() if hasattr(result, "numpy") else result[0].numpy()
    return Peer("relax", "kernel", run, output, "inputs on the device, output per call (VM)")


def _torch_programs():
    """Each workload as a PyTorch user writes it (inputs in workload order)."""
    import torch
    import torch.nn.functional as F

    def kv_cache(cache, k, positions):
        index = positions[:, None, :, None].expand(-1, cache.shape[1], -1, cache.shape[3])
        return cache.scatter(2, index, k.transpose(1, 2))

    return {
        "W1": lambda x: x.sum(2, keepdim=True).permute(0, 3, 1, 2).contiguous(),
        "W2": lambda a, b: (a + b).float().amax(-1),
        "W3": lambda x, bias: (x.transpose(1, 2) + bias).contiguous(),
        "W4": lambda data, idx, u, v: data.index_copy(0, idx, u + v),
        "W5": lambda x, b, cache, slots: cache.index_copy(
            0, slots, (x + b).float().sum(2).transpose(1, 2)),
        "P1": lambda x: torch.softmax(x, -1),
        "P2": lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b, workloads.P2_EPS),
        "P3": lambda x, w: (x.float() * torch.rsqrt(
            x.float().pow(2).mean(-1, keepdim=True) + workloads.P3_EPS) * w.float()).half(),
        "P4": kv_cache,
        "P5": lambda x: (x - x.mean(-1, keepdim=True)).transpose(1, 2).contiguous(),
    }


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_peers(name: str, arrays: dict[str, np.ndarray], compiled: bool) -> Peer | None:
    """PyTorch eager (``compiled=False``) or ``torch.compile`` (Inductor, compiled here once
    per workload and shape, outside timing) on tensors sharing ``arrays``' memory,
    ``torch.set_num_threads(num_cores())``; output allocated per call (out-of-place, like
    the ONNX ops). ``None`` when torch is not installed."""
    if not torch_available():
        return None
    import torch

    torch.set_num_threads(num_cores())
    program = _torch_programs()[name[:2]]
    tensors = [torch.from_numpy(arrays[k]) for k in workloads.get(name).shapes]
    if compiled:
        program = torch.compile(program, dynamic=False)
        program(*tensors)  # compiles here, outside timing

    def run():
        return program(*tensors)
    return Peer("torch.compile" if compiled else "torch", "call", run,
                lambda: run().numpy(), "per call")

"""The peers of ``fusion.py``: onnxruntime, TVM Relax, PyTorch eager and ``torch.compile``, and
interleaved timing (every contestant of a workload timed once per round, medians per contestant).

Each peer is set up once outside timing and returns a zero-argument call; its result is checked
against the workload's numpy before any timing. Output allocation: numpy, onnxruntime, Relax,
torch and ``torch.compile`` allocate their output on every call (the PyTorch programs are
out-of-place, like the ONNX ops); our ``tvmf call`` copies inputs in and the output out
(numpy in, numpy out); our kernel times (``fused``, ``unfused``) run on preallocated buffers.

Interleaving shares a slow phase of the machine among all contestants, but the runtimes keep
their default thread pools (TVM's, onnxruntime's and torch's OpenMP threads busy-wait a while
after a call), and all of them assume the cores are theirs: run on an otherwise idle machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import tvm

from tvm_fusion import workloads
from tvm_fusion.settings import num_cores

MIN_SAMPLE_SECONDS = 0.05  # one sample repeats a call until it lasts this long: timer noise
# and a rarely descheduled OpenMP thread (~8 ms here) are averaged out (5 ms samples were not)


def call_sampler(run: Callable[[], object],
                 min_seconds: float = MIN_SAMPLE_SECONDS) -> Callable[[], float]:
    """A sample function for :func:`interleaved_medians`: seconds per call of ``run``, over
    as many calls as fill ``MIN_SAMPLE_SECONDS`` (the count fixed after one warm-up call).

    A sample of several calls starts with one untimed call, as ``CompiledGraph.benchmark``
    does: the previous contestant left its data in the caches and its thread pool awake, not
    this one's (a call that fills the sample alone is DRAM-bound and gets no warm-up)."""
    start = time.perf_counter()
    run()
    number = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-7)))

    def sample() -> float:
        if number > 1:
            run()
        start = time.perf_counter()
        for _ in range(number):
            run()
        return (time.perf_counter() - start) / number
    return sample


# TVM's thread pool and PyTorch's OpenMP threads spin for a while after a parallel region
# (~300k iterations each by default): a contestant timed right after another one shares the
# cores with its spinning threads (measured here: torch's layer norm 0.56 ms alone, 0.8-1.5 ms
# right after a TVM kernel). A pause before each sample lets them go to sleep.
SETTLE_SECONDS = 0.05


def interleaved_medians(samplers: dict[str, Callable[[], float]], repeat: int) -> dict:
    """Median seconds per contestant; each of ``repeat`` rounds takes one sample of every
    contestant in turn (after ``SETTLE_SECONDS`` of quiet), so a slow phase of the machine
    hits all of them alike."""
    samples: dict[str, list[float]] = {label: [] for label in samplers}
    for _ in range(repeat):
        for label, sample in samplers.items():
            time.sleep(SETTLE_SECONDS)  # the previous contestant's spinning threads go idle
            samples[label].append(sample())
    return {label: statistics.median(values) for label, values in samples.items()}


def check(name: str, out, expected: np.ndarray, peer: str) -> None:
    """``out`` matches the workload's numpy; tolerances fit the dtypes (peers may keep f16
    intermediates in f32, as onnxruntime and Inductor do)."""
    half = "float16" in workloads.get(name).dtypes.values()
    tolerance = {"rtol": 1e-2, "atol": 5e-2} if half else {"rtol": 1e-3, "atol": 1e-5}
    out = np.asarray(out)
    assert out.shape == expected.shape, f"{peer} on {name}: shape {out.shape}"
    np.testing.assert_allclose(out.astype(np.float64), expected.astype(np.float64),
                               err_msg=f"{peer} on {name}", **tolerance)


def cpu_name() -> str:
    """LLVM's name for the host CPU and lscpu's model name."""
    model = "unknown model"
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lines.splitlines()
                     if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    return f"{tvm.target.codegen.llvm_get_system_cpu()} ({model})"


def onnxruntime_call(name: str, arrays, expected) -> Callable[[], object] | None:
    """onnxruntime's CPU provider on ``workloads.to_onnx(name)``, one intra-op thread per core."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_cores()
    options.log_severity_level = 3
    session = ort.InferenceSession(workloads.to_onnx(name).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    check(name, session.run(None, arrays)[0], expected, "onnxruntime")
    return lambda: session.run(None, arrays)


def relax_call(name: str, arrays, expected, target) -> Callable[[], object]:
    """TVM Relax's own pipeline on the same ONNX graph (default build, no schedules)."""
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    executable = tvm.compile(from_onnx(workloads.to_onnx(name), keep_params_in_input=False),
                             target=target)
    vm = relax.VirtualMachine(executable, tvm.cpu())
    args = [tvm.runtime.tensor(arrays[k]) for k in workloads.get(name).shapes]
    result = vm["main"](*args)
    check(name, result.numpy() if hasattr(result, "numpy") else result[0].numpy(), expected,
          "relax")
    return lambda: vm["main"](*args)


# ----- PyTorch: each workload as a PyTorch user writes it (inputs in workload order) -----
def _torch_programs():
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


def torch_calls(name: str, arrays, expected) -> dict[str, Callable[[], object] | None]:
    """``{"torch": eager, "torch.compile": Inductor}`` calls on tensors sharing ``arrays``'
    memory (``torch.from_numpy``), ``torch.set_num_threads(num_cores())``; ``None`` entries
    when torch is not importable or the compile fails (the reason goes to stderr)."""
    try:
        import torch
    except ImportError:
        return {"torch": None, "torch.compile": None}
    torch.set_num_threads(num_cores())
    program = _torch_programs()[name[:2]]
    tensors = [torch.from_numpy(arrays[k]) for k in workloads.get(name).shapes]
    calls = {"torch": lambda: program(*tensors)}
    compiled = torch.compile(program, dynamic=False)  # a fresh compile per workload and shape
    try:
        compiled(*tensors)  # compiles once here, outside timing
        calls["torch.compile"] = lambda: compiled(*tensors)
    except Exception as error:  # noqa: BLE001 - a peer that fails to build is reported, not fatal
        print(f"    torch.compile failed on {name}: {error}", file=sys.stderr)
        calls["torch.compile"] = None
    for label, call in calls.items():
        if call is not None:
            check(name, call().numpy(), expected, label)
    return calls

"""Targets: the host CPU by default, as the dict form TVM 0.27 requires."""

from __future__ import annotations

from typing import Any

import tvm

from . import settings

CPU_LEVELS = ("native", "x86-64-v2", "x86-64-v3", "x86-64-v4")  # or any LLVM CPU name


def host_target(cores: int | None = None, cpu: str | None = None) -> tvm.target.Target:
    """The LLVM target of this machine (detected ``mcpu``, its core count).

    ``cpu`` builds for another CPU instead: a portable level (``"x86-64-v2"``: SSE4.2,
    ``"x86-64-v3"``: AVX2 and FMA, ``"x86-64-v4"``: AVX-512) or any LLVM CPU name
    (``"znver4"``); ``None`` or ``"native"`` is this machine's.

    On AVX-512 CPUs LLVM's tuning for Intel server parts (``prefer-256-bit``) splits every
    512-bit vector the templates ask for into two 256-bit halves; it is turned off, so the
    vectors are the width ``vector_bytes`` reports (measured here: softmax 1024x4096 3.3 ms
    with 256-bit halves, 2.5 ms with 512-bit vectors; other kernels unchanged).
    """
    mcpu = _mcpu(cpu)
    spec = {"kind": "llvm", "mcpu": mcpu, "num-cores": cores or settings.num_cores()}
    if "avx512f" in tvm.target.codegen.llvm_get_cpu_features(tvm.target.Target(spec)):
        spec["mattr"] = ["-prefer-256-bit"]
    return tvm.target.Target(spec)


def _mcpu(cpu: str | None) -> str:
    if cpu is None or cpu == "native":
        return settings.mcpu() or tvm.target.codegen.llvm_get_system_cpu()
    triple = tvm.target.codegen.llvm_get_system_triple()
    if not isinstance(cpu, str) or not tvm.target.codegen.llvm_is_valid_cpu(cpu, triple):
        raise ValueError(f"cpu={cpu!r} is not a CPU LLVM knows for {triple}: use one of "
                         f"{', '.join(CPU_LEVELS)} or an LLVM CPU name such as 'znver3' or "
                         "'skylake-avx512'")
    return cpu


def as_target(target: Any = None, cpu: str | None = None) -> tvm.target.Target:
    """Accept ``None`` (host, or ``cpu``: see :func:`host_target`), a ``Target``, a dict or a
    JSON/dict-like string."""
    if cpu is not None and target is not None:
        raise ValueError("give target= or cpu=, not both (cpu= is the host target built for "
                         "another CPU level)")
    if target is None:
        return host_target(cpu=cpu)
    if isinstance(target, tvm.target.Target):
        return target
    try:
        return tvm.target.Target(target)
    except Exception as err:  # noqa: BLE001 - TVM raises its own error types; make the fix obvious
        raise ValueError(
            f"invalid target {target!r}: {err}. TVM 0.27 wants a dict, e.g. "
            '{"kind": "llvm", "mcpu": "znver3", "num-cores": 2}'
        ) from None


def num_cores(target: tvm.target.Target) -> int:
    return int(target.attrs.get("num-cores", settings.num_cores()))


def vector_bytes(target: tvm.target.Target) -> int:
    """Width of one SIMD register in bytes (64 with AVX-512, 32 with AVX/AVX2, else 16)."""
    if target.kind.name != "llvm":
        return 16
    features = tvm.target.codegen.llvm_get_cpu_features(target)
    if "avx512f" in features:
        return 64
    if "avx2" in features or "avx" in features:
        return 32
    return 16



def is_host(target: tvm.target.Target) -> bool:
    """``target`` is this machine's CPU (its code runs here and timing here speaks for it)."""
    return target.kind.name == "llvm" and target.attrs.get("mcpu") == _mcpu(None)


def target_key(target: tvm.target.Target) -> str:
    """A short, stable folder name for a target, e.g. ``llvm-znver3-2c``."""
    mcpu = target.attrs.get("mcpu", "generic")
    return f"{target.kind.name}-{mcpu}-{num_cores(target)}c"

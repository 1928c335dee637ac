"""Which CPU features a module's code may use, and whether this CPU has them.

LLVM lists for a CPU name (``-mcpu``) two kinds of "features": instruction sets (``avx2``,
``avx512f``) and tuning flags (``fast-gather``, ``prefer-256-bit``) that change no instruction.
Code built for a CPU may use any instruction set of the first kind that LLVM's code generator
emits from plain arithmetic and memory moves: those are ``EMITTED`` below, each with the name
Linux gives it in ``/proc/cpuinfo`` (which is what the CPU, or the hypervisor, says it has).
Instruction sets LLVM never emits from a kernel's code (``rdrnd``, ``pku``, ``xsave``...) are
recorded as unchecked: this VM's CPU, which LLVM calls ``rocketlake``, lacks ``pku`` in
``/proc/cpuinfo``, and refusing the very machine a module was built on would be wrong.

No TVM import: the check runs before anything is loaded (``runtime/load.py``).
"""

from __future__ import annotations

from pathlib import Path

# LLVM feature name -> /proc/cpuinfo flag, for the x86 instruction sets LLVM emits from code
EMITTED = {
    "x87": "fpu", "cmov": "cmov", "cx8": "cx8", "cx16": "cx16", "mmx": "mmx", "fxsr": "fxsr",
    "sse": "sse", "sse2": "sse2", "sse3": "pni", "ssse3": "ssse3", "sse4.1": "sse4_1",
    "sse4.2": "sse4_2", "crc32": "sse4_2", "sse4a": "sse4a", "popcnt": "popcnt",
    "lzcnt": "abm", "bmi": "bmi1", "bmi2": "bmi2", "movbe": "movbe", "sahf": "lahf_lm",
    "adx": "adx", "prfchw": "3dnowprefetch", "aes": "aes", "pclmul": "pclmulqdq",
    "f16c": "f16c", "fma": "fma", "avx": "avx", "avx2": "avx2", "avxvnni": "avx_vnni",
    "avx512f": "avx512f", "avx512cd": "avx512cd", "avx512dq": "avx512dq",
    "avx512bw": "avx512bw", "avx512vl": "avx512vl", "avx512ifma": "avx512ifma",
    "avx512vbmi": "avx512vbmi", "avx512vbmi2": "avx512_vbmi2", "avx512vnni": "avx512_vnni",
    "avx512bitalg": "avx512_bitalg", "avx512vpopcntdq": "avx512_vpopcntdq",
    "avx512bf16": "avx512_bf16", "avx512fp16": "avx512_fp16", "gfni": "gfni", "vaes": "vaes",
    "vpclmulqdq": "vpclmulqdq",
}
# LLVM's names for the 64-bit mode itself, not features a CPU lacks
ALWAYS = {"64bit", "64bit-mode"}


class CpuFeatureError(RuntimeError):
    """This CPU lacks an instruction set the module's code may use."""


def split_features(llvm_features) -> tuple[list[str], list[str]]:
    """``(required, unchecked)``: LLVM features a loader must find on the CPU, and the rest
    (tuning flags and instruction sets LLVM does not emit from code), both sorted."""
    required = sorted(f for f in llvm_features if f in EMITTED)
    unchecked = sorted(f for f in llvm_features if f not in EMITTED and f not in ALWAYS)
    return required, unchecked


def host_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> tuple[set[str], str]:
    """``(flags, model name)`` of this CPU from ``/proc/cpuinfo`` (empty when unreadable)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set(), ""
    flags, model = set(), ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "flags" and not flags:
            flags = set(value.split())
        elif key == "model name" and not model:
            model = value.strip()
    return flags, model


def missing_features(required, flags: set[str]) -> list[str]:
    """The required LLVM features whose ``/proc/cpuinfo`` flag this CPU does not show."""
    return [f for f in required if EMITTED.get(f, f) not in flags]


def check_cpu(required, built_for: str, path: str, cpuinfo: str | Path = "/proc/cpuinfo"):
    """Raise ``CpuFeatureError`` unless this CPU has every required feature."""
    if not required:  # nothing to check (a module for a CPU family EMITTED does not list)
        return
    flags, model = host_flags(cpuinfo)
    if not flags:
        raise CpuFeatureError(
            f"{path}: cannot read this CPU's features ({cpuinfo} has no 'flags' line), so "
            f"the module (built for {built_for}) cannot be checked before it runs; pass "
            "check_cpu_features=False to tvm_fusion.load to load it unchecked")
    missing = missing_features(required, flags)
    if missing:
        here = model or "this CPU"
        raise CpuFeatureError(
            f"{path}: this CPU ({here}) lacks {', '.join(missing)}, which the module's code "
            f"may use (it was built for {built_for}); running it could die of an illegal "
            "instruction. Re-export it for a portable CPU level, e.g. "
            "tvm_fusion.compile(graph, cpu='x86-64-v2') (or 'x86-64-v3' for AVX2 machines) "
            "then tvm_fusion.export, or tvm-fusion compile ... --cpu x86-64-v2 -o OUT")

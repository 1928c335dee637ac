"""Kernels assume only the element alignment of their parameters.

TIR declares every buffer 64-byte aligned by default and ``tvm.compile`` turns that into an
``llvm.assume`` on each argument pointer, so LLVM emits aligned vector loads and stores
(``vmovaps``) that fault on an address that is not a multiple of 64. The public call hands the
caller's numpy arrays to the kernel without a copy, and numpy guarantees only 16 bytes (a
slice only the element size): measured here, an ``add`` on a ``(64, 128)`` float32 array at
an address 48 bytes past a 64-byte boundary segfaults with the default declaration.

``assume_element_alignment(mod)`` re-declares every parameter buffer of ``main`` with its
element size as alignment. It runs after scheduling (``build.py`` and the tuning builder), so
the scheduled module that tuning records are matched against is unchanged. On x86 an
unaligned vector load on aligned data costs the same as an aligned one, so arrays from
:func:`tvm_fusion.empty` (64-byte aligned) run at full speed.
"""

from __future__ import annotations

import re

import numpy as np
import tvm

# a parameter in the printed signature: ``x: T.Buffer((8, 64), "float32")``
_PARAM = re.compile(r'(\w+: T\.Buffer\(\([^)]*\), "(\w+)")((?:, [^)]*)?)\)')


# TVMScript prints a uint64 literal of 2**63 or more (a reduce_min's initial value) that its
# own parser refuses ("Expected Optional<ir.Expr> but got ffi.BigInt"): it is re-read as the
# same bits of an int64
_BIG_UINT64 = re.compile(r"T\.uint64\((\d{19,20})\)")


def _as_int64_bits(match: re.Match) -> str:
    value = int(match.group(1))
    if value < 2 ** 63:
        return match.group(0)
    return f'T.reinterpret("uint64", T.int64({value - 2 ** 64}))'


def assume_element_alignment(mod: tvm.IRModule) -> tvm.IRModule:
    """``mod`` with every parameter buffer of ``main`` assuming only element alignment.

    ``ConvertSSA`` first: a producer whose value is a ``Let`` (``log_f32`` binds its operand
    once) inlined into two places of its consumer defines the let's variable twice, which
    the TVMScript parser refuses as ill-formed."""
    mod = tvm.tirx.transform.ConvertSSA()(mod)
    func = mod["main"]
    script = func.script()
    lines = script.split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("def main("))

    def declare(match: re.Match) -> str:
        extra = re.sub(r", align=\d+", "", match.group(3))
        return f"{match.group(1)}{extra}, align={np.dtype(match.group(2)).itemsize})"

    lines[index] = _PARAM.sub(declare, lines[index])
    parsed = tvm.script.from_source(_BIG_UINT64.sub(_as_int64_bits, "\n".join(lines)))
    return tvm.IRModule({"main": parsed}, attrs=mod.attrs)


def declared_alignments(mod: tvm.IRModule) -> dict[str, int]:
    """``{parameter name: the byte alignment the kernel assumes}``."""
    return {p.name: int(p.data_alignment) for p in mod["main"].params}


def finalize(mod: tvm.IRModule) -> tvm.IRModule:
    """The passes every scheduled kernel gets before ``tvm.compile``, in the build and in the
    tuning builder alike (what is tuned is what runs): element alignment, bfloat16 stores a
    vector would broadcast left scalar (``vector_stores.py``), then prefetches (TVMScript
    cannot parse ``T.prefetch`` back)."""
    from .prefetch import insert_prefetches
    from .vector_stores import serialize_broadcast_bf16_stores

    return insert_prefetches(serialize_broadcast_bf16_stores(assume_element_alignment(mod)))

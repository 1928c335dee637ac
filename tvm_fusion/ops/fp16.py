"""fp16 rounding moved where it is exact to move it.

``reduce_max(cast_f32(a + b))`` with ``a + b`` an fp16 add (ONNX rounds it to fp16 per
element) is computed as ``cast_f32(round_f16(reduce_max(a_f32 + b_f32)))``: one rounding per
output instead of one per element, the same bits:

- the f32 add of two fp16 values rounded to fp16 is the fp16 add (an f32 significand holds
  24 >= 2 * 11 + 2 bits, so the double rounding is harmless; an f32 product of two fp16
  values is exact), so ``round_f16(s_i)`` is the fp16 result of element ``i``;
- rounding is monotonic (non-decreasing), so ``max_i round_f16(s_i) == round_f16(max_i s_i)``
  and likewise for min; a sum beyond fp16's range rounds to ``inf`` either way;
- a NaN anywhere in the row gives NaN in both forms (the max/min propagate NaN,
  ``reduce.order_key``, and a NaN rounds to a NaN).

The rounding is the reduction's epilogue (``cast_f32(cast_f16(acc))``, once per output). The
elementwise op and the cast are then read by nothing in the kernel and vanish from it.

Not on a target with native fp16 arithmetic (AVX512-FP16, :func:`native_fp16`): there one
``vaddph`` rounds 16 sums and costs less than converting both operands (measured on W2:
the rewrite was slower there); without it (F16C only) LLVM converts both operands, adds in
f32, converts to fp16 and back per element, and the rewrite drops the last two.
"""

from __future__ import annotations

from collections.abc import Sequence

import tvm
from tvm import te

from ..graph import Node, Tensor
from .common import broadcast_index, cast
from .reduce import reduction

F16, F32 = "float16", "float32"
EXTREMA = ("reduce_max", "reduce_min")
# fp16 ops whose f32 result rounded to fp16 is the fp16 result (add/sub: 24 >= 2*11+2
# bits; mul: the f32 product of two 11-bit significands is exact)
WIDENABLE = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


def native_fp16(target: tvm.target.Target) -> bool:
    """Whether ``target`` computes fp16 arithmetic natively (AVX512-FP16)."""
    return target.kind.name == "llvm" and \
        "avx512fp16" in tvm.target.codegen.llvm_get_cpu_features(target)


def rounded_once_source(node: Node, nodes: Sequence[Node], outputs: Sequence[Tensor],
                        native: bool = False) -> Node | None:
    """The fp16 op whose rounding ``node`` (a max/min of its cast to f32) can take over.

    ``None`` unless ``node`` reduces ``cast_f32(op(f16, f16))`` with ``op`` in
    :data:`WIDENABLE`, both computed in this kernel and read by nothing else, and the
    target has no ``native`` fp16 arithmetic.
    """
    if native or node.op not in EXTREMA or node.inputs[0].dtype != F32:
        return None
    cast_node = node.inputs[0].producer
    if cast_node is None or cast_node.op != "cast" or cast_node.inputs[0].dtype != F16:
        return None
    source = cast_node.inputs[0].producer
    if source is None or source.op not in WIDENABLE or \
            any(t.dtype != F16 for t in source.inputs):
        return None
    chain = (cast_node, source)
    if any(all(n is not c for n in nodes) for c in chain):
        return None  # computed (and rounded, stored) by another kernel
    for c, reader in ((source, cast_node), (cast_node, node)):
        readers = [n for n in nodes if any(t is c.output for t in n.inputs)]
        if readers != [reader] or any(t is c.output for t in outputs):
            return None
    return source


def extremum_rounded_once(node: Node, source: Node, inputs: list[te.Tensor]) -> te.Tensor:
    """``node`` (reduce_max/min) over ``source``'s op computed in f32, rounded to fp16 once
    per output; ``inputs`` are the te tensors of ``source``'s operands."""
    shape = source.output.shape
    fn = WIDENABLE[source.op]
    operands = list(zip(inputs, (t.shape for t in source.inputs)))

    def element(index):
        a, b = (cast(x[broadcast_index(s, shape, index)], F32) for x, s in operands)
        return fn(a, b)

    return reduction(node, element, F32, lambda value: cast(cast(value, F16), F32))

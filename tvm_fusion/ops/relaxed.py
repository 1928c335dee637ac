"""``precision="relaxed"``: fp16 arithmetic in f32, rounded only where a tensor leaves.

The exact default follows ONNX: every fp16 op rounds its result to fp16. Relaxed computes
fp16 element-wise ops and reductions in f32 and keeps the f32 value ("wide") for the next op,
as onnxruntime's and Inductor's fused kernels do. A value is rounded to fp16 only where it
leaves the f32 chain: a kernel output, an explicit cast, or an op that needs its declared
dtype (a scatter's data or updates, any op that is not an fp16 element-wise op, reduction,
layout op or cast). Layout ops pass a wide value through when every reader takes it wide.
"""

from __future__ import annotations

from collections.abc import Sequence

from tvm import te

from ..graph import BINARY_OPS, LAYOUT_OPS, REDUCE_OPS, UNARY_OPS, Node, Tensor
from .common import cast
from .elementwise import binary_compute, unary_compute
from .reduce import reduction

PRECISIONS = ("exact", "relaxed")
F16, F32 = "float16", "float32"


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ``ValueError`` naming them."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {', '.join(map(repr, PRECISIONS))}"
                         ": 'exact' rounds every fp16 op to fp16 (ONNX), 'relaxed' computes fp16 "
                         "chains in f32 and rounds only where a tensor is output or cast")
    return precision


def effective_precision(nodes: Sequence[Node], precision: str) -> str:
    """``"exact"`` for a kernel without fp16 arithmetic: relaxed would build the same kernel
    (so it shares the exact kernel's cache entry and tuning records)."""
    return precision if any(computes_in_f32(n) for n in nodes) else "exact"


def computes_in_f32(node: Node) -> bool:
    """An fp16 element-wise op or reduction: relaxed computes it in f32."""
    return node.output.dtype == F16 and (
        node.op in BINARY_OPS or node.op in UNARY_OPS or node.op in REDUCE_OPS)


def wide_nodes(nodes: Sequence[Node], outputs: Sequence[Tensor]) -> frozenset[str]:
    """The nodes whose fp16 result relaxed keeps in f32: every reader in the kernel takes an
    f32 operand (an f32-computing op, a cast, a wide layout op) and it is no kernel output."""
    readers: dict[int, list[Node]] = {}
    for node in nodes:
        for t in node.inputs:
            readers.setdefault(id(t), []).append(node)
    out = {id(t) for t in outputs}
    wide = {n.name for n in nodes
            if n.output.dtype == F16 and (computes_in_f32(n) or n.op in LAYOUT_OPS)
            and id(n.output) not in out}
    changed = True
    while changed:  # a layout op that must round makes its producer round too
        changed = False
        for node in nodes:
            if node.name in wide and not all(
                    r.op == "cast" or computes_in_f32(r) or r.name in wide
                    for r in readers.get(id(node.output), ())):
                wide.discard(node.name)
                changed = True
    return frozenset(wide)


def relaxed_compute(node: Node, inputs: list[te.Tensor], wide: bool) -> te.Tensor:
    """``node`` (see :func:`computes_in_f32`) in f32 from its operands (fp16, or f32 when
    wide); its result stays f32 when ``wide``, else it is rounded to fp16 once."""
    out_dtype = None if wide else F16
    if node.op in BINARY_OPS:
        return binary_compute(node, inputs, F32, out_dtype)
    if node.op in UNARY_OPS:
        return unary_compute(node, inputs, F32, out_dtype or F32)
    (x,) = inputs
    finish = None if wide else (lambda value: cast(value, F16))
    return reduction(node, lambda index: cast(x[index], F32), F32, finish)

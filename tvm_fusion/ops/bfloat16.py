"""bfloat16 element-wise ops: computed in float32, rounded to nearest even once per op.

TVM has no bfloat16 arithmetic on CPUs: its legalizer computes a bfloat16 expression in f32
and rounds where it is stored. In a fused kernel the intermediates are inlined and never
stored, so a chain ``(x + y) * x`` would round once instead of after every op (numpy with
``ml_dtypes`` and ``onnx.reference`` round per op). Here every bfloat16 element-wise op
converts its operands to f32 and rounds its result explicitly (``common.to_bfloat16``), so
the rounding survives inlining and the bits are ``onnx.reference``'s.
"""

from __future__ import annotations

from tvm import te

from ..graph import BINARY_OPS, UNARY_OPS, Node
from .elementwise import binary_compute, unary_compute

BF16, F32 = "bfloat16", "float32"


def rounds_per_op(node: Node) -> bool:
    """A bfloat16 element-wise op with a bfloat16 result."""
    return node.output.dtype == BF16 and (node.op in BINARY_OPS or node.op in UNARY_OPS)


def bfloat16_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    """``node`` (see :func:`rounds_per_op`) in f32, its result rounded to bfloat16."""
    if node.op in BINARY_OPS:
        return binary_compute(node, inputs, F32, BF16)
    return unary_compute(node, inputs, F32, BF16)

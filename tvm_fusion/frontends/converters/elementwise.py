"""Element-wise converters: binary and variadic arithmetic, unary math, Cast, Identity."""

from __future__ import annotations

from ...graph import Tensor
from .common import to_dtype


def _binary(op: str):
    def convert(ctx, a: Tensor, b: Tensor) -> Tensor:
        return getattr(ctx.g, op)(a, b, name=ctx.out)

    convert.__name__ = op
    return convert


def _variadic(op: str):
    def convert(ctx, *inputs: Tensor) -> Tensor:  # Max / Min: fold pairwise, left to right
        result = inputs[0]
        for i, other in enumerate(inputs[1:], start=2):
            name = ctx.out if i == len(inputs) else ctx.tmp(op)
            result = getattr(ctx.g, op)(result, other, name=name)
        return result

    convert.__name__ = op
    return convert


def _unary(op: str):
    def convert(ctx, x: Tensor) -> Tensor:
        return getattr(ctx.g, op)(x, name=ctx.out)

    convert.__name__ = op
    return convert


def cast(ctx, x: Tensor, *, to: int, saturate: int = 1, round_mode: str = "up") -> Tensor:
    # saturate / round_mode only concern float8 / float4 targets, which are unsupported anyway
    dtype = to_dtype(to, "Cast target 'to'")
    return x if dtype == x.dtype else ctx.g.cast(x, dtype, name=ctx.out)


def identity(ctx, x: Tensor) -> Tensor:
    return x


CONVERTERS = {
    "Add": _binary("add"), "Sub": _binary("sub"), "Mul": _binary("mul"), "Div": _binary("div"),
    "Max": _variadic("maximum"), "Min": _variadic("minimum"),
    "Neg": _unary("neg"), "Abs": _unary("abs"), "Relu": _unary("relu"), "Exp": _unary("exp"),
    "Sqrt": _unary("sqrt"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"),
    "Cast": cast, "Identity": identity,
}
STATIC_INPUTS: dict[str, tuple[int, ...]] = {}

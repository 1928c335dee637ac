"""Element-wise converters: binary and variadic arithmetic, unary math, Cast, Identity, and
the ops ONNX defines by a function body of those (CastLike, Reciprocal, Clip, HardSigmoid,
HardSwish)."""

from __future__ import annotations

import numpy as np

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


# ----- expanded as ONNX's function bodies define them ---------------------------------------
def _scalar(ctx, value, dtype: str, tag: str) -> Tensor:
    return ctx.g.constant(np.array(value, dtype=dtype), name=ctx.tmp(tag))


def cast_like(ctx, input: Tensor, target_type: Tensor, *, saturate: int = 1,
              round_mode: str = "up") -> Tensor:
    dtype = target_type.dtype
    return input if dtype == input.dtype else ctx.g.cast(input, dtype, name=ctx.out)


def reciprocal(ctx, X: Tensor) -> Tensor:
    return ctx.g.div(_scalar(ctx, 1, X.dtype, "one"), X, name=ctx.out)


def clip(ctx, input: Tensor, min: Tensor | None = None,
         max: Tensor | None = None) -> Tensor:
    """``minimum(maximum(x, min), max)`` (min > max gives max, as numpy.clip)."""
    if min is None and max is None:
        return input
    low = input if min is None else ctx.g.maximum(
        input, min, name=ctx.out if max is None else ctx.tmp("low"))
    return low if max is None else ctx.g.minimum(low, max, name=ctx.out)


def hard_sigmoid(ctx, X: Tensor, *, alpha: float = 0.2, beta: float = 0.5) -> Tensor:
    return _hard_sigmoid(ctx, X, alpha, beta, ctx.out)


def _hard_sigmoid(ctx, x: Tensor, alpha: float, beta: float, name: str) -> Tensor:
    """``max(0, min(1, alpha * x + beta))``."""
    line = ctx.g.add(ctx.g.mul(x, _scalar(ctx, alpha, x.dtype, "alpha"), name=ctx.tmp("ax")),
                     _scalar(ctx, beta, x.dtype, "beta"), name=ctx.tmp("line"))
    top = ctx.g.minimum(line, _scalar(ctx, 1, x.dtype, "one"), name=ctx.tmp("top"))
    return ctx.g.maximum(top, _scalar(ctx, 0, x.dtype, "zero"), name=name)


def hard_swish(ctx, X: Tensor) -> Tensor:
    """``x * hard_sigmoid(x, 1/6, 0.5)``."""
    gate = _hard_sigmoid(ctx, X, 1 / 6, 0.5, ctx.tmp("gate"))
    return ctx.g.mul(X, gate, name=ctx.out)


CONVERTERS.update({"CastLike": cast_like, "Reciprocal": reciprocal, "Clip": clip,
                   "HardSigmoid": hard_sigmoid, "HardSwish": hard_swish})

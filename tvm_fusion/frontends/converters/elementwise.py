"""Element-wise converters: binary and variadic arithmetic, comparisons, logical ops, Where,
unary math, Cast, Identity, and the ops ONNX defines by a function body of those (CastLike,
Reciprocal, Clip, HardSigmoid, HardSwish, LeakyRelu, Elu, Softplus)."""

from __future__ import annotations

import numpy as np

from ...graph import FLOAT_DTYPES, Tensor
from .common import ConvertError, to_dtype


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
    # saturate concerns float8 targets (round_mode only float8e8m0, unsupported)
    dtype = to_dtype(to, "Cast target 'to'")
    return x if dtype == x.dtype else ctx.g.cast(x, dtype, saturate=bool(saturate),
                                                 name=ctx.out)


def identity(ctx, x: Tensor) -> Tensor:
    return x


def power(ctx, X: Tensor, Y: Tensor) -> Tensor:
    """``X ** Y`` in X's dtype; a constant exponent of 2 is ``X * X`` (one multiply instead of
    a ``pow`` call per element; the same correctly rounded square)."""
    exponent = ctx.g.constants.get(Y.name)
    if exponent is not None and X.dtype in FLOAT_DTYPES and exponent.size == 1 and \
            exponent.ndim <= X.ndim and float(exponent.flat[0]) == 2.0:
        return ctx.g.mul(X, X, name=ctx.out)
    return ctx.g.pow(X, Y, name=ctx.out)


def mod(ctx, A: Tensor, B: Tensor, *, fmod: int = 0) -> Tensor:
    return ctx.g.mod(A, B, fmod=fmod, name=ctx.out)


def erf(ctx, input: Tensor) -> Tensor:
    """Erf; of an integer tensor (ONNX allows it) through float32, truncated as the reference."""
    if input.dtype in FLOAT_DTYPES:
        return ctx.g.erf(input, name=ctx.out)
    wide = ctx.g.erf(ctx.g.cast(input, "float32", name=ctx.tmp("wide")), name=ctx.tmp("erf"))
    return ctx.g.cast(wide, input.dtype, name=ctx.out)


def is_inf(ctx, X: Tensor, *, detect_negative: int = 1, detect_positive: int = 1) -> Tensor:
    return ctx.g.isinf(X, detect_negative=bool(detect_negative),
                       detect_positive=bool(detect_positive), name=ctx.out)


def where(ctx, condition: Tensor, X: Tensor, Y: Tensor) -> Tensor:
    return ctx.g.where(condition, X, Y, name=ctx.out)


CONVERTERS = {
    "Add": _binary("add"), "Sub": _binary("sub"), "Mul": _binary("mul"), "Div": _binary("div"),
    "Max": _variadic("maximum"), "Min": _variadic("minimum"), "Pow": power, "Mod": mod,
    "Equal": _binary("equal"), "Less": _binary("less"), "LessOrEqual": _binary("less_equal"),
    "Greater": _binary("greater"), "GreaterOrEqual": _binary("greater_equal"),
    "And": _binary("logical_and"), "Or": _binary("logical_or"), "Xor": _binary("logical_xor"),
    "Not": _unary("logical_not"), "Where": where,
    "Neg": _unary("neg"), "Abs": _unary("abs"), "Relu": _unary("relu"), "Exp": _unary("exp"),
    "Log": _unary("log"), "Sqrt": _unary("sqrt"), "Sigmoid": _unary("sigmoid"),
    "Tanh": _unary("tanh"), "Erf": erf, "Floor": _unary("floor"), "Ceil": _unary("ceil"),
    "Round": _unary("round"), "Sign": _unary("sign"), "IsNaN": _unary("isnan"),
    "IsInf": is_inf, "Cast": cast, "Identity": identity,
}
STATIC_INPUTS: dict[str, tuple[int, ...]] = {}


# ----- expanded as ONNX's function bodies define them ---------------------------------------
def _scalar(ctx, value, dtype: str, tag: str) -> Tensor:
    return ctx.g.constant(np.array(value, dtype=dtype), name=ctx.tmp(tag))


def cast_like(ctx, input: Tensor, target_type: Tensor, *, saturate: int = 1,
              round_mode: str = "up") -> Tensor:
    dtype = target_type.dtype
    return input if dtype == input.dtype else ctx.g.cast(input, dtype, saturate=bool(saturate),
                                                         name=ctx.out)


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


def _floats(op: str, x: Tensor) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise ConvertError(f"{op}: input '{x.name}' has dtype {x.dtype}, expected one of "
                           f"{', '.join(FLOAT_DTYPES)}")


def leaky_relu(ctx, X: Tensor, *, alpha: float = 0.01) -> Tensor:
    """``where(x < 0, alpha * x, x)``."""
    _floats("LeakyRelu", X)
    negative = ctx.g.less(X, _scalar(ctx, 0, X.dtype, "zero"), name=ctx.tmp("negative"))
    scaled = ctx.g.mul(_scalar(ctx, alpha, X.dtype, "alpha"), X, name=ctx.tmp("scaled"))
    return ctx.g.where(negative, scaled, X, name=ctx.out)


def elu(ctx, X: Tensor, *, alpha: float = 1.0) -> Tensor:
    """``where(x < 0, alpha * (exp(x) - 1), x)``."""
    _floats("Elu", X)
    negative = ctx.g.less(X, _scalar(ctx, 0, X.dtype, "zero"), name=ctx.tmp("negative"))
    e = ctx.g.exp(X, name=ctx.tmp("exp"))
    shifted = ctx.g.sub(e, _scalar(ctx, 1, X.dtype, "one"), name=ctx.tmp("expm1"))
    scaled = ctx.g.mul(_scalar(ctx, alpha, X.dtype, "alpha"), shifted, name=ctx.tmp("scaled"))
    return ctx.g.where(negative, scaled, X, name=ctx.out)


def softplus(ctx, X: Tensor) -> Tensor:
    """``log(exp(x) + 1)`` as ``relu(x) + log(exp(-|x|) + 1)``: the function body's value
    wherever its ``exp`` does not overflow, and ``x`` (not inf) where it does (as the
    reference's ``logaddexp(0, x)`` and onnxruntime)."""
    _floats("Softplus", X)
    magnitude = ctx.g.neg(ctx.g.abs(X, name=ctx.tmp("abs")), name=ctx.tmp("neg_abs"))
    e = ctx.g.exp(magnitude, name=ctx.tmp("exp"))
    tail = ctx.g.log(ctx.g.add(e, _scalar(ctx, 1, X.dtype, "one"), name=ctx.tmp("exp_1")),
                     name=ctx.tmp("log"))
    return ctx.g.add(ctx.g.relu(X, name=ctx.tmp("relu")), tail, name=ctx.out)


CONVERTERS.update({"LeakyRelu": leaky_relu, "Elu": elu, "Softplus": softplus})
CONVERTERS.update({"CastLike": cast_like, "Reciprocal": reciprocal, "Clip": clip,
                   "HardSigmoid": hard_sigmoid, "HardSwish": hard_swish})

"""Softmax, normalisations and the composite reductions, expanded as ONNX's function bodies
define them (so they fuse and schedule like any chain: softmax and the norms match the
row-reduction template).

Softmax-13: ``exp(x - max(x)) / sum(exp(x - max(x)))`` over ``axis``; before opset 13 the
input was coerced to 2D at ``axis``, the same as reducing over every axis from ``axis`` on.
LayerNormalization-17 and RMSNormalization-23 compute in ``stash_type`` (float32) over the
axes from ``axis`` to the last and cast back before the scale (and bias).
"""

from __future__ import annotations

import numpy as np

from ...graph import FLOAT_DTYPES, Tensor
from .common import ConvertError, axis_index, ints


def _floats(op: str, x: Tensor) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise ConvertError(f"{op}: input '{x.name}' has dtype {x.dtype}, expected one of "
                           f"{', '.join(FLOAT_DTYPES)}")


def _scalar(ctx, value, dtype: str, tag: str) -> Tensor:
    return ctx.g.constant(np.array(value, dtype=dtype), name=ctx.tmp(tag))


def _cast(ctx, x: Tensor, dtype: str, tag: str) -> Tensor:
    return x if x.dtype == dtype else ctx.g.cast(x, dtype, name=ctx.tmp(tag))


def _softmax_axes(ctx, x: Tensor, axis: int | None) -> list[int]:
    if ctx.opset < 13:  # coerced to 2D at axis (default 1): every axis from it on
        first = axis_index(1 if axis is None else axis, x.ndim, "Softmax")
        return list(range(first, x.ndim))
    return [axis_index(-1 if axis is None else axis, x.ndim, "Softmax")]


def _shifted_exp(ctx, x: Tensor, axes: list[int]):
    top = ctx.g.reduce_max(x, axes, True, name=ctx.tmp("max"))
    shifted = ctx.g.sub(x, top, name=ctx.tmp("shifted"))
    return shifted, ctx.g.exp(shifted, name=ctx.tmp("exp"))


def softmax(ctx, input: Tensor, *, axis: int | None = None) -> Tensor:
    _floats("Softmax", input)
    axes = _softmax_axes(ctx, input, axis)
    _, e = _shifted_exp(ctx, input, axes)
    total = ctx.g.reduce_sum(e, axes, True, name=ctx.tmp("sum"))
    return ctx.g.div(e, total, name=ctx.out)


def log_softmax(ctx, input: Tensor, *, axis: int | None = None) -> Tensor:
    """``(x - max) - log(sum(exp(x - max)))`` (LogSoftmax-13's function body)."""
    _floats("LogSoftmax", input)
    axes = _softmax_axes(ctx, input, axis)
    shifted, e = _shifted_exp(ctx, input, axes)
    total = ctx.g.reduce_sum(e, axes, True, name=ctx.tmp("sum"))
    return ctx.g.sub(shifted, ctx.g.log(total, name=ctx.tmp("log")), name=ctx.out)


def layer_normalization(ctx, X: Tensor, Scale: Tensor, B: Tensor | None = None, *,
                        axis: int = -1, epsilon: float = 1e-5, stash_type: int = 1) -> Tensor:
    _floats("LayerNormalization", X)
    axes = list(range(axis_index(axis, X.ndim, "LayerNormalization"), X.ndim))
    wide = _stash(ctx, X, stash_type)
    mean = ctx.g.reduce_mean(wide, axes, True, name=_extra(ctx, 1, "mean"))
    centred = ctx.g.sub(wide, mean, name=ctx.tmp("centred"))
    square = ctx.g.mul(centred, centred, name=ctx.tmp("square"))
    variance = ctx.g.reduce_mean(square, axes, True, name=ctx.tmp("variance"))
    inverse = _inverse_root(ctx, variance, epsilon, _extra(ctx, 2, "inverse"))
    normalized = ctx.g.mul(centred, inverse, name=ctx.tmp("norm"))
    y = _scale(ctx, _cast(ctx, normalized, X.dtype, "narrow"), Scale, B)
    return (y, mean, inverse) if any(ctx.outputs[1:]) else y  # Mean, InvStdDev: float32


def _extra(ctx, index: int, tag: str) -> str:
    """The name of optional output ``index`` when the model uses it, else a fresh one."""
    used = index < len(ctx.outputs) and ctx.outputs[index]
    return ctx.output_name(index) if used else ctx.tmp(tag)


def rms_normalization(ctx, X: Tensor, scale: Tensor, *, axis: int = -1,
                      epsilon: float = 1e-5, stash_type: int = 1) -> Tensor:
    _floats("RMSNormalization", X)
    axes = list(range(axis_index(axis, X.ndim, "RMSNormalization"), X.ndim))
    wide = _stash(ctx, X, stash_type)
    square = ctx.g.mul(wide, wide, name=ctx.tmp("square"))
    mean = ctx.g.reduce_mean(square, axes, True, name=ctx.tmp("mean_square"))
    normalized = ctx.g.mul(wide, _inverse_root(ctx, mean, epsilon), name=ctx.tmp("norm"))
    return _scale(ctx, _cast(ctx, normalized, X.dtype, "narrow"), scale, None)


def _stash(ctx, x: Tensor, stash_type: int) -> Tensor:
    if stash_type != 1:
        raise ConvertError(f"stash_type {stash_type} is not supported (only 1: float32)")
    return _cast(ctx, x, "float32", "wide")


def _inverse_root(ctx, value: Tensor, epsilon: float, name: str | None = None) -> Tensor:
    """``1 / sqrt(value + epsilon)`` as the function bodies write it (Sqrt, Reciprocal)."""
    shifted = ctx.g.add(value, _scalar(ctx, epsilon, value.dtype, "epsilon"), name=ctx.tmp("eps"))
    root = ctx.g.sqrt(shifted, name=ctx.tmp("root"))
    return ctx.g.div(_scalar(ctx, 1, value.dtype, "one"), root, name=name or ctx.tmp("inverse"))


def _scale(ctx, x: Tensor, scale: Tensor, bias: Tensor | None) -> Tensor:
    if bias is None:
        return ctx.g.mul(x, scale, name=ctx.out)
    return ctx.g.add(ctx.g.mul(x, scale, name=ctx.tmp("scaled")), bias, name=ctx.out)


def _composite(kind: str):
    """ReduceL1 / L2 / SumSquare / LogSum / LogSumExp: a map, a sum, a final step."""

    def convert(ctx, data: Tensor, axes=None, *, keepdims: int = 1,
                noop_with_empty_axes: int = 0) -> Tensor:
        axes = [] if axes is None else ints(axes)
        if not axes:
            if noop_with_empty_axes or data.ndim == 0:
                return _noop(ctx, kind, data)
            axes = list(range(data.ndim))
        if kind in ("l2", "log_sum", "log_sum_exp"):
            _floats(f"Reduce{kind}", data)
        if kind == "log_sum_exp" and data.dtype == "float64":  # the function body as is
            e = ctx.g.exp(data, name=ctx.tmp("exp"))
            total = ctx.g.reduce_sum(e, axes, bool(keepdims), name=ctx.tmp("sum"))
            return ctx.g.log(total, name=ctx.out)
        if kind == "log_sum_exp":  # log(sum(exp(x - max))) + max: the body computes in
            # float64, where exp does not overflow before 709; this is as exact in float32
            top = ctx.g.reduce_max(data, axes, True, name=ctx.tmp("max"))
            e = ctx.g.exp(ctx.g.sub(data, top, name=ctx.tmp("shifted")), name=ctx.tmp("exp"))
            total = ctx.g.reduce_sum(e, axes, bool(keepdims), name=ctx.tmp("sum"))
            shape = total.shape
            top = top if keepdims else ctx.g.reshape(top, shape, name=ctx.tmp("max_shape"))
            return ctx.g.add(ctx.g.log(total, name=ctx.tmp("log")), top, name=ctx.out)
        mapped = {"l1": lambda: ctx.g.abs(data, name=ctx.tmp("abs")),
                  "l2": lambda: ctx.g.mul(data, data, name=ctx.tmp("square")),
                  "sum_square": lambda: ctx.g.mul(data, data, name=ctx.tmp("square")),
                  "log_sum": lambda: data}[kind]()
        last = kind in ("l1", "sum_square")
        total = ctx.g.reduce_sum(mapped, axes, bool(keepdims),
                                 name=ctx.out if last else ctx.tmp("sum"))
        if kind == "l2":
            return ctx.g.sqrt(total, name=ctx.out)
        if kind == "log_sum":
            return ctx.g.log(total, name=ctx.out)
        return total

    convert.__name__ = f"reduce_{kind}"
    return convert


def _noop(ctx, kind: str, data: Tensor) -> Tensor:
    """Empty axes with noop_with_empty_axes: the map and the final step over no axis, as
    ONNX's reference computes it (a sum over no axis is the value itself)."""
    if kind == "l1":
        return ctx.g.abs(data, name=ctx.out)
    if kind == "log_sum_exp":
        return data  # log(exp(x - x)) + x
    if kind == "log_sum":
        return ctx.g.log(data, name=ctx.out)
    if kind == "sum_square":
        return ctx.g.mul(data, data, name=ctx.out)
    return ctx.g.sqrt(ctx.g.mul(data, data, name=ctx.tmp("square")), name=ctx.out)


CONVERTERS = {
    "Softmax": softmax,
    "LayerNormalization": layer_normalization, "RMSNormalization": rms_normalization,
    "ReduceL1": _composite("l1"), "ReduceL2": _composite("l2"),
    "ReduceSumSquare": _composite("sum_square"),
    "LogSoftmax": log_softmax, "ReduceLogSum": _composite("log_sum"),
    "ReduceLogSumExp": _composite("log_sum_exp"),
}
STATIC_INPUTS = {op: (1,) for op in CONVERTERS if op.startswith("Reduce")}  # axes

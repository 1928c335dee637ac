"""Reductions over a set of axes, with ONNX ``keepdims``.

fp16 inputs accumulate in fp32 and round once at the end; integer sums and products wrap in
their own dtype (``np.sum(x, dtype=x.dtype)``, as ONNX does). ``reduce_mean`` is a sum stage
followed by a divide stage; integer means truncate toward zero.

Float max/min propagate NaN, as ``np.max`` and ONNX ReduceMax do. TIR's ``max`` is LLVM's
compare-and-select (``a > b ? a : b``), which keeps the second operand when one is NaN, so a
NaN survived only as the last element of a row. A float max/min here reduces integer keys
instead (``order_key``: the float's bits with the negative half flipped, so integer order is
float order, and NaN the largest key for max, the smallest for min) and turns the winning key
back into its float per output. That costs a shift, an and, an xor and a NaN compare per
element, off the loop-carried chain (LLVM ORs the NaN masks and selects once per row), and
the chain becomes an integer max. The identities are the integer ones, beyond every key: a
row of -inf has max -inf, as in numpy (TIR's float identity, the lowest finite float, gave
-3.4e38). Kernel time, one process, interleaved rounds (medians, shared 2-core machine): W2
(fp16 add -> max, compute-bound) 798 -> 1007 us, P1 (softmax) 3990 -> 3856 us (noise), W5 (no
max) 790 -> 788 us; a float compare-and-select keeping NaN (``isnan(x) ? x : max(x, acc)``, a
reducer registered with TVM so rfactor accepts it) was slower still: W2 1157 us, P1 4550 us
against 972 / 3978 us with keys in the same run.
"""

from __future__ import annotations

import math

from tvm import te, tirx

from ..graph import Node
from .axes import AxisRelation, OutputAxis
from .common import ACCUMULATOR, cast, dtype_of, empty_reduction, expr_dtype, isnan

_prod = te.comm_reducer(lambda a, b: a * b, lambda dtype: tirx.const(1, dtype), name="prod")
REDUCERS = {
    "reduce_sum": te.sum,
    "reduce_mean": te.sum,
    "reduce_max": te.max,
    "reduce_min": te.min,
    "reduce_prod": _prod,
}
EXTREMA = ("reduce_max", "reduce_min")
KEY_DTYPE = {"float32": "int32", "float16": "int16", "bfloat16": "int16", "float64": "int64"}
MANTISSA_BITS = {"float32": 23, "float16": 10, "bfloat16": 7, "float64": 52}


def reduce_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    if any(node.inputs[0].shape[d] == 0 for d in node.attrs["axes"]):  # over no elements
        value = empty_reduction(node.op, dtype_of(x))
        return te.compute(node.output.shape, lambda *i: value, name=node.name)
    dtype = dtype_of(x)
    exact = node.op in ("reduce_max", "reduce_min")
    acc_dtype = dtype if exact else ACCUMULATOR.get(dtype, dtype)
    if exact and dtype == "bfloat16":  # keys of its exact float32: TVM's bf16 legalizer turns
        acc_dtype = "float32"  # a bf16 value read back from a buffer into f32, whose bitcast
        # to an int16 key LLVM rejects ("Invalid bitcast"; fuzzer: reduce_min of neg(x) beside
        # another output of neg(x)); the result, a bf16 value, casts back exactly
    finish = None if acc_dtype == dtype else (lambda value: cast(value, dtype))
    return reduction(node, lambda index: cast(x[index], acc_dtype), acc_dtype, finish)


def reduction(node: Node, element, acc_dtype: str, finish=None) -> te.Tensor:
    """``node``'s reduction of ``element(input_index)`` in ``acc_dtype``; ``finish`` (e.g. a
    rounding) and the mean's divide run per output in an epilogue stage. A float max/min
    reduces ``order_key``s and decodes the result first (the module docstring says why)."""
    if node.op in EXTREMA and acc_dtype in KEY_DTYPE:
        key_dtype, decode = KEY_DTYPE[acc_dtype], finish or (lambda value: value)
        return reduction(node, lambda index: order_key(element(index), node.op), key_dtype,
                         lambda key: decode(from_order_key(key, acc_dtype)))
    x_shape = node.inputs[0].shape
    axes, keepdims = node.attrs["axes"], node.attrs["keepdims"]
    reduce_axes = {d: te.reduce_axis((0, x_shape[d]), name=f"k{d}") for d in axes}
    reducer = REDUCERS[node.op]

    def body(*out_index):
        it = iter(out_index)
        index = []
        for d in range(len(x_shape)):
            if d in reduce_axes:
                index.append(reduce_axes[d])
                if keepdims:
                    next(it)
            else:
                index.append(next(it))
        return reducer(element(tuple(index)), axis=list(reduce_axes.values()))

    shape = node.output.shape
    needs_epilogue = node.op == "reduce_mean" or finish is not None
    acc = te.compute(shape, body, name=f"{node.name}_acc" if needs_epilogue else node.name)
    if not needs_epilogue:
        return acc
    count = math.prod(x_shape[d] for d in axes)

    def epilogue(*i):
        value = acc[i]
        if node.op == "reduce_mean":
            value = _mean_divide(value, count, acc_dtype)
        return value if finish is None else finish(value)

    return te.compute(shape, epilogue, name=node.name)


def _mean_divide(total, count: int, dtype: str):
    """``total / count`` in ``dtype``; integers truncate toward zero. A count beyond the
    dtype's range (143 int8 elements) divides in 64 bits, as numpy's mean does."""
    if "int" not in dtype:
        return total / tirx.const(count, dtype)
    bits = int(dtype.removeprefix("u").removeprefix("int"))
    if count < 2 ** (bits - 1):
        return tirx.truncdiv(total, tirx.const(count, dtype))
    wide = "uint64" if dtype.startswith("u") else "int64"
    return tirx.truncdiv(total.astype(wide), tirx.const(count, wide)).astype(dtype)


def reduce_axes(node: Node) -> AxisRelation:
    axes, keepdims = node.attrs["axes"], node.attrs["keepdims"]
    outputs = []
    for d in range(node.inputs[0].ndim):
        if d not in axes:
            outputs.append(OutputAxis("identity", ((0, d),)))
        elif keepdims:
            outputs.append(OutputAxis("reduce", ((0, d),)))
    return AxisRelation(tuple(outputs), reduced=tuple((0, d) for d in axes))


def _flip(bits, dtype: str):
    """``bits`` with every bit but the sign flipped where the sign is set (an involution)."""
    width = int(dtype.removeprefix("int"))
    sign = tirx.shift_right(bits, tirx.const(width - 1, dtype))  # 0 or -1
    return tirx.bitwise_xor(bits, tirx.bitwise_and(sign, tirx.const(2 ** (width - 1) - 1, dtype)))


def order_key(value, op: str):
    """An integer ordered as the float ``value`` (-0 just below +0); every NaN becomes the
    key of the quiet NaN (positive for ``reduce_max``, the largest key; negative for
    ``reduce_min``, the smallest), so the result is that NaN whichever NaN came in."""
    float_dtype = expr_dtype(value)
    dtype = KEY_DTYPE[float_dtype]
    width, low = int(dtype.removeprefix("int")), 2 ** (MANTISSA_BITS[float_dtype] - 1) - 1
    quiet = 2 ** (width - 1) - 1 - low  # exponent and quiet bit set: 0x7fc00000 for float32
    if op == "reduce_min":
        quiet = (quiet - 2 ** (width - 1)) ^ (2 ** (width - 1) - 1)  # flip(-qNaN bits)
    key = _flip(tirx.reinterpret(dtype, value), dtype)
    return tirx.Select(isnan(value), tirx.const(quiet, dtype), key)


def from_order_key(key, float_dtype: str):
    """The float of an ``order_key`` (the NaN keys decode to NaNs)."""
    return tirx.reinterpret(float_dtype, _flip(key, KEY_DTYPE[float_dtype]))

"""Reductions over a set of axes, with ONNX ``keepdims``.

fp16 inputs accumulate in fp32 and round once at the end; integer sums and products wrap in
their own dtype (``np.sum(x, dtype=x.dtype)``, as ONNX does). ``reduce_mean`` is a sum stage
followed by a divide stage; integer means truncate toward zero.
"""

from __future__ import annotations

import math

from tvm import te, tirx

from ..graph import Node
from .axes import AxisRelation, OutputAxis
from .common import ACCUMULATOR, cast, dtype_of

_prod = te.comm_reducer(lambda a, b: a * b, lambda dtype: tirx.const(1, dtype), name="prod")
REDUCERS = {
    "reduce_sum": te.sum,
    "reduce_mean": te.sum,
    "reduce_max": te.max,
    "reduce_min": te.min,
    "reduce_prod": _prod,
}


def reduce_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    dtype = dtype_of(x)
    exact = node.op in ("reduce_max", "reduce_min")
    acc_dtype = dtype if exact else ACCUMULATOR.get(dtype, dtype)
    finish = None if acc_dtype == dtype else (lambda value: cast(value, dtype))
    return reduction(node, lambda index: cast(x[index], acc_dtype), acc_dtype, finish)


def reduction(node: Node, element, acc_dtype: str, finish=None) -> te.Tensor:
    """``node``'s reduction of ``element(input_index)`` in ``acc_dtype``; ``finish`` (e.g. a
    rounding) and the mean's divide run per output in an epilogue stage."""
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
            n = tirx.const(count, acc_dtype)
            value = tirx.truncdiv(value, n) if "int" in acc_dtype else value / n
        return value if finish is None else finish(value)

    return te.compute(shape, epilogue, name=node.name)


def reduce_axes(node: Node) -> AxisRelation:
    axes, keepdims = node.attrs["axes"], node.attrs["keepdims"]
    outputs = []
    for d in range(node.inputs[0].ndim):
        if d not in axes:
            outputs.append(OutputAxis("identity", ((0, d),)))
        elif keepdims:
            outputs.append(OutputAxis("reduce", ((0, d),)))
    return AxisRelation(tuple(outputs), reduced=tuple((0, d) for d in axes))

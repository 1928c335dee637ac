"""Element-wise ops: binary with numpy broadcasting (arithmetic, comparisons, logical ops),
``where`` (three-way broadcasting), unary math, cast."""

from __future__ import annotations

import math

from tvm import te, tirx

from ..graph import Node
from . import float8
from .axes import AxisRelation, OutputAxis, identity_relation
from .common import ACCUMULATOR, broadcast_index, cast, dtype_of, expr_dtype, isnan
from .fastmath import erf_f32, exp_f32, log_f32, sigmoid_f32
from .pow_mod import power, remainder


def _div(a, b):
    return tirx.truncdiv(a, b) if "int" in expr_dtype(a) else a / b


def _row_invariant_divisor(node: Node) -> bool:
    """A float division whose divisor is broadcast along the innermost output axis."""
    b, out = node.inputs[1], node.output
    return "float" in out.dtype and out.ndim > 0 and out.shape[-1] > 1 and \
        (b.ndim == 0 or b.shape[-1] == 1)


def _times_reciprocal(a, b):
    """``a * (1 / b)``: LLVM hoists the reciprocal out of the row loop, so a softmax or norm
    row costs one multiply per element instead of a divide (within 1.5 ulp of ``a / b``, what
    PyTorch and onnxruntime do too)."""
    return a * (tirx.const(1, expr_dtype(b)) / b)


def _nan_propagating(pick):
    """numpy/ONNX max and min return NaN when either float operand is NaN (LLVM's do not)."""
    def fn(a, b):
        if "float" not in expr_dtype(a):
            return pick(a, b)
        return tirx.Select(tirx.Or(isnan(a), isnan(b)), a + b, pick(a, b))

    return fn


def _float32_or(vectorisable, generic):
    """float32 math through ``ops.fastmath`` (LLVM scalarises vector exp), else TVM's own."""
    return lambda x: vectorisable(x) if expr_dtype(x) == "float32" else generic(x)


def _relu(x):
    zero = tirx.const(0, expr_dtype(x))
    return tirx.Select(x < zero, zero, x)  # NaN stays NaN, as in ONNX


def _sign(x):
    one, zero = tirx.const(1, expr_dtype(x)), tirx.const(0, expr_dtype(x))
    if expr_dtype(x).startswith("uint"):  # no -1 in an unsigned type (and nothing below 0)
        return tirx.Select(x > zero, one, zero)
    # NaN stays NaN and -0 gives +0, as numpy
    return tirx.Select(x > zero, one, tirx.Select(x < zero, -one, tirx.Select(
        tirx.EQ(x, zero), zero, x)))


def _neg(x):
    """``-x``; an unsigned value wraps (two's complement), as numpy. TVM's LLVM codegen marks
    a 32- or 64-bit unsigned add or sub ``nuw`` (cannot wrap), so ``~x + 1`` and ``0 - x``
    are poison when they wrap: LLVM folded ``sign(~x + 1)`` to 1 and ``0 - x`` to 0 (found by
    the fuzzer). Wide ones negate the same bits as a signed integer (``nsw``: not poison
    once its minimum, which is its own negation, is selected out)."""
    dtype = expr_dtype(x)
    if not dtype.startswith("uint"):
        return -x
    if int(dtype.removeprefix("uint")) < 32:  # no flags on narrow adds: wraps in the type
        return tirx.bitwise_not(x) + tirx.const(1, dtype)
    signed = dtype.removeprefix("u")
    y = tirx.reinterpret(signed, x)
    lowest = tirx.const(-(2 ** (int(signed.removeprefix("int")) - 1)), signed)
    return tirx.reinterpret(dtype, tirx.Select(tirx.EQ(y, lowest), y,
                                               tirx.const(0, signed) - y))


def _ordered(compare):
    """``compare`` that stays false for NaN operands under a negation: TVM's simplifier rewrites
    ``not (a < b)`` as ``a >= b`` (and ``not (a == b)`` as an ordered ``!=``), which is false
    for NaN where numpy's ``not`` gives true; with the NaN test explicit the rewrite is right."""
    def fn(a, b):
        if "float" not in expr_dtype(a):
            return compare(a, b)
        return tirx.And(compare(a, b), tirx.Not(tirx.Or(isnan(a), isnan(b))))

    return fn


def _xor(a, b):
    # not ``a != b``: TVM's LLVM codegen compares bool vectors with ``fcmp`` (invalid IR)
    return tirx.Or(tirx.And(a, tirx.Not(b)), tirx.And(tirx.Not(a), b))


def _equal(a, b):
    return tirx.Not(_xor(a, b)) if expr_dtype(a) == "bool" else tirx.EQ(a, b)


def _isinf(negative: bool, positive: bool):
    def fn(x):
        if expr_dtype(x) == "bfloat16":  # TVM: "not supported for finiteness ops"; exact in f32
            x = x.astype("float32")
        inf = tirx.const(math.inf, expr_dtype(x))
        if not (negative or positive):
            return tirx.const(False, "bool")
        found = tirx.isinf(x) if negative and positive else tirx.EQ(x, -inf if negative else inf)
        return tirx.And(found, tirx.Not(isnan(x)))  # negated right, see _ordered

    return fn


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _div,
    "maximum": _nan_propagating(tirx.max),
    "minimum": _nan_propagating(tirx.min),
    "pow": power,
    "equal": _ordered(_equal),  # false when either side is NaN, as numpy
    "less": _ordered(tirx.LT),
    "less_equal": _ordered(tirx.LE),
    "greater": _ordered(tirx.GT),
    "greater_equal": _ordered(tirx.GE),
    "logical_and": tirx.And,
    "logical_or": tirx.Or,
    "logical_xor": _xor,
}

UNARY = {
    "neg": _neg,
    "abs": tirx.abs,
    "relu": _relu,
    "exp": _float32_or(exp_f32, tirx.exp),
    "sqrt": tirx.sqrt,
    "sigmoid": _float32_or(sigmoid_f32, tirx.sigmoid),
    "tanh": tirx.tanh,
    "sign": _sign,
    "log": _float32_or(log_f32, tirx.log),
    "erf": _float32_or(erf_f32, tirx.erf),
    "floor": tirx.floor,
    "ceil": tirx.ceil,
    "round": tirx.round,  # LLVM nearbyint: halves to even
    "isnan": isnan,
    "logical_not": tirx.Not,
}
# fp16 math computed in f32 and rounded once, as numpy does (floor/ceil/round are exact)
TRANSCENDENTAL = ("exp", "log", "sqrt", "sigmoid", "tanh", "erf", "floor", "ceil", "round")


def binary_fn(node: Node):
    """``(a, b) -> expression`` of a binary node (a divide by a row-broadcast divisor is a
    multiply by its reciprocal)."""
    if node.op == "div" and _row_invariant_divisor(node):
        return _times_reciprocal
    if node.op == "mod":
        return remainder(node.attrs["fmod"])
    return BINARY[node.op]


def unary_fn(node: Node):
    """``x -> expression`` of a unary node."""
    if node.op == "isinf":
        return _isinf(node.attrs["detect_negative"], node.attrs["detect_positive"])
    return UNARY[node.op]


def binary_compute(node: Node, inputs: list[te.Tensor], compute_dtype: str | None = None,
                   out_dtype: str | None = None, fn=None) -> te.Tensor:
    """``compute_dtype``/``out_dtype`` (``precision="relaxed"``): operands converted to the
    first, result to the second; by default both are the operands' own dtype. ``fn``: the
    expression, by default :func:`binary_fn`'s."""
    a, b = inputs
    a_shape, b_shape = (t.shape for t in node.inputs)
    shape = node.output.shape
    fn = fn or binary_fn(node)

    def body(*index):
        x, y = a[broadcast_index(a_shape, shape, index)], b[broadcast_index(b_shape, shape, index)]
        if compute_dtype is None:
            return fn(x, y)
        value = fn(cast(x, compute_dtype), cast(y, compute_dtype))
        return value if out_dtype is None else cast(value, out_dtype)

    return te.compute(shape, body, name=node.name)


def fenced_product(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    """An fp16 ``mul`` on a target with fp16 arithmetic (AVX512-FP16): TVM's LLVM backend
    allows FP contraction, so a product feeding an add became one ``vfmadd*ph``, rounded once
    where numpy rounds twice (13 % of ``a * b + c`` off by an ulp, measured on emeraldrapids).
    ``llvm.arithmetic.fence`` keeps the product rounded; it costs no instruction."""
    return binary_compute(node, inputs, fn=lambda a, b: tirx.call_llvm_pure_intrin(
        expr_dtype(a), "llvm.arithmetic.fence", a * b))


def unary_compute(node: Node, inputs: list[te.Tensor], compute_dtype: str | None = None,
                  out_dtype: str | None = None) -> te.Tensor:
    (x,) = inputs
    fn, dtype = unary_fn(node), dtype_of(x)
    if compute_dtype is None:  # fp16 transcendental math runs in fp32 and rounds once, as numpy
        compute_dtype = ACCUMULATOR.get(dtype, dtype) if node.op in TRANSCENDENTAL else dtype
    out_dtype = out_dtype or node.output.dtype
    return te.compute(node.output.shape, lambda *i: cast(fn(cast(x[i], compute_dtype)), out_dtype),
                      name=node.name)


def where_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    """``where(condition, x, y)``, each operand broadcast to the output (numpy rules)."""
    shape = node.output.shape
    operands = list(zip(inputs, (t.shape for t in node.inputs)))

    def body(*index):
        condition, x, y = (t[broadcast_index(s, shape, index)] for t, s in operands)
        return tirx.Select(condition, x, y)

    return te.compute(shape, body, name=node.name)


def cast_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    source, target = node.inputs[0].dtype, node.attrs["dtype"]
    if source in float8.FORMATS or target in float8.FORMATS:  # bits in uint8 (ops/float8.py)
        saturate = node.attrs.get("saturate", True)
        return te.compute(node.output.shape, lambda *i: float8.cast(x[i], source, target,
                                                                    saturate), name=node.name)
    return te.compute(node.output.shape, lambda *i: cast(x[i], node.attrs["dtype"]), name=node.name)


def binary_axes(node: Node) -> AxisRelation:
    """Any number of inputs broadcast to the output (binary ops, ``where``)."""
    out_shape = node.output.shape
    axes = []
    for d, extent in enumerate(out_shape):
        sources, broadcast = [], False
        for pos, t in enumerate(node.inputs):
            in_axis = d - (len(out_shape) - t.ndim)
            if in_axis >= 0 and t.shape[in_axis] == extent:
                sources.append((pos, in_axis))
            else:
                broadcast = True
        axes.append(OutputAxis("broadcast" if broadcast else "identity", tuple(sources)))
    return AxisRelation(tuple(axes))


def unary_axes(node: Node) -> AxisRelation:
    return identity_relation(node.output.ndim)


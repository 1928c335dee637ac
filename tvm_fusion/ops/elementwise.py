"""Element-wise ops: binary with numpy broadcasting, unary math, cast."""

from __future__ import annotations

from tvm import te, tirx

from ..graph import Node
from .axes import AxisRelation, OutputAxis, identity_relation
from .common import ACCUMULATOR, broadcast_index, cast, dtype_of, expr_dtype
from .fastmath import exp_f32, sigmoid_f32


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
        return tirx.Select(tirx.Or(tirx.isnan(a), tirx.isnan(b)), a + b, pick(a, b))

    return fn


def _float32_or(vectorisable, generic):
    """float32 math through ``ops.fastmath`` (LLVM scalarises vector exp), else TVM's own."""
    return lambda x: vectorisable(x) if expr_dtype(x) == "float32" else generic(x)


def _relu(x):
    zero = tirx.const(0, expr_dtype(x))
    return tirx.Select(x < zero, zero, x)  # NaN stays NaN, as in ONNX


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _div,
    "maximum": _nan_propagating(tirx.max),
    "minimum": _nan_propagating(tirx.min),
}

UNARY = {
    "neg": lambda x: -x,
    "abs": tirx.abs,
    "relu": _relu,
    "exp": _float32_or(exp_f32, tirx.exp),
    "sqrt": tirx.sqrt,
    "sigmoid": _float32_or(sigmoid_f32, tirx.sigmoid),
    "tanh": tirx.tanh,
}
TRANSCENDENTAL = ("exp", "sqrt", "sigmoid", "tanh")


def binary_fn(node: Node):
    """``(a, b) -> expression`` of a binary node (a divide by a row-broadcast divisor is a
    multiply by its reciprocal)."""
    if node.op == "div" and _row_invariant_divisor(node):
        return _times_reciprocal
    return BINARY[node.op]


def binary_compute(node: Node, inputs: list[te.Tensor], compute_dtype: str | None = None,
                   out_dtype: str | None = None) -> te.Tensor:
    """``compute_dtype``/``out_dtype`` (``precision="relaxed"``): operands converted to the
    first, result to the second; by default both are the operands' own dtype."""
    a, b = inputs
    a_shape, b_shape = (t.shape for t in node.inputs)
    shape = node.output.shape
    fn = binary_fn(node)

    def body(*index):
        x, y = a[broadcast_index(a_shape, shape, index)], b[broadcast_index(b_shape, shape, index)]
        if compute_dtype is None:
            return fn(x, y)
        value = fn(cast(x, compute_dtype), cast(y, compute_dtype))
        return value if out_dtype is None else cast(value, out_dtype)

    return te.compute(shape, body, name=node.name)


def unary_compute(node: Node, inputs: list[te.Tensor], compute_dtype: str | None = None,
                  out_dtype: str | None = None) -> te.Tensor:
    (x,) = inputs
    fn, dtype = UNARY[node.op], dtype_of(x)
    if compute_dtype is None:  # fp16 transcendental math runs in fp32 and rounds once, as numpy
        compute_dtype = ACCUMULATOR.get(dtype, dtype) if node.op in TRANSCENDENTAL else dtype
    out_dtype = out_dtype or dtype
    return te.compute(node.output.shape, lambda *i: cast(fn(cast(x[i], compute_dtype)), out_dtype),
                      name=node.name)


def cast_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    return te.compute(node.output.shape, lambda *i: cast(x[i], node.attrs["dtype"]), name=node.name)


def binary_axes(node: Node) -> AxisRelation:
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

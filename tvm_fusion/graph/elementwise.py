"""Element-wise ops of the graph builder: binary (numpy broadcasting), unary math, cast."""

from __future__ import annotations

from .core import FLOAT_DTYPES, NUMERIC_DTYPES, GraphError, Tensor, _check_dtype, broadcast_shapes

BINARY_OPS = ("add", "sub", "mul", "div", "maximum", "minimum")
UNARY_OPS = {  # op -> dtypes it accepts
    "neg": ("int32", "int64") + FLOAT_DTYPES,
    "abs": ("int32", "int64") + FLOAT_DTYPES,
    "relu": ("int32", "int64") + FLOAT_DTYPES,
    "exp": FLOAT_DTYPES,
    "sqrt": FLOAT_DTYPES,
    "sigmoid": FLOAT_DTYPES,
    "tanh": FLOAT_DTYPES,
}


class ElementwiseOps:
    """Mixin of :class:`Graph`."""

    def add(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._binary("add", a, b, name)

    def sub(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._binary("sub", a, b, name)

    def mul(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._binary("mul", a, b, name)

    def div(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        """Division; integer division truncates toward zero (ONNX)."""
        return self._binary("div", a, b, name)

    def maximum(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._binary("maximum", a, b, name)

    def minimum(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._binary("minimum", a, b, name)

    def neg(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("neg", x, name)

    def abs(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("abs", x, name)

    def relu(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("relu", x, name)

    def exp(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("exp", x, name)

    def sqrt(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("sqrt", x, name)

    def sigmoid(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("sigmoid", x, name)

    def tanh(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("tanh", x, name)

    def cast(self, x: Tensor, dtype: str, *, name: str | None = None) -> Tensor:
        """Convert to ``dtype`` (float to int truncates toward zero, to bool tests != 0)."""
        self._own(x, "cast", "input")
        dtype = _check_dtype(dtype, f"cast of '{x.name}'")
        return self._add_node("cast", name, (x,), {"dtype": dtype}, x.shape, dtype)

    def _binary(self, op: str, a: Tensor, b: Tensor, name) -> Tensor:
        self._own(a, op, "first input")
        self._own(b, op, "second input")
        if a.dtype != b.dtype:
            raise GraphError(f"{op}: inputs must have the same dtype: '{a.name}' is {a.dtype}, "
                             f"'{b.name}' is {b.dtype} (insert a cast)")
        if a.dtype not in NUMERIC_DTYPES:
            raise GraphError(f"{op}: input '{a.name}' has dtype {a.dtype}, expected one of "
                             f"{', '.join(NUMERIC_DTYPES)}")
        shape = broadcast_shapes(op, a, b)
        return self._add_node(op, name, (a, b), {}, shape, a.dtype)

    def _unary(self, op: str, x: Tensor, name) -> Tensor:
        self._own(x, op, "input")
        if x.dtype not in UNARY_OPS[op]:
            raise GraphError(f"{op}: input '{x.name}' has dtype {x.dtype}, expected one of "
                             f"{', '.join(UNARY_OPS[op])}")
        return self._add_node(op, name, (x,), {}, x.shape, x.dtype)

"""Element-wise ops of the graph builder: binary (numpy broadcasting), comparisons and logical
ops (bool results), ``where``, unary math, cast."""

from __future__ import annotations

import itertools

from .core import (
    DTYPES,
    FLOAT8_DTYPES,
    FLOAT_DTYPES,
    NUMERIC_DTYPES,
    GraphError,
    Tensor,
    _check_dtype,
    broadcast_shapes,
    format_shape,
)

# same-dtype numeric operands, result of that dtype (pow: the base's dtype, any exponent)
BINARY_OPS = ("add", "sub", "mul", "div", "maximum", "minimum", "pow", "mod")
COMPARISON_OPS = {  # op -> dtypes it accepts; the result is bool
    "equal": DTYPES,
    "less": NUMERIC_DTYPES,
    "less_equal": NUMERIC_DTYPES,
    "greater": NUMERIC_DTYPES,
    "greater_equal": NUMERIC_DTYPES,
}
LOGICAL_OPS = ("logical_and", "logical_or", "logical_xor")  # bool operands and result
UNARY_OPS = {  # op -> dtypes it accepts
    "neg": NUMERIC_DTYPES,
    "abs": NUMERIC_DTYPES,
    "relu": NUMERIC_DTYPES,
    "sign": NUMERIC_DTYPES,
    "exp": FLOAT_DTYPES,
    "log": FLOAT_DTYPES,
    "sqrt": FLOAT_DTYPES,
    "sigmoid": FLOAT_DTYPES,
    "tanh": FLOAT_DTYPES,
    "erf": FLOAT_DTYPES,
    "floor": FLOAT_DTYPES,
    "ceil": FLOAT_DTYPES,
    "round": FLOAT_DTYPES,
    "isnan": FLOAT_DTYPES,
    "isinf": FLOAT_DTYPES,
    "logical_not": ("bool",),
}
BOOL_RESULT = frozenset(("isnan", "isinf", "logical_not", *COMPARISON_OPS, *LOGICAL_OPS))
ELEMENTWISE_OPS = (BINARY_OPS + tuple(COMPARISON_OPS) + LOGICAL_OPS + tuple(UNARY_OPS)
                   + ("where", "cast"))


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

    def pow(self, base: Tensor, exponent: Tensor, *, name: str | None = None) -> Tensor:
        """``base ** exponent`` in the base's dtype; the exponent may have any numeric dtype
        (ONNX Pow). Computed as numpy does (``np.power(base, exponent).astype(base.dtype)``):
        integers exactly (wrapping), float math in numpy's result dtype (float64 for a float
        base with an integer exponent or an integer base with a float one). An integer base to
        a negative integer power truncates toward zero: 1 and -1 keep their power, others 0."""
        self._own(base, "pow", "base")
        self._own(exponent, "pow", "exponent")
        for role, t in (("base", base), ("exponent", exponent)):
            if t.dtype not in NUMERIC_DTYPES:
                raise GraphError(f"pow: {role} '{t.name}' has dtype {t.dtype}, expected one of "
                                 f"{', '.join(NUMERIC_DTYPES)}")
        shape = broadcast_shapes("pow", base, exponent)
        return self._add_node("pow", name, (base, exponent), {}, shape, base.dtype)

    def mod(self, a: Tensor, b: Tensor, *, fmod: int = 0, name: str | None = None) -> Tensor:
        """Remainder (ONNX Mod): ``fmod=0`` has the divisor's sign (``np.mod``), ``fmod=1`` the
        dividend's (C ``fmod``, ``np.fmod``). An integer remainder by 0 is 0, as in numpy."""
        if fmod not in (0, 1):
            raise GraphError(f"mod: fmod must be 0 (sign of the divisor) or 1 (sign of the "
                             f"dividend), got {fmod!r}")
        return self._binary("mod", a, b, name, {"fmod": int(fmod)})

    def equal(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._compare("equal", a, b, name)

    def less(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._compare("less", a, b, name)

    def less_equal(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._compare("less_equal", a, b, name)

    def greater(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._compare("greater", a, b, name)

    def greater_equal(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._compare("greater_equal", a, b, name)

    def logical_and(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._compare("logical_and", a, b, name)

    def logical_or(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._compare("logical_or", a, b, name)

    def logical_xor(self, a: Tensor, b: Tensor, *, name: str | None = None) -> Tensor:
        return self._compare("logical_xor", a, b, name)

    def where(self, condition: Tensor, x: Tensor, y: Tensor, *,
              name: str | None = None) -> Tensor:
        """``x`` where ``condition`` is true, else ``y`` (three-way numpy broadcasting)."""
        for role, t in (("condition", condition), ("x", x), ("y", y)):
            self._own(t, "where", role)
        if condition.dtype != "bool":
            raise GraphError(f"where: condition '{condition.name}' has dtype "
                             f"{condition.dtype}, expected bool (compare, or cast it)")
        self._same_dtype("where", x, y)
        shape = _broadcast_all("where", (condition, x, y))
        return self._add_node("where", name, (condition, x, y), {}, shape, x.dtype)

    def neg(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("neg", x, name)

    def abs(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("abs", x, name)

    def relu(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("relu", x, name)

    def sign(self, x: Tensor, *, name: str | None = None) -> Tensor:
        """-1, 0 or 1 (NaN stays NaN, -0 gives 0, as numpy)."""
        return self._unary("sign", x, name)

    def exp(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("exp", x, name)

    def log(self, x: Tensor, *, name: str | None = None) -> Tensor:
        """Natural logarithm (0 gives -inf, a negative number NaN)."""
        return self._unary("log", x, name)

    def sqrt(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("sqrt", x, name)

    def sigmoid(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("sigmoid", x, name)

    def tanh(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("tanh", x, name)

    def erf(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("erf", x, name)

    def floor(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("floor", x, name)

    def ceil(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("ceil", x, name)

    def round(self, x: Tensor, *, name: str | None = None) -> Tensor:
        """To the nearest integer, halves to the even one (ONNX Round, ``np.round``)."""
        return self._unary("round", x, name)

    def isnan(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("isnan", x, name)

    def isinf(self, x: Tensor, *, detect_negative: bool = True, detect_positive: bool = True,
              name: str | None = None) -> Tensor:
        """True at the infinities of the signs asked for (ONNX IsInf)."""
        attrs = {"detect_negative": bool(detect_negative),
                 "detect_positive": bool(detect_positive)}
        return self._unary("isinf", x, name, attrs)

    def logical_not(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._unary("logical_not", x, name)

    def cast(self, x: Tensor, dtype: str, *, saturate: bool = True,
             name: str | None = None) -> Tensor:
        """Convert to ``dtype`` (float to int truncates toward zero, to bool tests != 0).

        To a float8 type: rounded to nearest even; ``saturate`` (ONNX's default) clamps
        values beyond the largest finite one (and infinities) to it, otherwise they become
        infinity (e5m2) or NaN (the types without infinity), as ONNX Cast does."""
        self._own(x, "cast", "input")
        dtype = _check_dtype(dtype, f"cast of '{x.name}'")
        attrs = {"dtype": dtype}
        if not saturate and dtype in FLOAT8_DTYPES:
            attrs["saturate"] = False
        return self._add_node("cast", name, (x,), attrs, x.shape, dtype)

    def _binary(self, op: str, a: Tensor, b: Tensor, name, attrs=None) -> Tensor:
        self._operands(op, a, b, NUMERIC_DTYPES)
        shape = broadcast_shapes(op, a, b)
        return self._add_node(op, name, (a, b), attrs or {}, shape, a.dtype)

    def _compare(self, op: str, a: Tensor, b: Tensor, name) -> Tensor:
        self._operands(op, a, b, COMPARISON_OPS.get(op, ("bool",)))
        shape = broadcast_shapes(op, a, b)
        return self._add_node(op, name, (a, b), {}, shape, "bool")

    def _operands(self, op: str, a: Tensor, b: Tensor, accepted) -> None:
        self._own(a, op, "first input")
        self._own(b, op, "second input")
        self._same_dtype(op, a, b)
        if a.dtype not in accepted:
            raise GraphError(f"{op}: input '{a.name}' has dtype {a.dtype}, expected one of "
                             f"{', '.join(accepted)}")

    def _same_dtype(self, op: str, a: Tensor, b: Tensor) -> None:
        if a.dtype != b.dtype:
            raise GraphError(f"{op}: inputs must have the same dtype: '{a.name}' is {a.dtype}, "
                             f"'{b.name}' is {b.dtype} (insert a cast)")

    def _unary(self, op: str, x: Tensor, name, attrs=None) -> Tensor:
        self._own(x, op, "input")
        if x.dtype not in UNARY_OPS[op]:
            raise GraphError(f"{op}: input '{x.name}' has dtype {x.dtype}, expected one of "
                             f"{', '.join(UNARY_OPS[op])}")
        dtype = "bool" if op in BOOL_RESULT else x.dtype
        return self._add_node(op, name, (x,), attrs or {}, x.shape, dtype)


def _broadcast_all(op: str, tensors) -> tuple[int, ...]:
    """Numpy broadcasting of several shapes; the error names every tensor and its shape."""
    out = []
    for dims in itertools.zip_longest(*(reversed(t.shape) for t in tensors), fillvalue=1):
        extents = {d for d in dims if d != 1}
        if len(extents) > 1:
            named = ", ".join(f"'{t.name}' {format_shape(t.shape)}" for t in tensors)
            raise GraphError(f"{op}: cannot broadcast {named}: dimensions "
                             f"{' vs '.join(map(str, dims))} (expected equal or 1)")
        out.append(extents.pop() if extents else 1)  # not max: 0 broadcast with 1 is 0
    return tuple(reversed(out))


"""The graph builder: tensors with static shapes and dtypes, nodes with an op and attributes.

Pure Python (no TVM import), so building and validating a graph costs microseconds. Every op
checks its inputs when it is added and raises :class:`GraphError` naming the op, the node, the
tensor and the expected versus actual value. Semantics follow ONNX wherever ONNX has the op.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checks import format_shape

DTYPES = ("bool", "int32", "int64", "float16", "float32")
FLOAT_DTYPES = ("float16", "float32")
INT_DTYPES = ("int32", "int64")
NUMERIC_DTYPES = INT_DTYPES + FLOAT_DTYPES
INDEX_DTYPES = INT_DTYPES
SCATTER_REDUCTIONS = ("none", "add", "mul", "max", "min")

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
REDUCE_OPS = ("reduce_sum", "reduce_max", "reduce_min", "reduce_mean", "reduce_prod")
LAYOUT_OPS = ("transpose", "reshape", "broadcast_to")
SCATTER_OPS = ("scatter_elements", "scatter_nd")
ALL_OPS = BINARY_OPS + tuple(UNARY_OPS) + ("cast",) + REDUCE_OPS + LAYOUT_OPS + SCATTER_OPS


class GraphError(ValueError):
    """A graph was built with an invalid op, shape, dtype or attribute."""


@dataclass(frozen=True, eq=False)
class Tensor:
    """A value in a :class:`Graph`: a graph input, a constant or the output of a node."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    graph: Graph = field(repr=False)
    producer: Node | None = field(default=None, repr=False)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass(frozen=True, eq=False)
class Node:
    """One op application. ``attrs`` hold plain Python values (ints, tuples, strings)."""

    op: str
    name: str
    inputs: tuple[Tensor, ...]
    attrs: dict[str, Any]
    output: Tensor = field(default=None, repr=False)  # type: ignore[assignment]


def _check_shape(shape, what: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in shape)
    except TypeError:
        raise GraphError(f"{what}: shape must be a sequence of ints, got {shape!r}") from None
    if any(d <= 0 for d in dims) or any(int(d) != d for d in shape):
        raise GraphError(f"{what}: every dimension must be a positive int, got "
                         f"{format_shape(tuple(shape))}")  # as given: (2, 2.5), not (2, 2)
    return dims


INDEX_LIMIT = 2**63 - 1  # elements and bytes of one tensor: TVM indexes with int64


def _check_size(shape: tuple[int, ...], dtype: str, what: str) -> None:
    """Refuse a tensor whose element or byte count does not fit int64, before anything is
    allocated (numpy would fail later with an 8 PiB allocation, TVM index arithmetic wrap)."""
    count = math.prod(shape)
    nbytes = count * np.dtype(dtype).itemsize
    if nbytes > INDEX_LIMIT:
        raise GraphError(f"{what}: {format_shape(shape)} {dtype} has {count} elements "
                         f"({nbytes} bytes), more than int64 can index (2**63 - 1): give it "
                         "smaller dimensions")


def _check_dtype(dtype, what: str) -> str:
    try:
        name = str(np.dtype(dtype)) if not isinstance(dtype, str) else dtype
    except TypeError:  # not a dtype at all (e.g. 123): a GraphError like any other bad dtype
        name = repr(dtype)
    if name not in DTYPES:
        raise GraphError(f"{what}: dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return name


def broadcast_shapes(op: str, a: Tensor, b: Tensor) -> tuple[int, ...]:
    """Numpy broadcasting of two shapes; raises :class:`GraphError` naming both tensors."""
    out = []
    for da, db in itertools.zip_longest(reversed(a.shape), reversed(b.shape), fillvalue=1):
        if da != db and da != 1 and db != 1:
            raise GraphError(
                f"{op}: cannot broadcast '{a.name}' {format_shape(a.shape)} with '{b.name}' "
                f"{format_shape(b.shape)}: dimension {da} vs {db} (expected equal or 1)"
            )
        out.append(max(da, db))
    return tuple(reversed(out))


class Graph:
    """A dataflow graph of tensor ops with static shapes.

    Examples
    --------
    >>> g = Graph()
    >>> x = g.input("x", (8, 64), "float32")
    >>> g.output(g.reduce_sum(g.relu(x), axes=[1], keepdims=False))
    """

    def __init__(self, name: str = "graph") -> None:
        self.name = name
        self.inputs: list[Tensor] = []
        self.constants: dict[str, np.ndarray] = {}
        self.nodes: list[Node] = []  # topological order: nodes can only use earlier tensors
        self.outputs: list[Tensor] = []
        self.tensors: dict[str, Tensor] = {}
        self._counter = itertools.count()

    # ----- sources and sinks -------------------------------------------------------------
    def input(self, name: str, shape, dtype: str) -> Tensor:
        """Declare a graph input with a static shape and dtype."""
        what = f"input '{name}'"
        tensor = Tensor(self._claim(name, what), _check_shape(shape, what),
                        _check_dtype(dtype, what), self)
        _check_size(tensor.shape, tensor.dtype, what)
        self.inputs.append(tensor)
        self.tensors[name] = tensor
        return tensor

    def constant(self, value, name: str | None = None, dtype: str | None = None) -> Tensor:
        """Add a constant (a numpy array bound into the compiled function)."""
        array = np.array(value, dtype=dtype)
        name = self._claim(name or self._fresh("const"), "constant")
        what = f"constant '{name}'"
        tensor = Tensor(name, _check_shape(array.shape, what) if array.ndim else (),
                        _check_dtype(str(array.dtype), what), self)
        self.constants[name] = array
        self.tensors[name] = tensor
        return tensor

    def output(self, *tensors: Tensor) -> None:
        """Mark tensors as graph outputs (in the order the compiled function returns them)."""
        for t in tensors:
            self._own(t, "output", "output")
            if t in self.outputs:
                raise GraphError(f"output: tensor '{t.name}' is already an output")
            self.outputs.append(t)

    # ----- element-wise ------------------------------------------------------------------
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

    # ----- reductions --------------------------------------------------------------------
    def reduce_sum(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_sum", x, axes, keepdims, name)

    def reduce_max(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_max", x, axes, keepdims, name)

    def reduce_min(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_min", x, axes, keepdims, name)

    def reduce_mean(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_mean", x, axes, keepdims, name)

    def reduce_prod(self, x: Tensor, axes=None, keepdims: bool = True, *, name=None) -> Tensor:
        return self._reduce("reduce_prod", x, axes, keepdims, name)

    # ----- layout ------------------------------------------------------------------------
    def transpose(self, x: Tensor, perm=None, *, name: str | None = None) -> Tensor:
        """Permute axes: output axis ``i`` is input axis ``perm[i]`` (default: reversed)."""
        self._own(x, "transpose", "input")
        perm = tuple(range(x.ndim))[::-1] if perm is None else tuple(int(p) for p in perm)
        if sorted(perm) != list(range(x.ndim)):
            raise GraphError(
                f"transpose of '{x.name}' {format_shape(x.shape)}: perm must be a permutation of "
                f"0..{x.ndim - 1}, got {list(perm)}"
            )
        shape = tuple(x.shape[p] for p in perm)
        return self._add_node("transpose", name, (x,), {"perm": perm}, shape, x.dtype)

    def reshape(self, x: Tensor, shape, *, name: str | None = None) -> Tensor:
        """Reshape (row-major); one entry may be -1 (inferred), 0 copies the input dim."""
        self._own(x, "reshape", "input")
        what = f"reshape of '{x.name}' {format_shape(x.shape)} to {list(shape)}"
        dims = [int(d) for d in shape]
        if dims.count(-1) > 1 or any(d < -1 for d in dims):
            raise GraphError(f"{what}: at most one -1 and no other negative entry allowed")
        for i, d in enumerate(dims):
            if d == 0:
                if i >= x.ndim:
                    raise GraphError(f"{what}: entry {i} is 0 (copy) but the input has rank {x.ndim}")
                dims[i] = x.shape[i]
        known = math.prod(d for d in dims if d != -1)
        if -1 in dims:
            if x.size % known:
                raise GraphError(f"{what}: {x.size} elements are not divisible by {known}")
            dims[dims.index(-1)] = x.size // known
        if math.prod(dims) != x.size:
            raise GraphError(f"{what}: expected {x.size} elements, the new shape has {math.prod(dims)}")
        return self._add_node("reshape", name, (x,), {"shape": tuple(dims)}, tuple(dims), x.dtype)

    def broadcast_to(self, x: Tensor, shape, *, name: str | None = None) -> Tensor:
        """Numpy ``broadcast_to``: the result has exactly ``shape``."""
        self._own(x, "broadcast_to", "input")
        shape = _check_shape(shape, f"broadcast_to of '{x.name}'")
        ok = len(shape) >= x.ndim and all(
            d == s or d == 1 for d, s in zip(reversed(x.shape), reversed(shape))
        )
        if not ok:
            raise GraphError(
                f"broadcast_to: cannot broadcast '{x.name}' {format_shape(x.shape)} to "
                f"{format_shape(shape)} (each input dim must equal the target dim or be 1)"
            )
        return self._add_node("broadcast_to", name, (x,), {"shape": shape}, shape, x.dtype)

    # ----- scatter -----------------------------------------------------------------------
    def scatter_elements(self, data: Tensor, indices: Tensor, updates: Tensor, axis: int = 0,
                         reduction: str = "none", *, name: str | None = None) -> Tensor:
        """ONNX ScatterElements: ``out[..., indices[i, j], ...] (op)= updates[i, j]`` on ``axis``."""
        op = "scatter_elements"
        self._check_scatter_operands(op, data, indices, updates, reduction)
        axis = self._normalize_axis(op, data, axis)
        if indices.ndim != data.ndim:
            raise GraphError(f"{op}: indices '{indices.name}' must have the rank of data "
                             f"'{data.name}': expected {data.ndim}, got {indices.ndim}")
        if indices.shape != updates.shape:
            raise GraphError(f"{op}: updates '{updates.name}' must have the shape of indices "
                             f"'{indices.name}': expected {format_shape(indices.shape)}, "
                             f"got {format_shape(updates.shape)}")
        for d in range(data.ndim):
            if d != axis and indices.shape[d] > data.shape[d]:
                raise GraphError(f"{op}: indices '{indices.name}' dim {d} is {indices.shape[d]}, "
                                 f"expected <= data '{data.name}' dim {data.shape[d]}")
        attrs = {"axis": axis, "reduction": reduction}
        return self._add_node(op, name, (data, indices, updates), attrs, data.shape, data.dtype)

    def scatter_nd(self, data: Tensor, indices: Tensor, updates: Tensor,
                   reduction: str = "none", *, name: str | None = None) -> Tensor:
        """ONNX ScatterND: ``out[indices[i]] (op)= updates[i]``; ``indices`` is (..., K)."""
        op = "scatter_nd"
        self._check_scatter_operands(op, data, indices, updates, reduction)
        if indices.ndim < 1 or not 1 <= indices.shape[-1] <= data.ndim:
            raise GraphError(f"{op}: the last dim of indices '{indices.name}' "
                             f"{format_shape(indices.shape)} must be in 1..{data.ndim} "
                             f"(the rank of data '{data.name}')")
        k = indices.shape[-1]
        expected = indices.shape[:-1] + data.shape[k:]
        if updates.shape != expected:
            raise GraphError(f"{op}: updates '{updates.name}' must have shape indices.shape[:-1] "
                             f"+ data.shape[{k}:]: expected {format_shape(expected)}, "
                             f"got {format_shape(updates.shape)}")
        attrs = {"reduction": reduction}
        return self._add_node(op, name, (data, indices, updates), attrs, data.shape, data.dtype)

    # ----- queries -----------------------------------------------------------------------
    def consumers(self, tensor: Tensor) -> list[Node]:
        return [n for n in self.nodes if any(t is tensor for t in n.inputs)]

    def __repr__(self) -> str:
        lines = [f"Graph '{self.name}':"]
        for t in self.inputs:
            lines.append(f"  input  {t.name}: {t.dtype}{format_shape(t.shape)}")
        for name, value in self.constants.items():
            lines.append(f"  const  {name}: {value.dtype}{format_shape(value.shape)}")
        for n in self.nodes:
            args = ", ".join(t.name for t in n.inputs)
            attrs = "".join(f", {k}={v}" for k, v in n.attrs.items())
            out = n.output
            lines.append(f"  {out.name} = {n.op}({args}{attrs}): {out.dtype}{format_shape(out.shape)}")
        lines.append("  outputs: " + ", ".join(t.name for t in self.outputs))
        return "\n".join(lines)

    # ----- helpers -----------------------------------------------------------------------
    def _fresh(self, prefix: str) -> str:
        while True:
            name = f"{prefix}_{next(self._counter)}"
            if name not in self.tensors:
                return name

    def _claim(self, name: str, what: str) -> str:
        if not isinstance(name, str) or not name:
            raise GraphError(f"{what}: a name must be a non-empty string, got {name!r}")
        if name in self.tensors:
            raise GraphError(f"{what}: the name '{name}' is already used by another tensor")
        return name

    def _own(self, t: Tensor, op: str, role: str) -> None:
        if not isinstance(t, Tensor):
            raise GraphError(f"{op}: {role} must be a Tensor of this graph, got {type(t).__name__}")
        if t.graph is not self:
            raise GraphError(f"{op}: {role} '{t.name}' belongs to another graph")

    def _add_node(self, op, name, inputs, attrs, shape, dtype) -> Tensor:
        name = self._claim(name, op) if name is not None else self._fresh(op)
        _check_size(tuple(shape), dtype, f"{op} '{name}'")
        node = Node(op, name, tuple(inputs), dict(attrs))
        out = Tensor(name, tuple(shape), dtype, self, node)
        object.__setattr__(node, "output", out)
        self.nodes.append(node)
        self.tensors[name] = out
        return out

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

    def _normalize_axis(self, op: str, x: Tensor, axis) -> int:
        axis = int(axis)
        if not -x.ndim <= axis < x.ndim:
            raise GraphError(f"{op}: axis {axis} is out of range for '{x.name}' "
                             f"{format_shape(x.shape)}: expected in [{-x.ndim}, {x.ndim - 1}]")
        return axis % x.ndim

    def _reduce(self, op: str, x: Tensor, axes, keepdims: bool, name) -> Tensor:
        self._own(x, op, "input")
        if x.dtype not in NUMERIC_DTYPES:
            raise GraphError(f"{op}: input '{x.name}' has dtype {x.dtype}, expected one of "
                             f"{', '.join(NUMERIC_DTYPES)}")
        if axes is None or (not isinstance(axes, (int, np.integer)) and len(axes) == 0):
            norm = tuple(range(x.ndim))
        else:
            axes = [int(axes)] if isinstance(axes, (int, np.integer)) else list(axes)
            norm = tuple(self._normalize_axis(op, x, a) for a in axes)
            if len(set(norm)) != len(norm):
                twice = next(a for a in norm if norm.count(a) > 1)
                raise GraphError(f"{op}: axes {axes} of '{x.name}' {format_shape(x.shape)} name "
                                 f"axis {twice} twice, expected distinct axes")
            norm = tuple(sorted(norm))
        keepdims = bool(keepdims)
        shape = tuple(1 if d in norm else n for d, n in enumerate(x.shape) if keepdims or d not in norm)
        attrs = {"axes": norm, "keepdims": keepdims}
        return self._add_node(op, name, (x,), attrs, shape, x.dtype)

    def _check_scatter_operands(self, op, data, indices, updates, reduction) -> None:
        self._own(data, op, "data")
        self._own(indices, op, "indices")
        self._own(updates, op, "updates")
        if indices.dtype not in INDEX_DTYPES:
            raise GraphError(f"{op}: indices '{indices.name}' must be int32 or int64, "
                             f"got {indices.dtype}")
        if updates.dtype != data.dtype:
            raise GraphError(f"{op}: updates '{updates.name}' must have the dtype of data "
                             f"'{data.name}': expected {data.dtype}, got {updates.dtype}")
        if reduction not in SCATTER_REDUCTIONS:
            raise GraphError(f"{op} into '{data.name}': reduction must be one of "
                             f"{', '.join(SCATTER_REDUCTIONS)}, got {reduction!r}")
        if reduction != "none" and data.dtype == "bool":
            raise GraphError(f"{op}: reduction '{reduction}' needs numeric data, "
                             f"'{data.name}' is bool")
        if data.ndim == 0:
            raise GraphError(f"{op}: data '{data.name}' must have rank >= 1")

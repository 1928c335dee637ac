"""The core of the graph builder: tensors, nodes, validation helpers and :class:`GraphCore`
(inputs, constants, outputs, names); the ops are added by the family mixins beside it."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes  # noqa: F401  (registers numpy's "bfloat16"; installed with onnx)
import numpy as np

from ..checks import format_shape

# bfloat16 arrays are ``ml_dtypes.bfloat16`` numpy arrays (what ``onnx.numpy_helper`` returns);
# kernels compute bfloat16 in float32 and round to nearest even on every store
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
SIGNED_INT_DTYPES = ("int8", "int16", "int32", "int64")
UNSIGNED_INT_DTYPES = ("uint8", "uint16", "uint32", "uint64")
INT_DTYPES = SIGNED_INT_DTYPES + UNSIGNED_INT_DTYPES
NUMERIC_DTYPES = INT_DTYPES + FLOAT_DTYPES
SIGNED_DTYPES = SIGNED_INT_DTYPES + FLOAT_DTYPES  # neg: ONNX Neg has no unsigned types
# float8 (``ml_dtypes`` arrays, what ``onnx.numpy_helper`` returns) is a storage type: it
# can be an input, a constant, an output and the source or target of ``cast`` (which rounds
# to nearest even, saturating or not, as ONNX Cast); kernels hold its bits as uint8
FLOAT8_DTYPES = ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz")
DTYPES = ("bool",) + NUMERIC_DTYPES + FLOAT8_DTYPES
INDEX_DTYPES = ("int32", "int64")  # ONNX's index tensors (Gather, Scatter*): int32 or int64


class GraphError(ValueError):
    """A graph was built with an invalid op, shape, dtype or attribute."""


@dataclass(frozen=True, eq=False)
class Tensor:
    """A value in a :class:`Graph`: a graph input, a constant or the output of a node."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    graph: GraphCore = field(repr=False)  # the Graph it belongs to
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
    if any(d < 0 for d in dims) or any(int(d) != d for d in shape):
        raise GraphError(f"{what}: every dimension must be a non-negative int, got "
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
        out.append(db if da == 1 else da)  # not max: 0 broadcast with 1 is 0
    return tuple(reversed(out))


class GraphCore:
    """Sources, sinks, names and node bookkeeping; the ops live in the family mixins."""

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
        tensor = Tensor(name, _check_shape(array.shape, what),
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
        eight = [t.name for t in inputs if t.dtype in FLOAT8_DTYPES]
        if op != "cast" and (eight or dtype in FLOAT8_DTYPES):
            raise GraphError(f"{op} '{name}': float8 tensors ({', '.join(eight) or dtype}) can "
                             "only be cast: cast them to float32 first (float8 is a storage "
                             "type in tvm-fusion, with no arithmetic)")
        node = Node(op, name, tuple(inputs), dict(attrs))
        out = Tensor(name, tuple(shape), dtype, self, node)
        object.__setattr__(node, "output", out)
        self.nodes.append(node)
        self.tensors[name] = out
        return out

    def _normalize_axis(self, op: str, x: Tensor, axis) -> int:
        axis = int(axis)
        if not -x.ndim <= axis < x.ndim:
            raise GraphError(f"{op}: axis {axis} is out of range for '{x.name}' "
                             f"{format_shape(x.shape)}: expected in [{-x.ndim}, {x.ndim - 1}]")
        return axis % x.ndim

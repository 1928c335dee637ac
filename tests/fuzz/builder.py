"""The graph builder of the fuzzer: sources, operand picking, nodes checked as they are added.

A graph is built one op at a time (``steps.py`` holds one step per op, ``graphs.py`` the
strategy); every new node is evaluated at once with the numpy
oracle (``tvm_fusion.reference``), so the generator knows every value and keeps the numbers
comparable: no NaN or infinity, floats below ``FLOAT_LIMIT``, integers below ``INT_LIMIT``
(checked in float64, so nothing wraps), divisors away from zero, float-to-int/bool casts only of
bit-reproducible values (``Value.exact``). A node whose value breaks a bound stays in the graph
unused (dead code ``compile`` must prune). Operands come from everything built so far, most
often the newest value, so branches share ancestors and join again (diamonds); a few values
besides the last become graph outputs. Scatter duplicates only in the reducing modes (ONNX
leaves the order of duplicates undefined in 'none'), negative indices everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

import tvm_fusion as tf
from tvm_fusion.graph import DTYPES as ALL_DTYPES
from tvm_fusion.graph import FLOAT8_DTYPES, FLOAT_DTYPES, INT_DTYPES, Tensor
from tvm_fusion.reference import NUMPY

# float8 is a storage type with casts only (graph/core.py): its casts are tested exhaustively
# in tests/ops/test_float8.py, so the fuzzer's ops and casts draw from the other dtypes
DTYPES = tuple(d for d in ALL_DTYPES if d not in FLOAT8_DTYPES)

MAX_ELEMENTS = 1024
DIMS = (1, 1, 2, 3, 5, 7, 11, 13)
FLOAT_LIMIT = {"float16": 1e3, "bfloat16": 1e3}  # others: 1e5
INT_LIMIT = 2**12
ARITHMETIC = ("add", "sub", "mul", "reduce_sum", "reduce_prod", "reduce_mean", "scatter_nd",
              "scatter_elements")  # integer results that could wrap
# ops whose float results may differ from numpy's in the last bits: our exp/sigmoid/log/erf
# are polynomials within a few ulp (ops/fastmath.py), pow is LLVM's, sums reassociate
INEXACT = ("exp", "sigmoid", "tanh", "log", "erf", "pow", "div", "reduce_sum", "reduce_mean",
           "reduce_prod")


@dataclass
class Value:
    tensor: Tensor
    array: np.ndarray
    exact: bool  # a float that every backend computes bit for bit (numpy rounding per op)


@dataclass
class Case:
    """A generated graph, its inputs, which tensors are bit-reproducible, what it exercises."""

    graph: tf.Graph
    inputs: dict[str, np.ndarray]
    exact: dict[str, bool]  # per tensor name
    covered: set = field(default_factory=set)  # (op, detail) pairs, e.g. ("cast", "int32->bool")

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return repr(self.graph)


class Builder:
    def __init__(self, draw, seed: int) -> None:
        self.draw, self.rng = draw, np.random.default_rng(seed)
        self.graph = tf.Graph("fuzz")
        self.inputs: dict[str, np.ndarray] = {}
        self.pool: list[Value] = []
        self.covered: set = set()

    # ----- sources -----------------------------------------------------------------------
    def data(self, shape, dtype: str) -> np.ndarray:
        if dtype == "bool":
            return self.rng.random(shape) < 0.5
        if is_int(dtype):
            low = 0 if np.dtype(dtype).kind == "u" else -4
            return self.rng.integers(low, 5, size=shape).astype(dtype)
        return (self.rng.standard_normal(shape) * 2).astype(dtype)

    def source(self, shape, dtype: str, array=None, pooled: bool = True) -> Value:
        """A new graph input (or, one time in five, a constant) holding ``array``."""
        array = self.data(shape, dtype) if array is None else np.asarray(array).astype(dtype)
        array = array.reshape(shape)
        if self.draw(st.integers(0, 4)) == 0:
            tensor = self.graph.constant(array)
        else:
            name = f"in{len(self.inputs)}"
            tensor = self.graph.input(name, shape, dtype)
            self.inputs[name] = array
        value = Value(tensor, array, True)
        if pooled:
            self.pool.append(value)
        return value

    def random_shape(self, min_rank: int = 0, limit: int = 256) -> tuple[int, ...]:
        rank = self.draw(st.integers(min_rank, 4))
        shape = tuple(self.draw(st.sampled_from(DIMS)) for _ in range(rank))
        while math.prod(shape) > limit:
            shape = shape[1:]
        return shape

    # ----- operands ----------------------------------------------------------------------
    def pick(self, dtypes, ok=lambda v: True, shape=None, min_rank: int = 0) -> Value:
        """A pooled value of one of ``dtypes`` (most often the newest), else a pooled value
        cast to one, else a new source of ``shape`` (default: a random one)."""
        def usable(v: Value, dtypes) -> bool:
            return v.tensor.dtype in dtypes and v.tensor.ndim >= min_rank and ok(v)

        found = [v for v in self.pool if usable(v, dtypes)]
        if found and self.draw(st.integers(0, 9)) < 9:  # draws shrink to 0: to the pool
            back = self.draw(st.integers(0, len(found) - 1)) if self.draw(st.booleans()) else 0
            return found[-1 - back]
        dtype = self.draw(st.sampled_from(sorted(dtypes)))
        castable = [v for v in self.pool if usable(v, DTYPES) and v.tensor.dtype != dtype and
                    (v.exact or dtype in FLOAT_DTYPES)]
        if castable and self.draw(st.integers(0, 3)) < 3:
            x = castable[-1]
            cast = self.apply("cast", x, detail=f"{x.tensor.dtype}->{dtype}", dtype=dtype)
            if cast is not None:
                return cast
        shape = self.random_shape(min_rank) if shape is None else shape
        return self.source(shape, dtype)

    # ----- nodes -------------------------------------------------------------------------
    def apply(self, op: str, *operands: Value, detail=None, **attrs) -> Value | None:
        """Add ``op`` to the graph and evaluate it; the value joins the pool unless it breaks
        a bound (then the node stays, unused)."""
        tensors = [v.tensor for v in operands]
        build = getattr(self.graph, op)
        out = build(tensors, **attrs) if op == "concat" else build(*tensors, **attrs)
        node = out.producer
        with np.errstate(all="ignore"):
            array = np.asarray(NUMPY[op](node, *(v.array for v in operands)), dtype=out.dtype)
        assert array.size == out.size, f"{op}: numpy {array.shape}, graph {out.shape}"
        array = array.reshape(out.shape)
        if not self.in_bounds(op, node, operands, array):
            return None
        exact = out.dtype not in FLOAT_DTYPES or (all(v.exact for v in operands) and
                                                  op not in INEXACT)
        value = Value(out, array, exact)
        self.pool.append(value)
        self.covered.add((op, detail or operands[0].tensor.dtype))
        return value

    def in_bounds(self, op, node, operands, array) -> bool:
        dtype = str(array.dtype)
        if dtype in FLOAT_DTYPES:
            wide = array.astype(np.float64)
            return bool(np.all(np.isfinite(wide)) and
                        np.max(np.abs(wide), initial=0) <= FLOAT_LIMIT.get(dtype, 1e5))
        if not is_int(dtype):
            return True
        if op == "cast":  # float to int: in range (C leaves the rest undefined)
            wide = operands[0].array.astype(np.float64)
        elif op in ARITHMETIC:  # the same rule in float64 (indices stay integers): no wrapping
            wide = [v.array.astype(np.float64) if k != 1 or not op.startswith("scatter")
                    else v.array for k, v in enumerate(operands)]
            with np.errstate(all="ignore"):
                wide = np.asarray(NUMPY[op](node, *wide), dtype=np.float64)
        else:
            return True
        info = np.iinfo(dtype)
        return bool(np.all((np.trunc(wide) >= max(info.min, -INT_LIMIT)) &
                           (np.trunc(wide) <= min(info.max, INT_LIMIT))))


def is_int(dtype) -> bool:
    return str(dtype) in INT_DTYPES


def broadcast_partner(b: Builder, x: Value) -> tuple[int, ...]:
    """A shape that broadcasts with ``x``: some of its dims kept, others 1, leading ones
    dropped, or x's size-1 dims widened (then x is the one broadcast)."""
    shape = []
    for n in x.tensor.shape:
        choice = b.draw(st.integers(0, 3))
        shape.append(n if choice < 2 else 1 if choice == 2 else
                     (b.draw(st.sampled_from((2, 3, 5))) if n == 1 else n))
    if x.tensor.ndim < 4 and b.draw(st.integers(0, 4)) == 0:  # one more leading dim
        shape.insert(0, b.draw(st.sampled_from((2, 3))))
    else:
        shape = shape[b.draw(st.integers(0, len(shape))):]
    out = np.broadcast_shapes(tuple(shape), x.tensor.shape)
    return tuple(shape) if math.prod(out) <= MAX_ELEMENTS else (1,) * min(len(shape), 1)


def compatible(x: Value):
    def ok(v: Value) -> bool:
        try:
            return math.prod(np.broadcast_shapes(v.tensor.shape, x.tensor.shape)) <= MAX_ELEMENTS
        except ValueError:
            return False

    return ok


def safe_divisor(v: Value) -> bool:
    low = 1 if is_int(v.array.dtype) else 0.25
    return bool(np.all(np.abs(v.array) >= low))

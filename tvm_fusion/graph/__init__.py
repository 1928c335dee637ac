"""The graph builder: tensors with static shapes and dtypes, nodes with an op and attributes.

Pure Python (no TVM import), so building and validating a graph costs microseconds. Every op
checks its inputs when it is added and raises :class:`GraphError` naming the op, the node, the
tensor and the expected versus actual value. Semantics follow ONNX wherever ONNX has the op.

``core.py`` holds tensors, nodes and :class:`GraphCore` (inputs, constants, outputs, names);
each op family is a mixin in its own module (``elementwise``, ``reduce``, ``layout``,
``gather``, ``scatter``). To add an op, add its builder method to its family's mixin (copy a
neighbour), then its compute in ``tvm_fusion/ops/`` and its numpy rule in ``reference.py``.
"""

from __future__ import annotations

from .core import (
    DTYPES,
    FLOAT8_DTYPES,
    FLOAT_DTYPES,
    INDEX_DTYPES,
    INDEX_LIMIT,
    INT_DTYPES,
    NUMERIC_DTYPES,
    GraphCore,
    GraphError,
    Node,
    Tensor,
    broadcast_shapes,
    format_shape,
)
from .elementwise import BINARY_OPS, UNARY_OPS, ElementwiseOps
from .gather import GATHER_OPS, GatherOps
from .layout import LAYOUT_OPS, PAD_MODES, LayoutOps
from .reduce import REDUCE_OPS, ReduceOps
from .scatter import SCATTER_OPS, SCATTER_REDUCTIONS, ScatterOps

ALL_OPS = (BINARY_OPS + tuple(UNARY_OPS) + ("cast",) + REDUCE_OPS + LAYOUT_OPS + GATHER_OPS
           + SCATTER_OPS)


class Graph(ElementwiseOps, ReduceOps, LayoutOps, GatherOps, ScatterOps, GraphCore):
    """A dataflow graph of tensor ops with static shapes.

    Examples
    --------
    >>> g = Graph()
    >>> x = g.input("x", (8, 64), "float32")
    >>> g.output(g.reduce_sum(g.relu(x), axes=[1], keepdims=False))
    """


__all__ = ["ALL_OPS", "BINARY_OPS", "DTYPES", "FLOAT8_DTYPES", "FLOAT_DTYPES", "GATHER_OPS", "INDEX_DTYPES",
           "INDEX_LIMIT", "INT_DTYPES", "LAYOUT_OPS", "NUMERIC_DTYPES", "PAD_MODES", "REDUCE_OPS",
           "SCATTER_OPS", "SCATTER_REDUCTIONS", "UNARY_OPS", "Graph", "GraphError", "Node", "Tensor",
           "broadcast_shapes", "format_shape"]

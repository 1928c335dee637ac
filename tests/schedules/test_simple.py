"""The per-op baseline (``schedules/simple.py``) on shapes that do not divide the vector width.

Results are checked against numpy on primes and odd sizes; the structure is checked on the
scheduled TIR: parallel loop, vector loop, and no predicate under any vector loop (a
predicated vector loop is lowered to a scalar loop under an ``if``, which LLVM turns into
gathers and scatters).
"""

import numpy as np
import pytest
from tvm import s_tir, tirx

import tvm_fusion as tf

# above analysis.MIN_PARALLEL_ELEMENTS, every extent prime or odd
LARGE_ODD = (67, 127, 37)
SHAPES = [(7, 61, 59), (3, 5, 7), (2, 1, 19), (1, 17), (33, 16), LARGE_ODD]


def _graph(op: str, shape):
    g = tf.Graph(op)
    x = g.input("x", shape, "float32")
    if op == "add":
        g.output(g.add(x, g.input("y", shape, "float32")))
    elif op == "bias":
        g.output(g.add(x, g.input("y", shape[-1:], "float32")))
    elif op == "cast":
        g.output(g.cast(x, "float16"))
    elif op.startswith("sum"):
        axis = {"sum_inner": -1, "sum_outer": 0, "sum_mid": 1 % len(shape)}[op]
        g.output(g.reduce_sum(x, axes=[axis], keepdims=op != "sum_mid"))
    elif op == "transpose":
        g.output(g.transpose(x, perm=tuple(reversed(range(len(shape))))))
    elif op == "transpose_inner":
        perm = tuple(range(len(shape) - 2)) + (len(shape) - 1, len(shape) - 2)
        g.output(g.transpose(x, perm=perm))
    elif op == "scatter":
        rows = max(1, shape[0] // 3)
        idx = g.input("idx", (rows, 1), "int64")
        g.output(g.scatter_nd(x, idx, g.input("u", (rows,) + tuple(shape[1:]), "float32")))
    return g


def _expected(op: str, arrays):
    x = arrays["x"]
    if op in ("add", "bias"):
        return x + arrays["y"]
    if op == "cast":
        return x.astype(np.float16)
    if op == "sum_inner":
        return x.sum(-1, keepdims=True)
    if op == "sum_outer":
        return x.sum(0, keepdims=True)
    if op == "sum_mid":
        return x.sum(1 % x.ndim)
    if op == "transpose":
        return x.transpose()
    if op == "transpose_inner":
        return np.swapaxes(x, -1, -2)
    out = x.copy()
    out[arrays["idx"][:, 0]] = arrays["u"]
    return out


def _inputs(graph, rng):
    arrays = {}
    for t in graph.inputs:
        if t.dtype == "int64":
            rows = graph.inputs[0].shape[0]
            arrays[t.name] = rng.permutation(rows)[:t.shape[0]].reshape(t.shape)
        else:
            arrays[t.name] = rng.standard_normal(t.shape).astype(t.dtype)
    return arrays


OPS = ["add", "bias", "cast", "sum_inner", "sum_outer", "sum_mid", "transpose",
       "transpose_inner", "scatter"]


CASES = [(op, shape) for op in OPS for shape in SHAPES
         if not (op == "transpose_inner" and len(shape) < 2)]  # it needs two axes


@pytest.mark.parametrize("op, shape", CASES, ids=lambda c: c if isinstance(c, str)
                         else "x".join(map(str, c)))
def test_per_op_kernel_matches_numpy_on_odd_shapes(op, shape, rng):
    graph = _graph(op, shape)
    arrays = _inputs(graph, rng)
    (out,) = tf.compile(graph, fuse=False)(**arrays)
    np.testing.assert_allclose(out, _expected(op, arrays), rtol=1e-5, atol=1e-4)


def _vector_loops(stmt) -> list[bool]:
    """One entry per vector loop of ``stmt``: whether a block under it has a predicate that
    depends on the vector lane (a predicate on an outer tile loop is a scalar ``if``)."""
    found: list[bool] = []
    if isinstance(stmt, tirx.For):
        if stmt.kind == tirx.ForKind.VECTORIZED:
            found.append(_lane_predicate(stmt.body, stmt.loop_var))
        found += _vector_loops(stmt.body)
    elif isinstance(stmt, tirx.SeqStmt):
        for child in stmt:
            found += _vector_loops(child)
    elif isinstance(stmt, s_tir.SBlockRealize):
        found += _vector_loops(stmt.block.body)
    return found


def _lane_predicate(stmt, lane) -> bool:
    if isinstance(stmt, tirx.For):
        return _lane_predicate(stmt.body, lane)
    if isinstance(stmt, tirx.SeqStmt):
        return any(_lane_predicate(child, lane) for child in stmt)
    if isinstance(stmt, s_tir.SBlockRealize):
        used = tirx.analysis.undefined_vars(stmt.predicate)
        return any(v.same_as(lane) for v in used) or _lane_predicate(stmt.block.body, lane)
    return False


@pytest.mark.parametrize("op", ["add", "bias", "cast", "sum_outer", "transpose", "scatter"])
def test_odd_shape_runs_parallel_whole_vectors(op):
    """Every vector loop covers whole vectors; the remainder is a separate scalar loop."""
    graph = _graph(op, LARGE_ODD)
    (kernel,) = tf.compile(graph, fuse=False).kernels
    script = kernel.scheduled.script()
    assert "T.parallel" in script and "T.vectorized" in script
    vector_loops = _vector_loops(kernel.scheduled["main"].body)
    assert vector_loops and not any(vector_loops), script

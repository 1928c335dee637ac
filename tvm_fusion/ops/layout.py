"""Layout ops: transpose, reshape (row-major), broadcast_to, slice, concat, pad (constant,
edge, reflect, wrap).

They move data and compute nothing (constant pad fills with its value)."""

from __future__ import annotations

import math

import tvm
from tvm import te, tirx

from ..graph import Node
from .axes import AxisRelation, OutputAxis, windowed_axis
from .common import broadcast_index


def transpose_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    perm = node.attrs["perm"]
    inverse = [perm.index(d) for d in range(len(perm))]
    return te.compute(node.output.shape, lambda *i: x[tuple(i[inverse[d]] for d in range(len(perm)))],
                      name=node.name)


def _unravel(linear, shape):
    index = []
    for extent in reversed(shape):
        index.append(tirx.truncmod(linear, extent) if extent != 1 else tirx.const(0, "int32"))
        linear = tirx.truncdiv(linear, extent)
    return tuple(reversed(index))


def reshape_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    out_shape = node.output.shape

    def body(*index):
        # index arithmetic per reshape group, simplified with the loop bounds known, so a
        # split/merge stays affine where it can (schedules need affine regions)
        analyzer = tvm.sym.Analyzer()
        for i, extent in zip(index, out_shape):
            analyzer.bind(i, tvm.ir.Range(0, extent))
        source = [None] * len(node.inputs[0].shape)
        for in_axes, out_axes in reshape_groups(node.inputs[0].shape, out_shape):
            linear = tirx.const(0, "int32")
            for b in out_axes:
                linear = linear * out_shape[b] + index[b]
            parts = _unravel(linear, [node.inputs[0].shape[a] for a in in_axes])
            for a, part in zip(in_axes, parts):
                source[a] = analyzer.simplify(part)
        return x[tuple(source)]

    return te.compute(out_shape, body, name=node.name)


def broadcast_to_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    shape = node.output.shape
    return te.compute(shape, lambda *i: x[broadcast_index(node.inputs[0].shape, shape, i)],
                      name=node.name)


def transpose_axes(node: Node) -> AxisRelation:
    perm = node.attrs["perm"]
    return AxisRelation(tuple(
        OutputAxis("identity" if p == d else "permute", ((0, p),)) for d, p in enumerate(perm)
    ))


def reshape_groups(in_shape, out_shape) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Pair up the smallest runs of input and output axes with equal element counts.

    ``(6, 5) -> (2, 3, 5)`` gives ``[((0,), (0, 1)), ((1,), (2,))]``. Size-1 axes join the run
    before them (or the first run).
    """
    groups, i, j = [], 0, 0
    while i < len(in_shape) or j < len(out_shape):
        gi, gj = [i] if i < len(in_shape) else [], [j] if j < len(out_shape) else []
        pi = in_shape[i] if gi else 1
        pj = out_shape[j] if gj else 1
        i, j = i + len(gi), j + len(gj)
        while pi != pj:
            if pi < pj:
                gi.append(i)
                pi *= in_shape[i]
                i += 1
            else:
                gj.append(j)
                pj *= out_shape[j]
                j += 1
        # absorb trailing size-1 axes so every axis lands in exactly one group
        while i < len(in_shape) and in_shape[i] == 1 and (j >= len(out_shape) or out_shape[j] != 1):
            gi.append(i)
            i += 1
        while j < len(out_shape) and out_shape[j] == 1 and (i >= len(in_shape) or in_shape[i] != 1):
            gj.append(j)
            j += 1
        groups.append((tuple(gi), tuple(gj)))
    assert all(math.prod(in_shape[a] for a in gi) == math.prod(out_shape[b] for b in gj)
               for gi, gj in groups)
    return groups


def reshape_axes(node: Node) -> AxisRelation:
    in_shape, out_shape = node.inputs[0].shape, node.output.shape
    outputs: list[OutputAxis | None] = [None] * len(out_shape)
    for gi, gj in reshape_groups(in_shape, out_shape):
        real_in = [a for a in gi if in_shape[a] != 1] or list(gi)
        kind = ("identity" if len(real_in) == 1 and len(gj) == 1 else
                "split" if len(real_in) == 1 else "merge" if len(gj) == 1 else "reshape")
        for b in gj:
            if out_shape[b] == 1 and len(gj) > 1:
                outputs[b] = OutputAxis("split", ())
            else:
                outputs[b] = OutputAxis(kind, tuple((0, a) for a in real_in))
    return AxisRelation(tuple(outputs))


def broadcast_to_axes(node: Node) -> AxisRelation:
    (x,), shape = node.inputs, node.output.shape
    offset = len(shape) - x.ndim
    outputs = []
    for d, extent in enumerate(shape):
        in_axis = d - offset
        if in_axis >= 0 and x.shape[in_axis] == extent:
            outputs.append(OutputAxis("identity", ((0, in_axis),)))
        else:
            outputs.append(OutputAxis("broadcast", ()))
    return AxisRelation(tuple(outputs))


# ----- slice, concat, pad: identities with an offset ------------------------------------
def slice_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    begin, step = node.attrs["begin"], node.attrs["step"]
    # a step on a one-element axis reads only ``begin``: no stride for compute-at to refuse
    step = tuple(s if n > 1 else 1 for s, n in zip(step, node.output.shape))
    return te.compute(node.output.shape,
                      lambda *i: x[tuple(b + s * v for b, s, v in zip(begin, step, i))],
                      name=node.name)


def _guarded(condition, load, other):
    """``load`` where ``condition`` holds, else ``other``, evaluating only the chosen side.

    Not ``Select``: TVM simplifies each side of a Select under its condition (a clamp of the
    index disappears) and a vector Select evaluates both sides, so the discarded lanes would
    load outside the buffer (undefined in LLVM: the kept lanes came out wrong)."""
    return tirx.if_then_else(condition, load, other)


def concat_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    axis = node.attrs["axis"]
    extents = [t.shape[axis] for t in node.inputs]
    offsets = [sum(extents[:k]) for k in range(len(extents))]

    def body(*i):
        value = None
        for k in reversed(range(len(inputs))):
            local = i[axis] - offsets[k] if offsets[k] else i[axis]
            load = inputs[k][i[:axis] + (local,) + i[axis + 1:]]
            value = load if value is None else _guarded(i[axis] < offsets[k + 1], load, value)
        return value

    return te.compute(node.output.shape, body, name=node.name)


def _pad_source(mode: str, s, n: int):
    """The input index an output index ``s`` (already shifted by the begin pad) reads."""
    last = n - 1
    if mode == "edge":
        return tirx.max(tirx.min(s, last), 0)
    if mode == "reflect":  # pads < n: one reflection at each end
        return tirx.Select(s < 0, -s, tirx.Select(s > last, 2 * last - s, s))
    return tirx.floormod(s, n)  # wrap


def pad_compute(node: Node, inputs: list[te.Tensor]) -> te.Tensor:
    (x,) = inputs
    before, after = node.attrs["before"], node.attrs["after"]
    fill = tirx.const(node.attrs["value"], node.output.dtype)
    mode = node.attrs.get("mode", "constant")

    def body(*i):
        if mode != "constant":
            return x[tuple(_pad_source(mode, v - b, int(n)) if b or e else v
                           for v, b, e, n in zip(i, before, after, x.shape))]
        source, inside = [], []
        for v, b, e, n in zip(i, before, after, x.shape):
            s = v - b if b else v
            if b > 0:
                inside.append(s >= 0)
            if e > 0:
                inside.append(s < int(n))
            source.append(s)
        if not inside:
            return x[tuple(source)]
        return _guarded(tirx.all(*inside), x[tuple(source)], fill)

    return te.compute(node.output.shape, body, name=node.name)


def _windowed_relation(node: Node, kind: str, untouched) -> AxisRelation:
    """Slice and pad: an axis ``untouched(d)`` leaves is an identity, any other a window."""
    (x,), shape = node.inputs, node.output.shape
    outputs, reads = [], []
    for d, extent in enumerate(shape):
        if untouched(d):
            outputs.append(OutputAxis("identity", ((0, d),)))
            continue
        axis, read = windowed_axis(kind, ((0, d),), extent == x.shape[d])
        outputs.append(axis)
        reads += read
    return AxisRelation(tuple(outputs), reads=tuple(reads))


def slice_axes(node: Node) -> AxisRelation:
    x, begin, step = node.inputs[0], node.attrs["begin"], node.attrs["step"]
    return _windowed_relation(node, "slice", lambda d: begin[d] == 0 and step[d] == 1
                              and node.output.shape[d] == x.shape[d])


def pad_axes(node: Node) -> AxisRelation:
    before, after = node.attrs["before"], node.attrs["after"]
    return _windowed_relation(node, "pad", lambda d: before[d] == 0 and after[d] == 0)


def concat_axes(node: Node) -> AxisRelation:
    axis, n = node.attrs["axis"], len(node.inputs)
    outputs, reads = [], ()
    for d in range(node.output.ndim):
        sources = tuple((k, d) for k in range(n))
        if d != axis:
            outputs.append(OutputAxis("identity", sources))
            continue
        out_axis, reads = windowed_axis("concat", sources, n == 1)
        outputs.append(out_axis)
    return AxisRelation(tuple(outputs), reads=reads)

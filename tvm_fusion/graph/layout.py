"""Layout ops of the graph builder: transpose, reshape, broadcast_to, slice, concat, pad."""

from __future__ import annotations

import math

from .core import FLOAT_DTYPES, INT_DTYPES, GraphError, Tensor, _check_shape, format_shape

PAD_MODES = ("constant", "edge", "reflect", "wrap")
PAD_VALUE = {"bool": bool, **dict.fromkeys(INT_DTYPES, int), **dict.fromkeys(FLOAT_DTYPES, float)}

LAYOUT_OPS = ("transpose", "reshape", "broadcast_to", "slice", "concat", "pad")


class LayoutOps:
    """Mixin of :class:`Graph`."""

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

    def reshape(self, x: Tensor, shape, *, allowzero: bool = False,
                name: str | None = None) -> Tensor:
        """Reshape (row-major); one entry may be -1 (inferred), 0 copies the input dim
        (``allowzero``: 0 is a size, as ONNX Reshape's attribute)."""
        self._own(x, "reshape", "input")
        what = f"reshape of '{x.name}' {format_shape(x.shape)} to {list(shape)}"
        dims = [int(d) for d in shape]
        if dims.count(-1) > 1 or any(d < -1 for d in dims):
            raise GraphError(f"{what}: at most one -1 and no other negative entry allowed")
        if allowzero and 0 in dims and -1 in dims:
            raise GraphError(f"{what}: with allowzero a 0 is a size, so -1 cannot be inferred "
                             "(ONNX makes this model invalid)")
        for i, d in enumerate(dims):
            if d == 0 and not allowzero:
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

    def slice(self, x: Tensor, starts, ends, axes=None, steps=None, *,
              name: str | None = None) -> Tensor:
        """ONNX Slice: per axis ``x[start:end:step]`` with Python's (and ONNX's) clamping;
        negative starts/ends count from the end, steps may be negative, never 0."""
        self._own(x, "slice", "input")
        starts, ends = [int(v) for v in starts], [int(v) for v in ends]
        axes = list(range(len(starts))) if axes is None else [int(a) for a in axes]
        steps = [1] * len(starts) if steps is None else [int(v) for v in steps]
        what = f"slice of '{x.name}' {format_shape(x.shape)}"
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise GraphError(f"{what}: starts, ends, axes and steps must have one entry per "
                             f"sliced axis, got {len(starts)}, {len(ends)}, {len(axes)}, "
                             f"{len(steps)}")
        begin, step, shape = [0] * x.ndim, [1] * x.ndim, list(x.shape)
        seen = set()
        for start, end, axis, stride in zip(starts, ends, axes, steps):
            d = self._normalize_axis("slice", x, axis)
            if d in seen:
                raise GraphError(f"{what}: axis {axis} is sliced twice; list each axis once")
            seen.add(d)
            if stride == 0:
                raise GraphError(f"{what}: step of axis {axis} is 0, expected non-zero")
            first, _, _ = positions = slice(start, end, stride).indices(x.shape[d])
            length = len(range(*positions))
            if length == 0:  # an empty result (no kernel runs): nothing is read
                first, stride = 0, 1
            begin[d], step[d], shape[d] = first, stride, length
        # the shape too: the build cache keys kernels by input shapes and attributes
        attrs = {"begin": tuple(begin), "step": tuple(step), "shape": tuple(shape)}
        return self._add_node("slice", name, (x,), attrs, tuple(shape), x.dtype)

    def concat(self, tensors, axis: int, *, name: str | None = None) -> Tensor:
        """Numpy ``concatenate``: every input has the same dtype and shape off ``axis``."""
        tensors = tuple(tensors)
        if not tensors:
            raise GraphError("concat: expected at least one input, got none")
        for i, t in enumerate(tensors):
            self._own(t, "concat", f"input {i}")
        first = tensors[0]
        if first.ndim == 0:
            raise GraphError(f"concat: input '{first.name}' is a scalar; concat needs rank >= 1")
        d = self._normalize_axis("concat", first, axis)
        for t in tensors[1:]:
            if t.dtype != first.dtype:
                raise GraphError(f"concat: input '{t.name}' must have the dtype of "
                                 f"'{first.name}': expected {first.dtype}, got {t.dtype}")
            same = t.ndim == first.ndim and all(
                a == b for k, (a, b) in enumerate(zip(t.shape, first.shape)) if k != d)
            if not same:
                raise GraphError(f"concat on axis {axis}: input '{t.name}' "
                                 f"{format_shape(t.shape)} must match '{first.name}' "
                                 f"{format_shape(first.shape)} on every other axis")
        shape = list(first.shape)
        shape[d] = sum(t.shape[d] for t in tensors)
        pieces = tuple(t for t in tensors if t.shape[d] > 0)  # an empty piece adds nothing
        if 0 < len(pieces) < len(tensors):  # (and no kernel could inline its empty block)
            tensors = pieces
        return self._add_node("concat", name, tensors, {"axis": d}, tuple(shape), first.dtype)

    def pad(self, x: Tensor, pads, value=0, axes=None, *, mode: str = "constant",
            name: str | None = None) -> Tensor:
        """ONNX Pad: ``pads`` is ``[begin of each axis..., end of each axis...]`` (over
        ``axes``, default all); negative pads crop (constant mode). ``mode`` as ONNX and
        ``np.pad``: "constant" (``value``), "edge", "reflect" (pads below the axis' extent),
        "wrap"."""
        self._own(x, "pad", "input")
        axes = list(range(x.ndim)) if axes is None else [int(a) for a in axes]
        pads = [int(p) for p in pads]
        what = f"pad of '{x.name}' {format_shape(x.shape)}"
        if len(pads) != 2 * len(axes):
            raise GraphError(f"{what}: pads must hold 2 entries per padded axis "
                             f"({len(axes)} axes), got {len(pads)}")
        before, after = [0] * x.ndim, [0] * x.ndim
        for axis, b, e in zip(axes, pads[:len(axes)], pads[len(axes):]):
            d = self._normalize_axis("pad", x, axis)
            before[d], after[d] = b, e
        if mode not in PAD_MODES:
            raise GraphError(f"{what}: mode must be one of {', '.join(PAD_MODES)}, got {mode!r}")
        if mode != "constant":
            reflect = mode == "reflect"
            for d, (b, e, n) in enumerate(zip(before, after, x.shape)):
                too_far = (b or e) and (n == 0 or reflect and max(b, e) > n - 1)
                if min(b, e) < 0 or too_far:
                    upto = f" to {n - 1} (the extent - 1)" if reflect else ""
                    raise GraphError(
                        f"{what}: mode {mode!r} pads axis {d} by ({b}, {e}); it takes pads "
                        f"from 0{upto} of a non-empty axis (crop with slice first)")
        shape = tuple(n + b + e for n, b, e in zip(x.shape, before, after))
        if any(n <= 0 for n in shape):
            raise GraphError(f"{what}: pads {pads} give the shape {format_shape(shape)}; "
                             "every dimension must stay positive (crop less)")
        try:
            value = PAD_VALUE[x.dtype](value)
        except (TypeError, ValueError):
            raise GraphError(f"{what}: value must be a {x.dtype} scalar, got {value!r}") from None
        attrs = {"before": tuple(before), "after": tuple(after), "value": value, "mode": mode}
        return self._add_node("pad", name, (x,), attrs, shape, x.dtype)

"""Layout ops of the graph builder: transpose, reshape, broadcast_to."""

from __future__ import annotations

import math

from .core import GraphError, Tensor, _check_shape, format_shape

LAYOUT_OPS = ("transpose", "reshape", "broadcast_to")


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

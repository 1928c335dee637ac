"""Call-time checks of user inputs, kept cheap because they sit on every call.

A compiled kernel does no bounds checking, so an out-of-range scatter index would silently
write outside the output (a gather index, read outside its data). Before anything runs, every
scatter and gather index tensor is checked against the extent of the data axis it addresses
(ONNX's negative wrap applied): ``IndexCheck``.
``check_donated`` refuses at call time an array a donated scatter could not update as is (a
silent copy would break the promise that the caller's array is the one updated).

Pure Python and numpy, importing nothing else of the package: ``tvm_fusion.load`` runs these
same checks on an exported module without the graph builder. A tensor here is anything with
``name``, ``shape`` and ``dtype`` (a graph ``Tensor`` or a loaded module's ``TensorSpec``); what
compile derives from the graph (which checks, which donations) is in ``guards.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def format_shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class InputError(ValueError):
    """A call's inputs do not match the compiled graph (name, shape, dtype or index range)."""


@dataclass(frozen=True)
class IndexCheck:
    """Check ``tensor`` (a graph input, constant or intermediate) before ``scatter`` runs
    (the name of the scatter or gather node that reads the indices: the field keeps its name,
    which exported modules store)."""

    scatter: str
    op: str
    data: str
    tensor: str  # the tensor whose values are checked
    bounds: tuple[int, ...]  # extent of each addressed data axis (one entry: uniform bound)
    axes: tuple[int, ...]  # the data axes the bounds belong to

    def __call__(self, values: np.ndarray) -> None:
        k = len(self.bounds)
        if k == 1 and values.size:  # the common case, two reductions (on every call)
            bound = self.bounds[0]
            if values.min() >= -bound and values.max() < bound:
                return
        flat = values.reshape(-1, k) if k > 1 else values.reshape(-1, 1)
        if flat.size == 0:
            return
        low, high = flat.min(axis=0), flat.max(axis=0)
        bounds = np.asarray(self.bounds)
        if np.all(low >= -bounds) and np.all(high < bounds):
            return
        bad = np.argwhere((flat < -bounds) | (flat >= bounds))[0]
        column = int(bad[1])
        where = np.unravel_index(int(bad[0]) * (max(1, k)) + (column if k > 1 else 0),
                                 values.shape)
        value, bound = int(flat[tuple(bad)]), self.bounds[column]
        raise InputError(
            f"{self.op} '{self.scatter}': index tensor '{self.tensor}' holds {value} at "
            f"{tuple(int(i) for i in where)}, expected in [{-bound}, {bound - 1}] (axis "
            f"{self.axes[column]} of data '{self.data}' has {bound} entries): pass indices "
            "in that range (negative ones count from the end, as in ONNX)"
        )


def check_input(graph_input, value, donated: bool = False) -> np.ndarray:
    """``value`` as a numpy array if it matches the declared shape and dtype, else raise.

    Anything that is not a numpy array (a list, a Python or numpy scalar) goes through
    ``numpy.asarray`` and must come out with the declared dtype: nothing is converted
    silently (a list of Python floats makes float64, and a float32 graph refuses it). A
    masked array is refused: the kernel would read the values under its mask.

    A donated input is updated in place, so it must already be a writeable, C-contiguous
    numpy array of the right dtype: converting it would update a copy the caller never sees.
    """
    if donated:
        return check_donated(graph_input, value)
    name, dtype, shape = graph_input.name, graph_input.dtype, graph_input.shape
    if isinstance(value, np.ndarray):
        if isinstance(value, np.ma.MaskedArray):
            raise InputError(f"input '{name}': got a numpy masked array; the kernel would read "
                             "the values under its mask: pass value.filled(fill_value)")
        array, origin = value, ""
    else:
        array = _as_array(graph_input, value)
        origin = f" from a value of type {type(value).__name__}"
    if str(array.dtype) != dtype:
        what = (f"dtype {dtype}, got {array.dtype}" if array.shape == shape else
                f"dtype {dtype} and shape {format_shape(shape)}, got {array.dtype} and "
                f"{format_shape(array.shape)}")
        fix = (f"convert with .astype('{dtype}')" if not origin else
               f"numpy's choice for its values; pass np.asarray(value, dtype='{dtype}')")
        raise InputError(f"input '{name}': expected {what}{origin} ({fix})")
    if array.shape != shape:
        raise InputError(f"input '{name}': expected shape {format_shape(shape)}, got "
                         f"{format_shape(array.shape)}{origin}; {SHAPE_FIX}")
    return array


# what to do about a wrong shape, in every message about one
SHAPE_FIX = "the graph is compiled for that shape: pass it, or build and compile one for yours"


def _as_array(graph_input, value) -> np.ndarray:
    expected = f"a {graph_input.dtype} array of shape {format_shape(graph_input.shape)}"
    if value is None:
        raise InputError(f"input '{graph_input.name}': expected {expected}, got None")
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as err:  # e.g. a ragged list
        raise InputError(f"input '{graph_input.name}': expected {expected}, got a "
                         f"{type(value).__name__} numpy cannot make an array of "
                         f"({str(err).splitlines()[0]})") from None


def bind_arguments(graph, args: tuple, kwargs: dict,
                   donated: frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
    """Map positional and keyword arguments to graph input names, checking each (``graph``:
    anything with ``inputs``, a sequence of tensors)."""
    names = [t.name for t in graph.inputs]
    if len(args) > len(names):
        raise InputError(f"expected at most {len(names)} inputs ({', '.join(names)}), "
                         f"got {len(args)} positional arguments")
    bound = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in names:
            raise InputError(f"unknown input '{name}'; the graph's inputs are: {', '.join(names)}")
        if name in bound:
            raise InputError(f"input '{name}' given both positionally and by name")
        bound[name] = value
    missing = [n for n in names if n not in bound]
    if missing:
        raise InputError(f"missing inputs: {', '.join(missing)} (expected: {', '.join(names)})")
    return {t.name: check_input(t, bound[t.name], t.name in donated) for t in graph.inputs}


# ----- buffer donation -------------------------------------------------------------------
@dataclass(frozen=True)
class Donation:
    """Graph input ``input`` is overwritten in place by ``scatter``: its buffer is ``output``."""

    input: str
    scatter: str
    output: str


def check_donated(graph_input, value) -> np.ndarray:
    """A donated array is used as the kernel's output buffer as is: refuse what needs a copy."""
    name = graph_input.name
    if not isinstance(value, np.ndarray):
        raise InputError(f"donated input '{name}': expected a numpy array (it is updated in "
                         f"place and returned), got {type(value).__name__}")
    if str(value.dtype) != graph_input.dtype:
        raise InputError(f"donated input '{name}': expected dtype {graph_input.dtype}, got "
                         f"{value.dtype}; convert it once with .astype('{graph_input.dtype}') "
                         "and pass (and keep) the converted array")
    if value.shape != graph_input.shape:
        raise InputError(f"donated input '{name}': expected shape "
                         f"{format_shape(graph_input.shape)}, got {format_shape(value.shape)}; "
                         f"{SHAPE_FIX}")
    if not value.flags.writeable:
        raise InputError(f"donated input '{name}' is read-only: it is updated in place; pass a "
                         "writeable array (e.g. .copy())")
    if value.flags.c_contiguous and not value.flags.aligned:
        raise InputError(f"donated input '{name}' is not aligned to its {value.itemsize}-byte "
                         f"elements (its address is {value.ctypes.data % 64} bytes past a "
                         "64-byte boundary): it is updated in place, so pass "
                         "tvm_fusion.aligned(x) once and keep using the array it returns")
    if not (value.flags.c_contiguous and value.flags.aligned):
        raise InputError(f"donated input '{name}' is not a C-contiguous, aligned array (a "
                         "transposed or strided view?): it is updated in place, so pass "
                         "np.ascontiguousarray(x) once and keep using the array it returns")
    return value

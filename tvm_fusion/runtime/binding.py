"""How one call binds the caller's arrays to the kernels' parameters, without copies.

A ``CallPlan`` is made once per compiled graph. Every tensor a kernel reads or writes, and
every graph output, has a slot in a flat list (the call's environment): constants and
intermediates are filled once (buffers owned by the compiled graph), graph inputs and outputs
on every call. Per input, the fast path is a handful of attribute checks: a C-contiguous,
writeable, element-aligned ``numpy.ndarray`` of the declared dtype and shape goes to the
kernel as is; anything else is checked (``checks.check_input``: the error names the input,
the expected and actual value) and copied into a staging buffer reused by the next call.
DLPack cannot export a read-only array, so a read-only input is copied too; kernels assume
element alignment (``tvm_fusion.alignment``), so a view at an odd byte offset is copied too.

bfloat16 tensors are ``ml_dtypes.bfloat16`` numpy arrays (what ``onnx.numpy_helper`` returns).
numpy's DLPack exports no bfloat16, so such an array reaches the kernel as a bfloat16 view of
its ``uint16`` bits (:func:`kernel_tensor`, no copy), made just before the kernels run.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING

import ml_dtypes
import numpy as np
import tvm_ffi

from ..checks import InputError, bind_arguments, check_donated, check_input, format_shape
from .memory import ALIGNMENT, aligned_empty, empty, is_aligned

if TYPE_CHECKING:
    from ..graph import Graph

# Outputs of at least this many bytes are allocated 64-byte aligned (aligning costs ~1.5 us
# per array in Python; below this numpy's own 16-byte alignment costs the kernel less)
ALIGN_FROM_BYTES = 64 << 10
BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
# float8 arrays reach the kernel as a uint8 view of their bits (kernels hold float8 as uint8:
# ops/float8.py); bfloat16 as a bfloat16 view of its uint16 bits
# (named here: a loaded module imports no graph code)
FLOAT8 = frozenset(np.dtype(f"float8_{f}") for f in ("e4m3fn", "e4m3fnuz", "e5m2", "e5m2fnuz"))
VIEWED = frozenset(("bfloat16", *(str(d) for d in FLOAT8)))


class CallPlan:
    """Slots, kernels' argument lists and per-input routes of one compiled graph."""

    def __init__(self, graph: Graph, kernels, fixed: dict, donor_of: dict[str, str],
                 input_checks, late_checks: dict[int, list]) -> None:
        self.graph = graph
        names = [t.name for t in graph.inputs] + list(fixed)
        for kernel in kernels:
            names += [*kernel.inputs, *kernel.outputs]
        names += [t.name for t in graph.outputs]
        self.slot = {name: i for i, name in enumerate(dict.fromkeys(names))}
        self.template: list = [None] * len(self.slot)
        for name, buffer in fixed.items():
            self.template[self.slot[name]] = buffer
        self.donated = frozenset(donor_of.values())
        # (name, slot, shape, dtype, donated) per graph input
        self.inputs = [(t.name, self.slot[t.name], t.shape, np.dtype(t.dtype),
                        t.name in self.donated) for t in graph.inputs]
        self.tensors = {t.name: t for t in graph.inputs}
        self.staging: dict[str, np.ndarray] = {}
        self.launch = [(k.function, _getter([self.slot[n] for n in (*k.inputs, *k.outputs)]))
                       for k in kernels]
        self.input_checks = [(c, self.slot[c.tensor]) for c in input_checks]
        self.late_checks = {k: [(c, self.slot[c.tensor]) for c in checks]
                            for k, checks in late_checks.items()}
        produced = {n for k in kernels for n in k.outputs}
        given = produced | set(fixed) | set(self.tensors)
        self.output_slots, self.copies, seen = [], [], set()
        # outputs no kernel writes because they are empty (a zero-size group has no kernel)
        self.empty_outputs = [(j, t.shape, np.dtype(t.dtype)) for j, t in enumerate(graph.outputs)
                              if t.name not in given]
        for j, t in enumerate(graph.outputs):
            donor = donor_of.get(t.name)
            if t.name not in given:
                continue
            if t.name in produced and t.name not in seen:
                self.output_slots.append((j, self.slot[t.name], t.shape, np.dtype(t.dtype),
                                          None if donor is None else self.slot[donor],
                                          _nbytes(t)))
            else:  # a repeated output, or a graph input/constant returned as is: a copy
                self.copies.append((j, self.slot[t.name], np.dtype(t.dtype)))
            seen.add(t.name)
        self.n_outputs = len(graph.outputs)
        self.donated_outputs = frozenset(graph.outputs[j].name for j, *_, donor, _
                                         in self.output_slots if donor is not None)
        # inputs and outputs DLPack cannot pass as they are (bfloat16, zero-size): converted
        # before launch (kernel_tensor)
        self.converted_slots = sorted({self.slot[t.name] for t in (*graph.inputs, *graph.outputs)
                                       if t.dtype in VIEWED or 0 in t.shape})

    # ----- inputs ------------------------------------------------------------------------
    def bind(self, args: tuple, kwargs: dict) -> list:
        """The call's environment with every graph input in its slot (checked)."""
        if args or len(kwargs) != len(self.inputs):
            kwargs = bind_arguments(self.graph, args, kwargs, self.donated)
        env = self.template.copy()
        for name, slot, shape, dtype, _ in self.inputs:
            try:
                value = kwargs[name]
            except KeyError:  # an unknown name in place of this one: the full message
                bind_arguments(self.graph, (), kwargs, self.donated)
                raise
            if (type(value) is np.ndarray and value.dtype == dtype and value.shape == shape
                    and (flags := value.flags).c_contiguous and flags.writeable
                    and flags.aligned):
                env[slot] = value
            else:
                env[slot] = self._slow_input(name, value)
        for check, slot in self.input_checks:
            check(env[slot])
        if len(self.donated) > 1:
            self._check_donated_apart(env)
        return env

    def _slow_input(self, name: str, value) -> np.ndarray:
        tensor = self.tensors[name]
        if name in self.donated:
            return check_donated(tensor, value)
        array = check_input(tensor, value)
        if array.flags.c_contiguous and array.flags.writeable and array.flags.aligned:
            return array  # e.g. a numpy scalar, or a subclass (np.matrix): passed as is
        staging = self.staging.get(name)
        if staging is None:
            staging = self.staging[name] = empty(tensor.shape, tensor.dtype)
        np.copyto(staging, array)
        return staging

    def _check_donated_apart(self, env: list) -> None:
        donated = [(name, env[slot]) for name, slot, *_, d in self.inputs if d]
        for i, (name, array) in enumerate(donated):
            for other, other_array in donated[:i]:
                if np.may_share_memory(array, other_array):
                    raise InputError(f"donated inputs '{other}' and '{name}' share memory: "
                                     "each is updated in place; pass separate arrays")

    # ----- outputs -----------------------------------------------------------------------
    def bind_outputs(self, env: list, out) -> list:
        """The arrays the call returns, each bound to its slot before the kernels run."""
        results: list = [None] * self.n_outputs
        if out is not None:
            out = self._check_out(env, out)
        for j, slot, shape, dtype, donor, nbytes in self.output_slots:
            if donor is not None:
                array = env[donor]
            elif out is not None and out[j] is not None:
                array = out[j]
            elif nbytes >= ALIGN_FROM_BYTES:
                array = aligned_empty(shape, dtype, nbytes)
            else:
                array = np.empty(shape, dtype)
            env[slot] = results[j] = array
        for j, *_ in self.empty_outputs:
            results[j] = None if out is None else out[j]
        return results

    def finish(self, env: list, results: list) -> tuple:
        """The call's result: fills the outputs that are copies (a repeated output, an
        input returned as is) once the kernels have run, and the empty outputs."""
        for j, slot, dtype in self.copies:
            results[j] = np.array(_host(env[slot])).view(dtype)
        for j, shape, dtype in self.empty_outputs:
            if results[j] is None:
                results[j] = np.empty(shape, dtype)
        return tuple(results)

    def _check_out(self, env: list, out) -> list:
        if isinstance(out, np.ndarray) or not isinstance(out, (tuple, list)) or \
                len(out) != self.n_outputs:
            raise InputError(f"out=: expected a tuple of {self.n_outputs} numpy array(s) (one "
                             f"per graph output: {', '.join(t.name for t in self.graph.outputs)})"
                             f", got {type(out).__name__}"
                             + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
        inputs = [(name, env[slot]) for name, slot, *_ in self.inputs]
        copies = {j for j, *_ in self.copies}
        for j, (array, t) in enumerate(zip(out, self.graph.outputs)):
            if array is None:
                continue
            what = f"out[{j}] (output '{t.name}')"
            if j in copies or t.name in self.donated_outputs:
                raise InputError(f"{what}: this output is not written by a kernel (a donated "
                                 "input, a repeated output or an input returned as is); pass "
                                 "None in its place")
            if not isinstance(array, np.ndarray):
                raise InputError(f"{what}: expected a numpy array, got {type(array).__name__}")
            if str(array.dtype) != t.dtype or array.shape != t.shape:
                raise InputError(f"{what}: expected {t.dtype}{format_shape(t.shape)}, got "
                                 f"{array.dtype}{format_shape(array.shape)}")
            if not (array.flags.c_contiguous and array.flags.writeable and array.flags.aligned):
                raise InputError(f"{what} must be a writeable C-contiguous array aligned to "
                                 "its element size (the kernel writes it directly); "
                                 "tvm_fusion.empty(shape, dtype) makes one")
            others = [(f"input '{name}'", value) for name, value in inputs]
            others += [(f"out[{i}]", o) for i, o in enumerate(out[:j])]
            for other, value in others:
                if isinstance(value, np.ndarray) and np.may_share_memory(array, value):
                    raise InputError(f"{what} shares memory with {other}: a fused kernel may "
                                     "read an input after writing an output; pass a separate "
                                     "array")
        return list(out)

    # ----- running -----------------------------------------------------------------------
    def run(self, env: list, checked: bool) -> None:
        for slot in self.converted_slots:
            if isinstance(env[slot], np.ndarray):
                env[slot] = kernel_tensor(env[slot])
        late = self.late_checks if checked else None
        for k, (function, slots) in enumerate(self.launch):
            if late and k in late:
                for check, slot in late[k]:
                    check(_host(env[slot]))
            function(*slots(env))

    # ----- explanation -------------------------------------------------------------------
    def explain(self, args: tuple, kwargs: dict, out) -> str:
        bound = bind_arguments(self.graph, args, kwargs, self.donated)
        given = dict(zip((name for name, *_ in self.inputs), args)) | kwargs
        lines = ["inputs:"]
        for name, *_, donated in self.inputs:
            lines.append(f"  {name}: {_input_route(given[name], bound[name], donated)}")
        lines.append("outputs:")
        for j, t in enumerate(self.graph.outputs):
            lines.append(f"  {t.name}: {self._output_route(j, out)}")
        return "\n".join(lines)

    def _output_route(self, j: int, out) -> str:
        if any(e == j for e, *_ in self.empty_outputs):
            return "a new empty array (zero-size: no kernel writes it)"
        if any(c == j for c, *_ in self.copies):
            return "a copy (a repeated output, or an input/constant returned as is)"
        donor = next((self.graph.outputs[j].name for i, *_, d, _ in self.output_slots
                      if i == j and d is not None), None)
        if donor is not None:
            return "the donated input array itself, updated in place"
        if out is not None and out[j] is not None:
            return f"written by the kernel into out[{j}]"
        nbytes = _nbytes(self.graph.outputs[j])
        if nbytes >= ALIGN_FROM_BYTES:
            return f"written by the kernel into a fresh {ALIGNMENT}-byte aligned array"
        return (f"written by the kernel into a fresh numpy array (numpy's alignment: under "
                f"{ALIGN_FROM_BYTES >> 10} KiB aligning costs more than it saves)")


def _host(value) -> np.ndarray:
    """A slot's value as a numpy array (an owned buffer is a TVM FFI tensor: no copy)."""
    if isinstance(value, np.ndarray):
        return value
    if str(value.dtype) == "bfloat16":
        return np.from_dlpack(_view(value, "uint16")).view(BFLOAT16)
    return np.from_dlpack(value)


def kernel_tensor(array: np.ndarray, alignment: int | None = None):
    """``array`` as a TVM FFI tensor for a kernel, sharing its memory (bfloat16: a bfloat16
    view of its uint16 bits, which numpy's DLPack can export; zero-size: a view with compact
    strides, which the kernel checks, where numpy's are all 0)."""
    alignment = alignment or array.itemsize or 1
    if array.dtype in FLOAT8:
        array = array.view(np.uint8)
    bfloat16 = array.dtype == BFLOAT16
    if array.size == 0:  # nothing is read or written: any aligned address will do
        raw = np.empty(2 * ALIGNMENT, np.uint8)  # (a zero-size slice's address is not kept)
        empty = np.ndarray(array.shape, np.uint16 if bfloat16 else array.dtype, buffer=raw,
                           offset=-raw.ctypes.data % ALIGNMENT)
        return _view(tvm_ffi.from_dlpack(empty, require_alignment=alignment), str(array.dtype))
    if bfloat16:
        return _view(tvm_ffi.from_dlpack(array.view(np.uint16), require_alignment=alignment),
                     "bfloat16")
    return tvm_ffi.from_dlpack(array, require_alignment=alignment)


def _view(tensor, dtype: str):
    """The same memory as a tensor of another dtype of the same size (TVM's runtime: loaded
    with any kernel; the view keeps ``tensor`` alive)."""
    if not _CREATE_VIEW:
        _CREATE_VIEW.append(tvm_ffi.get_global_func("runtime.TVMTensorCreateView"))
    return _CREATE_VIEW[0](tensor, tensor.shape, dtype, 0)


_CREATE_VIEW: list = []  # looked up on first use: TVM's runtime registers it


def _getter(slots: list[int]):
    """``env -> tuple of env[s] for s in slots`` (``itemgetter`` of one index returns the
    item, not a tuple)."""
    if len(slots) == 1:
        only = slots[0]
        return lambda env: (env[only],)
    return itemgetter(*slots)


def _nbytes(t) -> int:
    n = np.dtype(t.dtype).itemsize
    for extent in t.shape:
        n *= extent
    return n


def _input_route(value, array: np.ndarray, donated: bool) -> str:
    if donated:
        return "donated: updated in place by the kernel and returned (no copy)"
    if not isinstance(value, np.ndarray):
        return (f"converted from {type(value).__name__} by numpy.asarray (a new array, then "
                "passed as is); pass a numpy array to avoid the conversion")
    if not value.flags.c_contiguous:
        return ("copied into a staging buffer: not C-contiguous (a transposed, strided or "
                "broadcast view); np.ascontiguousarray it once to avoid the copy")
    if not value.flags.writeable:
        return ("copied into a staging buffer: read-only (DLPack cannot export read-only "
                "arrays); pass a writeable array to avoid the copy")
    if not value.flags.aligned:
        return (f"copied into a staging buffer: its address is {array.ctypes.data % ALIGNMENT} "
                f"bytes past a {ALIGNMENT}-byte boundary, not a multiple of its "
                f"{array.itemsize}-byte elements (kernels may assume element alignment); "
                "tvm_fusion.aligned(array) once avoids the copy")
    if not is_aligned(array):
        return (f"passed as is (no copy); its address is {array.ctypes.data % ALIGNMENT} "
                f"bytes past a {ALIGNMENT}-byte boundary, so some vector loads span two cache "
                "lines: tvm_fusion.aligned(array) once makes it aligned")
    return f"passed as is (no copy, {ALIGNMENT}-byte aligned)"

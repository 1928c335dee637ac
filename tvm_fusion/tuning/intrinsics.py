"""MetaSchedule's ``TuneContext`` imports ``tvm.s_tir.tensor_intrin``: every tensor intrinsic
TVM has (CUDA, ARM, x86, ROCm, Hexagon, RISC-V), ~500 TVMScript functions parsed, each parse
walking ``inspect.stack()``. Measured here (cProfile, one ``tune`` of W1s with 4 trials): 54
of its 67 s, once per process; the more modules are loaded (PyTorch's, imported by tvm_ffi
when installed), the longer. Our templates tensorize nothing, so the tuner puts an empty
module in its place for the duration of a ``tune`` and takes it out again afterwards, so a
later MetaSchedule search of another kind in the same process (``tvm-fusion bench``'s generic
search) imports the real one.
"""

from __future__ import annotations

import contextlib
import sys
import types

NAME = "tvm.s_tir.tensor_intrin"


@contextlib.contextmanager
def without_tensor_intrinsics():
    """Within the block, ``import tvm.s_tir.tensor_intrin`` is an empty module (unless the
    real one is already imported: then nothing changes)."""
    if NAME in sys.modules:
        yield
        return
    placeholder = types.ModuleType(NAME, "placeholder: tvm-fusion's templates use no tensor "
                                          "intrinsics (tvm_fusion/tuning/intrinsics.py)")
    sys.modules[NAME] = placeholder
    try:
        yield
    finally:
        if sys.modules.get(NAME) is placeholder:
            del sys.modules[NAME]

"""Argument allocation for MetaSchedule's runner: index tensors must stay in range.

MetaSchedule fills every argument with random bits. Our scatter kernels do no bounds checks
(``compile`` checks indices before running), so random int64 indices write far outside the
output and kill the runner ("Subprocess terminated", every trial scored 1e10). Integers are
filled with zeros here, always a valid index; floats with random values.
"""

from __future__ import annotations

import numpy as np


def alloc_in_range_arguments(device, args_info, alloc_repeat: int):
    import tvm

    rng = np.random.default_rng(0)
    repeated = []
    for _ in range(alloc_repeat):
        args = []
        for kind, dtype, shape in args_info:
            if kind != "TENSOR":
                raise NotImplementedError(f"argument kind {kind}")
            shape = tuple(shape)
            if "int" in dtype or dtype == "bool":
                value = np.zeros(shape, dtype)
            else:
                value = rng.standard_normal(shape).astype(dtype)
            args.append(tvm.runtime.tensor(value, device))
        repeated.append(args)
    return repeated

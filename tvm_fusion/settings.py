"""Every ``TVM_FUSION_*`` environment variable, read in this one place.

- ``TVM_FUSION_NUM_CORES``: cores the default target (and TVM's runtime thread pool, through
  ``TVM_NUM_THREADS`` unless that is set) uses; default: all cores of this machine.
- ``TVM_FUSION_MCPU``: LLVM CPU name for the default target; default: the host CPU.
- ``TVM_FUSION_LOGS``: tuning records the demo and ``tvm-fusion compile`` read by default;
  default: the records shipped in the repository's ``tuning_logs/``.
"""

from __future__ import annotations

import os
from pathlib import Path


def num_cores() -> int:
    value = os.environ.get("TVM_FUSION_NUM_CORES")
    return int(value) if value else (os.cpu_count() or 1)


def configure_thread_pool() -> None:
    """Size TVM's runtime thread pool to ``num_cores()`` unless ``TVM_NUM_THREADS`` is set.

    TVM halves the logical CPU count on x86 (it assumes every core has an SMT sibling): on a
    2-vCPU machine without SMT its parallel loops ran on ONE thread (measured here: a 12 MiB
    element-wise kernel 0.91 ms, 0.47 ms with two threads, as PyTorch runs it). The pool
    reads the variable when it is created, so this runs when ``tvm_fusion`` is imported.
    """
    os.environ.setdefault("TVM_NUM_THREADS", str(num_cores()))


def mcpu() -> str | None:
    return os.environ.get("TVM_FUSION_MCPU") or None


def default_logs() -> str:
    """``TVM_FUSION_LOGS``, else the shipped ``tuning_logs/`` beside the package."""
    value = os.environ.get("TVM_FUSION_LOGS")
    if value:
        return value
    return str(Path(__file__).resolve().parent.parent / "tuning_logs")

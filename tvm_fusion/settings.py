"""Every ``TVM_FUSION_*`` environment variable, read in this one place.

- ``TVM_FUSION_NUM_CORES``: cores the default target (and the runtime thread pool) uses;
  default: all cores of this machine.
- ``TVM_FUSION_MCPU``: LLVM CPU name for the default target; default: the host CPU.
"""

from __future__ import annotations

import os


def num_cores() -> int:
    value = os.environ.get("TVM_FUSION_NUM_CORES")
    return int(value) if value else (os.cpu_count() or 1)


def mcpu() -> str | None:
    return os.environ.get("TVM_FUSION_MCPU") or None

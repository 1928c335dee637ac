"""Every ``TVM_FUSION_*`` environment variable, read in this one place.

- ``TVM_FUSION_NUM_CORES``: cores the default target (and the runtime thread pool) uses;
  default: all cores of this machine.
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


def mcpu() -> str | None:
    return os.environ.get("TVM_FUSION_MCPU") or None


def default_logs() -> str:
    """``TVM_FUSION_LOGS``, else the shipped ``tuning_logs/`` beside the package."""
    value = os.environ.get("TVM_FUSION_LOGS")
    if value:
        return value
    return str(Path(__file__).resolve().parent.parent / "tuning_logs")

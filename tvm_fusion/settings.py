"""Every ``TVM_FUSION_*`` environment variable, read in this one place.

- ``TVM_FUSION_NUM_CORES``: cores the default target (and TVM's runtime thread pool, through
  ``TVM_NUM_THREADS`` unless that is set) uses; default: all cores of this machine.
- ``TVM_FUSION_MCPU``: LLVM CPU name for the default target; default: the host CPU.
- ``TVM_FUSION_LOGS``: the tuning records folder every command uses when not given
  ``--logs`` (``tune`` and ``batch`` write there; ``compile`` and ``demo`` read it
  first); default: ``~/.cache/tvm-fusion/tuning_logs`` (``$XDG_CACHE_HOME`` if set). The
  records shipped in the repository's ``tuning_logs/`` are read after it, never written
  (unless a command is given that folder with ``--logs``).
"""

from __future__ import annotations

import os
from pathlib import Path


def num_cores() -> int:
    value = os.environ.get("TVM_FUSION_NUM_CORES")
    return int(value) if value else (os.cpu_count() or 1)


def machine_memory() -> int:
    """Bytes of memory this process may use: physical memory, or a smaller cgroup limit."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


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


def shipped_logs() -> Path:
    """The records shipped in the repository's ``tuning_logs/``: read-only fallback."""
    return Path(__file__).resolve().parent.parent / "tuning_logs"


def write_logs(flag: str | None = None) -> Path:
    """The records folder a command tunes into: ``flag`` (``--logs``), else
    ``$TVM_FUSION_LOGS``, else the per-user ``~/.cache/tvm-fusion/tuning_logs``."""
    if flag:
        return Path(flag).expanduser()
    value = os.environ.get("TVM_FUSION_LOGS")
    if value:
        return Path(value).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "tvm-fusion" / "tuning_logs"


def read_logs(flag: str | None = None) -> tuple[str, ...]:
    """The records folders a command applies records from, in order: :func:`write_logs`,
    then the shipped records (the first folder holding records for a group decides)."""
    folders = [write_logs(flag), shipped_logs()]
    return tuple(dict.fromkeys(str(f) for f in folders))


def describe_logs(flag: str | None = None, *, writes: bool = False) -> str:
    """One line saying which records folders a command uses."""
    first, *rest = read_logs(flag)
    text = f"records: {first}" + (" (tuning writes here)" if writes else "")
    if rest:
        text += f", then {rest[0]} (shipped, read-only)"
    return text

"""The roofline data of a tuned group, stored in its records folder's ``manifest.json``.

When a group's tuning starts: its minimum traffic (every group input read once, every output
written once, a scatter's output in full) and this machine's copy bandwidth for a working set
of that size class (L2 up to 2 MiB, L3 up to 32 MiB, else DRAM): a short copy on one thread per
core, the best of a few, counting bytes read and written. Measured once per machine and size
class and cached in ``~/.cache/tvm-fusion/bandwidth.json`` (``$XDG_CACHE_HOME``). The report's
"% of roofline" is that traffic over that bandwidth, divided by the kernel's latency; a
read-dominated kernel can exceed 100 % (a copy's bandwidth is not an upper bound on reads:
``tvm_fusion/bench/roofline.py`` measures read and write bandwidths apart).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..settings import num_cores

LEVELS = (("L2", 2 << 20, 512 << 10), ("L3", 32 << 20, 8 << 20), ("DRAM", None, 128 << 20))


def level_of(nbytes: int) -> tuple[str, int]:
    """``(level, copy size)`` of the memory level a working set of ``nbytes`` lives in."""
    for name, limit, size in LEVELS:
        if limit is None or nbytes <= limit:
            return name, size
    raise AssertionError("unreachable")


def group_bytes(group) -> tuple[int, int]:
    """``(bytes read, bytes written)``: the group's inputs once, its outputs once."""
    read = sum(t.nbytes for t in group.inputs)
    return read, sum(t.nbytes for t in group.outputs)


def copy_bandwidth(level: str, size: int) -> float:
    """Bytes per second (read + written) of this machine's best copy of ``size`` bytes, on
    one thread per core; cached per machine and level."""
    from ..runtime.cpu import host_flags

    key = f"{host_flags()[1] or 'cpu'} / {num_cores()} cores / {level}"
    cache = _cache_path()
    cached = _read(cache)
    if key in cached:
        return cached[key]
    source = np.ones(size // 4, "float32")
    target = np.empty_like(source)
    cores = num_cores()
    bounds = [k * source.size // cores for k in range(cores + 1)]
    parts = [(target[a:b], source[a:b]) for a, b in itertools.pairwise(bounds)]
    best = float("inf")
    with ThreadPoolExecutor(cores) as pool:
        for _ in range(7 if size <= 8 << 20 else 3):
            start = time.perf_counter()
            list(pool.map(lambda p: np.copyto(*p), parts))
            best = min(best, time.perf_counter() - start)
    bandwidth = 2 * size / best
    cached[key] = bandwidth
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
        tmp.write_text(json.dumps(cached, indent=1))
        os.replace(tmp, cache)
    except OSError:  # a read-only home: measured again next time
        pass
    return bandwidth


def roofline(group) -> dict:
    """The roofline entry of ``group``'s manifest."""
    read, written = group_bytes(group)
    level, size = level_of(read + written)
    bandwidth = copy_bandwidth(level, size)
    return {"bytes_read": read, "bytes_written": written, "level": level,
            "bandwidth_bytes_per_s": bandwidth, "seconds": (read + written) / bandwidth,
            "method": f"copy of {size >> 10} KiB on {num_cores()} threads (best of a few)"}


def record_roofline(folder: Path, group) -> None:
    """Add ``roofline`` to ``folder/manifest.json`` unless it is there."""
    path = Path(folder) / "manifest.json"
    manifest = _read(path)
    if "roofline" in manifest:
        return
    manifest["roofline"] = roofline(group)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)


def _cache_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "tvm-fusion" / "bandwidth.json"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}

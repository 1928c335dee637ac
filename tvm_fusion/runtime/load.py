"""``tvm_fusion.load``: run an exported module, verified before any native code is loaded.

Order of the checks (each error says what is wrong and what to do):

1. the metadata is a tvm-fusion module's, of this format version, and unedited (its own
   ``content_sha256``); the library matches its recorded ``library_sha256`` (a truncated,
   damaged or swapped ``.so`` is never ``dlopen``ed: loading runs its code);
2. this CPU has every instruction set the code may use (``runtime/cpu.py``);
3. only then the TVM runtime library and the module are loaded.

A process that only loads needs numpy, ``tvm_ffi`` and TVM's runtime library
(``libtvm_runtime.so`` from the installed wheel): this module imports neither TVM's Python
package (its compiler, MetaSchedule) nor the graph builder, ONNX or XGBoost.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import tvm_ffi

from .cpu import check_cpu
from .executor import CompiledGraph
from .manifest import (
    ModuleFileError,
    donation,
    file_sha256,
    index_check,
    read_verified,
    signature,
)

_RUNTIME = []  # the loaded libtvm_runtime (once per process)


@dataclass(frozen=True)
class LoadedKernel:
    """One kernel of an exported module: what ``CompiledGraph`` needs, and its record."""

    function: object  # a tvm_ffi.Function of the library
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: tuple[str, ...]
    schedule: str
    notice: str | None
    record: str | None
    knobs: tuple
    trace: str
    latency_s: float


class LoadedModule(CompiledGraph):
    """A ``CompiledGraph`` whose kernels come from an exported library; ``metadata`` is its
    JSON, ``path`` its ``.so``."""

    metadata: dict
    path: Path

    def __repr__(self) -> str:
        return (f"LoadedModule({self.graph.name!r}, kernels={self.num_kernels}, "
                f"path={str(self.path)!r})")


def load(path, *, check_cpu_features: bool = True) -> LoadedModule:
    """Load a module written by :func:`tvm_fusion.export` (give its ``.so``, ``.json`` or
    stem): a callable with the call contract of ``tvm_fusion.compile``'s result.

    Raises ``ModuleFileError`` (a missing, edited, damaged or swapped file, another format
    version) or ``CpuFeatureError`` (this CPU lacks an instruction set the module may use;
    ``check_cpu_features=False`` skips that check, at the risk of an illegal instruction).
    """
    meta, library = read_verified(path)
    if check_cpu_features:
        check_cpu(meta["cpu"]["required"], _built_for(meta), str(library))
    _warn_versions(meta, library)
    _load_runtime()
    private = _private_copy(library, meta["library_sha256"])
    try:
        module = tvm_ffi.load_module(str(private))
    except Exception as err:  # noqa: BLE001 (any dlopen failure: the file and why, one line)
        raise ModuleFileError(f"{library}: the library could not be loaded: "
                              f"{str(err).splitlines()[0] if str(err) else err!r}") from None
    kernels = [LoadedKernel(module[k["function"]], tuple(k["inputs"]), tuple(k["outputs"]),
                            tuple(k["nodes"]), k["template"], k["notice"], k["record"],
                            tuple(k["knobs"]), k["trace"], k["latency_s"])
               for k in meta["kernels"]]
    loaded = LoadedModule(signature(meta), kernels,
                          [index_check(c) for c in meta["index_checks"]], meta["target"],
                          [donation(d) for d in meta["donations"]])
    loaded.metadata, loaded.path = meta, library
    return loaded


def _private_copy(library: Path, sha256: str) -> Path:
    """The verified library copied to a file named by its hash, checked again, for
    ``dlopen``: a process never re-opens an older library under a reused path (``dlopen`` hands
    back the handle it has for a path it has seen, and tvm_ffi keeps modules alive), and the
    file opened is the file checked, whatever happens to ``library`` meanwhile."""
    folder = Path(tempfile.gettempdir()) / f"tvm-fusion-modules-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    _check_private(folder)
    private = folder / f"{sha256}.so"
    if not private.is_file() or file_sha256(private) != sha256:
        tmp = folder / f".{sha256}.{os.getpid()}.tmp"
        shutil.copyfile(library, tmp)
        os.replace(tmp, private)
    if file_sha256(private) != sha256:
        raise ModuleFileError(f"{library} changed while it was being loaded: load it again")
    return private


def _check_private(folder: Path) -> None:
    """The folder libraries are opened from must be this user's alone: a folder of that name
    made by someone else (or a link to one) could swap the file between check and dlopen."""
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        what = ("is not a folder (a symbolic link?)" if not stat.S_ISDIR(info.st_mode) else
                f"belongs to uid {info.st_uid}" if info.st_uid != os.getuid() else
                f"is writable by others (mode {stat.S_IMODE(info.st_mode):o})")
        raise ModuleFileError(f"{folder} {what}: modules are loaded only from a folder of this "
                              "user's alone; remove it (or set TMPDIR to a private folder)")


def _built_for(meta: dict) -> str:
    cpu = meta["cpu"]
    on = cpu["built_on"]
    return f"-mcpu={cpu['mcpu']} on {on.get('model') or on.get('llvm_cpu')}"


def _warn_versions(meta: dict, library: Path) -> None:
    built = meta["versions"].get("tvm_ffi", "")
    if built.split(".")[:2] != tvm_ffi.__version__.split(".")[:2]:
        warnings.warn(f"{library} was built with tvm-ffi {built}; this process has "
                      f"{tvm_ffi.__version__}: if a call fails, export it again here",
                      stacklevel=3)


def _load_runtime() -> None:
    """TVM's runtime library, loaded globally so the module's calls into it (thread pool,
    workspace allocation) resolve; found in the installed ``tvm`` package without importing
    it."""
    if _RUNTIME:
        return
    spec = importlib.util.find_spec("tvm")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = Path(folder) / "lib" / "libtvm_runtime.so"
        if candidate.is_file():
            _RUNTIME.append(ctypes.CDLL(str(candidate), mode=ctypes.RTLD_GLOBAL))
            return
    raise ModuleFileError("TVM's runtime library (tvm/lib/libtvm_runtime.so) was not found: "
                          "install apache-tvm==0.27.0.post1 in this environment")

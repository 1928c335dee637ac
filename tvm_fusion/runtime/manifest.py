"""The exported module's metadata (``path.json``): its format, its seal, and what it describes.

``docs/export.md`` describes every field. Sealing: ``library_sha256`` is the sha256 of the
``.so``; ``content_sha256`` is the sha256 of the JSON's own content without that field
(serialised with sorted keys, no spaces), so an edited field is detected as surely as a
changed library. The seal detects accidents (truncation, a swapped or edited file), not a
forger who rewrites both hashes: it is a checksum, not a signature.

Pure Python and numpy (no TVM import): ``runtime/load.py`` verifies everything here before
it loads native code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes  # noqa: F401  (numpy's "bfloat16" for constants and signatures)
import numpy as np

from ..checks import Donation, IndexCheck

FORMAT = "tvm-fusion module"
FORMAT_VERSION = 1  # bump when a loader of the previous version could not run the new files


class ModuleFileError(ValueError):
    """An exported module is missing, damaged, edited, or of another format version."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class Signature:
    """What ``CompiledGraph`` needs of a graph, rebuilt from the metadata (no graph builder)."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    tensors: dict  # name -> TensorSpec: inputs, outputs and intermediates
    constants: dict  # name -> numpy array


def tensor_json(t) -> dict:
    return {"name": t.name, "shape": list(t.shape), "dtype": str(t.dtype)}


def spec(entry: dict) -> TensorSpec:
    return TensorSpec(entry["name"], tuple(int(d) for d in entry["shape"]), entry["dtype"])


def constant_json(name: str, value: np.ndarray) -> dict:
    data = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False)
    return {"name": name, "shape": list(value.shape), "dtype": str(value.dtype),
            "data_base64": base64.b64encode(data.tobytes()).decode("ascii")}


def constant(entry: dict) -> np.ndarray:
    dtype = np.dtype(entry["dtype"]).newbyteorder("<")
    raw = base64.b64decode(entry["data_base64"])
    return np.frombuffer(raw, dtype).astype(entry["dtype"]).reshape(entry["shape"])


def check_json(c: IndexCheck) -> dict:
    return {"scatter": c.scatter, "op": c.op, "data": c.data, "tensor": c.tensor,
            "bounds": list(c.bounds), "axes": list(c.axes)}


def index_check(entry: dict) -> IndexCheck:
    return IndexCheck(entry["scatter"], entry["op"], entry["data"], entry["tensor"],
                      tuple(entry["bounds"]), tuple(entry["axes"]))


def donation(entry: dict) -> Donation:
    return Donation(entry["input"], entry["scatter"], entry["output"])


def signature(meta: dict) -> Signature:
    inputs = tuple(spec(e) for e in meta["inputs"])
    outputs = tuple(spec(e) for e in meta["outputs"])
    tensors = {t.name: t for t in (*inputs, *outputs,
                                   *(spec(e) for e in meta["intermediates"]))}
    constants = {e["name"]: constant(e) for e in meta["constants"]}
    return Signature(meta["name"], inputs, outputs, tensors, constants)


# ----- the seal ----------------------------------------------------------------------------
def content_sha256(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k != "content_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sealed(meta: dict) -> str:
    """The JSON text of ``meta`` with its ``content_sha256`` (one field per line, lists of
    numbers on one line: readable and diffable)."""
    value = {**meta, "content_sha256": content_sha256(meta)}
    text = json.dumps(value, indent=1)
    compact = _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    if json.loads(compact) != value:  # the pattern met a string that looks like a list
        compact = text
    return compact + "\n"


_NUMBER_LIST = re.compile(r"\[\s*((?:-?[\d.e+-]+,\s*)*-?[\d.e+-]+)\s*\]")


def paths_of(path) -> tuple[Path, Path, Path]:
    """``(library .so, metadata .json, TVMScript .tir.py)`` of a module given as its ``.so``,
    its ``.json`` or the common stem."""
    text = str(path)
    for suffix in (".so", ".json", ".tir.py"):
        if text.endswith(suffix):
            text = text[:-len(suffix)]
            break
    return Path(text + ".so"), Path(text + ".json"), Path(text + ".tir.py")


def read_verified(path) -> tuple[dict, Path]:
    """``(metadata, library path)`` once the JSON's own hash, its format version and the
    library's hash all check out; else ``ModuleFileError`` saying what is wrong and what to
    do. Reads files only: nothing is loaded."""
    library, meta_path, _ = paths_of(path)
    if not meta_path.is_file():
        where = f"{library} exists but its metadata" if library.is_file() else "the module"
        raise ModuleFileError(f"{where} {meta_path} is missing: load takes the .so with the "
                              ".json tvm_fusion.export wrote beside it")
    try:
        meta = json.loads(meta_path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ModuleFileError(f"{meta_path} is not valid JSON ({err}): the file is damaged or "
                              "not an exported module's; export the module again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModuleFileError(f"{meta_path} is not a tvm-fusion module's metadata (no "
                              f"'format': '{FORMAT}'); load takes what tvm_fusion.export wrote")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModuleFileError(f"{meta_path} is format version {version}; this tvm-fusion reads "
                              f"format version {FORMAT_VERSION}: export the module again with "
                              "this tvm-fusion, or load it with the version that wrote it "
                              f"(tvm-fusion {meta.get('versions', {}).get('tvm_fusion', '?')})")
    if meta.get("content_sha256") != content_sha256(meta):
        raise ModuleFileError(f"{meta_path} was modified after export: its content does not "
                              "match its content_sha256; export the module again (or restore "
                              "the original file)")
    if not library.is_file():
        raise ModuleFileError(f"{library} is missing (its metadata {meta_path} is there): "
                              "copy the .so beside its .json")
    actual = file_sha256(library)
    if actual != meta["library_sha256"]:
        raise ModuleFileError(f"{library} does not match its metadata: sha256 {actual[:16]}..., "
                              f"expected {meta['library_sha256'][:16]}... (a truncated, "
                              "damaged, or another export's library): it is not loaded; "
                              "copy the .so that was exported with this .json")
    return meta, library


def example_inputs(inputs, checks, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs of the right shapes and dtypes (fixed seed): floats standard normal, scatter
    index inputs uniform over their valid range, other integers 0, booleans a fair coin."""
    rng = np.random.default_rng(seed)
    bounds = {c.tensor: min(c.bounds) for c in checks}
    arrays = {}
    for t in inputs:
        if t.name in bounds:
            arrays[t.name] = rng.integers(0, bounds[t.name], t.shape).astype(t.dtype)
        elif t.dtype.startswith(("int", "uint")):
            arrays[t.name] = np.zeros(t.shape, t.dtype)
        elif t.dtype == "bool":
            arrays[t.name] = rng.random(t.shape) < 0.5
        else:
            arrays[t.name] = rng.standard_normal(t.shape).astype(t.dtype)
    return arrays

"""tvm-fusion: fuse chains of small tensor ops into single TVM kernels, and tune them."""

from __future__ import annotations

import importlib

from . import settings

settings.configure_thread_pool()  # before TVM's thread pool exists (see settings)

from . import reference, workloads
from .fuse import FusionGroup, fuse
from .graph import Graph, GraphError, Node, Tensor
from .runtime.memory import aligned, empty

__version__ = "0.1.0"

# these import TVM (~1 s): loaded on first use, so `import tvm_fusion` stays light
_LAZY = {
    "compile": ("tvm_fusion.compiler", "compile"),
    "analysis": ("tvm_fusion.analysis", None),
    "from_onnx": ("tvm_fusion.frontends", "from_onnx"),
    "tune": ("tvm_fusion.tuning", "tune"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        return getattr(module, attr) if attr else module
    raise AttributeError(f"module 'tvm_fusion' has no attribute {name!r}")


__all__ = [
    "FusionGroup",
    "Graph",
    "GraphError",
    "Node",
    "Tensor",
    "__version__",
    "aligned",
    "analysis",
    "compile",
    "empty",
    "from_onnx",
    "fuse",
    "reference",
    "tune",
    "workloads",
]

"""tvm-fusion: fuse chains of small tensor ops into single TVM kernels, and tune them."""

from __future__ import annotations

import importlib

from . import settings

settings.configure_thread_pool()  # before TVM's thread pool exists (see settings)

from .runtime.memory import aligned, empty

__version__ = "0.1.0"

# Loaded on first use: `import tvm_fusion` imports only numpy, so `tvm_fusion.load` runs an
# exported module in a process that never imports the graph builder, TVM's compiler or
# MetaSchedule (tests/runtime/test_export.py checks sys.modules)
_LAZY = {
    "Graph": ("tvm_fusion.graph", "Graph"),
    "GraphError": ("tvm_fusion.graph", "GraphError"),
    "InputError": ("tvm_fusion.checks", "InputError"),
    "OnnxImportError": ("tvm_fusion.frontends", "OnnxImportError"),
    "Node": ("tvm_fusion.graph", "Node"),
    "Tensor": ("tvm_fusion.graph", "Tensor"),
    "FusionGroup": ("tvm_fusion.fusion", "FusionGroup"),
    "fuse": ("tvm_fusion.fusion", "fuse"),
    "reference": ("tvm_fusion.reference", None),
    "workloads": ("tvm_fusion.workloads", None),
    "compile": ("tvm_fusion.compiler", "compile"),
    "analysis": ("tvm_fusion.analysis", None),
    "from_onnx": ("tvm_fusion.frontends", "from_onnx"),
    "tune": ("tvm_fusion.tuning", "tune"),
    "export": ("tvm_fusion.runtime.export", "export"),
    "load": ("tvm_fusion.runtime.load", "load"),
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
    "InputError",
    "Node",
    "OnnxImportError",
    "Tensor",
    "__version__",
    "aligned",
    "analysis",
    "compile",
    "empty",
    "export",
    "from_onnx",
    "fuse",
    "load",
    "reference",
    "tune",
    "workloads",
]

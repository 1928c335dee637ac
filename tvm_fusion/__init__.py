"""tvm-fusion: fuse chains of small tensor ops into single TVM kernels, and tune them."""

from __future__ import annotations

from .graph import Graph, GraphError, Node, Tensor

__version__ = "0.1.0"


def __getattr__(name):  # keep `import tvm_fusion` light: TVM loads on first use
    if name == "compile":
        from .compiler import compile

        return compile
    if name == "workloads":
        from . import workloads

        return workloads
    if name == "reference":
        from . import reference

        return reference
    raise AttributeError(f"module 'tvm_fusion' has no attribute {name!r}")


__all__ = ["Graph", "GraphError", "Node", "Tensor", "compile", "workloads", "reference",
           "__version__"]

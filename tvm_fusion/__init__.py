"""tvm-fusion: fuse chains of small tensor ops into single TVM kernels, and tune them."""

from __future__ import annotations

import importlib

from . import reference, workloads
from .fuse import FusionGroup, fuse
from .graph import Graph, GraphError, Node, Tensor

__version__ = "0.1.0"

_LAZY = {"compile": "tvm_fusion.compiler"}  # these import TVM (~1 s): load on first use


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tvm_fusion' has no attribute {name!r}")


__all__ = ["FusionGroup", "Graph", "GraphError", "Node", "Tensor", "compile", "fuse",
           "workloads", "reference", "__version__"]

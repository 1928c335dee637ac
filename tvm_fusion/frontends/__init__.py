"""Model importers: ``from_onnx(model_or_path) -> Graph``."""

from __future__ import annotations

from .onnx import SUPPORTED_OPS, OnnxImportError, from_onnx, static_inputs

__all__ = ["SUPPORTED_OPS", "OnnxImportError", "from_onnx", "static_inputs"]

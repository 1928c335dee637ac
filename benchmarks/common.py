"""Shared by the benchmark scripts (run as ``python benchmarks/<name>.py``)."""

from tvm_fusion.bench.report import markdown_table

__all__ = ["markdown_table"]

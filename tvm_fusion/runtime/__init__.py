"""What runs a compiled graph: the executor (the public call), memory helpers.

Imported lazily by ``tvm_fusion/__init__.py``; nothing here is needed to build a graph.
"""

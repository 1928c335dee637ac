"""Schedule templates (installed as ``tvm_fusion.schedules``).

One module per pattern. Each template offers ``apply(sch, *, cores, vector_bytes)`` that
mutates an ``s_tir.Schedule`` in place. ``simple`` is the per-op default schedule used by
``tvm_fusion.compile`` today.
"""

from . import simple

__all__ = ["simple"]

"""Schedule templates (installed as ``tvm_fusion.schedules``).

One module per fusion pattern, tried in order, first match wins; ``fallback`` always
matches. A template defines ``NAME``, ``matches(ctx)`` and ``apply(sch, ctx)`` (see
``base.py``). ``simple`` is the per-op default schedule (``compile(fuse=False)``).
"""

from __future__ import annotations

from . import fallback, injective, reduction_rooted, row_reduction, scatter_terminated, simple
from .base import Knob, KnobError, TemplateContext

TEMPLATES = (scatter_terminated, row_reduction, reduction_rooted, injective, fallback)


def choose(ctx: TemplateContext):
    """The first template whose ``matches`` accepts the group."""
    return next(t for t in TEMPLATES if t.matches(ctx))


def by_name(name: str):
    for t in TEMPLATES:
        if t.NAME == name:
            return t
    raise KeyError(f"unknown template {name!r}; known: {', '.join(t.NAME for t in TEMPLATES)}")


__all__ = ["TEMPLATES", "Knob", "KnobError", "TemplateContext", "by_name", "choose", "fallback", "injective",
           "reduction_rooted", "row_reduction", "scatter_terminated", "simple"]

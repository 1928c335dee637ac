"""Fallback: any group. Every block keeps its own loop nest and gets the simple schedule
(parallel outer spatial axis, vectorised inner axis; see ``simple.py``). Intermediates stay in
function-local buffers, so this is correct everywhere and fast nowhere in particular."""

from __future__ import annotations

from tvm_fusion.schedules import simple
from tvm_fusion.schedules.base import TemplateContext

NAME = "fallback"


def mismatch(ctx: TemplateContext) -> str | None:
    return None  # any group


def matches(ctx: TemplateContext) -> bool:
    return mismatch(ctx) is None


def apply(sch, ctx: TemplateContext) -> None:
    simple.apply(sch, cores=ctx.cores, vector_bytes=ctx.vector_bytes)

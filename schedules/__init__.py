"""Schedule templates (installed as ``tvm_fusion.schedules``).

One module per fusion pattern, tried in order, first match wins; ``fallback`` always
matches. A template defines ``NAME``, ``mismatch(ctx)`` (``None`` when it applies, else a
one-line reason), ``matches(ctx)`` (``mismatch(ctx) is None``) and ``apply(sch, ctx)`` (see
``base.py``). ``simple`` is the per-op default schedule (``compile(fuse=False)``).
"""

from __future__ import annotations

from . import fallback, injective, reduction_rooted, row_reduction, scatter_terminated, simple
from .base import Knob, KnobError, TemplateContext, TemplateMismatch

TEMPLATES = (scatter_terminated, row_reduction, reduction_rooted, injective, fallback)


def choose(ctx: TemplateContext):
    """The first template whose ``matches`` accepts the group."""
    return next(t for t in TEMPLATES if t.matches(ctx))


def by_name(name: str):
    for t in TEMPLATES:
        if t.NAME == name:
            return t
    raise KeyError(f"unknown template {name!r}; known: {', '.join(t.NAME for t in TEMPLATES)}")


def mismatch_reason(template, ctx: TemplateContext) -> str | None:
    """Why ``template`` does not apply to the group, in one line; ``None`` when it does.

    Uses the template's ``mismatch(ctx)`` when it defines one, else its ``matches(ctx)``; a
    user template with neither (only ``apply``) always applies.
    """
    mismatch = getattr(template, "mismatch", None)
    if callable(mismatch):
        return mismatch(ctx)
    matches = getattr(template, "matches", None)
    if callable(matches) and not matches(ctx):
        return f"{getattr(template, 'NAME', 'custom')}: its matches() returned False"
    return None


def check_forced(template, ctx: TemplateContext, group: str) -> None:
    """Raise :class:`TemplateMismatch` when a forced ``template`` does not apply to ``group``.

    A forced template that does not match would leave the group partly unscheduled (say, its
    reduction), silently; the message names the template that does match.
    """
    reason = mismatch_reason(template, ctx)
    if reason is not None:
        name = getattr(template, "NAME", "custom")
        raise TemplateMismatch(
            f"template '{name}' does not apply to group {group}: "
            f"{reason.removeprefix(f'{name}: ')}. The template that matches this group is "
            f"'{choose(ctx).NAME}' (chosen when no template is forced)")


__all__ = ["TEMPLATES", "Knob", "KnobError", "TemplateContext", "TemplateMismatch", "by_name",
           "check_forced", "choose", "fallback", "injective", "mismatch_reason",
           "reduction_rooted", "row_reduction", "scatter_terminated", "simple"]

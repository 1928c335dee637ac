"""The search's pieces around MetaSchedule: the template as a design space, the cost model and
its warm start, knob names of a trace, and MetaSchedule's console kept quiet (``tuner.py``)."""

from __future__ import annotations

import logging

from ..describe import template_context
from ..fusion import FusionGroup
from .mutator import MutateTemplateDecision, as_decisions, trace_decisions
from .records import is_measured

MUTATOR_PROBS = {"tile": 0.5, "template": 0.5}  # MutateTileSize vs MutateTemplateDecision


def template_space(group: FusionGroup, target, template, seed: int = 0):
    """The template as MetaSchedule's design space, with explicit postprocs and mutators."""
    from tvm.s_tir import meta_schedule as ms

    def apply_template(sch, replay=()) -> None:
        template.apply(sch, template_context(group, target, tuning=True, replay=replay))

    return ms.space_generator.ScheduleFn(
        apply_template,
        sch_rules=[],
        postprocs=[ms.postproc.DisallowDynamicLoop(),
                   ms.postproc.RewriteParallelVectorizeUnroll(),
                   ms.postproc.RewriteReductionBlock()],
        mutator_probs={ms.mutator.MutateTileSize(): MUTATOR_PROBS["tile"],
                       MutateTemplateDecision(apply_template, seed): MUTATOR_PROBS["template"]},
    )


def cost_model(warmup: int):
    """XGBoost cost model that ranks candidates once it has seen ``warmup`` results."""
    from tvm.s_tir import meta_schedule as ms

    return ms.cost_model.XGBModel(num_warmup_samples=warmup)


def warm_start(model, database, mod, target, space) -> int:
    """Train ``model`` on the measured records in ``database``; returns how many."""
    from tvm.s_tir import meta_schedule as ms

    if not database.has_workload(mod):
        return 0
    records = database.get_top_k(database.commit_workload(mod), 1 << 30)
    records = [r for r in records if is_measured(r.run_secs)]
    if not records:
        return 0
    context = ms.TuneContext(mod=mod, target=target, space_generator=space,
                             task_name="main", num_threads=1)
    model.update(context, [r.as_measure_candidate() for r in records],
                 [ms.runner.RunnerResult(run_secs=r.run_secs, error_msg=None)
                  for r in records])
    return len(records)


def replay(group: FusionGroup, target, template, mod, decisions):
    """``(schedule, context)``: the template run on ``mod`` with ``decisions`` (a trace's
    sampling decisions, in order) forced; ``ValueError`` when it does not reproduce them (a
    trace down another branch of the template, or of a target whose template samples other
    values)."""
    from tvm import s_tir

    decisions = as_decisions(decisions)
    ctx = template_context(group, target, tuning=True, replay=tuple(decisions))
    sch = s_tir.Schedule(mod)
    template.apply(sch, ctx)
    if trace_decisions(sch.trace) != decisions:
        raise ValueError("the template does not reproduce this trace's decisions")
    return sch, ctx


def knob_values(group: FusionGroup, target, template, mod, trace) -> dict[str, int]:
    """A trace's decisions by knob name (``replay``; ``ValueError`` when the template does
    not reproduce them: the caller logs the raw decisions)."""
    _, ctx = replay(group, target, template, mod, trace_decisions(trace))
    return {knob.name: knob.value for knob in ctx.knobs}


def quiet_metaschedule_console() -> None:
    """MetaSchedule logs every round to stdout; keep that in its work-dir log files.

    Also drop unnamed handlers (pytest adds some): MetaSchedule rebuilds its logging config
    from handler names on every ``tune_tir`` and crashes on a ``None`` name.
    """
    logger = logging.getLogger("tvm.s_tir.meta_schedule")
    logger.handlers = [h for h in logger.handlers if h.get_name()]
    if logger.level in (logging.NOTSET, logging.DEBUG, logging.INFO):
        logger.setLevel(logging.WARNING)

"""A template-aware mutator: change one decision, then re-run the template.

MetaSchedule's mutators change a decision in the trace and *replay the recorded
instructions*; they never re-run the template's Python. A decision that steers that Python
(``parallel_depth`` picks how many loops ``fuse`` takes; a tile's width decides whether the
template vectorises) is then consumed by nothing, and ``MutateTileSize`` only touches
``sample_perfect_tile`` anyway. This mutator picks one sampling instruction of the trace,
gives it a new value (another category, or a fresh random tile), and re-runs the template
with the other decisions forced (``TemplateContext.replay``), so everything downstream of the
changed decision follows it. The result is a new trace MetaSchedule replays as usual.
"""

from __future__ import annotations

import random

from tvm import s_tir
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.mutator import PyMutator

SAMPLE_KINDS = ("SamplePerfectTile", "SampleCategorical")


def trace_decisions(trace) -> list:
    """The decisions of ``trace``'s sampling instructions, in order, as Python values."""
    decisions = []
    for inst in trace.insts:
        if inst.kind.name not in SAMPLE_KINDS:
            continue
        value = trace.decisions[inst]
        if inst.kind.name == "SamplePerfectTile":
            decisions.append(tuple(int(v) for v in value))
        else:
            decisions.append(int(value))
    return decisions


def as_decisions(values) -> list:
    """Decisions read back from JSON (``trials.jsonl``: tiles as lists) in
    :func:`trace_decisions`'s form (tiles as tuples), so the two compare equal."""
    return [tuple(v) if isinstance(v, list | tuple) else v for v in values]


def _categories(trace) -> list:
    """Per sampling instruction: how many categories (None for a tile)."""
    return [len(inst.attrs[0]) if inst.kind.name == "SampleCategorical" else None
            for inst in trace.insts if inst.kind.name in SAMPLE_KINDS]


@derived_object
class MutateTemplateDecision(PyMutator):
    """Re-sample one decision of a template's trace and re-run the template."""

    def __init__(self, apply_template, seed: int = 0) -> None:
        """``apply_template(sch, replay)`` applies the template in tuning mode."""
        super().__init__()
        self.apply_template = apply_template
        self.rng = random.Random(seed)
        self.mod = None

    def _initialize_with_tune_context(self, context) -> None:
        self.mod = context.mod

    def apply(self, trace, _):
        decisions = trace_decisions(trace)
        categories = _categories(trace)
        choices = [i for i, c in enumerate(categories) if c is None or c > 1]
        if not choices or self.mod is None:
            return None
        for _attempt in range(4):
            k = self.rng.choice(choices)
            replay = list(decisions)
            if categories[k] is None:
                replay[k] = None  # a fresh random tile
            else:
                replay[k] = self.rng.choice([c for c in range(categories[k]) if c != replay[k]])
            sch = s_tir.Schedule(self.mod, seed=self.rng.randrange(1, 1 << 30))
            try:
                self.apply_template(sch, tuple(replay))
            except Exception:  # noqa: BLE001, S112 - an impossible combination: MetaSchedule retries
                continue
            if trace_decisions(sch.trace) != decisions:
                return sch.trace
        return None

    def clone(self):
        return MutateTemplateDecision(self.apply_template, self.rng.randrange(1 << 30))

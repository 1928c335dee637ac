"""The search strategy of a round (``search.py``): MetaSchedule's evolutionary search, asked
only for candidates never measured, and filled up with random schedules of the template when
its population has converged on measured ones.

Each ``tune_tir`` call (one per round) starts MetaSchedule's evolutionary search afresh: it
knows nothing measured (its own TODO in ``evolutionary_search.cc``) and seeds the population
with the database's best records, so a round re-measured them (seen: 3 of a round of 3).
:class:`UnmeasuredSearch` asks it again, up to ``ATTEMPTS`` times (each answer is new to it),
until the round is full of candidates never measured.

Its population can still converge: on P5 (rocketlake, seed 1) every candidate it proposed after
62 trials was measured, in a space of thousands of points (row_tile 10 choices x
transpose_tile 7 x vector up to 7 x ...), and the search stopped as if the space were
exhausted. The rest of such a round is now drawn at random from the template (the round's
design space generator, ``space.template_space``, re-runs the template's Python with fresh
decisions from the round's seed; then MetaSchedule's postprocessors, as the evolutionary search
applies them): exploration where the search had none left. Only when ``EXPLORE_DRAWS`` random
draws per wanted candidate find nothing new is the space taken as fully measured. Most runs
never need it (``docs/tuning-notes.md``).
"""

from __future__ import annotations

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy

from .trials import record_key

EXPLORE_DRAWS = 16  # random template draws per candidate still wanted


@derived_object
class UnmeasuredSearch(PySearchStrategy):
    """A search strategy proposing only candidates not measured yet (``seen``: the keys of
    the records, shared with ``CommitRound``); ``explore``: fill a round the search left
    short with schedules the template's design space draws at random. ``explored``: how many
    candidates the fill proposed, counted across clones (``tune_tir`` runs a clone of its
    context: the strategy given is not the one asked)."""

    ATTEMPTS = 4

    def __init__(self, inner, seen: set[str], explore: bool = True,
                 drawn: list | None = None) -> None:
        super().__init__()
        self.inner, self.seen, self.wanted, self.explore = inner, seen, 0, explore
        self.context = None
        self.drawn = [] if drawn is None else drawn  # keys drawn, shared with clones

    @property
    def explored(self) -> int:
        return len(self.drawn)

    def _initialize_with_tune_context(self, context) -> None:
        self.context = context
        self.inner._initialize_with_tune_context(context)

    def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database=None,
                   cost_model=None) -> None:
        self.wanted = num_trials_per_iter
        self.inner.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database,
                              cost_model)

    def post_tuning(self) -> None:
        self.inner.post_tuning()

    def generate_measure_candidates(self):
        picked, keys = [], set()
        for _ in range(self.ATTEMPTS):
            candidates = self.inner.generate_measure_candidates()
            if not candidates:
                break
            for candidate in candidates:
                key = record_key(candidate)
                if key not in self.seen and key not in keys:
                    keys.add(key)
                    picked.append(candidate)
            if len(picked) >= self.wanted:
                break
        if len(picked) < self.wanted:
            picked += self._random(self.wanted - len(picked), keys)
        return picked[:self.wanted] or None  # None: the space holds nothing new

    def _random(self, wanted: int, keys: set) -> list:
        """Up to ``wanted`` random schedules of the template, postprocessed, never measured
        nor in ``keys`` (updated)."""
        from tvm.s_tir import meta_schedule as ms

        if not self.explore or self.context is None:
            return []
        mod, space = self.context.mod, self.context.space_generator
        args_info = ms.arg_info.ArgInfo.from_prim_func(mod["main"])
        found = []
        for _ in range(EXPLORE_DRAWS * wanted):
            if len(found) == wanted:
                break
            try:
                (sch,) = space.generate_design_space(mod)  # the template, decisions at random
                sch.enter_postproc()
                if not all(p.apply(sch) for p in space.postprocs or ()):
                    continue  # a postprocessor refused it, as MetaSchedule's search drops it
            except Exception:  # noqa: BLE001, S112 - an impossible combination: draw again
                continue
            candidate = ms.MeasureCandidate(sch, args_info)
            key = record_key(candidate)
            if key not in self.seen and key not in keys:
                keys.add(key)
                self.drawn.append(key)
                found.append(candidate)
        return found

    def notify_runner_results(self, measure_candidates, results) -> None:
        self.inner.notify_runner_results(measure_candidates, results)

    def clone(self):
        return UnmeasuredSearch(self.inner.clone(), self.seen, self.explore, self.drawn)

"""The search strategy: a round the evolutionary search leaves short (its population converged
on schedules measured already) is filled with random schedules of the template, none measured
before, each computing the right result; only a fill that finds nothing ends the search."""

import numpy as np
import pytest
import tvm
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy

from tests.helpers import template_setting
from tvm_fusion import workloads
from tvm_fusion.tuning.measure import build_kernel
from tvm_fusion.tuning.space import template_space
from tvm_fusion.tuning.strategy import UnmeasuredSearch
from tvm_fusion.tuning.trials import record_key

WORKLOAD = "P5s"  # row-reduction with a transposed output: six knobs, thousands of points


@derived_object
class MeasuredOnly(PySearchStrategy):
    """What a converged evolutionary search proposes round after round: schedules measured
    already (the population seeded with the database's best, every mutation measured)."""

    def __init__(self, measured) -> None:
        self.measured = measured

    def _initialize_with_tune_context(self, context) -> None:
        pass

    def pre_tuning(self, *args) -> None:
        pass

    def post_tuning(self) -> None:
        pass

    def generate_measure_candidates(self):
        return list(self.measured)

    def notify_runner_results(self, *args) -> None:
        pass

    def clone(self):
        return MeasuredOnly(self.measured)


@pytest.fixture(scope="module")
def setting():
    return template_setting(WORKLOAD)


def _strategy(setting, explore: bool, wanted: int = 8):
    group, template, mod, target, _, _ = setting
    space = template_space(group, target, template)
    args_info = ms.arg_info.ArgInfo.from_prim_func(mod["main"])
    drawn = ms.TuneContext(mod=mod, target=target, space_generator=space, rand_state=1)
    measured = [ms.MeasureCandidate(drawn.space_generator.generate_design_space(mod)[0],
                                    args_info) for _ in range(3)]
    seen = {record_key(c) for c in measured}
    strategy = UnmeasuredSearch(MeasuredOnly(measured), seen, explore)
    context = ms.TuneContext(mod=mod, target=target, task_name="main", num_threads=1,
                             space_generator=template_space(group, target, template),
                             search_strategy=strategy, rand_state=5).clone()  # as tune_tir
    context.search_strategy.pre_tuning(wanted, wanted, [], None, None)
    return strategy, context, seen


def test_a_round_the_search_left_short_is_filled_with_random_unmeasured_schedules(setting):
    _, _, _, target, arrays, _ = setting
    strategy, context, seen = _strategy(setting, explore=True)
    candidates = context.generate_measure_candidates()  # asked of tune_tir's clone
    keys = [record_key(c) for c in candidates]
    assert len(candidates) == 8 == strategy.explored  # a full round, all of it drawn, counted
    assert len(set(keys)) == 8 and not set(keys) & seen
    assert all(any(i.kind.name == "EnterPostproc" for i in c.sch.trace.insts)
               for c in candidates), "postprocessed as MetaSchedule's search does"
    expected = workloads.reference(WORKLOAD, arrays)
    for candidate in candidates:
        out = tvm.runtime.tensor(np.zeros(expected.shape, expected.dtype))
        build_kernel(candidate.sch.mod, target)["main"](tvm.runtime.tensor(arrays["x"]), out)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5,
                                   err_msg=str(candidate.sch.trace))


def test_without_the_fill_a_converged_search_ends_the_round_with_nothing(setting):
    strategy, context, _ = _strategy(setting, explore=False)
    assert context.generate_measure_candidates() is None  # what tune took as "exhausted"
    assert strategy.explored == 0

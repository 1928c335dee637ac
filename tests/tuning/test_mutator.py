"""The template-aware mutator: a mutated categorical knob changes the schedule (a replayed trace
would not), and mutated schedules still compute the right result."""

import numpy as np
import pytest
import tvm
import tvm_ffi
from tvm import s_tir

from tests.helpers import template_setting
from tvm_fusion import workloads
from tvm_fusion.build import template_context
from tvm_fusion.tuning.mutator import MutateTemplateDecision, trace_decisions

WORKLOAD = "W1s"  # reduce over a non-contiguous axis: a vector tile and a parallel depth


@pytest.fixture(scope="module")
def setting():
    group, template, mod, target, arrays, graph = template_setting(WORKLOAD)

    def apply_template(sch, replay=()):
        template.apply(sch, template_context(group, target, tuning=True, replay=replay))

    return graph, arrays, mod, apply_template, target


def _schedule(mod, apply_template, replay):
    sch = s_tir.Schedule(mod, seed=1)
    apply_template(sch, replay)
    return sch


def test_replay_forces_decisions_in_sampling_order(setting):
    _, _, mod, apply_template, _ = setting
    sch = _schedule(mod, apply_template, ((4, 8), 0))
    assert trace_decisions(sch.trace) == [(4, 8), 0]
    sch = _schedule(mod, apply_template, ((4, 8), 2))
    assert trace_decisions(sch.trace) == [(4, 8), 2]


def test_mutated_parallel_depth_changes_the_schedule_where_a_replay_does_not(setting):
    _, _, mod, apply_template, _ = setting
    base = _schedule(mod, apply_template, ((4, 8), 0))
    mutator = MutateTemplateDecision(apply_template, seed=3)
    mutator.mod = mod  # what _initialize_with_tune_context sets from the TuneContext
    mutated = None
    for _ in range(50):
        trace = mutator.apply(base.trace)
        if trace is not None and trace_decisions(trace)[1] != 0 and \
                trace_decisions(trace)[0] == (4, 8):
            mutated = trace
            break
    assert mutated is not None, "the mutator never changed the categorical knob"
    sch = s_tir.Schedule(mod)
    mutated.apply_to_schedule(sch, remove_postproc=True)
    assert not tvm_ffi.structural_equal(sch.mod, base.mod)  # other loops fused
    # MetaSchedule's own way: change the decision in the trace and replay the instructions.
    inst = [i for i in base.trace.insts if i.kind.name == "SampleCategorical"][0]
    replayed = s_tir.Schedule(mod)
    base.trace.with_decision(inst, trace_decisions(mutated)[1], remove_postproc=True) \
        .apply_to_schedule(replayed, remove_postproc=True)
    assert tvm_ffi.structural_equal(replayed.mod, base.mod)  # the new value is unused


def test_mutated_schedules_compute_the_right_result(setting):
    graph, arrays, mod, apply_template, target = setting
    mutator = MutateTemplateDecision(apply_template, seed=7)
    mutator.mod = mod
    expected = workloads.reference(WORKLOAD, arrays)
    trace = _schedule(mod, apply_template, ((4, 8), 1)).trace
    seen = set()
    for _ in range(4):
        trace = mutator.apply(trace) or trace
        decisions = tuple(trace_decisions(trace))
        if decisions in seen:
            continue
        seen.add(decisions)
        sch = s_tir.Schedule(mod)
        trace.apply_to_schedule(sch, remove_postproc=True)
        function = tvm.compile(sch.mod, target=target)["main"]
        out = tvm.runtime.tensor(np.zeros(expected.shape, expected.dtype))
        function(tvm.runtime.tensor(arrays["x"]), out)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5,
                                   err_msg=str(decisions))
    assert len(seen) >= 2

"""The explorer's Python API: schedule, trace, knobs, check and timing for a group."""

import types
from pathlib import Path

import pytest

import tvm_fusion as tf
from tvm_fusion import schedules, workloads
from tvm_fusion.build import template_context
from tvm_fusion.apps.explore import explore, load_template
from tvm_fusion.fusion import fuse
from tvm_fusion.target import host_target


def test_explore_api_returns_schedule_trace_knobs_and_timing():
    result = explore("W5s", decisions={"core_chunk": 16}, repeat=2)
    (kernel,) = result.kernels
    assert result.ok and result.max_error < 1e-3
    assert kernel.schedule == "scatter-terminated"
    assert "sample_perfect_tile" in kernel.trace
    assert {k.name: k.value for k in kernel.knobs}["core_chunk"] == 16
    assert "T.vectorized" in kernel.scheduled.script()
    assert 'T.sblock("add_0")' in result.before[0].script()
    assert result.seconds > 0 and result.numpy_seconds > 0


def test_explore_a_hand_built_graph_with_a_forced_template():
    g = tf.Graph()
    x = g.input("x", (13, 61), "float32")
    g.output(g.exp(g.neg(x)))
    result = explore(g, template="fallback", repeat=2)
    assert result.ok and result.kernels[0].schedule == "fallback"


def test_explore_shows_the_groups_compile_built_even_with_a_dead_branch():
    g = tf.Graph()
    x = g.input("x", (7, 13), "float32")
    g.exp(x)  # dead: not an output, so compile builds no kernel for it
    g.output(g.relu(g.neg(x)))
    result = explore(g, repeat=2)
    assert len(result.before) == len(result.kernels) == 1
    assert "exp" not in result.before[0].script()


def _softmax():
    g = tf.Graph()
    x = g.input("x", (13, 61), "float32")
    shifted = g.exp(g.sub(x, g.reduce_max(x, axes=[1])))
    g.output(g.div(shifted, g.reduce_sum(shifted, axes=[1])))
    return g


def test_a_forced_template_that_does_not_match_raises_with_the_reason():
    with pytest.raises(schedules.TemplateMismatch) as err:
        explore("W1s", template="injective", repeat=1)
    message = str(err.value)
    assert "template 'injective' does not apply to group reduce_sum+transpose" in message
    assert "1 reduction (reduce_sum 'reduce_sum_0')" in message
    assert "matches this group is 'reduction-rooted'" in message
    with pytest.raises(ValueError, match=r"2 reductions \(reduce_max 'reduce_max_0', "
                                         r"reduce_sum 'reduce_sum_3'\); this template handles "
                                         r"exactly one"):
        tf.compile(_softmax(), template=schedules.reduction_rooted)


def test_every_shipped_template_says_why_it_does_not_match():
    ctx = template_context(fuse(_softmax())[0], host_target())
    reasons = {t.NAME: schedules.mismatch_reason(t, ctx) for t in schedules.TEMPLATES}
    assert reasons["reduction-rooted"] == (
        "reduction-rooted: the group has 2 reductions (reduce_max 'reduce_max_0', reduce_sum "
        "'reduce_sum_3'); this template handles exactly one")
    assert reasons["fallback"] is None
    for template in schedules.TEMPLATES:
        reason = reasons[template.NAME]
        assert template.matches(ctx) == (reason is None)
        assert reason is None or (reason.startswith(f"{template.NAME}: ") and "\n" not in reason)
    chosen = schedules.choose(ctx)
    assert reasons[chosen.NAME] is None


def test_user_templates_with_only_matches_or_neither(tmp_path):
    ctx = template_context(fuse(workloads.graph("W3s"))[0], host_target())
    only_matches = types.SimpleNamespace(NAME="mine", matches=lambda ctx: False)
    assert schedules.mismatch_reason(only_matches, ctx) == "mine: its matches() returned False"
    assert schedules.mismatch_reason(types.SimpleNamespace(NAME="any"), ctx) is None
    path = tmp_path / "picky.py"
    path.write_text("def matches(ctx):\n    return False\n\ndef apply(sch, ctx):\n    pass\n")
    with pytest.raises(schedules.TemplateMismatch,
                       match="template 'picky' does not apply to group transpose\\+add: its "
                             "matches\\(\\) returned False.*'injective'"):
        explore("W3s", template=str(path), repeat=1)


def test_a_template_file_is_loaded_inside_the_schedules_package(tmp_path):
    source = Path(schedules.injective.__file__).read_text()
    path = tmp_path / "my-copy.py"
    path.write_text(source.replace('NAME = "injective"', 'NAME = "copy"')
                    .replace("from tvm_fusion.schedules.base import", "from .base import"))
    module = load_template(str(path))
    assert module.__name__ == "tvm_fusion.schedules._user_my_copy"
    assert module.__package__ == "tvm_fusion.schedules" and module.NAME == "copy"
    result = explore("W3s", template=str(path), repeat=1)
    assert result.ok and result.kernels[0].schedule == "copy"

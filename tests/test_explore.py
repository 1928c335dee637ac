"""The explorer's Python API: schedule, trace, knobs, check and timing for a group."""

import tvm_fusion as tf
from tvm_fusion.explore import explore


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

"""The tuner measures what the call runs: in-range index inputs, and a record is applied
only when it beat the default schedule in process (real builds and runs, tiny budgets)."""

import json

import numpy as np
import pytest
import tvm
from tvm import s_tir
from tvm.s_tir import meta_schedule as ms

import tvm_fusion as tf
from tvm_fusion import schedules, workloads
from tvm_fusion.build import template_context
from tvm_fusion.fusion import fuse
from tvm_fusion.lower import lower
from tvm_fusion.target import host_target
from tvm_fusion.tuning import record_dir, tune
from tvm_fusion.tuning.measure import kernel_arguments
from tvm_fusion.tuning.records import VERDICT_FILE, open_database, write_manifest
from tvm_fusion.tuning.verify import check_in_process, group_arguments, unique_positions


@pytest.mark.parametrize("bounds, shape", [((7,), (5,)), ((7,), (3, 2)), ((3, 5), (4, 2)),
                                           ((11,), (1,))])
def test_unique_positions_are_in_range_and_distinct(rng, bounds, shape):
    values = unique_positions(rng, bounds, shape)
    assert values.shape == shape and values.dtype == np.int64
    rows = values.reshape(-1, len(bounds)) if len(bounds) > 1 else values.reshape(-1, 1)
    assert np.all(rows >= 0) and np.all(rows < np.asarray(bounds))
    assert len({tuple(r) for r in rows}) == len(rows)  # no two updates hit the same place


def test_more_indices_than_positions_stay_in_range(rng):
    values = unique_positions(rng, (3,), (10,))
    assert values.min() >= 0 and values.max() < 3


@pytest.mark.parametrize("name", ["W4s", "W5s", "P4s"])
def test_runner_arguments_hold_the_workloads_own_indices(name):
    graph, arrays = workloads.load(name)
    (group,) = fuse(graph)
    kernel = lower(group.nodes, group.outputs)
    (index,) = workloads.get(name).index_ranges
    position = kernel.inputs.index(index)
    args = kernel_arguments(kernel.mod, group_arguments(graph, kernel, arrays))
    np.testing.assert_array_equal(args[position].numpy(), arrays[index])
    # without the workload's values: unique in-range positions, not zeros
    args = kernel_arguments(kernel.mod, group_arguments(graph, kernel))
    spec = workloads.get(name).index_ranges[index]
    extent = workloads.get(name).shapes[spec.data][spec.axis]
    values = args[position].numpy()
    assert values.min() >= 0 and values.max() < extent
    assert len(np.unique(values)) == values.size > 1


def test_a_slower_record_is_never_applied(tmp_path):
    # a record of a slow schedule (vector=2: 2x slower here) that the runner "measured" as
    # fast: the in-process check times it against the default and keeps the default
    graph, arrays = workloads.load("W1s")
    (group,) = fuse(graph)
    target = host_target()
    template = schedules.choose(template_context(group, target))
    mod = lower(group.nodes, group.outputs).mod
    slow, default = s_tir.Schedule(mod), s_tir.Schedule(mod)
    template.apply(slow, template_context(group, target, decisions=(("vector", 2),)))
    template.apply(default, template_context(group, target))
    folder = record_dir(tmp_path, target, group, template.NAME)
    write_manifest(folder, graph.name, group, template.NAME)
    database = open_database(folder)
    database.commit_tuning_record(ms.database.TuningRecord(
        slow.trace, database.commit_workload(mod), [1e-9] * 5, target,
        ms.arg_info.ArgInfo.from_prim_func(mod["main"])))
    verdict = check_in_process(folder, mod, default.mod, target,
                               group_arguments(graph, lower(group.nodes, group.outputs)))
    assert not verdict.applies and verdict.tuned_seconds > verdict.default_seconds
    assert "slower than the default" in verdict.why
    assert json.loads((folder / VERDICT_FILE).read_text())["applies"] is False
    fn = tf.compile(graph, tuning_logs=str(tmp_path))
    assert fn.schedules == ("reduction-rooted",)
    assert "no record applied: the best record is slower than the default" in fn.notices[0]
    np.testing.assert_allclose(fn(**arrays)[0], workloads.reference("W1s", arrays),
                               rtol=1e-5, atol=1e-5)


def test_a_record_that_is_the_default_schedule_is_not_applied(tmp_path, capsys):
    graph = workloads.graph("W1s")
    (result,) = tune(graph, trials=1, log_dir=tmp_path)  # the default's record, no search
    assert result.trials == 1 and result.in_process is not None
    assert not result.in_process.applies
    assert "the best record is the default schedule" in result.in_process.why
    fn = tf.compile(graph, tuning_logs=str(tmp_path))
    assert fn.schedules == ("reduction-rooted",) and "no record applied" in fn.notices[0]
    from tvm_fusion import cli

    assert cli.main(["compile", "W1s", "--logs", str(tmp_path), "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "no record applied: untuned = fused" in out


def test_kernel_arguments_are_the_same_arrays_for_both_contestants():
    graph, arrays = workloads.load("W4s")
    (group,) = fuse(graph)
    kernel = lower(group.nodes, group.outputs)
    spec = group_arguments(graph, kernel, arrays)
    first, second = kernel_arguments(kernel.mod, spec), kernel_arguments(kernel.mod, spec)
    for a, b in zip(first, second):
        assert isinstance(a, tvm.runtime.Tensor)
        np.testing.assert_array_equal(a.numpy(), b.numpy())

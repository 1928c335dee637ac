"""``analyze`` reports the split the kernel really uses: its parallel loop, or one core.

Every template takes its core split from ``GroupAnalysis.split``; here the scheduled TIR of
each reference workload is read back (its ``T.parallel`` loops) and compared with what the
analysis printed.
"""

import pytest

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.analysis import MIN_PARALLEL_ELEMENTS, analyze
from tvm_fusion.inspect_ir import parallel_extents
from tvm_fusion.target import num_cores

NAMES = workloads.BASE + workloads.SMALL + workloads.PATTERNS + workloads.PATTERNS_SMALL


def _check(graph, donate=None):
    fn = tf.compile(graph, donate=donate)
    (group,) = analyze(graph, cores=num_cores(fn.target), donate=donate).groups
    (kernel,) = fn.kernels
    extents = parallel_extents(kernel.scheduled)
    split = group.split
    if not split.parallel:
        assert extents == [], f"{group.group.name}: analysis says {split.describe()}"
        assert "none: " in str(analyze(graph, cores=2, donate=donate))
    elif split.chunked:  # scatter: the update is cut into one chunk per core
        assert split.iterations in extents, (extents, split.describe())
    else:
        assert extents and extents[0] == split.iterations, (extents, split.describe())
    return group, fn


@pytest.mark.parametrize("name", NAMES)
def test_reported_split_is_the_kernels(name):
    group, _ = _check(workloads.graph(name))
    if name.endswith("s"):  # the ~256 KiB forms stay under the thread-pool threshold
        assert not group.split.parallel and "below the parallel threshold" in group.split.reason


def test_donated_kv_cache_update_runs_on_one_core():
    group, _ = _check(workloads.graph("P4"), donate=["cache"])
    assert not group.split.parallel  # a 64 KiB update: waking the pool costs more


def test_w1_splits_the_axis_its_kernel_parallelises():
    # the analysis used to print x.3 while the kernel parallelised x.0
    group, _ = _check(workloads.graph("W1"))
    assert [a.name for a in group.split.axes] == ["x.0"]


def test_split_reaching_the_vector_axis_uses_vector_chunks():
    g = tf.Graph()
    x = g.input("x", (2, MIN_PARALLEL_ELEMENTS), "float32")
    g.output(g.relu(x))
    fn = tf.compile(g)
    (group,) = analyze(g, cores=2).groups
    assert [a.name for a in group.split.axes] == ["x.0", "x.1"]
    (extent,) = parallel_extents(fn.kernels[0].scheduled)
    assert extent > 2 and group.split.iterations % extent == 0  # x.1 in vector-wide chunks


def test_no_legal_axis_is_one_core():
    g = tf.Graph()
    x = g.input("x", (1 << 19,), "float32")
    g.output(g.reduce_sum(x, axes=[0]))
    (group,) = analyze(g, cores=2).groups
    assert not group.split.parallel and "no legal axis" in group.split.reason
    _check(g)

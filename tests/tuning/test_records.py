"""Record folders: the workload key is stable when nothing relevant changes and changes when
shapes, dtypes, the op chain or the template change; the target key separates targets."""

import pytest

import tvm_fusion as tf
from tvm_fusion.fusion import fuse
from tvm_fusion.target import as_target, target_key
from tvm_fusion.tuning import workload_key
from tvm_fusion.tuning.records import RECORD_FILE, best_logged_seconds


def _w1(shape=(8, 16, 16, 32), dtype="float32", names=("x", "s", "t"), op="reduce_sum"):
    g = tf.Graph("w1-like")
    x = g.input(names[0], shape, dtype)
    r = getattr(g, op)(x, axes=[2], keepdims=True, name=names[1])
    g.output(g.transpose(r, perm=(0, 3, 1, 2), name=names[2]))
    (group,) = fuse(g)
    return group


def test_key_is_stable_across_rebuilds_and_renames():
    key = workload_key(_w1(), "reduction-rooted")
    assert workload_key(_w1(), "reduction-rooted") == key
    assert workload_key(_w1(names=("a", "b", "c")), "reduction-rooted") == key


@pytest.mark.parametrize("change", [
    {"shape": (8, 16, 17, 32)},       # shape (a prime extent)
    {"dtype": "float16"},             # dtype
    {"op": "reduce_max"},             # op chain
])
def test_key_changes_with_shape_dtype_and_ops(change):
    assert workload_key(_w1(**change), "reduction-rooted") != \
        workload_key(_w1(), "reduction-rooted")


def test_key_changes_with_the_template():
    assert workload_key(_w1(), "fallback") != workload_key(_w1(), "reduction-rooted")


def test_target_key_separates_cpus_and_core_counts():
    keys = {target_key(as_target({"kind": "llvm", "mcpu": cpu, "num-cores": cores}))
            for cpu in ("icelake-server", "znver3") for cores in (1, 2)}
    assert len(keys) == 4



def test_best_logged_seconds_skips_failed_and_broken_records(tmp_path):
    lines = [f'[0, [[], [{s}, {s}, {s}], null, null]]' for s in ("3e-6", "1e10", "2e-6")]
    (tmp_path / RECORD_FILE).write_text("\n".join(lines + ['[0, [[], ["trunc']) + "\n")
    assert best_logged_seconds(tmp_path) == 2e-6

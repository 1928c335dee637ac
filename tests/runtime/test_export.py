"""Export and load: one .so per graph with sealed metadata, loaded in a fresh process that
imports no compiler, verified before any native code runs, with the in-process call contract.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tvm_fusion as tf
from tvm_fusion import workloads
from tvm_fusion.checks import InputError
from tvm_fusion.runtime.cpu import EMITTED, host_flags
from tvm_fusion.runtime.manifest import ModuleFileError, paths_of, sealed

WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W1s", "W2s", "W3s", "W4s", "W5s"]
# what a process that only loads and runs an exported module must never import
FORBIDDEN = ("onnx", "xgboost", "tvm", "tvm.", "tvm_fusion.graph", "tvm_fusion.fusion",
             "tvm_fusion.frontends", "tvm_fusion.build", "tvm_fusion.lower",
             "tvm_fusion.schedules", "tvm_fusion.tuning", "tvm_fusion.compiler")

LOADER = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tvm_fusion as tf
    results = {}
    for stem in sys.argv[1:]:
        module = tf.load(stem + ".so")
        with np.load(stem + ".inputs.npz") as data:
            arrays = {k: data[k] for k in data.files}
        outputs = module(**arrays)
        np.savez(stem + ".loaded.npz", *outputs)
        results[stem] = module.num_kernels
    forbidden = %r
    imported = sorted(m for m in sys.modules
                      if m in forbidden or m.startswith(tuple(f for f in forbidden if f.endswith("."))))
    print(json.dumps({"kernels": results, "imported": imported}))
""")

REFUSER = textwrap.dedent("""
    import sys
    import tvm_fusion as tf
    for path in sys.argv[1:]:
        try:
            tf.load(path)
            print("LOADED", path)
        except Exception as err:
            print(type(err).__name__, str(err).replace("\\n", " "))
""")


def _python(script: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                          text=True, timeout=300, check=False)


def _multi_kernel_graph():
    """Two kernels (an op reads a scatter's output), a constant, an intermediate between them
    and a scatter index check."""
    g = tf.Graph("multi")
    data = g.input("data", (11, 5), "float32")
    idx = g.input("idx", (3, 1), "int64")
    upd = g.input("upd", (3, 5), "float32")
    bias = g.constant(np.linspace(-1, 1, 5, dtype="float32"), name="bias")
    g.output(g.exp(g.scatter_nd(g.add(data, bias), idx, upd)))
    return g


def _multi_kernel_arrays(rng):
    return {"data": rng.standard_normal((11, 5)).astype("float32"),
            "idx": np.array([[2], [7], [10]], "int64"),
            "upd": rng.standard_normal((3, 5)).astype("float32")}


def _multi_kernel_numpy(a):
    out = a["data"] + np.linspace(-1, 1, 5, dtype="float32")
    out[a["idx"][:, 0]] = a["upd"]
    return np.exp(out)


def _onnx_model(path):
    """ReduceMax over the last axis of x + an initializer, opset 18, odd shapes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(13 * 7, dtype="float32").reshape(13, 7) / 50, "w")
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [-1])
    nodes = [helper.make_node("Add", ["x", "w"], ["s"]),
             helper.make_node("ReduceMax", ["s", "axes"], ["y"], keepdims=0)]
    graph = helper.make_graph(
        nodes, "onnx_max", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 13, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 13])], [w, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every case compiled, exported and its inputs saved: name -> (stem, arrays, in-process
    outputs, expected outputs)."""
    folder = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(11)
    cases = {}

    def add(name, fn, arrays, expected):
        stem = folder / name
        tf.export(fn, stem, inputs=arrays, repeat=3)
        np.savez(f"{stem}.inputs.npz", **arrays)
        cases[name] = (stem, arrays, fn(**arrays), expected)

    for name in WORKLOADS:
        graph, arrays = workloads.load(name)
        add(name, tf.compile(graph), arrays, [workloads.reference(name, arrays)])
    arrays = _multi_kernel_arrays(rng)
    add("multi", tf.compile(_multi_kernel_graph()), arrays, [_multi_kernel_numpy(arrays)])
    from onnx.reference import ReferenceEvaluator

    model = _onnx_model(folder / "model.onnx")
    x = {"x": rng.standard_normal((3, 13, 7)).astype("float32")}
    add("onnx", tf.compile(tf.from_onnx(folder / "model.onnx")), x,
        ReferenceEvaluator(model).run(None, x))
    graph, arrays = workloads.load("P4s")  # a donated input: updated in place, returned
    expected = [workloads.reference("P4s", {k: v.copy() for k, v in arrays.items()})]
    add("P4s-donated", tf.compile(graph, donate=["cache"]), arrays, expected)
    graph, arrays = workloads.load("W3s")
    add("W3s-v2", tf.compile(graph, cpu="x86-64-v2"), arrays, [workloads.reference("W3s", arrays)])
    return cases


def test_loaded_modules_match_in_process_and_numpy_in_a_fresh_process(exported):
    stems = [stem for stem, *_ in exported.values()]
    run = _python(LOADER % (FORBIDDEN,), *stems)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["imported"] == [], f"loading imported {report['imported']}"
    assert report["kernels"][str(exported["multi"][0])] == 2
    donated = json.loads(paths_of(exported["P4s-donated"][0])[1].read_text())
    assert donated["donations"] == [{"input": "cache", "scatter": "scatter_elements_3",
                                     "output": "scatter_elements_3"}]
    for name, (stem, _, in_process, expected) in exported.items():
        with np.load(f"{stem}.loaded.npz") as data:
            loaded = [data[f"arr_{i}"] for i in range(len(data.files))]
        assert len(loaded) == len(in_process) == len(expected), name
        for got, mine, want in zip(loaded, in_process, expected):
            np.testing.assert_array_equal(got, mine, err_msg=name)  # the same code
            tol = 1e-3 if got.dtype == np.float16 else 1e-5
            np.testing.assert_allclose(got.astype("float64"), np.asarray(want, "float64"),
                                       rtol=tol, atol=tol, err_msg=name)


def test_export_writes_one_library_and_sealed_metadata(exported):
    stem = exported["multi"][0]
    library, metadata, tir = paths_of(stem)
    meta = json.loads(metadata.read_text())
    assert [k["function"] for k in meta["kernels"]] == ["kernel_0", "kernel_1"]
    assert [i["name"] for i in meta["inputs"]] == ["data", "idx", "upd"]
    assert meta["index_checks"] == [{"scatter": "scatter_nd_1", "op": "scatter_nd",
                                     "data": "add_0", "tensor": "idx", "bounds": [11],
                                     "axes": [0]}]
    assert [c["name"] for c in meta["constants"]] == ["bias"]
    assert meta["intermediates"] == [{"name": "scatter_nd_1", "shape": [11, 5],
                                      "dtype": "float32"}]
    assert all(k["latency_s"] > 0 for k in meta["kernels"])
    assert meta["versions"]["tvm"] == "0.27.0.post1" and meta["target"]["kind"] == "llvm"
    assert set(meta["cpu"]["required"]) <= set(meta["cpu"]["llvm_features"])
    assert "kernel_1" in tir.read_text() and "T.prim_func" in tir.read_text()
    assert not list(library.parent.glob(".tmp*"))  # nothing half-written left
    v2 = json.loads(paths_of(exported["W3s-v2"][0])[1].read_text())
    assert v2["cpu"]["mcpu"] == "x86-64-v2" and "avx" not in v2["cpu"]["required"]
    assert "sse4.2" in v2["cpu"]["required"]


def _reseal(path, edit):
    meta = json.loads(path.read_text())
    edit(meta)
    meta.pop("content_sha256")
    path.write_text(sealed(meta))


def test_damaged_edited_swapped_and_foreign_modules_are_refused(exported, tmp_path):
    def copy(name, new):
        for src, dst in zip(paths_of(exported[name][0]), paths_of(tmp_path / new)):
            dst.write_bytes(src.read_bytes())
        return paths_of(tmp_path / new)

    flipped, _, _ = copy("W3s", "flipped")
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    _, edited, _ = copy("W3s", "edited")
    meta = json.loads(edited.read_text())
    meta["kernels"][0]["latency_s"] /= 2  # a plausible edit that leaves the seal as it was
    edited.write_text(json.dumps(meta))
    swapped, _, _ = copy("W3s", "swapped")
    swapped.write_bytes(paths_of(exported["W1s"][0])[0].read_bytes())
    lacking = next(f for f, flag in EMITTED.items() if flag not in host_flags()[0])
    _, foreign, _ = copy("W3s", "foreign")
    _reseal(foreign, lambda m: m["cpu"]["required"].append(lacking))
    _, future, _ = copy("W3s", "future")
    _reseal(future, lambda m: m.update(format_version=99))
    missing = tmp_path / "missing.so"
    missing.write_bytes(b"\x7fELF")
    run = _python(REFUSER, *(tmp_path / f"{n}.so" for n in
                             ("flipped", "edited", "swapped", "foreign", "future", "missing")))
    assert run.returncode == 0, run.stderr
    flipped_, edited_, swapped_, foreign_, future_, missing_ = run.stdout.strip().splitlines()
    assert flipped_.startswith("ModuleFileError") and "does not match its metadata" in flipped_
    assert edited_.startswith("ModuleFileError") and "modified after export" in edited_
    assert swapped_.startswith("ModuleFileError") and "another export's library" in swapped_
    assert foreign_.startswith("CpuFeatureError") and f"lacks {lacking}" in foreign_
    assert "built for -mcpu=" in foreign_ and "x86-64-v2" in foreign_
    assert future_.startswith("ModuleFileError") and "format version 99" in future_
    assert "reads format version 1" in future_
    assert missing_.startswith("ModuleFileError") and "missing.json is missing" in missing_


def test_loaded_module_refuses_bad_inputs_like_the_in_process_call(exported):
    stem, arrays, _, _ = exported["multi"]
    module = tf.load(f"{stem}.so")
    with pytest.raises(InputError, match="unknown input 'dat'"):
        module(dat=arrays["data"], idx=arrays["idx"], upd=arrays["upd"])
    with pytest.raises(InputError, match=r"input 'data': expected shape \(11, 5\), got \(5, 11\)"):
        module(**{**arrays, "data": arrays["data"].T.copy()})
    with pytest.raises(InputError, match="input 'upd': expected dtype float32, got float64"):
        module(**{**arrays, "upd": arrays["upd"].astype("float64")})
    with pytest.raises(InputError, match=r"index tensor 'idx' holds 11 at \(1, 0\)"):
        module(**{**arrays, "idx": np.array([[0], [11], [3]], "int64")})
    out = tf.empty((11, 5), "float32")
    (result,) = module(*arrays.values(), out=(out,))  # positions and out= too
    assert result is out
    np.testing.assert_allclose(out, _multi_kernel_numpy(arrays), rtol=1e-6)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModuleFileError, match="is missing"):
        tf.load(tmp_path / "nothing.so")
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "junk.so").write_bytes(b"")
    with pytest.raises(ModuleFileError, match="junk.json is not valid JSON"):
        tf.load(tmp_path / "junk.so")


def test_export_refuses_what_it_cannot_export():
    with pytest.raises(TypeError, match="export takes what tvm_fusion.compile returned"):
        tf.export(object(), "/tmp/nowhere")


def _one_op_graph(op: str):
    g = tf.Graph(f"one_{op}")
    x = g.input("x", (3, 7), "float32")
    g.output(getattr(g, op)(x))
    return g


def test_reexport_to_the_same_path_loads_the_new_code(tmp_path):
    """dlopen hands back the handle of a path it has seen: load opens a private copy named
    by the library's hash, so a re-export under the same name is never the old code."""
    x = np.linspace(0.1, 2.0, 21, dtype="float32").reshape(3, 7)
    tf.export(tf.compile(_one_op_graph("exp")), tmp_path / "same", inputs={"x": x}, repeat=1)
    np.testing.assert_allclose(tf.load(tmp_path / "same.so")(x)[0], np.exp(x), rtol=1e-6)
    tf.export(tf.compile(_one_op_graph("sqrt")), tmp_path / "same", inputs={"x": x}, repeat=1)
    np.testing.assert_allclose(tf.load(tmp_path / "same.so")(x)[0], np.sqrt(x), rtol=1e-6)


def test_seal_survives_strings_that_look_like_number_lists():
    from tvm_fusion.runtime.manifest import content_sha256

    meta = {"a": "decision=[ 1, 2]", "b": "x[1,  2]", "shape": [3, 4]}
    text = sealed(meta)
    loaded = json.loads(text)
    assert loaded["a"] == "decision=[ 1, 2]" and loaded["b"] == "x[1,  2]"
    assert loaded["content_sha256"] == content_sha256(loaded)


def test_cpu_check_with_nothing_required_passes_anywhere(tmp_path):
    from tvm_fusion.runtime.cpu import CpuFeatureError, check_cpu

    arm = tmp_path / "cpuinfo"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm\n")
    check_cpu([], "-mcpu=neoverse-n1", "x.so", arm)  # no x86 feature to require
    with pytest.raises(CpuFeatureError, match="check_cpu_features=False"):
        check_cpu(["avx2"], "-mcpu=haswell", "x.so", arm)


def test_a_graph_without_kernels_is_not_exported(tmp_path):
    g = tf.Graph("identity")
    g.output(g.input("x", (4,), "float32"))
    with pytest.raises(ValueError, match="compiled to no kernel"):
        tf.export(tf.compile(g), tmp_path / "nothing")

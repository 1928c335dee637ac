"""`tvm-fusion run` and `analyze` on ONNX files."""

import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

from tvm_fusion import cli, workloads


def test_run_checks_and_writes_outputs(tmp_path, capsys):
    model = tmp_path / "w5s.onnx"
    workloads.to_onnx("W5s", model)
    arrays = workloads.inputs("W5s")
    np.savez(tmp_path / "in.npz", **arrays)
    out = tmp_path / "out.npz"
    code = cli.main(["run", str(model), "--inputs", str(tmp_path / "in.npz"), "--output",
                     str(out), "--repeat", "2", "--check"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "1 kernel(s) (scatter-terminated)" in text and "output out: float32[32, 64, 16]" in text
    assert "check against onnx.reference: ok" in text and "median latency" in text
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["out"], workloads.reference("W5s", arrays), rtol=1e-5)


def test_run_with_random_inputs_and_analyze_an_onnx_file(tmp_path, capsys):
    model = tmp_path / "w1s.onnx"
    workloads.to_onnx("W1s", model)
    assert cli.main(["run", str(model), "--repeat", "2", "--check"]) == 0
    assert cli.main(["analyze", str(model), "--cores", "4"]) == 0
    assert "for 4 cores" in capsys.readouterr().out


def test_unsupported_model_exits_2_with_one_message_and_no_traceback(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3], np.zeros(36).tolist())
    lw = helper.make_tensor("lw", TensorProto.FLOAT, [1, 8, 4], np.zeros(32).tolist())
    lr = helper.make_tensor("lr", TensorProto.FLOAT, [1, 8, 2], np.zeros(16).tolist())
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv0"),
             helper.make_node("LSTM", ["c", "lw", "lr"], ["y"], hidden_size=2, name="lstm0")]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["seq", 1, "batch", 2])
    model = helper.make_model(helper.make_graph(nodes, "bad", [x], [y], [w, lw, lr]),
                              opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    result = subprocess.run([sys.executable, "-m", "tvm_fusion.cli", "run", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for needle in ("Conv", "conv0", "LSTM", "lstm0", "batch"):
        assert needle in result.stderr, result.stderr

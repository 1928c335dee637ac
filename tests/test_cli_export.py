"""`tvm-fusion compile ... -o OUT` and `tvm-fusion run OUT.so`: the export pair from the CLI."""

import subprocess
import sys

import numpy as np

from tvm_fusion import cli, workloads


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tvm_fusion.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300, check=False)


def test_compile_exports_and_run_runs_the_module(tmp_path, capsys):
    stem = tmp_path / "out" / "w4s"
    assert cli.main(["compile", "W4s", "--no-logs", "--repeat", "3", "-o", str(stem)]) == 0
    text = capsys.readouterr().out
    for suffix in (".so", ".json", ".tir.py"):
        assert f"{stem}{suffix}  " in text and (tmp_path / "out" / f"w4s{suffix}").is_file()
    arrays = workloads.inputs("W4s")
    np.savez(tmp_path / "in.npz", **arrays)
    run = _cli("run", f"{stem}.so", "--inputs", tmp_path / "in.npz", "--output",
               tmp_path / "y.npz", "--repeat", "5")
    assert run.returncode == 0, run.stderr
    assert "verified (library and metadata hashes, CPU features) and loaded" in run.stdout
    assert "median latency:" in run.stdout and "inputs made up" not in run.stdout
    with np.load(tmp_path / "y.npz") as saved:
        (name,) = saved.files
        np.testing.assert_array_equal(saved[name], workloads.reference("W4s", arrays))
    made_up = _cli("run", f"{stem}.so", "--repeat", "2")
    assert made_up.returncode == 0, made_up.stderr
    assert "inputs made up (no --inputs given):" in made_up.stdout
    assert "idx: int64[32] uniform integers in [0, 511] (scatter indices, in range)" in \
        made_up.stdout


def test_compile_for_a_cpu_level(tmp_path, capsys):
    stem = tmp_path / "w3s"
    assert cli.main(["compile", "W3s", "--no-logs", "--repeat", "2", "--cpu", "x86-64-v3",
                     "-o", str(stem)]) == 0
    assert '"mcpu":"x86-64-v3"' in capsys.readouterr().out
    assert cli.main(["compile", "W3s", "--no-logs", "--cpu", "pentium-9000"]) == 2
    assert "is not a CPU LLVM knows" in capsys.readouterr().err


def test_bad_paths_and_refused_modules_give_one_line_and_exit_2(tmp_path):
    stem = tmp_path / "w1s"
    assert _cli("compile", "W1s", "--no-logs", "--repeat", "2", "-o", stem).returncode == 0
    lonely = tmp_path / "lonely.so"
    lonely.write_bytes((tmp_path / "w1s.so").read_bytes())
    library = bytearray((tmp_path / "w1s.so").read_bytes())
    library[-100] ^= 0xFF
    (tmp_path / "w1s.so").write_bytes(bytes(library))
    cases = {tmp_path / "nothere.so": "nothere.json is missing",
             lonely: "lonely.so exists but its metadata",
             stem.with_suffix(".so"): "does not match its metadata",
             tmp_path / "model.txt": "expected a model.onnx or an exported module's .so"}
    for path, message in cases.items():
        result = _cli("run", path)
        assert result.returncode == 2, (path, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr

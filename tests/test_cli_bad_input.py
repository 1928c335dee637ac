"""Everything a user can get wrong on the command line: one message, exit code 2, no traceback.

Every malformed model of ``tests/frontends/bad_models.py`` goes through every command that
takes a model (in-process ``main``: a traceback would escape as an exception or come back as
exit code 3), a few through the installed command in a subprocess (what a user sees), and the
rough edges found by trying the tool as a new user would.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tvm_fusion as tf
from tests.frontends import bad_models
from tvm_fusion.cli import EXIT_BROKEN_PIPE, EXIT_USAGE, main

PHRASES = {  # what each message must say
    "truncated": "is not an ONNX model: protobuf cannot parse its",
    "text_file": "it looks like text: 'this is a text file",
    "binary_file": "is not an ONNX model: protobuf cannot parse its 4096 bytes",
    "empty_file": "is empty (0 bytes), not an ONNX model",
    "directory": "is a folder, not an ONNX file",
    "missing_file": "no such file",
    "unknown_opset": "imports opset 99 of the default domain, expected 11..",
    "unknown_domain": "com.example:FancyOp",
    "missing_input": "reads 'nowhere', which no node, graph input or initializer provides",
    "missing_initializer": "reads 'b', which no node, graph input or initializer provides",
    "cycle": "the graph has a cycle: 'a' -> 'b' -> 'a'",
    "duplicate_names": "'t' is defined twice: as output of node #0 (output 't') (Exp) and as "
                       "output of node #1 (output 't') (Neg)",
    "duplicate_inputs": "'x' is defined twice: as graph input #0 and as graph input #1",
    "bad_dtype": "exp: input 'x' has dtype int32, expected one of float16, bfloat16, float32, "
                 "float64",
    "int64_overflow": "input 'x': (4294967296, 4294967296) float32 has 18446744073709551616 "
                      "elements (73786976294838206464 bytes), more than int64 can index",
    "too_big": "needs 8.0 PiB (9007199254740992 bytes) for one call (largest: input 'x' "
               "(1048576, 1048576, 1024) float32, 4.0 PiB",
}
COMMANDS = {"analyze": ["analyze"], "run": ["run"], "compile": ["compile", "--no-logs"],
            "tune": ["tune", "--trials", "1"]}


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("tvm-fusion: error: "), err
    return err


CASES = [(kind, command) for kind in sorted(bad_models.MAKERS) for command in sorted(COMMANDS)
         if (kind, command) != ("too_big", "analyze")]  # analysing any size is legitimate: below


@pytest.mark.parametrize(("kind", "command"), CASES)
def test_every_malformed_model_is_one_clear_error(kind, command, tmp_path, capsys):
    path = bad_models.MAKERS[kind](tmp_path)
    argv = [*COMMANDS[command], str(path)]
    if command == "tune":
        argv += ["--logs", str(tmp_path / "logs")]
    assert main(argv) == EXIT_USAGE
    assert PHRASES[kind] in _error_line(capsys)


def test_a_huge_model_is_analysed_but_not_compiled(tmp_path, capsys):
    """The analysis allocates nothing ("what if" on any size); compiling refuses up front."""
    path = bad_models.too_big(tmp_path)
    assert main(["analyze", str(path)]) == 0
    assert "1048576" in capsys.readouterr().out


def test_the_issue_examples_in_a_subprocess(tmp_path):
    """What a user types: a truncated file and an 8 PiB model, through the installed command."""
    for path, phrase in ((bad_models.truncated(tmp_path), PHRASES["truncated"]),
                         (bad_models.too_big(tmp_path), PHRASES["too_big"])):
        run = subprocess.run([sys.executable, "-m", "tvm_fusion.cli", "run", str(path)],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == EXIT_USAGE, run.stderr
        assert "Traceback" not in run.stderr and phrase in run.stderr
        assert run.stderr.count("\n") == 1, run.stderr  # one line


def test_debug_shows_the_traceback(tmp_path, capsys):
    path = bad_models.truncated(tmp_path)
    for argv in (["--debug", "run", str(path)], ["run", str(path), "--debug"]):
        assert main(argv) == EXIT_USAGE
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err
        assert err.rstrip().splitlines()[-1].startswith("tvm-fusion: error: ")


def test_errors_are_printed_without_extra_quotes(capsys):
    assert main(["explore", "W1s", "--template", "nope"]) == EXIT_USAGE
    err = _error_line(capsys)
    assert err.startswith("tvm-fusion: error: unknown template 'nope'"), err


def test_a_closed_pipe_ends_quietly():
    """``tvm-fusion compile W3s | head -1``: the reader goes away after one line."""
    proc = subprocess.Popen([sys.executable, "-m", "tvm_fusion.cli", "compile", "W3s",
                             "--no-logs", "--repeat", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("records: none")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == EXIT_BROKEN_PIPE
    assert err == "", err


def test_missing_records_folder_is_refused(tmp_path, capsys):
    for command in (["demo", "W1s", "--repeat", "1"], ["compile", "W1s"]):
        assert main([*command, "--logs", str(tmp_path / "nonexistent")]) == EXIT_USAGE
        assert "nonexistent: no such records folder" in _error_line(capsys)


def test_shape_pins_dynamic_dimensions(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Exp", ["x"], ["y"])], "dyn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 7])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 7])])
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                                ir_version=9), path)
    assert main(["run", str(path)]) == EXIT_USAGE
    assert "--shape x=<n>,7" in _error_line(capsys)
    assert main(["run", str(path), "--shape", "x=13,7", "--check"]) == 0
    out = capsys.readouterr().out
    assert "output y: float32[13, 7]" in out and "check against onnx.reference: ok" in out
    for bad in ("x=13,0", "x", "x=a,b"):
        assert main(["analyze", str(path), "--shape", bad]) == EXIT_USAGE
        assert "--shape expects NAME=D0,D1,..." in _error_line(capsys)
    assert main(["analyze", str(path), "--shape", "z=1,7"]) == EXIT_USAGE
    assert "'z' is not an input of the model" in _error_line(capsys)


def test_compile_model_compares_with_the_default_schedule(tmp_path, capsys):
    assert main(["compile", "examples/w5s.onnx", "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "check against onnx.reference: ok" in out
    assert "template default schedule" in out  # "default/tuned" or "untuned = fused"


def test_library_rough_edges():
    assert tf.InputError is tf.checks.InputError
    g = tf.Graph("no-outputs")
    g.exp(g.input("x", (3, 5), "float32"))
    with pytest.raises(tf.GraphError, match="has no outputs: call graph.output"):
        tf.fuse(g)
    w = tf.workloads.graph("W1s")
    from tvm_fusion.settings import num_cores

    assert tf.analysis.analyze(w).cores == num_cores()  # as the CLI and compile default


def test_run_rejects_bad_npz_inputs(tmp_path, capsys):
    bogus = tmp_path / "in.npz"
    bogus.write_text("not a zip")
    assert main(["run", "examples/w5s.onnx", "--inputs", str(bogus)]) == EXIT_USAGE
    assert "not a readable .npz" in _error_line(capsys)
    np.savez(tmp_path / "partial.npz", nothing=np.zeros(3))
    assert main(["run", "examples/w5s.onnx", "--inputs", str(tmp_path / "partial.npz")]) == 2
    assert "missing inputs" in _error_line(capsys)
